// Command bench measures telemetryd on one machine in one run, every HTTP
// figure taken by the same load generator (wrk) against a floor that
// really is one: a static net/http server returning the exact bytes of the
// REST page, and on Neo4j the driver running the page query. It then
// compares an export of 100,000 records with streaming the same bytes from
// a file. `make bench` runs it; see README.md for a recent run.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"golang.org/x/crypto/bcrypt"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/exportfile"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/tools/internal/harness"
)

const (
	snapshotCount = 2000
	dataBytes     = 4096
	pageSize      = 50
	pageOffset    = 100
	connections   = 16
	threads       = 2
	password      = "bench password, not a secret"
)

// installWrk says how to get the load generator.
const installWrk = "wrk is not installed: `sudo apt-get install wrk` (Debian, Ubuntu), `brew install wrk` (macOS), or see https://github.com/wg/wrk"

func main() {
	binary := flag.String("telemetryd", "bin/telemetryd", "telemetryd binary to serve from")
	duration := flag.Duration("duration", 10*time.Second, "how long wrk loads each route")
	exportRecords := flag.Int("export-records", 100_000, "records in the export figure")
	exportProfile := flag.String("export-profile", "", "write a CPU profile of the export to this file")
	rounds := flag.Int("rounds", 3, "how many times each figure is taken, in turn with the others")
	flag.Parse()
	if *rounds < 1 {
		fmt.Fprintln(os.Stderr, "bench: -rounds must be 1 or more")
		os.Exit(2)
	}
	if err := run(context.Background(), *binary, os.Getenv("NEO4J_URI"), *duration, *rounds, *exportRecords, *exportProfile); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, binary, neo4jURI string, duration time.Duration, rounds, exportRecords int, exportProfile string) error {
	if _, err := exec.LookPath("wrk"); err != nil {
		return errors.New(installWrk)
	}
	if neo4jURI != "" && !harness.Loopback(neo4jURI) {
		// The bench deletes every snapshot of the database it uses.
		return fmt.Errorf("NEO4J_URI %s is not on this machine; the bench runs only against a loopback Neo4j", neo4jURI)
	}
	dir, err := os.MkdirTemp("", "telemetryd-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	backend := "embedded"
	if neo4jURI != "" {
		backend = "neo4j " + neo4jURI + " (its snapshots are deleted first)"
	}
	fmt.Printf("telemetryd bench: %d snapshots of about %d bytes on %s; wrk -t%d -c%d -d%s, page of %d at offset %d; %d rounds; GOMAXPROCS %d; %s\n",
		snapshotCount, dataBytes, backend, threads, connections, duration, pageSize, pageOffset, rounds, runtime.GOMAXPROCS(0), harness.LoadAverage())

	st, err := harness.OpenStore(ctx, filepath.Join(dir, "pages"), neo4jURI)
	if err != nil {
		return err
	}
	err = seed(ctx, st, snapshotCount)
	if err == nil {
		err = ensureReader(ctx, st)
	}
	// The embedded store admits one process at a time: hand it to the server.
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}

	srv, err := harness.Start(harness.Config{
		Binary: binary, DataDir: filepath.Join(dir, "pages"), Neo4jURI: neo4jURI,
		Args: []string{"--access-token-ttl", "1h"},
	})
	if err != nil {
		return err
	}
	defer srv.Stop()
	token, err := harness.Login(http.DefaultClient, srv.URL, reader, password)
	if err != nil {
		return err
	}
	auth := map[string]string{"Authorization": "Bearer " + token}
	restURL := fmt.Sprintf("%s/api/telemetry/snapshots?limit=%d&offset=%d", srv.URL, pageSize, pageOffset)
	page, err := fetch(http.MethodGet, restURL, auth, nil)
	if err != nil {
		return fmt.Errorf("REST page: %w", err)
	}
	gqlBody, err := graphQLBody()
	if err != nil {
		return err
	}
	gqlHeaders := map[string]string{"Authorization": auth["Authorization"], "Content-Type": "application/json"}
	if err := sameMembers(page, srv.URL+"/graphql", gqlHeaders, gqlBody); err != nil {
		return err
	}

	static, err := serveStatic(page)
	if err != nil {
		return err
	}
	defer static.Close()

	// Each round loads every route in turn, so a change in what else
	// runs on the machine weighs on all of them alike; the ratios are
	// taken within each round, and their median is the verdict.
	type route struct {
		name, method, target string
		headers              map[string]string
		body                 []byte
	}
	routes := []route{{name: "static net/http", method: http.MethodGet, target: "http://" + static.Addr().String() + "/"}}
	if neo4jURI != "" {
		q, err := serveDriverQuery(ctx, neo4jURI, page)
		if err != nil {
			return err
		}
		defer q.Close()
		routes = append(routes, route{name: "neo4j driver page query", method: http.MethodGet, target: "http://" + q.Addr().String() + "/"})
	}
	routes = append(routes,
		route{name: "REST page", method: http.MethodGet, target: restURL, headers: auth},
		route{name: "GraphQL page", method: http.MethodPost, target: srv.URL + "/graphql", headers: gqlHeaders, body: gqlBody})
	perSecond := map[string][]float64{} // by route, one a round
	for round := 1; round <= rounds; round++ {
		for _, rt := range routes {
			f, err := load(rt.name, rt.method, rt.target, rt.headers, rt.body, duration)
			if err != nil {
				return err
			}
			fmt.Printf("round %d  %s\n", round, f)
			perSecond[rt.name] = append(perSecond[rt.name], f.perSecond)
		}
	}
	srv.Stop()

	exp, err := measureExport(ctx, filepath.Join(dir, "export"), neo4jURI, exportRecords, rounds, exportProfile)
	if err != nil {
		return err
	}

	per := func(a, b string) []float64 {
		r := make([]float64, rounds)
		for i := range r {
			r[i] = perSecond[a][i] / perSecond[b][i]
		}
		return r
	}
	ratios := fmt.Sprintf("ratios, median of %d rounds (range): REST/static %s (aim ≥ 0.50), GraphQL/REST %s (aim ≥ 0.90)",
		rounds, spread(per("REST page", "static net/http"), "%.2f"), spread(per("GraphQL page", "REST page"), "%.2f"))
	if neo4jURI != "" {
		added := per("neo4j driver page query", "REST page")
		for i := range added {
			added[i] = (added[i] - 1) * 100
		}
		ratios += fmt.Sprintf(", REST adds %s%% to the driver's page query (aim ≤ 10%%)", spread(added, "%+.0f"))
	}
	ratios += fmt.Sprintf(", export/file %s (aim ≥ 0.80) with peak Go heap %.1f MiB (aim < 64)",
		spread(exp.ratios, "%.2f"), float64(exp.peakHeap)/(1<<20))
	fmt.Println(ratios)
	return nil
}

