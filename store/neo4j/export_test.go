package neo4j

import (
	"context"
	"fmt"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/telemetryd/telemetryd"
)

// Queries under test, for the plan tests of package neo4j_test.
var (
	ListQuery      = listQuery
	CountQuery     = countQuery
	NodeCountQuery = nodeCountQuery
)

// Fixed queries under test.
const (
	LatestQuery            = latestQuery
	UnsentQuery            = unsentQuery
	StatusCountQuery       = statusCountQuery
	RelationshipCountQuery = relationshipCountQuery
)

// PlanStep is one operator of a query plan and its details, such as the
// index it reads.
type PlanStep struct {
	Operator string
	Details  string
}

func (p PlanStep) String() string { return p.Operator + " " + p.Details }

// Explain returns the steps of the plan Neo4j chooses for query, top down.
// The driver (v5.28.4, built with pre-1.22 loop semantics) reports every
// child of a multi-child operator such as Union as its last child, so
// only single-child paths are faithful.
func Explain(ctx context.Context, s *Store, query string, params map[string]any) ([]PlanStep, error) {
	sess := s.session(ctx, driver.AccessModeRead)
	defer release(ctx, sess.Close)
	res, err := sess.Run(ctx, "EXPLAIN "+query, params)
	if err != nil {
		return nil, err
	}
	summary, err := res.Consume(ctx)
	if err != nil {
		return nil, err
	}
	var steps []PlanStep
	var walk func(p driver.Plan)
	walk = func(p driver.Plan) {
		details, _ := p.Arguments()["Details"].(string)
		steps = append(steps, PlanStep{Operator: p.Operator(), Details: details})
		for _, c := range p.Children() {
			walk(c)
		}
	}
	if summary.Plan() == nil {
		return nil, fmt.Errorf("no plan for %q", query)
	}
	walk(summary.Plan())
	return steps, nil
}

// SeedSnapshots stores snaps the way ImportSnapshots writes them, without
// its checks, for benchmarks that need many records quickly.
func SeedSnapshots(ctx context.Context, s *Store, snaps []*telemetryd.Snapshot) error {
	rows := make([]map[string]any, len(snaps))
	for i, snap := range snaps {
		rows[i] = snapshotProps(snap)
	}
	_, err := write(ctx, s, "seeding snapshots", func(tx driver.ManagedTransaction) (struct{}, error) {
		_, err := run(ctx, tx, `UNWIND $rows AS row CREATE (s:TelemetrySnapshot) SET s = row`, map[string]any{"rows": rows})
		return struct{}{}, err
	})
	return err
}
