package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/telemetryd/telemetryd"
)

// Prefixes of opaque token values. They tell an API token from an access
// token without parsing, and make leaked values easy to find with secret
// scanners.
const (
	APITokenPrefix     = "tdk_"
	refreshTokenPrefix = "tdr_"
)

// errInvalidToken is the one answer to every refused bearer token but
// one: which check failed goes to the debug log only, so probing learns
// nothing.
var errInvalidToken = telemetryd.Errorf(telemetryd.EUNAUTHENTICATED, "invalid or expired token")

// ErrExpiredSignature answers an access token that this server signed and
// that was valid in every other way until it expired. Its message is the
// one Infrahub's clients recognise to refresh their access token; it tells
// a prober only that the signature was right but old.
var ErrExpiredSignature = telemetryd.Errorf(telemetryd.EUNAUTHENTICATED, "Expired Signature")

// Authenticate returns the caller a bearer token identifies: a JWT access
// token or a "tdk_" API token. The account must exist and be enabled, and
// its permissions follow the current role definitions, so a role losing a
// permission or an account being disabled takes effect on the next call
// (at once for changes made through this Service, within five seconds for
// changes made by another replica on the same store). An access token
// keeps only the roles it carries that the account still holds; an API
// token has the account's current roles.
//
// EUNAUTHENTICATED ErrExpiredSignature for an access token that is
// correctly signed and only expired, "invalid or expired token" for any
// other refused token; another code (EUNAVAILABLE) when the store could
// not be asked.
func (s *Service) Authenticate(ctx context.Context, bearer string) (*Principal, error) {
	if bearer == "" || len(bearer) > maxTokenLength {
		return nil, s.refuse(ctx, "empty or over-long token", nil)
	}
	if strings.HasPrefix(bearer, APITokenPrefix) {
		return s.authenticateAPIToken(ctx, bearer)
	}
	return s.authenticateAccessToken(ctx, bearer)
}

// refuse logs why a token was refused at debug and returns the generic
// error.
func (s *Service) refuse(ctx context.Context, reason string, err error, attrs ...slog.Attr) error {
	if err != nil {
		attrs = append(attrs, slog.String("error", err.Error()))
	}
	s.log.LogAttrs(ctx, slog.LevelDebug, "token refused: "+reason, attrs...)
	return errInvalidToken
}

func (s *Service) authenticateAccessToken(ctx context.Context, bearer string) (*Principal, error) {
	claims, err := s.parseAccess(bearer)
	if errors.Is(err, errNotBootstrapped) {
		return nil, err
	}
	if errors.Is(err, errOnlyExpired) {
		s.log.LogAttrs(ctx, slog.LevelDebug, "token refused: expired access token")
		return nil, ErrExpiredSignature
	}
	if err != nil {
		return nil, s.refuse(ctx, "invalid access token", err)
	}
	view, err := s.cache.get(ctx, false)
	if err != nil {
		return nil, err
	}
	acc := view.byID[claims.Subject]
	if acc == nil || claims.IssuedAt == nil || !acc.Accepts(claims.IssuedAt.Time) {
		return nil, s.refuse(ctx, "account missing, or disabled since the token was issued", nil, slog.String("account_id", claims.Subject))
	}
	// Roles revoked since the token was issued stop at once; roles
	// assigned since apply from the next token, as the claims promise.
	roles := slices.DeleteFunc(slices.Clone(claims.Roles), func(r string) bool { return !slices.Contains(acc.Roles, r) })
	return &Principal{
		AccountID:   acc.ID,
		Username:    acc.Username,
		Roles:       roles,
		Permissions: permissions(view.roles, roles),
		TokenKind:   AccessToken,
	}, nil
}

func (s *Service) authenticateAPIToken(ctx context.Context, bearer string) (*Principal, error) {
	tok, err := s.activeToken(ctx, bearer, telemetryd.APIToken)
	if err != nil {
		return nil, err
	}
	view, err := s.cache.get(ctx, false)
	if err != nil {
		return nil, err
	}
	acc := view.byID[tok.AccountID]
	if acc == nil || !acc.Accepts(tok.CreatedAt) {
		return nil, s.refuse(ctx, "account missing, or disabled since the token was issued", nil, slog.String("token_id", tok.ID))
	}
	now := s.now()
	if now.Sub(tok.LastUsedAt) >= touchInterval {
		// A failed touch loses a statistic, not access.
		if err := s.store.TouchToken(ctx, tok.ID, telemetryd.Microseconds(now)); err != nil {
			s.log.WarnContext(ctx, "recording API token use", slog.String("token_id", tok.ID), slog.String("error", err.Error()))
		}
	}
	roles := slices.Clone(acc.Roles)
	return &Principal{
		AccountID:   acc.ID,
		Username:    acc.Username,
		Roles:       roles,
		Permissions: permissions(view.roles, roles),
		TokenKind:   telemetryd.APIToken,
	}, nil
}

// activeToken returns the stored opaque token of the kind whose value is
// value, when it is active. errInvalidToken otherwise; store failures
// other than "not found" pass through.
func (s *Service) activeToken(ctx context.Context, value string, kind telemetryd.TokenKind) (*telemetryd.Token, error) {
	tok, err := s.storedToken(ctx, value, kind)
	if err != nil {
		return nil, err
	}
	if !tok.Active(s.now()) {
		return nil, s.refuse(ctx, "revoked or expired token", nil, slog.String("token_id", tok.ID))
	}
	return tok, nil
}

// storedToken returns the stored opaque token of the kind whose value is
// value, active or not. errInvalidToken when there is none; store
// failures other than "not found" pass through.
func (s *Service) storedToken(ctx context.Context, value string, kind telemetryd.TokenKind) (*telemetryd.Token, error) {
	if value == "" || len(value) > maxTokenLength {
		return nil, s.refuse(ctx, "empty or over-long token", nil)
	}
	tok, err := s.store.TokenByHash(ctx, hashToken(value))
	if telemetryd.ErrorCode(err) == telemetryd.ENOTFOUND {
		return nil, s.refuse(ctx, "unknown "+string(kind)+" token", nil)
	}
	if err != nil {
		return nil, fmt.Errorf("reading token: %w", err)
	}
	if tok.Kind != kind {
		return nil, s.refuse(ctx, "token of kind "+string(tok.Kind)+" used as "+string(kind), nil, slog.String("token_id", tok.ID))
	}
	return tok, nil
}
