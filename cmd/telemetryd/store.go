package main

import (
	"context"

	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/embedded"
	"github.com/telemetryd/telemetryd/store/neo4j"
)

// openStore opens Neo4j when a URI is configured, else the embedded store
// in the data directory.
func openStore(ctx context.Context, c storeConfig) (store.Store, error) {
	if c.Neo4jURI == "" {
		s, err := embedded.Open(c.DataDir)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	s, err := neo4j.Open(ctx, neo4j.Config{
		URI:      c.Neo4jURI,
		Username: c.Neo4jUsername,
		Password: c.Neo4jPassword,
		Database: c.Neo4jDatabase,
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}
