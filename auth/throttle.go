package auth

import (
	"sync"
	"time"
)

// Login throttling: at most maxLoginAttempts unsuccessful attempts per
// username in a throttleWindow that starts at the first of them.
const (
	maxLoginAttempts = 5
	throttleWindow   = time.Minute
	// maxThrottled bounds the memory of the throttle: guessing at random
	// usernames cannot grow it further.
	maxThrottled = 10_000
)

// throttle counts login attempts per username. An attempt counts before
// its password is checked, so many concurrent guesses cannot all slip in
// before the first failure is recorded; a success forgets the count.
type throttle struct {
	max int

	mu      sync.Mutex
	windows map[string]*attempts
}

type attempts struct {
	start time.Time
	n     int
}

func newThrottle(max int) *throttle {
	return &throttle{max: max, windows: make(map[string]*attempts)}
}

// attempt records an attempt for username at now and reports whether it
// may proceed.
func (t *throttle) attempt(username string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.windows[username]
	if w != nil && !now.Before(w.start.Add(throttleWindow)) {
		w = nil // the window has passed
	}
	if w == nil {
		t.makeRoom(now)
		w = &attempts{start: now}
		t.windows[username] = w
	}
	if w.n >= maxLoginAttempts {
		return false
	}
	w.n++
	return true
}

// forget drops username's count: after a successful login, or an attempt
// that failed for a reason other than its credentials.
func (t *throttle) forget(username string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.windows, username)
}

// release takes back one attempt, for one that failed for a reason other
// than its credentials (the store being down).
func (t *throttle) release(username string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if w := t.windows[username]; w != nil && w.n > 0 {
		w.n--
	}
}

// makeRoom drops passed windows when the map is full and, if it is still
// full, the oldest window: flooding the map with usernames then costs the
// attacker a bcrypt comparison per entry to evict one count.
func (t *throttle) makeRoom(now time.Time) {
	if len(t.windows) < t.max {
		return
	}
	var oldest *attempts
	var oldestName string
	for name, w := range t.windows {
		if !now.Before(w.start.Add(throttleWindow)) {
			delete(t.windows, name)
			continue
		}
		if oldest == nil || w.start.Before(oldest.start) {
			oldest, oldestName = w, name
		}
	}
	if len(t.windows) >= t.max {
		delete(t.windows, oldestName)
	}
}
