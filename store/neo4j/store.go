// Package neo4j implements store.Store on a Neo4j 5 server or cluster.
package neo4j

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/neo4j/neo4j-go-driver/v5/neo4j/config"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

var _ store.Store = (*Store)(nil)

// DefaultDatabase is the database used when Config.Database is empty.
const DefaultDatabase = "neo4j"

// Driver settings. They are shorter than the driver's defaults (30 s of
// retries, a minute to acquire a connection) because a request waiting on
// a Neo4j that is down should fail with 503 within seconds, not hang.
const (
	connectTimeout     = 5 * time.Second
	acquireTimeout     = 15 * time.Second
	maxRetryTime       = 5 * time.Second
	schemaAwaitSeconds = 300
	// releaseTimeout bounds closing a session or transaction, which goes
	// on after the caller's context is cancelled (see release).
	releaseTimeout = 10 * time.Second
)

// Config says where the Neo4j server is.
type Config struct {
	// URI is a bolt://, bolt+s://, neo4j:// or neo4j+s:// address.
	URI string
	// Username and Password authenticate with basic auth; a server with
	// authentication disabled accepts any.
	Username string
	Password string
	// Database is the database every session names; empty means "neo4j".
	Database string
}

// Store keeps everything in one Neo4j database. It holds only the driver,
// whose pool replaces dead connections by itself, and opens a short-lived
// session per call, so it heals when Neo4j comes back.
type Store struct {
	driver    driver.DriverWithContext
	database  string
	bookmarks driver.BookmarkManager
	closed    atomic.Bool
	receiving batcher
}

// Open connects to Neo4j, checks that it answers and creates the
// constraints and indexes the store relies on (idempotently, so replicas
// may start together). It returns EUNAVAILABLE when Neo4j cannot be
// reached.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	database := cfg.Database
	if database == "" {
		database = DefaultDatabase
	}
	d, err := driver.NewDriverWithContext(cfg.URI, driver.BasicAuth(cfg.Username, cfg.Password, ""),
		func(c *config.Config) {
			c.SocketConnectTimeout = connectTimeout
			c.ConnectionAcquisitionTimeout = acquireTimeout
			c.MaxTransactionRetryTime = maxRetryTime
		})
	if err != nil {
		return nil, telemetryd.Errorf(telemetryd.EINVALID, "neo4j uri %q: %v", cfg.URI, err)
	}
	s := &Store{
		driver:   d,
		database: database,
		// One bookmark manager for every session of the store gives
		// read-your-writes on a cluster, where a new session could
		// otherwise read from a follower that lags behind.
		bookmarks: driver.NewBookmarkManager(driver.BookmarkManagerConfig{}),
	}
	if err := d.VerifyConnectivity(ctx); err != nil {
		_ = s.Close()
		return nil, wrap("connecting to neo4j", err)
	}
	if err := s.migrate(ctx); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// schema is every constraint and index the store relies on. Uniqueness
