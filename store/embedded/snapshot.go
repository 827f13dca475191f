package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/telemetryd/telemetryd"
)

// Snapshot keys are the 8-byte big-endian position of created_at followed
// by the id, so key order is the listing order reversed (created_at, then
// id): a date range is a cursor walk, newest first is a walk backwards,
// and nothing is ever sorted.

// position maps t's Unix microseconds to an unsigned number in the same
// order, flipping the sign bit so times before 1970 sort first.
func position(t time.Time) uint64 { return uint64(t.UnixMicro()) ^ 1<<63 }

// positionCeil is the position of the first microsecond not before t.
func positionCeil(t time.Time) uint64 {
	if t.Equal(t.Truncate(time.Microsecond)) {
		return position(t)
	}
	return position(t) + 1
}

func keyPosition(k []byte) uint64 { return binary.BigEndian.Uint64(k[:8]) }

func keyTime(k []byte) time.Time {
	return time.UnixMicro(int64(keyPosition(k) ^ 1<<63)).UTC()
}

func keyID(k []byte) string { return string(k[8:]) }

func snapshotKey(s *telemetryd.Snapshot) []byte {
	k := make([]byte, 8, 8+len(s.ID))
	binary.BigEndian.PutUint64(k, position(s.CreatedAt))
	return append(k, s.ID...)
}

// deploymentDayKey sorts a deployment's days together and in date order,
// so its newest snapshot is the last key under its prefix.
func deploymentDayKey(deploymentID, day string) []byte {
	return append(lengthPrefixed(nil, deploymentID), day...)
}

// bounds turns the filter into inclusive positions; nil is open. ok is
// false when nothing can match.
func bounds(f telemetryd.Filter) (lo, hi *uint64, ok bool) {
	if !f.Start.IsZero() {
		p := positionCeil(f.Start)
		lo = &p
	}
	if !f.End.IsZero() {
		p := position(f.End)
		hi = &p
	}
	return lo, hi, lo == nil || hi == nil || *lo <= *hi
}

func above(lo *uint64, k []byte) bool { return k != nil && (lo == nil || keyPosition(k) >= *lo) }

// lastAtOrBefore moves c to the newest snapshot at or before hi.
func lastAtOrBefore(c *bolt.Cursor, hi *uint64) (k, v []byte) {
	if hi == nil || *hi == ^uint64(0) {
		return c.Last()
	}
	if k, _ := c.Seek(binary.BigEndian.AppendUint64(nil, *hi+1)); k == nil {
		return c.Last()
	}
	return c.Prev()
}

// lastBefore moves c to the newest snapshot key below key, which need not
// exist any more.
func lastBefore(c *bolt.Cursor, key []byte) (k, v []byte) {
	if k, _ := c.Seek(key); k == nil {
		return c.Last()
	}
	return c.Prev()
}

func unsent(status telemetryd.SendStatus) bool {
	return status == telemetryd.SendPending || status == telemetryd.SendFailed
}

// unsentPrefix groups a deployment's entries in the unsent index.
func unsentPrefix(deploymentID string) []byte { return lengthPrefixed(nil, deploymentID) }

// unsentKey is the unsent index key of the snapshot under snapshot key k:
// its deployment, then k, so each deployment's unsent snapshots are one
// key range, oldest first.
func unsentKey(deploymentID string, k []byte) []byte {
	return append(unsentPrefix(deploymentID), k...)
}

// conflict says why s cannot be stored beside what tx holds, or "".
func conflict(tx *bolt.Tx, s *telemetryd.Snapshot) string {
	if tx.Bucket(bucketSnapshotIDs).Get([]byte(s.ID)) != nil {
		return fmt.Sprintf("snapshot %s already exists", s.ID)
	}
	day := telemetryd.Day(s.CreatedAt)
	if k := tx.Bucket(bucketSnapshotDays).Get(deploymentDayKey(s.DeploymentID, day)); k != nil {
		return fmt.Sprintf("deployment %s already has snapshot %s on %s", s.DeploymentID, keyID(k), day)
	}
	return ""
}

// entry is one key and value to put in a bucket.
type entry struct {
	bucket, key, value []byte
}

// entries returns the record and index entries that store s, and counts
// it; the caller has checked conflicts.
func entries(s *telemetryd.Snapshot, value []byte, counts countDeltas) []entry {
	k := snapshotKey(s)
	es := []entry{
		{bucketSnapshots, k, value},
		{bucketSnapshotIDs, []byte(s.ID), k},
		{bucketSnapshotDays, deploymentDayKey(s.DeploymentID, telemetryd.Day(s.CreatedAt)), k},
	}
	if unsent(s.RemoteSendStatus) {
		es = append(es, entry{bucketSnapshotUnsent, unsentKey(s.DeploymentID, k), []byte(s.RemoteSendStatus)})
	}
	counts.add(keyPosition(k), 1)
	return es
}

