// Package storetest is the conformance suite every store backend passes:
// the same behaviour, tested the same way, whatever keeps the data.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

// Opener returns a fresh, empty store that lives until the test ends.
type Opener func(t *testing.T) store.Store

// Run runs the whole suite against the backend open returns.
func Run(t *testing.T, open Opener) {
	t.Run("Snapshots", func(t *testing.T) { testSnapshots(t, open) })
	t.Run("Listing", func(t *testing.T) { testListing(t, open) })
	t.Run("Filtering", func(t *testing.T) { testFiltering(t, open) })
	t.Run("ListingWhileWriting", func(t *testing.T) { testListingWhileWriting(t, open) })
	t.Run("Streaming", func(t *testing.T) { testStreaming(t, open) })
	t.Run("StreamingWhileWriting", func(t *testing.T) { testStreamingWhileWriting(t, open) })
	t.Run("SendStatus", func(t *testing.T) { testSendStatus(t, open) })
	t.Run("Retention", func(t *testing.T) { testRetention(t, open) })
	t.Run("Import", func(t *testing.T) { testImport(t, open) })
	t.Run("Fleet", func(t *testing.T) { testFleet(t, open) })
	t.Run("Settings", func(t *testing.T) { testSettings(t, open) })
	t.Run("Access", func(t *testing.T) { testAccess(t, open) })
	t.Run("Tokens", func(t *testing.T) { testTokens(t, open) })
	t.Run("Activity", func(t *testing.T) { testActivity(t, open) })
	t.Run("Closed", func(t *testing.T) { testClosed(t, open) })
	t.Run("Stats", func(t *testing.T) { testStats(t, open) })
}

// base is the suite's fixed clock origin.
var base = time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)

// NewSnapshot returns a sealed snapshot of the deployment created at at,
// chained to previous (nil for the first), with about size bytes of data.
func NewSnapshot(t testing.TB, deploymentID string, at time.Time, previous *telemetryd.Snapshot, size int) *telemetryd.Snapshot {
	t.Helper()
	data := fmt.Sprintf(`{"instance":{"os":"linux","cores":2},"note":%q}`, strings.Repeat("x", max(size-48, 0)))
	s := telemetryd.NewSnapshot(deploymentID, "0.1.0", []byte(data), at, previous)
	require.NoError(t, s.Seal())
	return s
}

// Chain returns n sealed snapshots of one deployment, one a day from
// start, oldest first.
func Chain(t testing.TB, deploymentID string, start time.Time, n, size int) []*telemetryd.Snapshot {
	t.Helper()
	snaps := make([]*telemetryd.Snapshot, 0, n)
	var prev *telemetryd.Snapshot
	for i := range n {
		s := NewSnapshot(t, deploymentID, start.AddDate(0, 0, i), prev, size)
		snaps = append(snaps, s)
		prev = s
	}
	return snaps
}

func requireCode(t *testing.T, code string, err error) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, telemetryd.ErrorCode(err), "error: %v", err)
}

func requireSameSnapshot(t *testing.T, want, got *telemetryd.Snapshot) {
	t.Helper()
	require.NotNil(t, got)
	assert.JSONEq(t, string(want.Data), string(got.Data))
	w, g := *want, *got
	w.Data, g.Data = nil, nil
	assert.Equal(t, w, g)
	assert.True(t, got.ChecksumValid(), "checksum of %s no longer verifies", got.ID)
}

func ids(snaps []*telemetryd.Snapshot) []string {
	out := make([]string, len(snaps))
	for i, s := range snaps {
		out[i] = s.ID
	}
	return out
}

