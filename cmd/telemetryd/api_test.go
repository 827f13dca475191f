package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd/store/neo4j/neo4jtest"
	"github.com/telemetryd/telemetryd/store/storetest"
)

const testAdminPassword = "correct horse battery staple"

// graphQL posts an operation, with vars (nil for none), to a served
// telemetryd and decodes its data, failing on any error.
func graphQL(t *testing.T, url, token, query string, vars map[string]any, data any) {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	var out struct {
		Data   json.RawMessage `json:"data"`
		Errors []any           `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(raw, &out), "body: %s", raw)
	require.Empty(t, out.Errors, "body: %s", raw)
	require.NoError(t, json.Unmarshal(out.Data, data))
}

func adminToken(t *testing.T, url string) string {
	t.Helper()
	var login struct {
		Login struct{ AccessToken string } `json:"login"`
	}
	graphQL(t, url, "", `mutation { login(username: "admin", password: "`+testAdminPassword+`") { accessToken } }`, nil, &login)
	return login.Login.AccessToken
}

// TestServedExportImportsOffline downloads GET /api/telemetry/export from a
// running server, on each backend, and feeds the file to the offline
// commands: it imports into a fresh store, which exports it again byte for
// byte, and verifies clean.
func TestServedExportImportsOffline(t *testing.T) {
	backends := map[string]func(t *testing.T) []string{
		"embedded": func(t *testing.T) []string { return []string{"--data-dir", filepath.Join(t.TempDir(), "data")} },
		"neo4j": func(t *testing.T) []string {
			neo4jtest.Open(t) // an empty Neo4j, held for this test alone
			return []string{"--neo4j-uri", os.Getenv("NEO4J_URI"), "--data-dir", t.TempDir()}
		},
	}
	for name, storeArgs := range backends {
		t.Run(name, func(t *testing.T) {
			served := storeArgs(t)
			dir := t.TempDir()
			snaps := storetest.Chain(t, "5d1c9a52-7d1e-4f0e-9b53-0a4c3f1e2d7b", time.Date(2025, 6, 1, 2, 17, 5, 123456000, time.UTC), 60, 1024)
			seed := filepath.Join(dir, "seed.json")
			writeExport(t, seed, snaps)
			code, _, stderr := execute(t, env(), append([]string{"snapshots", "import", "--file", seed}, served...)...)
			require.Equal(t, 0, code, stderr)

			d := serveInBackground(t, env(), append([]string{"--listen", "127.0.0.1:0", "--admin-password", testAdminPassword}, served...)...)
			req, err := http.NewRequest(http.MethodGet, d.url+"/api/telemetry/export?start_date=2025-06-11&end_date=2025-06-30&deployment_id=5d1c9a52-7d1e-4f0e-9b53-0a4c3f1e2d7b", nil)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+adminToken(t, d.url))
			res, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			downloaded, err := io.ReadAll(res.Body)
			res.Body.Close()
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, res.StatusCode, "body: %s", downloaded)
			assert.Equal(t, `attachment; filename=telemetry-snapshots-from-2025-06-11-to-2025-06-30.json`, res.Header.Get("Content-Disposition"))
			file := filepath.Join(dir, "downloaded.json")
			require.NoError(t, os.WriteFile(file, downloaded, 0o600))

			fresh := []string{"--data-dir", filepath.Join(dir, "fresh")}
			code, stdout, stderr := execute(t, env(), append([]string{"snapshots", "import", "--file", file}, fresh...)...)
			require.Equal(t, 0, code, stderr)
			assert.Contains(t, stdout, "imported 20 snapshots, 0 already present")
			code, stdout, stderr = execute(t, env(), append([]string{"snapshots", "verify"}, fresh...)...)
			require.Equal(t, 0, code, stderr)
			assert.Contains(t, stdout, "verified 20 snapshots")
			again := filepath.Join(dir, "again.json")
			code, _, stderr = execute(t, env(), append([]string{"snapshots", "export", "--output", again}, fresh...)...)
			require.Equal(t, 0, code, stderr)
			assert.Equal(t, string(downloaded), readFile(t, again), "the download is not the export file format")
		})
	}
}

// TestTelemetryStatusTellsTheConfiguration reads telemetryStatus from a
// server started with remote sending asked for but DO_NOT_TRACK set.
func TestTelemetryStatusTellsTheConfiguration(t *testing.T) {
	d := serveInBackground(t, env("DO_NOT_TRACK", "1"), "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(),
		"--admin-password", testAdminPassword, "--telemetry-remote", "--telemetry-schedule", "03:30", "--telemetry-retention", "30d",
		"--telemetry-endpoint", "https://collector:s3cr3t@telemetry.example.com/v1?key=k3y")
	var data struct {
		TelemetryStatus struct {
			RemoteEnabled, DoNotTrack     bool
			Endpoint, Schedule, NextRunAt string
			DeploymentID                  string `json:"deploymentId"`
			StoreBackend                  string
			Retention                     int
			CountsByStatus                []struct{ Status string }
		} `json:"telemetryStatus"`
	}
	graphQL(t, d.url, adminToken(t, d.url), `{ telemetryStatus { remoteEnabled doNotTrack endpoint schedule nextRunAt deploymentId storeBackend retention countsByStatus { status } } }`, nil, &data)
	st := data.TelemetryStatus
	assert.False(t, st.RemoteEnabled, "DO_NOT_TRACK=1 beats --telemetry-remote")
	assert.True(t, st.DoNotTrack)
	assert.Contains(t, st.Endpoint, "telemetry.example.com/v1")
	assert.NotContains(t, st.Endpoint, "s3cr3t", "the endpoint's password is redacted, as in the logs")
	assert.NotContains(t, st.Endpoint, "k3y", "the endpoint's query is redacted, as in the logs")
	assert.Equal(t, "03:30", st.Schedule)
	assert.Equal(t, 30, st.Retention)
	assert.Equal(t, "embedded", st.StoreBackend)
	assert.NotEmpty(t, st.DeploymentID)
	next, err := time.Parse(time.RFC3339Nano, st.NextRunAt)
	require.NoError(t, err)
	assert.True(t, next.After(time.Now()), "the next run lies ahead: %s", next)
	assert.Len(t, st.CountsByStatus, 4, "every status is listed")
}
