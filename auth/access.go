package auth

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

// accessView indexes one read of every account and role. Views handed out
// by the cache are shared: nothing may change them.
type accessView struct {
	byID   map[string]*telemetryd.Account
	byName map[string]*telemetryd.Account
	roles  map[string]*telemetryd.Role
}

func newAccessView(a *store.Access) *accessView {
	v := &accessView{
		byID:   make(map[string]*telemetryd.Account, len(a.Accounts)),
		byName: make(map[string]*telemetryd.Account, len(a.Accounts)),
		roles:  make(map[string]*telemetryd.Role, len(a.Roles)),
	}
	for _, acc := range a.Accounts {
		v.byID[acc.ID] = acc
		v.byName[acc.Username] = acc
	}
	for _, r := range a.Roles {
		v.roles[r.Name] = r
	}
	return v
}

// permissions returns what the named roles grant, in AllPermissions
// order; roles that no longer exist grant nothing.
func permissions(roles map[string]*telemetryd.Role, names []string) []telemetryd.Permission {
	out := []telemetryd.Permission{}
	for _, p := range telemetryd.AllPermissions {
		for _, name := range names {
			if r := roles[name]; r != nil && slices.Contains(r.Permissions, p) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// accessLoadTimeout bounds one read of every account and role. The read
// runs on behalf of every request waiting for it, so it cannot use any one
// request's context: a caller that gives up must not fail the others.
const accessLoadTimeout = 10 * time.Second

// accessCache keeps the last read of every account and role for at most
// accessCacheTTL. The store is read outside the lock, by one load at a
// time per generation that every caller needing it waits for, each with
// its own context, so a hanging store holds up no lock and no caller
// beyond its own deadline. Every invalidation starts a new generation: a
// load that began before it may still answer the callers that were
// waiting for it (their requests overlapped the change), but it is never
// installed, and later callers start a new load.
type accessCache struct {
	load func(context.Context) (*store.Access, error)
	now  func() time.Time

	mu       sync.Mutex
	view     *accessView
	loadedAt time.Time   // when the load that read view began
	gen      uint64      // incremented by invalidate
	loading  *accessLoad // the load of generation gen under way, if any
}

// accessLoad is one read of the store, shared by the callers waiting for
// it; view and err are set before done is closed.
type accessLoad struct {
	gen  uint64
	done chan struct{}
	view *accessView
	err  error
}

// get returns the cached view, reading the store when the view is older
// than accessCacheTTL, was invalidated, or fresh is set. A fresh get may
// share a read already under way: that read began after the last change
// made through this Service, and at most its duration before the call.
// When ctx ends first, get returns EUNAVAILABLE; the read goes on for the
// others.
func (c *accessCache) get(ctx context.Context, fresh bool) (*accessView, error) {
	c.mu.Lock()
	now := c.now()
	// A clock that went back also reloads: the age would be meaningless.
	if !fresh && c.view != nil && !now.Before(c.loadedAt) && now.Sub(c.loadedAt) < accessCacheTTL {
		v := c.view
		c.mu.Unlock()
		return v, nil
	}
	l := c.loading
	if l == nil {
		l = &accessLoad{gen: c.gen, done: make(chan struct{})}
		c.loading = l
		go c.run(context.WithoutCancel(ctx), l, now)
	}
	c.mu.Unlock()

	select {
	case <-l.done:
		return l.view, l.err
	case <-ctx.Done():
		return nil, telemetryd.Errorf(telemetryd.EUNAVAILABLE, "timed out reading accounts and roles")
	}
}

// run performs the load l, begun at started, and installs its result
// unless an invalidation came meanwhile.
func (c *accessCache) run(ctx context.Context, l *accessLoad, started time.Time) {
	ctx, cancel := context.WithTimeout(ctx, accessLoadTimeout)
	defer cancel()
	a, err := c.load(ctx)
	if err != nil {
		l.err = fmt.Errorf("reading accounts and roles: %w", err)
	} else {
		l.view = newAccessView(a)
	}

	c.mu.Lock()
	if c.loading == l {
		c.loading = nil
	}
	if l.err == nil && l.gen == c.gen {
		c.view, c.loadedAt = l.view, started
	}
	c.mu.Unlock()
	close(l.done)
}

// invalidate makes the next get read the store, and keeps any read under
// way from installing what it read.
func (c *accessCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.view = nil
	c.gen++
	c.loading = nil
}

// superAdmins counts the enabled accounts whose roles grant SUPER_ADMIN.
func superAdmins(a *store.Access) int {
	roles := rolesByName(a)
	n := 0
	for _, acc := range a.Accounts {
		if !acc.Disabled && slices.Contains(permissions(roles, acc.Roles), telemetryd.SuperAdmin) {
			n++
		}
	}
	return n
}

func rolesByName(a *store.Access) map[string]*telemetryd.Role {
	m := make(map[string]*telemetryd.Role, len(a.Roles))
	for _, r := range a.Roles {
		m[r.Name] = r
	}
	return m
}

func findAccount(a *store.Access, pred func(*telemetryd.Account) bool) *telemetryd.Account {
	if i := slices.IndexFunc(a.Accounts, pred); i >= 0 {
		return a.Accounts[i]
	}
	return nil
}

func accountNamed(a *store.Access, username string) *telemetryd.Account {
	return findAccount(a, func(acc *telemetryd.Account) bool { return acc.Username == username })
}

func roleNamed(a *store.Access, name string) *telemetryd.Role {
	if i := slices.IndexFunc(a.Roles, func(r *telemetryd.Role) bool { return r.Name == name }); i >= 0 {
		return a.Roles[i]
	}
	return nil
}

// errLastSuperAdmin refuses a change that would leave no enabled account
// able to administer the deployment. ECONFLICT rather than EFORBIDDEN: the
// same request succeeds once another super-admin exists.
var errLastSuperAdmin = telemetryd.Errorf(telemetryd.ECONFLICT,
	"the last active super-admin can be neither disabled nor lose SUPER_ADMIN; make another account super-admin first")

// update runs change inside one UpdateAccess and refuses any change that
// leaves no active super-admin. The caller must hold need as its account
// and roles are inside that same transaction, and change receives the
// permissions the caller holds there: a caller who lost a permission a
// moment ago can no longer use it, even though its principal still lists
// it. Because the checks run inside the serialized update, two concurrent
// requests cannot each remove one of the last two super-admins. Backends
// may retry the transaction, so change may run more than once: it must
// only assign outside state, never accumulate it.
func (s *Service) update(ctx context.Context, caller *Principal, need telemetryd.Permission, change func(a *store.Access, callerPerms []telemetryd.Permission) error) error {
	err := s.store.UpdateAccess(ctx, func(a *store.Access) error {
		self := findAccount(a, func(acc *telemetryd.Account) bool { return acc.ID == caller.AccountID })
		if self == nil || self.Disabled {
			return errInvalidToken
		}
		// The principal's roles are those its token carried that the
		// account held when the request began; those it has lost since
		// count no more.
		held := slices.DeleteFunc(slices.Clone(caller.Roles), func(r string) bool { return !slices.Contains(self.Roles, r) })
		callerPerms := permissions(rolesByName(a), held)
		if !telemetryd.Grants(callerPerms, need) {
			return telemetryd.Errorf(telemetryd.EFORBIDDEN, "requires permission %s", need)
		}

		before := superAdmins(a)
		if err := change(a, callerPerms); err != nil {
			return err
		}
		if before > 0 && superAdmins(a) == 0 {
			return errLastSuperAdmin
		}
		return nil
	})
	// Invalidate even after a failure: a failure after commit (a lost
	// connection) may still have stored the change.
	s.cache.invalidate()
	return err
}