// newestFirst returns the ids of snaps in listing order.
func newestFirst(snaps []*telemetryd.Snapshot) []string {
	sorted := slices.Clone(snaps)
	slices.SortFunc(sorted, func(a, b *telemetryd.Snapshot) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return ids(sorted)
}

func create(t *testing.T, st store.Store, snaps ...*telemetryd.Snapshot) {
	t.Helper()
	for _, s := range snaps {
		require.NoError(t, st.CreateSnapshot(context.Background(), s))
	}
}

func testSnapshots(t *testing.T, open Opener) {
	ctx := context.Background()

	t.Run("created snapshot reads back unchanged", func(t *testing.T) {
		st := open(t)
		s := NewSnapshot(t, "dep-a", base.Add(1234567*time.Microsecond), nil, 200)
		create(t, st, s)
		got, err := st.Snapshot(ctx, s.ID)
		require.NoError(t, err)
		requireSameSnapshot(t, s, got)
		assert.Equal(t, time.UTC, got.CreatedAt.Location())
	})

	t.Run("unknown id is not found", func(t *testing.T) {
		st := open(t)
		_, err := st.Snapshot(ctx, uuid.NewString())
		requireCode(t, telemetryd.ENOTFOUND, err)
	})

	t.Run("second snapshot of a deployment on one UTC day conflicts", func(t *testing.T) {
		st := open(t)
		first := NewSnapshot(t, "dep-a", base.Add(time.Hour), nil, 10)
		create(t, st, first)
		err := st.CreateSnapshot(ctx, NewSnapshot(t, "dep-a", base.Add(23*time.Hour+59*time.Minute), first, 10))
		requireCode(t, telemetryd.ECONFLICT, err)
		// Other deployments and other days are free.
		create(t, st, NewSnapshot(t, "dep-b", base.Add(time.Hour), nil, 10))
		create(t, st, NewSnapshot(t, "dep-a", base.Add(24*time.Hour), first, 10))
	})

	t.Run("same id twice conflicts", func(t *testing.T) {
		st := open(t)
		s := NewSnapshot(t, "dep-a", base, nil, 10)
		create(t, st, s)
		again := *s
		again.DeploymentID = "dep-b"
		require.NoError(t, again.Seal())
		requireCode(t, telemetryd.ECONFLICT, st.CreateSnapshot(ctx, &again))
	})

	t.Run("twenty concurrent creates for one day store exactly one", func(t *testing.T) {
		st := open(t)
		var wg sync.WaitGroup
		errs := make([]error, 20)
		for i := range errs {
			wg.Go(func() {
				at := base.Add(time.Duration(i) * time.Minute)
				errs[i] = st.CreateSnapshot(ctx, NewSnapshot(t, "dep-a", at, nil, 100))
			})
		}
		wg.Wait()
		var created int
		for _, err := range errs {
			if err == nil {
				created++
				continue
			}
			requireCode(t, telemetryd.ECONFLICT, err)
		}
		assert.Equal(t, 1, created)
		_, count, err := List(ctx, st, telemetryd.Filter{Limit: 100})
		require.NoError(t, err)
		assert.Equal(t, 1, count)
	})

	t.Run("latest snapshot is the deployment's newest", func(t *testing.T) {
		st := open(t)
		chain := Chain(t, "dep-a", base, 5, 10)
		create(t, st, chain...)
		create(t, st, NewSnapshot(t, "dep-b", base.AddDate(0, 0, 30), nil, 10))
		got, err := st.LatestSnapshot(ctx, "dep-a")
		require.NoError(t, err)
		assert.Equal(t, chain[4].ID, got.ID)
		_, err = st.LatestSnapshot(ctx, "dep-none")
		requireCode(t, telemetryd.ENOTFOUND, err)
	})
}

func testListing(t *testing.T, open Opener) {
	ctx := context.Background()
	st := open(t)
	// Three deployments, ten days, two sharing each instant so ties order by id.
	var all []*telemetryd.Snapshot
	for _, dep := range []string{"dep-a", "dep-b", "dep-c"} {
		start := base
		if dep == "dep-c" {
			start = base.Add(90 * time.Minute)
		}
		all = append(all, Chain(t, dep, start, 10, 50)...)
	}
	create(t, st, all...)
	byCreated := func(f telemetryd.Filter) []*telemetryd.Snapshot {
		var out []*telemetryd.Snapshot
		for _, s := range all {
			if f.Contains(s.CreatedAt) {
				out = append(out, s)
			}
		}
		return out
	}

	cases := []struct {
		name   string
		filter telemetryd.Filter
	}{
		{"open bounds list everything", telemetryd.Filter{}},
		{"start bound is inclusive", telemetryd.Filter{Start: base.AddDate(0, 0, 3)}},
		{"end bound is inclusive", telemetryd.Filter{End: base.AddDate(0, 0, 6)}},
		{"both bounds on one instant", telemetryd.Filter{Start: base.AddDate(0, 0, 2), End: base.AddDate(0, 0, 2)}},
		{"a microsecond past the instant excludes it", telemetryd.Filter{Start: base.AddDate(0, 0, 2).Add(time.Microsecond), End: base.AddDate(0, 0, 4)}},
		{"range with nothing in it", telemetryd.Filter{Start: base.AddDate(1, 0, 0)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := byCreated(tc.filter)
			f := tc.filter
			f.Limit = telemetryd.MaxLimit
			page, count, err := List(ctx, st, f)
			require.NoError(t, err)
			assert.Equal(t, len(want), count)
			assert.Equal(t, newestFirst(want), ids(page))
		})
	}

	t.Run("pages concatenate to the full list and count the whole match", func(t *testing.T) {
		f := telemetryd.Filter{Start: base.AddDate(0, 0, 1), End: base.AddDate(0, 0, 8)}
		want := newestFirst(byCreated(f))
		assert.Equal(t, want, pagedIDs(t, st, f, 7, len(want)))
	})

	t.Run("offset past the end gives an empty page and the count", func(t *testing.T) {
		page, count, err := List(ctx, st, telemetryd.Filter{Limit: 10, Offset: 1000})
		require.NoError(t, err)
		assert.Empty(t, page)
		assert.Equal(t, len(all), count)
	})

	t.Run("stream walks the same order as the list", func(t *testing.T) {
		f := telemetryd.Filter{End: base.AddDate(0, 0, 7)}
		var got []string
		require.NoError(t, st.EachSnapshot(ctx, f, func(s *telemetryd.Snapshot) error {
			got = append(got, s.ID)
			return nil
		}))
		assert.Equal(t, newestFirst(byCreated(f)), got)
	})

	t.Run("stream stops at the callback's error", func(t *testing.T) {
		stop := errors.New("enough")
		var n int
		err := st.EachSnapshot(ctx, telemetryd.Filter{}, func(*telemetryd.Snapshot) error {
			n++
			if n == 3 {
				return stop
			}
			return nil
		})
		require.ErrorIs(t, err, stop)
		assert.Equal(t, 3, n)
	})
}

// testListingWhileWriting checks that a listing's count and page come
// from one consistent read while snapshots are imported, created and
// deleted. With a limit above the count, the page holds exactly count
// records; with a small one, the newest record and the count must be
// those of one state the writer committed. The writer waits for a listing
// to finish after each batch, as real writes (a daily snapshot, an import
// in chunks) leave listings time to finish; writes still land while
// listings read.
// testFiltering lists, streams and counts by deployment and send status,
// alone and with dates and pages, against the same filter applied to the
// records in memory.
func testFiltering(t *testing.T, open Opener) {
	ctx := context.Background()
	st := open(t)
	var all []*telemetryd.Snapshot
	for d, dep := range []string{"dep-a", "dep-b", "dep-c"} {
		chain := Chain(t, dep, base.Add(time.Duration(d)*time.Hour), 12, 50)
		for i, s := range chain {
			s.RemoteSendStatus = telemetryd.SendStatuses[(i+d)%len(telemetryd.SendStatuses)]
		}
		all = append(all, chain...)
	}
	create(t, st, all...)
	matching := func(f telemetryd.Filter) []*telemetryd.Snapshot {
		var out []*telemetryd.Snapshot
		for _, s := range all {
			if f.Matches(s) {
				out = append(out, s)
			}
		}
		return out
	}
	sent, failed := telemetryd.SendSent, telemetryd.SendFailed
	cases := []struct {
		name   string
		filter telemetryd.Filter
	}{
		{"one deployment", telemetryd.Filter{DeploymentID: "dep-b"}},
		{"a deployment nobody has", telemetryd.Filter{DeploymentID: "dep-none"}},
		{"one status", telemetryd.Filter{Statuses: []telemetryd.SendStatus{failed}}},
		{"any of two statuses", telemetryd.Filter{Statuses: []telemetryd.SendStatus{sent, failed}}},
		{"deployment and status", telemetryd.Filter{DeploymentID: "dep-c", Statuses: []telemetryd.SendStatus{sent}}},
		{"deployment, status and dates", telemetryd.Filter{DeploymentID: "dep-a", Statuses: []telemetryd.SendStatus{sent, failed},
			Start: base.AddDate(0, 0, 2), End: base.AddDate(0, 0, 9)}},
		{"status and dates", telemetryd.Filter{Statuses: []telemetryd.SendStatus{telemetryd.SendPending}, End: base.AddDate(0, 0, 5)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := newestFirst(matching(tc.filter))
			f := tc.filter
			f.Limit = telemetryd.MaxLimit
			page, count, err := List(ctx, st, f)
			require.NoError(t, err)
			assert.Equal(t, len(want), count)
			assert.Equal(t, want, ids(page))

			var streamed []*telemetryd.Snapshot
			require.NoError(t, st.EachSnapshot(ctx, tc.filter, func(s *telemetryd.Snapshot) error {
				streamed = append(streamed, telemetryd.ClonePage([]*telemetryd.Snapshot{s})...)
				return nil
			}))
			assert.Equal(t, want, ids(streamed), "the stream holds what the listing holds")
		})
	}

	t.Run("filtered pages concatenate to the match and count all of it", func(t *testing.T) {
		f := telemetryd.Filter{Statuses: []telemetryd.SendStatus{sent, failed}, Start: base.AddDate(0, 0, 1)}
		want := newestFirst(matching(f))
		assert.Equal(t, want, pagedIDs(t, st, f, 5, len(want)))
	})

	t.Run("counts by status follow send outcomes", func(t *testing.T) {
		want := map[telemetryd.SendStatus]int{}
		for _, s := range all {
			want[s.RemoteSendStatus]++
		}
		counts, err := st.CountSnapshotsByStatus(ctx)
		require.NoError(t, err)
		for _, status := range telemetryd.SendStatuses {
			assert.Equal(t, want[status], counts[status], "%s", status)
		}

		victim := all[0]
		_, err = st.UpdateSendStatus(ctx, victim.ID, failed, base.AddDate(0, 1, 0), "receiver answered 500")
		require.NoError(t, err)
		if victim.RemoteSendStatus != failed {
			want[victim.RemoteSendStatus]--
			want[failed]++
		}
		counts, err = st.CountSnapshotsByStatus(ctx)
		require.NoError(t, err)
		for _, status := range telemetryd.SendStatuses {
			assert.Equal(t, want[status], counts[status], "%s after a send", status)
		}
		page, _, err := List(ctx, st, telemetryd.Filter{DeploymentID: victim.DeploymentID, Statuses: []telemetryd.SendStatus{failed}, Limit: 100})
		require.NoError(t, err)
		assert.Contains(t, ids(page), victim.ID, "a filter by status sees the new status")
	})
}

func testListingWhileWriting(t *testing.T, open Opener) {
	ctx := context.Background()
	st := open(t)
	const batches, batchSize = 30, 10
	// Snapshot n is created at second n; even batches are imported, odd
	// ones created one by one, and after every tenth batch retention
	// deletes those created before the batch's number of seconds.
	var writes [][]*telemetryd.Snapshot
	type state struct {
		newest string
		count  int
	}
	committed := map[state]bool{{}: true}
	var written, deleted int
	for b := range batches {
		batch := make([]*telemetryd.Snapshot, batchSize)
		for i := range batch {
			n := b*batchSize + i
			batch[i] = NewSnapshot(t, fmt.Sprintf("dep-%03d", n), base.Add(time.Duration(n)*time.Second), nil, 50)
			if b%2 == 1 {
				committed[state{batch[i].ID, n + 1 - deleted}] = true
			}
		}
		written += batchSize
		if b%2 == 0 {
			committed[state{batch[batchSize-1].ID, written - deleted}] = true
		}
		if b%10 == 9 {
			deleted = b
			committed[state{batch[batchSize-1].ID, written - deleted}] = true
		}
		writes = append(writes, batch)
	}

	stop := make(chan struct{})      // the test is over, whatever happened
	done := make(chan struct{})      // the writer wrote everything
	listed := make(chan struct{}, 1) // a listing finished
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		wg.Wait()
	}()
	wg.Go(func() {
		defer close(done)
		for b, batch := range writes {
			if b%2 == 0 {
				_, err := st.ImportSnapshots(ctx, store.Batch(batch))
				assert.NoError(t, err)
			} else {
				for _, s := range batch {
					assert.NoError(t, st.CreateSnapshot(ctx, s))
				}
			}
			if b%10 == 9 {
				_, err := st.DeleteSnapshotsBefore(ctx, base.Add(time.Duration(b)*time.Second))
				assert.NoError(t, err)
			}
			select {
			case <-listed:
			case <-stop:
				return
			}
		}
	})

	var listings int
	for finished := false; !finished; listings++ {
		select {
		case <-done:
			finished = true // one more listing after the last write
		default:
		}
		switch listings % 3 {
		case 0:
			page, count, err := List(ctx, st, telemetryd.Filter{Limit: telemetryd.MaxLimit})
			require.NoError(t, err)
			require.Len(t, page, count, "listing %d: the count disagrees with the page", listings)
		case 1:
			f := telemetryd.Filter{Start: base.Add(50 * time.Second), End: base.Add(250 * time.Second), Limit: telemetryd.MaxLimit}
			page, count, err := List(ctx, st, f)
			require.NoError(t, err)
			require.Len(t, page, count, "listing %d: the count disagrees with the page", listings)
		case 2:
			page, count, err := List(ctx, st, telemetryd.Filter{Limit: 5})
			require.NoError(t, err)
			got := state{count: count}
			if len(page) > 0 {
				got.newest = page[0].ID
			}
			require.True(t, committed[got], "listing %d: newest %q with count %d is no state the writer committed", listings, got.newest, got.count)
		}
		select {
		case listed <- struct{}{}:
		default:
		}
	}
	t.Logf("%d listings while writing", listings)
	_, count, err := List(ctx, st, telemetryd.Filter{Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, written-deleted, count, "all written, those before the last cut-off deleted")
}

func testStreaming(t *testing.T, open Opener) {
	ctx := context.Background()
	st := open(t)
	const n, size = 4000, 4096 // about 16 MiB of records
	snaps := make([]*telemetryd.Snapshot, 0, n)
	for i := range n {
		snaps = append(snaps, NewSnapshot(t, fmt.Sprintf("dep-%04d", i), base.Add(time.Duration(i)*time.Second), nil, size))
	}
	for chunk := range slices.Chunk(snaps, 500) {
		_, err := st.ImportSnapshots(ctx, store.Batch(chunk))
		require.NoError(t, err)
	}
	snaps = nil

	var stats runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&stats)
	baseline, peak := stats.HeapAlloc, stats.HeapAlloc
	var seen int
	require.NoError(t, st.EachSnapshot(ctx, telemetryd.Filter{}, func(*telemetryd.Snapshot) error {
		seen++
		if seen%250 == 0 {
			runtime.ReadMemStats(&stats)
			peak = max(peak, stats.HeapAlloc)
		}
		return nil
	}))
	assert.Equal(t, n, seen)
	growth := int64(peak) - int64(baseline)
	t.Logf("streaming %d records of %d bytes grew the heap by at most %d KiB", n, size, growth/1024)
	assert.Less(t, growth, int64(n*size/2), "streaming held on to records")
}

