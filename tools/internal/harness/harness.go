// Package harness is what the measuring commands under tools share: it
// starts a `telemetryd serve` child process and finds where it listens,
// signs in to it, opens and empties the store it serves from, and reads
// the machine's load. It serves tools/bench, tools/fleetbench and
// tools/soak, and nothing else.
package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/embedded"
	"github.com/telemetryd/telemetryd/store/neo4j"
)

// Config says how to run telemetryd serve.
type Config struct {
	Binary   string   // the telemetryd binary
	DataDir  string   // --data-dir
	Neo4jURI string   // --neo4j-uri; empty for the embedded store
	Args     []string // further flags of serve
	Env      []string // added to the environment, as NAME=value
	// Log, when set, sees every line the server logs, without its newline.
	Log func(line string)
}

// Server is a running telemetryd serve.
type Server struct {
	URL string // where it serves, as http://host:port
	cmd *exec.Cmd
}

var servingURL = regexp.MustCompile(`msg="telemetryd serving" url=(http://\S+)`)

// Start runs telemetryd serve on a random loopback port and waits up to a
// minute for it to say where it listens. The server's log is read until
// it exits, so it never blocks writing it.
func Start(c Config) (*Server, error) {
	args := append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", c.DataDir}, c.Args...)
	if c.Neo4jURI != "" {
		args = append(args, "--neo4j-uri", c.Neo4jURI)
	}
	cmd := exec.Command(c.Binary, args...)
	if c.Env != nil {
		cmd.Env = append(os.Environ(), c.Env...)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (run `make build` first): %w", c.Binary, err)
	}
	found := make(chan string, 1)
	go func() {
		lines := bufio.NewReader(stderr)
		for sent := false; ; {
			line, err := lines.ReadString('\n')
			if line != "" {
				line = strings.TrimSuffix(line, "\n")
				if m := servingURL.FindStringSubmatch(line); m != nil && !sent {
					found <- m[1]
					sent = true
				}
				if c.Log != nil {
					c.Log(line)
				}
			}
			if err != nil {
				return
			}
		}
	}()
	select {
	case u := <-found:
		return &Server{URL: u, cmd: cmd}, nil
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, errors.New("telemetryd did not start within a minute")
	}
}

// Stop ends the server with SIGTERM and waits for it; later calls do
// nothing.
func (s *Server) Stop() {
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
}

// RSS returns the server's resident memory in MiB, from /proc.
func (s *Server) RSS() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024, err
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// Login signs in to the server at base through the GraphQL login
// mutation and returns the access token.
func Login(client *http.Client, base, username, password string) (string, error) {
	body, _ := json.Marshal(map[string]any{
		"query":     `mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }`,
		"variables": map[string]string{"u": username, "p": password},
	})
	res, err := client.Post(base+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("logging in as %s: %w", username, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		return "", fmt.Errorf("logging in as %s: %w", username, err)
	}
	var out struct {
		Data struct {
			Login struct{ AccessToken string } `json:"login"`
		} `json:"data"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.Data.Login.AccessToken == "" {
		return "", fmt.Errorf("logging in as %s failed (status %d): %.300s", username, res.StatusCode, raw)
	}
	return out.Data.Login.AccessToken, nil
}

// Loopback reports whether a Neo4j URI names this machine. The tools
// empty the database they use, so they use only one on this machine.
func Loopback(uri string) bool {
	u, err := url.Parse(uri)
	if err != nil {
		return false
	}
	if u.Hostname() == "localhost" {
		return true
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

// OpenStore opens the embedded store in dir, or, when neo4jURI is set,
// the neo4j database there, as telemetryd serve does.
func OpenStore(ctx context.Context, dir, neo4jURI string) (store.Store, error) {
	if neo4jURI == "" {
		return embedded.Open(dir)
	}
	return neo4j.Open(ctx, neo4j.Config{URI: neo4jURI, Username: "neo4j", Database: "neo4j"})
}

// EmptyNeo4j deletes every node of the neo4j database at uri, accounts
// included, in batches.
func EmptyNeo4j(ctx context.Context, uri string) error {
	d, err := driver.NewDriverWithContext(uri, driver.BasicAuth("neo4j", "", ""))
	if err != nil {
		return fmt.Errorf("emptying Neo4j at %s: %w", uri, err)
	}
	defer d.Close(ctx)
	sess := d.NewSession(ctx, driver.SessionConfig{DatabaseName: "neo4j"})
	defer sess.Close(ctx)
	// CALL … IN TRANSACTIONS runs only in an auto-commit transaction.
	res, err := sess.Run(ctx, `MATCH (n) CALL (n) { DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS`, nil)
	if err == nil {
		_, err = res.Consume(ctx)
	}
	if err != nil {
		return fmt.Errorf("emptying Neo4j at %s: %w", uri, err)
	}
	return nil
}

// LoadAverage is the machine's load average, as "load average 1-min
// 5-min 15-min": other work on the machine moves the figures.
func LoadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load average unknown"
	}
	fields := strings.Fields(string(b))
	if len(fields) < 3 {
		return "load average unknown"
	}
	return "load average " + strings.Join(fields[:3], " ")
}