// constraints come with their own index, so lookups by these properties
// are index seeks too.
var schema = []string{
	`CREATE CONSTRAINT telemetry_snapshot_id IF NOT EXISTS
	 FOR (s:TelemetrySnapshot) REQUIRE s.id IS UNIQUE`,
	// deployment_day is "<deployment id>/<YYYY-MM-DD>": this constraint is
	// what keeps several replicas from writing two snapshots of one day.
	`CREATE CONSTRAINT telemetry_snapshot_deployment_day IF NOT EXISTS
	 FOR (s:TelemetrySnapshot) REQUIRE s.deployment_day IS UNIQUE`,
	// Listings range over created_at and read it in index order.
	`CREATE RANGE INDEX telemetry_snapshot_created_at IF NOT EXISTS
	 FOR (s:TelemetrySnapshot) ON (s.created_at)`,
	// LatestSnapshot: one seek to the newest entry of a deployment.
	`CREATE RANGE INDEX telemetry_snapshot_deployment_created_at IF NOT EXISTS
	 FOR (s:TelemetrySnapshot) ON (s.deployment_id, s.created_at)`,
	// UnsentSnapshots: a deployment's few failed or pending among many
	// sent, and among other deployments' imported snapshots.
	`CREATE RANGE INDEX telemetry_snapshot_deployment_send_status_created_at IF NOT EXISTS
	 FOR (s:TelemetrySnapshot) ON (s.deployment_id, s.remote_send_status, s.created_at)`,
	// The index it replaces, which did not lead with the deployment, from
	// databases created before.
	`DROP INDEX telemetry_snapshot_send_status_created_at IF EXISTS`,
	// Summaries of received deployments: one node each, listed by
	// last_seen.
	`CREATE CONSTRAINT telemetry_deployment_id IF NOT EXISTS
	 FOR (d:TelemetryDeployment) REQUIRE d.id IS UNIQUE`,
	`CREATE RANGE INDEX telemetry_deployment_last_seen IF NOT EXISTS
	 FOR (d:TelemetryDeployment) ON (d.last_seen)`,
	// Listings and counts by status across deployments.
	`CREATE RANGE INDEX telemetry_snapshot_status_created_at IF NOT EXISTS
	 FOR (s:TelemetrySnapshot) ON (s.remote_send_status, s.created_at)`,
	`CREATE CONSTRAINT account_id IF NOT EXISTS
	 FOR (a:Account) REQUIRE a.id IS UNIQUE`,
	`CREATE CONSTRAINT account_username IF NOT EXISTS
	 FOR (a:Account) REQUIRE a.username IS UNIQUE`,
	// username_key is the lowercased username (see migrateUsernames).
	`CREATE CONSTRAINT account_username_key IF NOT EXISTS
	 FOR (a:Account) REQUIRE a.username_key IS UNIQUE`,
	`CREATE CONSTRAINT role_name IF NOT EXISTS
	 FOR (r:Role) REQUIRE r.name IS UNIQUE`,
	`CREATE CONSTRAINT token_id IF NOT EXISTS
	 FOR (t:Token) REQUIRE t.id IS UNIQUE`,
	`CREATE CONSTRAINT token_hash IF NOT EXISTS
	 FOR (t:Token) REQUIRE t.hash IS UNIQUE`,
	`CREATE RANGE INDEX token_account_kind IF NOT EXISTS
	 FOR (t:Token) ON (t.account_id, t.kind)`,
	`CREATE CONSTRAINT setting_key IF NOT EXISTS
	 FOR (s:Setting) REQUIRE s.key IS UNIQUE`,
	`CREATE CONSTRAINT activity_day IF NOT EXISTS
	 FOR (d:ActivityDay) REQUIRE d.day IS UNIQUE`,
	// Lock nodes ("access", "snapshots") are MERGEd; the constraint makes
	// concurrent MERGEs agree on one node.
	`CREATE CONSTRAINT telemetryd_lock_name IF NOT EXISTS
	 FOR (l:TelemetrydLock) REQUIRE l.name IS UNIQUE`,
}

// migrate checks and keys usernames, then creates the schema. Schema
// statements cannot share a transaction with other statements, so each
// runs on its own.
func (s *Store) migrate(ctx context.Context) error {
	if err := s.migrateUsernames(ctx); err != nil {
		return err
	}
	sess := s.session(ctx, driver.AccessModeWrite)
	defer release(ctx, sess.Close)
	for _, stmt := range schema {
		res, err := sess.Run(ctx, stmt, nil)
		if err == nil {
			_, err = res.Consume(ctx)
		}
		if err != nil && !schemaRaced(err) {
			return wrap("creating neo4j schema", err)
		}
	}
	// A new index is POPULATING for a moment; wait so the first queries
	// are planned with it.
	res, err := sess.Run(ctx, "CALL db.awaitIndexes($seconds)", map[string]any{"seconds": schemaAwaitSeconds})
	if err == nil {
		_, err = res.Consume(ctx)
	}
	return wrap("waiting for neo4j indexes", err)
}