// testStreamingWhileWriting holds EachSnapshot to what store.Snapshots
// promises while snapshots are written and deleted during a walk.
func testStreamingWhileWriting(t *testing.T, open Opener) {
	ctx := context.Background()
	st := open(t)
	const n = 1200 // more than one batch of the embedded store
	snaps := make([]*telemetryd.Snapshot, 0, n)
	for i := range n {
		snaps = append(snaps, NewSnapshot(t, fmt.Sprintf("dep-%04d", i), base.Add(time.Duration(i)*time.Minute), nil, 64))
	}
	_, err := st.ImportSnapshots(ctx, store.Batch(snaps))
	require.NoError(t, err)
	deletedBefore := base.Add(100 * time.Minute) // the 100 oldest, not walked yet when deleted
	written := map[string]bool{}

	var walked []*telemetryd.Snapshot
	require.NoError(t, st.EachSnapshot(ctx, telemetryd.Filter{}, func(snap *telemetryd.Snapshot) error {
		walked = append(walked, telemetryd.ClonePage([]*telemetryd.Snapshot{snap})...)
		if len(walked) == 10 {
			// One newer than all (where the walk has been), one older
			// than all (where it is going), and the oldest deleted.
			for _, at := range []time.Time{base.Add(n * time.Minute), base.Add(-time.Hour)} {
				w := NewSnapshot(t, "dep-written-"+at.Format("150405"), at, nil, 64)
				require.NoError(t, st.CreateSnapshot(ctx, w))
				written[w.ID] = true
			}
			_, err := st.DeleteSnapshotsBefore(ctx, deletedBefore)
			require.NoError(t, err)
		}
		return nil
	}))

	seen := make(map[string]bool, len(walked))
	for i, snap := range walked {
		require.False(t, seen[snap.ID], "snapshot %s walked twice", snap.ID)
		seen[snap.ID] = true
		if i > 0 {
			prev := walked[i-1]
			require.True(t, snap.CreatedAt.Before(prev.CreatedAt) || snap.CreatedAt.Equal(prev.CreatedAt) && snap.ID < prev.ID,
				"walk out of order at %d", i)
		}
	}
	for _, snap := range snaps {
		if !snap.CreatedAt.Before(deletedBefore) {
			assert.True(t, seen[snap.ID], "snapshot %s existed throughout the walk but was not walked", snap.ID)
		}
	}
	for _, snap := range walked {
		if !written[snap.ID] {
			assert.Contains(t, snapIDs(snaps), snap.ID, "the walk made up a snapshot")
		}
	}
}

