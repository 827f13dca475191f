// Package server is telemetryd's HTTP face: health, metrics, the REST
// routes and the GraphQL endpoint, with the middleware they share.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
)

// Limits of one request.
const (
	// MaxGraphQLBody bounds a GraphQL request body; larger ones get 413.
	MaxGraphQLBody = 1 << 20
	// RequestTimeout bounds the work of one API request.
	RequestTimeout = 30 * time.Second
	// ExportTimeout bounds an export, which streams as long as the client
	// keeps reading; each of its writes must still finish within
	// RequestTimeout.
	ExportTimeout = time.Hour
)

// Pinger answers whether the store can serve queries.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Sessions signs callers in and out and authenticates API requests;
// *auth.Service is one.
type Sessions interface {
	// Middleware puts the request's caller, or why its credentials were
	// refused, in the request's context (see auth.Authenticated).
	Middleware(next http.Handler) http.Handler
	Login(ctx context.Context, username, password string) (*auth.Tokens, error)
	RefreshAccess(ctx context.Context, refreshToken string) (*auth.Tokens, error)
	Logout(ctx context.Context, refreshToken string) (bool, error)
}

// Snapshots reads snapshots for the REST routes, checking the caller's
// permissions; *telemetry.Service is one.
type Snapshots interface {
	List(ctx context.Context, f telemetryd.Filter, fn func(count int, page []*telemetryd.Snapshot) error) error
	Get(ctx context.Context, id string) (*telemetryd.Snapshot, error)
	Export(ctx context.Context, f telemetryd.Filter, fn func(*telemetryd.Snapshot) error) error
	Preview(ctx context.Context) (json.RawMessage, error)
}

// Counter counts activity for the daily telemetry.
type Counter interface {
	Count(name string)
}

// Server serves telemetryd over HTTP. Set every field, then Open.
type Server struct {
	// Addr is the host:port to listen on; port 0 picks a free one.
	Addr   string
	Logger *slog.Logger
	// Store answers /readyz.
	Store Pinger
	// Registry serves /metrics and receives the HTTP metrics.
	Registry *prometheus.Registry
	// Auth authenticates the API routes and serves /api/auth.
	Auth Sessions
	// Telemetry serves the /api/telemetry routes.
	Telemetry Snapshots
	// GraphQL serves /graphql; see graph.NewHandler.
	GraphQL http.Handler
	// Counter counts requests and server errors for the daily telemetry.
	Counter Counter
	// Console, when set, wraps the handler of paths no route claims (see
	// console.Console.Handler): it serves the web console's paths and
	// passes the rest on. Paths under /api/ never reach it.
	Console func(next http.Handler) http.Handler

	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client; none by default. Handlers find each request's source
	// address with auth.Source(r.Context()).
	TrustedProxies TrustedProxies
	// Receiver, when set, accepts other deployments' snapshots on POST
	// /v1/snapshots (telemetryd serve --receive).
	Receiver *Receiver

	ln        net.Listener
	srv       *http.Server
	metrics   *httpMetrics
	receiving *receiving
	listings  sync.Pool // *[]byte buffers of appendListing
}

// Open binds the listener, returning bind errors at once, and serves in
// the background until Close.
func (s *Server) Open() error {
	metrics, err := newHTTPMetrics(s.Registry)
	if err != nil {
		return err
	}
	s.metrics = metrics
	if s.Receiver != nil {
		if s.receiving, err = newReceiving(s.Receiver, s.Registry, s.writeDomainError); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.Addr, err)
	}
	s.ln = ln
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      2 * RequestTimeout,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Logger.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// URL returns the base URL the server listens on, once Open succeeded.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops accepting requests and waits, until ctx ends, for those
// under way. It is safe to call when Open failed or was never called.
func (s *Server) Close(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}

// route is one REST route: its method and path, its handler, and the
// middleware around it.
type route struct {
	pattern string
	handle  func(*Server, http.ResponseWriter, *http.Request)
	wrap    func(*Server, http.Handler) http.Handler
}

