package telemetryd_test

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
)

func TestDateBounds(t *testing.T) {
	utc := func(s string) time.Time {
		t.Helper()
		v, err := time.Parse(time.RFC3339Nano, s)
		require.NoError(t, err)
		return v
	}
	cases := []struct {
		name       string
		in         string
		start, end time.Time
	}{
		{"bare date starts at midnight and ends with its day", "2026-02-16",
			utc("2026-02-16T00:00:00Z"), utc("2026-02-16T23:59:59.999999Z")},
		{"offset is normalised to UTC", "2026-02-16T01:30:00+02:00",
			utc("2026-02-15T23:30:00Z"), utc("2026-02-15T23:30:00Z")},
		{"no offset reads as UTC", "2026-02-16T08:00:00",
			utc("2026-02-16T08:00:00Z"), utc("2026-02-16T08:00:00Z")},
		{"nanoseconds round inward to microseconds", "2026-02-16T08:00:00.0000005Z",
			utc("2026-02-16T08:00:00.000001Z"), utc("2026-02-16T08:00:00Z")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start, err := telemetryd.ParseStartDate(tc.in)
			require.NoError(t, err)
			end, err := telemetryd.ParseEndDate(tc.in)
			require.NoError(t, err)
			assert.True(t, tc.start.Equal(start), "start %s", start)
			assert.True(t, tc.end.Equal(end), "end %s", end)
			assert.Equal(t, time.UTC, start.Location())
		})
	}
}

func TestDateBoundsRejectNonsense(t *testing.T) {
	for _, in := range []string{"", "yesterday", "2026-02-30", "16/02/2026", "2026-02-16T25:00:00Z", "1771200000"} {
		t.Run(in, func(t *testing.T) {
			_, err := telemetryd.ParseStartDate(in)
			assert.ErrorContains(t, err, "ISO 8601")
			_, err = telemetryd.ParseEndDate(in)
			assert.Error(t, err)
		})
	}
}

func TestParseRangeSaysWhichBoundIsWrong(t *testing.T) {
	cases := []struct {
		start, end, bound string
	}{
		{"soon", "", telemetryd.StartBound},
		{"", "2026-02-30", telemetryd.EndBound},
		{"2026-02-02", "2026-02-01", telemetryd.BoundOrder},
	}
	for _, tc := range cases {
		t.Run(tc.bound, func(t *testing.T) {
			_, _, err := telemetryd.ParseRange(tc.start, tc.end)
			var re *telemetryd.RangeError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, tc.bound, re.Bound)
		})
	}
	from, to, err := telemetryd.ParseRange("", "")
	require.NoError(t, err)
	assert.True(t, from.IsZero() && to.IsZero(), "empty bounds stay open")
}

// Found by FuzzParseRange: an end_date at the zero instant turned into
// the zero time, which a Filter reads as no bound, so it listed every
// snapshot instead of none.
func TestAnEndAtTheZeroInstantMatchesNothing(t *testing.T) {
	_, to, err := telemetryd.ParseRange("", "0001-01-01T00:00:00Z")
	require.NoError(t, err)
	assert.False(t, telemetryd.Filter{End: to}.Contains(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)))
}

func TestAStartBeyondTheLastInstantIsRefused(t *testing.T) {
	// Rounding a start up to the microsecond once led into year 10000,
	// which no timestamp can be written in (found by FuzzParseRange).
	_, _, err := telemetryd.ParseRange("9999-12-31T23:59:59.9999999", "")
	var re *telemetryd.RangeError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, telemetryd.StartBound, re.Bound)
	assert.Contains(t, re.Named("start_date", "end_date"), "the last instant a snapshot can have")

	last, err := telemetryd.ParseStartDate("9999-12-31T23:59:59.999999Z")
	require.NoError(t, err)
	assert.Equal(t, time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC), last)
}

func TestLowerCaseTAndZAreRFC3339(t *testing.T) {
	want := time.Date(2026, 2, 16, 8, 0, 0, 0, time.UTC)
	for _, in := range []string{"2026-02-16t08:00:00z", "2026-02-16T08:00:00z", "2026-02-16t09:00:00+01:00"} {
		got, err := telemetryd.ParseStartDate(in)
		require.NoError(t, err, in)
		assert.True(t, want.Equal(got), "%s read as %s", in, got)
	}
}

func TestBadValuesAreEchoedCut(t *testing.T) {
	_, err := telemetryd.ParseStartDate(strings.Repeat("é", 10000))
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 200)
	assert.Contains(t, err.Error(), "(20000 bytes)")
	assert.True(t, utf8.ValidString(err.Error()), "cut on a rune boundary")
}
