package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

// received marks snaps as a receiver stores them: sent, when received.
func received(snaps ...*telemetryd.Snapshot) []*telemetryd.Snapshot {
	for _, s := range snaps {
		s.RemoteSendStatus = telemetryd.SendSent
		s.RemoteSendAt = s.CreatedAt.Add(time.Minute)
	}
	return snaps
}

func receive(t *testing.T, st store.Store, snaps ...*telemetryd.Snapshot) {
	t.Helper()
	for _, s := range snaps {
		created, err := st.ReceiveSnapshot(context.Background(), s)
		require.NoError(t, err)
		require.True(t, created, "snapshot %s was not created", s.ID)
	}
}

func deployment(t *testing.T, st store.Store, id string) *telemetryd.Deployment {
	t.Helper()
	deps, _, err := st.Deployments(context.Background(), telemetryd.DeploymentFilter{Limit: telemetryd.MaxLimit})
	require.NoError(t, err)
	for _, d := range deps {
		if d.ID == id {
			return d
		}
	}
	t.Fatalf("deployment %s has no summary", id)
	return nil
}

func testFleet(t *testing.T, open Opener) {
	ctx := context.Background()

	t.Run("a received snapshot is stored like any other and summarized", func(t *testing.T) {
		st := open(t)
		chain := received(Chain(t, "dep-a", base, 3, 200)...)
		chain[2].Version = "0.2.0"
		require.NoError(t, chain[2].Seal())

		receive(t, st, chain...)

		got, err := st.Snapshot(ctx, chain[1].ID)
		require.NoError(t, err)
		requireSameSnapshot(t, chain[1], got)
		page, count, err := List(ctx, st, telemetryd.Filter{Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, 3, count)
		assert.Equal(t, newestFirst(chain), ids(page))
		d := deployment(t, st, "dep-a")
		assert.Equal(t, chain[0].CreatedAt, d.FirstSeen.UTC())
		assert.Equal(t, chain[2].CreatedAt, d.LastSeen.UTC())
		assert.Equal(t, 3, d.SnapshotCount)
		assert.Equal(t, "0.2.0", d.LatestVersion)
		assert.Equal(t, 0, d.MissingDays())
		assert.True(t, d.ChainIntact())
	})

	t.Run("the same snapshot again changes nothing", func(t *testing.T) {
		st := open(t)
		s := received(NewSnapshot(t, "dep-a", base, nil, 100))[0]
		receive(t, st, s)
		again := *s
		again.RemoteSendAt = s.RemoteSendAt.Add(time.Hour)

		created, err := st.ReceiveSnapshot(ctx, &again)

		require.NoError(t, err)
		assert.False(t, created)
		got, err := st.Snapshot(ctx, s.ID)
		require.NoError(t, err)
		assert.Equal(t, s.RemoteSendAt, got.RemoteSendAt, "the first receipt stands")
		assert.Equal(t, 1, deployment(t, st, "dep-a").SnapshotCount)
	})

	t.Run("the same id with other content is a conflict", func(t *testing.T) {
		st := open(t)
		s := received(NewSnapshot(t, "dep-a", base, nil, 100))[0]
		receive(t, st, s)
		other := *s
		other.Version = "9.9.9"
		require.NoError(t, other.Seal())

		_, err := st.ReceiveSnapshot(ctx, &other)

		requireCode(t, telemetryd.ECONFLICT, err)
		assert.Contains(t, err.Error(), s.ID)
		assert.Equal(t, 1, deployment(t, st, "dep-a").SnapshotCount)
	})

	t.Run("a second snapshot of a deployment day is a conflict", func(t *testing.T) {
		st := open(t)
		receive(t, st, received(NewSnapshot(t, "dep-a", base, nil, 100))...)

		_, err := st.ReceiveSnapshot(ctx, received(NewSnapshot(t, "dep-a", base.Add(time.Hour), nil, 100))[0])

		requireCode(t, telemetryd.ECONFLICT, err)
		assert.Contains(t, err.Error(), "dep-a")
		_, count, err := List(ctx, st, telemetryd.Filter{Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, 1, count)
	})

	t.Run("a day the deployment stored itself is a conflict too", func(t *testing.T) {
		st := open(t)
		create(t, st, NewSnapshot(t, "dep-a", base, nil, 100))

		_, err := st.ReceiveSnapshot(ctx, received(NewSnapshot(t, "dep-a", base.Add(time.Hour), nil, 100))[0])

		requireCode(t, telemetryd.ECONFLICT, err)
	})

	t.Run("a gap breaks the chain and the late arrival heals it", func(t *testing.T) {
		st := open(t)
		chain := received(Chain(t, "dep-a", base, 4, 100)...)
		receive(t, st, chain[0], chain[1], chain[3])

		d := deployment(t, st, "dep-a")
		assert.False(t, d.ChainIntact(), "day 4 does not chain to day 2")
		assert.Equal(t, 1, d.MissingDays())

		receive(t, st, chain[2])

		d = deployment(t, st, "dep-a")
		assert.True(t, d.ChainIntact(), "day 3 filled the gap")
		assert.Equal(t, 0, d.MissingDays())
		assert.Equal(t, 4, d.SnapshotCount)
	})

	t.Run("a snapshot chained to something never held stays a break", func(t *testing.T) {
		st := open(t)
		chain := received(Chain(t, "dep-a", base, 2, 100)...)
		stranger := received(NewSnapshot(t, "dep-a", base.AddDate(0, 0, 2), NewSnapshot(t, "dep-x", base, nil, 10), 100))[0]
		receive(t, st, chain[0], chain[1], stranger)
		assert.False(t, deployment(t, st, "dep-a").ChainIntact())
	})

	t.Run("days without a snapshot count as missing, and a chain across them is intact", func(t *testing.T) {
		st := open(t)
		first := received(NewSnapshot(t, "dep-a", base, nil, 100))[0]
		// The deployment was down for three days: no snapshot, no break.
		later := received(NewSnapshot(t, "dep-a", base.AddDate(0, 0, 4), first, 100))[0]
		receive(t, st, later, first)
		d := deployment(t, st, "dep-a")
		assert.Equal(t, 3, d.MissingDays())
		assert.True(t, d.ChainIntact())
		assert.Equal(t, later.CreatedAt, d.LastSeen.UTC())
		assert.Equal(t, first.CreatedAt, d.FirstSeen.UTC())
	})

	t.Run("deployments are listed newest last seen first, filtered and paged", func(t *testing.T) {
		st := open(t)
		for i, dep := range []string{"dep-a", "dep-b", "dep-c", "dep-d"} {
			receive(t, st, received(Chain(t, dep, base.AddDate(0, 0, i), 2, 50)...)...)
		}
		create(t, st, NewSnapshot(t, "own", base, nil, 50)) // stored, not received: no summary

		all, count, err := st.Deployments(ctx, telemetryd.DeploymentFilter{Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, 4, count)
		require.Len(t, all, 4)
		assert.Equal(t, []string{"dep-d", "dep-c", "dep-b", "dep-a"}, deploymentIDs(all))

		page, count, err := st.Deployments(ctx, telemetryd.DeploymentFilter{Limit: 2, Offset: 1})
		require.NoError(t, err)
		assert.Equal(t, 4, count)
		assert.Equal(t, []string{"dep-c", "dep-b"}, deploymentIDs(page))

		// dep-b's last snapshot is on day 3 (base+1+1).
		recent, count, err := st.Deployments(ctx, telemetryd.DeploymentFilter{SeenSince: base.AddDate(0, 0, 2), Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, 3, count)
		assert.Equal(t, []string{"dep-d", "dep-c", "dep-b"}, deploymentIDs(recent))

		none, count, err := st.Deployments(ctx, telemetryd.DeploymentFilter{Limit: 10, Offset: 4})
		require.NoError(t, err)
		assert.Equal(t, 4, count)
		assert.Empty(t, none)
	})

	t.Run("retention keeps the summaries true", func(t *testing.T) {
		st := open(t)
		gap := received(Chain(t, "dep-gap", base, 4, 100)...)
		receive(t, st, gap[0], gap[1], gap[3]) // the break is between days 2 and 4
		receive(t, st, received(Chain(t, "dep-gone", base, 2, 100)...)...)
		for i := range 3 { // deployments of no summary, pruned alongside
			create(t, st, NewSnapshot(t, fmt.Sprintf("own-%d", i), base, nil, 10))
		}

		n, err := st.DeleteSnapshotsBefore(ctx, base.AddDate(0, 0, 2))

		require.NoError(t, err)
		assert.Equal(t, 7, n)
		d := deployment(t, st, "dep-gap")
		assert.Equal(t, 1, d.SnapshotCount)
		assert.Equal(t, gap[3].CreatedAt, d.FirstSeen.UTC())
		assert.True(t, d.ChainIntact(), "the break left with day 2; day 4 anchors the chain now")
		_, count, err := st.Deployments(ctx, telemetryd.DeploymentFilter{Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, 1, count, "a deployment with nothing left is no longer listed")
	})

	t.Run("a fleet's imported snapshots are summarized on request", func(t *testing.T) {
		st := open(t)
		chain := received(Chain(t, "dep-a", base, 5, 100)...)
		_, err := st.ImportSnapshots(ctx, store.Batch([]*telemetryd.Snapshot{chain[0], chain[1], chain[2], chain[4]}))
		require.NoError(t, err)

		require.NoError(t, st.SummarizeDeployments(ctx, []string{"dep-a", "dep-none"}))

		d := deployment(t, st, "dep-a")
		assert.Equal(t, 4, d.SnapshotCount)
		assert.Equal(t, 1, d.MissingDays())
		assert.False(t, d.ChainIntact())
		_, count, err := st.Deployments(ctx, telemetryd.DeploymentFilter{Limit: 10})
		require.NoError(t, err)
		assert.Equal(t, 1, count, "a deployment without snapshots gets no summary")
		receive(t, st, chain[3])
		assert.True(t, deployment(t, st, "dep-a").ChainIntact(), "receiving goes on from the summary")
	})

	t.Run("concurrent receipts of one deployment day store exactly one", func(t *testing.T) {
		st := open(t)
		const n = 8
		var wg sync.WaitGroup
		created := make(chan string, n)
		for i := range n {
			s := received(NewSnapshot(t, "dep-a", base.Add(time.Duration(i)*time.Minute), nil, 100))[0]
			wg.Go(func() {
				ok, err := st.ReceiveSnapshot(ctx, s)
				if err == nil && ok {
					created <- s.ID
				} else if telemetryd.ErrorCode(err) != telemetryd.ECONFLICT {
					t.Errorf("receiving %s: %v", s.ID, err)
				}
			})
		}
		wg.Wait()
		close(created)
		assert.Len(t, created, 1)
		assert.Equal(t, 1, deployment(t, st, "dep-a").SnapshotCount)
	})

	t.Run("a chain received concurrently in any order is summarized as a whole", func(t *testing.T) {
		st := open(t)
		chain := received(Chain(t, "dep-a", base, 12, 100)...)
		order := rand.Perm(len(chain))
		var wg sync.WaitGroup
		for _, i := range order {
			wg.Go(func() {
				if _, err := st.ReceiveSnapshot(ctx, chain[i]); err != nil {
					t.Errorf("receiving day %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		d := deployment(t, st, "dep-a")
		assert.Equal(t, 12, d.SnapshotCount)
		assert.True(t, d.ChainIntact(), "every link was checked against what was held")
		assert.Equal(t, 0, d.MissingDays())
	})
}

func deploymentIDs(deps []*telemetryd.Deployment) []string {
	out := make([]string, len(deps))
	for i, d := range deps {
		out[i] = d.ID
	}
	return out
}
