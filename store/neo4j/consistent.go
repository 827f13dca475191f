package neo4j

import (
	"context"
	"fmt"
	"strings"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
)

// The protocol that lets several reads (a page and its count) see one
// state of the snapshots, on a database that reads committed data as it
// goes: writers bump a version (bumpSnapshotsVersion), readers use
// consistentRead, which folds the protocol's reads into one statement.

// snapshotsLock names the (:TelemetrydLock) node that lets a listing
// read its page and count from one state of the snapshots. Neo4j reads
// committed data as it goes, index entry by index entry, even within one
// statement, so a page and a count may see different commits; worse, a commit becomes visible in steps (node and
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
// A listing trusts what it read only when applied equals version, read
// before and after its other reads, with neither changed.
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

// A reading is one part of a consistent read: Cypher that returns one
// row, whose one value it names column. It may use every parameter of the
// statement, and must read the properties it returns (a map projection such
// as s {.*}, not the node s, whose properties would only be read as the
// result is written, after the lock is read again).
type reading struct{ column, query string }

// consistentStatement is the one statement of a consistent read: it reads
// the snapshots lock, then each reading, then the lock again, and returns
// the lock's version and applied version before, each reading's value,
// and the lock's version and applied version after.
//
// Each part is a subquery importing every variable in scope (CALL (*)),
// which makes it run once for each row the parts before it produced, so
// after them: the planner joins such a subquery to the rows before it
// with Apply, whose left side produces its row before the right side
// runs. Each part produces one row, and a reading's aggregation (collect,
// count) consumes everything it reads before producing it, so the reads
// happen in the order written, as the statements of the protocol did.
// Cypher itself leaves the order of reads to the planner, so a test
// (TestListingReadsTheLockBeforeAndAfter) checks that the plans of
// listings join with Apply alone and read the lock first and last. This
// one statement costs one round trip where the protocol's four
// statements cost four, and Neo4j plans and runs it once.
func consistentStatement(readings ...reading) string {
	var b strings.Builder
	b.WriteString(`OPTIONAL MATCH (lock:TelemetrydLock {name: '` + snapshotsLock + `'})
WITH lock.version AS versionBefore, lock.applied AS appliedBefore`)
	columns := []string{"versionBefore", "appliedBefore"}
	for _, r := range readings {
		b.WriteString("\nCALL (*) {\n" + r.query + "\n}")
		columns = append(columns, r.column)
	}
	b.WriteString(`
CALL (*) {
	OPTIONAL MATCH (lock:TelemetrydLock {name: '` + snapshotsLock + `'})
	RETURN lock.version AS versionAfter, lock.applied AS appliedAfter
}
RETURN `)
	b.WriteString(strings.Join(append(columns, "versionAfter", "appliedAfter"), ", "))
	return b.String()
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

// consistentRead reads one state of the snapshots: it runs query, a
// consistentStatement, with params (one round trip), and passes the
// values of its readings, in order, to decode. It returns decode's result when
// the state was settled and unchanged and fits approves of the result (a
// cheap second check). Otherwise it reads again, settling the state first
// when a write left it unsettled, up to listAttempts times each; then it
// fails with an internal error.
func consistentRead[T any](ctx context.Context, s *Store, op, query string, params map[string]any, decode func(values []any) (T, error), fits func(T) bool) (T, error) {
	type outcome struct {
		v         T
		unsettled bool // a write is not known to be applied: settle, then read again
	}
	var zero T
	for settles := 0; ; settles++ {
		o, err := read(ctx, s, op, func(tx driver.ManagedTransaction) (outcome, error) {
			for range listAttempts {
				res, err := tx.Run(ctx, query, params)
				if err != nil {
					return outcome{}, err
				}
				rec, err := res.Single(ctx)
				if err != nil {
					return outcome{}, err
				}
				n := len(rec.Values)
				before, after := snapshotsStateOf(rec.Values[0:2]), snapshotsStateOf(rec.Values[n-2:])
				if !before.settled() {
					return outcome{unsettled: true}, nil
				}
				if after != before {
					continue
				}
				v, err := decode(rec.Values[2 : n-2])
				if err != nil {
					return outcome{}, err
				}
				if fits(v) {
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

// snapshotsStateOf reads the lock's version and applied version from a
// consistent read's columns; absent (no lock node yet) is 0.
func snapshotsStateOf(values []any) snapshotsState {
	version, _ := values[0].(int64)
	applied, _ := values[1].(int64)
	return snapshotsState{version, applied}
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