// spread formats the median of xs, then their range in brackets.
func spread(xs []float64, format string) string {
	s := slices.Sorted(slices.Values(xs))
	return fmt.Sprintf(format+" ("+format+"–"+format+")", s[len(s)/2], s[0], s[len(s)-1])
}

// seed replaces every snapshot with a chain of n, one a day up to today,
// so the server finds today's snapshot made and adds none.
func seed(ctx context.Context, st store.Store, n int) error {
	if _, err := st.DeleteSnapshotsBefore(ctx, time.Now().AddDate(1000, 0, 0)); err != nil {
		return fmt.Errorf("clearing snapshots: %w", err)
	}
	deploymentID, err := store.DeploymentID(ctx, st)
	if err != nil {
		return err
	}
	start := time.Now().UTC().Add(-time.Hour).AddDate(0, 0, -n+1)
	var prev *telemetryd.Snapshot
	batch := make([]*telemetryd.Snapshot, 0, 500)
	for i := range n {
		data, _ := json.Marshal(map[string]any{"day": i, "padding": strings.Repeat("x", dataBytes-32)})
		s := telemetryd.NewSnapshot(deploymentID, telemetryd.Version, data, start.AddDate(0, 0, i), prev)
		if err := s.Seal(); err != nil {
			return err
		}
		prev = s
		if batch = append(batch, s); len(batch) == cap(batch) || i == n-1 {
			if _, err := st.ImportSnapshots(ctx, store.Batch(batch)); err != nil {
				return fmt.Errorf("seeding: %w", err)
			}
			batch = batch[:0]
		}
	}
	return nil
}

