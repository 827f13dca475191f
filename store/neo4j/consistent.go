package neo4j

import (
	"context"
	"fmt"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// The protocol that lets several statements read one state of the
// snapshots, on a database that reads committed data statement by
// statement: writers bump a version (bumpSnapshotsVersion), readers use
// consistentRead.

// snapshotsLock names the (:TelemetrydLock) node that lets a listing
// read its page and count from one state of the snapshots. Neo4j reads
// committed data statement by statement, so the two queries may see
// different commits; worse, a commit becomes visible in steps (node and
// property records, then counts, then index entries), so even a version
// number written with the snapshots can be visible before the snapshots
// are. The node therefore carries two numbers:
//
//   - version: every write that adds or removes snapshots
//     (CreateSnapshot, ImportSnapshots, DeleteSnapshotsBefore) increments
//     it first thing in its transaction, which takes the node's write
//     lock until that transaction is committed and applied in full. The
//     lock also orders those writes, so they cannot deadlock on each
//     other, and lets an import's checks see every earlier write.
//   - applied: set to version by settleSnapshots while holding the lock,
//     that is once every write up to that version is applied in full.
//
// A listing trusts what it read only when applied equals version, before
// and after its queries, with neither changed.
const snapshotsLock = "snapshots"

// listAttempts bounds how often consistentRead reads again because
// snapshots were added or removed while it read, and how often it settles
// a version before giving up.
const listAttempts = 20

// bumpSnapshotsVersion takes the snapshots lock and increments its version.
func bumpSnapshotsVersion(ctx context.Context, tx driver.ManagedTransaction) error {
	_, err := run(ctx, tx, `MERGE (v:TelemetrydLock {name: $name})
		SET v.version = coalesce(v.version, 0) + 1`, map[string]any{"name": snapshotsLock})
	return err
}

// snapshotsState is the snapshots lock's version and applied version;
// both are 0 before the first write.
type snapshotsState struct{ version, applied int64 }

// settled reports whether every write up to the version is applied.
func (v snapshotsState) settled() bool { return v.version == v.applied }

func readSnapshotsState(ctx context.Context, tx driver.ManagedTransaction) (snapshotsState, error) {
	res, err := tx.Run(ctx, `OPTIONAL MATCH (v:TelemetrydLock {name: $name}) RETURN v.version, v.applied`,
		map[string]any{"name": snapshotsLock})
	if err != nil {
		return snapshotsState{}, err
	}
	rec, err := res.Single(ctx)
	if err != nil {
		return snapshotsState{}, err
	}
	version, _ := rec.Values[0].(int64)
	applied, _ := rec.Values[1].(int64)
	return snapshotsState{version, applied}, nil
}

// settleSnapshots waits for the write that holds the snapshots lock, if
// any, to be applied, and marks the version applied. The first SET takes
// the lock before the version is read, so the version read is one whose
// write is applied in full.
func (s *Store) settleSnapshots(ctx context.Context) error {
	_, err := write(ctx, s, "settling snapshots version", func(tx driver.ManagedTransaction) (struct{}, error) {
		_, err := run(ctx, tx, `MATCH (v:TelemetrydLock {name: $name})
			SET v._lock = true REMOVE v._lock
			SET v.applied = v.version`, map[string]any{"name": snapshotsLock})
		return struct{}{}, err
	})
	return err
}

// consistentRead runs statements in one read transaction between two readings
// of the snapshots lock, and returns its result when the state was
// settled and unchanged and fits approves of the result (a cheap second
// check). Otherwise it reads again, settling the state first when a
// write left it unsettled, up to listAttempts times each; then it fails
// with an internal error. statements may run more than once.
func consistentRead[T any](ctx context.Context, s *Store, op string, statements func(driver.ManagedTransaction) (T, error), fits func(T) bool) (T, error) {
	type outcome struct {
		v         T
		unsettled bool // a write is not known to be applied: settle, then read again
	}
	var zero T
	for settles := 0; ; settles++ {
		o, err := read(ctx, s, op, func(tx driver.ManagedTransaction) (outcome, error) {
			for range listAttempts {
				before, err := readSnapshotsState(ctx, tx)
				if err != nil {
					return outcome{}, err
				}
				if !before.settled() {
					return outcome{unsettled: true}, nil
				}
				v, err := statements(tx)
				if err != nil {
					return outcome{}, err
				}
				after, err := readSnapshotsState(ctx, tx)
				if err != nil {
					return outcome{}, err
				}
				if after == before && fits(v) {
					return outcome{v: v}, nil
				}
			}
			return outcome{}, errKeptChanging
		})
		switch {
		case err != nil:
			return zero, err
		case !o.unsettled:
			return o.v, nil
		case settles == listAttempts:
			return zero, wrap(op, errKeptChanging)
		}
		if err := s.settleSnapshots(ctx); err != nil {
			return zero, err
		}
	}
}

// errKeptChanging fails a read that snapshot writes kept overtaking.
var errKeptChanging = fmt.Errorf("snapshots were added or deleted during each of %d attempts to read them", listAttempts)

// pageFits reports whether a page of n records read at offset with limit
// can come from the same data as count: a short page ends the match, a
// full one does not run past it.
func pageFits(n, offset, limit, count int) bool {
	switch {
	case n >= limit:
		return count >= offset+n
	case n == 0:
		return count <= offset
	default:
		return count == offset+n
	}
}
