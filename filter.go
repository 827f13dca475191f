package telemetryd

import (
	"fmt"
	"time"
)

// Limits of a listing.
const (
	DefaultLimit = 1000
	MaxLimit     = 10000
)

// Filter selects snapshots by creation time. Both bounds are inclusive; a
// zero bound is open. Listings are newest first (created_at, then id,
// descending).
type Filter struct {
	Start  time.Time
	End    time.Time
	Limit  int
	Offset int
}

// Contains reports whether t lies within the filter's bounds.
func (f Filter) Contains(t time.Time) bool {
	return (f.Start.IsZero() || !t.Before(f.Start)) && (f.End.IsZero() || !t.After(f.End))
}

// Date-time forms accepted besides a bare date. A date-time without an
// offset is read as UTC.
var dateTimeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999"}

// ParseStartDate reads an ISO 8601 date or date-time as an inclusive lower
// bound: a bare date means 00:00:00 UTC that day. Finer than microsecond
// precision rounds up, since stores keep microseconds.
func ParseStartDate(s string) (time.Time, error) {
	t, bare, err := parseDate(s)
	if err != nil || bare {
		return t, err
	}
	if r := t.Truncate(time.Microsecond); !r.Equal(t) {
		return r.Add(time.Microsecond), nil
	}
	return t, nil
}

// ParseEndDate reads an ISO 8601 date or date-time as an inclusive upper
// bound: a bare date includes that whole UTC day.
func ParseEndDate(s string) (time.Time, error) {
	t, bare, err := parseDate(s)
	if err != nil {
		return t, err
	}
	if bare {
		return t.AddDate(0, 0, 1).Add(-time.Microsecond), nil
	}
	return t.Truncate(time.Microsecond), nil
}

func parseDate(s string) (t time.Time, bare bool, err error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true, nil
	}
	for _, layout := range dateTimeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), false, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("%q is not an ISO 8601 date (2006-01-02) or date-time (2006-01-02T15:04:05Z)", s)
}
