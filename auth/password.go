package auth

import (
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

var (
	usernamePattern = regexp.MustCompile(`^[a-zA-Z0-9._@-]{1,64}$`)
	roleNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
)

// ValidateUsername returns EINVALID naming "username" unless u is 1–64
// characters of letters, digits and . _ @ -.
func ValidateUsername(u string) error {
	if !usernamePattern.MatchString(u) {
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

func hashPassword(p string, cost int) ([]byte, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(p), cost)
	if err != nil {
		return nil, fmt.Errorf("hashing password: %w", err)
	}
	return h, nil
}