// fetch makes one request and returns the body of a 200.
func fetch(method, target string, headers map[string]string, body []byte) ([]byte, error) {
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: status %d: %s", method, target, res.StatusCode, b)
	}
	return b, nil
}

// reader is the account the bench reads as; ensureReader sets it up.
const reader = "telemetryd-bench"

// ensureReader gives the store an account named reader, with the bench's
// password and the built-in telemetry-reader role (created when the store
// is new), whatever the store held before: a development Neo4j keeps the
// accounts other runs and tests left, with passwords the bench cannot know.
func ensureReader(ctx context.Context, st store.Store) error {
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		return err
	}
	return st.UpdateAccess(ctx, func(a *store.Access) error {
		if !slices.ContainsFunc(a.Roles, func(r *telemetryd.Role) bool { return r.Name == telemetryd.RoleTelemetryReader }) {
			a.Roles = append(a.Roles, &telemetryd.Role{Name: telemetryd.RoleTelemetryReader, Permissions: []telemetryd.Permission{telemetryd.ReadTelemetry}})
		}
		i := slices.IndexFunc(a.Accounts, func(acc *telemetryd.Account) bool { return acc.Username == reader })
		if i < 0 {
			a.Accounts = append(a.Accounts, &telemetryd.Account{ID: uuid.NewString(), Username: reader, CreatedAt: time.Now().UTC()})
			i = len(a.Accounts) - 1
		}
		acc := a.Accounts[i]
		acc.PasswordHash, acc.Disabled, acc.Roles = string(hash), false, []string{telemetryd.RoleTelemetryReader}
		return nil
	})
}

// graphQLQuery asks for the REST page with every member of the record.
const graphQLQuery = `query($limit: Int, $offset: Int) { telemetrySnapshots(limit: $limit, offset: $offset) { count nodes {
	id createdAt kind payloadFormat deploymentId version data checksum previousChecksum checksumValid remoteSendStatus remoteSendAt remoteSendError } } }`

func graphQLBody() ([]byte, error) {
	return json.Marshal(map[string]any{"query": graphQLQuery, "variables": map[string]int{"limit": pageSize, "offset": pageOffset}})
}

// sameMembers checks that the GraphQL page holds the REST page's records,
// so both figures move the same data.
func sameMembers(restPage []byte, target string, headers map[string]string, body []byte) error {
	b, err := fetch(http.MethodPost, target, headers, body)
	if err != nil {
		return fmt.Errorf("GraphQL page: %w", err)
	}
	var rest struct {
		Snapshots []struct{ ID, Checksum string } `json:"snapshots"`
	}
	var gql struct {
		Data struct {
			TelemetrySnapshots struct {
				Nodes []struct{ ID, Checksum string } `json:"nodes"`
			} `json:"telemetrySnapshots"`
		} `json:"data"`
		Errors json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(restPage, &rest); err != nil {
		return fmt.Errorf("REST page: %w", err)
	}
	if err := json.Unmarshal(b, &gql); err != nil || gql.Errors != nil {
		return fmt.Errorf("GraphQL page: %v %s", err, gql.Errors)
	}
	nodes := gql.Data.TelemetrySnapshots.Nodes
	if len(rest.Snapshots) != pageSize || len(nodes) != pageSize {
		return fmt.Errorf("pages hold %d (REST) and %d (GraphQL) records, want %d", len(rest.Snapshots), len(nodes), pageSize)
	}
	for i := range nodes {
		if nodes[i] != rest.Snapshots[i] {
			return fmt.Errorf("record %d differs: REST %s, GraphQL %s", i, rest.Snapshots[i].ID, nodes[i].ID)
		}
	}
	return nil
}

// serveStatic serves page's exact bytes as the REST route does.
func serveStatic(page []byte) (net.Listener, error) {
	return serve(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(page)
	}))
}

