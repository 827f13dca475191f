package workflows_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/workflows"
)

// startRun runs r in the background until the test ends.
func startRun(t *testing.T, r *workflows.Runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			assert.ErrorIs(t, err, context.Canceled)
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
}

// at returns day1's date at the given UTC time of day.
func at(hour, minute int) time.Time {
	return time.Date(day1.Year(), day1.Month(), day1.Day(), hour, minute, 0, 0, time.UTC)
}

func TestRunIsDueAtScheduleAndJitter(t *testing.T) {
	jitter := workflows.Jitter(testDeployment)
	due := at(2, 0).Add(jitter)

	t.Run("catches up at start when due and today's snapshot is missing", func(t *testing.T) {
		st := openStore(t)
		clock := newClock(t, at(10, 0))
		startRun(t, newRunner(st, offSender(t), clock))

		w := clock.nextWait(t)
		got := snapshots(t, st)
		require.Len(t, got, 1)
		assert.Equal(t, at(10, 0), got[0].CreatedAt)
		assert.Equal(t, due.Add(24*time.Hour).Sub(at(10, 0)), w.d, "the next run is tomorrow's")
	})

	t.Run("waits when today's run is not yet due, then fires at schedule plus jitter", func(t *testing.T) {
		st := openStore(t)
		clock := newClock(t, at(0, 30))
		startRun(t, newRunner(st, offSender(t), clock))

		w := clock.nextWait(t)
		assert.Equal(t, due.Sub(at(0, 30)), w.d)
		assert.Empty(t, snapshots(t, st), "nothing runs before it is due")

		clock.elapse(w)
		w = clock.nextWait(t)
		got := snapshots(t, st)
		require.Len(t, got, 1)
		assert.Equal(t, due, got[0].CreatedAt)
		assert.Equal(t, 24*time.Hour, w.d)

		clock.elapse(w)
		clock.nextWait(t)
		assert.Len(t, snapshots(t, st), 2, "and again the next day")
	})

	t.Run("does not run again after a restart on the same day", func(t *testing.T) {
		st := openStore(t)
		first := storeSnapshot(t, st, due, telemetryd.SendSkipped)
		clock := newClock(t, at(23, 0))
		startRun(t, newRunner(st, offSender(t), clock))

		w := clock.nextWait(t)
		assert.Equal(t, due.Add(24*time.Hour).Sub(at(23, 0)), w.d)
		got := snapshots(t, st)
		require.Len(t, got, 1)
		assert.Equal(t, first.ID, got[0].ID)
	})
}

// flakyStore fails CreateSnapshot as an unreachable Neo4j would, the
// given number of times (or always when failures is negative).
type flakyStore struct {
	workflows.Store
	failures atomic.Int32
}

func (s *flakyStore) CreateSnapshot(ctx context.Context, snap *telemetryd.Snapshot) error {
	if s.failures.Load() != 0 {
		s.failures.Add(-1)
		return telemetryd.Errorf(telemetryd.EUNAVAILABLE, "store unavailable")
	}
	return s.Store.CreateSnapshot(ctx, snap)
}

func TestRunRetriesStoreFailures(t *testing.T) {
	backoff := func(attempt int) time.Duration { return time.Duration(attempt+1) * time.Minute }

	t.Run("retries with backoff until the snapshot is stored", func(t *testing.T) {
		st := openStore(t)
		flaky := &flakyStore{Store: st}
		flaky.failures.Store(2)
		clock := newClock(t, at(10, 0))
		r := newRunner(flaky, offSender(t), clock)
		r.Backoff = backoff
		startRun(t, r)

		for attempt := range 2 {
			w := clock.nextWait(t)
			assert.Equal(t, backoff(attempt), w.d, "retry %d", attempt)
			assert.Empty(t, snapshots(t, st))
			clock.elapse(w)
		}
		w := clock.nextWait(t)
		got := snapshots(t, st)
		require.Len(t, got, 1)
		assert.Equal(t, at(10, 3), got[0].CreatedAt)
		assert.Equal(t, r.NextRun(clock.Now()).Sub(clock.Now()), w.d, "then waits for tomorrow")
	})

	t.Run("gives up when the retry would fall on the next day", func(t *testing.T) {
		st := openStore(t)
		flaky := &flakyStore{Store: st}
		flaky.failures.Store(-1)
		clock := newClock(t, at(23, 50))
		r := newRunner(flaky, offSender(t), clock)
		r.Backoff = func(int) time.Duration { return 30 * time.Minute }
		startRun(t, r)

		w := clock.nextWait(t)
		assert.Equal(t, r.NextRun(at(23, 50)).Sub(at(23, 50)), w.d, "waits for tomorrow's run instead")
		assert.Empty(t, snapshots(t, st))
	})
}

func TestJitterIsStablePerDeploymentAndUnderAnHour(t *testing.T) {
	seen := map[time.Duration]bool{}
	for i := range 200 {
		id := fmt.Sprintf("deployment-%d", i)
		j := workflows.Jitter(id)
		require.Equal(t, j, workflows.Jitter(id), "the same id gives the same jitter")
		require.GreaterOrEqual(t, j, time.Duration(0))
		require.Less(t, j, time.Hour)
		require.Zero(t, j%time.Minute, "whole minutes")
		seen[j] = true
	}
	assert.Greater(t, len(seen), 30, "deployments spread over the hour")
}

func TestNextRunWrapsPastMidnight(t *testing.T) {
	r := &workflows.Runner{DeploymentID: testDeployment, Schedule: 23*time.Hour + 59*time.Minute}
	offset := (r.Schedule + workflows.Jitter(testDeployment)) % (24 * time.Hour)
	require.Less(t, offset, r.Schedule, "the test deployment's jitter wraps past midnight")
	midnight := at(0, 0)
	tests := []struct {
		name string
		now  time.Time
		want time.Time
	}{
		{name: "before today's run it is today's", now: midnight.Add(offset - time.Minute), want: midnight.Add(offset)},
		{name: "at today's run it is tomorrow's", now: midnight.Add(offset), want: midnight.Add(24*time.Hour + offset)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, r.NextRun(tt.now))
		})
	}
}

func TestDefaultBackoffGrowsToFifteenMinutes(t *testing.T) {
	assert.Equal(t, 30*time.Second, workflows.DefaultBackoff(0))
	assert.Equal(t, time.Minute, workflows.DefaultBackoff(1))
	assert.Equal(t, 15*time.Minute, workflows.DefaultBackoff(10))
	assert.Equal(t, 15*time.Minute, workflows.DefaultBackoff(1000))
}
