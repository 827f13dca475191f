package auth_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
)

func TestNobodyHandsOutAPermissionTheyLack(t *testing.T) {
	e := newEnv(t)
	accounts := e.user(t, "accounts-manager", telemetryd.ManageAccounts)
	perms := e.user(t, "permissions-manager", telemetryd.ManagePermissions)
	_, err := e.svc.CreateAccount(e.admin(t), "target", userPassword, nil)
	require.NoError(t, err)

	cases := []struct {
		name    string
		attempt func() error
		message string
	}{
		{"an account manager assigning super-admin is forbidden", func() error {
			_, err := e.svc.AssignRole(accounts, "target", telemetryd.RoleSuperAdmin)
			return err
		}, "assigning role super-admin requires permission SUPER_ADMIN"},
		{"an account manager assigning super-admin to itself is forbidden", func() error {
			_, err := e.svc.AssignRole(accounts, "accounts-manager", telemetryd.RoleSuperAdmin)
			return err
		}, "assigning role super-admin requires permission SUPER_ADMIN"},
		{"an account manager assigning a permission it lacks is forbidden", func() error {
			_, err := e.svc.AssignRole(accounts, "target", telemetryd.RoleTelemetryReader)
			return err
		}, "assigning role telemetry-reader requires permission READ_TELEMETRY"},
		{"an account manager creating a super-admin is forbidden", func() error {
			_, err := e.svc.CreateAccount(accounts, "mallory", userPassword, []string{telemetryd.RoleSuperAdmin})
			return err
		}, "assigning role super-admin requires permission SUPER_ADMIN"},
		{"an account manager disabling a super-admin is forbidden", func() error {
			_, err := e.svc.SetAccountDisabled(accounts, telemetryd.AdminUsername, true)
			return err
		}, "changing super-admin account admin requires permission SUPER_ADMIN"},
		{"a permissions manager creating a SUPER_ADMIN role is forbidden", func() error {
			_, err := e.svc.CreateRole(perms, "root", []telemetryd.Permission{telemetryd.SuperAdmin})
			return err
		}, "creating role root requires permission SUPER_ADMIN"},
		{"a permissions manager creating a role with READ_TELEMETRY is forbidden", func() error {
			_, err := e.svc.CreateRole(perms, "readers", []telemetryd.Permission{telemetryd.ReadTelemetry})
			return err
		}, "creating role readers requires permission READ_TELEMETRY"},
		{"a permissions manager widening its own role is forbidden", func() error {
			_, err := e.svc.SetRolePermissions(perms, "permissions-manager-role",
				[]telemetryd.Permission{telemetryd.ManagePermissions, telemetryd.SuperAdmin})
			return err
		}, "changing role permissions-manager-role requires permission SUPER_ADMIN"},
		{"a permissions manager changing a built-in role is forbidden", func() error {
			_, err := e.svc.SetRolePermissions(perms, telemetryd.RoleTelemetryReader, []telemetryd.Permission{telemetryd.ManagePermissions})
			return err
		}, "built-in role telemetry-reader cannot be changed or deleted"},
		{"an account manager creating roles is forbidden", func() error {
			_, err := e.svc.CreateRole(accounts, "x", nil)
			return err
		}, "requires permission MANAGE_PERMISSIONS"},
		{"a permissions manager creating accounts is forbidden", func() error {
			_, err := e.svc.CreateAccount(perms, "x", userPassword, nil)
			return err
		}, "requires permission MANAGE_ACCOUNTS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.attempt()
			requireCode(t, telemetryd.EFORBIDDEN, err)
			assert.Equal(t, tc.message, telemetryd.ErrorMessage(err))
		})
	}

	t.Run("within their own permissions managers succeed", func(t *testing.T) {
		_, err := e.svc.CreateRole(perms, "delegates", []telemetryd.Permission{telemetryd.ManagePermissions})
		require.NoError(t, err)
		_, err = e.svc.AssignRole(accounts, "target", "accounts-manager-role")
		require.NoError(t, err)
	})
	t.Run("a caller whose role was revoked cannot use it any more", func(t *testing.T) {
		_, err := e.svc.RevokeRole(e.admin(t), "accounts-manager", "accounts-manager-role")
		require.NoError(t, err)
		_, err = e.svc.CreateAccount(accounts, "late", userPassword, nil)
		// The caller was authenticated before the revocation; the change
		// checks the permissions as they are now.
		requireCode(t, telemetryd.EFORBIDDEN, err)
	})

	access, err := e.store.Access(context.Background())
	require.NoError(t, err)
	for _, acc := range access.Accounts {
		if acc.Username != telemetryd.AdminUsername {
			assert.NotContains(t, acc.Roles, telemetryd.RoleSuperAdmin, acc.Username)
		}
	}
}

