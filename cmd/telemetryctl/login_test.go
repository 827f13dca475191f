package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
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
		before := expireAccessToken(t, u)
		expired := readCredentials(t, u)

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

// expireAccessToken makes u's stored access token expired, so the next
// command refreshes it, and returns the login as it was.
func expireAccessToken(t *testing.T, u user) credentials {
	t.Helper()
	before := readCredentials(t, u)
	expired := before
	expired.AccessToken = "no-longer-valid"
	expired.ExpiresAt = time.Now().Add(-time.Minute)
	writeCredentials(t, u, expired)
	return before
}

func TestCredentialsReadableByOthersAreRefused(t *testing.T) {
	srv := sharedServer(t)
	u := loginAs(t, srv, "admin", adminPassword)
	path := u.credentialsPath()

	for _, mode := range []os.FileMode{0o640, 0o604} {
		require.NoError(t, os.Chmod(path, mode))
		r := ctl(t, u, "", "telemetry", "list", "--limit", "1")
		requireFailure(t, r, 1, "credentials "+path+" may be read by others")
		assert.Contains(t, r.stderr, "chmod 600 "+path)
		assert.Empty(t, r.stdout)
	}

	require.NoError(t, os.Chmod(path, 0o600))
	requireOK(t, ctl(t, u, "", "telemetry", "list", "--limit", "1"))
}

func TestRefreshedLoginThatCannotBeStored(t *testing.T) {
	srv := sharedServer(t)
	target, err := url.Parse(srv.url)
	require.NoError(t, err)

	// front passes requests on to srv, after calling onRefresh when the
	// request is a refresh: between the command reading the stored login
	// and storing the refreshed one.
	var onRefresh atomic.Pointer[func()]
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		if f := onRefresh.Load(); f != nil && bytes.Contains(body, []byte("refreshToken(")) {
			(*f)()
		}
		proxy.ServeHTTP(w, r)
	}))
	defer front.Close()

	tests := []struct {
		name string
		// spoil makes storing u's credentials fail from the refresh on.
		spoil func(t *testing.T, u user)
	}{
		{
			name: "a read-only directory",
			spoil: func(t *testing.T, u user) {
				if os.Geteuid() == 0 {
					t.Skip("root writes to read-only directories")
				}
				dir := filepath.Dir(u.credentialsPath())
				require.NoError(t, os.Chmod(dir, 0o500))
				t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
			},
		},
		{
			name: "a directory in place of the file",
			spoil: func(t *testing.T, u user) {
				errs := make(chan error, 1)
				swap := func() {
					path := u.credentialsPath()
					errs <- errors.Join(os.Remove(path), os.Mkdir(path, 0o700))
				}
				onRefresh.Store(&swap)
				t.Cleanup(func() {
					onRefresh.Store(nil)
					require.NoError(t, <-errs, "the file was not replaced")
				})
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name+" warns and the command goes on", func(t *testing.T) {
			u := loginAs(t, &server{url: front.URL}, "admin", adminPassword)
			expireAccessToken(t, u)
			tt.spoil(t, u)

			r := ctl(t, u, "", "telemetry", "list", "--limit", "1", "-o", "json")
			requireOK(t, r)
			assert.Contains(t, r.stdout, `"snapshots"`)
			assert.Contains(t, r.stderr, "warning: could not store the refreshed login in "+u.credentialsPath())
			assert.Contains(t, r.stderr, "telemetryctl login")
		})
	}
}

func TestConcurrentRefreshesKeepTheLogin(t *testing.T) {
	srv := sharedServer(t)
	u := loginAs(t, srv, "admin", adminPassword)
	before := expireAccessToken(t, u)

	// Each command refreshes on its own; the server takes a refresh token
	// once, so without the lock all but one would be refused.
	const commands = 8
	results := make([]result, commands)
	var wg sync.WaitGroup
	for i := range commands {
		wg.Go(func() { results[i] = ctl(t, u, "", "telemetry", "list", "--limit", "1") })
	}
	wg.Wait()
	for _, r := range results {
		requireOK(t, r)
		assert.Empty(t, r.stderr)
	}

	after := readCredentials(t, u)
	assert.NotEqual(t, before.RefreshToken, after.RefreshToken)
	requireOK(t, ctl(t, u, "", "telemetry", "list", "--limit", "1"))
	// The stored refresh token is the live one.
	expireAccessToken(t, u)
	requireOK(t, ctl(t, u, "", "telemetry", "list", "--limit", "1"))
}
