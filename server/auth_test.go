package server_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The harness signs with this secret (see startOn).
var jwtSecret = []byte(strings.Repeat("s", 32))

func TestForgedAndBrokenTokensGet401(t *testing.T) {
	e := start(t)
	var me struct {
		Me struct{ ID string } `json:"me"`
	}
	e.mustGraphQL(e.admin, `{ me { id } }`, nil, &me)
	now := time.Now()
	valid := func() jwt.MapClaims {
		return jwt.MapClaims{
			"iss": "telemetryd", "aud": "telemetryd", "sub": me.Me.ID, "name": "admin",
			"roles": []string{"super-admin"}, "iat": now.Unix(), "nbf": now.Unix(),
			"exp": now.Add(time.Hour).Unix(), "jti": "test",
		}
	}
	sign := func(claims jwt.MapClaims, secret []byte) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
		require.NoError(t, err)
		return s
	}
	without := func(key string) jwt.MapClaims { c := valid(); delete(c, key); return c }
	with := func(key string, v any) jwt.MapClaims { c := valid(); c[key] = v; return c }
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, valid()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	require.NoError(t, err)
	good := sign(valid(), jwtSecret)
	parts := strings.Split(good, ".")
	payload := strings.Replace(mustDecode(t, parts[1]), `"super-admin"`, `"super-admin","x"`, 1)
	altered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + parts[2]

	require.Equal(t, http.StatusOK, e.get("/api/telemetry/snapshots", good).status, "the valid token of the table must work")
	cases := map[string]string{
		"garbage":                   "garbage",
		"alg none":                  none,
		"wrong secret":              sign(valid(), []byte(strings.Repeat("x", 32))),
		"expired beyond the leeway": sign(with("exp", now.Add(-time.Minute).Unix()), jwtSecret),
		"no exp":                    sign(without("exp"), jwtSecret),
		"wrong iss":                 sign(with("iss", "someone-else"), jwtSecret),
		"wrong aud":                 sign(with("aud", "someone-else"), jwtSecret),
		"payload altered under the old signature": altered,
		"thousands of dots":                       strings.Repeat(".", 5000),
	}
	for name, token := range cases {
		t.Run(name, func(t *testing.T) {
			res := e.get("/api/telemetry/snapshots", token)
			assert.Equal(t, http.StatusUnauthorized, res.status)
			assert.Contains(t, res.header.Get("WWW-Authenticate"), "Bearer")
			out, _ := e.graphql(token, `{ me { id } }`, nil)
			assert.Equal(t, "UNAUTHENTICATED", out.code())
		})
	}
}

func mustDecode(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	require.NoError(t, err)
	return string(b)
}

func TestPermissionChangesApplyToExistingTokens(t *testing.T) {
	e := start(t)
	e.mustGraphQL(e.admin, `mutation { createRole(name: "auditors", permissions: [READ_TELEMETRY]) { name } }`, nil, nil)
	auditor := e.account("auditor", "auditors")
	require.Equal(t, http.StatusOK, e.get("/api/telemetry/snapshots", auditor).status)

	e.mustGraphQL(e.admin, `mutation { setRolePermissions(name: "auditors", permissions: []) { name } }`, nil, nil)
	assert.Equal(t, http.StatusForbidden, e.get("/api/telemetry/snapshots", auditor).status, "the role's lost permission must deny the old token")

	e.mustGraphQL(e.admin, `mutation { setRolePermissions(name: "auditors", permissions: [READ_TELEMETRY]) { name } }`, nil, nil)
	require.Equal(t, http.StatusOK, e.get("/api/telemetry/snapshots", auditor).status)
	e.mustGraphQL(e.admin, `mutation { setAccountDisabled(username: "auditor", disabled: true) { disabled } }`, nil, nil)
	assert.Equal(t, http.StatusUnauthorized, e.get("/api/telemetry/snapshots", auditor).status, "a disabled account's token must stop at once")
}

