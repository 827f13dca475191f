// Command fleetbench measures telemetryd as a receiver (serve --receive)
// on each backend: how many snapshots a second it ingests from 16
// concurrent senders, and how long a page of 50 deployments takes with
// 10,000 deployments of 30 days (300,000 snapshots) stored. `make bench`
// runs it after tools/bench; see README.md for a recent run. It empties
// the Neo4j database it uses, which must be on this machine.
//
// Senders post pre-sealed bodies, distinct and valid, each on a new
// connection from its own loopback address (127.1.x.y), as deployments
// do: one address per deployment keeps the receiver's per-address rate
// limit out of the way, as it is in production.
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
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/tools/internal/harness"
)

const (
	senders  = 16
	days     = 30
	dataSize = 1024
	password = "fleet bench password, not a secret"
	// The fleet of the deployments page.
	fleetDeployments = 10_000
	pageSize         = 50
	pageRequests     = 200
)

// ingestDeployments is how many deployments send days snapshots each in
// the ingest run, per backend: enough for several seconds of work.
var ingestDeployments = map[string]int{"embedded": 300, "neo4j": 120}

func main() {
	binary := flag.String("telemetryd", "bin/telemetryd", "telemetryd binary to serve from")
	backends := flag.String("backends", "embedded,neo4j", "comma-separated backends to measure")
	flag.BoolVar(&ingestOnly, "ingest-only", false, "measure ingest only, without storing the fleet of the deployments page")
	flag.Parse()
	neo4jURI := os.Getenv("NEO4J_URI")
	if neo4jURI == "" {
		neo4jURI = "bolt://127.0.0.1:" + cmpOr(os.Getenv("NEO4J_PORT"), "7687")
	}
	if err := run(context.Background(), *binary, neo4jURI, strings.Split(*backends, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "fleetbench:", err)
		os.Exit(1)
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// ingestOnly skips the deployments page, which takes minutes to set up.
var ingestOnly bool

func run(ctx context.Context, binary, neo4jURI string, backends []string) error {
	fmt.Printf("telemetryd fleet bench: receiver ingest from %d senders (bodies of about %d bytes), and pages of %d deployments with %d deployments x %d days stored; %s\n",
		senders, dataSize+400, pageSize, fleetDeployments, days, harness.LoadAverage())
	for _, backend := range backends {
		b, err := prepare(ctx, backend, neo4jURI)
		if err != nil {
			return err
		}
		if b == nil {
			fmt.Printf("%-8s skipped: no Neo4j answers at %s (make neo4j-start, or set NEO4J_URI)\n", backend, neo4jURI)
			continue
		}
		err = b.measure(ctx, binary)
		os.RemoveAll(b.dir)
		if err != nil {
			return fmt.Errorf("%s: %w", backend, err)
		}
	}
	return nil
}

// backend is one store to measure, emptied of snapshots and deployments.
type backend struct {
	name     string
	dir      string
	neo4jURI string // empty for the embedded store
}

func prepare(ctx context.Context, name, neo4jURI string) (*backend, error) {
	dir, err := os.MkdirTemp("", "telemetryd-fleetbench-")
	if err != nil {
		return nil, err
	}
	b := &backend{name: name, dir: dir}
	if name == "embedded" {
		return b, nil
	}
	if !harness.Loopback(neo4jURI) {
		// The bench deletes every snapshot of the database it uses.
		return nil, fmt.Errorf("NEO4J_URI %s is not on this machine; the bench runs only against a loopback Neo4j", neo4jURI)
	}
	b.neo4jURI = neo4jURI
	// Accounts too: the server's --admin-password applies to a new database only.
	if err := harness.EmptyNeo4j(ctx, neo4jURI); err != nil {
		os.RemoveAll(dir)
		return nil, nil
	}
	st, err := b.reset(ctx)
	if telemetryd.ErrorCode(err) == telemetryd.EUNAVAILABLE {
		os.RemoveAll(dir)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return b, st.Close()
}

// reset opens the store emptied of snapshots and deployments.
func (b *backend) reset(ctx context.Context) (store.Store, error) {
	if b.neo4jURI == "" {
		if err := os.RemoveAll(b.dir); err != nil {
			return nil, err
		}
	}
	st, err := harness.OpenStore(ctx, b.dir, b.neo4jURI)
	if err != nil {
		return nil, err
	}
	if _, err := st.DeleteSnapshotsBefore(ctx, time.Now().AddDate(1, 0, 0)); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// start runs telemetryd serve --receive on the backend, with remote
// sending off.
func (b *backend) start(binary string) (*harness.Server, error) {
	return harness.Start(harness.Config{
		Binary: binary, DataDir: b.dir, Neo4jURI: b.neo4jURI,
		Args: []string{"--receive", "--admin-password", password},
		Env:  []string{"DO_NOT_TRACK=1"},
	})
}

func (b *backend) measure(ctx context.Context, binary string) error {
	start := time.Now().UTC().AddDate(0, 0, -days).Truncate(24 * time.Hour).Add(2 * time.Hour)

	// Ingest, over HTTP, into an empty receiver.
	bodies, err := seal(ingestDeployments[b.name], start, "ingest")
	if err != nil {
		return err
	}
	srv, err := b.start(binary)
	if err != nil {
		return err
	}
	line, err := ingest(srv.URL, bodies)
	srv.Stop()
	if err != nil {
		return err
	}
	fmt.Printf("%-8s ingest    %s\n", b.name, line)
	if ingestOnly {
		return nil
	}

	// The fleet, in an empty store: stored through the store and then
	// summarized, since a receiver would take minutes to ingest it over
	// HTTP.
	st, err := b.reset(ctx)
	if err != nil {
		return err
	}
	seeded := time.Now()
	if err := seedFleet(ctx, st, start); err != nil {
		st.Close()
		return err
	}
	seedTime := time.Since(seeded)
	floor, err := timePages(func(offset int) error {
		_, _, err := st.Deployments(ctx, telemetryd.DeploymentFilter{Limit: pageSize, Offset: offset})
		return err
	})
	if err := errors.Join(err, st.Close()); err != nil {
		return err
	}
	fmt.Printf("%-8s fleet     %d deployments, %d snapshots stored and summarized in %.1fs\n",
		b.name, fleetDeployments, fleetDeployments*days, seedTime.Seconds())
	fmt.Printf("%-8s store     deployments page of %d: %s\n", b.name, pageSize, floor)

	srv, err = b.start(binary)
	if err != nil {
		return err
	}
	defer srv.Stop()
	client := &http.Client{}
	token, err := harness.Login(client, srv.URL, "admin", password)
	if err != nil {
		return err
	}
	const query = `query($limit: Int, $offset: Int) { deployments(limit: $limit, offset: $offset) { count nodes {
		deploymentId firstSeen lastSeen snapshotCount latestVersion missingDays chainIntact } } }`
	gql, err := timePages(func(offset int) error {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]int{"limit": pageSize, "offset": offset}})
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/graphql", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := client.Do(req)
		if err != nil {
			return err
		}
		defer res.Body.Close()
		out, err := io.ReadAll(res.Body)
		if err != nil {
			return err
		}
		if res.StatusCode != http.StatusOK || !bytes.Contains(out, []byte(`"count":10000`)) {
			return fmt.Errorf("deployments page: status %d: %.200s", res.StatusCode, out)
		}
		return nil
	})
	if err != nil {
		return err
	}
	fmt.Printf("%-8s GraphQL   deployments page of %d: %s\n", b.name, pageSize, gql)
	return nil
}

// seal returns the bodies n deployments send over days days from start,
// day by day, deployments interleaved, each with its sender's address.
func seal(n int, start time.Time, prefix string) ([]post, error) {
	chains := make([][]*telemetryd.Snapshot, n)
	for i := range n {
		chain, err := chainOf(fmt.Sprintf("%s-%05d", prefix, i), start)
		if err != nil {
			return nil, err
		}
		chains[i] = chain
	}
	var posts []post
	for d := range days {
		for i := range n {
			posts = append(posts, post{source: sourceOf(i), body: chains[i][d].RemoteBody()})
		}
	}
	return posts, nil
}

// chainOf returns a deployment's days snapshots, chained, oldest first.
func chainOf(deploymentID string, start time.Time) ([]*telemetryd.Snapshot, error) {
	var prev *telemetryd.Snapshot
	chain := make([]*telemetryd.Snapshot, 0, days)
	for d := range days {
		data := fmt.Sprintf(`{"instance":{"os":"linux","cores":2,"day":%d},"padding":%q}`, d, strings.Repeat("x", dataSize))
		version := "0.1.0"
		if d >= days-3 {
			version = "0.2.0"
		}
		s := telemetryd.NewSnapshot(deploymentID, version, json.RawMessage(data), start.AddDate(0, 0, d), prev)
		s.RemoteSendStatus = telemetryd.SendSent
		if err := s.Seal(); err != nil {
			return nil, err
		}
		chain = append(chain, s)
		prev = s
	}
	return chain, nil
}

// sourceOf is deployment i's own loopback address.
func sourceOf(i int) net.IP { return net.IPv4(127, 1, byte(i>>8), byte(i)) }

type post struct {
	source net.IP
	body   []byte
}

// ingest posts every body from senders goroutines, each on a new
// connection from its deployment's address, and reports the rate.
func ingest(base string, posts []post) (string, error) {
	work := make(chan post)
	var mu sync.Mutex
	var latencies []time.Duration
	var failed error
	var wg sync.WaitGroup
	begin := time.Now()
	for range senders {
		wg.Go(func() {
			for p := range work {
				client := &http.Client{Transport: &http.Transport{
					DisableKeepAlives: true,
					DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: p.source}}).DialContext,
				}}
				t0 := time.Now()
				res, err := client.Post(base+"/v1/snapshots", "application/json", bytes.NewReader(p.body))
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusCreated {
						err = fmt.Errorf("status %d", res.StatusCode)
					}
				}
				mu.Lock()
				latencies = append(latencies, time.Since(t0))
				if err != nil && failed == nil {
					failed = err
				}
				mu.Unlock()
			}
		})
	}
	for _, p := range posts {
		work <- p
	}
	close(work)
	wg.Wait()
	elapsed := time.Since(begin)
	if failed != nil {
		return "", fmt.Errorf("ingest: %w", failed)
	}
	slices.Sort(latencies)
	return fmt.Sprintf("%6d snapshots in %6.2fs  %7.0f snapshots/s  p50 %6.2fms  p99 %6.2fms",
		len(posts), elapsed.Seconds(), float64(len(posts))/elapsed.Seconds(), ms(latencies[len(latencies)/2]), ms(latencies[len(latencies)*99/100])), nil
}

