// Package workflows runs the daily telemetry workflow: it collects the
// sections, seals and stores the snapshot, and sends it to the remote
// receiver when that is on.
package workflows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

// Backlog limits: each run re-sends at most BacklogLimit earlier
// snapshots that failed, or that stayed pending longer than StalePending
// (their run died between storing and recording the send).
const (
	BacklogLimit = 7
	StalePending = time.Hour
)

// recordTimeout bounds recording a send outcome, which runs even when the
// caller has gone away so the stored status tells the truth.
const recordTimeout = 10 * time.Second

// Store is what the workflow needs of the storage; store.Store
// satisfies it.
type Store interface {
	CreateSnapshot(ctx context.Context, s *telemetryd.Snapshot) error
	Snapshot(ctx context.Context, id string) (*telemetryd.Snapshot, error)
	LatestSnapshot(ctx context.Context, deploymentID string) (*telemetryd.Snapshot, error)
	UpdateSendStatus(ctx context.Context, id string, status telemetryd.SendStatus, at time.Time, reason string) (*telemetryd.Snapshot, error)
	UnsentSnapshots(ctx context.Context, deploymentID string, pendingBefore time.Time, limit int) ([]*telemetryd.Snapshot, error)
	DeleteSnapshotsBefore(ctx context.Context, t time.Time) (int, error)
}

// Every backend serves the workflow and its built-in sections.
var (
	_ Store       = store.Store(nil)
	_ TokenReader = store.Store(nil)
)