// deleteEntries deletes the record under snapshot key k, a snapshot of
// the deployment, with its index entries, and uncounts it: the undoing of
// entries. Deleting what is absent does nothing.
func deleteEntries(tx *bolt.Tx, k []byte, deploymentID string, counts countDeltas) error {
	dels := []entry{
		{bucket: bucketSnapshots, key: k},
		{bucket: bucketSnapshotIDs, key: []byte(keyID(k))},
		{bucket: bucketSnapshotDays, key: deploymentDayKey(deploymentID, telemetryd.Day(keyTime(k)))},
		{bucket: bucketSnapshotUnsent, key: unsentKey(deploymentID, k)},
	}
	for _, d := range dels {
		if err := tx.Bucket(d.bucket).Delete(d.key); err != nil {
			return err
		}
	}
	counts.add(keyPosition(k), -1)
	return nil
}

// putAll writes es in bucket and key order. bbolt splits nodes only at
// commit, so a large transaction inserting in random order moves ever
// longer in-memory nodes on every put, quadratic in the batch; in key
// order each put appends.
func putAll(tx *bolt.Tx, es []entry) error {
	slices.SortFunc(es, func(a, b entry) int {
		if c := bytes.Compare(a.bucket, b.bucket); c != 0 {
			return c
		}
		return bytes.Compare(a.key, b.key)
	})
	var b *bolt.Bucket
	for i, e := range es {
		if i == 0 || !bytes.Equal(e.bucket, es[i-1].bucket) {
			b = tx.Bucket(e.bucket)
		}
		if err := b.Put(e.key, e.value); err != nil {
			return err
		}
	}
	return nil
}

// CreateSnapshot stores a sealed snapshot. ECONFLICT when its id exists or
// its deployment already has a snapshot on the same UTC day.
func (s *Store) CreateSnapshot(ctx context.Context, snap *telemetryd.Snapshot) error {
	value, err := encode(snap)
	if err != nil {
		return err
	}
	err = s.update(ctx, func(tx *bolt.Tx) error {
		if reason := conflict(tx, snap); reason != "" {
			return telemetryd.Errorf(telemetryd.ECONFLICT, "%s", reason)
		}
		counts := countDeltas{}
		if err := putAll(tx, entries(snap, value, counts)); err != nil {
			return err
		}
		return counts.apply(tx)
	})
	return wrap("creating snapshot "+snap.ID, err)
}

// Snapshot returns the snapshot with id, or ENOTFOUND.
func (s *Store) Snapshot(ctx context.Context, id string) (*telemetryd.Snapshot, error) {
	var snap *telemetryd.Snapshot
	err := s.view(ctx, func(tx *bolt.Tx) error {
		k := tx.Bucket(bucketSnapshotIDs).Get([]byte(id))
		if k == nil {
			return telemetryd.Errorf(telemetryd.ENOTFOUND, "snapshot %s not found", id)
		}
		var err error
		snap, err = decode(k, tx.Bucket(bucketSnapshots).Get(k))
		return err
	})
	if err != nil {
		return nil, wrap("reading snapshot "+id, err)
	}
	return snap, nil
}

// ListSnapshots calls fn with how many snapshots match f in all and one
// page of them, newest first, from one read transaction, and lends fn the
// records' data: it is the stored bytes, so a page costs no copy of it.
// A filter by deployment or status is answered by listMatching. A Limit
// below 1 means telemetryd.DefaultLimit. The count reads counters, not
// records (see count.go); the page skips Offset keys without decoding
// them, so deep offsets cost a key walk. A damaged record on the page
// fails the whole listing (see decode).
func (s *Store) ListSnapshots(ctx context.Context, f telemetryd.Filter, fn func(count int, page []*telemetryd.Snapshot) error) error {
	limit := f.Limit
	if limit < 1 {
		limit = telemetryd.DefaultLimit
	}
	lo, hi, ok := bounds(f)
	if !ok {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(0, []*telemetryd.Snapshot{})
	}
	if !f.OnlyTime() {
		return s.listMatching(ctx, f, lo, hi, limit, fn)
	}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		count := countRange(tx, lo, hi)
		if f.Offset >= count {
			return fn(count, []*telemetryd.Snapshot{})
		}
		c := tx.Bucket(bucketSnapshots).Cursor()
		k, v := lastAtOrBefore(c, hi)
		for skip := f.Offset; skip > 0 && above(lo, k); skip-- {
			k, v = c.Prev()
		}
		n := min(limit, count-f.Offset)
		keys, vals := make([][]byte, 0, n), make([][]byte, 0, n)
		for ; above(lo, k) && len(keys) < limit; k, v = c.Prev() {
			keys, vals = append(keys, k), append(vals, v)
		}
		return lendPage(keys, vals, count, fn)
	})
	return wrap("listing snapshots", err)
}

