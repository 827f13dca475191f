// Package activity counts what happens on a deployment per UTC day, such
// as logins and requests, for the daily telemetry. Counts gather in memory
// and reach the store every minute, so a restart loses at most a minute.
package activity

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

// Recorder counts events. The zero value is not usable; call New.
type Recorder struct {
	store store.Activity
	now   func() time.Time

	mu      sync.Mutex
	pending map[string]map[string]int64 // day → counter → delta
}

// New returns a Recorder adding to st, reading the time from now.
func New(st store.Activity, now func() time.Time) *Recorder {
	return &Recorder{store: st, now: now, pending: make(map[string]map[string]int64)}
}

// Count adds one to the named counter of today.
func (r *Recorder) Count(name string) {
	day := telemetryd.Day(r.now())
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.pending[day] == nil {
		r.pending[day] = make(map[string]int64)
	}
	r.pending[day][name]++
}

// Flush adds the counts gathered so far to the store. Counts it could not
// store stay pending for the next Flush.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	pending := r.pending
	r.pending = make(map[string]map[string]int64)
	r.mu.Unlock()

	for day, deltas := range pending {
		if err := r.store.AddActivity(ctx, day, deltas); err != nil {
			r.restore(pending)
			return fmt.Errorf("storing activity of %s: %w", day, err)
		}
		delete(pending, day)
	}
	return nil
}

// restore puts counts that were not stored back in front of those counted
// since.
func (r *Recorder) restore(unstored map[string]map[string]int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for day, deltas := range unstored {
		if r.pending[day] == nil {
			r.pending[day] = maps.Clone(deltas)
			continue
		}
		for name, n := range deltas {
			r.pending[day][name] += n
		}
	}
}

// Run flushes every interval until ctx ends, then flushes once more with
// a short deadline of its own.
func (r *Recorder) Run(ctx context.Context, interval time.Duration, onError func(error)) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ticker.C:
			if err := r.Flush(ctx); err != nil {
				onError(err)
			}
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			if err := r.Flush(final); err != nil {
				onError(err)
			}
			cancel()
			return
		}
	}
}
