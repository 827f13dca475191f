package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/embedded"
	"github.com/telemetryd/telemetryd/store/neo4j/neo4jtest"
	"github.com/telemetryd/telemetryd/store/storetest"
)

// asMain makes this test binary run telemetryd's main instead of the
// tests, so the crash tests can kill -9 a real telemetryd process.
const asMain = "TELEMETRYD_TEST_AS_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMain) == "1" {
		main()
	}
	os.Exit(m.Run())
}

// process is telemetryd running as a child process, its output kept.
type process struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	output bytes.Buffer
	lines  chan struct{} // signalled at every line of output
	exited chan struct{}
}

func startProcess(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{lines: make(chan struct{}, 1), exited: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), asMain+"=1", "DO_NOT_TRACK=")
	out, err := p.cmd.StdoutPipe()
	require.NoError(t, err)
	p.cmd.Stderr = p.cmd.Stdout
	require.NoError(t, p.cmd.Start())
	go func() {
		defer close(p.exited)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.output.Write(sc.Bytes())
			p.output.WriteByte('\n')
			p.mu.Unlock()
			select {
			case p.lines <- struct{}{}:
			default:
			}
		}
		_ = p.cmd.Wait()
	}()
	t.Cleanup(p.kill)
	return p
}

func (p *process) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.output.String()
}

// waitFor returns the first match of re in the output, failing the test
// when none comes within a minute or the process exits first.
func (p *process) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.After(time.Minute)
	for {
		if m := re.FindStringSubmatch(p.String()); m != nil {
			return m
		}
		select {
		case <-p.lines:
		case <-p.exited:
			if m := re.FindStringSubmatch(p.String()); m != nil {
				return m
			}
			t.Fatalf("telemetryd exited before printing %s:\n%s", re, p)
		case <-deadline:
			t.Fatalf("telemetryd printed no %s within a minute:\n%s", re, p)
		}
	}
}

// kill ends the process with SIGKILL, as a crash or the OOM killer
// would, and waits until it is gone.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// backendUnderTest is one store a crash test runs on: the flags naming
// it and a way to open it once the process is dead.
type backendUnderTest struct {
	name  string
	flags []string
	open  func(t *testing.T) store.Store
	// importing returns once the import's transaction is observed
	// writing, or when it has ended.
	importing func(t *testing.T, p *process)
	// betweenBatches, for a backend that writes an import in several
	// transactions, returns once the first has committed, or when the
	// import has ended.
	betweenBatches func(t *testing.T, p *process)
}

func crashBackends(t *testing.T) []backendUnderTest {
	dir := t.TempDir()
	embeddedFlags := func() []string { return []string{"--data-dir", dir} }
	backends := []backendUnderTest{{
		name:  "embedded",
		flags: embeddedFlags(),
		open: func(t *testing.T) store.Store {
			st, err := embedded.Open(dir)
			require.NoError(t, err)
			t.Cleanup(func() { _ = st.Close() })
			return st
		},
		// bbolt writes nothing to its file until a transaction commits,
		// and the import checks every record before it writes one: the
		// file changing is the commit of its first batch under way.
		importing: func(t *testing.T, p *process) {
			file := filepath.Join(dir, embedded.FileName)
			before, err := os.Stat(file)
			require.NoError(t, err)
			pollUntil(t, p, func() bool {
				now, err := os.Stat(file)
				return err == nil && (now.Size() != before.Size() || !now.ModTime().Equal(before.ModTime()))
			})
		},
		betweenBatches: func(t *testing.T, p *process) {
			file := filepath.Join(dir, embedded.FileName)
			before := committedTx(t, file)
			pollUntil(t, p, func() bool { return committedTx(t, file) > before })
		},
	}}
	cfg, ok := neo4jtest.Config()
	if !ok && os.Getenv("CI") != "true" {
		return backends // neo4jtest.Open skips; the embedded store still runs
	}
	neo4jtest.Open(t).Close() // an emptied Neo4j, held for this test alone
	flags := []string{"--neo4j-uri", cfg.URI, "--neo4j-username", cfg.Username, "--neo4j-password", cfg.Password}
	if cfg.Database != "" {
		flags = append(flags, "--neo4j-database", cfg.Database)
	}
	return append(backends, backendUnderTest{
		name:  "neo4j",
		flags: flags,
		open: func(t *testing.T) store.Store {
			st, err := openStore(t.Context(), storeConfig{Neo4jURI: cfg.URI, Neo4jUsername: cfg.Username, Neo4jPassword: cfg.Password, Neo4jDatabase: cfg.Database})
			require.NoError(t, err)
			t.Cleanup(func() { _ = st.Close() })
			return st
		},
		// The server lists the transaction and the query it runs.
		importing: func(t *testing.T, p *process) {
			d, err := driver.NewDriverWithContext(cfg.URI, driver.BasicAuth(cfg.Username, cfg.Password, ""))
			require.NoError(t, err)
			defer d.Close(context.Background())
			pollUntil(t, p, func() bool {
				res, err := driver.ExecuteQuery(t.Context(), d, "SHOW TRANSACTIONS YIELD currentQuery", nil, driver.EagerResultTransformer)
				if err != nil {
					return false
				}
				for _, rec := range res.Records {
					if q, _ := rec.Values[0].(string); strings.Contains(q, "CREATE (s:TelemetrySnapshot)") {
						return true
					}
				}
				return false
			})
		},
	})
}

