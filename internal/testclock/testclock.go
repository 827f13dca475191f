// Package testclock is a clock that tests set and move by hand, to inject
// where code reads the time through a func() time.Time.
package testclock

import (
	"sync"
	"time"
)

// Clock reads a time that moves only when told; safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a Clock reading now.
func New(now time.Time) *Clock { return &Clock{t: now} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
