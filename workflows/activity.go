package workflows

import (
	"context"
	"time"

	"github.com/telemetryd/telemetryd"
)

// ActivityReader reads per-day counters; store.Store satisfies it.
type ActivityReader interface {
	ActivityOn(ctx context.Context, day string) (map[string]int64, error)
}

// ActivitySection is the "activity_24h" section: every counter of
// telemetryd.ActivityCounters over yesterday's UTC day, [00:00, 24:00), 0 when nothing
// was counted.
type ActivitySection struct {
	Activity ActivityReader
}

// Name returns "activity_24h".
func (*ActivitySection) Name() string { return "activity_24h" }

// Collect reads the counters of the UTC day before now's.
func (s *ActivitySection) Collect(ctx context.Context, now time.Time) (any, error) {
	yesterday := telemetryd.Day(now.UTC().AddDate(0, 0, -1))
	counts, err := s.Activity.ActivityOn(ctx, yesterday)
	if err != nil {
		return nil, err
	}
	// Only the known counters, so a stray one in the store cannot add a
	// field nobody documented.
	d := make(map[string]int64, len(telemetryd.ActivityCounters))
	for _, name := range telemetryd.ActivityCounters {
		d[name] = counts[name]
	}
	return d, nil
}
