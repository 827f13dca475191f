package embedded

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/storetest"
)

var importBase = time.Date(2021, 3, 1, 6, 0, 0, 0, time.UTC)

// importable returns the chains of five deployments, n small sealed
// snapshots in all, one a day each, the deployments' days interleaved.
func importable(t testing.TB, n int) []*telemetryd.Snapshot {
	t.Helper()
	snaps := make([]*telemetryd.Snapshot, n)
	for i := range snaps {
		var prev *telemetryd.Snapshot
		if i >= 5 {
			prev = snaps[i-5]
		}
		snaps[i] = storetest.NewSnapshot(t, fmt.Sprintf("dep-import-%d", i%5), importBase.AddDate(0, 0, i/5), prev, 64)
	}
	return snaps
}

// seedKept stores what is there before an import: records of another
// deployment, one of them sent, so the indexes and counters hold
// something the import must leave alone.
func seedKept(t *testing.T, s *Store, kept []*telemetryd.Snapshot) {
	t.Helper()
	for _, snap := range kept {
		require.NoError(t, s.CreateSnapshot(context.Background(), snap))
	}
	_, err := s.UpdateSendStatus(context.Background(), kept[0].ID, telemetryd.SendSent, importBase, "")
	require.NoError(t, err)
}

func keptRecords(t *testing.T) []*telemetryd.Snapshot {
	return storetest.Chain(t, "dep-kept", importBase.AddDate(0, 0, -3), 3, 64)
}

// contents is a digest of every bucket of the store, and whether an
// import's marker is present: equal contents are the same records,
// indexes and counters.
func contents(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			h, n := sha256.New(), 0
			err := tx.Bucket(name).ForEach(func(k, v []byte) error {
				addRecord(h, k)
				addRecord(h, v)
				n++
				return nil
			})
			if err != nil {
				return err
			}
			out[string(name)] = fmt.Sprintf("%d keys, %s", n, hex.EncodeToString(h.Sum(nil)))
		}
		out["import marker present"] = fmt.Sprint(tx.Bucket(bucketImportPending) != nil)
		return nil
	}))
	return out
}

// requireVerified walks the store and checks every checksum and chain,
// as `telemetryd snapshots verify` does.
func requireVerified(t *testing.T, s *Store, want int) {
	t.Helper()
	v := telemetryd.NewVerifier()
	require.NoError(t, s.EachSnapshot(context.Background(), telemetryd.Filter{}, func(snap *telemetryd.Snapshot) error {
		v.Add(snap)
		return nil
	}))
	if problems := v.Problems(); len(problems) > 0 {
		t.Errorf("verify found %d problems, the first: %s", len(problems), problems[0])
	}
	assert.Equal(t, want, v.Count())
	require.NoError(t, s.ListSnapshots(context.Background(), telemetryd.Filter{Limit: 1}, func(count int, _ []*telemetryd.Snapshot) error {
		assert.Equal(t, want, count, "the counters disagree with the records")
		return nil
	}))
}

