// Package telemetry is the one service behind every API that reads or
// runs telemetry: GraphQL and REST call the same methods, so they cannot
// disagree on permissions, filters or results.
package telemetry

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
)

// Snapshots is what the service reads from the store.
type Snapshots interface {
	Snapshot(ctx context.Context, id string) (*telemetryd.Snapshot, error)
	ListSnapshots(ctx context.Context, f telemetryd.Filter, fn func(count int, page []*telemetryd.Snapshot) error) error
	EachSnapshot(ctx context.Context, f telemetryd.Filter, fn func(*telemetryd.Snapshot) error) error
	LatestSnapshot(ctx context.Context, deploymentID string) (*telemetryd.Snapshot, error)
	CountSnapshotsByStatus(ctx context.Context) (map[telemetryd.SendStatus]int, error)
}

// Workflow collects, creates and sends snapshots.
type Workflow interface {
	Preview(ctx context.Context) (json.RawMessage, error)
	RunOnce(ctx context.Context) (*telemetryd.Snapshot, error)
	Send(ctx context.Context, id string) (*telemetryd.Snapshot, error)
	// NextRunAt is when the next scheduled run is due.
	NextRunAt() time.Time
}

// Counter counts activity for the daily telemetry.
type Counter interface {
	Count(name string)
}

// Service serves telemetry to callers allowed to read it. Every field is
// required.
type Service struct {
	// Store is where snapshots are read.
	Store Snapshots
	// Workflow makes, previews and sends snapshots.
	Workflow Workflow
	// Counter counts reads of telemetry for the daily telemetry.
	Counter Counter
	// Audit receives one line for every read of telemetry.
	Audit *slog.Logger
	// Settings is how telemetry is configured, for Status.
	Settings Settings

	checksums checksumVerdicts
}

// CheckLimits refuses a filter whose page is out of range: Limit from 1
// to telemetryd.MaxLimit, Offset 0 or more. Both APIs call these
// parameters limit and offset.
func CheckLimits(f telemetryd.Filter) error {
	if f.Limit < 1 || f.Limit > telemetryd.MaxLimit {
		return telemetryd.Errorf(telemetryd.EINVALID, "limit must be an integer from 1 to %d", telemetryd.MaxLimit)
	}
	if f.Offset < 0 {
		return telemetryd.Errorf(telemetryd.EINVALID, "offset must be an integer of 0 or more")
	}
	return nil
}

// List calls fn with how many snapshots match f in all and one page of
// them, newest first, lent as store.Snapshots.ListSnapshots lends it:
// valid until fn returns. It needs READ_TELEMETRY; EINVALID when f's
// limit or offset is out of range (see CheckLimits). Each transport reads
// its own parameters into f, naming them in its errors.
func (s *Service) List(ctx context.Context, f telemetryd.Filter, fn func(count int, page []*telemetryd.Snapshot) error) error {
	p, err := auth.Require(ctx, telemetryd.ReadTelemetry)
	if err != nil {
		return err
	}
	if err := CheckLimits(f); err != nil {
		return err
	}
	records, count := 0, 0
	err = s.Store.ListSnapshots(ctx, f, func(n int, page []*telemetryd.Snapshot) error {
		records, count = len(page), n
		return fn(n, page)
	})
	if err != nil {
		return fmt.Errorf("listing snapshots: %w", err)
	}
	s.Counter.Count(telemetryd.ActivityTelemetryReads)
	s.Audit.LogAttrs(ctx, slog.LevelInfo, "audit", append(filterAttrs("telemetry.list", p.Username, f),
		slog.Int("limit", f.Limit), slog.Int("offset", f.Offset), slog.Int("records", records), slog.Int("count", count))...)
	return nil
}

// filterAttrs are the audit attributes of a read over f, with room for
// the four a listing adds: typed attributes, so an audit line costs no
// boxing of each value.
func filterAttrs(action, actor string, f telemetryd.Filter) []slog.Attr {
	attrs := make([]slog.Attr, 0, 10)
	attrs = append(attrs, slog.String("action", action), slog.String("actor", actor))
	if !f.Start.IsZero() {
		attrs = append(attrs, slog.String("start", f.Start.Format(telemetryd.TimeLayout)))
	}
	if !f.End.IsZero() {
		attrs = append(attrs, slog.String("end", f.End.Format(telemetryd.TimeLayout)))
	}
	if f.DeploymentID != "" {
		attrs = append(attrs, slog.String("deployment_id", f.DeploymentID))
	}
	if len(f.Statuses) > 0 {
		attrs = append(attrs, slog.Any("statuses", f.Statuses))
	}
	return attrs
}

