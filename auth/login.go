package auth

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/activity"
)

// Tokens is what a login or refresh hands out.
type Tokens struct {
	// AccessToken is a JWT to send as "Authorization: Bearer".
	AccessToken string
	// RefreshToken is an opaque value that Refresh exchanges for new
	// Tokens, once.
	RefreshToken string
	// ExpiresAt is when AccessToken expires.
	ExpiresAt time.Time
}

// errBadCredentials is the one answer to a failed login, whether the
// username is unknown, the password wrong or the account disabled, so
// guessing learns nothing about which accounts exist.
var errBadCredentials = telemetryd.Errorf(telemetryd.EUNAUTHENTICATED, "invalid username or password")

// Login checks a username and password and returns new tokens.
// EUNAUTHENTICATED "invalid username or password" for an unknown or
// invalid username, a wrong or over-long password or a disabled account
// alike; ETOOMANYREQUESTS after five failed attempts for the username
// within a minute, until that minute has passed; EUNAVAILABLE when ctx
// ends while waiting for a bcrypt slot (see Service).
//
// Each EUNAUTHENTICATED answer counts as activity.FailedLogins; a
// throttled attempt does not, since it checked no password.
func (s *Service) Login(ctx context.Context, username, password string) (*Tokens, error) {
	// No account has an invalid username and no stored password is longer
	// than MaxPasswordBytes (ValidatePassword), so such attempts cannot
	// guess anything and fail at once: they take no throttle entry (a
	// megabyte username would make one costly) and no bcrypt time.
	// Answering them fast says nothing about any account.
	if ValidateUsername(username) != nil || len(password) > MaxPasswordBytes {
		return nil, s.loginFailed(ctx, username)
	}
	key := keyOf(username)
	if !s.throttle.attempt(key, s.now()) {
		s.audit(ctx, "login.throttled", "", username)
		return nil, telemetryd.Errorf(telemetryd.ETOOMANYREQUESTS, "too many failed logins for this username; try again in a minute")
	}
	view, err := s.cache.get(ctx, true) // fresh: a login is rare and must see a disabled account
	if err != nil {
		s.throttle.release(key)
		return nil, err
	}
	acc := view.byName[username]
	// Compare even for unknown and disabled accounts, so all failures take
	// as long.
	var matched bool
	err = s.withBcryptSlot(ctx, func() {
		hash := s.dummyHash()
		if acc != nil {
			hash = []byte(acc.PasswordHash)
		}
		matched = bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	})
	if err != nil {
		s.throttle.release(key)
		return nil, err
	}
	if !matched || acc == nil || acc.Disabled {
		return nil, s.loginFailed(ctx, username)
	}
	s.throttle.forget(key)
	tokens, err := s.issue(ctx, acc)
	if err != nil {
		return nil, err
	}
	s.count(activity.Logins)
	s.audit(ctx, "login", acc.Username, acc.Username)
	return tokens, nil
}

// loginFailed counts and audits a login refused for its credentials and
// returns the one answer to all of them.
func (s *Service) loginFailed(ctx context.Context, username string) error {
	s.count(activity.FailedLogins)
	s.audit(ctx, "login.failed", "", auditUsername(username))
	return errBadCredentials
}

// auditUsername returns what a failed login may log of the username it
// named: the username when it is one, never free text that could be a
// password typed into the wrong field.
func auditUsername(u string) string {
	if ValidateUsername(u) != nil {
		return "(invalid username)"
	}
	return u
}

// Refresh exchanges a refresh token for new tokens and revokes it, so each
// refresh token works once. EUNAUTHENTICATED "invalid or expired token"
// for an unknown, revoked, expired or already used refresh token, or one
// whose account is disabled or gone.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	tok, err := s.activeToken(ctx, refreshToken, telemetryd.RefreshToken)
	if err != nil {
		return nil, err
	}
	view, err := s.cache.get(ctx, true)
	if err != nil {
		return nil, err
	}
	acc := view.byID[tok.AccountID]
	if acc == nil || !acc.Accepts(tok.CreatedAt) {
		return nil, s.refuse(ctx, "account missing, or disabled since the token was issued", nil, slog.String("token_id", tok.ID))
	}
	_, first, err := s.store.RevokeToken(ctx, tok.ID, telemetryd.Microseconds(s.now()))
	if err != nil {
		return nil, fmt.Errorf("revoking refresh token: %w", err)
	}
	// Of concurrent refreshes with one token, only the one that revoked
	// it may go on.
	if !first {
		return nil, s.refuse(ctx, "refresh token used concurrently", nil, slog.String("token_id", tok.ID))
	}
	tokens, err := s.issue(ctx, acc)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, "token.refresh", acc.Username, acc.Username, slog.String("token_id", tok.ID))
	return tokens, nil
}

// Logout revokes a refresh token. It reports whether the token was active
// until now; an unknown, expired or revoked token gives false and no
// error, so logging out twice is harmless. Holding the token is enough:
// no caller is needed. Errors are store failures only.
func (s *Service) Logout(ctx context.Context, refreshToken string) (bool, error) {
	tok, err := s.activeToken(ctx, refreshToken, telemetryd.RefreshToken)
	if telemetryd.ErrorCode(err) == telemetryd.EUNAUTHENTICATED {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, _, err := s.store.RevokeToken(ctx, tok.ID, telemetryd.Microseconds(s.now())); err != nil {
		return false, fmt.Errorf("revoking refresh token: %w", err)
	}
	actor := tok.AccountID
	if view, err := s.cache.get(ctx, false); err == nil && view.byID[tok.AccountID] != nil {
		actor = view.byID[tok.AccountID].Username
	}
	s.audit(ctx, "logout", actor, actor, slog.String("token_id", tok.ID))
	return true, nil
}

// issue returns a new access token and a new refresh token for acc.
func (s *Service) issue(ctx context.Context, acc *telemetryd.Account) (*Tokens, error) {
	access, exp, err := s.signAccess(acc)
	if err != nil {
		return nil, err
	}
	refresh := refreshTokenPrefix + randomString(32)
	// Stores keep microseconds: every time this package hands to one is
	// truncated to them, so what is stored is what was meant.
	now := telemetryd.Microseconds(s.now())
	err = s.store.CreateToken(ctx, &telemetryd.Token{
		ID:        uuid.NewString(),
		Kind:      telemetryd.RefreshToken,
		AccountID: acc.ID,
		Hash:      hashToken(refresh),
		CreatedAt: now,
		ExpiresAt: now.Add(s.refreshTTL),
	})
	if err != nil {
		return nil, fmt.Errorf("storing refresh token: %w", err)
	}
	return &Tokens{AccessToken: access, RefreshToken: refresh, ExpiresAt: exp}, nil
}
