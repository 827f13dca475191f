// Package embedded is the single-file store telemetryd uses when no Neo4j
// is configured: a bbolt database in the data directory.
package embedded

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

var _ store.Store = (*Store)(nil)

// FileName is the database file Open creates in the data directory.
const FileName = "telemetryd.db"

// lockTimeout bounds how long Open waits for the file lock another process
// holds, so a second server on the same directory fails fast and clearly
// instead of hanging.
const lockTimeout = time.Second

// Buckets. Every secondary index is written in the same transaction as
// the record it points to, so indexes never disagree with the records.
var (
	// snapshotKey(created_at, id) → record envelope (see record.go).
	bucketSnapshots = []byte("snapshots")
	// id → snapshotKey.
	bucketSnapshotIDs = []byte("snapshot_ids")
	// deploymentDayKey(deployment, day) → snapshotKey.
	bucketSnapshotDays = []byte("snapshot_days")
	// unsentKey(deployment, snapshotKey) → status, for pending and failed
	// snapshots only.
	bucketSnapshotUnsent = []byte("snapshot_unsent_by_deployment")
	// countKey(level, position) → how many snapshots the time span holds.
	bucketSnapshotCounts = []byte("snapshot_counts")
	// key → value.
	bucketSettings = []byte("settings")
	// username → account JSON.
	bucketAccounts = []byte("accounts")
	// name → role JSON.
	bucketRoles = []byte("roles")
	// id → token JSON.
	bucketTokens = []byte("tokens")
	// hash → id.
	bucketTokenHashes = []byte("token_hashes")
	// tokenListKey(account, kind, created_at, id) → id.
	bucketTokenLists = []byte("token_lists")
	// day + "/" + counter → int64.
	bucketActivity = []byte("activity")
	// deployment id → summary JSON, for received deployments.
	bucketDeployments = []byte("deployments")
	// lastSeenKey(last_seen, id) → nothing: summaries in listing order.
	bucketDeploymentsLastSeen = []byte("deployments_by_last_seen")
	// facts about the file itself, such as its record format.
	bucketMeta = []byte("meta")
	// snapshotKey → nothing, for each record an unfinished import wrote;
	// present only while an import of several batches runs (see
	// import.go), and undone by Open after a crash.
	bucketImportPending = []byte("import_pending")
)

// legacyBucketSnapshotUnsent is the unsent index of files written before it
// was keyed by deployment: snapshotKey → status. Open replaces it.
var legacyBucketSnapshotUnsent = []byte("snapshot_unsent")

var allBuckets = [][]byte{
	bucketSnapshots, bucketSnapshotIDs, bucketSnapshotDays, bucketSnapshotUnsent, bucketSnapshotCounts,
	bucketSettings, bucketAccounts, bucketRoles, bucketTokens, bucketTokenHashes, bucketTokenLists,
	bucketActivity, bucketMeta, bucketDeployments, bucketDeploymentsLastSeen,
}

// maxBatchDelay is how long a received snapshot waits for others to share
// its transaction (see ReceiveSnapshot): long enough to gather the
// senders of a busy moment, short against a commit's own cost.
const maxBatchDelay = 2 * time.Millisecond

// Store is the embedded backend. It is safe for concurrent use within one
// process; the file lock keeps other processes out.
type Store struct {
	db *bolt.DB
	// importing runs imports one at a time: each batch of one is checked
	// against the store with no other import's batches in between.
	importing sync.Mutex
	// importBatchCommitted, when tests set it, is called after each batch
	// of an import but the last commits, with the number of batches
	// committed.
	importBatchCommitted func(batches int)
}

// Open opens, creating when missing, the store in dir. When another
// process holds the directory, it fails with EUNAVAILABLE saying so.
func Open(dir string) (*Store, error) { return open(dir, lockTimeout) }

