package auth_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
)

// canRead returns nil when the bearer of token may read telemetry right
// now, or why not.
func canRead(t *testing.T, svc *auth.Service, token string) error {
	t.Helper()
	p, err := svc.Authenticate(context.Background(), token)
	if err != nil {
		return err
	}
	_, err = auth.Require(auth.NewContext(context.Background(), p), telemetryd.ReadTelemetry)
	return err
}

func TestARoleLosingAPermissionDeniesExistingTokensAtOnce(t *testing.T) {
	e := newEnv(t)
	e.user(t, "reader", telemetryd.ReadTelemetry)
	tokens := e.login(t, "reader", userPassword)
	_, apiToken, err := e.svc.CreateAPIToken(e.as(t, tokens.AccessToken), "ci", time.Time{})
	require.NoError(t, err)
	require.NoError(t, canRead(t, e.svc, tokens.AccessToken))
	require.NoError(t, canRead(t, e.svc, apiToken))

	_, err = e.svc.SetRolePermissions(e.admin(t), "reader-role", []telemetryd.Permission{telemetryd.ManageAccounts})
	require.NoError(t, err)

	err = canRead(t, e.svc, tokens.AccessToken)
	requireCode(t, telemetryd.EFORBIDDEN, err)
	assert.Equal(t, "requires permission READ_TELEMETRY", telemetryd.ErrorMessage(err))
	requireCode(t, telemetryd.EFORBIDDEN, canRead(t, e.svc, apiToken))
}

func TestRevokingARoleDeniesExistingTokensAtOnce(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.CreateAccount(e.admin(t), "reader", userPassword, []string{telemetryd.RoleTelemetryReader})
	require.NoError(t, err)
	tokens := e.login(t, "reader", userPassword)
	require.NoError(t, canRead(t, e.svc, tokens.AccessToken))

	_, err = e.svc.RevokeRole(e.admin(t), "reader", telemetryd.RoleTelemetryReader)
	require.NoError(t, err)
	requireCode(t, telemetryd.EFORBIDDEN, canRead(t, e.svc, tokens.AccessToken))

	// Assigning it back applies from the next token, as the claims say.
	_, err = e.svc.AssignRole(e.admin(t), "reader", telemetryd.RoleTelemetryReader)
	require.NoError(t, err)
	require.NoError(t, canRead(t, e.svc, e.login(t, "reader", userPassword).AccessToken))
}

func TestDisablingAnAccountStopsAllItsTokensAtOnce(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.CreateAccount(e.admin(t), "reader", userPassword, []string{telemetryd.RoleTelemetryReader})
	require.NoError(t, err)
	tokens := e.login(t, "reader", userPassword)
	_, apiToken, err := e.svc.CreateAPIToken(e.as(t, tokens.AccessToken), "ci", time.Time{})
	require.NoError(t, err)
	// Both verified once: what is remembered of them must not outlive
	// the account's state.
	require.NoError(t, canRead(t, e.svc, tokens.AccessToken))
	require.NoError(t, canRead(t, e.svc, apiToken))

	acc, err := e.svc.SetAccountDisabled(e.admin(t), "reader", true)
	require.NoError(t, err)
	assert.True(t, acc.Disabled)

	requireCode(t, telemetryd.EUNAUTHENTICATED, canRead(t, e.svc, tokens.AccessToken))
	requireCode(t, telemetryd.EUNAUTHENTICATED, canRead(t, e.svc, apiToken))
	_, err = e.svc.Refresh(context.Background(), tokens.RefreshToken)
	requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	_, err = e.svc.Login(context.Background(), "reader", userPassword)
	requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	assert.Equal(t, "invalid username or password", telemetryd.ErrorMessage(err))

	// Enabling it again revives none of them; signing in again works at
	// once, within the same second.
	_, err = e.svc.SetAccountDisabled(e.admin(t), "reader", false)
	require.NoError(t, err)
	requireCode(t, telemetryd.EUNAUTHENTICATED, canRead(t, e.svc, tokens.AccessToken))
	requireCode(t, telemetryd.EUNAUTHENTICATED, canRead(t, e.svc, apiToken))
	_, err = e.svc.Refresh(context.Background(), tokens.RefreshToken)
	requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	e.clock.Advance(time.Microsecond)
	again := e.login(t, "reader", userPassword)
	require.NoError(t, canRead(t, e.svc, again.AccessToken))
	_, err = e.svc.Refresh(context.Background(), again.RefreshToken)
	require.NoError(t, err)
}