// EachSnapshot decodes up to eachBatch snapshots, or eachBatchBytes of
// stored records, per read transaction: enough to make transactions cheap
// per record, small enough that a batch of large records stays a small
// part of the heap.
const (
	eachBatch      = 500
	eachBatchBytes = 1 << 20
)

// EachSnapshot calls fn for every snapshot matching f, newest first.
// It reads batches of at most 500 records or 1 MiB of them in short read
// transactions and calls fn outside them, so a slow fn (writing an
// export) neither holds a transaction open nor keeps the file from
// growing. The next batch is read while fn works through one, so reading
// and writing an export share the cores; two batches' memory is reused
// from one batch to the next, so a long walk makes little garbage: fn
// must not keep a snapshot, or its data, once it returns. The walk is
// therefore not one snapshot in time: a snapshot written or deleted
// during it may or may not be seen, but none is seen twice and the order
// holds.
func (s *Store) EachSnapshot(ctx context.Context, f telemetryd.Filter, fn func(*telemetryd.Snapshot) error) error {
	lo, hi, ok := bounds(f)
	if !ok {
		return ctx.Err()
	}
	type batch struct {
		snaps []*telemetryd.Snapshot
		r     *pageReader
		err   error
	}
	ctx, cancel := context.WithCancel(ctx)
	batches := make(chan batch)
	free := make(chan *pageReader, 2)
	free <- new(pageReader)
	free <- new(pageReader)
	go func() {
		defer close(batches)
		var after []byte // the oldest key read so far
		for more := true; more; {
			var r *pageReader
			select {
			case r = <-free:
			case <-ctx.Done():
				return
			}
			var snaps []*telemetryd.Snapshot
			var err error
			snaps, after, more, err = s.readBatch(ctx, f, lo, hi, after, r)
			batches <- batch{snaps, r, err}
			if err != nil {
				return
			}
		}
	}()
	defer func() {
		cancel()
		for range batches { // let the reader finish
		}
	}()
	for b := range batches {
		if b.err != nil {
			return wrap("reading snapshots", b.err)
		}
		for _, snap := range b.snaps {
			if err := fn(snap); err != nil {
				return err
			}
		}
		free <- b.r
	}
	return ctx.Err() // the reader stops early only when ctx is done
}

// readBatch reads, into r, the next batch of EachSnapshot's walk over f
// within lo and hi: the snapshots older than after (all of them when after
// is nil). It returns the oldest key it read, and whether the range goes
// on past it.
func (s *Store) readBatch(ctx context.Context, f telemetryd.Filter, lo, hi *uint64, after []byte, r *pageReader) (snaps []*telemetryd.Snapshot, last []byte, more bool, err error) {
	last = after
	err = s.view(ctx, func(tx *bolt.Tx) error {
		var seen []byte // the oldest key read, valid within the transaction
		c := tx.Bucket(bucketSnapshots).Cursor()
		var k, v []byte
		if after == nil {
			k, v = lastAtOrBefore(c, hi)
		} else {
			k, v = lastBefore(c, after)
		}
		keys, vals := r.keys[:0], r.vals[:0]
		for size := 0; above(lo, k) && len(keys) < eachBatch && size < eachBatchBytes; k, v = c.Prev() {
			seen = k
			size += len(v)
			ok, err := matches(f, k, v)
			if err != nil {
				return err
			}
			if ok {
				keys, vals = append(keys, k), append(vals, v)
			}
		}
		r.keys, r.vals = keys, vals
		more = above(lo, k)
		if seen != nil {
			last = clone(seen)
		}
		var err error
		snaps, err = r.read(keys, vals, false)
		return err
	})
	return snaps, last, more, err
}

// LatestSnapshot returns the deployment's newest snapshot, or ENOTFOUND:
// the last entry of its day index, one seek.
func (s *Store) LatestSnapshot(ctx context.Context, deploymentID string) (*telemetryd.Snapshot, error) {
	var snap *telemetryd.Snapshot
	err := s.view(ctx, func(tx *bolt.Tx) error {
		prefix := lengthPrefixed(nil, deploymentID)
		c := tx.Bucket(bucketSnapshotDays).Cursor()
		// 0xff sorts after every day, so the key before it is the newest.
		k, v := lastBefore(c, append(clone(prefix), 0xff))
		if k == nil || !bytes.HasPrefix(k, prefix) {
			return telemetryd.Errorf(telemetryd.ENOTFOUND, "deployment %s has no snapshot", deploymentID)
		}
		var err error
		snap, err = decode(v, tx.Bucket(bucketSnapshots).Get(v))
		return err
	})
	if err != nil {
		return nil, wrap("reading latest snapshot", err)
	}
	return snap, nil
}

