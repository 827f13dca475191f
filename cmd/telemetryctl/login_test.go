package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readCredentials(t *testing.T, u user) credentials {
	t.Helper()
	b, err := os.ReadFile(u.credentialsPath())
	require.NoError(t, err)
	var c credentials
	require.NoError(t, json.Unmarshal(b, &c))
	return c
}

func writeCredentials(t *testing.T, u user, c credentials) {
	t.Helper()
	b, err := json.Marshal(c)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(u.credentialsPath(), b, 0o600))
}

func TestLogin(t *testing.T) {
	srv := sharedServer(t)
	u := newUser(t, srv.url)

	t.Run("stores the credentials readable by their owner only", func(t *testing.T) {
		r := ctl(t, u, adminPassword+"\n", "login", "--username", "admin", "--password-stdin")
		requireOK(t, r)
		assert.Contains(t, r.stdout, "Logged in to "+srv.url+" as admin")

		info, err := os.Stat(u.credentialsPath())
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
		dir, err := os.Stat(filepath.Dir(u.credentialsPath()))
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o700), dir.Mode().Perm())

		c := readCredentials(t, u)
		assert.Equal(t, srv.url, c.Server)
		assert.NotEmpty(t, c.AccessToken)
		assert.NotEmpty(t, c.RefreshToken)
		assert.True(t, c.ExpiresAt.After(time.Now()), "expires at %s", c.ExpiresAt)
	})

	t.Run("later commands use the stored credentials", func(t *testing.T) {
		requireOK(t, ctl(t, u, "", "telemetry", "list", "--limit", "1"))
	})

	t.Run("an expired access token is refreshed and the rotated refresh token kept", func(t *testing.T) {
		before := readCredentials(t, u)
		expired := before
		expired.AccessToken = "no-longer-valid"
		expired.ExpiresAt = time.Now().Add(-time.Minute)
		writeCredentials(t, u, expired)

		requireOK(t, ctl(t, u, "", "telemetry", "list", "--limit", "1"))
		after := readCredentials(t, u)
		assert.NotEqual(t, before.RefreshToken, after.RefreshToken)
		assert.NotEqual(t, expired.AccessToken, after.AccessToken)
		assert.True(t, after.ExpiresAt.After(time.Now()))

		// The server takes each refresh token once: the old one is spent.
		writeCredentials(t, u, expired)
		requireFailure(t, ctl(t, u, "", "telemetry", "list", "--limit", "1"), 1, notLoggedIn)
		writeCredentials(t, u, after)
	})

	t.Run("logout revokes the session and deletes the credentials", func(t *testing.T) {
		session := readCredentials(t, u)
		r := ctl(t, u, "", "logout")
		requireOK(t, r)
		assert.Contains(t, r.stdout, "Logged out of "+srv.url)
		assert.NoFileExists(t, u.credentialsPath())

		session.ExpiresAt = time.Now().Add(-time.Minute) // forces a refresh with the revoked token
		writeCredentials(t, u, session)
		requireFailure(t, ctl(t, u, "", "telemetry", "list"), 1, notLoggedIn)
	})

	t.Run("logout without a login changes nothing", func(t *testing.T) {
		other := newUser(t, srv.url)
		r := ctl(t, other, "", "logout")
		requireOK(t, r)
		assert.Contains(t, r.stdout, "Not logged in")
	})

	t.Run("a wrong password fails with the server's reason", func(t *testing.T) {
		other := newUser(t, srv.url)
		r := ctl(t, other, "not-the-password\n", "login", "--username", "admin", "--password-stdin")
		requireFailure(t, r, 1, "login failed: invalid username or password")
		assert.NoFileExists(t, other.credentialsPath())
	})

	t.Run("without a terminal the password must come with --password-stdin", func(t *testing.T) {
		other := newUser(t, srv.url)
		requireFailure(t, ctl(t, other, adminPassword+"\n", "login", "--username", "admin"), 2, "--password-stdin")
	})

	t.Run("a trailing slash on --server names the same server", func(t *testing.T) {
		admin := loginAs(t, srv, "admin", adminPassword)
		requireOK(t, ctl(t, admin, "", "--server", srv.url+"/", "telemetry", "list", "--limit", "1"))
	})

	t.Run("the stored login is never sent to another server", func(t *testing.T) {
		admin := loginAs(t, srv, "admin", adminPassword)
		var authorization []string
		other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			authorization = append(authorization, r.Header.Get("Authorization"))
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"data":null,"errors":[{"message":"authentication required","extensions":{"code":401}}]}`)
		}))
		defer other.Close()
		r := ctl(t, admin, "", "--server", other.URL, "telemetry", "list")
		requireFailure(t, r, 1, notLoggedIn+" (the stored login is for "+srv.url+")")
		assert.Equal(t, []string{""}, authorization)
	})
}
