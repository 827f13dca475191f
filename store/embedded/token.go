package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/telemetryd/telemetryd"
)

// tokenRecord is the stored form of a token.
type tokenRecord struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Name       string    `json:"name"`
	AccountID  string    `json:"account_id"`
	Hash       string    `json:"hash"`
	CreatedAt  time.Time `json:"created_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	RevokedAt  time.Time `json:"revoked_at"`
	Session    string    `json:"session,omitempty"`
}

func encodeToken(t *telemetryd.Token) ([]byte, error) {
	v, err := json.Marshal(tokenRecord{
		ID: t.ID, Kind: string(t.Kind), Name: t.Name, AccountID: t.AccountID, Hash: t.Hash,
		CreatedAt:  telemetryd.Microseconds(t.CreatedAt),
		ExpiresAt:  telemetryd.Microseconds(t.ExpiresAt),
		LastUsedAt: telemetryd.Microseconds(t.LastUsedAt),
		RevokedAt:  telemetryd.Microseconds(t.RevokedAt),
		Session:    t.Session,
	})
	if err != nil {
		return nil, fmt.Errorf("encoding token %s: %w", t.ID, err)
	}
	return v, nil
}

func decodeToken(v []byte) (*telemetryd.Token, error) {
	var r tokenRecord
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("decoding stored token: %w", err)
	}
	return &telemetryd.Token{
		ID: r.ID, Kind: telemetryd.TokenKind(r.Kind), Name: r.Name, AccountID: r.AccountID, Hash: r.Hash,
		CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, LastUsedAt: r.LastUsedAt, RevokedAt: r.RevokedAt,
		Session: r.Session,
	}, nil
}

// tokenListPrefix groups an account's tokens of one kind; the created_at
// position and id that follow it order them oldest first.
func tokenListPrefix(accountID string, kind telemetryd.TokenKind) []byte {
	return lengthPrefixed(lengthPrefixed(nil, accountID), string(kind))
}

func tokenListKey(t *telemetryd.Token) []byte {
	k := binary.BigEndian.AppendUint64(tokenListPrefix(t.AccountID, t.Kind), position(t.CreatedAt))
	return append(k, t.ID...)
}

// CreateToken stores t; ECONFLICT when its id or hash exists, EINVALID
// without an id or hash.
func (s *Store) CreateToken(ctx context.Context, t *telemetryd.Token) error {
	if t == nil || t.ID == "" || t.Hash == "" {
		return telemetryd.Errorf(telemetryd.EINVALID, "a token needs an id and a hash")
	}
	value, err := encodeToken(t)
	if err != nil {
		return err
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		tokens, hashes := tx.Bucket(bucketTokens), tx.Bucket(bucketTokenHashes)
		if tokens.Get([]byte(t.ID)) != nil {
			return telemetryd.Errorf(telemetryd.ECONFLICT, "token %s already exists", t.ID)
		}
		if hashes.Get([]byte(t.Hash)) != nil {
			return telemetryd.Errorf(telemetryd.ECONFLICT, "a token with this hash already exists")
		}
		if err := tokens.Put([]byte(t.ID), value); err != nil {
			return err
		}
		if err := hashes.Put([]byte(t.Hash), []byte(t.ID)); err != nil {
			return err
		}
		return tx.Bucket(bucketTokenLists).Put(tokenListKey(t), []byte(t.ID))
	})
	return wrap("creating token "+t.ID, err)
}

// TokenByHash returns the token whose value hashes to hash, or ENOTFOUND.
func (s *Store) TokenByHash(ctx context.Context, hash string) (*telemetryd.Token, error) {
	var t *telemetryd.Token
	err := s.view(ctx, func(tx *bolt.Tx) error {
		id := tx.Bucket(bucketTokenHashes).Get([]byte(hash))
		if id == nil {
			// The hash stays out of the message: it identifies a credential.
			return telemetryd.Errorf(telemetryd.ENOTFOUND, "token not found")
		}
		var err error
		t, err = decodeToken(tx.Bucket(bucketTokens).Get(id))
		return err
	})
	if err != nil {
		return nil, wrap("reading token", err)
	}
	return t, nil
}

// ListTokens returns the account's tokens of the kind, oldest first
// (created_at, then id); an empty slice when it has none.
func (s *Store) ListTokens(ctx context.Context, accountID string, kind telemetryd.TokenKind) ([]*telemetryd.Token, error) {
	out := []*telemetryd.Token{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		tokens := tx.Bucket(bucketTokens)
		prefix := tokenListPrefix(accountID, kind)
		c := tx.Bucket(bucketTokenLists).Cursor()
		for k, id := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, id = c.Next() {
			t, err := decodeToken(tokens.Get(id))
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return nil
	})
	if err != nil {
		return nil, wrap("listing tokens", err)
	}
	return out, nil
}

// RevokeToken marks the token revoked at at and returns it, or ENOTFOUND.
// Revoking a revoked token keeps its first RevokedAt.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) (*telemetryd.Token, bool, error) {
	// bbolt runs one write transaction at a time: no other revocation can
	// slip between the check and the write.
	var first bool
	t, err := s.changeToken(ctx, id, func(t *telemetryd.Token) bool {
		if !t.RevokedAt.IsZero() {
			return false
		}
		t.RevokedAt = telemetryd.Microseconds(at)
		first = true
		return true
	})
	if err != nil {
		return nil, false, wrap("revoking token "+id, err)
	}
	return t, first, nil
}

// TouchToken records a use of the token at at, or returns ENOTFOUND. The
// latest use wins, so concurrent requests finishing out of order never
// move LastUsedAt back.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	_, err := s.changeToken(ctx, id, func(t *telemetryd.Token) bool {
		at := telemetryd.Microseconds(at)
		if !at.After(t.LastUsedAt) {
			return false
		}
		t.LastUsedAt = at
		return true
	})
	return wrap("touching token "+id, err)
}

// changeToken applies change to the stored token, writing it back only
// when change reports a difference.
func (s *Store) changeToken(ctx context.Context, id string, change func(*telemetryd.Token) bool) (*telemetryd.Token, error) {
	var t *telemetryd.Token
	err := s.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		v := b.Get([]byte(id))
		if v == nil {
			return telemetryd.Errorf(telemetryd.ENOTFOUND, "token %s not found", id)
		}
		var err error
		if t, err = decodeToken(v); err != nil {
			return err
		}
		if !change(t) {
			return nil
		}
		if v, err = encodeToken(t); err != nil {
			return err
		}
		return b.Put([]byte(id), v)
	})
	return t, err
}
