package auth

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/bcrypt"

	"github.com/telemetryd/telemetryd"
)

// Tokens is what a login or refresh hands out.
type Tokens struct {
	// AccessToken is a JWT to send as "Authorization: Bearer".
	AccessToken string
	// RefreshToken is an opaque value that Refresh exchanges for new
	// Tokens, once, and RefreshAccess for new access tokens until the
	// session ends. Empty in what RefreshAccess returns.
	RefreshToken string
	// ExpiresAt is when AccessToken expires.
	ExpiresAt time.Time
}

// errBadCredentials is the one answer to a failed login, whether the
// username is unknown, the password wrong or the account disabled, so
// guessing learns nothing about which accounts exist.
var errBadCredentials = telemetryd.Errorf(telemetryd.EUNAUTHENTICATED, "invalid username or password")

// Login checks a username and password and returns new tokens, which
// start a session (see Refresh). EUNAUTHENTICATED "invalid username or
// password" for an unknown or invalid username, a wrong or over-long
// password or a disabled account alike; ETOOMANYREQUESTS, until a minute
// after the first failure counted, after five failed attempts for the
// username from the source address ctx carries (see WithSource), after 30
// from that source whatever the usernames, or, for a source that failed
// this minute, after 300 across the server; EUNAVAILABLE when the server
// has no room to check the password now (see Service).
//
// Each EUNAUTHENTICATED answer counts as telemetryd.ActivityFailedLogins; a
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
	key := keysOf(username, Source(ctx))
	if ok, limit := s.throttle.attempt(key, s.now()); !ok {
		s.audit(ctx, "login.throttled", "", username, slog.String("limit", limit))
		return nil, telemetryd.Errorf(telemetryd.ETOOMANYREQUESTS, "too many failed logins; try again in a minute")
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
	s.throttle.succeeded(key)
	tokens, err := s.issue(ctx, acc, "")
	if err != nil {
		return nil, err
	}
	s.count(telemetryd.ActivityLogins)
	s.audit(ctx, "login", acc.Username, acc.Username)
	return tokens, nil
}