var routes = []route{
	{"GET /api/telemetry/snapshots", (*Server).handleListSnapshots, (*Server).api},
	{"GET /api/telemetry/snapshots/{id}", (*Server).handleGetSnapshot, (*Server).api},
	{"GET /api/telemetry/preview", (*Server).handlePreview, (*Server).api},
	{"GET /api/telemetry/export", (*Server).handleExport, (*Server).streamed},
	{"POST /api/auth/login", (*Server).handleLogin, (*Server).jsonSession},
	{"POST /api/auth/refresh", (*Server).handleRefresh, (*Server).session},
	{"POST /api/auth/logout", (*Server).handleLogout, (*Server).session},
	{ReceiveRoute, (*Server).handleReceive, (*Server).sender},
}

// Routes returns the REST routes, each a method and a path; the OpenAPI
// document describes exactly these (a test holds them to it).
func Routes() []string {
	out := make([]string, len(routes))
	for i, rt := range routes {
		out[i] = rt.pattern
	}
	return out
}

// api authenticates the caller of a route, within RequestTimeout. Only
// the API routes authenticate, inside their deadline, so health checks
// and metrics never wait on the store for a token.
func (s *Server) api(h http.Handler) http.Handler {
	return withTimeout(RequestTimeout, s.Auth.Middleware(s.identify(h)))
}

// streamed is api for a route that streams for as long as the client
// reads, up to ExportTimeout.
func (s *Server) streamed(h http.Handler) http.Handler {
	return withTimeout(ExportTimeout, s.Auth.Middleware(s.identify(h)))
}

// session is for the authentication routes, which read their own
// credentials, not a caller.
func (s *Server) session(h http.Handler) http.Handler {
	return withTimeout(RequestTimeout, limitBody(maxAuthBody, h))
}

// sender is for the receive route, whose callers are other deployments,
// not accounts: the receive key, if any, is their only credential.
func (s *Server) sender(h http.Handler) http.Handler { return withTimeout(RequestTimeout, h) }

// jsonSession is session for a route whose body is JSON.
func (s *Server) jsonSession(h http.Handler) http.Handler { return s.session(requireJSON(h)) }

// Handler returns every route behind the shared middleware. Only the API
// routes authenticate, inside their deadline, so health checks and
// metrics never wait on the store for a token.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	// allowed lists the methods of each path, for the Allow header of a
	// 405; GET patterns serve HEAD too.
	allowed := map[string][]string{}
	handle := func(pattern string, h http.Handler) {
		mux.Handle(pattern, h)
		method, path, _ := strings.Cut(pattern, " ")
		if _, known := allowed[path]; !known {
			// Any other method on a known path: 405 in the contract's shape.
			mux.Handle(path, methodNotAllowed(allowed, path))
		}
		allowed[path] = append(allowed[path], method)
		if method == http.MethodGet {
			allowed[path] = append(allowed[path], http.MethodHead)
		}
		slices.Sort(allowed[path])
	}
	handle("GET /healthz", http.HandlerFunc(s.handleHealth))
	handle("GET /readyz", http.HandlerFunc(s.handleReady))
	handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn)}))
	handle("GET /api/openapi.json", http.HandlerFunc(handleOpenAPI))
	for _, rt := range routes {
		handle(rt.pattern, rt.wrap(s, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rt.handle(s, w, r) })))
	}
	handle("GET /graphql", s.toExplorer(s.api(s.GraphQL)))
	handle("POST /graphql", s.api(limitBody(MaxGraphQLBody, requireJSON(s.GraphQL))))
	mux.HandleFunc("/api/", notFound)
	var unclaimed http.Handler = http.HandlerFunc(notFound)
	if s.Console != nil {
		unclaimed = s.Console(unclaimed)
	}
	mux.Handle("/", unclaimed)
	return s.observe(s.recoverPanics(secureHeaders(mux)))
}

// toExplorer sends a browser that opens /graphql to the console's GraphiQL
// explorer: a page load asks for HTML and carries no query, which the
// endpoint itself could only refuse.
func (s *Server) toExplorer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.Console != nil && r.URL.RawQuery == "" && strings.Contains(r.Header.Get("Accept"), "text/html") {
			http.Redirect(w, r, "/graphiql", http.StatusFound)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) handleHealth(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleReady answers 200 only when the store answers a query in time.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.Store.Ping(ctx); err != nil {
		s.Logger.Warn("readiness check failed", "err", err)
		writeError(w, http.StatusServiceUnavailable, "store unavailable")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
