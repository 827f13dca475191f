package embedded

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	bolt "go.etcd.io/bbolt"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

// An import reads its records twice: once to check them all, holding
// none, and once to write them in batches of importBatch records or
// importBatchBytes of them, each batch in its own write transaction. bbolt
// keeps a transaction's records, and at commit their pages, in memory
// until the commit ends, so one transaction for the whole import held
// several times the file's size; a batch holds a few MiB whatever the
// size of the file.
//
// All or nothing then rests on a marker: every batch but the last also
// notes the snapshot keys it wrote in bucketImportPending, and the last
// one deletes that bucket in its own transaction, the import's commit
// point. An import that fails after a batch committed deletes what the
// marker names (undoImport), and so does the next Open after a crash,
// before anything reads the store: no part of an unfinished import
// outlives it. An import that fits in one batch writes no marker; it is
// one transaction, as every other write.
const (
	importBatch      = 2000
	importBatchBytes = 2 << 20
)

// errChanged fails an import whose records, read a second time to be
// written, are not the ones the first reading checked.
var errChanged = errors.New("the records read to be stored differ from those checked before (did the file change during the import?)")

// ImportSnapshots stores the snapshots that each yields, all or nothing.
// It calls each twice. The first call checks every record and writes
// nothing: each is checked on its own by a store.ImportCheck (EINVALID
// naming each malformed record, ECONFLICT naming each id or deployment
// day the batch holds twice), then against the store: a record
// store.Identical to a stored one is skipped and counted as unchanged, and
// the stored copy keeps its own remote_send_* fields; an id stored with
// other sealed content, or a deployment day taken by another id, fails
// the import with one ECONFLICT naming every such id. The second call
// writes the records in batches (see importBatch); when it yields other
// records than the first, the import fails and nothing stays stored.
//
// Imports run one at a time. Readers and writers of the same process see
// the batches of a large import as they commit, and its records vanish
// again if it then fails; `telemetryd snapshots import` runs with the
// server stopped, so no other process can.
func (s *Store) ImportSnapshots(ctx context.Context, each func(yield func(*telemetryd.Snapshot) error) error) (store.ImportResult, error) {
	s.importing.Lock()
	defer s.importing.Unlock()
	// What an import left when it failed and could not be undone then
	// (the disk was full) goes first.
	if err := undoImport(s.db); err != nil {
		return store.ImportResult{}, err
	}
	plan, err := s.checkImport(ctx, each)
	if err != nil {
		return store.ImportResult{}, wrap("importing snapshots", err)
	}
	w := &importWriter{s: s, ctx: ctx, sum: sha256.New()}
	w.reset()
	defer w.abort() // should each panic, the store's writer lock is released
	err = each(w.add)
	if err == nil {
		err = w.err // each dropped an error of yield
	}
	if err == nil {
		err = w.finish(plan)
	}
	if err != nil {
		w.abort() // before the undo, which needs the writer lock
		if undoErr := undoImport(s.db); undoErr != nil {
			return store.ImportResult{}, fmt.Errorf("importing snapshots: %w; %w (the next open of the store undoes it)", err, undoErr)
		}
		return store.ImportResult{}, wrap("importing snapshots", err)
	}
	return w.result, nil
}

// importPlan is what the check of an import found: what writing it will
// do, and a digest of the records checked, so that the writing can tell
// whether it got the same ones.
type importPlan struct {
	result store.ImportResult
	digest []byte
}

