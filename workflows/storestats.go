package workflows

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/telemetryd/telemetryd/store"
)

// StatsReader measures a store; store.Store is one.
type StatsReader interface {
	// Backend is "neo4j" or "embedded".
	Backend() string
	Stats(ctx context.Context) (*store.Stats, error)
}

// StoreSections returns the "store" and "schema" sections of st. Both
// want the same reading, and on Neo4j each reading costs a round trip per
// label, so one reading serves both sections of a collection. graphQL
// counts the GraphQL schema's types and fields.
func StoreSections(st StatsReader, graphQL func() (types, fields int)) []Section {
	r := &statsReading{store: st}
	return []Section{storeSection{r}, schemaSection{r, graphQL}}
}

// statsReading keeps the store's reading of the latest collection: the
// runner hands every section of one collection the same time.
type statsReading struct {
	store StatsReader

	mu    sync.Mutex
	at    time.Time
	stats *store.Stats
}

func (r *statsReading) get(ctx context.Context, now time.Time) (*store.Stats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stats != nil && r.at.Equal(now) {
		return r.stats, nil
	}
	s, err := r.store.Stats(ctx)
	if err != nil {
		return nil, err
	}
	r.stats, r.at = s, now
	return s, nil
}

// storeSection is the "store" section: what the backend holds, by kind
// and count.
type storeSection struct{ reading *statsReading }

func (storeSection) Name() string { return "store" }

type storeData struct {
	Backend             string           `json:"backend"`
	DatabaseType        string           `json:"database_type"`
	ServerVersion       *string          `json:"server_version"`
	Nodes               int64            `json:"nodes"`
	Relationships       int64            `json:"relationships"`
	NodesByLabel        map[string]int64 `json:"nodes_by_label"`
	RelationshipsByType map[string]int64 `json:"relationships_by_type"`
}

func (s storeSection) Collect(ctx context.Context, now time.Time) (any, error) {
	st, err := s.reading.get(ctx, now)
	if err != nil {
		return nil, err
	}
	return storeData{
		Backend:             s.reading.store.Backend(),
		DatabaseType:        st.DatabaseType,
		ServerVersion:       nullable(st.ServerVersion),
		Nodes:               st.Nodes,
		Relationships:       st.Relationships,
		NodesByLabel:        orEmpty(st.NodesByLabel),
		RelationshipsByType: orEmpty(st.RelationshipsByType),
	}, nil
}

// schemaSection is the "schema" section: what the server serves and what
// the database holds, by name and count, never by content.
type schemaSection struct {
	reading *statsReading
	graphQL func() (types, fields int)
}

func (schemaSection) Name() string { return "schema" }

type schemaData struct {
	GraphQLTypes      int      `json:"graphql_types"`
	GraphQLFields     int      `json:"graphql_fields"`
	Labels            []string `json:"labels"`
	RelationshipTypes []string `json:"relationship_types"`
	Constraints       int      `json:"constraints"`
	Indexes           int      `json:"indexes"`
}

func (s schemaSection) Collect(ctx context.Context, now time.Time) (any, error) {
	st, err := s.reading.get(ctx, now)
	if err != nil {
		return nil, err
	}
	types, fields := s.graphQL()
	return schemaData{
		GraphQLTypes:      types,
		GraphQLFields:     fields,
		Labels:            sortedKeys(st.NodesByLabel),
		RelationshipTypes: sortedKeys(st.RelationshipsByType),
		Constraints:       st.Constraints,
		Indexes:           st.Indexes,
	}, nil
}

// nullable gives null for an empty string.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// orEmpty gives an empty object, never null, for a nil map.
func orEmpty(m map[string]int64) map[string]int64 {
	if m == nil {
		return map[string]int64{}
	}
	return m
}

// sortedKeys lists m's keys in order: an empty list, never null, for none.
func sortedKeys(m map[string]int64) []string {
	keys := slices.AppendSeq([]string{}, maps.Keys(m))
	slices.Sort(keys)
	return keys
}
