// Command soak drives a real telemetryd with concurrent clients mixing
// REST, GraphQL, logins and refreshes, printing throughput, p99 latency,
// errors and the server's resident memory at every interval, and ends
// with a verdict on memory growth. It starts the server itself, on the
// embedded store and, when NEO4J_URI names a Neo4j on this machine, on
// Neo4j too (emptying that database first). All traffic stays on
// loopback. `make soak` runs it; see README.md for a run.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/tools/internal/harness"
)

const (
	password  = "soak password, not a secret"
	dataBytes = 4096
	pageSize  = 50
)

type options struct {
	binary    string
	duration  time.Duration
	interval  time.Duration
	clients   int
	snapshots int
}

func main() {
	var o options
	flag.StringVar(&o.binary, "telemetryd", "bin/telemetryd", "telemetryd binary to serve from")
	flag.DurationVar(&o.duration, "duration", 10*time.Minute, "how long to drive each backend")
	flag.DurationVar(&o.interval, "interval", 30*time.Second, "how often to print a line")
	flag.IntVar(&o.clients, "clients", 16, "concurrent clients")
	flag.IntVar(&o.snapshots, "snapshots", 1000, "snapshots of about 4 KB seeded before the run")
	only := flag.String("backend", "", `"embedded" or "neo4j" to soak only that backend`)
	flag.Parse()
	if o.clients < 1 || o.duration < o.interval || o.interval <= 0 || o.snapshots < 1 {
		fmt.Fprintln(os.Stderr, "soak: -clients and -snapshots must be at least 1, and -duration at least -interval")
		os.Exit(2)
	}
	var backends []string
	if *only != "neo4j" {
		backends = append(backends, "")
	}
	if uri := os.Getenv("NEO4J_URI"); uri != "" && *only != "embedded" {
		if !harness.Loopback(uri) {
			fmt.Fprintf(os.Stderr, "soak: NEO4J_URI %s is not on this machine; the soak empties the database it uses, so it runs only against a loopback Neo4j\n", uri)
			os.Exit(2)
		}
		backends = append(backends, uri)
	}
	if len(backends) == 0 {
		fmt.Fprintln(os.Stderr, "soak: -backend neo4j needs NEO4J_URI")
		os.Exit(2)
	}
	failed := false
	for _, uri := range backends {
		ok, err := soak(context.Background(), o, uri)
		if err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(1)
		}
		failed = failed || !ok
	}
	if failed {
		os.Exit(1)
	}
}

// soak runs one backend and reports whether it passed.
func soak(ctx context.Context, o options, neo4jURI string) (bool, error) {
	dir, err := os.MkdirTemp("", "telemetryd-soak-")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(dir)
	backend := "embedded"
	if neo4jURI != "" {
		backend = "neo4j " + neo4jURI
	}
	fmt.Printf("telemetryd soak on %s: %d clients for %s, %d snapshots of about %d bytes; a line every %s\n",
		backend, o.clients, o.duration, o.snapshots, dataBytes, o.interval)

	ids, err := seed(ctx, dir, neo4jURI, o.snapshots)
	if err != nil {
		return false, err
	}
	// The server's log lines at ERROR are shown and counted: any fails the soak.
	var errorLines atomic.Int64
	srv, err := harness.Start(harness.Config{
		Binary: o.binary, DataDir: dir, Neo4jURI: neo4jURI,
		Args: []string{"--admin-password", password},
		Log: func(line string) {
			if strings.Contains(line, "level=ERROR") {
				errorLines.Add(1)
				fmt.Fprintln(os.Stderr, "server:", line)
			}
		},
	})
	if err != nil {
		return false, err
	}
	defer srv.Stop()

	w := &workload{base: srv.URL, ids: ids, client: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: o.clients},
		Timeout:   time.Minute,
	}}
	deadline := time.Now().Add(o.duration)
	var wg sync.WaitGroup
	for c := range o.clients {
		wg.Go(func() { w.drive(deadline, uint64(c)) })
	}

	fmt.Printf("%8s %10s %10s %8s %8s %10s\n", "elapsed", "req/s", "p99", "errors", "refused", "rss")
	var rss []float64
	begin := time.Now()
	tick := time.NewTicker(o.interval)
	for range tick.C {
		s := w.window()
		r, err := srv.RSS()
		if err != nil {
			tick.Stop()
			wg.Wait()
			return false, fmt.Errorf("reading the server's memory: %w", err)
		}
		rss = append(rss, r)
		fmt.Printf("%8s %10.1f %8.1fms %8d %8d %6.1f MiB\n",
			time.Since(begin).Round(time.Second), float64(s.requests)/s.elapsed.Seconds(), ms(s.p99), s.errors, s.refused, r)
		for _, e := range s.samples {
			fmt.Println("         error:", e)
		}
		if !time.Now().Before(deadline) {
			break
		}
	}
	tick.Stop()
	wg.Wait()

	total := w.total.Load()
	errorsTotal := w.errorsTotal.Load()
	grew, verdict := memoryVerdict(rss)
	var refusedBy []string
	w.refusedRoutes.Range(func(k, _ any) bool { refusedBy = append(refusedBy, k.(string)); return true })
	slices.Sort(refusedBy)
	fmt.Printf("%d requests, %d errors, %d refused (429/503: %s), %d server log lines at ERROR\n",
		total, errorsTotal, w.refusedTotal.Load(), strings.Join(refusedBy, ", "), errorLines.Load())
	fmt.Println("verdict:", verdict)
	return !grew && errorsTotal == 0 && errorLines.Load() == 0, nil
}