func TestAPITokensOverHTTP(t *testing.T) {
	e := start(t)
	reader := e.account("reader", "telemetry-reader")
	var created struct {
		CreateAPIToken struct{ ID, Token string } `json:"createApiToken"`
	}
	e.mustGraphQL(reader, `mutation { createApiToken(name: "ci", expiresAt: "2099-12-31") { id token } }`, nil, &created)
	token := created.CreateAPIToken.Token
	require.True(t, strings.HasPrefix(token, "tdk_"))
	assert.Equal(t, http.StatusOK, e.get("/api/telemetry/snapshots", token).status)

	var listed struct {
		APITokens []map[string]any `json:"apiTokens"`
	}
	e.mustGraphQL(reader, `{ apiTokens { id name expiresAt revoked } }`, nil, &listed)
	require.Len(t, listed.APITokens, 1)
	assert.Equal(t, "2099-12-31T23:59:59.999999Z", listed.APITokens[0]["expiresAt"], "a bare date expires at the end of its day")
	assert.NotContains(t, listed.APITokens[0], "token", "the value is shown only once")

	e.mustGraphQL(reader, `mutation($id: ID!) { revokeApiToken(id: $id) }`, map[string]any{"id": created.CreateAPIToken.ID}, nil)
	assert.Equal(t, http.StatusUnauthorized, e.get("/api/telemetry/snapshots", token).status)
}

func TestRefreshRotatesAndLogoutRevokes(t *testing.T) {
	e := start(t)
	var login struct {
		Login struct{ AccessToken, RefreshToken string } `json:"login"`
	}
	e.mustGraphQL("", `mutation { login(username: "admin", password: "`+adminPassword+`") { accessToken refreshToken } }`, nil, &login)
	var refreshed struct {
		RefreshToken struct{ AccessToken, RefreshToken string } `json:"refreshToken"`
	}
	e.mustGraphQL("", `mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken refreshToken } }`,
		map[string]any{"r": login.Login.RefreshToken}, &refreshed)
	assert.Equal(t, http.StatusOK, e.get("/api/telemetry/snapshots", refreshed.RefreshToken.AccessToken).status)

	var logout struct{ Logout bool }
	e.mustGraphQL("", `mutation($r: String!) { logout(refreshToken: $r) }`, map[string]any{"r": refreshed.RefreshToken.RefreshToken}, &logout)
	assert.True(t, logout.Logout)
	out, _ := e.graphql("", `mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken } }`, map[string]any{"r": refreshed.RefreshToken.RefreshToken})
	assert.Equal(t, "UNAUTHENTICATED", out.code())

	out, _ = e.graphql("", `mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken } }`, map[string]any{"r": login.Login.RefreshToken})
	assert.Equal(t, "UNAUTHENTICATED", out.code(), "a used refresh token must not work twice")
}

func TestNoEscalationOverGraphQL(t *testing.T) {
	e := start(t)
	e.mustGraphQL(e.admin, `mutation { createRole(name: "account-managers", permissions: [MANAGE_ACCOUNTS]) { name } }`, nil, nil)
	e.mustGraphQL(e.admin, `mutation { createRole(name: "role-managers", permissions: [MANAGE_PERMISSIONS]) { name } }`, nil, nil)
	manager := e.account("manager", "account-managers")
	definer := e.account("definer", "role-managers")
	e.account("bob")

	cases := []struct {
		name, token, mutation string
	}{
		{"an account manager hands out super-admin", manager, `mutation { assignRole(username: "bob", role: "super-admin") { id } }`},
		{"an account manager hands out telemetry reading it lacks", manager, `mutation { assignRole(username: "bob", role: "telemetry-reader") { id } }`},
		{"an account manager creates an account with super-admin", manager, `mutation { createAccount(username: "eve", password: "long enough password", roles: ["super-admin"]) { id } }`},
		{"a role manager creates a role granting SUPER_ADMIN", definer, `mutation { createRole(name: "gods", permissions: [SUPER_ADMIN]) { name } }`},
		{"a role manager grants a permission it lacks", definer, `mutation { setRolePermissions(name: "role-managers", permissions: [MANAGE_PERMISSIONS, READ_TELEMETRY]) { name } }`},
		{"an account manager disables the admin", manager, `mutation { setAccountDisabled(username: "admin", disabled: true) { id } }`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, res := e.graphql(tc.token, tc.mutation, nil)
			assert.Equal(t, "FORBIDDEN", out.code(), "body: %s", res.body)
		})
	}

	t.Run("the last super admin can be neither disabled nor stripped", func(t *testing.T) {
		for _, m := range []string{
			`mutation { setAccountDisabled(username: "admin", disabled: true) { id } }`,
			`mutation { revokeRole(username: "admin", role: "super-admin") { id } }`,
		} {
			out, res := e.graphql(e.admin, m, nil)
			assert.Equal(t, "CONFLICT", out.code(), "body: %s", res.body)
		}
		assert.Equal(t, http.StatusOK, e.get("/api/telemetry/snapshots", e.admin).status)
	})
}
