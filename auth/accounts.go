package auth

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

// Me returns the caller's account, without its password hash.
// EUNAUTHENTICATED without a caller; ENOTFOUND when the account has gone
// since the request was authenticated.
func (s *Service) Me(ctx context.Context) (*telemetryd.Account, error) {
	p, err := Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	view, err := s.cache.get(ctx, false)
	if err != nil {
		return nil, err
	}
	acc := view.byID[p.AccountID]
	if acc == nil {
		return nil, telemetryd.Errorf(telemetryd.ENOTFOUND, "account %s not found", p.Username)
	}
	return publicAccount(acc), nil
}

// Accounts returns every account by username, without password hashes.
// Requires MANAGE_ACCOUNTS: EUNAUTHENTICATED, EFORBIDDEN.
func (s *Service) Accounts(ctx context.Context) ([]*telemetryd.Account, error) {
	if _, err := Require(ctx, telemetryd.ManageAccounts); err != nil {
		return nil, err
	}
	// Fresh, so an administrator sees their change whichever replica
	// answers.
	view, err := s.cache.get(ctx, true)
	if err != nil {
		return nil, err
	}
	out := make([]*telemetryd.Account, 0, len(view.byName))
	for _, acc := range view.byName {
		out = append(out, publicAccount(acc))
	}
	slices.SortFunc(out, func(a, b *telemetryd.Account) int { return cmp.Compare(a.Username, b.Username) })
	return out, nil
}

