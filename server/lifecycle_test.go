package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReenablingAnAccountDoesNotRestoreItsOldTokens(t *testing.T) {
	e := start(t)
	e.account("reader", "telemetry-reader")
	var login struct {
		Login struct{ AccessToken, RefreshToken string } `json:"login"`
	}
	e.mustGraphQL("", `mutation { login(username: "reader", password: "`+adminPassword+`") { accessToken refreshToken } }`, nil, &login)
	var created struct {
		CreateAPIToken struct{ Token string } `json:"createApiToken"`
	}
	e.mustGraphQL(login.Login.AccessToken, `mutation { createApiToken(name: "ci") { token } }`, nil, &created)
	access, refresh, apiToken := login.Login.AccessToken, login.Login.RefreshToken, created.CreateAPIToken.Token
	require.Equal(t, http.StatusOK, e.get("/api/telemetry/snapshots", apiToken).status)

	e.mustGraphQL(e.admin, `mutation { setAccountDisabled(username: "reader", disabled: true) { id } }`, nil, nil)
	e.mustGraphQL(e.admin, `mutation { setAccountDisabled(username: "reader", disabled: false) { id } }`, nil, nil)

	assert.Equal(t, http.StatusUnauthorized, e.get("/api/telemetry/snapshots", access).status, "the old access token")
	assert.Equal(t, http.StatusUnauthorized, e.get("/api/telemetry/snapshots", apiToken).status, "the old API token")
	out, _ := e.graphql("", `mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken } }`, map[string]any{"r": refresh})
	assert.Equal(t, "UNAUTHENTICATED", out.code(), "the old refresh token")

	var listed struct {
		APITokens []struct{ Revoked bool } `json:"apiTokens"`
	}
	reader := e.login("reader", adminPassword)
	e.mustGraphQL(reader, `{ apiTokens { revoked } }`, nil, &listed)
	require.Len(t, listed.APITokens, 1)
	assert.True(t, listed.APITokens[0].Revoked, "the listing shows the API token revoked")

	// Signing in again, at once, works.
	assert.Equal(t, http.StatusOK, e.get("/api/telemetry/snapshots", reader).status)
}

func TestUsernamesAreUniqueRegardlessOfCase(t *testing.T) {
	e := start(t)
	for _, name := range []string{"Admin", "ADMIN"} {
		out, res := e.graphql(e.admin, `mutation($u: String!) { createAccount(username: $u, password: "long enough password") { id } }`, map[string]any{"u": name})
		require.NotEmpty(t, out.Errors, "body: %s", res.body)
		assert.Equal(t, "CONFLICT", out.code())
		assert.Contains(t, out.Errors[0].Message, "admin")
	}
	var data struct {
		Accounts []struct{ Username string } `json:"accounts"`
	}
	e.mustGraphQL(e.admin, `{ accounts { username } }`, nil, &data)
	assert.Len(t, data.Accounts, 1)
}
