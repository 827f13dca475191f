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

// accessCache keeps the last read of every account and role for at most
// accessCacheTTL. Loads happen under the lock, so a load that began before
// an invalidation can never install its older result after it.
type accessCache struct {
	load func(context.Context) (*store.Access, error)
	now  func() time.Time

	mu       sync.Mutex
	view     *accessView
	loadedAt time.Time
}

// get returns the cached view, reading the store when the view is older
// than accessCacheTTL, was invalidated, or fresh is set.
func (c *accessCache) get(ctx context.Context, fresh bool) (*accessView, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	// A clock that went back also reloads: the age would be meaningless.
	if !fresh && c.view != nil && !now.Before(c.loadedAt) && now.Sub(c.loadedAt) < accessCacheTTL {
		return c.view, nil
	}
	a, err := c.load(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading accounts and roles: %w", err)
	}
	c.view, c.loadedAt = newAccessView(a), now
	return c.view, nil
}

// invalidate makes the next get read the store.
func (c *accessCache) invalidate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.view = nil
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

// update runs change inside one UpdateAccess with the caller's permissions
// as they are in that same transaction, so a caller who lost a permission
// (need, or one change checks) a moment ago cannot still use it, and refuses any change that leaves no
// active super-admin. Because the check runs inside the serialized update,
// two concurrent requests cannot each remove one of the last two
// super-admins. change may run more than once (backends retry
// transactions), so it must only assign, never accumulate, outside state.
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