// checkImport reads every record of the import, checking each on its own
// and against the store, one short read transaction a record. It holds no
// record, only what the store.ImportCheck keeps.
func (s *Store) checkImport(ctx context.Context, each func(yield func(*telemetryd.Snapshot) error) error) (importPlan, error) {
	var (
		plan     importPlan
		problems []string
	)
	check := store.NewImportCheck()
	sum := sha256.New()
	err := each(func(snap *telemetryd.Snapshot) error {
		if !check.Add(snap) {
			return nil
		}
		value, err := encode(snap)
		if err != nil {
			return err
		}
		addRecord(sum, value)
		return s.view(ctx, func(tx *bolt.Tx) error {
			unchanged, problem, err := compare(tx, snap)
			switch {
			case err != nil:
				return err
			case problem != "":
				problems = append(problems, problem)
			case unchanged:
				plan.result.Unchanged++
			default:
				plan.result.Created++
			}
			return nil
		})
	})
	if err != nil {
		return importPlan{}, err
	}
	if err := check.Err(); err != nil {
		return importPlan{}, err
	}
	if len(problems) > 0 {
		return importPlan{}, store.ImportConflict(problems)
	}
	plan.digest = sum.Sum(nil)
	return plan, nil
}

// compare tells how snap, a valid record, stands against what tx holds:
// unchanged when a store.Identical record is stored; a problem ("<id>:
// why") when its id is stored with other content or its deployment day is
// taken by another id; neither when it can be stored.
func compare(tx *bolt.Tx, snap *telemetryd.Snapshot) (unchanged bool, problem string, err error) {
	if k := tx.Bucket(bucketSnapshotIDs).Get([]byte(snap.ID)); k != nil {
		stored, err := decode(k, tx.Bucket(bucketSnapshots).Get(k))
		if err != nil {
			return false, "", err
		}
		if store.Identical(stored, snap) {
			return true, "", nil
		}
		return false, snap.ID + ": stored with other content", nil
	}
	day := telemetryd.Day(snap.CreatedAt)
	if k := tx.Bucket(bucketSnapshotDays).Get(deploymentDayKey(snap.DeploymentID, day)); k != nil {
		return false, fmt.Sprintf("%s: deployment %s already has snapshot %s on %s", snap.ID, snap.DeploymentID, keyID(k), day), nil
	}
	return false, "", nil
}

// addRecord adds an encoded record to the digest of an import's records.
func addRecord(h hash.Hash, value []byte) {
	h.Write(binary.AppendUvarint(nil, uint64(len(value))))
	h.Write(value)
}

// importWriter writes an import's records, a batch per write transaction.
type importWriter struct {
	s   *Store
	ctx context.Context
	err error // the first error add returned; add returns it ever after

	tx     *bolt.Tx // the batch's transaction, begun at its first record
	es     []entry  // the batch's entries, written when it is full
	size   int      // bytes of the batch's records
	ids    map[string]bool
	days   map[string]bool // deploymentDayKeys
	counts countDeltas

	batches int // committed
	result  store.ImportResult
	sum     hash.Hash // of every record yielded
}

// reset starts the next batch.
func (w *importWriter) reset() {
	w.tx, w.es, w.size = nil, nil, 0
	w.ids, w.days, w.counts = map[string]bool{}, map[string]bool{}, countDeltas{}
}

// add is the yield of the writing pass.
func (w *importWriter) add(snap *telemetryd.Snapshot) error {
	if w.err == nil {
		w.err = w.put(snap)
	}
	return w.err
}

func (w *importWriter) put(snap *telemetryd.Snapshot) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	value, err := encode(snap)
	if err != nil {
		return errChanged // the check encoded every record
	}
	addRecord(w.sum, value)
	// Within the batch, what is not yet written cannot be looked up.
	dayKey := string(deploymentDayKey(snap.DeploymentID, telemetryd.Day(snap.CreatedAt)))
	if w.ids[snap.ID] || w.days[dayKey] {
		return errChanged // the check found no id or day twice
	}
	if w.tx == nil {
		if w.tx, err = w.s.db.Begin(true); err != nil {
			return unavailable(err)
		}
	}
	unchanged, problem, err := compare(w.tx, snap)
	switch {
	case err != nil:
		return err
	case problem != "":
		// Stored since the check by this process, or by this import when
		// the records changed: either way a conflict.
		return store.ImportConflict([]string{problem})
	case unchanged:
		w.result.Unchanged++
		return nil
	}
	w.ids[snap.ID], w.days[dayKey] = true, true
	w.es = append(w.es, entries(snap, value, w.counts)...)
	w.size += len(value)
	w.result.Created++
	if len(w.ids) >= importBatch || w.size >= importBatchBytes {
		return w.commit(false)
	}
	return nil
}

