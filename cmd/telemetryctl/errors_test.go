package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/telemetryd/telemetryd/internal/cli"
)

func TestErrorsAPersonCanActOn(t *testing.T) {
	srv := sharedServer(t)
	down := closedURL(t)

	tests := []struct {
		name   string
		server string
		args   []string
		want   string
	}{
		{"not logged in, REST", srv.url, []string{"telemetry", "list"}, notLoggedIn},
		{"not logged in, GraphQL", srv.url, []string{"accounts", "list"}, notLoggedIn},
		{"a bad token", srv.url, []string{"--token", "tdk_nonsense", "telemetry", "list"}, notLoggedIn},
		{"unreachable, REST", down, []string{"telemetry", "list"}, "cannot reach telemetryd at " + down + "/api/telemetry/snapshots"},
		{"unreachable, GraphQL", down, []string{"roles", "list"}, "cannot reach telemetryd at " + down + "/graphql"},
		{"unreachable, login", down, []string{"login", "-u", "admin", "--password-stdin"}, "cannot reach telemetryd at " + down + "/graphql"},
	}
	for _, tt := range tests {
		t.Run(tt.name+" exits 1 saying what to do", func(t *testing.T) {
			u := newUser(t, tt.server)
			r := ctl(t, u, "some-password-123\n", tt.args...)
			requireFailure(t, r, 1, tt.want)
			assert.Empty(t, r.stdout)
		})
	}
}

func TestUsageMistakesExit2(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown command", []string{"telemetry", "lst"}, `unknown command "lst"`},
		{"unknown top-level command", []string{"frobnicate"}, "unknown command"},
		{"unknown flag", []string{"telemetry", "list", "--colour"}, "unknown flag"},
		{"bad start date", []string{"telemetry", "list", "--start-date", "yesterday"}, "--start-date"},
		{"start after end", []string{"telemetry", "list", "--start-date", "2026-02-02", "--end-date", "2026-02-01"}, "must not be after"},
		{"limit out of range", []string{"telemetry", "list", "--limit", "0"}, "--limit"},
		{"bad output format", []string{"telemetry", "list", "-o", "yaml"}, "table or json"},
		{"missing --output", []string{"telemetry", "export"}, "output"},
		{"missing argument", []string{"telemetry", "get"}, "accepts 1 arg"},
		{"extra argument", []string{"accounts", "disable", "a", "b"}, "accepts 1 arg"},
		{"missing --username", []string{"login"}, "username"},
		{"unknown permission", []string{"roles", "create", "r", "--permission", "READ_EVERYTHING"}, "READ_TELEMETRY"},
		{"missing --permission", []string{"roles", "create", "r"}, "permission"},
		{"past token expiry", []string{"tokens", "create", "t", "--expires", "2020-01-01"}, "--expires"},
		{"bad server URL", []string{"--server", "localhost:8080", "telemetry", "list"}, "--server"},
		{"plain http to another machine", []string{"--server", "http://telemetry.example.com", "telemetry", "list"}, "--server \"http://telemetry.example.com\": use https://"},
		{"plain http to another machine, for login", []string{"--server", "http://192.0.2.1:8080", "login", "-u", "admin", "--password-stdin"}, "use https://"},
		{"a password in the server URL, not echoed", []string{"--server", "https://admin:hunter2@telemetry.example.com", "telemetry", "list"}, "https://admin:xxxxx@telemetry.example.com"},
		{"verify of a missing file", []string{"telemetry", "verify", "--file", "/nonexistent/export.json"}, "--file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := user{"XDG_CONFIG_HOME": t.TempDir(), "TELEMETRYCTL_SERVER": "http://127.0.0.1:1"}
			r := ctl(t, u, "some-password-123\n", tt.args...)
			requireFailure(t, r, 2, tt.want)
			assert.NotContains(t, r.stderr, "hunter2")
		})
	}
}

func TestServerURL(t *testing.T) {
	t.Run("https anywhere and plain http to this machine are accepted", func(t *testing.T) {
		for _, s := range []string{
			"https://telemetry.example.com",
			"https://10.0.0.7:8443/telemetryd/",
			"http://127.0.0.1:8080",
			"http://127.45.6.7",
			"http://[::1]:8080",
			"http://localhost:8080/",
			"HTTP://LOCALHOST",
		} {
			_, err := serverURL(s)
			assert.NoError(t, err, s)
		}
	})
	t.Run("plain http to another machine is a usage mistake", func(t *testing.T) {
		for _, s := range []string{
			"http://telemetry.example.com",
			"http://10.0.0.7:8080",
			"http://[::2]:8080",
			"http://0.0.0.0:8080",
			"http://127.0.0.1.example.com",
			"http://localhost.example.com",
		} {
			_, err := serverURL(s)
			var usage *cli.UsageError
			if assert.ErrorAs(t, err, &usage, s) {
				assert.Contains(t, err.Error(), "use https://")
			}
		}
	})
	t.Run("the same goes for TELEMETRYCTL_SERVER", func(t *testing.T) {
		u := user{"XDG_CONFIG_HOME": t.TempDir(), "TELEMETRYCTL_SERVER": "http://telemetry.example.com"}
		requireFailure(t, ctl(t, u, "", "telemetry", "list"), 2, "--server")
	})
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	var reached atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Add(1) }))
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()

	u := newUser(t, redirector.URL)
	r := ctl(t, u, "some-password-123\n", "login", "-u", "admin", "--password-stdin")
	requireFailure(t, r, 1, redirector.URL+"/graphql redirects to "+target.URL+"/graphql")
	assert.Contains(t, r.stderr, "set --server")
	assert.Zero(t, reached.Load(), "the password was posted to where the redirect pointed")
}
