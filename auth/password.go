package auth

import (
	"context"
	"fmt"
	"regexp"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"github.com/telemetryd/telemetryd"
)

// Password bounds. bcrypt reads at most 72 bytes; refusing longer
// passwords beats silently ignoring their tail.
const (
	MinPasswordLength = 12
	MaxPasswordBytes  = 72
)

// ValidatePassword returns EINVALID naming "password" when p is shorter
// than MinPasswordLength characters or longer than MaxPasswordBytes bytes.
func ValidatePassword(p string) error {
	if utf8.RuneCountInString(p) < MinPasswordLength {
		return telemetryd.Errorf(telemetryd.EINVALID, "password must be at least %d characters", MinPasswordLength)
	}
	if len(p) > MaxPasswordBytes {
		return telemetryd.Errorf(telemetryd.EINVALID, "password must be at most %d bytes", MaxPasswordBytes)
	}
	return nil
}

// maxUsernameLength is the longest username; usernamePattern allows ASCII
// only, so it bounds bytes too.
const maxUsernameLength = 64

var (
	usernamePattern = regexp.MustCompile(`^[a-zA-Z0-9._@-]{1,64}$`)
	roleNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
)

// ValidateUsername returns EINVALID naming "username" unless u is 1–64
// characters of letters, digits and . _ @ -.
func ValidateUsername(u string) error {
	// The length first: u may be a megabyte sent to Login.
	if len(u) > maxUsernameLength || !usernamePattern.MatchString(u) {
		return telemetryd.Errorf(telemetryd.EINVALID, "username must be 1-64 characters of letters, digits and . _ @ -")
	}
	return nil
}

// ValidateRoleName returns EINVALID naming "name" unless n is 1–64
// lowercase letters, digits and hyphens, not starting with a hyphen.
func ValidateRoleName(n string) error {
	if !roleNamePattern.MatchString(n) {
		return telemetryd.Errorf(telemetryd.EINVALID, "name must be 1-64 lowercase letters, digits and hyphens, starting with a letter or digit")
	}
	return nil
}

// errBusy answers a request that found no room for its bcrypt work.
// EUNAVAILABLE (503) rather than ETOOMANYREQUESTS: the server as a whole is
// saturated, not this client or username over a limit, and ETOOMANYREQUESTS
// already means a throttled login to Login's callers.
var errBusy = telemetryd.Errorf(telemetryd.EUNAVAILABLE, "the server is busy checking passwords; try again shortly")

// bcryptGate admits password hashes and comparisons. bcrypt is slow by
// design (about 250 ms at cost 12), so without a bound concurrent logins
// could take every CPU and starve the rest of the server; and with a long
// queue, a flood of logins would make everyone wait behind it. So:
//   - at most len(slots) run at once (GOMAXPROCS);
//   - at most maxWaiting wait for a slot, in arrival order; the rest fail
//     at once, so no one waits more than a few bcrypt durations;
//   - one source holds at most perSource of the running and waiting
//     places, so a flood from one address leaves room for everyone else.
type bcryptGate struct {
	slots      chan struct{}
	maxWaiting int
	perSource  int

	mu      sync.Mutex
	waiting int
	held    map[string]int // running or waiting, by sourceKey
}

func newBcryptGate(slots int) *bcryptGate {
	return &bcryptGate{
		slots:      make(chan struct{}, slots),
		maxWaiting: 2 * slots,
		perSource:  slots + 1,
		held:       make(map[string]int),
	}
}

// admit reserves a place for source: false when the queue or the
// source's share is full.
func (g *bcryptGate) admit(source string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.waiting >= g.maxWaiting || g.held[source] >= g.perSource {
		return false
	}
	g.waiting++
	g.held[source]++
	return true
}

// leave gives back source's place; wasWaiting when it never got a slot.
func (g *bcryptGate) leave(source string, wasWaiting bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if wasWaiting {
		g.waiting--
	}
	if g.held[source]--; g.held[source] <= 0 {
		delete(g.held, source)
	}
}

// started turns a waiting place into a running one.
func (g *bcryptGate) started() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.waiting--
}

// withBcryptSlot runs fn, which hashes or compares a password, in a
// bcrypt slot, for the source the context carries (see WithSource). It
// returns errBusy at once when the gate has no room for the source, or
// when ctx ends while waiting.
func (s *Service) withBcryptSlot(ctx context.Context, fn func()) error {
	g := s.bcrypt
	source := sourceKey(Source(ctx))
	if ctx.Err() != nil || !g.admit(source) {
		return errBusy
	}
	select {
	case g.slots <- struct{}{}:
		g.started()
	case <-ctx.Done():
		g.leave(source, true)
		return errBusy
	}
	defer func() {
		<-g.slots
		g.leave(source, false)
	}()
	fn()
	return nil
}

// hashPassword returns the bcrypt hash of p at the service's cost, in a
// bcrypt slot: errBusy when ctx ends first.
func (s *Service) hashPassword(ctx context.Context, p string) ([]byte, error) {
	var h []byte
	var err error
	if busy := s.withBcryptSlot(ctx, func() { h, err = hashPassword(p, s.cost) }); busy != nil {
		return nil, busy
	}
	return h, err
}

func hashPassword(p string, cost int) ([]byte, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(p), cost)
	if err != nil {
		return nil, fmt.Errorf("hashing password: %w", err)
	}
	return h, nil
}