// A crash between two batches of an import leaves the file as it was when
// the batch committed; each batch's hook copies the file then. The next
// open of such a copy removes every record of the import, with its index
// entries and counts, before anything reads it.
func TestImportCutShortIsUndoneAtTheNextOpen(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, t.TempDir())
	kept := keptRecords(t)
	seedKept(t, s, kept)
	before := contents(t, s)
	snaps := importable(t, 2*importBatch+importBatch/2)
	crashed := map[int]string{} // batches committed → a copy of the file then
	s.importBatchCommitted = func(batches int) {
		dir := t.TempDir()
		require.NoError(t, s.db.View(func(tx *bolt.Tx) error {
			return tx.CopyFile(filepath.Join(dir, FileName), 0o600)
		}))
		crashed[batches] = dir
	}

	res, err := s.ImportSnapshots(ctx, store.Batch(snaps))

	require.NoError(t, err)
	assert.Equal(t, store.ImportResult{Created: len(snaps)}, res)
	assert.Equal(t, "false", contents(t, s)["import marker present"], "the import's marker outlived it")
	requireVerified(t, s, len(kept)+len(snaps))
	require.Len(t, crashed, 2, "the import should have committed two batches before its last")
	for batches, dir := range crashed {
		t.Run(fmt.Sprintf("after %d batches", batches), func(t *testing.T) {
			raw, err := bolt.Open(filepath.Join(dir, FileName), 0o600, &bolt.Options{ReadOnly: true})
			require.NoError(t, err)
			require.NoError(t, raw.View(func(tx *bolt.Tx) error {
				require.NotNil(t, tx.Bucket(bucketImportPending), "the crash left no marker")
				assert.Equal(t, batches*importBatch, tx.Bucket(bucketImportPending).Stats().KeyN)
				assert.Equal(t, len(kept)+batches*importBatch, tx.Bucket(bucketSnapshots).Stats().KeyN)
				return nil
			}))
			require.NoError(t, raw.Close())

			c := openTest(t, dir)
			assert.Equal(t, before, contents(t, c), "the open after the crash left part of the import")
			requireVerified(t, c, len(kept))
			_, err = c.Snapshot(ctx, snaps[0].ID)
			assert.Equal(t, telemetryd.ENOTFOUND, telemetryd.ErrorCode(err), "error: %v", err)

			res, err := c.ImportSnapshots(ctx, store.Batch(snaps))
			require.NoError(t, err)
			assert.Equal(t, store.ImportResult{Created: len(snaps)}, res, "the import run again")
			requireVerified(t, c, len(kept)+len(snaps))
		})
	}
}

// twice yields first on the first call of an import's records and
// second on every later one.
func twice(first, second []*telemetryd.Snapshot) func(yield func(*telemetryd.Snapshot) error) error {
	calls := 0
	return func(yield func(*telemetryd.Snapshot) error) error {
		calls++
		if calls == 1 {
			return store.Batch(first)(yield)
		}
		return store.Batch(second)(yield)
	}
}

