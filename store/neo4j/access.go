package neo4j

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

// Accounts are (:Account) nodes unique by id and by username; roles are
// (:Role {name, permissions}) nodes unique by name. An account's role
// names are a list property rather than HAS_ROLE relationships: the list
// keeps the order the caller gave, and an account may name a role that
// does not (yet, or any more) exist, as the embedded store allows, which a
// relationship could not express without creating the role.

// accessLock names the (:TelemetrydLock) node every UpdateAccess writes
// first: holding its write lock serializes updates across replicas.
const accessLock = "access"

// Access returns every account, sorted by username, and every role,
// sorted by name.
func (s *Store) Access(ctx context.Context) (*store.Access, error) {
	return read(ctx, s, "reading access", func(tx driver.ManagedTransaction) (*store.Access, error) {
		return readAccess(ctx, tx)
	})
}

// UpdateAccess runs fn on the current accounts and roles and stores what
// fn changed, all in one write transaction that first takes the write
// lock of a singleton (:TelemetrydLock) node, so updates are serialized
// across replicas and fn always sees the latest committed state. Accounts
// are matched by username and roles by name: added, modified and removed
// ones are written. When fn returns an error nothing is stored and that
// error is returned. What fn leaves must pass store.CheckAccess. If the
// transaction hits a transient error (such as a deadlock) it is retried,
// and fn runs again on a fresh read; fn must only change the Access it is
// given.
func (s *Store) UpdateAccess(ctx context.Context, fn func(*store.Access) error) error {
	var fnErr error
	_, err := write(ctx, s, "updating access", func(tx driver.ManagedTransaction) (struct{}, error) {
		fnErr = nil
		if _, err := run(ctx, tx, `MERGE (l:TelemetrydLock {name: $name})
			SET l.version = coalesce(l.version, 0) + 1`, map[string]any{"name": accessLock}); err != nil {
			return struct{}{}, err
		}
		before, err := readAccess(ctx, tx)
		if err != nil {
			return struct{}{}, err
		}
		after := cloneAccess(before)
		if err := fn(after); err != nil {
			fnErr = err
			return struct{}{}, err
		}
		if err := store.CheckAccess(after); err != nil {
			fnErr = err
			return struct{}{}, err
		}
		return struct{}{}, writeAccess(ctx, tx, before, after)
	})
	if fnErr != nil && errors.Is(err, fnErr) {
		return fnErr
	}
	if msg, ok := constraintViolated(err); ok {
		return telemetryd.Errorf(telemetryd.ECONFLICT, "account or role conflicts with a stored one: %s", msg)
	}
	return err
}

func readAccess(ctx context.Context, tx driver.ManagedTransaction) (*store.Access, error) {
	a := &store.Access{Accounts: []*telemetryd.Account{}, Roles: []*telemetryd.Role{}}
	res, err := tx.Run(ctx, `MATCH (a:Account) RETURN a`, nil)
	if err != nil {
		return nil, err
	}
	for res.Next(ctx) {
		acct, err := accountFrom(res.Record().Values[0])
		if err != nil {
			return nil, err
		}
		a.Accounts = append(a.Accounts, acct)
	}
	if err := res.Err(); err != nil {
		return nil, err
	}
	if res, err = tx.Run(ctx, `MATCH (r:Role) RETURN r`, nil); err != nil {
		return nil, err
	}
	for res.Next(ctx) {
		role, err := roleFrom(res.Record().Values[0])
		if err != nil {
			return nil, err
		}
		a.Roles = append(a.Roles, role)
	}
	if err := res.Err(); err != nil {
		return nil, err
	}
	// Sorted here rather than in Cypher, whose string order (UTF-16)
	// differs from Go's for some characters.
	slices.SortFunc(a.Accounts, func(x, y *telemetryd.Account) int { return strings.Compare(x.Username, y.Username) })
	slices.SortFunc(a.Roles, func(x, y *telemetryd.Role) int { return strings.Compare(x.Name, y.Name) })
	return a, nil
}

// writeAccess stores the difference between before and after, which
// passed store.CheckAccess.
func writeAccess(ctx context.Context, tx driver.ManagedTransaction, before, after *store.Access) error {
	oldAccounts := make(map[string]*telemetryd.Account, len(before.Accounts))
	for _, a := range before.Accounts {
		oldAccounts[a.Username] = a
	}
	newAccounts := make(map[string]bool, len(after.Accounts))
	var upsertAccounts []map[string]any
	for _, a := range after.Accounts {
		newAccounts[a.Username] = true
		if old, ok := oldAccounts[a.Username]; !ok || !sameAccount(old, a) {
			upsertAccounts = append(upsertAccounts, accountProps(a))
		}
	}
	var removedAccounts []string
	for _, a := range before.Accounts {
		if !newAccounts[a.Username] {
			removedAccounts = append(removedAccounts, a.Username)
		}
	}

	oldRoles := make(map[string]*telemetryd.Role, len(before.Roles))
	for _, r := range before.Roles {
		oldRoles[r.Name] = r
	}
	newRoles := make(map[string]bool, len(after.Roles))
	var upsertRoles []map[string]any
	for _, r := range after.Roles {
		newRoles[r.Name] = true
		if old, ok := oldRoles[r.Name]; !ok || !sameRole(old, r) {
			upsertRoles = append(upsertRoles, roleProps(r))
		}
	}
	var removedRoles []string
	for _, r := range before.Roles {
		if !newRoles[r.Name] {
			removedRoles = append(removedRoles, r.Name)
		}
	}

	// Removals first, so an account renamed under the same id does not
	// collide with its old node.
	steps := []struct {
		query string
		param any
		skip  bool
	}{
		{`UNWIND $param AS name MATCH (a:Account {username: name}) DETACH DELETE a`, removedAccounts, len(removedAccounts) == 0},
		{`UNWIND $param AS name MATCH (r:Role {name: name}) DETACH DELETE r`, removedRoles, len(removedRoles) == 0},
		{`UNWIND $param AS row MERGE (a:Account {username: row.username}) SET a = row`, upsertAccounts, len(upsertAccounts) == 0},
		{`UNWIND $param AS row MERGE (r:Role {name: row.name}) SET r = row`, upsertRoles, len(upsertRoles) == 0},
	}
	for _, step := range steps {
		if step.skip {
			continue
		}
		if _, err := run(ctx, tx, step.query, map[string]any{"param": step.param}); err != nil {
			return err
		}
	}
	return nil
}

