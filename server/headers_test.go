package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokensAndAuthenticatedAnswersAreNeverCached(t *testing.T) {
	e := start(t)
	login, err := json.Marshal(map[string]any{
		"query":     `mutation($p: String!) { login(username: "admin", password: $p) { accessToken refreshToken } }`,
		"variables": map[string]any{"p": adminPassword},
	})
	require.NoError(t, err)
	loginReq, err := http.NewRequest(http.MethodPost, e.url+"/graphql", bytes.NewReader(login))
	require.NoError(t, err)
	loginReq.Header.Set("Content-Type", "application/json")
	graphqlGet, err := http.NewRequest(http.MethodGet, e.url+`/graphql?query={me{username}}`, nil)
	require.NoError(t, err)
	graphqlGet.Header.Set("Authorization", "Bearer "+e.admin)
	list, err := http.NewRequest(http.MethodGet, e.url+"/api/telemetry/snapshots", nil)
	require.NoError(t, err)
	list.Header.Set("Authorization", "Bearer "+e.admin)
	refused, err := http.NewRequest(http.MethodGet, e.url+"/api/telemetry/snapshots", nil)
	require.NoError(t, err)
	restLogin, err := http.NewRequest(http.MethodPost, e.url+"/api/auth/login",
		bytes.NewReader([]byte(`{"username": "admin", "password": "`+adminPassword+`"}`)))
	require.NoError(t, err)
	restLogin.Header.Set("Content-Type", "application/json")

	for name, req := range map[string]*http.Request{
		"a login over GraphQL":      loginReq,
		"a login over REST":         restLogin,
		"a signed-in GraphQL query": graphqlGet,
		"a signed-in REST listing":  list,
		"a refused REST call":       refused,
	} {
		t.Run(name, func(t *testing.T) {
			res := e.do(req)
			assert.Equal(t, "no-store", res.header.Get("Cache-Control"), "status %d", res.status)
			assert.Equal(t, "nosniff", res.header.Get("X-Content-Type-Options"))
		})
	}
	t.Run("health checks", func(t *testing.T) {
		assert.Equal(t, "nosniff", e.get("/healthz", "").header.Get("X-Content-Type-Options"))
	})
}

func TestMethodNotAllowedSaysWhichAre(t *testing.T) {
	e := start(t)
	cases := []struct{ method, path, allow string }{
		{http.MethodPost, "/healthz", "GET, HEAD"},
		{http.MethodDelete, "/api/telemetry/snapshots", "GET, HEAD"},
		{http.MethodPut, "/graphql", "GET, HEAD, POST"},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, e.url+tc.path, nil)
			require.NoError(t, err)
			res := e.do(req)
			require.Equal(t, http.StatusMethodNotAllowed, res.status)
			assert.Equal(t, tc.allow, res.header.Get("Allow"))
		})
	}
}
