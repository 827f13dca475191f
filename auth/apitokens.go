package auth

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/telemetryd/telemetryd"
)

// maxTokenNameLength bounds the label of an API token.
const maxTokenNameLength = 100

// MaxAPITokens bounds the active (neither revoked nor expired) API tokens
// of one account.
const MaxAPITokens = 50

// CreateAPIToken creates an API token for the caller's own account and
// returns it (without its hash) and its value, which is shown only now:
// the store keeps its SHA-256 hash alone. The token acts with the
// account's current roles until it expires at expiresAt (zero: never) or
// is revoked. EUNAUTHENTICATED without a caller; EFORBIDDEN when the
// caller authenticated with an API token; EINVALID naming "name" (1-100
// characters) or "expiresAt" (in the past); ECONFLICT when the account
// holds MaxAPITokens active API tokens already. Replicas sharing a store
// count separately, so concurrent creations on several of them may pass
// the cap by a few.
func (s *Service) CreateAPIToken(ctx context.Context, name string, expiresAt time.Time) (*telemetryd.Token, string, error) {
	p, err := Authenticated(ctx)
	if err != nil {
		return nil, "", err
	}
	// Otherwise a leaked short-lived token could mint itself a successor
	// that never expires.
	if p.TokenKind == telemetryd.APIToken {
		return nil, "", telemetryd.Errorf(telemetryd.EFORBIDDEN, "API tokens cannot create API tokens; sign in")
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > maxTokenNameLength || !utf8.ValidString(name) {
		return nil, "", telemetryd.Errorf(telemetryd.EINVALID, "name must be 1-%d characters", maxTokenNameLength)
	}
	now := telemetryd.Microseconds(s.now())
	if !expiresAt.IsZero() && !expiresAt.After(now) {
		return nil, "", telemetryd.Errorf(telemetryd.EINVALID, "expiresAt must be in the future")
	}
	s.apiTokenMu.Lock()
	defer s.apiTokenMu.Unlock()
	held, err := s.store.ListTokens(ctx, p.AccountID, telemetryd.APIToken)
	if err != nil {
		return nil, "", fmt.Errorf("listing API tokens: %w", err)
	}
	active := 0
	for _, t := range held {
		if t.Active(now) {
			active++
		}
	}
	if active >= MaxAPITokens {
		return nil, "", telemetryd.Errorf(telemetryd.ECONFLICT, "an account may hold %d active API tokens; revoke one first", MaxAPITokens)
	}
	value := APITokenPrefix + randomString(32)
	tok := &telemetryd.Token{
		ID:        uuid.NewString(),
		Kind:      telemetryd.APIToken,
		Name:      name,
		AccountID: p.AccountID,
		Hash:      hashToken(value),
		CreatedAt: now,
		ExpiresAt: telemetryd.Microseconds(expiresAt),
	}
	if err := s.store.CreateToken(ctx, tok); err != nil {
		return nil, "", fmt.Errorf("storing API token: %w", err)
	}
	s.audit(ctx, "token.create", p.Username, tok.ID, slog.String("name", name))
	return publicToken(tok), value, nil
}

// ListAPITokens returns the caller's own API tokens, revoked and expired
// ones included, oldest first, without hashes; those the account held when
// it was last disabled show as revoked then. EUNAUTHENTICATED without a
// caller.
func (s *Service) ListAPITokens(ctx context.Context) ([]*telemetryd.Token, error) {
	p, err := Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	toks, err := s.store.ListTokens(ctx, p.AccountID, telemetryd.APIToken)
	if err != nil {
		return nil, fmt.Errorf("listing API tokens: %w", err)
	}
	view, err := s.cache.get(ctx, false)
	if err != nil {
		return nil, err
	}
	out := make([]*telemetryd.Token, len(toks))
	for i, t := range toks {
		out[i] = publicToken(t)
		// Disabling the account revoked the tokens it held then.
		if acc := view.byID[p.AccountID]; acc != nil && out[i].RevokedAt.IsZero() && !acc.Accepts(t.CreatedAt) {
			out[i].RevokedAt = acc.TokensRevokedAt
		}
	}
	return out, nil
}

// RevokeAPIToken revokes the API token with id; revoking a revoked token
// changes nothing. Callers revoke their own tokens; holders of
// MANAGE_ACCOUNTS (or SUPER_ADMIN) revoke anyone's, except that only
// SUPER_ADMIN revokes those of accounts holding SUPER_ADMIN, as for every
// other change to such accounts (see SetAccountDisabled).
// EUNAUTHENTICATED without a caller; EFORBIDDEN for a super-admin's token
// when the caller lacks SUPER_ADMIN; ENOTFOUND for an unknown id or, so
// ids of others stay secret, another account's token the caller may not
// revoke.
func (s *Service) RevokeAPIToken(ctx context.Context, id string) error {
	p, err := Authenticated(ctx)
	if err != nil {
		return err
	}
	owners := []string{p.AccountID}
	var view *accessView
	if p.Can(telemetryd.ManageAccounts) {
		// The store finds tokens by hash or by account only; deployments
		// have tens of accounts, so looking through each is cheap. Fresh,
		// as for the other account changes, so the super-admin check
		// below sees roles changed on other replicas.
		if view, err = s.cache.get(ctx, true); err != nil {
			return err
		}
		for accountID := range view.byID {
			if accountID != p.AccountID {
				owners = append(owners, accountID)
			}
		}
	}
	for _, owner := range owners {
		toks, err := s.store.ListTokens(ctx, owner, telemetryd.APIToken)
		if err != nil {
			return fmt.Errorf("listing API tokens: %w", err)
		}
		for _, t := range toks {
			if t.ID != id {
				continue
			}
			// Without this, an account manager could cut off every
			// super-admin's automation.
			if owner != p.AccountID && !p.Can(telemetryd.SuperAdmin) {
				if acc := view.byID[owner]; slices.Contains(permissions(view.roles, acc.Roles), telemetryd.SuperAdmin) {
					return telemetryd.Errorf(telemetryd.EFORBIDDEN, "revoking an API token of super-admin account %s requires permission %s", acc.Username, telemetryd.SuperAdmin)
				}
			}
			if !t.RevokedAt.IsZero() {
				return nil
			}
			if _, _, err := s.store.RevokeToken(ctx, id, telemetryd.Microseconds(s.now())); err != nil {
				return fmt.Errorf("revoking API token: %w", err)
			}
			s.audit(ctx, "token.revoke", p.Username, id, slog.String("name", t.Name), slog.String("owner_id", owner))
			return nil
		}
	}
	return telemetryd.Errorf(telemetryd.ENOTFOUND, "API token %s not found", id)
}