// serveDriverQuery answers each request by running the REST route's page
// query through the Neo4j driver, in a read transaction, collecting its
// result, and writing the page's bytes: what any Go server on that driver
// must at least do for the page. The query is the page reading of the
// route's one statement (pageReading in store/neo4j), which returns the
// page as one row, a list of each record's properties, without the
// readings of the snapshots lock and the count around it.
func serveDriverQuery(ctx context.Context, uri string, page []byte) (net.Listener, error) {
	d, err := driver.NewDriverWithContext(uri, driver.NoAuth())
	if err != nil {
		return nil, err
	}
	if err := d.VerifyConnectivity(ctx); err != nil {
		return nil, err
	}
	const query = `MATCH (s:TelemetrySnapshot) WHERE s.created_at IS NOT NULL
	WITH s ORDER BY s.created_at DESC, s.id DESC SKIP $offset LIMIT $limit
	RETURN collect(s {.*}) AS page`
	params := map[string]any{"offset": pageOffset, "limit": pageSize}
	ln, err := serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess := d.NewSession(r.Context(), driver.SessionConfig{AccessMode: driver.AccessModeRead, DatabaseName: "neo4j"})
		defer sess.Close(r.Context())
		n, err := driver.ExecuteRead(r.Context(), sess, func(tx driver.ManagedTransaction) (int, error) {
			res, err := tx.Run(r.Context(), query, params)
			if err != nil {
				return 0, err
			}
			rec, err := res.Single(r.Context())
			if err != nil {
				return 0, err
			}
			records, _ := rec.Values[0].([]any)
			return len(records), nil
		})
		if err != nil || n != pageSize {
			http.Error(w, fmt.Sprint("page query: ", n, err), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(page)
	}))
	if err != nil {
		d.Close(ctx)
		return nil, err
	}
	return closer{ln, func() { d.Close(context.Background()) }}, nil
}

type closer struct {
	net.Listener
	also func()
}

func (c closer) Close() error {
	err := c.Listener.Close()
	c.also()
	return err
}

func serve(h http.Handler) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go http.Serve(ln, h)
	return ln, nil
}

// figure is one measured route.
type figure struct {
	name      string
	requests  int
	perSecond float64
	p50, p99  string
}

func (f figure) String() string {
	return fmt.Sprintf("%-24s %9.1f pages/s  (%d pages, p50 %s, p99 %s)", f.name, f.perSecond, f.requests, f.p50, f.p99)
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkRate     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	wrkP50      = regexp.MustCompile(`\s50%\s+(\S+)`)
	wrkP99      = regexp.MustCompile(`\s99%\s+(\S+)`)
	wrkFailures = regexp.MustCompile(`Non-2xx or 3xx responses: \d+|Socket errors: .*`)
)

// load runs wrk against target, first for a second to warm up; any error
// response fails the figure.
func load(name, method, target string, headers map[string]string, body []byte, duration time.Duration) (figure, error) {
	script, err := os.CreateTemp("", "telemetryd-bench-*.lua")
	if err != nil {
		return figure{}, err
	}
	defer os.Remove(script.Name())
	fmt.Fprintf(script, "wrk.method = %q\n", method)
	if body != nil {
		fmt.Fprintf(script, "wrk.body = %s\n", luaString(body))
	}
	for k, v := range headers {
		fmt.Fprintf(script, "wrk.headers[%q] = %s\n", k, luaString([]byte(v)))
	}
	if err := script.Close(); err != nil {
		return figure{}, err
	}
	wrk := func(d time.Duration) (string, error) {
		out, err := exec.Command("wrk", "-t"+strconv.Itoa(threads), "-c"+strconv.Itoa(connections),
			"-d"+strconv.Itoa(int(d.Seconds()))+"s", "--latency", "-s", script.Name(), target).CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%s: wrk: %v: %s", name, err, out)
		}
		if m := wrkFailures.Find(out); m != nil {
			return "", fmt.Errorf("%s: %s", name, m)
		}
		return string(out), nil
	}
	if _, err := wrk(time.Second); err != nil {
		return figure{}, err
	}
	out, err := wrk(duration)
	if err != nil {
		return figure{}, err
	}
	f := figure{name: name}
	rate, requests, p50, p99 := wrkRate.FindStringSubmatch(out), wrkRequests.FindStringSubmatch(out), wrkP50.FindStringSubmatch(out), wrkP99.FindStringSubmatch(out)
	if rate == nil || requests == nil || p50 == nil || p99 == nil {
		return figure{}, fmt.Errorf("%s: cannot read wrk's output: %s", name, out)
	}
	f.perSecond, _ = strconv.ParseFloat(rate[1], 64)
	f.requests, _ = strconv.Atoi(requests[1])
	f.p50, f.p99 = p50[1], p99[1]
	return f, nil
}

