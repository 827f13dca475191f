package telemetry

import (
	"context"
	"fmt"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
)

// Settings is how the server's telemetry is configured, as Status shows
// it.
type Settings struct {
	// RemoteEnabled says whether snapshots are sent: --telemetry-remote,
	// unless DoNotTrack turns it off.
	RemoteEnabled bool
	// DoNotTrack says whether DO_NOT_TRACK forces remote sending off.
	DoNotTrack bool
	// Endpoint is the receiver URL, redacted as in the logs.
	Endpoint string
	// Schedule is the UTC time of day of the daily run, "HH:MM", before
	// the deployment's jitter.
	Schedule string
	// DeploymentID is this deployment's id.
	DeploymentID string
	// StoreBackend is "neo4j" or "embedded".
	StoreBackend string
	// Retention is how long snapshots are kept; zero keeps them forever.
	Retention time.Duration
}

// Status is the state of telemetry at a glance.
type Status struct {
	Settings
	// NextRunAt is when the next scheduled run is due, jitter included.
	NextRunAt time.Time
	// Latest is this deployment's newest snapshot, or nil.
	Latest *telemetryd.Snapshot
	// CountsByStatus is how many snapshots the store holds of each
	// status, every status present, in the order of
	// telemetryd.SendStatuses.
	CountsByStatus []StatusCount
}

// StatusCount is how many snapshots have a remote send status.
type StatusCount struct {
	Status telemetryd.SendStatus
	Count  int
}

// Status reports how telemetry is configured, when it next runs, the
// latest snapshot and the counts by send status. It needs READ_TELEMETRY.
func (s *Service) Status(ctx context.Context) (*Status, error) {
	p, err := auth.Require(ctx, telemetryd.ReadTelemetry)
	if err != nil {
		return nil, err
	}
	st := &Status{Settings: s.Settings, NextRunAt: s.Workflow.NextRunAt()}
	st.Latest, err = s.Store.LatestSnapshot(ctx, s.Settings.DeploymentID)
	if telemetryd.ErrorCode(err) == telemetryd.ENOTFOUND {
		st.Latest, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the latest snapshot: %w", err)
	}
	counts, err := s.Store.CountSnapshotsByStatus(ctx)
	if err != nil {
		return nil, fmt.Errorf("counting snapshots by status: %w", err)
	}
	for _, status := range telemetryd.SendStatuses {
		st.CountsByStatus = append(st.CountsByStatus, StatusCount{Status: status, Count: counts[status]})
	}
	s.Audit.Info("audit", "action", "telemetry.status", "actor", p.Username)
	return st, nil
}