// committedTx reads the id of the last transaction committed to a bbolt
// file from its two meta pages, without the file lock a running
// telemetryd holds. bbolt's file format fixes their layout: a 16-byte
// page header, then magic, version, page size and flags (4 bytes each),
// the root bucket (16), the freelist and high water mark page ids (8
// each), the transaction id (8) and an FNV-64a checksum (8) of all before
// it. A meta page caught half written fails its checksum and is skipped.
func committedTx(t *testing.T, path string) uint64 {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var txid uint64
	pageSize := int64(0)
	for page := range 2 {
		meta := make([]byte, 80)
		if _, err := f.ReadAt(meta, int64(page)*pageSize); err != nil {
			return txid
		}
		if page == 0 {
			pageSize = int64(binary.LittleEndian.Uint32(meta[24:28]))
		}
		sum := fnv.New64a()
		sum.Write(meta[16:72])
		if binary.LittleEndian.Uint32(meta[16:20]) == 0xED0CDAED && sum.Sum64() == binary.LittleEndian.Uint64(meta[72:80]) {
			txid = max(txid, binary.LittleEndian.Uint64(meta[64:72]))
		}
	}
	return txid
}

// pollUntil polls cond every millisecond until it holds or p exits,
// within a minute.
func pollUntil(t *testing.T, p *process, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for !cond() {
		select {
		case <-p.exited:
			return
		case <-deadline:
			t.Fatalf("the import was not seen writing within a minute:\n%s", p)
		case <-tick.C:
		}
	}
}

func countSnapshots(t *testing.T, st store.Store) []*telemetryd.Snapshot {
	t.Helper()
	var all []*telemetryd.Snapshot
	require.NoError(t, st.EachSnapshot(t.Context(), telemetryd.Filter{}, func(s *telemetryd.Snapshot) error {
		all = append(all, telemetryd.ClonePage([]*telemetryd.Snapshot{s})...)
		return nil
	}))
	return all
}

func requireVerified(t *testing.T, flags []string, want int) {
	t.Helper()
	code, stdout, stderr := execute(t, env(), append([]string{"snapshots", "verify"}, flags...)...)
	require.Equal(t, 0, code, "verify after the crash:\n%s%s", stdout, stderr)
	assert.Regexp(t, fmt.Sprintf(`verified %d snapshots?: checksums and chains intact`, want), stdout)
}

var checkedLine = regexp.MustCompile(`checked (\d+) snapshots; importing`)

// killPoint is when a crash test kills an import.
type killPoint struct {
	name string
	size int                            // bytes of data a record
	wait func(t *testing.T, p *process) // then the kill; nil: at once
	none bool                           // the kill must leave no record
}

// TestKilledImportLeavesAllOrNothing kills -9 `telemetryd snapshots
// import` at points observed from its output and from the store, on both
// backends: each time the store holds every record of the file or none,
// verify is clean, and the import run again completes. The embedded store
// writes a large import in batches, one transaction each; killed between
// two of them, the next open removes the batches written.
func TestKilledImportLeavesAllOrNothing(t *testing.T) {
	for _, b := range crashBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			dir := t.TempDir()
			points := []killPoint{
				{"when the file is checked", 1500, nil, false},
				{"while the import writes", 1500, b.importing, false},
			}
			if b.betweenBatches != nil {
				// Many batches: the kill lands long before the last.
				points = append(points, killPoint{"between the import's batches", 4000, b.betweenBatches, true})
			}
			// Each round imports a file of a new deployment, so every
			// kill meets an import with everything to write.
			for round, point := range points {
				t.Run(point.name, func(t *testing.T) {
					const n = 3000
					snaps := storetest.Chain(t, fmt.Sprintf("%s-crash-%d", b.name, round), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), n, point.size)
					file := filepath.Join(dir, fmt.Sprintf("import-%d.json", round))
					writeExport(t, file, snaps)
					st := b.open(t)
					before := len(countSnapshots(t, st))
					require.NoError(t, st.Close()) // the embedded store takes one process at a time

					p := startProcess(t, append([]string{"snapshots", "import", "--file", file}, b.flags...)...)
					p.waitFor(t, checkedLine)
					if point.wait != nil {
						point.wait(t, p)
					}
					p.kill()

					st = b.open(t)
					stored := len(countSnapshots(t, st)) - before
					if point.none {
						assert.Zero(t, stored, "a kill between the import's batches left records")
					} else {
						assert.True(t, stored == 0 || stored == n, "a killed import left %d of %d records", stored, n)
					}
					t.Logf("killed %s: %d of %d records stored", point.name, stored, n)
					require.NoError(t, st.Close())
					requireVerified(t, b.flags, before+stored)

					code, stdout, stderr := execute(t, env(), append([]string{"snapshots", "import", "--file", file}, b.flags...)...)
					require.Equal(t, 0, code, stderr)
					assert.Contains(t, stdout, fmt.Sprintf("imported %d snapshots, %d already present", n-stored, stored))
					requireVerified(t, b.flags, before+n)
				})
			}
		})
	}
}

