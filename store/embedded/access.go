package embedded

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

// accountRecord and roleRecord are the stored forms, kept apart from the
// domain types so renaming a Go field never changes the file format.
type accountRecord struct {
	ID           string    `json:"id"`
	Username     string    `json:"username"`
	PasswordHash string    `json:"password_hash"`
	Disabled     bool      `json:"disabled"`
	Roles        []string  `json:"roles"`
	CreatedAt    time.Time `json:"created_at"`
	// TokensRevokedAt is absent from files written before it existed.
	TokensRevokedAt time.Time `json:"tokens_revoked_at,omitzero"`
}

type roleRecord struct {
	Name        string                  `json:"name"`
	Permissions []telemetryd.Permission `json:"permissions"`
}

// Access returns every account, by username, and every role, by name.
func (s *Store) Access(ctx context.Context) (*store.Access, error) {
	var a *store.Access
	err := s.view(ctx, func(tx *bolt.Tx) error {
		var err error
		a, err = readAccess(tx)
		return err
	})
	if err != nil {
		return nil, wrap("reading accounts and roles", err)
	}
	return a, nil
}

// readAccess decodes fresh values, so callers may change them freely. Key
// order gives accounts by username and roles by name.
func readAccess(tx *bolt.Tx) (*store.Access, error) {
	a := &store.Access{Accounts: []*telemetryd.Account{}, Roles: []*telemetryd.Role{}}
	err := tx.Bucket(bucketAccounts).ForEach(func(k, v []byte) error {
		var r accountRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("decoding account %s: %w", k, err)
		}
		a.Accounts = append(a.Accounts, &telemetryd.Account{
			ID: r.ID, Username: r.Username, PasswordHash: r.PasswordHash, Disabled: r.Disabled,
			Roles: r.Roles, CreatedAt: r.CreatedAt, TokensRevokedAt: r.TokensRevokedAt,
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = tx.Bucket(bucketRoles).ForEach(func(k, v []byte) error {
		var r roleRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("decoding role %s: %w", k, err)
		}
		a.Roles = append(a.Roles, &telemetryd.Role{Name: r.Name, Permissions: r.Permissions})
		return nil
	})
	return a, err
}

// UpdateAccess runs fn on the current accounts and roles inside one write
// transaction, which serializes it with every other write of the store,
// and stores the accounts and roles fn added, changed or removed. fn must
// not call the store: its transaction is open. When fn fails nothing is
// stored and its error is returned. What fn leaves must pass
// store.CheckAccess.
func (s *Store) UpdateAccess(ctx context.Context, fn func(*store.Access) error) error {
	var fnErr error
	err := s.update(ctx, func(tx *bolt.Tx) error {
		a, err := readAccess(tx)
		if err != nil {
			return err
		}
		if fnErr = fn(a); fnErr != nil {
			return fnErr
		}
		if fnErr = store.CheckAccess(a); fnErr != nil {
			return fnErr
		}
		accounts, roles, err := encodeAccess(a)
		if err != nil {
			return err
		}
		if err := replace(tx.Bucket(bucketAccounts), accounts); err != nil {
			return err
		}
		return replace(tx.Bucket(bucketRoles), roles)
	})
	if fnErr != nil {
		return fnErr // as fn returned it, unwrapped
	}
	return wrap("updating accounts and roles", err)
}

// encodeAccess encodes checked accounts and roles by key.
func encodeAccess(a *store.Access) (accounts, roles map[string][]byte, err error) {
	accounts = make(map[string][]byte, len(a.Accounts))
	for _, acc := range a.Accounts {
		v, err := json.Marshal(accountRecord{
			ID: acc.ID, Username: acc.Username, PasswordHash: acc.PasswordHash, Disabled: acc.Disabled,
			Roles: acc.Roles, CreatedAt: telemetryd.Microseconds(acc.CreatedAt),
			TokensRevokedAt: telemetryd.Microseconds(acc.TokensRevokedAt),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("encoding account %s: %w", acc.Username, err)
		}
		accounts[acc.Username] = v
	}
	roles = make(map[string][]byte, len(a.Roles))
	for _, role := range a.Roles {
		v, err := json.Marshal(roleRecord{Name: role.Name, Permissions: role.Permissions})
		if err != nil {
			return nil, nil, fmt.Errorf("encoding role %s: %w", role.Name, err)
		}
		roles[role.Name] = v
	}
	return accounts, roles, nil
}

// checkUsernames refuses a file holding accounts whose usernames differ
// only in case (see store.CheckUsernames).
func checkUsernames(tx *bolt.Tx) error {
	var names []string
	err := tx.Bucket(bucketAccounts).ForEach(func(k, _ []byte) error {
		names = append(names, string(k))
		return nil
	})
	if err != nil {
		return err
	}
	return store.CheckUsernames(names)
}

// replace makes b hold exactly want, writing only the keys that differ.
func replace(b *bolt.Bucket, want map[string][]byte) error {
	var gone [][]byte
	err := b.ForEach(func(k, _ []byte) error {
		if _, ok := want[string(k)]; !ok {
			gone = append(gone, clone(k))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, k := range gone {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	for k, v := range want {
		if bytes.Equal(b.Get([]byte(k)), v) {
			continue
		}
		if err := b.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}
