package telemetryd_test

import (
	"errors"
	"testing"
	"time"

	"github.com/telemetryd/telemetryd"
)

// FuzzParseRange holds ParseRange to what every entry point relies on:
// it never panics; a refusal is a *RangeError naming its bound, with a
// short message whatever the input; an
// accepted bound is UTC at microsecond precision, reads back as itself,
// closes the range (a given end_date never leaves it open), and start
// never lies after end.
func FuzzParseRange(f *testing.F) {
	for _, seed := range [][2]string{
		{"", ""},
		{"2026-01-01", "2026-01-31"},
		{"2026-01-01T00:00:00Z", "2026-01-01T23:59:59.999999999+02:00"},
		{"2026-01-01T10:00:00.0000001Z", "2026-01-01T10:00:00.0000001Z"},
		{"2026-02-01", "2026-01-01"},
		{"2026-13-01", ""},
		{"", "2026-01-01T25:00:00Z"},
		{"2026-01-01T10:00:00", "2026-01-01t10:00:00z"},
		{"0001-01-01", "0001-01-01T00:00:00Z"},
		{"9999-12-31T23:59:59.999999999Z", "9999-12-31"},
		{"2026-01-01T00:00:00-23:59", "2026-01-01T00:00:00+23:59"},
		{"+002026-02-16", ""},
		{"2026-02-30", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, start, end string) {
		from, to, err := telemetryd.ParseRange(start, end)
		if err != nil {
			var re *telemetryd.RangeError
			if !errors.As(err, &re) {
				t.Fatalf("ParseRange(%q, %q): %T %v is no *RangeError", start, end, err, err)
			}
			switch re.Bound {
			case telemetryd.StartBound, telemetryd.EndBound, telemetryd.BoundOrder:
			default:
				t.Fatalf("ParseRange(%q, %q): unknown bound %q", start, end, re.Bound)
			}
			// A value is echoed cut to 64 bytes, at most 4 characters
			// each when escaped.
			if msg := re.Named("start_date", "end_date"); len(msg) >= 512 {
				t.Fatalf("ParseRange(%q, %q): a %d-byte message", start, end, len(msg))
			}
			return
		}
		for _, b := range []struct {
			name, text string
			t          time.Time
			parse      func(string) (time.Time, error)
		}{
			{"start", start, from, telemetryd.ParseStartDate},
			{"end", end, to, telemetryd.ParseEndDate},
		} {
			if b.text == "" {
				if !b.t.IsZero() {
					t.Fatalf("ParseRange(%q, %q): no %s given, yet it is %v", start, end, b.name, b.t)
				}
				continue
			}
			if b.t.Location() != time.UTC || !b.t.Equal(b.t.Truncate(time.Microsecond)) {
				t.Fatalf("ParseRange(%q, %q): %s %v is not UTC microseconds", start, end, b.name, b.t)
			}
			if again, err := b.parse(b.t.Format(time.RFC3339Nano)); err != nil || !again.Equal(b.t) {
				t.Fatalf("ParseRange(%q, %q): %s %v reads back as %v, %v", start, end, b.name, b.t, again, err)
			}
		}
		if end != "" && (telemetryd.Filter{End: to}).Contains(time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("ParseRange(%q, %q): the end %v leaves the range open", start, end, to)
		}
		if !from.IsZero() && !to.IsZero() && from.After(to) {
			t.Fatalf("ParseRange(%q, %q): start %v after end %v", start, end, from, to)
		}
	})
}