func snapIDs(snaps []*telemetryd.Snapshot) []string {
	ids := make([]string, len(snaps))
	for i, s := range snaps {
		ids[i] = s.ID
	}
	return ids
}

func testSendStatus(t *testing.T, open Opener) {
	ctx := context.Background()

	t.Run("recorded outcome reads back and keeps the checksum valid", func(t *testing.T) {
		st := open(t)
		s := NewSnapshot(t, "dep-a", base, nil, 10)
		create(t, st, s)
		at := base.Add(time.Minute + 5*time.Microsecond)
		got, err := st.UpdateSendStatus(ctx, s.ID, telemetryd.SendFailed, at, "receiver answered 500")
		require.NoError(t, err)
		assert.Equal(t, telemetryd.SendFailed, got.RemoteSendStatus)
		assert.True(t, got.RemoteSendAt.Equal(at))
		assert.Equal(t, "receiver answered 500", got.RemoteSendError)
		assert.True(t, got.ChecksumValid())

		got, err = st.UpdateSendStatus(ctx, s.ID, telemetryd.SendSent, at.Add(time.Hour), "")
		require.NoError(t, err)
		read, err := st.Snapshot(ctx, s.ID)
		require.NoError(t, err)
		requireSameSnapshot(t, got, read)
		assert.Empty(t, read.RemoteSendError)
	})

	t.Run("unknown id is not found", func(t *testing.T) {
		st := open(t)
		_, err := st.UpdateSendStatus(ctx, uuid.NewString(), telemetryd.SendSent, base, "")
		requireCode(t, telemetryd.ENOTFOUND, err)
	})

	t.Run("unknown status is invalid and changes nothing", func(t *testing.T) {
		st := open(t)
		s := NewSnapshot(t, "dep-a", base, nil, 10)
		create(t, st, s)
		_, err := st.UpdateSendStatus(ctx, s.ID, telemetryd.SendStatus("lost"), base.Add(time.Minute), "")
		requireCode(t, telemetryd.EINVALID, err)
		got, err := st.Snapshot(ctx, s.ID)
		require.NoError(t, err)
		requireSameSnapshot(t, s, got)
	})

	t.Run("unsent lists the deployment's failed and stale pending, oldest first, up to the limit", func(t *testing.T) {
		st := open(t)
		chain := Chain(t, "dep-a", base, 8, 10)
		create(t, st, chain...)
		// Another deployment's imported snapshots, one failed and one
		// pending, are not dep-a's to send.
		other := Chain(t, "dep-b", base.Add(-time.Hour), 2, 10)
		create(t, st, other...)
		_, err := st.UpdateSendStatus(ctx, other[0].ID, telemetryd.SendFailed, base, "")
		require.NoError(t, err)
		statuses := []telemetryd.SendStatus{
			telemetryd.SendFailed, telemetryd.SendSent, telemetryd.SendPending, telemetryd.SendSkipped,
			telemetryd.SendFailed, telemetryd.SendFailed, telemetryd.SendPending, telemetryd.SendPending,
		}
		for i, status := range statuses {
			if status != telemetryd.SendPending {
				_, err := st.UpdateSendStatus(ctx, chain[i].ID, status, chain[i].CreatedAt, "")
				require.NoError(t, err)
			}
		}
		// Pending counts only when created before the cut-off: chain[6] is, chain[7] is not.
		cutoff := chain[7].CreatedAt
		got, err := st.UnsentSnapshots(ctx, "dep-a", cutoff, 10)
		require.NoError(t, err)
		assert.Equal(t, ids([]*telemetryd.Snapshot{chain[0], chain[2], chain[4], chain[5], chain[6]}), ids(got))

		got, err = st.UnsentSnapshots(ctx, "dep-a", cutoff, 2)
		require.NoError(t, err)
		assert.Equal(t, ids([]*telemetryd.Snapshot{chain[0], chain[2]}), ids(got))

		got, err = st.UnsentSnapshots(ctx, "dep-b", cutoff, 10)
		require.NoError(t, err)
		assert.Equal(t, ids(other), ids(got))

		got, err = st.UnsentSnapshots(ctx, "dep-none", cutoff, 10)
		require.NoError(t, err)
		assert.NotNil(t, got)
		assert.Empty(t, got)
	})
}

