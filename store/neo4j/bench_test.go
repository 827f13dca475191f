package neo4j_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store/neo4j/neo4jtest"
)

// BenchmarkListPage measures one 50-record page and its count over
// 100,000 snapshots, the work behind every listing request.
func BenchmarkListPage(b *testing.B) {
	s := neo4jtest.Open(b)
	const n = 100_000
	seed(b, s, n, 200)
	ctx := context.Background()
	cases := []struct {
		name   string
		filter telemetryd.Filter
		count  int
	}{
		{"open range", telemetryd.Filter{Limit: 50}, n},
		{"middle 100 days", telemetryd.Filter{Start: base.AddDate(0, 0, 450), End: base.AddDate(0, 0, 550).Add(-1), Limit: 50, Offset: 50}, n / 10},
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				err := s.ListSnapshots(ctx, bc.filter, func(count int, page []*telemetryd.Snapshot) error {
					if count != bc.count || len(page) != 50 {
						return fmt.Errorf("count %d, page %d", count, len(page))
					}
					return nil
				})
				require.NoError(b, err)
			}
		})
	}
}
