// Package store defines, in the server's terms, what telemetryd needs of
// its storage. The Neo4j and embedded backends implement it and pass the
// conformance suite in store/storetest.
package store

import (
	"context"
	"time"

	"github.com/telemetryd/telemetryd"
)

// Store is everything the server keeps. Methods return *telemetryd.Error
// codes where noted; telemetryd.EUNAVAILABLE from any method means the
// backend could not be reached and the call may succeed later.
type Store interface {
	Snapshots
	Fleet
	Settings
	AccessControl
	Tokens
	Activity

	// Ping succeeds when the backend answers a query.
	Ping(ctx context.Context) error
	// Backend names the implementation: "neo4j" or "embedded".
	Backend() string
	// Stats measures what the backend holds.
	Stats(ctx context.Context) (*Stats, error)
	// Close releases the store; it is safe to call more than once.
	Close() error
}

// Snapshots keeps sealed telemetry records.
type Snapshots interface {
	// CreateSnapshot stores a sealed snapshot. ECONFLICT when its id exists
	// or its deployment already has a snapshot on the same UTC day.
	CreateSnapshot(ctx context.Context, s *telemetryd.Snapshot) error
	// Snapshot returns the snapshot with id, or ENOTFOUND.
	Snapshot(ctx context.Context, id string) (*telemetryd.Snapshot, error)
	// ListSnapshots calls fn with how many snapshots match f (its time
	// bounds, deployment and statuses) in all and one page of them, newest
	// first (created_at, then id, descending), both from one consistent
	// read, and returns fn's error. The page is lent: its snapshots and
	// their data are valid only until fn returns (the embedded store hands
	// fn the stored bytes of its read transaction), so fn copies what it
	// keeps (telemetryd.ClonePage).
	ListSnapshots(ctx context.Context, f telemetryd.Filter, fn func(count int, page []*telemetryd.Snapshot) error) error
	// EachSnapshot calls fn for every snapshot matching f, newest first,
	// in constant memory; f.Limit and f.Offset are ignored. An error from
	// fn stops the walk and is returned. Each snapshot is lent: fn must
	// not keep it, or its data, once it returns (the embedded store
	// decodes each batch into the memory of the one before). The walk is
	// not one frozen view of the store, so writers are never held up by a
	// slow reader: every snapshot that exists throughout the walk is
	// handed to fn exactly once and in order, while snapshots written or
	// deleted during the walk may or may not be.
	EachSnapshot(ctx context.Context, f telemetryd.Filter, fn func(*telemetryd.Snapshot) error) error
	// CountSnapshotsByStatus returns how many snapshots have each remote
	// send status; statuses no snapshot has may be absent.
	CountSnapshotsByStatus(ctx context.Context) (map[telemetryd.SendStatus]int, error)
	// LatestSnapshot returns the deployment's newest snapshot, or ENOTFOUND.
	LatestSnapshot(ctx context.Context, deploymentID string) (*telemetryd.Snapshot, error)
	// UpdateSendStatus records a remote send outcome and returns the
	// updated snapshot; ENOTFOUND for an unknown id, EINVALID for an
	// unknown status.
	UpdateSendStatus(ctx context.Context, id string, status telemetryd.SendStatus, at time.Time, reason string) (*telemetryd.Snapshot, error)
	// UnsentSnapshots returns up to limit snapshots of the deployment,
	// oldest first, that failed to send or are still pending and were
	// created before pendingBefore. Imported snapshots of other
	// deployments are never among them: they are not this deployment's
	// to send.
	UnsentSnapshots(ctx context.Context, deploymentID string, pendingBefore time.Time, limit int) ([]*telemetryd.Snapshot, error)
	// DeleteSnapshotsBefore deletes snapshots created before t and returns
	// how many it deleted.
	DeleteSnapshotsBefore(ctx context.Context, t time.Time) (int, error)
	// ImportSnapshots stores the snapshots that each yields, all or
	// nothing. Each record is first checked on its own by an ImportCheck
	// (EINVALID naming each malformed record, ECONFLICT naming each id or
	// deployment day the batch holds twice). A record Identical to a
	// stored one is skipped, keeping the stored send status; an id stored
	// with other content, or a deployment day already taken by another
	// id, fails the whole import with ECONFLICT naming every such id. A
	// backend may call each more than once (the embedded store reads the
	// records once to check them and once to write them in batches; Neo4j
	// again to retry a transaction), so every call must yield the same
	// records in the same order; Batch turns a slice into one. (The
	// embedded store fails an import whose calls yield different records,
	// storing nothing of it.) An error from each fails the import and is
	// returned.
	ImportSnapshots(ctx context.Context, each func(yield func(*telemetryd.Snapshot) error) error) (ImportResult, error)
}