// UpdateSendStatus records a remote send outcome and returns the updated
// snapshot; ENOTFOUND for an unknown id, EINVALID for an unknown status.
func (s *Store) UpdateSendStatus(ctx context.Context, id string, status telemetryd.SendStatus, at time.Time, reason string) (*telemetryd.Snapshot, error) {
	if !status.Valid() {
		return nil, telemetryd.Errorf(telemetryd.EINVALID, "unknown remote send status %q", status)
	}
	var snap *telemetryd.Snapshot
	err := s.update(ctx, func(tx *bolt.Tx) error {
		k := tx.Bucket(bucketSnapshotIDs).Get([]byte(id))
		if k == nil {
			return telemetryd.Errorf(telemetryd.ENOTFOUND, "snapshot %s not found", id)
		}
		k = clone(k)
		var err error
		if snap, err = decode(k, tx.Bucket(bucketSnapshots).Get(k)); err != nil {
			return err
		}
		snap.RemoteSendStatus = status
		snap.RemoteSendAt = telemetryd.Microseconds(at)
		snap.RemoteSendError = reason
		value, err := encode(snap)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketSnapshots).Put(k, value); err != nil {
			return err
		}
		uk := unsentKey(snap.DeploymentID, k)
		if unsent(status) {
			return tx.Bucket(bucketSnapshotUnsent).Put(uk, []byte(status))
		}
		return tx.Bucket(bucketSnapshotUnsent).Delete(uk)
	})
	if err != nil {
		return nil, wrap("updating send status of snapshot "+id, err)
	}
	return snap, nil
}

// UnsentSnapshots returns up to limit snapshots of the deployment, oldest
// first, that failed to send or are still pending and were created before
// pendingBefore. It walks the deployment's range of the index of pending
// and failed snapshots only.
func (s *Store) UnsentSnapshots(ctx context.Context, deploymentID string, pendingBefore time.Time, limit int) ([]*telemetryd.Snapshot, error) {
	out := []*telemetryd.Snapshot{}
	if limit < 1 {
		return out, ctx.Err()
	}
	before := positionCeil(pendingBefore)
	prefix := unsentPrefix(deploymentID)
	err := s.view(ctx, func(tx *bolt.Tx) error {
		snaps := tx.Bucket(bucketSnapshots)
		c := tx.Bucket(bucketSnapshotUnsent).Cursor()
		for uk, v := c.Seek(prefix); bytes.HasPrefix(uk, prefix) && len(out) < limit; uk, v = c.Next() {
			k := uk[len(prefix):]
			if telemetryd.SendStatus(v) != telemetryd.SendFailed && keyPosition(k) >= before {
				continue
			}
			snap, err := decode(k, snaps.Get(k))
			if err != nil {
				return err
			}
			out = append(out, snap)
		}
		return nil
	})
	if err != nil {
		return nil, wrap("listing unsent snapshots", err)
	}
	return out, nil
}

// DeleteSnapshotsBefore deletes snapshots created before t, with their
// index entries, in one transaction, and returns how many it deleted.
func (s *Store) DeleteSnapshotsBefore(ctx context.Context, t time.Time) (int, error) {
	end := positionCeil(t)
	var deleted int
	err := s.update(ctx, func(tx *bolt.Tx) error {
		deleted = 0
		snaps := tx.Bucket(bucketSnapshots)
		type victim struct {
			key  []byte
			link *telemetryd.Snapshot // for the summaries
		}
		// Collected first: deleting under a bbolt cursor skips keys.
		var victims []victim
		c := snaps.Cursor()
		for k, v := c.First(); k != nil && keyPosition(k) < end; k, v = c.Next() {
			snap, err := decode(k, v)
			if err != nil {
				return err
			}
			victims = append(victims, victim{
				key:  clone(k),
				link: &telemetryd.Snapshot{DeploymentID: snap.DeploymentID, Checksum: snap.Checksum, PreviousChecksum: snap.PreviousChecksum},
			})
		}
		counts := countDeltas{}
		for _, vic := range victims {
			if err := deleteEntries(tx, vic.key, vic.link.DeploymentID, counts); err != nil {
				return err
			}
		}
		deleted = len(victims)
		gone := map[string][]*telemetryd.Snapshot{} // oldest first, as the walk found them
		for _, vic := range victims {
			gone[vic.link.DeploymentID] = append(gone[vic.link.DeploymentID], vic.link)
		}
		if err := pruneSummaries(tx, gone); err != nil {
			return err
		}
		return counts.apply(tx)
	})
	if err != nil {
		return 0, wrap("deleting snapshots", err)
	}
	return deleted, nil
}
