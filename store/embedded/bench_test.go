package embedded

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
)

// BenchmarkListPage measures one 50-record page and its count over
// 100,000 snapshots: 100 deployments, one a day for 1,000 days.
func BenchmarkListPage(b *testing.B) {
	ctx := context.Background()
	s := openTest(b, b.TempDir())
	from := time.Date(2024, 1, 1, 2, 0, 0, 0, time.UTC)
	seeded := time.Now()
	seedDays(b, s, 100, 1000, from)
	b.Logf("seeded 100,000 snapshots in %v", time.Since(seeded).Round(time.Millisecond))

	for _, bc := range []struct {
		name   string
		filter telemetryd.Filter
		count  int
	}{
		{"open range", telemetryd.Filter{Limit: 50}, 100_000},
		{"middle 200 days", telemetryd.Filter{Start: from.AddDate(0, 0, 400), End: from.AddDate(0, 0, 600).Add(-time.Microsecond), Limit: 50}, 20_000},
		{"middle 200 days offset 1000", telemetryd.Filter{Start: from.AddDate(0, 0, 400), End: from.AddDate(0, 0, 600).Add(-time.Microsecond), Limit: 50, Offset: 1000}, 20_000},
	} {
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
