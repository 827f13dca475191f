package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd/internal/cli"
	"github.com/telemetryd/telemetryd/internal/logbuffer"
)

// env builds a getenv from pairs.
func env(pairs ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(pairs); i += 2 {
		m[pairs[i]] = pairs[i+1]
	}
	return func(k string) string { return m[k] }
}

// execute runs one command line to completion and returns its exit code,
// standard output and standard error.
func execute(t *testing.T, getenv func(string) string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr logbuffer.Buffer
	err := run(context.Background(), args, getenv, &stdout, &stderr)
	code := cli.ExitCode("test", err, &stderr)
	return code, stdout.String(), stderr.String()
}

// daemon is `telemetryd serve` running in the background.
type daemon struct {
	url    string
	stderr *logbuffer.Buffer
	stop   func() error
}

var servingURL = regexp.MustCompile(`msg="telemetryd serving" url=(\S+)`)

// serveInBackground starts serve and waits until it says where it listens.
func serveInBackground(t *testing.T, getenv func(string) string, args ...string) *daemon {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stderr := &logbuffer.Buffer{}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"serve"}, args...), getenv, io.Discard, stderr) }()
	d := &daemon{stderr: stderr, stop: sync.OnceValue(func() error { cancel(); return <-done })}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := servingURL.FindStringSubmatch(stderr.String()); m != nil {
			d.url = m[1]
			t.Cleanup(func() { d.stop() })
			return d
		}
		select {
		case err := <-done:
			t.Fatalf("serve exited early: %v\n%s", err, stderr)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	t.Fatalf("serve did not start in time:\n%s", stderr)
	return nil
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	return res.StatusCode, string(body)
}

func TestBadConfigurationFailsAtStartNamingTheFlag(t *testing.T) {
	cases := []struct {
		name   string
		getenv func(string) string
		args   []string
		names  string
	}{
		{"a listen address without a port", env(), []string{"--listen", "localhost"}, "--listen"},
		{"a duration that is none", env(), []string{"--access-token-ttl", "soon"}, "--access-token-ttl"},
		{"a bad value from the environment names flag and variable", env("TELEMETRYD_TELEMETRY_TIMEOUT", "10 seconds"), nil, "--telemetry-timeout (from TELEMETRYD_TELEMETRY_TIMEOUT)"},
		{"a schedule past midnight", env(), []string{"--telemetry-schedule", "24:30"}, "--telemetry-schedule"},
		{"retention without days", env(), []string{"--telemetry-retention", "1825"}, "--telemetry-retention"},
		{"retention so long it would overflow", env(), []string{"--telemetry-retention", "213504d"}, "--telemetry-retention"},
		{"a Neo4j URI of another scheme", env(), []string{"--neo4j-uri", "http://127.0.0.1:7474"}, "--neo4j-uri"},
		{"an unknown log format", env("TELEMETRYD_LOG_FORMAT", "xml"), nil, "--log-format"},
		{"a short admin password", env(), []string{"--admin-password", "short"}, "--admin-password"},
		{"a short JWT secret", env(), []string{"--jwt-secret", "short"}, "--jwt-secret"},
		{"a plain-http endpoint off this machine", env(), []string{"--telemetry-endpoint", "http://telemetry.example.com/v1"}, "--telemetry-endpoint"},
		{"a negative timeout", env(), []string{"--telemetry-timeout", "-1s"}, "--telemetry-timeout"},
		{"a trusted proxy that is no network", env("TELEMETRYD_TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal"), nil, "--trusted-proxies (from TELEMETRYD_TRUSTED_PROXIES)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, tc.args...)
			code, _, stderr := execute(t, tc.getenv, args...)
			assert.Equal(t, 2, code, "stderr: %s", stderr)
			assert.Contains(t, stderr, tc.names)
		})
	}
}