// loginFailed counts and audits a login refused for its credentials and
// returns the one answer to all of them.
func (s *Service) loginFailed(ctx context.Context, username string) error {
	s.count(telemetryd.ActivityFailedLogins)
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

// Refresh exchanges a refresh token for new tokens and spends it: each
// refresh token works once, and the new one carries on its session. A
// spent token presented again means two parties hold the session, one of
// them a thief: the whole session ends, every token of it revoked, and
// whoever holds it must log in. This is the rotation of the GraphQL
// refreshToken mutation. EUNAUTHENTICATED "invalid or expired token" for
// an unknown, revoked, expired or already used refresh token, or one whose
// account is disabled or gone.
func (s *Service) Refresh(ctx context.Context, refreshToken string) (*Tokens, error) {
	tok, acc, err := s.session(ctx, refreshToken)
	if err != nil {
		return nil, err
	}
	_, first, err := s.store.RevokeToken(ctx, tok.ID, telemetryd.Microseconds(s.now()))
	if err != nil {
		return nil, fmt.Errorf("revoking refresh token: %w", err)
	}
	// Of concurrent refreshes with one token, only the one that revoked
	// it may go on; the others spent it again.
	if !first {
		return nil, s.reused(ctx, tok)
	}
	tokens, err := s.issue(ctx, acc, sessionOf(tok))
	if err != nil {
		return nil, err
	}
	s.audit(ctx, "token.refresh", acc.Username, acc.Username, slog.String("token_id", tok.ID), slog.Bool("rotated", true))
	return tokens, nil
}

// RefreshAccess returns a new access token for a refresh token, which
// stays valid: the session lives until logout, its expiry or the account
// being disabled. This is REST's /api/auth/refresh, whose clients
// (Infrahub's) reuse the refresh token. The returned Tokens have no
// RefreshToken. EUNAUTHENTICATED "invalid or expired token" as for
// Refresh; a refresh token spent by Refresh ends its session here too.
func (s *Service) RefreshAccess(ctx context.Context, refreshToken string) (*Tokens, error) {
	tok, acc, err := s.session(ctx, refreshToken)
	if err != nil {
		return nil, err
	}
	access, exp, err := s.signAccess(acc)
	if err != nil {
		return nil, err
	}
	s.audit(ctx, "token.refresh", acc.Username, acc.Username, slog.String("token_id", tok.ID), slog.Bool("rotated", false))
	return &Tokens{AccessToken: access, ExpiresAt: exp}, nil
}

// session returns the active refresh token whose value is value and its
// enabled account. A revoked one that has not expired ends its session
// (see Refresh).
func (s *Service) session(ctx context.Context, value string) (*telemetryd.Token, *telemetryd.Account, error) {
	tok, err := s.storedToken(ctx, value, telemetryd.RefreshToken)
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	if !tok.RevokedAt.IsZero() && now.Before(tok.ExpiresAt) {
		return nil, nil, s.reused(ctx, tok)
	}
	if !tok.Active(now) {
		return nil, nil, s.refuse(ctx, "revoked or expired token", nil, slog.String("token_id", tok.ID))
	}
	view, err := s.cache.get(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	acc := view.byID[tok.AccountID]
	if acc == nil || !acc.Accepts(tok.CreatedAt) {
		return nil, nil, s.refuse(ctx, "account missing, or disabled since the token was issued", nil, slog.String("token_id", tok.ID))
	}
	return tok, acc, nil
}

// sessionOf returns the session of a refresh token; one stored before
// sessions were recorded is a session of its own.
func sessionOf(tok *telemetryd.Token) string {
	if tok.Session != "" {
		return tok.Session
	}
	return tok.ID
}

// reused ends the session of tok, a refresh token spent again, and
// returns the refusal. Ending it may fail on the store; the refusal stands
// and the failure is returned instead, so the client retries and the
// session is ended then.
func (s *Service) reused(ctx context.Context, tok *telemetryd.Token) error {
	revoked, err := s.endSession(ctx, tok)
	if err != nil {
		return err
	}
	s.audit(ctx, "session.reuse", "", tok.AccountID, slog.String("token_id", tok.ID), slog.Int("revoked", revoked))
	return s.refuse(ctx, "spent refresh token used again: its session is revoked", nil, slog.String("token_id", tok.ID))
}

// endSession revokes every active refresh token of tok's session and
// returns how many.
func (s *Service) endSession(ctx context.Context, tok *telemetryd.Token) (int, error) {
	toks, err := s.store.ListTokens(ctx, tok.AccountID, telemetryd.RefreshToken)
	if err != nil {
		return 0, fmt.Errorf("listing the session's refresh tokens: %w", err)
	}
	session, now, n := sessionOf(tok), s.now(), 0
	for _, t := range toks {
		if sessionOf(t) != session || !t.Active(now) {
			continue
		}
		if _, first, err := s.store.RevokeToken(ctx, t.ID, telemetryd.Microseconds(now)); err != nil {
			return n, fmt.Errorf("revoking refresh token: %w", err)
		} else if first {
			n++
		}
	}
	return n, nil
}

// Logout ends the session of a refresh token: it and every token its
// session handed out are revoked. It reports whether the token was active
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
	if _, err := s.endSession(ctx, tok); err != nil {
		return false, err
	}
	actor := tok.AccountID
	if view, err := s.cache.get(ctx, false); err == nil && view.byID[tok.AccountID] != nil {
		actor = view.byID[tok.AccountID].Username
	}
	s.audit(ctx, "logout", actor, actor, slog.String("token_id", tok.ID))
	return true, nil
}

// issue returns a new access token and a new refresh token for acc, in
// session, or in a new session when session is empty.
func (s *Service) issue(ctx context.Context, acc *telemetryd.Account, session string) (*Tokens, error) {
	access, exp, err := s.signAccess(acc)
	if err != nil {
		return nil, err
	}
	refresh := refreshTokenPrefix + randomString(32)
	// Stores keep microseconds: every time this package hands to one is
	// truncated to them, so what is stored is what was meant.
	now := telemetryd.Microseconds(s.now())
	id := uuid.NewString()
	if session == "" {
		session = id
	}
	err = s.store.CreateToken(ctx, &telemetryd.Token{
		ID:        id,
		Session:   session,
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
