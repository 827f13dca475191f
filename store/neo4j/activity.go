package neo4j

import (
	"context"
	"strings"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/telemetryd/telemetryd"
)

// Activity is one (:ActivityDay {day}) node per UTC day, each counter a
// property named counterPrefix + name, so a counter named "day" cannot
// clobber the key.
const counterPrefix = "count_"

// AddActivity adds deltas to the named counters of the UTC day
// (YYYY-MM-DD), atomically across concurrent callers and replicas.
func (s *Store) AddActivity(ctx context.Context, day string, deltas map[string]int64) error {
	if err := checkDay(day); err != nil {
		return err
	}
	if len(deltas) == 0 {
		return nil
	}
	_, err := write(ctx, s, "adding activity", func(tx driver.ManagedTransaction) (struct{}, error) {
		// Counter names are data, and Cypher cannot increment a property
		// whose name is a parameter, so the sums are computed here. Writing
		// the node first takes its write lock, so the read below sees the
		// latest committed counters and no concurrent increment is lost.
		res, err := tx.Run(ctx, `MERGE (d:ActivityDay {day: $day})
			SET d._lock = true REMOVE d._lock
			RETURN properties(d)`, map[string]any{"day": day})
		if err != nil {
			return struct{}{}, err
		}
		rec, err := res.Single(ctx)
		if err != nil {
			return struct{}{}, err
		}
		current, _ := rec.Values[0].(map[string]any)
		updated := make(map[string]any, len(deltas))
		for name, delta := range deltas {
			n, _ := current[counterPrefix+name].(int64)
			updated[counterPrefix+name] = n + delta
		}
		_, err = run(ctx, tx, `MATCH (d:ActivityDay {day: $day}) SET d += $counters`,
			map[string]any{"day": day, "counters": updated})
		return struct{}{}, err
	})
	return err
}

// ActivityOn returns the counters of the UTC day; counters never added
// are absent, and a day without activity gives an empty map.
func (s *Store) ActivityOn(ctx context.Context, day string) (map[string]int64, error) {
	if err := checkDay(day); err != nil {
		return nil, err
	}
	return read(ctx, s, "reading activity", func(tx driver.ManagedTransaction) (map[string]int64, error) {
		res, err := tx.Run(ctx, `MATCH (d:ActivityDay {day: $day}) RETURN properties(d)`, map[string]any{"day": day})
		if err != nil {
			return nil, err
		}
		counters := map[string]int64{}
		for res.Next(ctx) {
			m, _ := res.Record().Values[0].(map[string]any)
			for key, v := range m {
				if name, ok := strings.CutPrefix(key, counterPrefix); ok {
					n, _ := v.(int64)
					counters[name] = n
				}
			}
		}
		return counters, res.Err()
	})
}

func checkDay(day string) error {
	if _, err := time.Parse(time.DateOnly, day); err != nil {
		return telemetryd.Errorf(telemetryd.EINVALID, "day %q is not a date (YYYY-MM-DD)", day)
	}
	return nil
}