// finish commits the last batch, and with it the import, once every
// record is known to be the one checked.
func (w *importWriter) finish(plan importPlan) error {
	if w.result != plan.result || !bytes.Equal(w.sum.Sum(nil), plan.digest) {
		return errChanged
	}
	if w.tx == nil && w.batches == 0 {
		return nil // nothing to write
	}
	return w.commit(true)
}

// commit writes the batch in its transaction and commits it. Every batch
// but the last notes its keys under the import's marker; the last one
// deletes the marker.
func (w *importWriter) commit(last bool) error {
	if w.tx == nil {
		tx, err := w.s.db.Begin(true)
		if err != nil {
			return unavailable(err)
		}
		w.tx = tx
	}
	err := w.write(last)
	if err == nil {
		err = w.tx.Commit()
	} else {
		_ = w.tx.Rollback()
	}
	w.reset()
	if err != nil {
		return err
	}
	w.batches++
	if !last && w.s.importBatchCommitted != nil {
		w.s.importBatchCommitted(w.batches)
	}
	return nil
}

func (w *importWriter) write(last bool) error {
	if err := putAll(w.tx, w.es); err != nil {
		return err
	}
	if err := w.counts.apply(w.tx); err != nil {
		return err
	}
	if last {
		if w.tx.Bucket(bucketImportPending) == nil {
			return nil
		}
		return w.tx.DeleteBucket(bucketImportPending)
	}
	pending, err := w.tx.CreateBucketIfNotExists(bucketImportPending)
	if err != nil {
		return err
	}
	for _, e := range w.es { // in key order, after putAll
		if bytes.Equal(e.bucket, bucketSnapshots) {
			if err := pending.Put(e.key, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// abort drops the batch not yet committed.
func (w *importWriter) abort() {
	if w.tx != nil {
		_ = w.tx.Rollback()
	}
	w.reset()
}

// undoImport deletes what an unfinished import wrote, as its marker
// names it, with the records' index entries and counts, in transactions
// of at most importBatch records; then the marker. A record deleted since
// (by retention) is skipped. It does nothing when there is no marker.
func undoImport(db *bolt.DB) error {
	var done bool
	if err := db.View(func(tx *bolt.Tx) error {
		done = tx.Bucket(bucketImportPending) == nil
		return nil
	}); err != nil || done {
		return unavailable(err)
	}
	for !done {
		err := db.Update(func(tx *bolt.Tx) error {
			pending := tx.Bucket(bucketImportPending)
			if pending == nil {
				done = true
				return nil
			}
			// Collected first: deleting under a bbolt cursor skips keys.
			var keys [][]byte
			c := pending.Cursor()
			for k, _ := c.First(); k != nil && len(keys) < importBatch; k, _ = c.Next() {
				keys = append(keys, clone(k))
			}
			snaps, counts := tx.Bucket(bucketSnapshots), countDeltas{}
			for _, k := range keys {
				if v := snaps.Get(k); v != nil {
					head, err := decodeHead(v)
					if err != nil {
						return fmt.Errorf("reading snapshot %s: %w", keyID(k), err)
					}
					if err := deleteEntries(tx, k, head.DeploymentID, counts); err != nil {
						return err
					}
				}
				if err := pending.Delete(k); err != nil {
					return err
				}
			}
			if err := counts.apply(tx); err != nil {
				return err
			}
			if len(keys) < importBatch {
				done = true
				return tx.DeleteBucket(bucketImportPending)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("undoing an unfinished import: %w", unavailable(err))
		}
	}
	return nil
}
