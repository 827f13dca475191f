package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// infrahubSDK is the pinned release of Infrahub's Python SDK and CLI whose
// telemetry commands telemetryd must serve unchanged.
const infrahubSDK = "infrahub-sdk[ctl]==1.23.2"

// infrahubVenv returns the bin directory of a virtualenv holding
// infrahubSDK, created on first use under .cache/ at the repository root
// (git-ignored) and kept for later runs. Under CI=true a failure fails the
// test; elsewhere the test is skipped, saying why.
func infrahubVenv(t *testing.T) string {
	t.Helper()
	unavailable := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format+" (the test runs under CI=true; .ci/run installs python3-venv)", args...)
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		unavailable("python3 is not installed: %v", err)
	}
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	cache := filepath.Join(root, ".cache")
	require.NoError(t, os.MkdirAll(cache, 0o755))
	dir := filepath.Join(cache, "infrahub-sdk-1.23.2")
	bin := filepath.Join(dir, "bin")

	// One test process at a time builds it; the others wait and reuse it.
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	require.NoError(t, err)
	defer lock.Close()
	require.NoError(t, syscall.Flock(int(lock.Fd()), syscall.LOCK_EX))
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	complete := filepath.Join(dir, ".complete")
	if _, err := os.Stat(complete); err == nil {
		return bin
	}
	require.NoError(t, os.RemoveAll(dir))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, python, "-m", "venv", dir).CombinedOutput(); err != nil {
		unavailable("python3 -m venv does not work here: %v\n%s", err, out)
	}
	t.Logf("installing %s into %s", infrahubSDK, dir)
	if out, err := exec.CommandContext(ctx, filepath.Join(bin, "pip"), "install", "--quiet", infrahubSDK).CombinedOutput(); err != nil {
		unavailable("installing %s from PyPI: %v\n%s", infrahubSDK, err, out)
	}
	require.NoError(t, os.WriteFile(complete, []byte(infrahubSDK+"\n"), 0o644))
	return bin
}

// infrahubEnv is the environment of an Infrahub client talking to e:
// nothing of the caller's, so no configuration of theirs interferes.
func infrahubEnv(t *testing.T, e *env, vars ...string) []string {
	return append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + t.TempDir(),
		"NO_COLOR=1",
		"TERM=dumb",
		"COLUMNS=200",
		"INFRAHUB_ADDRESS=" + e.url,
	}, vars...)
}

// infrahubctl runs the real CLI in an empty directory and returns its
// output; it must succeed.
func infrahubctl(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "infrahubctl"), args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "infrahubctl %s:\n%s", strings.Join(args, " "), out)
	return string(out)
}

