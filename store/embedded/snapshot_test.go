package embedded

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/storetest"
)

// seedDays imports one snapshot a day for n days of each deployment,
// starting at from, and returns them newest first.
func seedDays(t testing.TB, s *Store, deployments, days int, from time.Time) []*telemetryd.Snapshot {
	t.Helper()
	snaps := make([]*telemetryd.Snapshot, 0, deployments*days)
	for d := range days {
		for dep := range deployments {
			created := from.AddDate(0, 0, d).Add(time.Duration(dep) * time.Second)
			snaps = append(snaps, storetest.NewSnapshot(t, fmt.Sprintf("dep-%03d", dep), created, nil, 64))
		}
	}
	res, err := s.ImportSnapshots(context.Background(), store.Batch(snaps))
	require.NoError(t, err)
	require.Equal(t, len(snaps), res.Created)
	for i, j := 0, len(snaps)-1; i < j; i, j = i+1, j-1 {
		snaps[i], snaps[j] = snaps[j], snaps[i]
	}
	return snaps
}

func TestEachSnapshotAcrossBatches(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	from := time.Date(2020, 1, 1, 2, 0, 0, 0, time.UTC)
	all := seedDays(t, s, 2, 617, from) // 1,234: two full batches and a partial one
	ids := func(snaps []*telemetryd.Snapshot) []string {
		out := make([]string, len(snaps))
		for i, s := range snaps {
			out[i] = s.ID
		}
		return out
	}
	walk := func(t *testing.T, f telemetryd.Filter) []string {
		t.Helper()
		var got []string
		require.NoError(t, s.EachSnapshot(ctx, f, func(s *telemetryd.Snapshot) error {
			got = append(got, s.ID)
			return nil
		}))
		return got
	}

	t.Run("open range yields every snapshot once newest first", func(t *testing.T) {
		assert.Equal(t, ids(all), walk(t, telemetryd.Filter{}))
	})
	t.Run("bounded range spanning batches yields exactly its snapshots", func(t *testing.T) {
		// all[100] .. all[1100]: inclusive bounds at exact created_at.
		f := telemetryd.Filter{Start: all[1100].CreatedAt, End: all[100].CreatedAt}
		assert.Equal(t, ids(all[100:1101]), walk(t, f))
	})
	t.Run("range of exactly one batch ends cleanly", func(t *testing.T) {
		f := telemetryd.Filter{Start: all[eachBatch-1].CreatedAt}
		assert.Equal(t, ids(all[:eachBatch]), walk(t, f))
	})
	t.Run("error from fn stops the walk and is returned", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := s.EachSnapshot(ctx, telemetryd.Filter{}, func(*telemetryd.Snapshot) error {
			calls++
			if calls == eachBatch+1 {
				return stop
			}
			return nil
		})
		assert.ErrorIs(t, err, stop)
		assert.Equal(t, eachBatch+1, calls)
	})
	t.Run("fn may write to the store without deadlock or repeats", func(t *testing.T) {
		var got []string
		err := s.EachSnapshot(ctx, telemetryd.Filter{}, func(snap *telemetryd.Snapshot) error {
			got = append(got, snap.ID)
			_, err := s.UpdateSendStatus(ctx, snap.ID, telemetryd.SendSkipped, time.Now(), "")
			return err
		})
		require.NoError(t, err)
		assert.Equal(t, ids(all), got)
	})
}

