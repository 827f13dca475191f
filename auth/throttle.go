package auth

import (
	"crypto/sha256"
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
//
// Entries are keyed by a throttleKey, never by the username itself, so an
// entry takes the same few bytes however long the name a client sent (Login
// also refuses invalid usernames before they get here).
type throttle struct {
	max int

	mu      sync.Mutex
	windows map[throttleKey]*attempts
}

// throttleKey is the SHA-256 hash of a username. Colliding two usernames'
// counts would take a SHA-256 collision.
type throttleKey [sha256.Size]byte

func keyOf(username string) throttleKey {
	return sha256.Sum256([]byte(username))
}

type attempts struct {
	start time.Time
	n     int
}

func newThrottle(max int) *throttle {
	return &throttle{max: max, windows: make(map[throttleKey]*attempts)}
}

// attempt records an attempt for the username keyed k at now and reports
// whether it may proceed.
func (t *throttle) attempt(k throttleKey, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	w := t.windows[k]
	if w != nil && !now.Before(w.start.Add(throttleWindow)) {
		w = nil // the window has passed
	}
	if w == nil {
		t.makeRoom(now)
		w = &attempts{start: now}
		t.windows[k] = w
	}
	if w.n >= maxLoginAttempts {
		return false
	}
	w.n++
	return true
}

// forget drops the count of the username keyed k, after a successful
// login.
func (t *throttle) forget(k throttleKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.windows, k)
}

// release takes back one attempt, for one that ended before its password
// was checked (the store down, the server too busy).
func (t *throttle) release(k throttleKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if w := t.windows[k]; w != nil && w.n > 0 {
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
	var oldestKey throttleKey
	for k, w := range t.windows {
		if !now.Before(w.start.Add(throttleWindow)) {
			delete(t.windows, k)
			continue
		}
		if oldest == nil || w.start.Before(oldest.start) {
			oldest, oldestKey = w, k
		}
	}
	if len(t.windows) >= t.max {
		delete(t.windows, oldestKey)
	}
}
