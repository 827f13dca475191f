package neo4j

import (
	"context"
	"fmt"
	"strings"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/telemetryd/telemetryd/store"
)

// ownLabels is every label the store writes. Stats breaks the node count
// down by these only: on a Neo4j shared with other applications, their
// labels are their names, possibly free text, and stay out of the
// telemetry. The store writes no relationships.
var ownLabels = []string{"TelemetrySnapshot", "Account", "Role", "Token", "Setting", "ActivityDay", "TelemetrydLock", "TelemetryDeployment"}

// Stats reads, in one read transaction, the server's edition and version,
// the database's node and relationship counts, the node count of each of
// telemetryd's own labels, and how many constraints and indexes the
// database has. Every count comes from Neo4j's count store, so Stats takes
// the same time on an empty database as on one with millions of
// snapshots: twelve round trips. Nodes and Relationships count the whole
// database, other applications' data included; RelationshipsByType is
// empty, since the store writes no relationships.
//
// ServerVersion is the kernel's first version, as dbms.components()
// reports it; a development build of Neo4j reports "dev". Indexes counts
// every row of SHOW INDEXES, which includes the two token LOOKUP indexes
// Neo4j creates itself and the index behind each uniqueness constraint.
// EUNAVAILABLE when Neo4j cannot be reached or the store is closed.
func (s *Store) Stats(ctx context.Context) (*store.Stats, error) {
	return read(ctx, s, "reading neo4j stats", func(tx driver.ManagedTransaction) (*store.Stats, error) {
		st := &store.Stats{NodesByLabel: map[string]int64{}, RelationshipsByType: map[string]int64{}}
		if err := readServer(ctx, tx, st); err != nil {
			return nil, err
		}
		var err error
		if st.Nodes, err = readCount(ctx, tx, nodeCountQuery(""), nil); err != nil {
			return nil, err
		}
		if st.Relationships, err = readCount(ctx, tx, relationshipCountQuery, nil); err != nil {
			return nil, err
		}
		for _, label := range ownLabels {
			if st.NodesByLabel[label], err = readCount(ctx, tx, nodeCountQuery(label), nil); err != nil {
				return nil, err
			}
		}
		constraints, err := readCount(ctx, tx, `SHOW CONSTRAINTS YIELD name RETURN count(name)`, nil)
		if err != nil {
			return nil, err
		}
		indexes, err := readCount(ctx, tx, `SHOW INDEXES YIELD name RETURN count(name)`, nil)
		if err != nil {
			return nil, err
		}
		st.Constraints, st.Indexes = int(constraints), int(indexes)
		return st, nil
	})
}

// readServer sets the database type, from the kernel's edition, and the
// server version.
func readServer(ctx context.Context, tx driver.ManagedTransaction, st *store.Stats) error {
	res, err := tx.Run(ctx, `CALL dbms.components() YIELD name, versions, edition
		WHERE name = 'Neo4j Kernel' RETURN versions, edition`, nil)
	if err != nil {
		return err
	}
	rec, err := res.Single(ctx)
	if err != nil {
		return fmt.Errorf("reading the neo4j kernel component: %w", err)
	}
	versions, _ := rec.Values[0].([]any)
	edition, _ := rec.Values[1].(string)
	st.DatabaseType = "neo4j-" + strings.ToLower(edition)
	if len(versions) > 0 {
		st.ServerVersion, _ = versions[0].(string)
	}
	return nil
}

// nodeCountQuery counts the nodes with label, one of ownLabels, or every
// node when label is empty. Without a WHERE clause or a second label Neo4j
// plans it as NodeCountFromCountStore.
func nodeCountQuery(label string) string {
	if label == "" {
		return `MATCH (n) RETURN count(n)`
	}
	return `MATCH (n:` + label + `) RETURN count(n)`
}

// relationshipCountQuery counts every relationship; Neo4j plans it as
// RelationshipCountFromCountStore.
const relationshipCountQuery = `MATCH ()-[r]->() RETURN count(r)`

// readCount runs a query returning one integer.
func readCount(ctx context.Context, tx driver.ManagedTransaction, query string, params map[string]any) (int64, error) {
	res, err := tx.Run(ctx, query, params)
	if err != nil {
		return 0, err
	}
	rec, err := res.Single(ctx)
	if err != nil {
		return 0, err
	}
	n, ok := rec.Values[0].(int64)
	if !ok {
		return 0, fmt.Errorf("%s returned %T, not an integer", query, rec.Values[0])
	}
	return n, nil
}