func TestTheLastActiveSuperAdminStays(t *testing.T) {
	e := newEnv(t)
	admin := e.admin(t)

	_, err := e.svc.SetAccountDisabled(admin, telemetryd.AdminUsername, true)
	requireCode(t, telemetryd.ECONFLICT, err)
	_, err = e.svc.RevokeRole(admin, telemetryd.AdminUsername, telemetryd.RoleSuperAdmin)
	requireCode(t, telemetryd.ECONFLICT, err)

	// Holding SUPER_ADMIN through a custom role only, the admin still
	// cannot lose it through that role's definition.
	_, err = e.svc.CreateRole(admin, "root", []telemetryd.Permission{telemetryd.SuperAdmin})
	require.NoError(t, err)
	_, err = e.svc.AssignRole(admin, telemetryd.AdminUsername, "root")
	require.NoError(t, err)
	_, err = e.svc.RevokeRole(admin, telemetryd.AdminUsername, telemetryd.RoleSuperAdmin)
	require.NoError(t, err, "root still grants SUPER_ADMIN")
	admin = e.admin(t) // a token carrying root
	_, err = e.svc.SetRolePermissions(admin, "root", []telemetryd.Permission{telemetryd.ReadTelemetry})
	requireCode(t, telemetryd.ECONFLICT, err)
	_, err = e.svc.RevokeRole(admin, telemetryd.AdminUsername, "root")
	requireCode(t, telemetryd.ECONFLICT, err)

	t.Run("with a second super-admin the first can go", func(t *testing.T) {
		_, err := e.svc.CreateAccount(admin, "alice", userPassword, []string{telemetryd.RoleSuperAdmin})
		require.NoError(t, err)
		_, err = e.svc.SetRolePermissions(admin, "root", []telemetryd.Permission{telemetryd.ReadTelemetry})
		require.NoError(t, err)
		alice := e.as(t, e.login(t, "alice", userPassword).AccessToken)
		_, err = e.svc.SetAccountDisabled(alice, telemetryd.AdminUsername, true)
		require.NoError(t, err)
		_, err = e.svc.SetAccountDisabled(alice, "alice", true)
		requireCode(t, telemetryd.ECONFLICT, err)
	})
}

func TestAccountAndRoleValidation(t *testing.T) {
	e := newEnv(t)
	admin := e.admin(t)

	cases := []struct {
		name    string
		code    string
		attempt func() error
		names   string
	}{
		{"a short password is invalid", telemetryd.EINVALID, func() error {
			_, err := e.svc.CreateAccount(admin, "bob", "short", nil)
			return err
		}, "password"},
		{"a bad username is invalid", telemetryd.EINVALID, func() error {
			_, err := e.svc.CreateAccount(admin, "bob smith", userPassword, nil)
			return err
		}, "username"},
		{"an unknown role is invalid", telemetryd.EINVALID, func() error {
			_, err := e.svc.CreateAccount(admin, "bob", userPassword, []string{"no-such-role"})
			return err
		}, "roles"},
		{"a taken username conflicts", telemetryd.ECONFLICT, func() error {
			_, err := e.svc.CreateAccount(admin, telemetryd.AdminUsername, userPassword, nil)
			return err
		}, "admin"},
		{"an unknown permission is invalid", telemetryd.EINVALID, func() error {
			_, err := e.svc.CreateRole(admin, "x", []telemetryd.Permission{"READ_EVERYTHING"})
			return err
		}, "permissions"},
		{"a bad role name is invalid", telemetryd.EINVALID, func() error {
			_, err := e.svc.CreateRole(admin, "Not A Name", nil)
			return err
		}, "name"},
		{"a taken role name conflicts", telemetryd.ECONFLICT, func() error {
			_, err := e.svc.CreateRole(admin, telemetryd.RoleTelemetryReader, nil)
			return err
		}, "telemetry-reader"},
		{"an unknown account is not found", telemetryd.ENOTFOUND, func() error {
			_, err := e.svc.SetAccountDisabled(admin, "nobody", true)
			return err
		}, "nobody"},
		{"assigning an unknown role is not found", telemetryd.ENOTFOUND, func() error {
			_, err := e.svc.AssignRole(admin, telemetryd.AdminUsername, "nothing")
			return err
		}, "nothing"},
		{"changing an unknown role is not found", telemetryd.ENOTFOUND, func() error {
			_, err := e.svc.SetRolePermissions(admin, "nothing", nil)
			return err
		}, "nothing"},
		{"deleting an unknown role is not found", telemetryd.ENOTFOUND, func() error {
			return e.svc.DeleteRole(admin, "nothing")
		}, "nothing"},
		{"deleting a built-in role is forbidden", telemetryd.EFORBIDDEN, func() error {
			return e.svc.DeleteRole(admin, telemetryd.RoleSuperAdmin)
		}, "super-admin"},
		{"anonymous callers are unauthenticated", telemetryd.EUNAUTHENTICATED, func() error {
			_, err := e.svc.Accounts(context.Background())
			return err
		}, "authentication"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.attempt()
			requireCode(t, tc.code, err)
			assert.Contains(t, telemetryd.ErrorMessage(err), tc.names)
		})
	}
}

