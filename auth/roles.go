package auth

import (
	"cmp"
	"context"
	"log/slog"
	"slices"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

// Roles returns every role by name. Requires MANAGE_PERMISSIONS or
// MANAGE_ACCOUNTS (account managers need the roles to assign them):
// EUNAUTHENTICATED, EFORBIDDEN.
func (s *Service) Roles(ctx context.Context) ([]*telemetryd.Role, error) {
	if _, err := requireAny(ctx, telemetryd.ManagePermissions, telemetryd.ManageAccounts); err != nil {
		return nil, err
	}
	view, err := s.cache.get(ctx, true)
	if err != nil {
		return nil, err
	}
	out := make([]*telemetryd.Role, 0, len(view.roles))
	for _, r := range view.roles {
		out = append(out, publicRole(r))
	}
	slices.SortFunc(out, func(a, b *telemetryd.Role) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// RoleDefinitions returns the definitions of the named roles, one per
// name in the order given; a name no role has (a role deleted since) gives
// a role granting nothing. It serves the roles listed on accounts, which
// every caller that may see an account may see defined, so it needs an
// authenticated caller but no permission, unlike Roles, which lists every
// role. It reads the cached definitions, which Authenticate uses too.
// EUNAUTHENTICATED without a caller.
func (s *Service) RoleDefinitions(ctx context.Context, names []string) ([]*telemetryd.Role, error) {
	if _, err := Authenticated(ctx); err != nil {
		return nil, err
	}
	view, err := s.cache.get(ctx, false)
	if err != nil {
		return nil, err
	}
	out := make([]*telemetryd.Role, len(names))
	for i, name := range names {
		if r := view.roles[name]; r != nil {
			out[i] = publicRole(r)
		} else {
			out[i] = &telemetryd.Role{Name: name, Permissions: []telemetryd.Permission{}}
		}
	}
	return out, nil
}

// CreateRole creates a role granting perms and returns it. Requires
// MANAGE_PERMISSIONS and every permission in perms (only SUPER_ADMIN
// grants SUPER_ADMIN): EUNAUTHENTICATED, EFORBIDDEN. EINVALID naming
// "name" or "permissions"; ECONFLICT when the name is taken.
func (s *Service) CreateRole(ctx context.Context, name string, perms []telemetryd.Permission) (*telemetryd.Role, error) {
	p, err := Require(ctx, telemetryd.ManagePermissions)
	if err != nil {
		return nil, err
	}
	if err := ValidateRoleName(name); err != nil {
		return nil, err
	}
	perms, err = normalizePermissions(perms)
	if err != nil {
		return nil, err
	}
	role := &telemetryd.Role{Name: name, Permissions: perms}
	err = s.update(ctx, p, telemetryd.ManagePermissions, func(a *store.Access, callerPerms []telemetryd.Permission) error {
		if roleNamed(a, name) != nil {
			return telemetryd.Errorf(telemetryd.ECONFLICT, "role %s already exists", name)
		}
		if err := mayHandOut(callerPerms, role, "creating"); err != nil {
			return err
		}
		a.Roles = append(a.Roles, role)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.audit(ctx, "role.create", p.Username, name, slog.Any("permissions", perms))
	return publicRole(role), nil
}

// SetRolePermissions makes the role grant exactly perms and returns it.
// Every holder's access and API tokens follow at once. Requires
// MANAGE_PERMISSIONS and every permission the role grants before and
// after (only SUPER_ADMIN grants or withdraws SUPER_ADMIN):
// EUNAUTHENTICATED, EFORBIDDEN, and EFORBIDDEN for the built-in roles,
// which never change so that every deployment means the same by them.
// EINVALID naming "permissions"; ENOTFOUND for an unknown role; ECONFLICT
// when the last active super-admin would lose SUPER_ADMIN.
func (s *Service) SetRolePermissions(ctx context.Context, name string, perms []telemetryd.Permission) (*telemetryd.Role, error) {
	p, err := Require(ctx, telemetryd.ManagePermissions)
	if err != nil {
		return nil, err
	}
	perms, err = normalizePermissions(perms)
	if err != nil {
		return nil, err
	}
	var result *telemetryd.Role
	var before []telemetryd.Permission
	err = s.update(ctx, p, telemetryd.ManagePermissions, func(a *store.Access, callerPerms []telemetryd.Permission) error {
		r, err := changeableRole(a, name, callerPerms, "changing")
		if err != nil {
			return err
		}
		if err := mayHandOut(callerPerms, &telemetryd.Role{Name: name, Permissions: perms}, "changing"); err != nil {
			return err
		}
		before = r.Permissions
		r.Permissions = perms
		result = publicRole(r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !slices.Equal(before, perms) {
		s.audit(ctx, "role.set_permissions", p.Username, name,
			slog.Any("permissions", perms), slog.Any("previous_permissions", before))
	}
	return result, nil
}

// DeleteRole deletes a role no account holds. Requires MANAGE_PERMISSIONS
// and every permission the role grants: EUNAUTHENTICATED, EFORBIDDEN, and
// EFORBIDDEN for the built-in roles. ENOTFOUND for an unknown role;
// ECONFLICT, saying how many, while accounts hold it (revoke it from them
// first, so nobody loses access by surprise).
func (s *Service) DeleteRole(ctx context.Context, name string) error {
	p, err := Require(ctx, telemetryd.ManagePermissions)
	if err != nil {
		return err
	}
	err = s.update(ctx, p, telemetryd.ManagePermissions, func(a *store.Access, callerPerms []telemetryd.Permission) error {
		if _, err := changeableRole(a, name, callerPerms, "deleting"); err != nil {
			return err
		}
		holders := 0
		for _, acc := range a.Accounts {
			if slices.Contains(acc.Roles, name) {
				holders++
			}
		}
		if holders > 0 {
			return telemetryd.Errorf(telemetryd.ECONFLICT, "role %s is held by %s; revoke it first", name, plural(holders, "account"))
		}
		a.Roles = slices.DeleteFunc(a.Roles, func(r *telemetryd.Role) bool { return r.Name == name })
		return nil
	})
	if err != nil {
		return err
	}
	s.audit(ctx, "role.delete", p.Username, name)
	return nil
}

// changeableRole returns the named role when the caller may change or
// delete it: it exists, is not built in, and grants nothing the caller
// lacks.
func changeableRole(a *store.Access, name string, callerPerms []telemetryd.Permission, doing string) (*telemetryd.Role, error) {
	r := roleNamed(a, name)
	if r == nil {
		return nil, telemetryd.Errorf(telemetryd.ENOTFOUND, "role %s not found", name)
	}
	if isBuiltinRole(name) {
		return nil, telemetryd.Errorf(telemetryd.EFORBIDDEN, "built-in role %s cannot be changed or deleted", name)
	}
	if err := mayHandOut(callerPerms, r, doing); err != nil {
		return nil, err
	}
	return r, nil
}

// normalizePermissions checks perms and returns them without repeats in
// AllPermissions order, so equal sets are stored alike. EINVALID naming
// "permissions" for an unknown one.
func normalizePermissions(perms []telemetryd.Permission) ([]telemetryd.Permission, error) {
	for _, p := range perms {
		if !p.Valid() {
			return nil, telemetryd.Errorf(telemetryd.EINVALID, "permissions: unknown permission %q", p)
		}
	}
	out := []telemetryd.Permission{}
	for _, p := range telemetryd.AllPermissions {
		if slices.Contains(perms, p) {
			out = append(out, p)
		}
	}
	return out, nil
}