// luaString quotes b as a Lua long string, which takes bytes as they are.
func luaString(b []byte) string {
	eq := ""
	for bytes.Contains(b, []byte("]"+eq+"]")) {
		eq += "="
	}
	return "[" + eq + "[" + string(b) + "]" + eq + "]"
}

// exportFigure compares an export with streaming its bytes from a file.
type exportFigure struct {
	records   int
	bytes     int64
	elapsed   time.Duration
	perSecond float64 // bytes a second
	file      float64 // bytes a second, streaming the export file
}

func (e exportFigure) String() string {
	return fmt.Sprintf("%-24s %9.1f MiB/s  (%d records, %.1f MiB in %.2fs); streaming the file %.1f MiB/s",
		"export", e.perSecond/(1<<20), e.records, float64(e.bytes)/(1<<20), e.elapsed.Seconds(), e.file/(1<<20))
}

// exportRounds is what measureExport found: export/file in each round,
// and the peak Go heap of every export.
type exportRounds struct {
	ratios   []float64
	peakHeap uint64
}

// measureExport seeds n snapshots and writes every one to a file as
// `telemetryd snapshots export` does, once to warm the caches and then
// once a round, sampling the Go heap as it goes; each round then streams
// that file into another one, synced as the export is. Both write a new
// file each time.
func measureExport(ctx context.Context, dir, neo4jURI string, n, rounds int, profile string) (exportRounds, error) {
	var res exportRounds
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, err
	}
	st, err := harness.OpenStore(ctx, dir, neo4jURI)
	if err != nil {
		return res, err
	}
	defer st.Close()
	if err := seed(ctx, st, n); err != nil {
		return res, err
	}
	path, copyPath := filepath.Join(dir, "export.json"), filepath.Join(dir, "copy.json")
	if _, err := exportfile.Write(path, func(yield func(*telemetryd.Snapshot) error) error {
		return st.EachSnapshot(ctx, telemetryd.Filter{}, yield)
	}); err != nil {
		return res, err
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return res, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return res, err
		}
		defer pprof.StopCPUProfile()
	}
	var stats runtime.MemStats
	for round := 1; round <= rounds; round++ {
		for _, p := range []string{path, copyPath} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return res, err
			}
		}
		runtime.GC()
		begin := time.Now()
		written, err := exportfile.Write(path, func(yield func(*telemetryd.Snapshot) error) error {
			var seen int
			return st.EachSnapshot(ctx, telemetryd.Filter{}, func(s *telemetryd.Snapshot) error {
				if seen++; seen%500 == 0 {
					runtime.ReadMemStats(&stats)
					res.peakHeap = max(res.peakHeap, stats.HeapAlloc)
				}
				return yield(s)
			})
		})
		if err != nil {
			return res, err
		}
		elapsed := time.Since(begin)
		info, err := os.Stat(path)
		if err != nil {
			return res, err
		}
		copied, err := streamFile(path, copyPath)
		if err != nil {
			return res, err
		}
		e := exportFigure{
			records: written, bytes: info.Size(), elapsed: elapsed,
			perSecond: float64(info.Size()) / elapsed.Seconds(),
			file:      float64(info.Size()) / copied.Seconds(),
		}
		fmt.Printf("round %d  %s\n", round, e)
		res.ratios = append(res.ratios, e.perSecond/e.file)
	}
	return res, nil
}

// streamFile copies from to a new file to through a 256 KiB buffer,
// synced, and returns how long that took.
func streamFile(from, to string) (time.Duration, error) {
	begin := time.Now()
	src, err := os.Open(from)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return 0, err
	}
	defer dst.Close()
	// Through a buffer, as a program streaming the file would: the bare
	// files would let io.Copy hand the copy to the kernel.
	if _, err := io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, make([]byte, 256<<10)); err != nil {
		return 0, err
	}
	if err := dst.Sync(); err != nil {
		return 0, err
	}
	return time.Since(begin), dst.Close()
}