func TestChangesOnAnotherReplicaApplyWithinFiveSeconds(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.CreateAccount(e.admin(t), "reader", userPassword, []string{telemetryd.RoleTelemetryReader})
	require.NoError(t, err)
	tokens := e.login(t, "reader", userPassword)

	// Another replica sharing the store serves the reader's requests.
	replica := e.newService()
	_, err = replica.Bootstrap(context.Background(), "", testSecret)
	require.NoError(t, err)
	require.NoError(t, canRead(t, replica, tokens.AccessToken))

	_, err = e.svc.SetAccountDisabled(e.admin(t), "reader", true)
	require.NoError(t, err)
	e.clock.Advance(5 * time.Second)
	requireCode(t, telemetryd.EUNAUTHENTICATED, canRead(t, replica, tokens.AccessToken))
}

func TestAPITokensActWithTheAccountsCurrentRoles(t *testing.T) {
	e := newEnv(t)
	botCtx := e.user(t, "bot")
	tok, value, err := e.svc.CreateAPIToken(botCtx, "nightly export", start.Add(24*time.Hour))
	require.NoError(t, err)
	assert.Regexp(t, `^tdk_[A-Za-z0-9_-]{43}$`, value)
	assert.Empty(t, tok.Hash, "the hash is not handed out")
	assert.Equal(t, telemetryd.APIToken, tok.Kind)

	requireCode(t, telemetryd.EFORBIDDEN, canRead(t, e.svc, value))
	_, err = e.svc.AssignRole(e.admin(t), "bot", telemetryd.RoleTelemetryReader)
	require.NoError(t, err)
	require.NoError(t, canRead(t, e.svc, value), "a role assigned after the token was made applies at once")

	p, err := e.svc.Authenticate(context.Background(), value)
	require.NoError(t, err)
	assert.Equal(t, telemetryd.APIToken, p.TokenKind)
	assert.Equal(t, "bot", p.Username)
	assert.Equal(t, []string{telemetryd.RoleTelemetryReader}, p.Roles)

	e.clock.Advance(24 * time.Hour)
	requireCode(t, telemetryd.EUNAUTHENTICATED, canRead(t, e.svc, value))
}

func TestAPITokenUseIsRecordedAtMostOnceAMinute(t *testing.T) {
	e := newEnv(t)
	ctx := e.user(t, "bot")
	_, value, err := e.svc.CreateAPIToken(ctx, "ci", time.Time{})
	require.NoError(t, err)

	lastUsed := func() time.Time {
		toks, err := e.svc.ListAPITokens(ctx)
		require.NoError(t, err)
		require.Len(t, toks, 1)
		return toks[0].LastUsedAt
	}
	_, err = e.svc.Authenticate(context.Background(), value)
	require.NoError(t, err)
	assert.True(t, lastUsed().Equal(start))

	e.clock.Advance(30 * time.Second)
	_, err = e.svc.Authenticate(context.Background(), value)
	require.NoError(t, err)
	assert.True(t, lastUsed().Equal(start), "no write within the minute")

	e.clock.Advance(30 * time.Second)
	_, err = e.svc.Authenticate(context.Background(), value)
	require.NoError(t, err)
	assert.True(t, lastUsed().Equal(start.Add(time.Minute)))
}

func TestRevokingAPITokens(t *testing.T) {
	e := newEnv(t)
	bob := e.user(t, "bob")
	carol := e.user(t, "carol")
	bobTok, bobValue, err := e.svc.CreateAPIToken(bob, "bob's", time.Time{})
	require.NoError(t, err)
	carolTok, carolValue, err := e.svc.CreateAPIToken(carol, "carol's", time.Time{})
	require.NoError(t, err)

	t.Run("another account's token is not found", func(t *testing.T) {
		requireCode(t, telemetryd.ENOTFOUND, e.svc.RevokeAPIToken(bob, carolTok.ID))
		_, err := e.svc.Authenticate(context.Background(), carolValue)
		require.NoError(t, err)
	})
	t.Run("an own token is revoked and stops working", func(t *testing.T) {
		require.NoError(t, e.svc.RevokeAPIToken(bob, bobTok.ID))
		_, err := e.svc.Authenticate(context.Background(), bobValue)
		requireCode(t, telemetryd.EUNAUTHENTICATED, err)
		require.NoError(t, e.svc.RevokeAPIToken(bob, bobTok.ID), "revoking twice is harmless")
		toks, err := e.svc.ListAPITokens(bob)
		require.NoError(t, err)
		require.Len(t, toks, 1)
		assert.False(t, toks[0].RevokedAt.IsZero())
	})
	t.Run("an account manager revokes anyone's token", func(t *testing.T) {
		require.NoError(t, e.svc.RevokeAPIToken(e.admin(t), carolTok.ID))
		_, err := e.svc.Authenticate(context.Background(), carolValue)
		requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	})
	t.Run("an unknown id is not found", func(t *testing.T) {
		requireCode(t, telemetryd.ENOTFOUND, e.svc.RevokeAPIToken(e.admin(t), "no-such-id"))
	})
	t.Run("a token in the past is invalid", func(t *testing.T) {
		_, _, err := e.svc.CreateAPIToken(bob, "old", start.Add(-time.Second))
		requireCode(t, telemetryd.EINVALID, err)
		_, _, err = e.svc.CreateAPIToken(bob, "  ", time.Time{})
		requireCode(t, telemetryd.EINVALID, err)
	})
	t.Run("an anonymous caller is unauthenticated", func(t *testing.T) {
		_, _, err := e.svc.CreateAPIToken(context.Background(), "x", time.Time{})
		requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	})
}

