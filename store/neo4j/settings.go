package neo4j

import (
	"context"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// Settings are (:Setting {key, value}) nodes, unique by key.

// SetSettingIfAbsent stores value under key unless key already has a
// value, and returns the value stored. MERGE on the unique key makes
// concurrent first writers, on any replica, agree on one value.
func (s *Store) SetSettingIfAbsent(ctx context.Context, key, value string) (string, error) {
	return write(ctx, s, "setting "+key, func(tx driver.ManagedTransaction) (string, error) {
		res, err := tx.Run(ctx, `MERGE (s:Setting {key: $key}) ON CREATE SET s.value = $value RETURN s.value`,
			map[string]any{"key": key, "value": value})
		if err != nil {
			return "", err
		}
		rec, err := res.Single(ctx)
		if err != nil {
			return "", err
		}
		stored, _ := rec.Values[0].(string)
		return stored, nil
	})
}