// TestCountsMatchRecords checks the counter tree against a walk over the
// keys, for ranges that start and end inside and across its spans, before
// 1970 included, after imports and deletions.
func TestCountsMatchRecords(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	rng := rand.New(rand.NewPCG(1, 2))
	lo := time.Date(1930, 1, 1, 0, 0, 0, 0, time.UTC)
	span := time.Date(2120, 1, 1, 0, 0, 0, 0, time.UTC).Sub(lo)
	randomTime := func() time.Time {
		// Half spread over two centuries, half packed into a few days so
		// spans at every level hold several snapshots.
		if rng.IntN(2) == 0 {
			return telemetryd.Microseconds(lo.Add(time.Duration(rng.Int64N(int64(span)))))
		}
		return telemetryd.Microseconds(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(rng.Int64N(int64(5 * 24 * time.Hour)))))
	}
	var snaps []*telemetryd.Snapshot
	for i := range 3000 {
		snaps = append(snaps, storetest.NewSnapshot(t, fmt.Sprintf("dep-%d", i), randomTime(), nil, 64))
	}
	_, err := s.ImportSnapshots(ctx, store.Batch(snaps))
	require.NoError(t, err)
	for i := range 20 {
		require.NoError(t, s.CreateSnapshot(ctx, storetest.NewSnapshot(t, fmt.Sprintf("single-%d", i), randomTime(), nil, 64)))
	}

	check := func(t *testing.T) {
		t.Helper()
		var times []time.Time
		require.NoError(t, s.EachSnapshot(ctx, telemetryd.Filter{}, func(s *telemetryd.Snapshot) error {
			times = append(times, s.CreatedAt)
			return nil
		}))
		want := func(f telemetryd.Filter) int {
			n := 0
			for _, c := range times {
				if f.Contains(c) {
					n++
				}
			}
			return n
		}
		filters := []telemetryd.Filter{{}}
		for range 200 {
			a, b := randomTime(), randomTime()
			if b.Before(a) {
				a, b = b, a
			}
			filters = append(filters, telemetryd.Filter{Start: a, End: b}, telemetryd.Filter{Start: a}, telemetryd.Filter{End: b})
		}
		for _, c := range times[:min(50, len(times))] {
			filters = append(filters, telemetryd.Filter{Start: c, End: c}, telemetryd.Filter{Start: c.Add(time.Microsecond)})
		}
		for _, f := range filters {
			_, count, err := storetest.List(ctx, s, telemetryd.Filter{Start: f.Start, End: f.End, Limit: 1})
			require.NoError(t, err)
			require.Equal(t, want(f), count, "filter %v – %v", f.Start, f.End)
		}
	}

	t.Run("after imports and creates", check)
	n, err := s.DeleteSnapshotsBefore(ctx, time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	require.Positive(t, n)
	t.Run("after deleting before a date", check)
	_, err = s.DeleteSnapshotsBefore(ctx, time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC))
	require.NoError(t, err)
	t.Run("after deleting everything", check)
	t.Run("after deleting everything the counter bucket is empty", func(t *testing.T) {
		require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
			k, _ := tx.Bucket(bucketSnapshotCounts).Cursor().First()
			assert.Nil(t, k)
			return nil
		}))
	})
}

// A record is damaged on disk only by hand or by a failing disk: decoding
// it then fails every read that reaches it with an internal error naming
// it, rather than handing out data that is not JSON. Other records stay
// readable.
func TestDamagedRecordFailsReadsNamingIt(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	base := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	good := storetest.NewSnapshot(t, "dep-a", base, nil, 64)
	damaged := storetest.NewSnapshot(t, "dep-b", base.Add(time.Hour), nil, 64)
	require.NoError(t, s.CreateSnapshot(ctx, good))
	require.NoError(t, s.CreateSnapshot(ctx, damaged))
	require.NoError(t, s.db.Update(func(tx *bolt.Tx) error {
		k := tx.Bucket(bucketSnapshotIDs).Get([]byte(damaged.ID))
		v := tx.Bucket(bucketSnapshots).Get(k)
		return tx.Bucket(bucketSnapshots).Put(clone(k), clone(v[:len(v)/2]))
	}))

	_, err := s.Snapshot(ctx, damaged.ID)
	assert.Equal(t, telemetryd.EINTERNAL, telemetryd.ErrorCode(err), "error: %v", err)
	assert.ErrorContains(t, err, damaged.ID)
	_, _, err = storetest.List(ctx, s, telemetryd.Filter{})
	assert.Equal(t, telemetryd.EINTERNAL, telemetryd.ErrorCode(err), "error: %v", err)
	assert.ErrorContains(t, err, damaged.ID)

	got, err := s.Snapshot(ctx, good.ID)
	require.NoError(t, err)
	assert.True(t, got.ChecksumValid())
}
