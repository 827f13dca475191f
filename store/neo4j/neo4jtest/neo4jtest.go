// Package neo4jtest opens Neo4j stores for tests, on the server NEO4J_URI
// names, one test at a time across every test process.
package neo4jtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/telemetryd/telemetryd/store/neo4j"
)

// Config reads the server from NEO4J_URI, NEO4J_USERNAME, NEO4J_PASSWORD
// and NEO4J_DATABASE. ok is false when NEO4J_URI is unset.
func Config() (cfg neo4j.Config, ok bool) {
	cfg = neo4j.Config{
		URI:      os.Getenv("NEO4J_URI"),
		Username: os.Getenv("NEO4J_USERNAME"),
		Password: os.Getenv("NEO4J_PASSWORD"),
		Database: os.Getenv("NEO4J_DATABASE"),
	}
	if cfg.Username == "" {
		cfg.Username = "neo4j"
	}
	return cfg, cfg.URI != ""
}

// Open returns a freshly opened store on an emptied database, closed when
// the test ends. Neo4j Community has one user database and `go test ./...`
// runs packages in parallel, so Open holds an exclusive lock, shared by
// every process on the machine, until the test ends; tests using it must
// not call t.Parallel.
//
// Without NEO4J_URI the test is skipped, and so it is when Neo4j is
// unreachable; under CI=true both are failures instead, since CI must run
// the Neo4j tests.
func Open(t testing.TB) *neo4j.Store {
	t.Helper()
	cfg, ok := Config()
	ci := os.Getenv("CI") == "true"
	if !ok {
		if ci {
			t.Fatal("NEO4J_URI is not set; CI must run Neo4j tests")
		}
		t.Skip("NEO4J_URI is not set; skipping Neo4j tests")
	}
	lock(t, cfg.URI)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := neo4j.Open(ctx, cfg)
	if err != nil {
		if ci {
			t.Fatalf("opening Neo4j at %s: %v", cfg.URI, err)
		}
		t.Skipf("Neo4j at %s is unreachable, skipping: %v", cfg.URI, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := wipe(ctx, cfg); err != nil {
		t.Fatalf("emptying Neo4j at %s: %v", cfg.URI, err)
	}
	return s
}

// wipe deletes every node of the database, in batches so a large
// benchmark data set does not need one huge transaction. The schema stays.
func wipe(ctx context.Context, cfg neo4j.Config) error {
	d, err := driver.NewDriverWithContext(cfg.URI, driver.BasicAuth(cfg.Username, cfg.Password, ""))
	if err != nil {
		return err
	}
	defer d.Close(ctx)
	database := cfg.Database
	if database == "" {
		database = neo4j.DefaultDatabase
	}
	sess := d.NewSession(ctx, driver.SessionConfig{DatabaseName: database})
	defer sess.Close(ctx)
	// CALL { } IN TRANSACTIONS needs an auto-commit transaction: Run.
	res, err := sess.Run(ctx, `MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS OF 10000 ROWS`, nil)
	if err != nil {
		return err
	}
	_, err = res.Consume(ctx)
	return err
}

// held counts, per lock file, the Opens of this process holding it, so a
// test may open more than one store without locking itself out.
var held = struct {
	sync.Mutex
	files map[string]*heldLock
}{files: map[string]*heldLock{}}

type heldLock struct {
	f     *os.File
	count int
}

// lock takes the machine-wide lock of the database at uri until the test
// ends. The lock is the server's, whatever the scheme: bolt:// and
// neo4j:// runs against one server wait for each other.
func lock(t testing.TB, uri string) {
	t.Helper()
	server := uri
	if u, err := url.Parse(uri); err == nil && u.Host != "" {
		server = u.Host
	}
	sum := sha256.Sum256([]byte(server))
	path := filepath.Join(os.TempDir(), "telemetryd-neo4jtest-"+hex.EncodeToString(sum[:8])+".lock")

	held.Lock()
	defer held.Unlock()
	h, ok := held.files[path]
	if !ok {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
		if err != nil {
			t.Fatalf("opening lock file: %v", err)
		}
		// Blocks until the other process's test ends.
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			_ = f.Close()
			t.Fatalf("locking %s: %v", path, err)
		}
		h = &heldLock{f: f}
		held.files[path] = h
	}
	h.count++
	t.Cleanup(func() {
		held.Lock()
		defer held.Unlock()
		if h.count--; h.count == 0 {
			_ = h.f.Close() // releases the flock
			delete(held.files, path)
		}
	})
}
