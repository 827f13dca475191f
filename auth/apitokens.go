package auth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/telemetryd/telemetryd"
)

// maxTokenNameLength bounds the label of an API token.
const maxTokenNameLength = 100

// CreateAPIToken creates an API token for the caller's own account and
// returns it (without its hash) and its value, which is shown only now:
// the store keeps its SHA-256 hash alone. The token acts with the
// account's current roles until it expires at expiresAt (zero: never) or
// is revoked. EUNAUTHENTICATED without a caller; EINVALID naming "name"
// (1-100 characters) or "expiresAt" (in the past).
func (s *Service) CreateAPIToken(ctx context.Context, name string, expiresAt time.Time) (*telemetryd.Token, string, error) {
	p, err := Authenticated(ctx)
	if err != nil {
		return nil, "", err
	}
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > maxTokenNameLength || !utf8.ValidString(name) {
		return nil, "", telemetryd.Errorf(telemetryd.EINVALID, "name must be 1-%d characters", maxTokenNameLength)
	}
	now := s.now()
	if !expiresAt.IsZero() && !expiresAt.After(now) {
		return nil, "", telemetryd.Errorf(telemetryd.EINVALID, "expiresAt must be in the future")
	}
	value := APITokenPrefix + randomString(32)
	tok := &telemetryd.Token{
		ID:        uuid.NewString(),
		Kind:      telemetryd.APIToken,
		Name:      name,
		AccountID: p.AccountID,
		Hash:      hashToken(value),
		CreatedAt: telemetryd.Microseconds(now),
		ExpiresAt: telemetryd.Microseconds(expiresAt),
	}
	if err := s.store.CreateToken(ctx, tok); err != nil {
		return nil, "", fmt.Errorf("storing API token: %w", err)
	}
	s.audit(ctx, "token.create", p.Username, tok.ID, slog.String("name", name))
	return publicToken(tok), value, nil
}

// ListAPITokens returns the caller's own API tokens, revoked and expired
// ones included, oldest first, without hashes. EUNAUTHENTICATED without a
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
	out := make([]*telemetryd.Token, len(toks))
	for i, t := range toks {
		out[i] = publicToken(t)
	}
	return out, nil
}

// RevokeAPIToken revokes the API token with id; revoking a revoked token
// changes nothing. Callers revoke their own tokens; holders of
// MANAGE_ACCOUNTS (or SUPER_ADMIN) revoke anyone's. EUNAUTHENTICATED
// without a caller; ENOTFOUND for an unknown id or, so ids of others stay
// secret, another account's token the caller may not revoke.
func (s *Service) RevokeAPIToken(ctx context.Context, id string) error {
	p, err := Authenticated(ctx)
	if err != nil {
		return err
	}
	owners := []string{p.AccountID}
	if p.Can(telemetryd.ManageAccounts) {
		// The store finds tokens by hash or by account only; deployments
		// have tens of accounts, so looking through each is cheap.
		view, err := s.cache.get(ctx, false)
		if err != nil {
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
			if !t.RevokedAt.IsZero() {
				return nil
			}
			if _, err := s.store.RevokeToken(ctx, id, s.now()); err != nil {
				return fmt.Errorf("revoking API token: %w", err)
			}
			s.audit(ctx, "token.revoke", p.Username, id, slog.String("name", t.Name), slog.String("owner_id", owner))
			return nil
		}
	}
	return telemetryd.Errorf(telemetryd.ENOTFOUND, "API token %s not found", id)
}