// migrateUsernames refuses a database holding accounts whose usernames
// differ only in case (see store.CheckUsernames), and gives accounts
// written before usernames were unique regardless of case the username_key
// that the account_username_key constraint keeps unique. It runs before
// the constraint is created.
func (s *Store) migrateUsernames(ctx context.Context) error {
	names, err := read(ctx, s, "reading usernames", func(tx driver.ManagedTransaction) ([]string, error) {
		res, err := tx.Run(ctx, `MATCH (a:Account) RETURN a.username AS name`, nil)
		if err != nil {
			return nil, err
		}
		var names []string
		for res.Next(ctx) {
			name, _ := res.Record().Values[0].(string)
			names = append(names, name)
		}
		return names, res.Err()
	})
	if err != nil {
		return err
	}
	if err := store.CheckUsernames(names); err != nil {
		return err
	}
	_, err = write(ctx, s, "keying usernames", func(tx driver.ManagedTransaction) (struct{}, error) {
		_, err := run(ctx, tx, `MATCH (a:Account) WHERE a.username_key IS NULL SET a.username_key = toLower(a.username)`, nil)
		return struct{}{}, err
	})
	return err
}

func sameAccount(a, b *telemetryd.Account) bool {
	return a.ID == b.ID && a.Username == b.Username && a.PasswordHash == b.PasswordHash &&
		a.Disabled == b.Disabled && a.CreatedAt.Equal(b.CreatedAt) && a.TokensRevokedAt.Equal(b.TokensRevokedAt) &&
		(a.Roles == nil) == (b.Roles == nil) && slices.Equal(a.Roles, b.Roles)
}

func sameRole(a, b *telemetryd.Role) bool {
	return a.Name == b.Name && (a.Permissions == nil) == (b.Permissions == nil) && slices.Equal(a.Permissions, b.Permissions)
}

func cloneAccess(a *store.Access) *store.Access {
	c := &store.Access{
		Accounts: make([]*telemetryd.Account, len(a.Accounts)),
		Roles:    make([]*telemetryd.Role, len(a.Roles)),
	}
	for i, acct := range a.Accounts {
		dup := *acct
		dup.Roles = slices.Clone(acct.Roles)
		c.Accounts[i] = &dup
	}
	for i, role := range a.Roles {
		dup := *role
		dup.Permissions = slices.Clone(role.Permissions)
		c.Roles[i] = &dup
	}
	return c
}

func accountProps(a *telemetryd.Account) map[string]any {
	return map[string]any{
		"id":       a.ID,
		"username": a.Username,
		// unique: usernames are unique regardless of case
		"username_key":  store.UsernameKey(a.Username),
		"password_hash": a.PasswordHash,
		"disabled":      a.Disabled,
		"roles":         stringList(a.Roles),
		"created_at":    dateTime(a.CreatedAt),
		// null when zero, which removes the property
		"tokens_revoked_at": dateTime(a.TokensRevokedAt),
	}
}

func accountFrom(v any) (*telemetryd.Account, error) {
	node, ok := v.(driver.Node)
	if !ok {
		return nil, fmt.Errorf("expected an account node, got %T", v)
	}
	p := &props{m: node.Props}
	a := &telemetryd.Account{
		ID:           p.str("id"),
		Username:     p.str("username"),
		PasswordHash: p.str("password_hash"),
		Disabled:     p.bool("disabled"),
		Roles:        p.strings("roles"),
		CreatedAt:    p.time("created_at"),
		// absent on accounts written before it existed
		TokensRevokedAt: p.time("tokens_revoked_at"),
	}
	return a, p.err
}

func roleProps(r *telemetryd.Role) map[string]any {
	var perms []string
	if r.Permissions != nil {
		perms = make([]string, len(r.Permissions))
		for i, p := range r.Permissions {
			perms[i] = string(p)
		}
	}
	return map[string]any{"name": r.Name, "permissions": stringList(perms)}
}

func roleFrom(v any) (*telemetryd.Role, error) {
	node, ok := v.(driver.Node)
	if !ok {
		return nil, fmt.Errorf("expected a role node, got %T", v)
	}
	p := &props{m: node.Props}
	r := &telemetryd.Role{Name: p.str("name")}
	if perms := p.strings("permissions"); perms != nil {
		r.Permissions = make([]telemetryd.Permission, len(perms))
		for i, perm := range perms {
			r.Permissions[i] = telemetryd.Permission(perm)
		}
	}
	return r, p.err
}