func open(dir string, timeout time.Duration) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, &bolt.Options{
		Timeout: timeout,
		// The hashmap freelist without syncing it keeps commits fast as the
		// file grows and after retention deletes; the freelist is rebuilt
		// on open, which costs a scan of the file then.
		FreelistType:   bolt.FreelistMapType,
		NoFreelistSync: true,
	})
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, telemetryd.Errorf(telemetryd.EUNAVAILABLE, "data directory %s is in use by another process", dir)
	}
	if err != nil {
		return nil, fmt.Errorf("opening embedded store in %s: %w", dir, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		// Before anything reads the store: an import a crash cut short
		// leaves nothing.
		err = undoImport(db)
	}
	if err == nil {
		err = migrateRecords(db)
	}
	if err == nil {
		err = db.Update(func(tx *bolt.Tx) error {
			if err := migrateUnsent(tx); err != nil {
				return err
			}
			return checkUsernames(tx)
		})
	}
	if code := telemetryd.ErrorCode(err); code != "" && code != telemetryd.EINTERNAL {
		_ = db.Close()
		return nil, fmt.Errorf("opening embedded store in %s: %w", dir, err)
	}
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("preparing embedded store in %s: %w", dir, err)
	}
	db.MaxBatchDelay = maxBatchDelay
	return &Store{db: db}, nil
}

// migrateUnsent moves the entries of a file's legacy unsent index into
// the index keyed by deployment, reading each snapshot's deployment from
// its record, and drops the legacy bucket. It does nothing on files
// written since.
func migrateUnsent(tx *bolt.Tx) error {
	legacy := tx.Bucket(legacyBucketSnapshotUnsent)
	if legacy == nil {
		return nil
	}
	snaps, index := tx.Bucket(bucketSnapshots), tx.Bucket(bucketSnapshotUnsent)
	err := legacy.ForEach(func(k, status []byte) error {
		v := snaps.Get(k)
		if v == nil {
			return nil // an index entry without its record: nothing to send
		}
		snap, err := decode(k, v)
		if err != nil {
			return err
		}
		return index.Put(unsentKey(snap.DeploymentID, k), clone(status))
	})
	if err != nil {
		return fmt.Errorf("migrating the unsent snapshot index: %w", err)
	}
	return tx.DeleteBucket(legacyBucketSnapshotUnsent)
}

// Close releases the file and its lock, waiting for running transactions.
// It is safe to call more than once; afterwards every method fails with
// EUNAVAILABLE.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("closing embedded store: %w", err)
	}
	return nil
}

// Ping succeeds while the store is open.
func (s *Store) Ping(ctx context.Context) error {
	return wrap("pinging embedded store", s.view(ctx, func(*bolt.Tx) error { return nil }))
}

// Backend returns "embedded".
func (s *Store) Backend() string { return "embedded" }

// view runs fn in a read transaction.
func (s *Store) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return unavailable(s.db.View(fn))
}

// update runs fn in a write transaction; bbolt runs one at a time, which
// is what makes every check-then-write here atomic.
func (s *Store) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return unavailable(s.db.Update(fn))
}

// unavailable turns bbolt's error for a closed database into the code the
// store interface promises.
func unavailable(err error) error {
	if errors.Is(err, berrors.ErrDatabaseNotOpen) {
		return telemetryd.Errorf(telemetryd.EUNAVAILABLE, "embedded store is closed")
	}
	return err
}

// wrap adds op to internal errors; errors with a code pass unchanged so
// their message stays the one a client sees.
func wrap(op string, err error) error {
	var e *telemetryd.Error
	if err == nil || errors.As(err, &e) {
		return err
	}
	return fmt.Errorf("%s: %w", op, err)
}

// lengthPrefixed appends s to b after its length, so a composite key that
// starts with s can never be confused with one starting with a longer
// string that has s as its prefix.
func lengthPrefixed(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// clone copies a slice bbolt returned, which is only valid inside its
// transaction.
func clone(b []byte) []byte { return append([]byte(nil), b...) }