// Export calls fn for every snapshot matching f, newest first, in
// bounded memory; f's Limit and Offset are ignored. It needs
// READ_TELEMETRY. An error from fn stops the walk and is returned as is,
// so a client that went away ends the export.
func (s *Service) Export(ctx context.Context, f telemetryd.Filter, fn func(*telemetryd.Snapshot) error) error {
	p, err := auth.Require(ctx, telemetryd.ReadTelemetry)
	if err != nil {
		return err
	}
	n := 0
	err = s.Store.EachSnapshot(ctx, f, func(snap *telemetryd.Snapshot) error {
		n++
		return fn(snap)
	})
	s.Counter.Count(telemetryd.ActivityExports)
	s.Audit.LogAttrs(ctx, slog.LevelInfo, "audit", append(filterAttrs("telemetry.export", p.Username, f), slog.Int("records", n), slog.Bool("complete", err == nil))...)
	return err
}

// Integrity checks the checksums and chains of the snapshots matching f
// (Limit and Offset ignored), as the offline verify commands do, and
// returns the verifier with what it found. It needs READ_TELEMETRY.
func (s *Service) Integrity(ctx context.Context, f telemetryd.Filter) (*telemetryd.Verifier, error) {
	p, err := auth.Require(ctx, telemetryd.ReadTelemetry)
	if err != nil {
		return nil, err
	}
	v := telemetryd.NewVerifier()
	err = s.Store.EachSnapshot(ctx, f, func(snap *telemetryd.Snapshot) error {
		v.Add(snap)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verifying snapshots: %w", err)
	}
	s.Counter.Count(telemetryd.ActivityTelemetryReads)
	s.Audit.LogAttrs(ctx, slog.LevelInfo, "audit", append(filterAttrs("telemetry.integrity", p.Username, f), slog.Int("records", v.Count()), slog.Int("problems", len(v.Problems())))...)
	return v, nil
}

// Get returns one snapshot, or ENOTFOUND. It needs READ_TELEMETRY.
func (s *Service) Get(ctx context.Context, id string) (*telemetryd.Snapshot, error) {
	p, err := auth.Require(ctx, telemetryd.ReadTelemetry)
	if err != nil {
		return nil, err
	}
	snap, err := s.Store.Snapshot(ctx, id)
	if err != nil {
		return nil, err
	}
	s.Counter.Count(telemetryd.ActivityTelemetryReads)
	s.Audit.Info("audit", "action", "telemetry.get", "actor", p.Username, "id", id, "records", 1)
	return snap, nil
}

// Preview returns exactly the body the next remote send would POST,
// collected now. It needs READ_TELEMETRY.
func (s *Service) Preview(ctx context.Context) (json.RawMessage, error) {
	p, err := auth.Require(ctx, telemetryd.ReadTelemetry)
	if err != nil {
		return nil, err
	}
	body, err := s.Workflow.Preview(ctx)
	if err != nil {
		return nil, fmt.Errorf("collecting preview: %w", err)
	}
	s.Audit.Info("audit", "action", "telemetry.preview", "actor", p.Username)
	return body, nil
}

// Run returns today's snapshot, creating it when missing. It needs
// SUPER_ADMIN.
func (s *Service) Run(ctx context.Context) (*telemetryd.Snapshot, error) {
	p, err := auth.Require(ctx, telemetryd.SuperAdmin)
	if err != nil {
		return nil, err
	}
	snap, err := s.Workflow.RunOnce(ctx)
	if err != nil {
		return nil, fmt.Errorf("running telemetry workflow: %w", err)
	}
	s.Audit.Info("audit", "action", "telemetry.run", "actor", p.Username, "id", snap.ID)
	return snap, nil
}

// Send sends one snapshot to the remote endpoint now and records the
// outcome; ENOTFOUND for an unknown id. It needs SUPER_ADMIN.
func (s *Service) Send(ctx context.Context, id string) (*telemetryd.Snapshot, error) {
	p, err := auth.Require(ctx, telemetryd.SuperAdmin)
	if err != nil {
		return nil, err
	}
	snap, err := s.Workflow.Send(ctx, id)
	if err != nil {
		return nil, err
	}
	s.Audit.Info("audit", "action", "telemetry.send", "actor", p.Username, "id", id, "outcome", string(snap.RemoteSendStatus))
	return snap, nil
}
