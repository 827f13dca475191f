// Command bench measures telemetryd on one machine in one run: the store's
// own list query (the floor), the REST route and the GraphQL query for the
// same pages over loopback HTTP with 16 concurrent clients, and an export
// of the whole set. `make bench` runs it; see README.md for a recent run.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/exportfile"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/embedded"
	"github.com/telemetryd/telemetryd/store/neo4j"
)

const (
	snapshotCount = 2000
	dataBytes     = 4096
	clients       = 16
	pageSize      = 50
	rounds        = 3 // each client walks every page this many times
	password      = "bench password, not a secret"
)

func main() {
	binary := flag.String("telemetryd", "bin/telemetryd", "telemetryd binary to serve from")
	flag.Parse()
	if err := run(context.Background(), *binary, os.Getenv("NEO4J_URI")); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// figure is one measured line.
type figure struct {
	name       string
	requests   int
	elapsed    time.Duration
	p50, p99   time.Duration
	throughput float64 // pages a second
}

func (f figure) String() string {
	return fmt.Sprintf("%-22s %6d pages in %7.3fs  %8.1f pages/s  p50 %7.2fms  p99 %7.2fms",
		f.name, f.requests, f.elapsed.Seconds(), f.throughput, ms(f.p50), ms(f.p99))
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func run(ctx context.Context, binary, neo4jURI string) error {
	if neo4jURI != "" && !loopback(neo4jURI) {
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
	fmt.Printf("telemetryd bench: %d snapshots of about %d bytes on %s; %d clients, pages of %d, GOMAXPROCS %d\n",
		snapshotCount, dataBytes, backend, clients, pageSize, runtime.GOMAXPROCS(0))

	st, err := openStore(ctx, dir, neo4jURI)
	if err != nil {
		return err
	}
	if err := seed(ctx, st); err != nil {
		st.Close()
		return err
	}
	floor, err := measure("store list (floor)", func(offset int) error {
		_, _, err := st.ListSnapshots(ctx, telemetryd.Filter{Limit: pageSize, Offset: offset})
		return err
	})
	if err != nil {
		st.Close()
		return err
	}
	fmt.Println(floor)
	// The embedded store admits one process at a time: hand it to the server.
	if err := st.Close(); err != nil {
		return err
	}

	srv, err := startServer(binary, dir, neo4jURI)
	if err != nil {
		return err
	}
	rest, gql, err := measureHTTP(srv.url)
	srv.stop()
	if err != nil {
		return err
	}
	fmt.Println(rest)
	fmt.Println(gql)

	exportLine, err := measureExport(ctx, dir, neo4jURI)
	if err != nil {
		return err
	}
	fmt.Println(exportLine)
	fmt.Printf("ratios to the floor: REST %.2f, GraphQL %.2f (throughput; 1.00 = as fast as the store alone)\n",
		rest.throughput/floor.throughput, gql.throughput/floor.throughput)
	return nil
}

func openStore(ctx context.Context, dir, neo4jURI string) (store.Store, error) {
	if neo4jURI == "" {
		return embedded.Open(dir)
	}
	return neo4j.Open(ctx, neo4j.Config{URI: neo4jURI, Username: "neo4j", Database: "neo4j"})
}

// seed replaces every snapshot with a chain of snapshotCount, one a day
// up to today, so the server finds today's snapshot made and adds none.
func seed(ctx context.Context, st store.Store) error {
	if _, err := st.DeleteSnapshotsBefore(ctx, time.Now().AddDate(100, 0, 0)); err != nil {
		return fmt.Errorf("clearing snapshots: %w", err)
	}
	deploymentID, err := store.DeploymentID(ctx, st)
	if err != nil {
		return err
	}
	start := time.Now().UTC().Add(-time.Hour).AddDate(0, 0, -snapshotCount+1)
	var prev *telemetryd.Snapshot
	batch := make([]*telemetryd.Snapshot, 0, 500)
	for i := range snapshotCount {
		data, _ := json.Marshal(map[string]any{"day": i, "padding": strings.Repeat("x", dataBytes-32)})
		s := telemetryd.NewSnapshot(deploymentID, telemetryd.Version, data, start.AddDate(0, 0, i), prev)
		if err := s.Seal(); err != nil {
			return err
		}
		prev = s
		if batch = append(batch, s); len(batch) == cap(batch) || i == snapshotCount-1 {
			if _, err := st.ImportSnapshots(ctx, store.Batch(batch)); err != nil {
				return fmt.Errorf("seeding: %w", err)
			}
			batch = batch[:0]
		}
	}
	return nil
}

// measure runs get for every page from each of the clients at once and
// reports throughput and latency; any failed request fails the figure.
func measure(name string, get func(offset int) error) (figure, error) {
	pages := snapshotCount / pageSize
	latencies := make([][]time.Duration, clients)
	var (
		mu     sync.Mutex
		failed error
	)
	var wg sync.WaitGroup
	begin := time.Now()
	for c := range clients {
		wg.Go(func() {
			for r := range rounds * pages {
				offset := ((c + r) % pages) * pageSize
				t0 := time.Now()
				if err := get(offset); err != nil {
					mu.Lock()
					failed = cmp.Or(failed, err)
					mu.Unlock()
				}
				latencies[c] = append(latencies[c], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	all := slices.Concat(latencies...)
	slices.Sort(all)
	if failed != nil {
		return figure{}, fmt.Errorf("%s: %w", name, failed)
	}
	return figure{
		name: name, requests: len(all), elapsed: elapsed,
		p50: all[len(all)/2], p99: all[len(all)*99/100],
		throughput: float64(len(all)) / elapsed.Seconds(),
	}, nil
}

type server struct {
	cmd *exec.Cmd
	url string
}

var servingURL = regexp.MustCompile(`url=(http://\S+)`)

// startServer runs telemetryd serve on a random loopback port and waits
// for it to say where it listens.
func startServer(binary, dir, neo4jURI string) (*server, error) {
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data-dir", dir, "--admin-password", password}
	if neo4jURI != "" {
		args = append(args, "--neo4j-uri", neo4jURI)
	}
	cmd := exec.Command(binary, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s (run `make build` first): %w", binary, err)
	}
	found := make(chan string, 1)
	go func() {
		scanner := bufio.NewScanner(stderr)
		for scanner.Scan() {
			if m := servingURL.FindStringSubmatch(scanner.Text()); m != nil && strings.Contains(scanner.Text(), "serving") {
				found <- m[1]
			}
		}
	}()
	select {
	case url := <-found:
		return &server{cmd: cmd, url: url}, nil
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, errors.New("telemetryd did not start within 30s")
	}
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	s.cmd.Wait()
}

func measureHTTP(base string) (rest, gql figure, err error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	token, err := login(client, base)
	if err != nil {
		return rest, gql, err
	}
	fetch := func(req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		if _, err := io.Copy(io.Discard, res.Body); err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", res.StatusCode)
		}
		return nil
	}
	if rest, err = measure("REST over HTTP", func(offset int) error {
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/telemetry/snapshots?limit=%d&offset=%d", base, pageSize, offset), nil)
		return fetch(req)
	}); err != nil {
		return rest, gql, err
	}
	const query = `query($limit: Int, $offset: Int) { telemetrySnapshots(limit: $limit, offset: $offset) { count nodes {
		id createdAt kind payloadFormat deploymentId version data checksum previousChecksum checksumValid remoteSendStatus remoteSendAt remoteSendError } } }`
	gql, err = measure("GraphQL over HTTP", func(offset int) error {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]int{"limit": pageSize, "offset": offset}})
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		return fetch(req)
	})
	return rest, gql, err
}

// loopback reports whether a Neo4j URI names this machine.
func loopback(uri string) bool {
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

func login(client *http.Client, base string) (string, error) {
	body, _ := json.Marshal(map[string]any{
		"query":     `mutation($p: String!) { login(username: "admin", password: $p) { accessToken } }`,
		"variables": map[string]string{"p": password},
	})
	res, err := client.Post(base+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	var out struct {
		Data struct {
			Login struct{ AccessToken string } `json:"login"`
		} `json:"data"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || out.Data.Login.AccessToken == "" {
		return "", fmt.Errorf("logging in as admin failed (status %d)", res.StatusCode)
	}
	return out.Data.Login.AccessToken, nil
}

// measureExport writes every snapshot to a file as `telemetryd snapshots
// export` does, sampling the Go heap as it goes.
func measureExport(ctx context.Context, dir, neo4jURI string) (string, error) {
	st, err := openStore(ctx, dir, neo4jURI)
	if err != nil {
		return "", err
	}
	defer st.Close()
	runtime.GC()
	var stats runtime.MemStats
	runtime.ReadMemStats(&stats)
	peak := stats.HeapAlloc
	begin := time.Now()
	n, err := exportfile.Write(filepath.Join(dir, "export.json"), func(yield func(*telemetryd.Snapshot) error) error {
		var seen int
		return st.EachSnapshot(ctx, telemetryd.Filter{}, func(s *telemetryd.Snapshot) error {
			if seen++; seen%50 == 0 {
				runtime.ReadMemStats(&stats)
				peak = max(peak, stats.HeapAlloc)
			}
			return yield(s)
		})
	})
	if err != nil {
		return "", err
	}
	elapsed := time.Since(begin)
	info, err := os.Stat(filepath.Join(dir, "export.json"))
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%-22s %6d records in %7.3fs  %8.1f records/s  %.1f MiB written  peak Go heap %.1f MiB",
		"export", n, elapsed.Seconds(), float64(n)/elapsed.Seconds(), float64(info.Size())/(1<<20), float64(peak)/(1<<20)), nil
}