// CreateAccount creates an enabled account holding roles and returns it.
// Requires MANAGE_ACCOUNTS, and the caller must hold every permission the
// roles grant (only SUPER_ADMIN hands out SUPER_ADMIN): EUNAUTHENTICATED,
// EFORBIDDEN. EINVALID naming "username", "password" or "roles" (an
// unknown role); ECONFLICT when the username is taken; EUNAVAILABLE when
// ctx ends while waiting to hash the password (see Service).
func (s *Service) CreateAccount(ctx context.Context, username, password string, roles []string) (*telemetryd.Account, error) {
	p, err := Require(ctx, telemetryd.ManageAccounts)
	if err != nil {
		return nil, err
	}
	if err := ValidateUsername(username); err != nil {
		return nil, err
	}
	if err := ValidatePassword(password); err != nil {
		return nil, err
	}
	roles = dedupe(roles)
	// Hash before the update: bcrypt is slow, and the update holds the
	// store's write lock.
	hash, err := s.hashPassword(ctx, password)
	if err != nil {
		return nil, err
	}
	acc := &telemetryd.Account{
		ID:           uuid.NewString(),
		Username:     username,
		PasswordHash: string(hash),
		Roles:        roles,
		CreatedAt:    telemetryd.Microseconds(s.now()),
	}
	err = s.update(ctx, p, telemetryd.ManageAccounts, func(a *store.Access, callerPerms []telemetryd.Permission) error {
		if accountNamed(a, username) != nil {
			return telemetryd.Errorf(telemetryd.ECONFLICT, "account %s already exists", username)
		}
		for _, name := range roles {
			r := roleNamed(a, name)
			if r == nil {
				return telemetryd.Errorf(telemetryd.EINVALID, "roles: role %s does not exist", name)
			}
			if err := mayHandOut(callerPerms, r, "assigning"); err != nil {
				return err
			}
		}
		a.Accounts = append(a.Accounts, acc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.audit(ctx, "account.create", p.Username, username, slog.Any("roles", roles))
	return publicAccount(acc), nil
}

// SetAccountDisabled disables or enables the account and returns it. A
// disabled account cannot log in, and its access, refresh and API tokens
// stop working at once, for good: enabling it again revives none of them,
// so its user signs in again and creates new API tokens. Requires MANAGE_ACCOUNTS, and SUPER_ADMIN when the account
// holds SUPER_ADMIN: EUNAUTHENTICATED, EFORBIDDEN. ENOTFOUND for an
// unknown username; ECONFLICT when it would disable the last active
// super-admin.
func (s *Service) SetAccountDisabled(ctx context.Context, username string, disabled bool) (*telemetryd.Account, error) {
	return s.changeAccount(ctx, username, func(a *store.Access, acc *telemetryd.Account, _ []telemetryd.Permission) (string, []slog.Attr, error) {
		if acc.Disabled == disabled {
			return "", nil, nil
		}
		acc.Disabled = disabled
		if disabled {
			acc.TokensRevokedAt = telemetryd.Microseconds(s.now())
			return "account.disable", nil, nil
		}
		return "account.enable", nil, nil
	})
}

// AssignRole gives the account the role and returns the account; a role
// it holds already changes nothing. The role applies to access tokens
// issued from then on and to API tokens at once. Requires
// MANAGE_ACCOUNTS, every permission the role grants (only SUPER_ADMIN
// hands out SUPER_ADMIN), and SUPER_ADMIN when the account holds
// SUPER_ADMIN: EUNAUTHENTICATED, EFORBIDDEN. ENOTFOUND for an unknown
// username or role.
func (s *Service) AssignRole(ctx context.Context, username, role string) (*telemetryd.Account, error) {
	return s.changeAccount(ctx, username, func(a *store.Access, acc *telemetryd.Account, callerPerms []telemetryd.Permission) (string, []slog.Attr, error) {
		r := roleNamed(a, role)
		if r == nil {
			return "", nil, telemetryd.Errorf(telemetryd.ENOTFOUND, "role %s not found", role)
		}
		if err := mayHandOut(callerPerms, r, "assigning"); err != nil {
			return "", nil, err
		}
		if slices.Contains(acc.Roles, role) {
			return "", nil, nil
		}
		acc.Roles = append(acc.Roles, role)
		return "role.assign", []slog.Attr{slog.String("role", role)}, nil
	})
}

// RevokeRole takes the role from the account and returns the account; a
// role it does not hold changes nothing. Access and API tokens lose the
// role at once. Requires MANAGE_ACCOUNTS, every permission the role
// grants, and SUPER_ADMIN when the account holds SUPER_ADMIN:
// EUNAUTHENTICATED, EFORBIDDEN. ENOTFOUND for an unknown username, or an
// unknown role the account does not hold; ECONFLICT when the last active
// super-admin would lose SUPER_ADMIN.
func (s *Service) RevokeRole(ctx context.Context, username, role string) (*telemetryd.Account, error) {
	return s.changeAccount(ctx, username, func(a *store.Access, acc *telemetryd.Account, callerPerms []telemetryd.Permission) (string, []slog.Attr, error) {
		r := roleNamed(a, role)
		if !slices.Contains(acc.Roles, role) {
			if r == nil {
				return "", nil, telemetryd.Errorf(telemetryd.ENOTFOUND, "role %s not found", role)
			}
			return "", nil, nil
		}
		if r != nil {
			if err := mayHandOut(callerPerms, r, "revoking"); err != nil {
				return "", nil, err
			}
		}
		acc.Roles = slices.DeleteFunc(acc.Roles, func(name string) bool { return name == role })
		return "role.revoke", []slog.Attr{slog.String("role", role)}, nil
	})
}

// changeAccount runs change on the named account inside one update, after
// the checks every account change shares, and audits the action change
// names; an empty action means nothing changed.
func (s *Service) changeAccount(ctx context.Context, username string,
	change func(a *store.Access, acc *telemetryd.Account, callerPerms []telemetryd.Permission) (string, []slog.Attr, error),
) (*telemetryd.Account, error) {
	p, err := Require(ctx, telemetryd.ManageAccounts)
	if err != nil {
		return nil, err
	}
	var (
		result *telemetryd.Account
		action string
		attrs  []slog.Attr
	)
	err = s.update(ctx, p, telemetryd.ManageAccounts, func(a *store.Access, callerPerms []telemetryd.Permission) error {
		acc := accountNamed(a, username)
		if acc == nil {
			return telemetryd.Errorf(telemetryd.ENOTFOUND, "account %s not found", username)
		}
		// Without this, an account manager could lock out every
		// super-admin but the last.
		if slices.Contains(permissions(rolesByName(a), acc.Roles), telemetryd.SuperAdmin) && !telemetryd.Grants(callerPerms, telemetryd.SuperAdmin) {
			return telemetryd.Errorf(telemetryd.EFORBIDDEN, "changing super-admin account %s requires permission %s", username, telemetryd.SuperAdmin)
		}
		var err error
		if action, attrs, err = change(a, acc, callerPerms); err != nil {
			return err
		}
		result = publicAccount(acc)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if action != "" {
		s.audit(ctx, action, p.Username, username, attrs...)
	}
	return result, nil
}

// mayHandOut refuses the caller assigning, revoking or defining a role
// that grants a permission the caller lacks, which is how only
// SUPER_ADMIN hands out SUPER_ADMIN.
func mayHandOut(callerPerms []telemetryd.Permission, r *telemetryd.Role, doing string) error {
	for _, perm := range r.Permissions {
		if !telemetryd.Grants(callerPerms, perm) {
			return telemetryd.Errorf(telemetryd.EFORBIDDEN, "%s role %s requires permission %s", doing, r.Name, perm)
		}
	}
	return nil
}

// dedupe returns names without repeats, in first-seen order, never nil.
func dedupe[T comparable](names []T) []T {
	out := make([]T, 0, len(names))
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}