func testRetention(t *testing.T, open Opener) {
	ctx := context.Background()
	st := open(t)
	chain := Chain(t, "dep-a", base, 10, 10)
	create(t, st, chain...)
	deleted, err := st.DeleteSnapshotsBefore(ctx, chain[4].CreatedAt)
	require.NoError(t, err)
	assert.Equal(t, 4, deleted)

	page, count, err := List(ctx, st, telemetryd.Filter{Limit: 100})
	require.NoError(t, err)
	assert.Equal(t, 6, count)
	assert.Equal(t, newestFirst(chain[4:]), ids(page))
	_, err = st.Snapshot(ctx, chain[0].ID)
	requireCode(t, telemetryd.ENOTFOUND, err)

	// The kept snapshots still verify, anchored at the oldest kept.
	v := telemetryd.NewVerifier()
	require.NoError(t, st.EachSnapshot(ctx, telemetryd.Filter{}, func(s *telemetryd.Snapshot) error {
		v.Add(s)
		return nil
	}))
	assert.Empty(t, v.Problems())
}

func testImport(t *testing.T, open Opener) {
	ctx := context.Background()
	countAll := func(t *testing.T, st store.Store) int {
		t.Helper()
		_, count, err := List(ctx, st, telemetryd.Filter{Limit: 1})
		require.NoError(t, err)
		return count
	}

	t.Run("import stores every record and a second import changes nothing", func(t *testing.T) {
		st := open(t)
		chain := Chain(t, "dep-a", base, 30, 100)
		res, err := st.ImportSnapshots(ctx, store.Batch(chain))
		require.NoError(t, err)
		assert.Equal(t, store.ImportResult{Created: 30}, res)

		res, err = st.ImportSnapshots(ctx, store.Batch(chain))
		require.NoError(t, err)
		assert.Equal(t, store.ImportResult{Unchanged: 30}, res)
		assert.Equal(t, 30, countAll(t, st))
		got, err := st.Snapshot(ctx, chain[17].ID)
		require.NoError(t, err)
		requireSameSnapshot(t, chain[17], got)
	})

	t.Run("a changed send status alone still counts as identical", func(t *testing.T) {
		st := open(t)
		s := NewSnapshot(t, "dep-a", base, nil, 10)
		create(t, st, s)
		sent := *s
		sent.RemoteSendStatus, sent.RemoteSendAt = telemetryd.SendSent, base.Add(time.Minute)
		res, err := st.ImportSnapshots(ctx, store.Batch([]*telemetryd.Snapshot{&sent}))
		require.NoError(t, err)
		assert.Equal(t, store.ImportResult{Unchanged: 1}, res)
	})

	t.Run("any conflict imports nothing and names every conflicting id", func(t *testing.T) {
		st := open(t)
		existing := Chain(t, "dep-a", base, 3, 10)
		create(t, st, existing...)

		altered := *existing[1]
		altered.Data = []byte(`{"altered":true}`)
		require.NoError(t, altered.Seal())
		sameDay := NewSnapshot(t, "dep-a", existing[2].CreatedAt.Add(time.Hour), nil, 10)
		fresh := Chain(t, "dep-b", base, 5, 10)

		batch := append([]*telemetryd.Snapshot{existing[0], &altered, sameDay}, fresh...)
		_, err := st.ImportSnapshots(ctx, store.Batch(batch))
		requireCode(t, telemetryd.ECONFLICT, err)
		assert.Contains(t, err.Error(), altered.ID)
		assert.Contains(t, err.Error(), sameDay.ID)
		assert.Equal(t, 3, countAll(t, st), "a failed import stored records")
		_, err = st.Snapshot(ctx, fresh[0].ID)
		requireCode(t, telemetryd.ENOTFOUND, err)
	})

	t.Run("a batch holding one deployment day or one id twice conflicts", func(t *testing.T) {
		a := NewSnapshot(t, "dep-a", base, nil, 10)
		sameDay := NewSnapshot(t, "dep-a", base.Add(time.Hour), nil, 10)
		again := *a
		for name, batch := range map[string][]*telemetryd.Snapshot{
			"same day":    {a, sameDay},
			"same record": {a, &again},
		} {
			t.Run(name, func(t *testing.T) {
				st := open(t)
				_, err := st.ImportSnapshots(ctx, store.Batch(batch))
				requireCode(t, telemetryd.ECONFLICT, err)
				assert.Contains(t, err.Error(), batch[1].ID)
				assert.Equal(t, 0, countAll(t, st))
			})
		}
	})

	t.Run("a source that fails mid-way imports nothing and its error is returned", func(t *testing.T) {
		st := open(t)
		chain := Chain(t, "dep-a", base, 3, 10)
		broken := errors.New("the file went away")
		_, err := st.ImportSnapshots(ctx, func(yield func(*telemetryd.Snapshot) error) error {
			for _, s := range chain {
				if err := yield(s); err != nil {
					return err
				}
			}
			return broken
		})
		require.ErrorIs(t, err, broken)
		assert.Equal(t, 0, countAll(t, st), "a failed import stored records")
	})

	t.Run("invalid records import nothing and are named with their reasons", func(t *testing.T) {
		st := open(t)
		chain := Chain(t, "dep-a", base, 3, 10)
		badChecksum := *chain[1]
		badChecksum.Checksum = strings.Repeat("0", 64)
		notObject := NewSnapshot(t, "dep-b", base, nil, 10)
		notObject.Data = []byte(`[1,2]`)
		require.NoError(t, notObject.Seal())
		// Longer than any store's key or index entry.
		longDeployment := NewSnapshot(t, strings.Repeat("d", 5_000_000), base, nil, 10)

		_, err := st.ImportSnapshots(ctx, store.Batch([]*telemetryd.Snapshot{chain[0], &badChecksum, chain[2], notObject, longDeployment}))

		requireCode(t, telemetryd.EINVALID, err)
		assert.Contains(t, err.Error(), badChecksum.ID+": checksum does not match")
		assert.Contains(t, err.Error(), notObject.ID+": data must be a JSON object")
		assert.Contains(t, err.Error(), longDeployment.ID+": deployment_id is 5000000 bytes long")
		assert.NotContains(t, err.Error(), chain[0].ID)
		assert.Equal(t, 0, countAll(t, st), "a failed import stored records")
	})
}

