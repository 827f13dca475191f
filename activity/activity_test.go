package activity_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/activity"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/embedded"
)

// flaky is the real embedded store, failing AddActivity while down.
type flaky struct {
	store.Activity
	down bool
}

func (f *flaky) AddActivity(ctx context.Context, day string, deltas map[string]int64) error {
	if f.down {
		return errors.New("store unreachable")
	}
	return f.Activity.AddActivity(ctx, day, deltas)
}

func open(t *testing.T) *embedded.Store {
	t.Helper()
	st, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

func TestCountsReachTheStoreByDay(t *testing.T) {
	ctx := context.Background()
	st := open(t)
	now := time.Date(2026, 3, 1, 23, 59, 59, 0, time.UTC)
	r := activity.New(st, func() time.Time { return now })
	r.Count(telemetryd.ActivityLogins)
	r.Count(telemetryd.ActivityLogins)
	now = now.Add(2 * time.Second) // past midnight: the next day's count
	r.Count(telemetryd.ActivityLogins)
	require.NoError(t, r.Flush(ctx))

	first, err := st.ActivityOn(ctx, "2026-03-01")
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{telemetryd.ActivityLogins: 2}, first)
	second, err := st.ActivityOn(ctx, "2026-03-02")
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{telemetryd.ActivityLogins: 1}, second)
}

func TestCountsSurviveAFailedFlush(t *testing.T) {
	ctx := context.Background()
	st := open(t)
	f := &flaky{Activity: st, down: true}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := activity.New(f, func() time.Time { return now })
	r.Count(telemetryd.ActivityRESTRequests)
	require.Error(t, r.Flush(ctx))
	r.Count(telemetryd.ActivityRESTRequests)

	f.down = false
	require.NoError(t, r.Flush(ctx))
	got, err := st.ActivityOn(ctx, "2026-03-01")
	require.NoError(t, err)
	assert.Equal(t, int64(2), got[telemetryd.ActivityRESTRequests], "a count from before the failure was lost")
}

func TestRunFlushesOnceMoreWhenStopped(t *testing.T) {
	st := open(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	r := activity.New(st, func() time.Time { return now })
	r.Count(telemetryd.ActivityTelemetryReads)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		r.Run(ctx, time.Hour, func(err error) { t.Error(err) })
		close(done)
	}()
	cancel()
	<-done
	got, err := st.ActivityOn(context.Background(), "2026-03-01")
	require.NoError(t, err)
	assert.Equal(t, int64(1), got[telemetryd.ActivityTelemetryReads])
}