func TestAPITokensCannotCreateAPITokens(t *testing.T) {
	e := newEnv(t)
	bob := e.user(t, "bob", telemetryd.ReadTelemetry)
	_, value, err := e.svc.CreateAPIToken(bob, "short-lived", start.Add(time.Hour))
	require.NoError(t, err)

	_, _, err = e.svc.CreateAPIToken(e.as(t, value), "forever", time.Time{})
	requireCode(t, telemetryd.EFORBIDDEN, err)
	assert.Equal(t, "API tokens cannot create API tokens; sign in", telemetryd.ErrorMessage(err))
	toks, err := e.svc.ListAPITokens(bob)
	require.NoError(t, err)
	assert.Len(t, toks, 1, "nothing was created")
}

func TestOnlySuperAdminsRevokeSuperAdminsAPITokens(t *testing.T) {
	e := newEnv(t)
	admin := e.admin(t)
	manager := e.user(t, "manager", telemetryd.ManageAccounts)
	_, err := e.svc.CreateAccount(admin, "alice", userPassword, []string{telemetryd.RoleSuperAdmin})
	require.NoError(t, err)
	alice := e.as(t, e.login(t, "alice", userPassword).AccessToken)
	carol := e.user(t, "carol")

	adminTok, adminValue, err := e.svc.CreateAPIToken(admin, "admin's", time.Time{})
	require.NoError(t, err)
	aliceTok, aliceValue, err := e.svc.CreateAPIToken(alice, "alice's", time.Time{})
	require.NoError(t, err)
	carolTok, carolValue, err := e.svc.CreateAPIToken(carol, "carol's", time.Time{})
	require.NoError(t, err)

	t.Run("an account manager revoking a super-admin's token is forbidden", func(t *testing.T) {
		err := e.svc.RevokeAPIToken(manager, adminTok.ID)
		requireCode(t, telemetryd.EFORBIDDEN, err)
		assert.Equal(t, "revoking an API token of super-admin account admin requires permission SUPER_ADMIN", telemetryd.ErrorMessage(err))
		_, err = e.svc.Authenticate(context.Background(), adminValue)
		require.NoError(t, err, "the token still works")
	})
	t.Run("an account manager revokes other accounts' tokens", func(t *testing.T) {
		require.NoError(t, e.svc.RevokeAPIToken(manager, carolTok.ID))
		_, err := e.svc.Authenticate(context.Background(), carolValue)
		requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	})
	t.Run("a super-admin revokes another super-admin's token", func(t *testing.T) {
		require.NoError(t, e.svc.RevokeAPIToken(admin, aliceTok.ID))
		_, err := e.svc.Authenticate(context.Background(), aliceValue)
		requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	})
}

func TestRoleDefinitionsNeedNoPermission(t *testing.T) {
	e := newEnv(t)
	_, err := e.svc.CreateAccount(e.admin(t), "reader", userPassword, []string{telemetryd.RoleTelemetryReader})
	require.NoError(t, err)
	reader := e.as(t, e.login(t, "reader", userPassword).AccessToken)

	me, err := e.svc.Me(reader)
	require.NoError(t, err)
	roles, err := e.svc.RoleDefinitions(reader, append(me.Roles, "deleted-role"))
	require.NoError(t, err)
	assert.Equal(t, []*telemetryd.Role{
		{Name: telemetryd.RoleTelemetryReader, Permissions: []telemetryd.Permission{telemetryd.ReadTelemetry}},
		{Name: "deleted-role", Permissions: []telemetryd.Permission{}},
	}, roles, "in the order given; a role without a definition grants nothing")

	_, err = e.svc.RoleDefinitions(context.Background(), me.Roles)
	requireCode(t, telemetryd.EUNAUTHENTICATED, err)
}
