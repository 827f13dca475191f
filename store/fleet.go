package store

import (
	"context"

	"github.com/telemetryd/telemetryd"
)

// Fleet keeps the snapshots a receiver accepts from other deployments,
// beside ordinary ones, and a summary of each deployment they came from.
type Fleet interface {
	// ReceiveSnapshot stores a sealed snapshot another deployment sent and
	// updates that deployment's summary in the same transaction. created
	// is false when a snapshot with the same id and checksum is stored
	// already: nothing changes then. ECONFLICT when the id is stored with
	// another checksum, or the deployment has another snapshot on the same
	// UTC day; the store's constraints decide, so this holds across
	// replicas.
	ReceiveSnapshot(ctx context.Context, s *telemetryd.Snapshot) (created bool, err error)
	// Deployments returns one page of the summaries of deployments last
	// seen at or after f.SeenSince, newest LastSeen first (then id,
	// descending), and how many match in all. It reads summaries only. A
	// non-positive f.Limit means telemetryd.DefaultLimit.
	Deployments(ctx context.Context, f telemetryd.DeploymentFilter) ([]*telemetryd.Deployment, int, error)
	// SummarizeDeployments computes the summaries of the deployments named
	// afresh from all their stored snapshots, replacing what was kept; one
	// with no snapshot stored has none. It summarizes a fleet's snapshots
	// stored by other means, such as an import. (DeleteSnapshotsBefore
	// keeps the summaries of the deployments it prunes true by itself.)
	SummarizeDeployments(ctx context.Context, ids []string) error
}