func testSettings(t *testing.T, open Opener) {
	ctx := context.Background()
	st := open(t)
	var wg sync.WaitGroup
	got := make([]string, 10)
	for i := range got {
		wg.Go(func() {
			v, err := st.SetSettingIfAbsent(ctx, "k", fmt.Sprintf("value-%d", i))
			assert.NoError(t, err)
			got[i] = v
		})
	}
	wg.Wait()
	for _, v := range got {
		assert.Equal(t, got[0], v, "concurrent first writers disagree")
	}
	v, err := st.SetSettingIfAbsent(ctx, "k", "later")
	require.NoError(t, err)
	assert.Equal(t, got[0], v)

	id, err := store.DeploymentID(ctx, st)
	require.NoError(t, err)
	again, err := store.DeploymentID(ctx, st)
	require.NoError(t, err)
	assert.Equal(t, id, again)
	assert.NoError(t, uuid.Validate(id))
}

func testAccess(t *testing.T, open Opener) {
	ctx := context.Background()
	admin := &telemetryd.Account{ID: uuid.NewString(), Username: "admin", PasswordHash: "hash-1", Roles: []string{"super-admin"}, CreatedAt: base}
	reader := &telemetryd.Account{ID: uuid.NewString(), Username: "bob", PasswordHash: "hash-2", Roles: []string{"telemetry-reader"}, CreatedAt: base}
	roles := []*telemetryd.Role{
		{Name: "telemetry-reader", Permissions: []telemetryd.Permission{telemetryd.ReadTelemetry}},
		{Name: "super-admin", Permissions: []telemetryd.Permission{telemetryd.SuperAdmin}},
	}
	seed := func(t *testing.T) store.Store {
		st := open(t)
		require.NoError(t, st.UpdateAccess(ctx, func(a *store.Access) error {
			a.Accounts = append(a.Accounts, reader, admin)
			a.Roles = append(a.Roles, roles...)
			return nil
		}))
		return st
	}

	t.Run("accounts and roles read back sorted by name", func(t *testing.T) {
		st := seed(t)
		got, err := st.Access(ctx)
		require.NoError(t, err)
		assert.Equal(t, []*telemetryd.Account{admin, reader}, got.Accounts)
		assert.Equal(t, []*telemetryd.Role{roles[1], roles[0]}, got.Roles)
	})

	t.Run("changes, additions and removals are stored", func(t *testing.T) {
		st := seed(t)
		require.NoError(t, st.UpdateAccess(ctx, func(a *store.Access) error {
			a.Accounts[1].Disabled = true
			a.Accounts[1].TokensRevokedAt = base.Add(time.Hour + time.Microsecond)
			a.Accounts[1].Roles = nil
			a.Roles = slices.DeleteFunc(a.Roles, func(r *telemetryd.Role) bool { return r.Name == "telemetry-reader" })
			a.Roles = append(a.Roles, &telemetryd.Role{Name: "auditors", Permissions: []telemetryd.Permission{telemetryd.ReadTelemetry, telemetryd.ManageAccounts}})
			return nil
		}))
		got, err := st.Access(ctx)
		require.NoError(t, err)
		require.Len(t, got.Accounts, 2)
		assert.True(t, got.Accounts[1].Disabled)
		assert.True(t, base.Add(time.Hour+time.Microsecond).Equal(got.Accounts[1].TokensRevokedAt), "when its tokens were revoked")
		assert.Empty(t, got.Accounts[1].Roles)
		assert.Equal(t, []string{"auditors", "super-admin"}, roleNames(got.Roles))
		assert.Equal(t, []telemetryd.Permission{telemetryd.ReadTelemetry, telemetryd.ManageAccounts}, got.Roles[0].Permissions)
	})

	t.Run("usernames are unique regardless of case", func(t *testing.T) {
		st := seed(t)
		err := st.UpdateAccess(ctx, func(a *store.Access) error {
			a.Accounts = append(a.Accounts, &telemetryd.Account{ID: uuid.NewString(), Username: "BOB", PasswordHash: "hash-3", CreatedAt: base})
			return nil
		})
		requireCode(t, telemetryd.ECONFLICT, err)
		got, err := st.Access(ctx)
		require.NoError(t, err)
		assert.Len(t, got.Accounts, 2)
	})

	t.Run("an error from the update stores nothing", func(t *testing.T) {
		st := seed(t)
		refused := errors.New("refused")
		err := st.UpdateAccess(ctx, func(a *store.Access) error {
			a.Accounts[0].Disabled = true
			a.Roles = nil
			return refused
		})
		require.ErrorIs(t, err, refused)
		got, err := st.Access(ctx)
		require.NoError(t, err)
		assert.False(t, got.Accounts[0].Disabled)
		assert.Len(t, got.Roles, 2)
	})

	t.Run("entries breaking the rules store nothing", func(t *testing.T) {
		cases := []struct {
			name    string
			code    string
			message string
			change  func(a *store.Access)
		}{
			{"a taken username conflicts", telemetryd.ECONFLICT, "account bob already exists", func(a *store.Access) {
				a.Accounts = append(a.Accounts, &telemetryd.Account{ID: uuid.NewString(), Username: "bob", CreatedAt: base})
			}},
			{"a taken account id conflicts", telemetryd.ECONFLICT, "account id " + reader.ID + " is already taken", func(a *store.Access) {
				a.Accounts = append(a.Accounts, &telemetryd.Account{ID: reader.ID, Username: "carol", CreatedAt: base})
			}},
			{"a taken role name conflicts", telemetryd.ECONFLICT, "role super-admin already exists", func(a *store.Access) {
				a.Roles = append(a.Roles, &telemetryd.Role{Name: "super-admin"})
			}},
			{"an account without an id is invalid", telemetryd.EINVALID, "an account needs an id and a username", func(a *store.Access) {
				a.Accounts = append(a.Accounts, &telemetryd.Account{Username: "carol", CreatedAt: base})
			}},
			{"an account without a username is invalid", telemetryd.EINVALID, "an account needs an id and a username", func(a *store.Access) {
				a.Accounts = append(a.Accounts, &telemetryd.Account{ID: uuid.NewString(), CreatedAt: base})
			}},
			{"a role without a name is invalid", telemetryd.EINVALID, "a role needs a name", func(a *store.Access) {
				a.Roles = append(a.Roles, &telemetryd.Role{})
			}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				st := seed(t)
				err := st.UpdateAccess(ctx, func(a *store.Access) error {
					// A valid change alongside, which must not be stored either.
					a.Accounts[0].Disabled = true
					tc.change(a)
					return nil
				})
				requireCode(t, tc.code, err)
				assert.Equal(t, tc.message, telemetryd.ErrorMessage(err), "both backends say the same")
				got, err := st.Access(ctx)
				require.NoError(t, err)
				assert.Equal(t, []*telemetryd.Account{admin, reader}, got.Accounts)
				assert.Equal(t, []*telemetryd.Role{roles[1], roles[0]}, got.Roles)
			})
		}
	})

	t.Run("concurrent updates of one account lose nothing", func(t *testing.T) {
		st := seed(t)
		var wg sync.WaitGroup
		for i := range 10 {
			wg.Go(func() {
				assert.NoError(t, st.UpdateAccess(ctx, func(a *store.Access) error {
					a.Accounts[0].Roles = append(a.Accounts[0].Roles, fmt.Sprintf("role-%d", i))
					return nil
				}))
			})
		}
		wg.Wait()
		got, err := st.Access(ctx)
		require.NoError(t, err)
		assert.Len(t, got.Accounts[0].Roles, 11)
	})
}