// TestKilledDailyRunLeavesASoundSnapshot kills -9 `telemetryd serve` in
// the middle of its daily run, on both backends: once just after today's
// snapshot is stored and once while it is being sent. The store then holds
// today's snapshot sealed and pending, verify is clean, and the next run
// completes with that same snapshot.
func TestKilledDailyRunLeavesASoundSnapshot(t *testing.T) {
	for _, b := range crashBackends(t) {
		t.Run(b.name, func(t *testing.T) {
			received := make(chan struct{}, 10)
			release := make(chan struct{})
			receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.Copy(io.Discard, r.Body)
				received <- struct{}{}
				<-release // the send stays in flight until the test ends
			}))
			t.Cleanup(func() { close(release); receiver.Close() })
			const password = "crash test admin password"
			serveArgs := append([]string{"serve", "--listen", "127.0.0.1:0", "--admin-password", password,
				"--telemetry-remote", "--telemetry-endpoint", receiver.URL + "/v1/snapshots"}, b.flags...)

			for _, point := range []string{"once today's snapshot is stored", "while it is sent"} {
				t.Run(point, func(t *testing.T) {
					// Each point starts with no snapshot, so the run makes one.
					st := b.open(t)
					_, err := st.DeleteSnapshotsBefore(t.Context(), time.Now().Add(24*time.Hour))
					require.NoError(t, err)
					require.NoError(t, st.Close())

					for len(received) > 0 {
						<-received // sends of the point before
					}
					p := startProcess(t, serveArgs...)
					url := p.waitFor(t, servingURL)[1]
					go runWorkflow(url, password) // dies with the process
					if point == "once today's snapshot is stored" {
						p.waitFor(t, regexp.MustCompile(`telemetry snapshot stored`))
					} else {
						select {
						case <-received:
						case <-p.exited:
							t.Fatalf("telemetryd exited before sending:\n%s", p)
						case <-time.After(time.Minute):
							t.Fatalf("telemetryd sent nothing within a minute:\n%s", p)
						}
					}
					p.kill()

					st = b.open(t)
					snaps := countSnapshots(t, st)
					require.Len(t, snaps, 1, "the killed run left other than one snapshot")
					s := snaps[0]
					assert.NoError(t, s.Validate(), "the snapshot left behind is not sound")
					assert.Equal(t, telemetryd.SendPending, s.RemoteSendStatus, "no send outcome was recorded, so it must stay pending")
					assert.Equal(t, telemetryd.Day(time.Now()), telemetryd.Day(s.CreatedAt))
					require.NoError(t, st.Close())
					requireVerified(t, b.flags, 1)

					// The next run completes, with the same snapshot.
					d := serveInBackground(t, env(), append(serveArgs[1:], "--telemetry-remote=false")...)
					assert.Equal(t, s.ID, runWorkflow(d.url, password), "the next run did not complete with today's snapshot")
					require.NoError(t, d.stop())
				})
			}
		})
	}
}

// runWorkflow signs in as admin and runs the daily workflow through the
// API, returning the id of today's snapshot, or "" when the server went
// away first.
func runWorkflow(url, password string) string {
	post := func(token, query string, vars map[string]any, out any) error {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
		req, err := http.NewRequest(http.MethodPost, url+"/graphql", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		return json.NewDecoder(res.Body).Decode(out)
	}
	var login struct {
		Data struct{ Login struct{ AccessToken string } }
	}
	if err := post("", `mutation($p: String!) { login(username: "admin", password: $p) { accessToken } }`, map[string]any{"p": password}, &login); err != nil {
		return ""
	}
	var run struct {
		Data struct{ RunTelemetryWorkflow struct{ ID string } }
	}
	if err := post(login.Data.Login.AccessToken, `mutation { runTelemetryWorkflow { id } }`, nil, &run); err != nil {
		return ""
	}
	return run.Data.RunTelemetryWorkflow.ID
}
