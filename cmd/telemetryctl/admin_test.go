package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAccountsAndRoles(t *testing.T) {
	srv := sharedServer(t)
	admin := loginAs(t, srv, "admin", adminPassword)
	const alicePassword, bobPassword = "alice-password-1234", "bob-password-12345"

	t.Run("create a role", func(t *testing.T) {
		r := ctl(t, admin, "", "roles", "create", "auditors", "--permission", "read-telemetry")
		requireOK(t, r)
		assert.Equal(t, "created role auditors granting READ_TELEMETRY\n", r.stdout)
		r = ctl(t, admin, "", "roles", "list")
		requireOK(t, r)
		assert.Regexp(t, `(?m)^auditors\s+READ_TELEMETRY$`, r.stdout)
		assert.Regexp(t, `(?m)^super-admin\s+SUPER_ADMIN$`, r.stdout)
	})

	t.Run("create an account with the role", func(t *testing.T) {
		r := ctl(t, admin, alicePassword+"\n", "accounts", "create", "alice", "--role", "auditors", "--password-stdin")
		requireOK(t, r)
		assert.Equal(t, "created account alice with roles: auditors\n", r.stdout)
		requireOK(t, ctl(t, admin, bobPassword+"\n", "accounts", "create", "bob", "--password-stdin"))

		r = ctl(t, admin, "", "accounts", "list")
		requireOK(t, r)
		assert.Regexp(t, `(?m)^alice\s+active\s+auditors$`, r.stdout)
		assert.Regexp(t, `(?m)^bob\s+active\s+-$`, r.stdout)
		assert.Regexp(t, `(?m)^admin\s+active\s+super-admin$`, r.stdout)
	})

	alice := loginAs(t, srv, "alice", alicePassword)
	bob := loginAs(t, srv, "bob", bobPassword)

	t.Run("a reader reads telemetry but manages nothing", func(t *testing.T) {
		requireOK(t, ctl(t, alice, "", "telemetry", "list", "--limit", "1"))
		requireFailure(t, ctl(t, alice, "", "accounts", "list"), 1, "permission denied: requires permission MANAGE_ACCOUNTS")
		requireFailure(t, ctl(t, alice, "", "roles", "create", "x", "--permission", "READ_TELEMETRY"), 1, "permission denied: requires permission MANAGE_PERMISSIONS")
	})

	t.Run("an account without roles may not read telemetry", func(t *testing.T) {
		requireFailure(t, ctl(t, bob, "", "telemetry", "list"), 1, "permission denied: requires permission READ_TELEMETRY")
		requireFailure(t, ctl(t, bob, "", "telemetry", "export", "--output", t.TempDir()+"/x.json"), 1, "READ_TELEMETRY")
	})

	t.Run("an assigned role applies from the next login", func(t *testing.T) {
		r := ctl(t, admin, "", "accounts", "assign-role", "bob", "auditors")
		requireOK(t, r)
		assert.Equal(t, "account bob has roles: auditors\n", r.stdout)
		bob = loginAs(t, srv, "bob", bobPassword)
		requireOK(t, ctl(t, bob, "", "telemetry", "list", "--limit", "1"))

		r = ctl(t, admin, "", "accounts", "revoke-role", "bob", "auditors")
		requireOK(t, r)
		assert.Equal(t, "account bob has roles: -\n", r.stdout)
	})

	t.Run("changed permissions of a role apply at once", func(t *testing.T) {
		r := ctl(t, admin, "", "roles", "set-permissions", "auditors", "--permission", "MANAGE_ACCOUNTS")
		requireOK(t, r)
		assert.Equal(t, "role auditors granting MANAGE_ACCOUNTS\n", r.stdout)
		requireFailure(t, ctl(t, alice, "", "telemetry", "list"), 1, "requires permission READ_TELEMETRY")
		requireOK(t, ctl(t, alice, "", "accounts", "list"))
		requireOK(t, ctl(t, admin, "", "roles", "set-permissions", "auditors", "--permission", "READ_TELEMETRY"))
	})

	t.Run("a disabled account is locked out at once", func(t *testing.T) {
		r := ctl(t, admin, "", "accounts", "disable", "alice")
		requireOK(t, r)
		assert.Equal(t, "account alice is disabled\n", r.stdout)
		requireFailure(t, ctl(t, alice, "", "telemetry", "list"), 1, notLoggedIn)
		requireFailure(t, ctl(t, newUser(t, srv.url), alicePassword+"\n", "login", "--username", "alice", "--password-stdin"), 1, "invalid username or password")

		r = ctl(t, admin, "", "accounts", "enable", "alice")
		requireOK(t, r)
		assert.Equal(t, "account alice is active\n", r.stdout)
		alice = loginAs(t, srv, "alice", alicePassword)
		requireOK(t, ctl(t, alice, "", "telemetry", "list", "--limit", "1"))
	})

	t.Run("delete a role", func(t *testing.T) {
		requireOK(t, ctl(t, admin, "", "roles", "create", "short-lived", "--permission", "READ_TELEMETRY", "--permission", "MANAGE_ACCOUNTS"))
		r := ctl(t, admin, "", "roles", "delete", "short-lived")
		requireOK(t, r)
		assert.Equal(t, "deleted role short-lived\n", r.stdout)
		r = ctl(t, admin, "", "roles", "list", "-o", "json")
		requireOK(t, r)
		var roles []role
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &roles))
		for _, rl := range roles {
			assert.NotEqual(t, "short-lived", rl.Name)
		}
	})

	t.Run("server refusals are reported", func(t *testing.T) {
		tests := []struct {
			name string
			args []string
			want string
		}{
			{"a taken username", []string{"accounts", "create", "alice", "--password-stdin"}, "alice"},
			{"an unknown role", []string{"accounts", "assign-role", "alice", "no-such-role"}, "no-such-role"},
			{"a built-in role", []string{"roles", "delete", "super-admin"}, "built-in role super-admin"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := ctl(t, admin, "long-enough-password\n", tt.args...)
				requireFailure(t, r, 1, tt.want)
				assert.False(t, strings.Contains(r.stderr, "--help"), "not a usage mistake")
			})
		}
	})
}