// seedFleet stores fleetDeployments deployments of days snapshots each
// and summarizes them.
func seedFleet(ctx context.Context, st store.Store, start time.Time) error {
	const batch = 100 // deployments, 3,000 snapshots, per import
	for first := 0; first < fleetDeployments; first += batch {
		var snaps []*telemetryd.Snapshot
		var ids []string
		for i := first; i < min(first+batch, fleetDeployments); i++ {
			// Deployments stop reporting one after another, so last seen varies.
			id := fmt.Sprintf("fleet-%05d", i)
			chain, err := chainOf(id, start.Add(-time.Duration(i)*time.Minute).AddDate(0, 0, -i%7))
			if err != nil {
				return err
			}
			snaps = append(snaps, chain...)
			ids = append(ids, id)
		}
		if _, err := st.ImportSnapshots(ctx, store.Batch(snaps)); err != nil {
			return fmt.Errorf("seeding: %w", err)
		}
		if err := st.SummarizeDeployments(ctx, ids); err != nil {
			return fmt.Errorf("summarizing: %w", err)
		}
	}
	return nil
}

// timePages requests pageRequests pages one after another, spread over
// the whole listing, and reports their latency.
func timePages(page func(offset int) error) (string, error) {
	latencies := make([]time.Duration, 0, pageRequests)
	for i := range pageRequests {
		offset := (i * pageSize * 7) % fleetDeployments
		t0 := time.Now()
		if err := page(offset); err != nil {
			return "", err
		}
		latencies = append(latencies, time.Since(t0))
	}
	slices.Sort(latencies)
	return fmt.Sprintf("%d pages  p50 %6.2fms  p99 %6.2fms  max %6.2fms", len(latencies),
		ms(latencies[len(latencies)/2]), ms(latencies[len(latencies)*99/100]), ms(latencies[len(latencies)-1])), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