// An import that fails after some of its batches committed leaves the
// store as it was, byte for byte in every bucket, and no marker.
func TestImportFailingWhileItWritesLeavesNothing(t *testing.T) {
	snaps := importable(t, 2*importBatch+importBatch/2)
	late := len(snaps) - 10 // in the last batch, after two committed
	altered := *snaps[late]
	altered.Data = []byte(`{"altered":true}`)
	require.NoError(t, altered.Seal())
	replaced := func(i int, by *telemetryd.Snapshot) []*telemetryd.Snapshot {
		out := slices.Clone(snaps)
		out[i] = by
		return out
	}
	broken := errors.New("the file went away")
	// Another writer of the process takes a deployment day of the import
	// while it runs.
	interloper := storetest.NewSnapshot(t, snaps[late].DeploymentID, snaps[late].CreatedAt.Add(time.Hour), nil, 64)
	kept := keptRecords(t)

	for _, tc := range []struct {
		name   string
		each   func(yield func(*telemetryd.Snapshot) error) error
		hook   func(t *testing.T, s *Store, cancel context.CancelFunc)
		others []*telemetryd.Snapshot // stored by others during the import
		want   func(t *testing.T, err error)
	}{{
		name: "a record that changed after the check fails it",
		each: twice(snaps, replaced(late, &altered)),
		want: func(t *testing.T, err error) { assert.ErrorIs(t, err, errChanged) },
	}, {
		name: "a record yielded twice in one batch fails it",
		each: twice(snaps, replaced(late, snaps[late-1])),
		want: func(t *testing.T, err error) { assert.ErrorIs(t, err, errChanged) },
	}, {
		name: "a record of a committed batch yielded again fails it",
		each: twice(snaps, replaced(late, snaps[0])),
		want: func(t *testing.T, err error) { assert.ErrorIs(t, err, errChanged) },
	}, {
		name: "fewer records the second time fail it",
		each: twice(snaps, snaps[:late]),
		want: func(t *testing.T, err error) { assert.ErrorIs(t, err, errChanged) },
	}, {
		name: "the source failing the second time fails it with its error",
		each: func() func(yield func(*telemetryd.Snapshot) error) error {
			calls := 0
			return func(yield func(*telemetryd.Snapshot) error) error {
				if calls++; calls == 1 {
					return store.Batch(snaps)(yield)
				}
				if err := store.Batch(snaps[:late])(yield); err != nil {
					return err
				}
				return broken
			}
		}(),
		want: func(t *testing.T, err error) { assert.ErrorIs(t, err, broken) },
	}, {
		name: "a context cancelled between batches fails it",
		each: store.Batch(snaps),
		hook: func(_ *testing.T, _ *Store, cancel context.CancelFunc) { cancel() },
		want: func(t *testing.T, err error) { assert.ErrorIs(t, err, context.Canceled) },
	}, {
		name: "a deployment day taken between batches fails it as a conflict",
		each: store.Batch(snaps),
		hook: func(t *testing.T, s *Store, _ context.CancelFunc) {
			require.NoError(t, s.CreateSnapshot(context.Background(), interloper))
		},
		others: []*telemetryd.Snapshot{interloper},
		want: func(t *testing.T, err error) {
			assert.Equal(t, telemetryd.ECONFLICT, telemetryd.ErrorCode(err), "error: %v", err)
			assert.ErrorContains(t, err, snaps[late].ID+": deployment "+snaps[late].DeploymentID+" already has snapshot "+interloper.ID)
		},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			// What the store must hold afterwards: what it held, and what
			// others stored meanwhile.
			want := openTest(t, t.TempDir())
			seedKept(t, want, kept)
			for _, o := range tc.others {
				require.NoError(t, want.CreateSnapshot(ctx, o))
			}
			s := openTest(t, t.TempDir())
			seedKept(t, s, kept)
			var batches int
			s.importBatchCommitted = func(n int) {
				batches = n
				if tc.hook != nil && n == 1 {
					tc.hook(t, s, cancel)
				}
			}

			_, err := s.ImportSnapshots(ctx, tc.each)

			require.Error(t, err)
			tc.want(t, err)
			assert.Positive(t, batches, "the import failed before it wrote a batch")
			assert.Equal(t, contents(t, want), contents(t, s), "the failed import left part of itself")
			requireVerified(t, s, len(kept)+len(tc.others))
		})
	}
}

// TestImportHoldsABatch imports 48 MiB of records and samples the Go heap
// while it runs: it grows by a few batches, not by the import. One
// transaction for the whole import grew it by about 150 MiB.
func TestImportHoldsABatch(t *testing.T) {
	const n, size = 3000, 16 << 10
	data := []byte(fmt.Sprintf(`{"padding":%q}`, strings.Repeat("x", size)))
	snaps := make([]*telemetryd.Snapshot, n)
	for i := range snaps {
		snap := telemetryd.NewSnapshot(fmt.Sprintf("dep-%d", i%10), "0.1.0", data, importBase.AddDate(0, 0, i/10), nil)
		snap.Data = data // one copy shared by every record, so the test holds little
		require.NoError(t, snap.Seal())
		snaps[i] = snap
	}
	s := openTest(t, t.TempDir())

	var stats runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&stats)
	baseline, peak := stats.HeapAlloc, stats.HeapAlloc
	sample := func() {
		runtime.ReadMemStats(&stats)
		peak = max(peak, stats.HeapAlloc)
	}
	s.importBatchCommitted = func(int) { sample() }
	res, err := s.ImportSnapshots(context.Background(), func(yield func(*telemetryd.Snapshot) error) error {
		for i, snap := range snaps {
			if i%50 == 0 {
				sample()
			}
			if err := yield(snap); err != nil {
				return err
			}
		}
		return nil
	})
	sample()

	require.NoError(t, err)
	assert.Equal(t, n, res.Created)
	growth := int64(peak) - int64(baseline)
	t.Logf("importing %d MiB of records grew the heap by at most %d MiB", n*size>>20, growth>>20)
	assert.Less(t, growth, int64(32<<20), "the import held more than a few batches")
}