func TestTokens(t *testing.T) {
	srv := sharedServer(t)
	admin := loginAs(t, srv, "admin", adminPassword)

	r := ctl(t, admin, "", "tokens", "create", "nightly-export", "--expires", "30d")
	requireOK(t, r)
	token := strings.TrimSpace(r.stdout)
	require.True(t, strings.HasPrefix(token, "tdk_"), "token %q", token)
	assert.Contains(t, r.stderr, "shown only this once")

	r = ctl(t, admin, "", "tokens", "list", "-o", "json")
	requireOK(t, r)
	var tokens []apiToken
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &tokens))
	require.Len(t, tokens, 1)
	id := tokens[0].ID
	assert.Equal(t, "nightly-export", tokens[0].Name)
	require.NotNil(t, tokens[0].ExpiresAt)

	script := newUser(t, srv.url) // no stored login
	t.Run("the token works with --token", func(t *testing.T) {
		requireOK(t, ctl(t, script, "", "--token", token, "telemetry", "list", "--limit", "1"))
	})
	t.Run("the token works from TELEMETRYCTL_TOKEN", func(t *testing.T) {
		script["TELEMETRYCTL_TOKEN"] = token
		requireOK(t, ctl(t, script, "", "telemetry", "list", "--limit", "1"))
	})
	t.Run("the table lists the token as active", func(t *testing.T) {
		r := ctl(t, admin, "", "tokens", "list")
		requireOK(t, r)
		assert.Regexp(t, `(?m)^`+id+`\s+nightly-export\s+active\s`, r.stdout)
	})
	t.Run("a revoked token stops working", func(t *testing.T) {
		r := ctl(t, admin, "", "tokens", "revoke", id)
		requireOK(t, r)
		assert.Equal(t, "revoked API token "+id+"\n", r.stdout)
		requireFailure(t, ctl(t, script, "", "telemetry", "list"), 1, notLoggedIn)
		r = ctl(t, admin, "", "tokens", "list")
		requireOK(t, r)
		assert.Regexp(t, `(?m)^`+id+`\s+nightly-export\s+revoked\s`, r.stdout)
	})
	t.Run("revoking an unknown token fails", func(t *testing.T) {
		requireFailure(t, ctl(t, admin, "", "tokens", "revoke", "00000000-0000-4000-8000-000000000000"), 1, "not found")
	})
}