func roleNames(roles []*telemetryd.Role) []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = r.Name
	}
	return out
}

func testTokens(t *testing.T, open Opener) {
	ctx := context.Background()
	newToken := func(kind telemetryd.TokenKind, account string, created time.Time) *telemetryd.Token {
		return &telemetryd.Token{
			ID: uuid.NewString(), Kind: kind, Name: "ci", AccountID: account,
			Hash: uuid.NewString(), CreatedAt: created, ExpiresAt: created.Add(24 * time.Hour),
		}
	}

	t.Run("tokens are found by hash and listed per account and kind", func(t *testing.T) {
		st := open(t)
		a1 := newToken(telemetryd.APIToken, "acct-1", base)
		a2 := newToken(telemetryd.APIToken, "acct-1", base.Add(time.Minute))
		r1 := newToken(telemetryd.RefreshToken, "acct-1", base)
		r1.Session = "session-1"
		other := newToken(telemetryd.APIToken, "acct-2", base)
		for _, tok := range []*telemetryd.Token{a2, r1, other, a1} {
			require.NoError(t, st.CreateToken(ctx, tok))
		}
		got, err := st.TokenByHash(ctx, a2.Hash)
		require.NoError(t, err)
		assert.Equal(t, a2, got)
		got, err = st.TokenByHash(ctx, r1.Hash)
		require.NoError(t, err)
		assert.Equal(t, r1, got, "a refresh token keeps its session")

		list, err := st.ListTokens(ctx, "acct-1", telemetryd.APIToken)
		require.NoError(t, err)
		assert.Equal(t, []*telemetryd.Token{a1, a2}, list)

		_, err = st.TokenByHash(ctx, "no-such-hash")
		requireCode(t, telemetryd.ENOTFOUND, err)
	})

	t.Run("a reused hash conflicts", func(t *testing.T) {
		st := open(t)
		tok := newToken(telemetryd.APIToken, "acct-1", base)
		require.NoError(t, st.CreateToken(ctx, tok))
		dup := newToken(telemetryd.APIToken, "acct-1", base)
		dup.Hash = tok.Hash
		requireCode(t, telemetryd.ECONFLICT, st.CreateToken(ctx, dup))
	})

	t.Run("revocation keeps its first time and use is recorded", func(t *testing.T) {
		st := open(t)
		tok := newToken(telemetryd.RefreshToken, "acct-1", base)
		require.NoError(t, st.CreateToken(ctx, tok))
		require.NoError(t, st.TouchToken(ctx, tok.ID, base.Add(time.Second)))

		revoked, first, err := st.RevokeToken(ctx, tok.ID, base.Add(time.Hour))
		require.NoError(t, err)
		assert.True(t, first)
		assert.True(t, revoked.RevokedAt.Equal(base.Add(time.Hour)))
		again, first, err := st.RevokeToken(ctx, tok.ID, base.Add(2*time.Hour))
		require.NoError(t, err)
		assert.False(t, first, "a second revocation must not count as the first")
		assert.True(t, again.RevokedAt.Equal(base.Add(time.Hour)))

		got, err := st.TokenByHash(ctx, tok.Hash)
		require.NoError(t, err)
		assert.True(t, got.LastUsedAt.Equal(base.Add(time.Second)))
		assert.False(t, got.Active(base.Add(2*time.Hour)))

		_, _, err = st.RevokeToken(ctx, uuid.NewString(), base)
		requireCode(t, telemetryd.ENOTFOUND, err)
	})

	t.Run("of concurrent revocations exactly one is the first", func(t *testing.T) {
		st := open(t)
		tok := newToken(telemetryd.RefreshToken, "acct-1", base)
		require.NoError(t, st.CreateToken(ctx, tok))
		var wg sync.WaitGroup
		firsts := make([]bool, 10)
		times := make([]time.Time, 10)
		for i := range firsts {
			wg.Go(func() {
				got, first, err := st.RevokeToken(ctx, tok.ID, base.Add(time.Duration(i+1)*time.Minute))
				assert.NoError(t, err)
				if err == nil {
					firsts[i], times[i] = first, got.RevokedAt
				}
			})
		}
		wg.Wait()
		var winners int
		for i, first := range firsts {
			if first {
				winners++
			}
			assert.True(t, times[i].Equal(times[0]), "every caller sees the one first revocation")
		}
		assert.Equal(t, 1, winners)
	})

	t.Run("a use recorded late never moves the last use back", func(t *testing.T) {
		st := open(t)
		tok := newToken(telemetryd.APIToken, "acct-1", base)
		require.NoError(t, st.CreateToken(ctx, tok))
		require.NoError(t, st.TouchToken(ctx, tok.ID, base.Add(2*time.Second)))
		require.NoError(t, st.TouchToken(ctx, tok.ID, base.Add(time.Second)))

		got, err := st.TokenByHash(ctx, tok.Hash)
		require.NoError(t, err)
		assert.True(t, got.LastUsedAt.Equal(base.Add(2*time.Second)), "last used at %v", got.LastUsedAt)

		requireCode(t, telemetryd.ENOTFOUND, st.TouchToken(ctx, uuid.NewString(), base))
	})
}

