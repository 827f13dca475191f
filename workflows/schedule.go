package workflows

import (
	"context"
	"hash/fnv"
	"time"

	"github.com/telemetryd/telemetryd"
)

const day = 24 * time.Hour

// Jitter returns the deployment's delay after the scheduled time of day,
// 0 to 59 whole minutes. It derives from the deployment id, so it stays
// the same across restarts and replicas, while deployments spread their
// sends over an hour instead of reaching the receiver all at once.
func Jitter(deploymentID string) time.Duration {
	h := fnv.New32a()
	_, _ = h.Write([]byte(deploymentID))
	return time.Duration(h.Sum32()%60) * time.Minute
}

// dueOn returns when the run of t's UTC day is due. Schedule plus jitter
// past midnight wraps into the same day, so every UTC day has exactly one
// due time.
func (r *Runner) dueOn(t time.Time) time.Time {
	midnight := t.UTC().Truncate(day)
	offset := (r.Schedule + Jitter(r.DeploymentID)) % day
	if offset < 0 {
		offset += day
	}
	return midnight.Add(offset)
}

// NextRun returns the first due time after t: today's when it lies ahead,
// otherwise tomorrow's.
func (r *Runner) NextRun(t time.Time) time.Time {
	due := r.dueOn(t)
	if !t.Before(due) {
		due = r.dueOn(t.UTC().Truncate(day).Add(day))
	}
	return due
}

// NextRunAt returns when the next scheduled run is due, by the runner's
// clock.
func (r *Runner) NextRunAt() time.Time { return r.NextRun(r.now()) }

// DefaultBackoff waits 30s before the first retry, doubling up to 15
// minutes: a store outage of any length is retried often enough to make
// that day's snapshot soon after it ends, without hammering the store.
func DefaultBackoff(attempt int) time.Duration {
	d := 30 * time.Second
	for range attempt {
		d *= 2
		if d >= 15*time.Minute {
			return 15 * time.Minute
		}
	}
	return d
}

func (r *Runner) after(d time.Duration) <-chan time.Time {
	if r.After != nil {
		return r.After(d)
	}
	return time.After(d)
}

func (r *Runner) backoff(attempt int) time.Duration {
	if r.Backoff != nil {
		return r.Backoff(attempt)
	}
	return DefaultBackoff(attempt)
}

// Run runs the workflow daily at its due time (Schedule plus Jitter, UTC)
// until ctx ends, and returns ctx's error. At start it catches up: when
// today's due time has passed and today's snapshot is missing, it runs at
// once. A run that fails (the store is unreachable) is retried with
// Backoff until it succeeds or the UTC day ends. It returns at once with
// an error when the Runner is misconfigured.
//
// After each day's successful run, whether it made today's snapshot or
// found it made already (by the runTelemetryWorkflow mutation, an earlier
// start, or another replica), Run re-sends the backlog and then prunes by
// Retention, on ctx: RunOnce leaves both to Run because an API request's
// deadline would cut them short. Replicas each do so, so a backlog
// snapshot may reach the receiver more than once; it deduplicates by id.
func (r *Runner) Run(ctx context.Context) error {
	if err := r.check(); err != nil {
		return err
	}
	r.logger().Info("telemetry workflow scheduled", "next_run", r.NextRun(r.now()))
	done := "" // the UTC day whose run has finished, or was given up
	for {
		now := r.now()
		today := telemetryd.Day(now)
		if today != done && !now.Before(r.dueOn(now)) {
			r.runDay(ctx, today)
			done = today
			if ctx.Err() != nil {
				return ctx.Err()
			}
			continue // the day may have ended while retrying
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.after(r.NextRun(now).Sub(now)):
		}
	}
}

// runDay runs the workflow of today, retrying failures with backoff while
// the retry still falls on the same UTC day, then re-sends the backlog
// and prunes.
func (r *Runner) runDay(ctx context.Context, today string) {
	for attempt := 0; ; attempt++ {
		snap, err := r.RunOnce(ctx)
		if err == nil {
			r.sendBacklog(ctx, snap.ID)
			r.prune(ctx)
			return
		}
		if ctx.Err() != nil {
			return
		}
		wait := r.backoff(attempt)
		if telemetryd.Day(r.now().Add(wait)) != today {
			r.logger().Error("telemetry snapshot failed; giving up for today", "day", today, "err", err)
			return
		}
		r.logger().Warn("telemetry snapshot failed; retrying", "day", today, "retry_in", wait, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-r.after(wait):
		}
	}
}
