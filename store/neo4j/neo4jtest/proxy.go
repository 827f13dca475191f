package neo4jtest

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/telemetryd/telemetryd/store/neo4j"
)

// Proxy forwards loopback connections to the Neo4j of NEO4J_URI until
// stopped, so a test can take Neo4j away from a store and bring it back.
type Proxy struct {
	addr   string
	target string
	ln     net.Listener
	mu     sync.Mutex
	conns  []net.Conn
	wg     sync.WaitGroup
}

// StartProxy starts a Proxy in front of the configured Neo4j and returns
// it with the configuration that reaches Neo4j through it. It skips the
// test when NEO4J_URI names no single host:port to forward to; call Open
// first for the lock, the skip rules and an empty database.
func StartProxy(t testing.TB) (*Proxy, neo4j.Config) {
	t.Helper()
	cfg, _ := Config()
	target := strings.TrimPrefix(strings.TrimPrefix(cfg.URI, "bolt://"), "neo4j://")
	if strings.Contains(target, "/") || !strings.Contains(target, ":") {
		t.Skipf("cannot proxy %s", cfg.URI)
	}
	p := &Proxy{target: target}
	p.Start(t)
	t.Cleanup(p.Stop)
	cfg.URI = "bolt://" + p.addr
	return p, cfg
}

// Start listens again, on the same address after a Stop.
func (p *Proxy) Start(t testing.TB) {
	t.Helper()
	addr := p.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("proxy listening on %s: %v", addr, err)
	}
	p.ln, p.addr = ln, ln.Addr().String()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	})
}

// Stop closes the listener and every forwarded connection, as a Neo4j
// restart would. Stopping a stopped Proxy does nothing.
func (p *Proxy) Stop() {
	_ = p.ln.Close()
	p.wg.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}