// schemaRaced reports an error from a schema rule that another replica
// created between our IF NOT EXISTS check and our write.
func schemaRaced(err error) bool {
	var e *driver.Neo4jError
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code {
	case "Neo.ClientError.Schema.EquivalentSchemaRuleAlreadyExists",
		"Neo.ClientError.Schema.ConstraintAlreadyExists",
		"Neo.ClientError.Schema.IndexAlreadyExists":
		return true
	}
	return false
}

// Backend returns "neo4j".
func (s *Store) Backend() string { return "neo4j" }

// Ping runs a trivial query on the database, without the driver's
// backoff, so a readiness probe answers quickly. EUNAVAILABLE when Neo4j
// or the database cannot be reached.
func (s *Store) Ping(ctx context.Context) error {
	if s.closed.Load() {
		return errClosed("pinging neo4j")
	}
	err := s.ping(ctx)
	if _, ok := unavailable(err); ok {
		// After a Neo4j restart the pool may hand out one connection that
		// died with the old server; it is dropped on failure, so a second
		// attempt tells whether Neo4j itself is down.
		err = s.ping(ctx)
	}
	return wrap("pinging neo4j", err)
}

func (s *Store) ping(ctx context.Context) error {
	sess := s.session(ctx, driver.AccessModeRead)
	defer release(ctx, sess.Close)
	res, err := sess.Run(ctx, "RETURN 1", nil)
	if err == nil {
		_, err = res.Consume(ctx)
	}
	return err
}

// Close closes the driver and its connections. It is safe to call more
// than once; later calls on the store return EUNAVAILABLE.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.driver.Close(ctx); err != nil {
		return fmt.Errorf("closing neo4j driver: %w", err)
	}
	return nil
}

// session opens a session on the store's database. Sessions are cheap
// and never cached, so a call never inherits a dead connection.
func (s *Store) session(ctx context.Context, mode driver.AccessMode) driver.SessionWithContext {
	return s.driver.NewSession(ctx, driver.SessionConfig{
		DatabaseName:    s.database,
		AccessMode:      mode,
		BookmarkManager: s.bookmarks,
	})
}

// read runs work in a read transaction, retried by the driver on
// transient errors, and maps errors with op.
func read[T any](ctx context.Context, s *Store, op string, work driver.ManagedTransactionWorkT[T]) (T, error) {
	return execute(ctx, s, op, driver.AccessModeRead, work)
}

// write runs work in a write transaction, retried by the driver on
// transient errors, and maps errors with op. work may run more than once.
func write[T any](ctx context.Context, s *Store, op string, work driver.ManagedTransactionWorkT[T]) (T, error) {
	return execute(ctx, s, op, driver.AccessModeWrite, work)
}

func execute[T any](ctx context.Context, s *Store, op string, mode driver.AccessMode, work driver.ManagedTransactionWorkT[T]) (T, error) {
	var zero T
	if s.closed.Load() {
		return zero, errClosed(op)
	}
	sess := s.session(ctx, mode)
	defer release(ctx, sess.Close)
	var v T
	var err error
	if mode == driver.AccessModeRead {
		v, err = driver.ExecuteRead(ctx, sess, work)
	} else {
		v, err = driver.ExecuteWrite(ctx, sess, work)
	}
	if err != nil {
		return zero, wrap(op, err)
	}
	return v, nil
}

// release runs close, a session's or transaction's Close, on a context
// that outlives ctx's cancellation: a call whose caller went away must
// still hand its connection back to the pool and roll back what it left
// open. releaseTimeout bounds it instead; an error leaves the connection
// to the pool's own health checks, so it is not reported.
func release(ctx context.Context, close func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	_ = close(ctx)
}

// run runs one statement in a transaction and discards its records.
func run(ctx context.Context, tx driver.ManagedTransaction, query string, params map[string]any) (driver.ResultSummary, error) {
	res, err := tx.Run(ctx, query, params)
	if err != nil {
		return nil, err
	}
	return res.Consume(ctx)
}

