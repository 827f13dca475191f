package telemetryd

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of a listing.
const (
	DefaultLimit = 1000
	MaxLimit     = 10000
)

// Filter selects snapshots by creation time, deployment and remote send
// status. Both time bounds are inclusive; a zero bound is open. An empty
// DeploymentID or Statuses matches any. Listings are newest first
// (created_at, then id, descending). Each transport reads its own
// parameters into a Filter; the service checks only Limit and Offset.
type Filter struct {
	Start time.Time
	End   time.Time
	// DeploymentID keeps only that deployment's snapshots.
	DeploymentID string
	// Statuses keeps only snapshots whose remote send status is one of
	// them.
	Statuses []SendStatus
	Limit    int
	Offset   int
}

// Contains reports whether t lies within the filter's bounds.
func (f Filter) Contains(t time.Time) bool {
	return (f.Start.IsZero() || !t.Before(f.Start)) && (f.End.IsZero() || !t.After(f.End))
}

// Matches reports whether s passes every condition of the filter; Limit
// and Offset are not conditions.
func (f Filter) Matches(s *Snapshot) bool {
	return f.Contains(s.CreatedAt) &&
		(f.DeploymentID == "" || s.DeploymentID == f.DeploymentID) &&
		(len(f.Statuses) == 0 || slices.Contains(f.Statuses, s.RemoteSendStatus))
}

// OnlyTime reports whether the filter selects by creation time alone, so
// a store can answer it from its created_at order and counters.
func (f Filter) OnlyTime() bool { return f.DeploymentID == "" && len(f.Statuses) == 0 }

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
		if r.Equal(lastInstant) {
			// Rounding up would leave the years a timestamp can be
			// written in.
			return time.Time{}, fmt.Errorf("%s lies after %s, the last instant a snapshot can have", Echo(s), lastInstant.Format(TimeLayout))
		}
		return r.Add(time.Microsecond), nil
	}
	return t, nil
}

// lastInstant is the latest created_at a snapshot can have: timestamps
// are written with four-digit years, to the microsecond.
var lastInstant = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)

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
	t = t.Truncate(time.Microsecond)
	if t.IsZero() {
		// To a Filter the zero time is no bound at all. An end at that
		// very instant matches nothing, as one a microsecond before it
		// does: no snapshot can be created at either.
		t = t.Add(-time.Microsecond)
	}
	return t, nil
}

// maxEchoed bounds how much of a bad value an error repeats, so a huge
// value is not echoed back in full.
const maxEchoed = 64

func parseDate(s string) (t time.Time, bare bool, err error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true, nil
	}
	// RFC 3339 allows "t" and "z" in lower case; Go's layouts do not.
	// No other letter is valid, so upper-casing admits nothing else.
	upper := strings.ToUpper(s)
	for _, layout := range dateTimeLayouts {
		if t, err := time.Parse(layout, upper); err == nil {
			return t.UTC(), false, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("%s is not an ISO 8601 date (2006-01-02) or date-time (2006-01-02T15:04:05Z)", Echo(s))
}

// Echo quotes a caller's value for an error message, cut to its first 64
// bytes (on a rune boundary) when longer.
func Echo(s string) string {
	if len(s) <= maxEchoed {
		return fmt.Sprintf("%q", s)
	}
	cut := maxEchoed
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%q… (%d bytes)", s[:cut], len(s))
}

// The bound a RangeError is about.
const (
	StartBound = "start"
	EndBound   = "end"
	// BoundOrder means the start lies after the end.
	BoundOrder = "order"
)

// RangeError says which bound of a date range is wrong, so each entry
// point can name its own parameter.
type RangeError struct {
	Bound string
	Err   error
}

func (e *RangeError) Error() string { return e.Bound + ": " + e.Err.Error() }
func (e *RangeError) Unwrap() error { return e.Err }

// Named says what is wrong in terms of a transport's own parameter
// names, such as start_date and end_date, or --start-date and
// --end-date.
func (e *RangeError) Named(start, end string) string {
	switch e.Bound {
	case StartBound:
		return start + ": " + e.Err.Error()
	case EndBound:
		return end + ": " + e.Err.Error()
	}
	return start + " must not be after " + end
}

// ParseRange reads optional start and end bounds, as ParseStartDate and
// ParseEndDate do; an empty string leaves its bound open. Errors are
// *RangeError.
func ParseRange(start, end string) (from, to time.Time, err error) {
	if start != "" {
		if from, err = ParseStartDate(start); err != nil {
			return from, to, &RangeError{Bound: StartBound, Err: err}
		}
	}
	if end != "" {
		if to, err = ParseEndDate(end); err != nil {
			return from, to, &RangeError{Bound: EndBound, Err: err}
		}
	}
	if !from.IsZero() && !to.IsZero() && from.After(to) {
		return from, to, &RangeError{Bound: BoundOrder, Err: errors.New("the start lies after the end")}
	}
	return from, to, nil
}
