package embedded

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store/storetest"
)

func TestStats(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)

	t.Run("empty store reports every kind at zero", func(t *testing.T) {
		s := openTest(t, t.TempDir())

		stats, err := s.Stats(ctx)

		require.NoError(t, err)
		assert.Equal(t, "bbolt", stats.DatabaseType)
		assert.Equal(t, map[string]int64{
			"TelemetrySnapshot": 0, "Account": 0, "Role": 0, "Token": 0, "Setting": 0, "ActivityDay": 0, "TelemetryDeployment": 0,
		}, stats.NodesByLabel)
		assert.Zero(t, stats.Nodes)
		assert.Zero(t, stats.Relationships)
		assert.NotNil(t, stats.RelationshipsByType)
		assert.Empty(t, stats.RelationshipsByType)
		assert.Equal(t, 6, stats.Indexes, "snapshot id, deployment day, token hash, unsent, token lists, deployments by last seen")
		assert.Equal(t, 3, stats.Constraints, "snapshot id, deployment day, token hash")
	})

	t.Run("record kinds are counted and summed", func(t *testing.T) {
		s := openTest(t, t.TempDir())
		chain := storetest.Chain(t, "dep-a", base, 5, 10)
		for _, snap := range chain {
			require.NoError(t, s.CreateSnapshot(ctx, snap))
		}
		_, err := s.DeleteSnapshotsBefore(ctx, chain[2].CreatedAt)
		require.NoError(t, err)
		for _, key := range []string{"deployment_id", "jwt_secret"} {
			_, err := s.SetSettingIfAbsent(ctx, key, "v")
			require.NoError(t, err)
		}
		for i, hash := range []string{"h1", "h2", "h3", "h4"} {
			require.NoError(t, s.CreateToken(ctx, &telemetryd.Token{
				ID: hash, Kind: telemetryd.APIToken, AccountID: "a1", Hash: hash, CreatedAt: base.Add(time.Duration(i) * time.Second),
			}))
		}
		// Three days, with one, three and two counters: days, not counters.
		require.NoError(t, s.AddActivity(ctx, "2026-01-10", map[string]int64{"logins": 1}))
		require.NoError(t, s.AddActivity(ctx, "2026-01-11", map[string]int64{"logins": 1, "rest_requests": 2, "graphql_requests": 3}))
		require.NoError(t, s.AddActivity(ctx, "2026-01-13", map[string]int64{"a": 1, "z": 1}))

		stats, err := s.Stats(ctx)

		require.NoError(t, err)
		assert.Equal(t, map[string]int64{
			"TelemetrySnapshot": 3, "Account": 0, "Role": 0, "Token": 4, "Setting": 2, "ActivityDay": 3, "TelemetryDeployment": 0,
		}, stats.NodesByLabel)
		assert.Equal(t, int64(12), stats.Nodes)
	})
}