// wrap maps a driver error to the store's error codes: coded errors pass
// through, unreachable Neo4j becomes EUNAVAILABLE with the cause kept in
// the chain for logs, and anything else is wrapped with op.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var coded *telemetryd.Error
	if errors.As(err, &coded) {
		return err
	}
	if reason, ok := unavailable(err); ok {
		return fmt.Errorf("%s: %w: %w", op, telemetryd.Errorf(telemetryd.EUNAVAILABLE, "neo4j unavailable: %s", reason), err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func errClosed(op string) error {
	return fmt.Errorf("%s: %w", op, telemetryd.Errorf(telemetryd.EUNAVAILABLE, "neo4j unavailable: store closed"))
}

// unavailable reports whether err means Neo4j cannot serve the request
// for now (retrying later may succeed), and a short reason safe to show to
// clients. It goes by the driver's error types; the driver exports its
// connection pool's timeouts only through IsRetryable, and a closed
// driver only as a UsageError's message.
func unavailable(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	var limit *driver.TransactionExecutionLimit
	if errors.As(err, &limit) {
		// The driver gave up retrying; its attempts hold the cause.
		for _, e := range limit.Errors {
			if reason, ok := unavailable(e); ok {
				return reason, true
			}
		}
		return "", false
	}
	var neo *driver.Neo4jError
	if errors.As(err, &neo) {
		// Transient errors, and cluster errors such as a leader switch.
		return "database unavailable", neo.IsRetriable()
	}
	var usage *driver.UsageError
	if errors.As(err, &usage) {
		return "store closed", strings.Contains(usage.Message, "closed")
	}
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timed out", true
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", true
	case errors.As(err, new(*driver.ConnectivityError)),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE),
		errors.As(err, &netErr):
		return "connection failed", true
	case retryable(err):
		return "no connection available", true
	}
	return "", false
}

// retryable reports whether the driver deems err, or any error it wraps,
// worth retrying. The driver's own check looks at err alone.
func retryable(err error) bool {
	for ; err != nil; err = errors.Unwrap(err) {
		if driver.IsRetryable(err) {
			return true
		}
	}
	return false
}

// constraintViolated reports a uniqueness constraint failure, and its
// message, which names the property.
func constraintViolated(err error) (string, bool) {
	var e *driver.Neo4jError
	if errors.As(err, &e) && e.Code == "Neo.ClientError.Schema.ConstraintValidationFailed" {
		return e.Msg, true
	}
	return "", false
}

// props reads typed properties of a node, remembering the first
// property of an unexpected type.
type props struct {
	m   map[string]any
	err error
}

func (p *props) fail(key string, v any) {
	if p.err == nil {
		p.err = fmt.Errorf("property %s has unexpected type %T", key, v)
	}
}

// str returns a string property; absent (null) is "".
func (p *props) str(key string) string {
	switch v := p.m[key].(type) {
	case nil:
		return ""
	case string:
		return v
	default:
		p.fail(key, v)
		return ""
	}
}

// time returns a DATETIME property in UTC to the microsecond; absent is
// the zero time.
func (p *props) time(key string) time.Time {
	switch v := p.m[key].(type) {
	case nil:
		return time.Time{}
	case time.Time:
		return telemetryd.Microseconds(v)
	default:
		p.fail(key, v)
		return time.Time{}
	}
}

func (p *props) bool(key string) bool {
	switch v := p.m[key].(type) {
	case nil:
		return false
	case bool:
		return v
	default:
		p.fail(key, v)
		return false
	}
}

// strings returns a list property. An absent property is nil and a
// stored empty list is empty, so both round-trip.
func (p *props) strings(key string) []string {
	switch v := p.m[key].(type) {
	case nil:
		return nil
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				p.fail(key, e)
				return nil
			}
			out = append(out, s)
		}
		return out
	default:
		p.fail(key, v)
		return nil
	}
}

// dateTime is t as a DATETIME parameter: UTC, to the microsecond, and
// null for the zero time.
func dateTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return telemetryd.Microseconds(t)
}

// nullable is s as a parameter, null when empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// stringList is ss as a list parameter: null for nil (property removed),
// a list otherwise, so nil and empty round-trip.
func stringList(ss []string) any {
	if ss == nil {
		return nil
	}
	return ss
}
