// Package server is telemetryd's HTTP face: health, metrics, the REST
// routes and the GraphQL endpoint, with the middleware they share.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/telemetryd/telemetryd/auth"
	"github.com/telemetryd/telemetryd/telemetry"
)

// Limits of one request.
const (
	// MaxGraphQLBody bounds a GraphQL request body; larger ones get 413.
	MaxGraphQLBody = 1 << 20
	// RequestTimeout bounds the work of one API request.
	RequestTimeout = 30 * time.Second
)

// Pinger answers whether the store can serve queries.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Counter counts activity for the daily telemetry.
type Counter interface {
	Count(name string)
}

// Server serves telemetryd over HTTP. Set the fields, then Open.
type Server struct {
	Addr      string
	Logger    *slog.Logger
	Store     Pinger
	Registry  *prometheus.Registry
	Auth      *auth.Service
	Telemetry *telemetry.Service
	GraphQL   http.Handler
	Counter   Counter

	ln      net.Listener
	srv     *http.Server
	metrics *httpMetrics
}

// Open binds the listener, returning bind errors at once, and serves in
// the background until Close.
func (s *Server) Open() error {
	metrics, err := newHTTPMetrics(s.Registry)
	if err != nil {
		return err
	}
	s.metrics = metrics
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

// URL returns the base URL the server listens on.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops accepting requests and waits, until ctx ends, for those
// under way. It is safe to call when Open failed or was never called.
func (s *Server) Close(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	return s.srv.Shutdown(ctx)
}

// Handler returns every route behind the shared middleware.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("GET /api/openapi.json", handleOpenAPI)
	api := func(h http.HandlerFunc) http.Handler { return withTimeout(h) }
	mux.Handle("GET /api/telemetry/snapshots", api(s.handleListSnapshots))
	mux.Handle("GET /api/telemetry/snapshots/{id}", api(s.handleGetSnapshot))
	mux.Handle("GET /api/telemetry/preview", api(s.handlePreview))
	mux.Handle("/graphql", withTimeout(limitBody(MaxGraphQLBody, s.GraphQL)))
	return s.observe(s.recoverPanics(s.Auth.Middleware(mux)))
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
