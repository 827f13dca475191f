package workflows

import (
	"context"
	"fmt"
	"time"

	"github.com/telemetryd/telemetryd"
)

// TokenReader lists accounts and their tokens; store.Store satisfies it.
type TokenReader interface {
	AccessReader
	ListTokens(ctx context.Context, accountID string, kind telemetryd.TokenKind) ([]*telemetryd.Token, error)
}

// FeaturesSection is the "features" section: which optional features the
// deployment uses.
type FeaturesSection struct {
	// RemoteSending is whether snapshots are sent (after DO_NOT_TRACK).
	RemoteSending bool
	// Retention is --telemetry-retention; zero keeps snapshots forever.
	Retention time.Duration
	// Tokens finds the token kinds in use.
	Tokens TokenReader
}

// Name returns "features".
func (*FeaturesSection) Name() string { return "features" }

type featuresData struct {
	RemoteSending   bool     `json:"remote_sending"`
	RetentionDays   int      `json:"retention_days"`
	TokenKindsInUse []string `json:"token_kinds_in_use"`
}

// Collect reports the features; tokens count as in use while active at
// now.
func (s *FeaturesSection) Collect(ctx context.Context, now time.Time) (any, error) {
	a, err := s.Tokens.Access(ctx)
	if err != nil {
		return nil, err
	}
	kinds := []string{}
	for _, kind := range []telemetryd.TokenKind{telemetryd.APIToken, telemetryd.RefreshToken} {
		inUse, err := anyActiveToken(ctx, s.Tokens, a.Accounts, kind, now)
		if err != nil {
			return nil, err
		}
		if inUse {
			kinds = append(kinds, string(kind))
		}
	}
	return featuresData{
		RemoteSending:   s.RemoteSending,
		RetentionDays:   int(s.Retention / day),
		TokenKindsInUse: kinds,
	}, nil
}

// anyActiveToken reports whether an account holds an active token of the
// kind. Deployments have tens of accounts, so a listing per account is
// cheap.
func anyActiveToken(ctx context.Context, tokens TokenReader, accounts []*telemetryd.Account, kind telemetryd.TokenKind, now time.Time) (bool, error) {
	for _, acc := range accounts {
		list, err := tokens.ListTokens(ctx, acc.ID, kind)
		if err != nil {
			return false, fmt.Errorf("listing %s tokens: %w", kind, err)
		}
		for _, t := range list {
			if t.Active(now) {
				return true, nil
			}
		}
	}
	return false, nil
}
