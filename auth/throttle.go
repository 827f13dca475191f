package auth

import (
	"crypto/sha256"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Login throttling. Failed logins count per username and source address,
// so a stranger's guesses for a username stop the stranger, not the
// account's owner signing in from elsewhere. Two ceilings stop password
// spraying (a few guesses at many usernames): one per source across all
// usernames, and one across the whole server, past which only sources
// without a recent failure may try.
const (
	// maxLoginAttempts is the number of unsuccessful attempts per
	// username and source in a throttleWindow.
	maxLoginAttempts = 5
	// maxSourceAttempts is the number of unsuccessful attempts per source,
	// whatever the usernames, in a throttleWindow.
	maxSourceAttempts = 30
	// maxGlobalAttempts is the number of unsuccessful attempts across the
	// server in a throttleWindow past which sources that failed in theirs
	// are refused.
	maxGlobalAttempts = 300
	// throttleWindow starts at the first attempt a count records.
	throttleWindow = time.Minute
	// maxThrottled bounds the memory of each count: guessing at random
	// usernames or from random addresses cannot grow it further.
	maxThrottled = 10_000
)

// throttle counts login attempts. An attempt counts before its password
// is checked, so many concurrent guesses cannot all slip in before the
// first failure is recorded; a success takes its attempt back and forgets
// the failures of its username from its source.
//
// Entries are keyed by a throttleKey, never by the username itself, so an
// entry takes the same few bytes however long the name a client sent (Login
// also refuses invalid usernames before they get here).
type throttle struct {
	mu      sync.Mutex
	pairs   windows // per username and source
	sources windows // per source
	global  attempts
}

// throttleKey is a SHA-256 hash. Colliding two counts would take a SHA-256
// collision.
type throttleKey [sha256.Size]byte

// sourceKey keys a source address: IPv4 addresses alone, IPv6 addresses by
// their /64, which one host usually holds whole. An unknown source (a
// direct call without one) is a source of its own.
func sourceKey(source netip.Addr) string {
	if source.Is6() && !source.Is4In6() {
		p, _ := source.Prefix(64)
		return p.String()
	}
	return source.Unmap().String()
}

// loginKeys are the counts one login attempt touches.
type loginKeys struct {
	pair, source throttleKey
}

// keysOf returns the counts of a login for username from source.
// Usernames count case-insensitively, as accounts are named.
func keysOf(username string, source netip.Addr) loginKeys {
	src := sourceKey(source)
	return loginKeys{
		pair:   sha256.Sum256([]byte("pair\x00" + strings.ToLower(username) + "\x00" + src)),
		source: sha256.Sum256([]byte("source\x00" + src)),
	}
}

type attempts struct {
	start time.Time
	n     int
}

// current returns a at now: a zero count once its window has passed.
func (a *attempts) current(now time.Time) *attempts {
	if a != nil && !now.Before(a.start.Add(throttleWindow)) {
		*a = attempts{}
	}
	return a
}

func (a *attempts) add(now time.Time) {
	if a.n == 0 {
		a.start = now
	}
	a.n++
}

func (a *attempts) release() {
	if a != nil && a.n > 0 {
		a.n--
	}
}

// windows holds bounded counts by key.
type windows struct {
	m map[throttleKey]*attempts
}

// count returns the current count of k at now, nil when there is none.
func (w *windows) count(k throttleKey, now time.Time) *attempts {
	a := w.m[k].current(now)
	if a != nil && a.n == 0 {
		delete(w.m, k)
		return nil
	}
	return a
}

// add records an attempt for k at now.
func (w *windows) add(k throttleKey, now time.Time) {
	if w.m == nil {
		w.m = make(map[throttleKey]*attempts)
	}
	a := w.count(k, now)
	if a == nil {
		w.makeRoom(now)
		a = &attempts{}
		w.m[k] = a
	}
	a.add(now)
}

// makeRoom drops passed windows when the map is full and, if it is still
// full, the oldest window: flooding the map with keys then costs the
// attacker a bcrypt comparison per entry to evict one count.
func (w *windows) makeRoom(now time.Time) {
	if len(w.m) < maxThrottled {
		return
	}
	var oldest *attempts
	var oldestKey throttleKey
	for k, a := range w.m {
		if !now.Before(a.start.Add(throttleWindow)) {
			delete(w.m, k)
			continue
		}
		if oldest == nil || a.start.Before(oldest.start) {
			oldest, oldestKey = a, k
		}
	}
	if len(w.m) >= maxThrottled {
		delete(w.m, oldestKey)
	}
}

// attempt records an attempt at now and reports whether it may proceed;
// when not, it says which limit refused it, for the audit line.
func (t *throttle) attempt(k loginKeys, now time.Time) (ok bool, limit string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	pair, source := t.pairs.count(k.pair, now), t.sources.count(k.source, now)
	global := t.global.current(now)
	switch {
	case pair != nil && pair.n >= maxLoginAttempts:
		return false, "username and source"
	case source != nil && source.n >= maxSourceAttempts:
		return false, "source"
	case source != nil && global.n >= maxGlobalAttempts:
		return false, "server"
	}
	t.pairs.add(k.pair, now)
	t.sources.add(k.source, now)
	global.add(now)
	return true, ""
}

// succeeded takes back the attempt of a successful login and forgets the
// failures of its username from its source; those at other usernames from
// the same source still count.
func (t *throttle) succeeded(k loginKeys) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.pairs.m, k.pair)
	t.sources.m[k.source].release()
	t.global.release()
}

// release takes back one attempt, for one that ended before its password
// was checked (the store down, the server too busy).
func (t *throttle) release(k loginKeys) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pairs.m[k.pair].release()
	t.sources.m[k.source].release()
	t.global.release()
}
