package main

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/graph"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/workflows"
)

// sections are the built-in parts of each snapshot's data.
func sections(st store.Store, deploymentID string, started time.Time, remote bool, retention time.Duration, getenv func(string) string) []workflows.Section {
	return []workflows.Section{
		&workflows.InstanceSection{DeploymentID: deploymentID, Version: telemetryd.Version, Started: started, Getenv: getenv},
		&workflows.StoreSection{Stats: func(ctx context.Context) (workflows.StoreStats, error) {
			s, err := st.Stats(ctx)
			if err != nil {
				return workflows.StoreStats{}, err
			}
			return workflows.StoreStats{
				Backend: st.Backend(), DatabaseType: s.DatabaseType, ServerVersion: s.ServerVersion,
				Nodes: s.Nodes, Relationships: s.Relationships,
				NodesByLabel: s.NodesByLabel, RelationshipsByType: s.RelationshipsByType,
			}, nil
		}},
		&workflows.SchemaSection{Schema: func(ctx context.Context) (workflows.SchemaStats, error) {
			s, err := st.Stats(ctx)
			if err != nil {
				return workflows.SchemaStats{}, err
			}
			types, fields := graph.SchemaCounts()
			return workflows.SchemaStats{
				GraphQLTypes: types, GraphQLFields: fields,
				Labels:            sortedKeys(s.NodesByLabel),
				RelationshipTypes: sortedKeys(s.RelationshipsByType),
				Constraints:       s.Constraints, Indexes: s.Indexes,
			}, nil
		}},
		&workflows.AccountsSection{Access: st},
		&workflows.ActivitySection{Activity: st},
		&workflows.FeaturesSection{RemoteSending: remote, Retention: retention, Tokens: st},
		workflows.ProcessSection{},
	}
}

// sortedKeys names what a count map counts: [] when it counts nothing.
func sortedKeys(counts map[string]int64) []string {
	return append([]string{}, slices.Sorted(maps.Keys(counts))...)
}
