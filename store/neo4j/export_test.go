package neo4j

import (
	"context"
	"fmt"
	"reflect"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/telemetryd/telemetryd"
)

// Queries under test, for the plan tests of package neo4j_test.
var (
	ListStatement  = listStatement
	NodeCountQuery = nodeCountQuery
)

// PageStatement is the consistent read of f's page alone, planned as it is
// within ListStatement, and its parameters.
func PageStatement(f telemetryd.Filter) (string, map[string]any) {
	page, params := pageReading(f)
	return consistentStatement(page), params
}

// CountStatement is the consistent read of f's count alone, planned as it
// is within ListStatement, and its parameters.
func CountStatement(f telemetryd.Filter) (string, map[string]any) {
	count, params := countReading(f)
	return consistentStatement(count), params
}

// Fixed queries under test.
const (
	LatestQuery            = latestQuery
	UnsentQuery            = unsentQuery
	StatusCountQuery       = statusCountQuery
	RelationshipCountQuery = relationshipCountQuery
)

// PlanStep is one operator of a query plan, its details, such as the
// index it reads, and how many children (inputs) it has.
type PlanStep struct {
	Operator string
	Details  string
	Children int
}

func (p PlanStep) String() string { return p.Operator + " " + p.Details }

// Explain returns the steps of the plan Neo4j chooses for query, top down
// and each operator's children left to right (a join's left side, which
// runs first, before its right side).
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
	if summary.Plan() == nil {
		return nil, fmt.Errorf("no plan for %q", query)
	}
	// The driver (v5.28.4, built with pre-1.22 loop semantics) returns the
	// last child for every child from Plan.Children, so the walk reads
	// the plan the driver decoded, a db.Plan, by reflection instead.
	var steps []PlanStep
	var walk func(p reflect.Value)
	walk = func(p reflect.Value) {
		var details string
		if d := p.FieldByName("Arguments").MapIndex(reflect.ValueOf("Details")); d.IsValid() && d.Elem().Kind() == reflect.String {
			details = d.Elem().String()
		}
		children := p.FieldByName("Children")
		steps = append(steps, PlanStep{Operator: p.FieldByName("Operator").String(), Details: details, Children: children.Len()})
		for i := range children.Len() {
			walk(children.Index(i))
		}
	}
	walk(reflect.ValueOf(summary.Plan()).Elem().FieldByName("plan").Elem())
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
