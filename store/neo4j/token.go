package neo4j

import (
	"context"
	"fmt"
	"strings"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/telemetryd/telemetryd"
)

// Tokens are (:Token) nodes of either kind, unique by id and by hash,
// indexed by (account_id, kind) for listing. Zero times are nulls.

// CreateToken stores t; ECONFLICT when its id or hash exists.
func (s *Store) CreateToken(ctx context.Context, t *telemetryd.Token) error {
	if t == nil {
		return telemetryd.Errorf(telemetryd.EINVALID, "no token to create")
	}
	_, err := write(ctx, s, "creating token", func(tx driver.ManagedTransaction) (struct{}, error) {
		_, err := run(ctx, tx, `CREATE (t:Token) SET t = $props`, map[string]any{"props": tokenProps(t)})
		return struct{}{}, err
	})
	if msg, ok := constraintViolated(err); ok {
		if strings.Contains(msg, "hash") {
			return telemetryd.Errorf(telemetryd.ECONFLICT, "a token with this value already exists")
		}
		return telemetryd.Errorf(telemetryd.ECONFLICT, "token %s already exists", t.ID)
	}
	return err
}

// TokenByHash returns the token whose value hashes to hash, or ENOTFOUND.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*telemetryd.Token, error) {
	return read(ctx, s, "reading token", func(tx driver.ManagedTransaction) (*telemetryd.Token, error) {
		return singleToken(ctx, tx, "token not found", `MATCH (t:Token {hash: $hash}) RETURN t`, map[string]any{"hash": hash})
	})
}

// ListTokens returns the account's tokens of the kind, oldest first.
func (s *Store) ListTokens(ctx context.Context, accountID string, kind telemetryd.TokenKind) ([]*telemetryd.Token, error) {
	return read(ctx, s, "listing tokens", func(tx driver.ManagedTransaction) ([]*telemetryd.Token, error) {
		return collectTokens(ctx, tx, `MATCH (t:Token {account_id: $account, kind: $kind})
			RETURN t ORDER BY t.created_at, t.id`, map[string]any{"account": accountID, "kind": string(kind)})
	})
}

// RevokeToken marks the token revoked at at and returns it, or ENOTFOUND.
// Revoking a revoked token keeps its first RevokedAt.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) (*telemetryd.Token, bool, error) {
	type result struct {
		tok   *telemetryd.Token
		first bool
	}
	r, err := write(ctx, s, "revoking token", func(tx driver.ManagedTransaction) (result, error) {
		// Writing the node first takes its lock, so revoked_at is read
		// after any concurrent revocation has committed: of concurrent
		// calls exactly one finds it unset.
		res, err := tx.Run(ctx, `MATCH (t:Token {id: $id})
			SET t.revoking = true REMOVE t.revoking
			WITH t, t.revoked_at IS NULL AS first
			SET t.revoked_at = coalesce(t.revoked_at, $at)
			RETURN t, first`, map[string]any{"id": id, "at": dateTime(at)})
		if err != nil {
			return result{}, err
		}
		recs, err := res.Collect(ctx)
		if err != nil {
			return result{}, err
		}
		if len(recs) == 0 {
			return result{}, telemetryd.Errorf(telemetryd.ENOTFOUND, "token %s not found", id)
		}
		tok, err := tokenFrom(recs[0].Values[0])
		if err != nil {
			return result{}, err
		}
		first, _ := recs[0].Values[1].(bool)
		return result{tok, first}, nil
	})
	return r.tok, r.first, err
}

// TouchToken records a use of the token at at; ENOTFOUND when there is no
// such token. The latest use wins, so concurrent requests finishing out
// of order never move LastUsedAt back.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	_, err := write(ctx, s, "recording token use", func(tx driver.ManagedTransaction) (*telemetryd.Token, error) {
		return singleToken(ctx, tx, fmt.Sprintf("token %s not found", id), `MATCH (t:Token {id: $id})
			SET t.last_used_at = CASE WHEN t.last_used_at IS NULL OR t.last_used_at < $at
				THEN $at ELSE t.last_used_at END
			RETURN t`, map[string]any{"id": id, "at": dateTime(at)})
	})
	return err
}

func tokenProps(t *telemetryd.Token) map[string]any {
	return map[string]any{
		"id":           t.ID,
		"kind":         string(t.Kind),
		"name":         t.Name,
		"account_id":   t.AccountID,
		"hash":         t.Hash,
		"created_at":   dateTime(t.CreatedAt),
		"expires_at":   dateTime(t.ExpiresAt),
		"last_used_at": dateTime(t.LastUsedAt),
		"revoked_at":   dateTime(t.RevokedAt),
		"session":      t.Session,
	}
}

func tokenFrom(v any) (*telemetryd.Token, error) {
	node, ok := v.(driver.Node)
	if !ok {
		return nil, fmt.Errorf("expected a token node, got %T", v)
	}
	p := &props{m: node.Props}
	t := &telemetryd.Token{
		ID:         p.str("id"),
		Kind:       telemetryd.TokenKind(p.str("kind")),
		Name:       p.str("name"),
		AccountID:  p.str("account_id"),
		Hash:       p.str("hash"),
		CreatedAt:  p.time("created_at"),
		ExpiresAt:  p.time("expires_at"),
		LastUsedAt: p.time("last_used_at"),
		RevokedAt:  p.time("revoked_at"),
		Session:    p.str("session"),
	}
	return t, p.err
}

func collectTokens(ctx context.Context, tx driver.ManagedTransaction, query string, params map[string]any) ([]*telemetryd.Token, error) {
	res, err := tx.Run(ctx, query, params)
	if err != nil {
		return nil, err
	}
	tokens := []*telemetryd.Token{}
	for res.Next(ctx) {
		t, err := tokenFrom(res.Record().Values[0])
		if err != nil {
			return nil, err
		}
		tokens = append(tokens, t)
	}
	return tokens, res.Err()
}

func singleToken(ctx context.Context, tx driver.ManagedTransaction, notFound, query string, params map[string]any) (*telemetryd.Token, error) {
	tokens, err := collectTokens(ctx, tx, query, params)
	if err != nil {
		return nil, err
	}
	if len(tokens) == 0 {
		return nil, telemetryd.Errorf(telemetryd.ENOTFOUND, "%s", notFound)
	}
	return tokens[0], nil
}
