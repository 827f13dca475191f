package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
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
		{"unknown command", []string{"telemetry", "lst"}, ""},
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
		{"verify of a missing file", []string{"telemetry", "verify", "--file", "/nonexistent/export.json"}, "--file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := user{"XDG_CONFIG_HOME": t.TempDir(), "TELEMETRYCTL_SERVER": "http://127.0.0.1:1"}
			r := ctl(t, u, "", tt.args...)
			requireFailure(t, r, 2, tt.want)
		})
	}
}
