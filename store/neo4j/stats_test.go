package neo4j_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd/store/neo4j"
	"github.com/telemetryd/telemetryd/store/neo4j/neo4jtest"
	"github.com/telemetryd/telemetryd/store/storetest"
)

func TestStats(t *testing.T) {
	ctx := context.Background()
	s := neo4jtest.Open(t)
	for _, snap := range storetest.Chain(t, "dep-a", base, 4, 10) {
		require.NoError(t, s.CreateSnapshot(ctx, snap))
	}
	// Names with backticks and spaces, a relationship and an unlabelled
	// node, none of which the store writes but a shared database may hold.
	query(t, "CREATE (:`Odd``Label`)-[:`LINKS ``TO`]->(:`Odd``Label`), () RETURN 1 AS ok", "ok")

	stats, err := s.Stats(ctx)
	require.NoError(t, err)

	t.Run("counts every label and type, whatever its name", func(t *testing.T) {
		assert.Equal(t, int64(4), stats.NodesByLabel["TelemetrySnapshot"])
		assert.Equal(t, int64(2), stats.NodesByLabel["Odd`Label"])
		assert.Equal(t, int64(7), stats.Nodes, "4 snapshots, 2 odd nodes, 1 unlabelled")
		assert.Equal(t, map[string]int64{"LINKS `TO": 1}, stats.RelationshipsByType)
		assert.Equal(t, int64(1), stats.Relationships)
	})

	t.Run("server is named by edition and version", func(t *testing.T) {
		assert.Contains(t, []string{"neo4j-community", "neo4j-enterprise"}, stats.DatabaseType)
		// The development server, built from jars without a manifest,
		// reports "dev"; a release reports "5.26.0" and the like.
		assert.Equal(t, query(t, `CALL dbms.components() YIELD name, versions
			WHERE name = 'Neo4j Kernel' RETURN versions[0] AS v`, "v"), []string{stats.ServerVersion})
		assert.NotEmpty(t, stats.ServerVersion)
	})

	t.Run("constraints and indexes are the database's, lookup indexes included", func(t *testing.T) {
		assert.Equal(t, query(t, `SHOW CONSTRAINTS YIELD name RETURN count(*) AS n`, "n"), []string{strconv.Itoa(stats.Constraints)})
		assert.Equal(t, query(t, `SHOW INDEXES YIELD name RETURN count(*) AS n`, "n"), []string{strconv.Itoa(stats.Indexes)})
		assert.GreaterOrEqual(t, stats.Constraints, 10, "the store's own uniqueness constraints")
		assert.GreaterOrEqual(t, stats.Indexes, stats.Constraints+4+2, "each constraint's index, the store's four range indexes and the two lookup indexes")
	})

	t.Run("every count reads the count store", func(t *testing.T) {
		type countCase struct{ query, want string }
		cases := []countCase{
			{neo4j.NodeCountQuery(""), "NodeCountFromCountStore"},
			{neo4j.RelationshipCountQuery(""), "RelationshipCountFromCountStore"},
		}
		for label := range stats.NodesByLabel {
			cases = append(cases, countCase{neo4j.NodeCountQuery(label), "NodeCountFromCountStore"})
		}
		for typ := range stats.RelationshipsByType {
			cases = append(cases, countCase{neo4j.RelationshipCountQuery(typ), "RelationshipCountFromCountStore"})
		}
		require.Len(t, cases, 2+len(stats.NodesByLabel)+len(stats.RelationshipsByType))
		for _, tc := range cases {
			steps, err := neo4j.Explain(ctx, s, tc.query, nil)
			require.NoError(t, err, tc.query)
			t.Logf("%s: %s", tc.query, fmt.Sprint(steps))
			var operators []string
			for _, step := range steps {
				op, _, _ := strings.Cut(step.Operator, "@")
				operators = append(operators, op)
			}
			// ProduceResults on top of the count store read, nothing else:
			// no scan, no expand, no aggregation over rows.
			assert.Equal(t, []string{"ProduceResults", tc.want}, operators, tc.query)
		}
	})
}
