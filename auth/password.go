package auth

import (
	"context"
	"fmt"
	"regexp"
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

// errBusy answers a request that gave up waiting for a bcrypt slot.
// EUNAVAILABLE (503) rather than ETOOMANYREQUESTS: the server as a whole is
// saturated, not this client or username over a limit, and ETOOMANYREQUESTS
// already means a throttled username to Login's callers.
var errBusy = telemetryd.Errorf(telemetryd.EUNAVAILABLE, "the server is busy checking passwords; try again shortly")

// withBcryptSlot runs fn, which hashes or compares a password, while holding
// one of the service's bcrypt slots. bcrypt is slow by design (about 250 ms
// at cost 12), so without a bound concurrent logins could take every CPU
// and starve the rest of the server. It waits for a slot until ctx ends,
// then returns errBusy.
func (s *Service) withBcryptSlot(ctx context.Context, fn func()) error {
	if ctx.Err() != nil {
		return errBusy
	}
	select {
	case s.bcryptSlots <- struct{}{}:
	case <-ctx.Done():
		return errBusy
	}
	defer func() { <-s.bcryptSlots }()
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