// ImportResult counts what an import did.
type ImportResult struct {
	Created   int
	Unchanged int
}

// Settings keeps values created once per deployment, such as its id and
// the JWT secret.
type Settings interface {
	// SetSettingIfAbsent stores value under key unless key already has a
	// value, and returns the value stored, so concurrent first starts
	// agree on one.
	SetSettingIfAbsent(ctx context.Context, key, value string) (string, error)
}

// Access is every account and role. It is small: deployments have tens of
// accounts, not thousands.
type Access struct {
	Accounts []*telemetryd.Account
	Roles    []*telemetryd.Role
}

// AccessControl keeps accounts and roles.
type AccessControl interface {
	// Access returns every account (by username) and role (by name).
	Access(ctx context.Context) (*Access, error)
	// UpdateAccess runs fn on the current accounts and roles, serialized
	// with every other UpdateAccess on the same store (across replicas on
	// Neo4j), and stores what fn changed: accounts and roles added,
	// modified or removed by name. When fn returns an error nothing is
	// stored and that error is returned. What fn leaves must pass
	// CheckAccess; otherwise nothing is stored and its error returned.
	UpdateAccess(ctx context.Context, fn func(*Access) error) error
}

// Tokens keeps refresh and API tokens by hash.
type Tokens interface {
	// CreateToken stores t; ECONFLICT when its id or hash exists.
	CreateToken(ctx context.Context, t *telemetryd.Token) error
	// TokenByHash returns the token whose value hashes to hash, or
	// ENOTFOUND.
	TokenByHash(ctx context.Context, hash string) (*telemetryd.Token, error)
	// ListTokens returns the account's tokens of the kind, oldest first.
	ListTokens(ctx context.Context, accountID string, kind telemetryd.TokenKind) ([]*telemetryd.Token, error)
	// RevokeToken marks the token revoked at at and returns it, or
	// ENOTFOUND. Revoking a revoked token keeps its first RevokedAt; first
	// reports whether this call revoked it, so of concurrent calls exactly
	// one does, and a refresh token can be spent once.
	RevokeToken(ctx context.Context, id string, at time.Time) (tok *telemetryd.Token, first bool, err error)
	// TouchToken records a use of the token at at.
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// Activity keeps per-day counters, such as logins and requests, for the
// daily telemetry.
type Activity interface {
	// AddActivity adds deltas to the named counters of the UTC day.
	AddActivity(ctx context.Context, day string, deltas map[string]int64) error
	// ActivityOn returns the counters of the UTC day; counters never
	// added are absent.
	ActivityOn(ctx context.Context, day string) (map[string]int64, error)
}

// Stats describes what a backend holds, for the daily telemetry: kinds and
// counts, never content, and never the names of anything but telemetryd's
// own data. Neo4j reads its counts from the count store, in constant time.
type Stats struct {
	// DatabaseType is "neo4j-community", "neo4j-enterprise" or "bbolt".
	DatabaseType string
	// ServerVersion is the database's version; empty when unknown.
	ServerVersion string
	// Nodes and Relationships count everything the database holds; on a
	// Neo4j shared with other applications that includes their data.
	Nodes         int64
	Relationships int64
	// NodesByLabel breaks the node count down by telemetryd's own labels
	// only, each present even at zero: a shared Neo4j's other labels are
	// other applications' names and stay out of the telemetry. The
	// embedded store reports its record kinds as the labels Neo4j gives
	// them. RelationshipsByType does the same for telemetryd's own
	// relationship types; it writes none, so the map is empty (never nil).
	NodesByLabel        map[string]int64
	RelationshipsByType map[string]int64
	// Constraints and Indexes count the database's own.
	Constraints int
	Indexes     int
}
