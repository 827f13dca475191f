package neo4j_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/neo4j"
	"github.com/telemetryd/telemetryd/store/neo4j/neo4jtest"
	"github.com/telemetryd/telemetryd/store/storetest"
)

func TestStats(t *testing.T) {
	ctx := context.Background()
	s := neo4jtest.Open(t)
	// One of everything the store writes.
	for _, snap := range storetest.Chain(t, "dep-a", base, 4, 10) {
		require.NoError(t, s.CreateSnapshot(ctx, snap))
	}
	_, err := s.ReceiveSnapshot(ctx, storetest.NewSnapshot(t, "dep-fleet", base, nil, 10))
	require.NoError(t, err)
	require.NoError(t, s.UpdateAccess(ctx, func(a *store.Access) error {
		a.Accounts = append(a.Accounts, &telemetryd.Account{ID: "a1", Username: "admin", CreatedAt: base})
		a.Roles = append(a.Roles, &telemetryd.Role{Name: "super-admin"})
		return nil
	}))
	require.NoError(t, s.CreateToken(ctx, &telemetryd.Token{ID: "t1", Kind: telemetryd.APIToken, AccountID: "a1", Hash: "h1", CreatedAt: base}))
	_, err = s.SetSettingIfAbsent(ctx, "k", "v")
	require.NoError(t, err)
	require.NoError(t, s.AddActivity(ctx, "2026-01-10", map[string]int64{"logins": 1}))
	// Another application's data on a shared database: names with
	// backticks and spaces, a relationship and an unlabelled node.
	query(t, "CREATE (:`Odd``Label`)-[:`LINKS ``TO`]->(:`Odd``Label`), () RETURN 1 AS ok", "ok")

	stats, err := s.Stats(ctx)
	require.NoError(t, err)

	t.Run("counts the store's own labels, each of them", func(t *testing.T) {
		assert.Equal(t, map[string]int64{
			"TelemetrySnapshot": 5, "Account": 1, "Role": 1, "Token": 1, "Setting": 1, "ActivityDay": 1,
			"TelemetrydLock":      2, // the access and snapshots locks
			"TelemetryDeployment": 1,
		}, stats.NodesByLabel)
		// Every label in the database but the foreign one: the list of
		// own labels misses none the store writes.
		var own []string
		for _, label := range query(t, `CALL db.labels() YIELD label RETURN label`, "label") {
			if label != "Odd`Label" {
				own = append(own, label)
			}
		}
		assert.ElementsMatch(t, own, slices.Collect(maps.Keys(stats.NodesByLabel)))
	})

	t.Run("another application's names stay out but its data is counted", func(t *testing.T) {
		assert.NotContains(t, stats.NodesByLabel, "Odd`Label")
		assert.Equal(t, int64(5+1+1+1+1+1+2+1+3), stats.Nodes, "the store's 13 nodes, 2 odd nodes, 1 unlabelled")
		require.NotNil(t, stats.RelationshipsByType)
		assert.Empty(t, stats.RelationshipsByType)
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
		assert.GreaterOrEqual(t, stats.Indexes, stats.Constraints+5+2, "each constraint's index, the store's five range indexes and the two lookup indexes")
	})

	t.Run("every count reads the count store", func(t *testing.T) {
		type countCase struct{ query, want string }
		cases := []countCase{
			{neo4j.NodeCountQuery(""), "NodeCountFromCountStore"},
			{neo4j.RelationshipCountQuery, "RelationshipCountFromCountStore"},
		}
		for label := range stats.NodesByLabel {
			cases = append(cases, countCase{neo4j.NodeCountQuery(label), "NodeCountFromCountStore"})
		}
		require.Len(t, cases, 2+8)
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
