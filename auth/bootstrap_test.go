package auth_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
	"github.com/telemetryd/telemetryd/internal/testclock"
	"github.com/telemetryd/telemetryd/store/embedded"
)

func TestBootstrapIsIdempotentAndPrintsAGeneratedPasswordOnce(t *testing.T) {
	ctx := context.Background()
	st, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	clk := testclock.New(start)
	newService := func() *auth.Service {
		return auth.New(auth.Config{Store: st, Now: clk.Now, PasswordCost: bcrypt.MinCost})
	}

	first := newService()
	password, err := first.Bootstrap(ctx, "", "")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, len(password), 20)
	tokens, err := first.Login(ctx, telemetryd.AdminUsername, password)
	require.NoError(t, err, "the generated password signs the admin in")

	// A restart (or a second replica) creates nothing and prints nothing.
	second := newService()
	again, err := second.Bootstrap(ctx, "", "")
	require.NoError(t, err)
	assert.Empty(t, again)

	access, err := st.Access(ctx)
	require.NoError(t, err)
	require.Len(t, access.Accounts, 1)
	assert.Equal(t, telemetryd.AdminUsername, access.Accounts[0].Username)
	assert.Equal(t, []string{telemetryd.RoleSuperAdmin}, access.Accounts[0].Roles)
	assert.Equal(t, []*telemetryd.Role{
		{Name: telemetryd.RoleSuperAdmin, Permissions: []telemetryd.Permission{telemetryd.SuperAdmin}},
		{Name: telemetryd.RoleTelemetryReader, Permissions: []telemetryd.Permission{telemetryd.ReadTelemetry}},
	}, access.Roles)

	// The generated JWT secret was kept: the restarted service accepts
	// tokens the first one issued.
	p, err := second.Authenticate(ctx, tokens.AccessToken)
	require.NoError(t, err)
	assert.True(t, p.Can(telemetryd.ReadTelemetry))
	_, err = second.Login(ctx, telemetryd.AdminUsername, password)
	require.NoError(t, err, "the password is unchanged by the second bootstrap")
}

func TestBootstrapWithAGivenPasswordAndSecret(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t) // bootstrapped with adminPassword and testSecret
	e.login(t, telemetryd.AdminUsername, adminPassword)

	t.Run("a given password is not printed", func(t *testing.T) {
		svc := e.newService()
		password, err := svc.Bootstrap(ctx, "another password!!", testSecret)
		require.NoError(t, err)
		assert.Empty(t, password)
		_, err = svc.Login(ctx, telemetryd.AdminUsername, adminPassword)
		require.NoError(t, err, "an existing admin keeps its password")
	})

	t.Run("another secret refuses tokens signed with the old one", func(t *testing.T) {
		tokens := e.login(t, telemetryd.AdminUsername, adminPassword)
		svc := e.newService()
		_, err := svc.Bootstrap(ctx, "", "a different secret of at least 32 bytes")
		require.NoError(t, err)
		_, err = svc.Authenticate(ctx, tokens.AccessToken)
		requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	})

	t.Run("a short password is refused", func(t *testing.T) {
		_, err := e.newService().Bootstrap(ctx, "short", "")
		requireCode(t, telemetryd.EINVALID, err)
		assert.Contains(t, telemetryd.ErrorMessage(err), "password")
	})

	t.Run("a short secret is refused", func(t *testing.T) {
		_, err := e.newService().Bootstrap(ctx, "", "too short")
		requireCode(t, telemetryd.EINVALID, err)
	})
}

func TestServiceWithoutBootstrapIssuesNoTokens(t *testing.T) {
	st, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	svc := auth.New(auth.Config{Store: st, Logger: slog.Default(), Now: func() time.Time { return start }})
	_, err = svc.Authenticate(context.Background(), "a.b.c")
	require.Error(t, err)
	assert.Equal(t, telemetryd.EINTERNAL, telemetryd.ErrorCode(err))
}