func testActivity(t *testing.T, open Opener) {
	ctx := context.Background()
	st := open(t)
	got, err := st.ActivityOn(ctx, "2026-01-10")
	require.NoError(t, err)
	assert.NotNil(t, got)
	assert.Empty(t, got)

	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			assert.NoError(t, st.AddActivity(ctx, "2026-01-10", map[string]int64{"logins": 1, "rest_requests": 3}))
		})
	}
	wg.Wait()
	require.NoError(t, st.AddActivity(ctx, "2026-01-11", map[string]int64{"logins": 7}))

	got, err = st.ActivityOn(ctx, "2026-01-10")
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"logins": 10, "rest_requests": 30}, got)
	got, err = st.ActivityOn(ctx, "2026-01-11")
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"logins": 7}, got)
}

func testClosed(t *testing.T, open Opener) {
	ctx := context.Background()
	st := open(t)
	require.NoError(t, st.Ping(ctx))
	require.NoError(t, st.Close())
	requireCode(t, telemetryd.EUNAVAILABLE, st.Ping(ctx))
	_, _, err := List(ctx, st, telemetryd.Filter{Limit: 10})
	requireCode(t, telemetryd.EUNAVAILABLE, err)
	_, err = st.Snapshot(ctx, uuid.NewString())
	requireCode(t, telemetryd.EUNAVAILABLE, err)
	err = st.EachSnapshot(ctx, telemetryd.Filter{}, func(*telemetryd.Snapshot) error { return nil })
	requireCode(t, telemetryd.EUNAVAILABLE, err)
	assert.NoError(t, st.Close(), "a second Close must be safe")
}

func testStats(t *testing.T, open Opener) {
	ctx := context.Background()

	t.Run("counts snapshots, accounts and roles by kind", func(t *testing.T) {
		st := open(t)
		create(t, st, Chain(t, "dep-a", base, 3, 10)...)
		require.NoError(t, st.UpdateAccess(ctx, func(a *store.Access) error {
			a.Accounts = append(a.Accounts, &telemetryd.Account{ID: uuid.NewString(), Username: "admin", Roles: []string{"super-admin"}, CreatedAt: base})
			a.Roles = append(a.Roles, &telemetryd.Role{Name: "super-admin", Permissions: []telemetryd.Permission{telemetryd.SuperAdmin}})
			return nil
		}))

		stats, err := st.Stats(ctx)

		require.NoError(t, err)
		assert.NotEmpty(t, stats.DatabaseType)
		require.NotNil(t, stats.NodesByLabel)
		assert.NotNil(t, stats.RelationshipsByType)
		assert.Equal(t, int64(3), stats.NodesByLabel["TelemetrySnapshot"])
		assert.Equal(t, int64(1), stats.NodesByLabel["Account"])
		assert.Equal(t, int64(1), stats.NodesByLabel["Role"])
		assert.GreaterOrEqual(t, stats.Nodes, int64(5))
	})

	t.Run("closed store is unavailable", func(t *testing.T) {
		st := open(t)
		require.NoError(t, st.Close())
		_, err := st.Stats(ctx)
		requireCode(t, telemetryd.EUNAVAILABLE, err)
	})
}

// pagedIDs lists f page by page, size records a page, one page past the
// end, checking that every page counts want in all, and returns the ids
// in the order the pages gave them.
func pagedIDs(t *testing.T, st store.Snapshots, f telemetryd.Filter, size, want int) []string {
	t.Helper()
	var got []string
	for offset := 0; offset < want+size; offset += size {
		f.Limit, f.Offset = size, offset
		page, count, err := List(t.Context(), st, f)
		require.NoError(t, err)
		assert.Equal(t, want, count)
		got = append(got, ids(page)...)
	}
	return got
}

// List returns the page ListSnapshots lends for f, cloned, and the count:
// the listing as a caller that keeps the page sees it.
func List(ctx context.Context, st store.Snapshots, f telemetryd.Filter) ([]*telemetryd.Snapshot, int, error) {
	var page []*telemetryd.Snapshot
	var count int
	err := st.ListSnapshots(ctx, f, func(n int, p []*telemetryd.Snapshot) error {
		page, count = telemetryd.ClonePage(p), n
		return nil
	})
	return page, count, err
}