// Runner is the daily telemetry workflow of one deployment. Set the
// fields, then call Run in the background; RunOnce, Preview and Send
// serve the API. A Runner is safe for concurrent use, and several
// replicas may run one each on the same store: the store's one snapshot
// per deployment per day decides which of them writes.
type Runner struct {
	// Store keeps the snapshots. Required.
	Store Store
	// DeploymentID is store.DeploymentID of the store. Required.
	DeploymentID string
	// Version is written into every snapshot; empty means
	// telemetryd.Version.
	Version string
	// Sender sends snapshots; nil means remote sending is off.
	Sender *Sender
	// Sections make up each snapshot's data, in no particular order; their
	// names must differ.
	Sections []Section
	// SectionTimeout bounds each section; zero means
	// DefaultSectionTimeout.
	SectionTimeout time.Duration
	// Schedule is the UTC time of day of the daily run, as the time since
	// midnight; a per-deployment jitter of 0–59 minutes is added (see
	// Jitter).
	Schedule time.Duration
	// Retention deletes snapshots older than this after each day's
	// scheduled run (see Run); zero keeps them forever.
	Retention time.Duration
	// Metrics counts runs and sends; nil counts nothing.
	Metrics *Metrics
	// Logger receives the workflow's logs; nil discards them.
	Logger *slog.Logger

	// Now reads the clock; nil means time.Now.
	Now func() time.Time
	// After waits for d, as time.After does; nil means time.After. Tests
	// replace Now and After to drive the schedule without sleeping.
	After func(d time.Duration) <-chan time.Time
	// Backoff is the wait before retry number attempt (0 for the first
	// retry) of a scheduled run that failed; nil means DefaultBackoff.
	Backoff func(attempt int) time.Duration
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (r *Runner) version() string {
	if r.Version != "" {
		return r.Version
	}
	return telemetryd.Version
}

func (r *Runner) check() error {
	if r.Store == nil {
		return errors.New("telemetry workflow: no store")
	}
	if r.DeploymentID == "" {
		return errors.New("telemetry workflow: no deployment id")
	}
	return checkSections(r.Sections)
}

// RunOnce returns today's (UTC) snapshot, creating it when missing: it
// collects the sections, seals the snapshot chained to the deployment's
// latest, stores it as pending, sends it (or skips when remote sending is
// off) and records the outcome. When today's snapshot exists already,
// here or because another replica won the race, RunOnce returns that one
// and does nothing else.
//
// The clock is read once, at the start: that instant decides which UTC
// day the run is for and becomes the snapshot's created_at, so a run
// whose collection crosses midnight still makes the day it checked. When
// the deployment's latest snapshot is dated after that instant (replicas'
// clocks disagree, or the clock was set back), a new snapshot would be
// chained after a newer one and break verification, so RunOnce logs a
// warning and returns that latest snapshot without creating one.
//
// RunOnce neither re-sends the backlog nor prunes by retention: Run does
// both after each day's run, on its own context, so an API request's
// deadline never cuts them short.
//
// Only a failure to store or read today's snapshot is an error; a failed
// send is recorded on the snapshot and re-sent by a later day's backlog.
func (r *Runner) RunOnce(ctx context.Context) (*telemetryd.Snapshot, error) {
	snap, created, err := r.runOnce(ctx, r.now())
	switch {
	case err != nil:
		r.Metrics.countSnapshot(SnapshotFailed)
		return nil, err
	case created:
		r.Metrics.countSnapshot(SnapshotCreated)
	default:
		r.Metrics.countSnapshot(SnapshotExisting)
	}
	r.Metrics.snapshotAt(snap.CreatedAt)
	return snap, nil
}

func (r *Runner) runOnce(ctx context.Context, now time.Time) (snap *telemetryd.Snapshot, created bool, err error) {
	if err := r.check(); err != nil {
		return nil, false, err
	}
	previous, err := r.head(ctx)
	if err != nil {
		return nil, false, err
	}
	switch {
	case previous == nil:
	case telemetryd.Day(previous.CreatedAt) == telemetryd.Day(now):
		return previous, false, nil
	case previous.CreatedAt.After(now):
		r.logger().Warn("latest telemetry snapshot is dated after now; no snapshot made until the clock passes it",
			"id", previous.ID, "created_at", previous.CreatedAt, "now", now)
		return previous, false, nil
	}

	snap, err = r.seal(ctx, previous, now)
	if err != nil {
		return nil, false, err
	}
	if err := r.Store.CreateSnapshot(ctx, snap); err != nil {
		if telemetryd.ErrorCode(err) != telemetryd.ECONFLICT {
			return nil, false, fmt.Errorf("storing today's telemetry snapshot: %w", err)
		}
		// Another replica stored today's snapshot first.
		existing, lerr := r.head(ctx)
		if lerr != nil {
			return nil, false, lerr
		}
		if existing == nil || telemetryd.Day(existing.CreatedAt) != telemetryd.Day(snap.CreatedAt) {
			return nil, false, fmt.Errorf("storing today's telemetry snapshot: %w", err)
		}
		return existing, false, nil
	}
	r.logger().Info("telemetry snapshot stored", "id", snap.ID, "created_at", snap.CreatedAt)

	if updated, err := r.deliver(ctx, snap); err == nil {
		snap = updated
	}
	return snap, true, nil
}

// head returns the deployment's newest snapshot, the one a new snapshot
// chains to: nil while the deployment has none.
func (r *Runner) head(ctx context.Context) (*telemetryd.Snapshot, error) {
	snap, err := r.Store.LatestSnapshot(ctx, r.DeploymentID)
	switch {
	case telemetryd.ErrorCode(err) == telemetryd.ENOTFOUND:
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("reading the latest telemetry snapshot: %w", err)
	}
	return snap, nil
}

// seal collects the data and returns a sealed pending snapshot created at
// now and chained to previous (nil for the deployment's first).
func (r *Runner) seal(ctx context.Context, previous *telemetryd.Snapshot, now time.Time) (*telemetryd.Snapshot, error) {
	data, err := collect(ctx, r.Sections, now, r.SectionTimeout, func(name string, err error) {
		r.logger().Warn("telemetry section not collected", "section", name, "err", err)
	})
	if err != nil {
		return nil, err
	}
	snap := telemetryd.NewSnapshot(r.DeploymentID, r.version(), data, now, previous)
	if err := snap.Seal(); err != nil {
		return nil, fmt.Errorf("sealing telemetry snapshot: %w", err)
	}
	return snap, nil
}

// deliver sends snap and records the outcome, returning the snapshot as
// stored. The outcome is recorded even when the caller has gone away
// meanwhile, so the stored status tells what happened. When recording
// fails, snap stays pending in the store and the backlog of a later run
// sends it again; the receiver deduplicates by id.
func (r *Runner) deliver(ctx context.Context, snap *telemetryd.Snapshot) (*telemetryd.Snapshot, error) {
	out := r.Sender.Send(ctx, snap)
	r.Metrics.countSend(out.Status)
	log := r.logger().With("id", snap.ID, "status", out.Status)
	if out.Status == telemetryd.SendFailed {
		log.Warn("telemetry snapshot not sent", "reason", out.Reason)
	} else {
		log.Info("telemetry snapshot send recorded")
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	updated, err := r.Store.UpdateSendStatus(rctx, snap.ID, out.Status, r.now(), out.Reason)
	if err != nil {
		log.Error("recording telemetry send outcome", "err", err)
		return nil, fmt.Errorf("recording the send of snapshot %s: %w", snap.ID, err)
	}
	return updated, nil
}

// sendBacklog re-sends, oldest first, up to BacklogLimit earlier snapshots
// that failed or stayed pending too long, leaving today's (id) alone: the
// run that made it has sent it.
func (r *Runner) sendBacklog(ctx context.Context, today string) {
	// One more than the limit, since today's may be among them.
	snaps, err := r.Store.UnsentSnapshots(ctx, r.DeploymentID, r.now().Add(-StalePending), BacklogLimit+1)
	if err != nil {
		r.logger().Error("listing unsent telemetry snapshots", "err", err)
		return
	}
	sent := 0
	for _, s := range snaps {
		if s.ID == today || sent == BacklogLimit || ctx.Err() != nil {
			continue
		}
		_, _ = r.deliver(ctx, s) // logged; the next run retries
		sent++
	}
}

// prune deletes snapshots older than the retention period.
func (r *Runner) prune(ctx context.Context) {
	if r.Retention <= 0 {
		return
	}
	cutoff := r.now().Add(-r.Retention)
	n, err := r.Store.DeleteSnapshotsBefore(ctx, cutoff)
	if err != nil {
		r.logger().Error("deleting telemetry snapshots past retention", "err", err)
		return
	}
	if n > 0 {
		r.logger().Info("deleted telemetry snapshots past retention", "count", n, "before", cutoff)
	}
}

// Preview returns exactly the body the next remote send would POST,
// collected now: the record without its remote_send_* members. Its id,
// created_at and checksum are those of a snapshot sealed at this moment
// and chained to the deployment's latest, so each call returns a new id;
// the snapshot the next run stores differs in those and in what changed
// meanwhile. Nothing is stored or sent.
func (r *Runner) Preview(ctx context.Context) (json.RawMessage, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	previous, err := r.head(ctx)
	if err != nil {
		return nil, err
	}
	snap, err := r.seal(ctx, previous, r.now())
	if err != nil {
		return nil, err
	}
	return snap.RemoteBody(), nil
}

// Send re-sends the snapshot with id now, whatever its status, and
// returns it with the outcome recorded: sent, failed, or skipped when
// remote sending is off. ENOTFOUND when no snapshot has that id.
func (r *Runner) Send(ctx context.Context, id string) (*telemetryd.Snapshot, error) {
	if r.Store == nil {
		return nil, errors.New("telemetry workflow: no store")
	}
	snap, err := r.Store.Snapshot(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.deliver(ctx, snap)
}