// memoryVerdict compares the resident memory of the last third of the run
// with that of the first third after the first line (the warm-up): it
// grew when the later median exceeds the earlier by more than 20% and 16
// MiB.
func memoryVerdict(samples []float64) (grew bool, verdict string) {
	if len(samples) < 4 {
		return false, fmt.Sprintf("too short to judge memory growth (%d lines; run at least 4 intervals)", len(samples))
	}
	steady := samples[1:]
	third := max(1, len(steady)/3)
	early := median(steady[:third])
	late := median(steady[len(steady)-third:])
	growth := late - early
	line := fmt.Sprintf("RSS median %.1f MiB early, %.1f MiB late (%+.1f MiB, %+.0f%%), peak %.1f MiB",
		early, late, growth, 100*growth/early, slices.Max(samples))
	if growth > 16 && growth > 0.2*early {
		return true, "memory GROWS: " + line
	}
	return false, "memory flat: " + line
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// seed empties the store and stores a chain of n snapshots, one a day up
// to an hour ago, so the server finds today's snapshot made. It returns
// their ids.
func seed(ctx context.Context, dir, neo4jURI string, n int) ([]string, error) {
	if neo4jURI != "" {
		if err := harness.EmptyNeo4j(ctx, neo4jURI); err != nil {
			return nil, err
		}
	}
	st, err := harness.OpenStore(ctx, dir, neo4jURI)
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	defer st.Close()
	deploymentID, err := store.DeploymentID(ctx, st)
	if err != nil {
		return nil, err
	}
	start := time.Now().UTC().Add(-time.Hour).AddDate(0, 0, -n+1)
	// Made once: an import may read its records more than once, and each
	// reading must yield the same ones.
	snaps := make([]*telemetryd.Snapshot, 0, n)
	ids := make([]string, 0, n)
	var prev *telemetryd.Snapshot
	for i := range n {
		data, _ := json.Marshal(map[string]any{"day": i, "padding": strings.Repeat("x", dataBytes-32)})
		s := telemetryd.NewSnapshot(deploymentID, telemetryd.Version, data, start.AddDate(0, 0, i), prev)
		if err := s.Seal(); err != nil {
			return nil, err
		}
		snaps, ids, prev = append(snaps, s), append(ids, s.ID), s
	}
	_, err = st.ImportSnapshots(ctx, store.Batch(snaps))
	if err != nil {
		return nil, fmt.Errorf("seeding: %w", err)
	}
	return ids, nil
}

// workload is what the clients do, and what they measured in the current
// window.
type workload struct {
	base   string
	ids    []string
	client *http.Client

	mu        sync.Mutex
	since     time.Time
	latencies []time.Duration
	errs      int
	refused   int
	samples   []string // the first few errors of the window

	total, errorsTotal, refusedTotal atomic.Int64
	refusedRoutes                    sync.Map // routes that answered 429 or 503
}

// route names the route of req, without ids or parameters.
func route(req *http.Request) string {
	path := req.URL.Path
	if strings.HasPrefix(path, "/api/telemetry/snapshots/") {
		path = "/api/telemetry/snapshots/{id}"
	}
	return req.Method + " " + path
}

type window struct {
	elapsed         time.Duration
	requests        int
	p99             time.Duration
	errors, refused int
	samples         []string
}

// window returns what the clients did since the last call.
func (w *workload) window() window {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	if w.since.IsZero() {
		w.since = now
	}
	s := window{elapsed: now.Sub(w.since), requests: len(w.latencies), errors: w.errs, refused: w.refused, samples: w.samples}
	if len(w.latencies) > 0 {
		slices.Sort(w.latencies)
		s.p99 = w.latencies[len(w.latencies)*99/100]
	}
	w.since, w.latencies, w.errs, w.refused, w.samples = now, w.latencies[:0], 0, 0, nil
	return s
}

// record counts one request: err is a failure, refused a 429 or 503
// (the server shedding load, as the contract allows).
func (w *workload) record(took time.Duration, refused bool, err error) {
	w.total.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.since.IsZero() {
		w.since = time.Now()
	}
	w.latencies = append(w.latencies, took)
	switch {
	case err != nil:
		w.errs++
		w.errorsTotal.Add(1)
		if len(w.samples) < 3 {
			w.samples = append(w.samples, err.Error())
		}
	case refused:
		w.refused++
		w.refusedTotal.Add(1)
	}
}

// session is one client's sign-in.
type session struct{ access, refresh string }

// drive signs in, then picks requests at random until the deadline: 45%
// REST list pages, 10% REST records by id, 30% GraphQL pages, 5% GraphQL
// `me`, 9% refreshes and 1% fresh logins (each costs a bcrypt hash).
func (w *workload) drive(deadline time.Time, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	var s session
	for wait := 50 * time.Millisecond; time.Now().Before(deadline); wait = min(2*wait, 2*time.Second) {
		var ok bool
		if s, ok = w.login(); ok {
			break
		}
		time.Sleep(wait/2 + rand.N(wait/2)) // the server sheds logins under load: back off
	}
	for time.Now().Before(deadline) {
		switch p := rng.IntN(100); {
		case p < 45:
			offset := rng.IntN(max(1, len(w.ids)/pageSize)) * pageSize
			w.get(&s, fmt.Sprintf("/api/telemetry/snapshots?limit=%d&offset=%d", pageSize, offset))
		case p < 55:
			w.get(&s, "/api/telemetry/snapshots/"+w.ids[rng.IntN(len(w.ids))])
		case p < 85:
			offset := rng.IntN(max(1, len(w.ids)/20)) * 20
			w.graphql(&s, `query($o: Int) { telemetrySnapshots(limit: 20, offset: $o) { count nodes { id createdAt checksum checksumValid data } } }`,
				map[string]any{"o": offset})
		case p < 90:
			w.graphql(&s, `{ me { username roles { name } } }`, nil)
		case p < 99:
			w.refreshSession(&s)
		default:
			if fresh, ok := w.login(); ok {
				s = fresh
			}
		}
	}
}

// do sends req and records the outcome; a 2xx body is returned.
func (w *workload) do(req *http.Request) ([]byte, int) {
	begin := time.Now()
	res, err := w.client.Do(req)
	if err != nil {
		w.record(time.Since(begin), false, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err))
		return nil, 0
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	took := time.Since(begin)
	switch {
	case err != nil:
		w.record(took, false, fmt.Errorf("%s %s: reading the body: %w", req.Method, req.URL.Path, err))
	case res.StatusCode == http.StatusTooManyRequests || res.StatusCode == http.StatusServiceUnavailable:
		w.record(took, true, nil)
		w.refusedRoutes.Store(route(req), true)
	case res.StatusCode/100 != 2:
		w.record(took, false, fmt.Errorf("%s %s: status %d: %.200s", req.Method, req.URL.Path, res.StatusCode, body))
	default:
		w.record(took, false, nil)
		return body, res.StatusCode
	}
	return nil, res.StatusCode
}

func (w *workload) get(s *session, path string) {
	req, _ := http.NewRequest(http.MethodGet, w.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+s.access)
	w.do(req)
}

func (w *workload) graphql(s *session, query string, vars map[string]any) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, w.base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+s.access)
	if out, _ := w.do(req); out != nil && bytes.Contains(out, []byte(`"errors"`)) {
		w.record(0, false, fmt.Errorf("graphql: %.200s", out))
	}
}

func (w *workload) login() (session, bool) {
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": password})
	req, _ := http.NewRequest(http.MethodPost, w.base+"/api/auth/login", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	out, _ := w.do(req)
	var tokens struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if out == nil || json.Unmarshal(out, &tokens) != nil || tokens.AccessToken == "" {
		return session{}, false
	}
	return session{tokens.AccessToken, tokens.RefreshToken}, true
}

func (w *workload) refreshSession(s *session) {
	req, _ := http.NewRequest(http.MethodPost, w.base+"/api/auth/refresh", nil)
	req.Header.Set("Authorization", "Bearer "+s.refresh)
	out, _ := w.do(req)
	var tokens struct {
		AccessToken string `json:"access_token"`
	}
	if out != nil && json.Unmarshal(out, &tokens) == nil && tokens.AccessToken != "" {
		s.access = tokens.AccessToken
	}
}
