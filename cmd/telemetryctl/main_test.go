package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/exportfile"
	"github.com/telemetryd/telemetryd/internal/cli"
	"github.com/telemetryd/telemetryd/internal/logbuffer"
	"github.com/telemetryd/telemetryd/store/storetest"
)

// Fixtures of the shared server.
const (
	adminPassword = "admin-password-for-tests"
	jwtSecret     = "jwt-secret-for-telemetryctl-tests-0123456789"
	// seededDeployment owns the snapshots imported before the server
	// starts: one a day from seededStart, all long before today, so the
	// server's own daily snapshot never falls within seededRange.
	seededDeployment = "5eeded00-0000-4000-8000-000000000001"
	seededCount      = 1100
)

var (
	seededStart = time.Date(2020, 1, 1, 6, 0, 0, 0, time.UTC)
	// seededRange are date flags selecting exactly the seeded snapshots.
	seededRange = []string{"--start-date", "2020-01-01", "--end-date", "2023-12-31"}
)

// telemetrydBinary is the server, built once for the whole run into
// testDir, which the run removes at its end.
var telemetrydBinary, testDir string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "telemetryctl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	testDir = dir
	telemetrydBinary = filepath.Join(dir, "telemetryd")
	build := exec.Command("go", "build", "-o", telemetrydBinary, "github.com/telemetryd/telemetryd/cmd/telemetryd")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building telemetryd:", err)
		return 1
	}
	code := m.Run()
	if shared.srv != nil {
		shared.srv.stop()
	}
	return code
}

// server is a telemetryd process serving on a random port.
type server struct {
	url  string
	cmd  *exec.Cmd
	logs *logbuffer.Buffer
	done chan struct{}
}

var servingURL = regexp.MustCompile(`msg="telemetryd serving" url=(\S+)`)

// startServer runs `telemetryd serve` on dataDir and returns once it says
// where it listens.
func startServer(dataDir string, extra ...string) (*server, error) {
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dataDir,
		"--admin-password", adminPassword, "--jwt-secret", jwtSecret}, extra...)
	cmd := exec.Command(telemetrydBinary, args...)
	cmd.Env = append(os.Environ(), "DO_NOT_TRACK=1")
	pipe, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, logs: &logbuffer.Buffer{}, done: make(chan struct{})}
	found := make(chan string, 1)
	go func() {
		defer close(s.done)
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			fmt.Fprintln(s.logs, sc.Text())
			if m := servingURL.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_ = cmd.Wait()
	}()
	select {
	case s.url = <-found:
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("telemetryd exited before serving:\n%s", s.logs)
	case <-time.After(30 * time.Second):
		s.stop()
		return nil, fmt.Errorf("telemetryd did not start serving within 30s:\n%s", s.logs)
	}
}

// stop ends the server as an operator would, and kills it if it hangs.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.done:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// shared is the server most tests use: one process for the whole run,
// started by the first test that needs it, with the seeded snapshots.
var shared struct {
	once   sync.Once
	srv    *server
	seeded []*telemetryd.Snapshot // oldest first
	err    error
}

func sharedServer(t *testing.T) *server {
	t.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp(testDir, "data-")
		if err != nil {
			shared.err = err
			return
		}
		shared.seeded = storetest.Chain(t, seededDeployment, seededStart, seededCount, 300)
		file := filepath.Join(dir, "seed.json")
		if _, err := exportfile.Write(file, eachNewestFirst(shared.seeded)); err != nil {
			shared.err = err
			return
		}
		// The embedded store admits one process at a time: import first.
		out, err := exec.Command(telemetrydBinary, "snapshots", "import", "--data-dir", dir, "--file", file).CombinedOutput()
		if err != nil {
			shared.err = fmt.Errorf("seeding: %v\n%s", err, out)
			return
		}
		shared.srv, shared.err = startServer(dir)
	})
	require.NoError(t, shared.err)
	require.NotNil(t, shared.srv, "the shared server failed to start in an earlier test")
	return shared.srv
}

// eachNewestFirst yields snaps (oldest first) in listing order.
func eachNewestFirst(snaps []*telemetryd.Snapshot) func(func(*telemetryd.Snapshot) error) error {
	return func(yield func(*telemetryd.Snapshot) error) error {
		for _, s := range slices.Backward(snaps) {
			if err := yield(s); err != nil {
				return err
			}
		}
		return nil
	}
}

// result is what one telemetryctl command line did.
type result struct {
	code           int
	stdout, stderr string
}

// user is one person's environment: their own configuration directory,
// so their stored login is theirs alone.
type user map[string]string

// newUser returns an environment pointing at url with no stored login.
func newUser(t *testing.T, url string) user {
	t.Helper()
	return user{"XDG_CONFIG_HOME": t.TempDir(), "TELEMETRYCTL_SERVER": url}
}

func (u user) getenv(k string) string { return u[k] }

// credentialsPath is where u's login is stored.
func (u user) credentialsPath() string {
	return filepath.Join(u["XDG_CONFIG_HOME"], "telemetryctl", "credentials.json")
}

// ctl runs one telemetryctl command line in-process as u, with stdin.
func ctl(t *testing.T, u user, stdin string, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, u.getenv, strings.NewReader(stdin), &stdout, &stderr)
	code := cli.ExitCode("test", err, &stderr)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// requireOK fails unless the command succeeded.
func requireOK(t *testing.T, r result) {
	t.Helper()
	require.Equal(t, 0, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
}

// requireFailure fails unless the command ended with code and said want
// on stderr.
func requireFailure(t *testing.T, r result, code int, want string) {
	t.Helper()
	require.Equal(t, code, r.code, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	require.Contains(t, r.stderr, want)
}

// loginAs returns a user logged in to srv as username.
func loginAs(t *testing.T, srv *server, username, password string) user {
	t.Helper()
	u := newUser(t, srv.url)
	requireOK(t, ctl(t, u, password+"\n", "login", "--username", username, "--password-stdin"))
	return u
}

// closedURL returns the URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return "http://" + addr
}
