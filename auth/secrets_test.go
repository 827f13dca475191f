package auth_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
)

// secretsUsed runs every operation that handles a secret and returns the
// secrets: passwords and token values.
func secretsUsed(t *testing.T, e *env) []string {
	t.Helper()
	admin := e.admin(t)
	_, err := e.svc.CreateAccount(admin, "carol", userPassword, []string{telemetryd.RoleTelemetryReader})
	require.NoError(t, err)
	_, err = e.svc.Login(context.Background(), "carol", "a wrong password")
	requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	// A password typed into the username field must not be logged either.
	_, err = e.svc.Login(context.Background(), "my secret passphrase", userPassword)
	requireCode(t, telemetryd.EUNAUTHENTICATED, err)

	tokens := e.login(t, "carol", userPassword)
	carol := e.as(t, tokens.AccessToken)
	refreshed, err := e.svc.Refresh(context.Background(), tokens.RefreshToken)
	require.NoError(t, err)
	tok, apiToken, err := e.svc.CreateAPIToken(carol, "ci", time.Time{})
	require.NoError(t, err)
	_, err = e.svc.Authenticate(context.Background(), apiToken)
	require.NoError(t, err)
	_, err = e.svc.Authenticate(context.Background(), tokens.AccessToken+"x")
	requireCode(t, telemetryd.EUNAUTHENTICATED, err)
	require.NoError(t, e.svc.RevokeAPIToken(carol, tok.ID))
	_, err = e.svc.Logout(context.Background(), refreshed.RefreshToken)
	require.NoError(t, err)
	_, err = e.svc.SetAccountDisabled(admin, "carol", true)
	require.NoError(t, err)

	return []string{
		adminPassword, userPassword, "a wrong password", "my secret passphrase",
		tokens.AccessToken, tokens.RefreshToken, refreshed.AccessToken, refreshed.RefreshToken, apiToken,
		strings.TrimPrefix(apiToken, "tdk_"), strings.TrimPrefix(tokens.RefreshToken, "tdr_"),
	}
}

func TestNoSecretIsStoredInPlaintext(t *testing.T) {
	e := newEnv(t)
	secrets := secretsUsed(t, e)

	db, err := os.ReadFile(e.dbFile())
	require.NoError(t, err)
	require.Contains(t, string(db), "carol", "the scan reads the stored records")
	for _, s := range secrets {
		assert.NotContains(t, string(db), s)
	}
}

func TestAuditLinesNameWhoDidWhatAndNoSecret(t *testing.T) {
	e := newEnv(t)
	secrets := secretsUsed(t, e)

	logs := e.logs.String()
	for _, s := range secrets {
		assert.NotContains(t, logs, s)
	}
	assert.NotContains(t, logs, "$2a$", "no password hash")
	for _, line := range []string{
		`msg=audit action=account.create actor=admin target=carol roles=[telemetry-reader]`,
		`msg=audit action=login actor=carol target=carol`,
		`msg=audit action=login.failed actor="" target=carol`,
		`msg=audit action=login.failed actor="" target="(invalid username)"`,
		`msg=audit action=token.create actor=carol`,
		`msg=audit action=token.revoke actor=carol`,
		`msg=audit action=token.refresh actor=carol target=carol`,
		`msg=audit action=logout actor=carol target=carol`,
		`msg=audit action=account.disable actor=admin target=carol`,
	} {
		assert.Contains(t, logs, line)
	}
}
