// Package telemetry is the one service behind every API that reads or
// runs telemetry: GraphQL and REST call the same methods, so they cannot
// disagree on permissions, filters or results.
package telemetry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/activity"
	"github.com/telemetryd/telemetryd/auth"
)

// Snapshots is what the service reads from the store.
type Snapshots interface {
	Snapshot(ctx context.Context, id string) (*telemetryd.Snapshot, error)
	ListSnapshots(ctx context.Context, f telemetryd.Filter) ([]*telemetryd.Snapshot, int, error)
}

// Workflow collects, creates and sends snapshots.
type Workflow interface {
	Preview(ctx context.Context) (json.RawMessage, error)
	RunOnce(ctx context.Context) (*telemetryd.Snapshot, error)
	Send(ctx context.Context, id string) (*telemetryd.Snapshot, error)
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

	checksums checksumVerdicts
}

// Params names a transport's filter parameters, so errors name the one the
// caller typed.
type Params struct {
	StartDate, EndDate, Limit, Offset string
}

// The parameter names of each API.
var (
	RESTParams    = Params{StartDate: "start_date", EndDate: "end_date", Limit: "limit", Offset: "offset"}
	GraphQLParams = Params{StartDate: "startDate", EndDate: "endDate", Limit: "limit", Offset: "offset"}
)

// ListRequest is a listing as the caller asked for it. Empty dates are
// open bounds.
type ListRequest struct {
	StartDate string
	EndDate   string
	Limit     int
	Offset    int
}

// Filter reads the request into a store filter. EINVALID names the
// parameter that is wrong.
func (r ListRequest) Filter(names Params) (telemetryd.Filter, error) {
	f := telemetryd.Filter{Limit: r.Limit, Offset: r.Offset}
	var err error
	if f.Start, f.End, err = telemetryd.ParseRange(r.StartDate, r.EndDate); err != nil {
		return f, rangeError(err, names.StartDate, names.EndDate)
	}
	if f.Limit < 1 || f.Limit > telemetryd.MaxLimit {
		return f, telemetryd.Errorf(telemetryd.EINVALID, "%s must be an integer from 1 to %d", names.Limit, telemetryd.MaxLimit)
	}
	if f.Offset < 0 {
		return f, telemetryd.Errorf(telemetryd.EINVALID, "%s must be an integer of 0 or more", names.Offset)
	}
	return f, nil
}

// rangeError names the parameter of a telemetryd.RangeError.
func rangeError(err error, start, end string) error {
	var re *telemetryd.RangeError
	if !errors.As(err, &re) {
		return err
	}
	switch re.Bound {
	case telemetryd.StartBound:
		return telemetryd.Errorf(telemetryd.EINVALID, "%s: %v", start, re.Err)
	case telemetryd.EndBound:
		return telemetryd.Errorf(telemetryd.EINVALID, "%s: %v", end, re.Err)
	}
	return telemetryd.Errorf(telemetryd.EINVALID, "%s must not be after %s", start, end)
}

// List returns one page of snapshots, newest first, and how many match in
// all. It needs READ_TELEMETRY; EINVALID names a bad parameter.
func (s *Service) List(ctx context.Context, req ListRequest, names Params) ([]*telemetryd.Snapshot, int, error) {
	p, err := auth.Require(ctx, telemetryd.ReadTelemetry)
	if err != nil {
		return nil, 0, err
	}
	f, err := req.Filter(names)
	if err != nil {
		return nil, 0, err
	}
	page, count, err := s.Store.ListSnapshots(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("listing snapshots: %w", err)
	}
	s.Counter.Count(activity.TelemetryReads)
	s.Audit.Info("audit", "action", "telemetry.list", "actor", p.Username,
		"start_date", req.StartDate, "end_date", req.EndDate, "limit", f.Limit, "offset", f.Offset,
		"records", len(page), "count", count)
	return page, count, nil
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
	s.Counter.Count(activity.TelemetryReads)
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