func TestFlagsBeatTheEnvironment(t *testing.T) {
	dir := t.TempDir()
	getenv := env(
		"TELEMETRYD_LISTEN", "not an address",
		"TELEMETRYD_DATA_DIR", filepath.Join(dir, "from-env"),
		"TELEMETRYD_LOG_FORMAT", "json",
		"TELEMETRYD_ADMIN_PASSWORD", "password from the environment",
	)
	d := serveInBackground(t, getenv, "--listen", "127.0.0.1:0", "--log-format", "text", "--data-dir", filepath.Join(dir, "from-flag"))
	assert.Contains(t, d.stderr.String(), `level=INFO msg="telemetryd serving"`, "the flag chose text logs")
	require.NoError(t, d.stop())
	assert.DirExists(t, filepath.Join(dir, "from-flag"))
	assert.NoDirExists(t, filepath.Join(dir, "from-env"))
	assert.NotContains(t, d.stderr.String(), "Generated password", "the password came from the environment")
}

func TestServeAnswersHealthReadinessAndMetrics(t *testing.T) {
	dir := t.TempDir()
	d := serveInBackground(t, env("DO_NOT_TRACK", "1"), "--listen", "127.0.0.1:0", "--data-dir", dir, "--telemetry-remote",
		"--telemetry-endpoint", "https://collector:s3cr3t@telemetry.example.com/v1?key=k3y")

	status, _ := httpGet(t, d.url+"/healthz")
	assert.Equal(t, http.StatusOK, status)
	status, _ = httpGet(t, d.url+"/readyz")
	assert.Equal(t, http.StatusOK, status)
	status, metrics := httpGet(t, d.url+"/metrics")
	assert.Equal(t, http.StatusOK, status)
	for _, name := range []string{"telemetryd_build_info{", "go_goroutines", "process_resident_memory_bytes", "telemetryd_telemetry_snapshots_total"} {
		assert.Contains(t, metrics, name)
	}

	logs := d.stderr.String()
	assert.Contains(t, logs, "remote telemetry is OFF", "DO_NOT_TRACK=1 beats --telemetry-remote")
	assert.Contains(t, logs, "/api/telemetry/preview")
	assert.Contains(t, logs, "telemetry.example.com/v1")
	assert.NotContains(t, logs, "s3cr3t", "the endpoint's password reached the log")
	assert.NotContains(t, logs, "k3y", "the endpoint's query reached the log")
	password := regexp.MustCompile(`shown only this once\): (\S+)`).FindStringSubmatch(logs)
	require.NotNil(t, password, "the first start prints the admin password")
	require.NoError(t, d.stop(), "a signal ends serve cleanly")

	again := serveInBackground(t, env(), "--listen", "127.0.0.1:0", "--data-dir", dir)
	assert.NotContains(t, again.stderr.String(), "Generated password", "the password is printed only once")
	assert.Contains(t, again.stderr.String(), "remote telemetry is OFF")
}

func TestServeRefusesADataDirInUse(t *testing.T) {
	dir := t.TempDir()
	serveInBackground(t, env(), "--listen", "127.0.0.1:0", "--data-dir", dir)
	code, _, stderr := execute(t, env(), "serve", "--listen", "127.0.0.1:0", "--data-dir", dir)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "in use by another process")
}

func TestVersion(t *testing.T) {
	code, stdout, _ := execute(t, env(), "version")
	assert.Equal(t, 0, code)
	assert.Equal(t, "telemetryd 0.1.0\n", stdout)
}

func TestUsageMistakesExitTwo(t *testing.T) {
	code, _, stderr := execute(t, env(), "serve", "--no-such-flag")
	assert.Equal(t, 2, code)
	assert.Contains(t, stderr, "no-such-flag")
	code, _, stderr = execute(t, env(), "snapshots", "export")
	assert.Equal(t, 2, code, stderr)
	assert.Contains(t, stderr, "output")
	code, _, stderr = execute(t, env(), "snapshots", "verfy")
	assert.Equal(t, 2, code, stderr)
	assert.Contains(t, stderr, `unknown command "verfy" for "telemetryd snapshots"; did you mean verify?`)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}