func TestManagingAccountsAndRoles(t *testing.T) {
	e := newEnv(t)
	admin := e.admin(t)

	role, err := e.svc.CreateRole(admin, "auditors", []telemetryd.Permission{telemetryd.ManageAccounts, telemetryd.ReadTelemetry, telemetryd.ReadTelemetry})
	require.NoError(t, err)
	assert.Equal(t, []telemetryd.Permission{telemetryd.ReadTelemetry, telemetryd.ManageAccounts}, role.Permissions, "deduplicated, in schema order")

	acc, err := e.svc.CreateAccount(admin, "bob", userPassword, []string{"auditors", "auditors"})
	require.NoError(t, err)
	assert.Equal(t, []string{"auditors"}, acc.Roles)
	assert.Empty(t, acc.PasswordHash)
	assert.NotEmpty(t, acc.ID)

	accounts, err := e.svc.Accounts(admin)
	require.NoError(t, err)
	require.Len(t, accounts, 2)
	assert.Equal(t, "admin", accounts[0].Username)
	assert.Equal(t, "bob", accounts[1].Username)
	for _, a := range accounts {
		assert.Empty(t, a.PasswordHash)
	}

	roles, err := e.svc.Roles(e.as(t, e.login(t, "bob", userPassword).AccessToken))
	require.NoError(t, err, "account managers see the roles they assign")
	assert.Equal(t, []string{"auditors", "super-admin", "telemetry-reader"}, []string{roles[0].Name, roles[1].Name, roles[2].Name})

	me, err := e.svc.Me(e.as(t, e.login(t, "bob", userPassword).AccessToken))
	require.NoError(t, err)
	assert.Equal(t, "bob", me.Username)
	assert.Empty(t, me.PasswordHash)

	err = e.svc.DeleteRole(admin, "auditors")
	requireCode(t, telemetryd.ECONFLICT, err)
	assert.Equal(t, "role auditors is held by 1 account; revoke it first", telemetryd.ErrorMessage(err))
	_, err = e.svc.RevokeRole(admin, "bob", "auditors")
	require.NoError(t, err)
	require.NoError(t, e.svc.DeleteRole(admin, "auditors"))
	roles, err = e.svc.Roles(admin)
	require.NoError(t, err)
	assert.Len(t, roles, 2)
}

func TestConcurrentRemovalsLeaveASuperAdmin(t *testing.T) {
	cases := []struct {
		name string
		// loser is the code of the later request: it finds no other
		// super-admin to spare (CONFLICT), or that it has lost
		// SUPER_ADMIN itself (FORBIDDEN) or been disabled
		// (UNAUTHENTICATED).
		loser string
		// remove has the caller remove SUPER_ADMIN from one of the two
		// super-admins: self is the caller's username, other the other's.
		remove func(e *env, ctx context.Context, self, other string) error
	}{
		{"each revoking the other's role", telemetryd.EFORBIDDEN, func(e *env, ctx context.Context, _, other string) error {
			_, err := e.svc.RevokeRole(ctx, other, telemetryd.RoleSuperAdmin)
			return err
		}},
		{"each revoking its own role", telemetryd.ECONFLICT, func(e *env, ctx context.Context, self, _ string) error {
			_, err := e.svc.RevokeRole(ctx, self, telemetryd.RoleSuperAdmin)
			return err
		}},
		{"each disabling the other", telemetryd.EUNAUTHENTICATED, func(e *env, ctx context.Context, _, other string) error {
			_, err := e.svc.SetAccountDisabled(ctx, other, true)
			return err
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name+" leaves one", func(t *testing.T) {
			e := newEnv(t)
			_, err := e.svc.CreateAccount(e.admin(t), "alice", userPassword, []string{telemetryd.RoleSuperAdmin})
			require.NoError(t, err)
			callers := map[string]context.Context{
				telemetryd.AdminUsername: e.admin(t),
				"alice":                  e.as(t, e.login(t, "alice", userPassword).AccessToken),
			}

			begin := make(chan struct{})
			errs := make(chan error, 2)
			var wg sync.WaitGroup
			for self, other := range map[string]string{telemetryd.AdminUsername: "alice", "alice": telemetryd.AdminUsername} {
				wg.Go(func() {
					<-begin
					errs <- tc.remove(e, callers[self], self, other)
				})
			}
			close(begin)
			wg.Wait()
			close(errs)

			var failed []error
			for err := range errs {
				if err != nil {
					failed = append(failed, err)
				}
			}
			require.Len(t, failed, 1, "exactly one removal succeeds")
			requireCode(t, tc.loser, failed[0])

			access, err := e.store.Access(context.Background())
			require.NoError(t, err)
			supers := 0
			for _, acc := range access.Accounts {
				if !acc.Disabled && slices.Contains(acc.Roles, telemetryd.RoleSuperAdmin) {
					supers++
				}
			}
			assert.Equal(t, 1, supers)
		})
	}
}
