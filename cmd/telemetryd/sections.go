package main

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/graph"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/workflows"
)

// sections are the built-in parts of each snapshot's data.
func sections(st store.Store, deploymentID string, started time.Time, remote bool, retention time.Duration, getenv func(string) string) []workflows.Section {
	stats := &recentStats{store: st}
	return []workflows.Section{
		&workflows.InstanceSection{DeploymentID: deploymentID, Version: telemetryd.Version, Started: started, Getenv: getenv},
		&workflows.StoreSection{Stats: func(ctx context.Context) (workflows.StoreStats, error) {
			s, err := stats.get(ctx)
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
			s, err := stats.get(ctx)
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

// recentStats measures the store once for the store and schema sections of
// one collection: both want the same figures, and on Neo4j each reading
// costs a round trip per label.
type recentStats struct {
	store store.Store

	mu    sync.Mutex
	at    time.Time
	stats *store.Stats
}

// statsReuse is how long one reading serves; a collection takes seconds.
const statsReuse = 30 * time.Second

func (r *recentStats) get(ctx context.Context) (*store.Stats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stats != nil && time.Since(r.at) < statsReuse {
		return r.stats, nil
	}
	s, err := r.store.Stats(ctx)
	if err != nil {
		return nil, err
	}
	r.stats, r.at = s, time.Now()
	return s, nil
}