func TestInfrahubctlListsAndExportsTelemetry(t *testing.T) {
	bin := infrahubVenv(t)
	e := start(t)
	const stored = 1003 // more than the 1,000 of one export page
	snaps := e.seed(stored, time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC))
	e.account("reader", "telemetry-reader")
	reader := e.login("reader", adminPassword)

	t.Run("list, signed in with a username and password", func(t *testing.T) {
		out := infrahubctl(t, bin, infrahubEnv(t, e, "INFRAHUB_USERNAME=reader", "INFRAHUB_PASSWORD="+adminPassword), "telemetry", "list")
		assert.Contains(t, out, fmt.Sprintf("Showing 50 of %d total snapshots", stored))
		assert.Contains(t, out, snaps[stored-1].CreatedAt.Format("2006-01-02T15:04:05.000000Z"), "the newest snapshot comes first")
		assert.Contains(t, e.logs.String(), `"route":"POST /api/auth/login","status":200`)
	})

	t.Run("list with dates", func(t *testing.T) {
		out := infrahubctl(t, bin, infrahubEnv(t, e, "INFRAHUB_USERNAME=reader", "INFRAHUB_PASSWORD="+adminPassword),
			"telemetry", "list", "--start-date", "2023-01-01", "--end-date", "2023-01-10", "--limit", "5")
		// The CLI sends its dates as date-times at midnight without an
		// offset (2023-01-10T00:00:00), read as UTC: the seeded snapshots
		// lie at midnight, so the 10th's is included.
		assert.Contains(t, out, "Showing 5 of 10 total snapshots")
	})

	t.Run("export, with an API token", func(t *testing.T) {
		var created struct {
			CreateAPIToken struct{ Token string } `json:"createApiToken"`
		}
		e.mustGraphQL(reader, `mutation { createApiToken(name: "infrahubctl") { token } }`, nil, &created)
		file := filepath.Join(t.TempDir(), "export.json")
		logins := strings.Count(e.logs.String(), `"route":"POST /api/auth/login"`)
		out := infrahubctl(t, bin, infrahubEnv(t, e, "INFRAHUB_API_TOKEN="+created.CreateAPIToken.Token), "telemetry", "export", "--output", file)
		assert.Contains(t, out, fmt.Sprintf("Exported %d snapshots", stored))
		assert.Equal(t, logins, strings.Count(e.logs.String(), `"route":"POST /api/auth/login"`), "the API token needs no login")
		assert.Contains(t, e.logs.String(), `"path":"/api/telemetry/snapshots","route":"GET /api/telemetry/snapshots","status":200`)

		raw, err := os.ReadFile(file)
		require.NoError(t, err)
		var exported []any
		require.NoError(t, json.Unmarshal(raw, &exported))
		want := make([]any, 0, stored)
		for i := len(snaps) - 1; i >= 0; i-- { // newest first
			var record any
			require.NoError(t, json.Unmarshal(snaps[i].AppendJSON(nil), &record))
			want = append(want, record)
		}
		require.Len(t, exported, stored)
		assert.Equal(t, want, exported, "the exported records are the stored ones")
	})
}

// refreshScript signs in with the SDK, reads once, waits for a line on
// stdin (while the test lets the access token expire), and reads again.
const refreshScript = `
import asyncio, os, sys
from infrahub_sdk import InfrahubClient

async def main():
    client = InfrahubClient(address=os.environ["INFRAHUB_ADDRESS"])
    url = client.address + "/api/telemetry/snapshots?limit=1"
    first = await client._get(url=url)
    print("first", first.status_code, flush=True)
    sys.stdin.readline()
    second = await client._get(url=url)
    print("second", second.status_code, second.json().get("count"), flush=True)

asyncio.run(main())
`

func TestTheInfrahubSDKRefreshesAnExpiredAccessToken(t *testing.T) {
	bin := infrahubVenv(t)
	e, clock := startWithClock(t)
	e.seed(3, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "python"), "-c", refreshScript)
	cmd.Env = infrahubEnv(t, e, "INFRAHUB_USERNAME=admin", "INFRAHUB_PASSWORD="+adminPassword)
	cmd.Dir = t.TempDir()
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	lines := bufio.NewScanner(stdout)
	next := func() string {
		t.Helper()
		if !lines.Scan() {
			require.NoError(t, cmd.Wait())
			t.Fatalf("the SDK script ended early:\n%s", stderr.String())
		}
		return lines.Text()
	}

	require.Equal(t, "first 200", next(), "stderr: %s", stderr.String())
	clock.Advance(16 * time.Minute) // past the 15-minute TTL and the leeway
	_, err = io.WriteString(stdin, "go on\n")
	require.NoError(t, err)
	assert.Equal(t, "second 200 3", next(), "the SDK refreshed its access token and read again; stderr: %s", stderr.String())
	require.NoError(t, cmd.Wait(), "stderr: %s", stderr.String())

	logs := e.logs.String()
	expired := strings.Index(logs, `"route":"GET /api/telemetry/snapshots","status":401`)
	refreshed := strings.Index(logs, `"route":"POST /api/auth/refresh","status":200`)
	require.Positive(t, expired, "the expired token was refused")
	assert.Greater(t, refreshed, expired, "and then the SDK refreshed it")
	assert.Equal(t, 1, strings.Count(logs, `"route":"POST /api/auth/login"`), "without signing in again")
}
