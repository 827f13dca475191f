package embedded

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Counting snapshots in a date range without touching the range's keys.
//
// bbolt keeps no subtree counts, and walking 100,000 keys costs
// milliseconds, so the store keeps its own: a tree of counters over time
// positions (snapshot key prefixes). Level 0 counts the snapshots of each
// aligned span of 2^32 µs (about 72 minutes); each level above counts
// spans 32 times wider, up to level 6 whose four spans cover every
// position. Counting the snapshots before a position then sums at most 31
// sibling counters per level plus the keys of one level-0 span, whatever
// the size of the store.
const (
	countLevels    = 7
	countBaseShift = 32
	countFanShift  = 5
)

func countShift(level int) uint { return uint(countBaseShift + countFanShift*level) }

// countKey is the level byte and the index of pos's span on that level.
func countKey(level int, pos uint64) []byte {
	k := make([]byte, 9)
	k[0] = byte(level)
	binary.BigEndian.PutUint64(k[1:], pos>>countShift(level))
	return k
}

// countDeltas gathers counter changes of one transaction, so a bulk import
// or deletion writes each counter once.
type countDeltas map[string]int64

func (d countDeltas) add(pos uint64, n int64) {
	for level := range countLevels {
		d[string(countKey(level, pos))] += n
	}
}

// apply writes the changes, deleting counters that reach zero so the
// bucket stays as sparse as the data.
func (d countDeltas) apply(tx *bolt.Tx) error {
	b := tx.Bucket(bucketSnapshotCounts)
	for k, n := range d {
		if n == 0 {
			continue
		}
		var cur int64
		if v := b.Get([]byte(k)); v != nil {
			cur = int64(binary.BigEndian.Uint64(v))
		}
		switch next := cur + n; {
		case next < 0:
			return fmt.Errorf("snapshot counter %x would become negative", k)
		case next == 0:
			if err := b.Delete([]byte(k)); err != nil {
				return err
			}
		default:
			if err := b.Put([]byte(k), binary.BigEndian.AppendUint64(nil, uint64(next))); err != nil {
				return err
			}
		}
	}
	return nil
}

// countBefore returns how many snapshots have a position before pos.
func countBefore(tx *bolt.Tx, pos uint64) int {
	c := tx.Bucket(bucketSnapshotCounts).Cursor()
	n := 0
	for level := countLevels - 1; level >= 0; level-- {
		shift := countShift(level)
		// Siblings of pos's span that come before it. On the top level the
		// parent shift exceeds 63 and Go shifts to 0: every span counts.
		from := (pos >> (shift + countFanShift)) << countFanShift
		to := pos >> shift
		seek := make([]byte, 9)
		seek[0] = byte(level)
		binary.BigEndian.PutUint64(seek[1:], from)
		for k, v := c.Seek(seek); k != nil && k[0] == byte(level) && binary.BigEndian.Uint64(k[1:]) < to; k, v = c.Next() {
			n += int(binary.BigEndian.Uint64(v))
		}
	}
	// The snapshots of pos's own level-0 span, one key at a time.
	start := (pos >> countBaseShift) << countBaseShift
	sc := tx.Bucket(bucketSnapshots).Cursor()
	for k, _ := sc.Seek(binary.BigEndian.AppendUint64(nil, start)); k != nil && keyPosition(k) < pos; k, _ = sc.Next() {
		n++
	}
	return n
}

// countAll returns how many snapshots the store holds.
func countAll(tx *bolt.Tx) int {
	n := 0
	c := tx.Bucket(bucketSnapshotCounts).Cursor()
	top := byte(countLevels - 1)
	for k, v := c.Seek([]byte{top}); k != nil && k[0] == top; k, v = c.Next() {
		n += int(binary.BigEndian.Uint64(v))
	}
	return n
}

// countRange returns how many snapshots have a position in [lo, hi]; open
// bounds are nil.
func countRange(tx *bolt.Tx, lo, hi *uint64) int {
	upper := countAll(tx)
	if hi != nil && *hi != ^uint64(0) {
		upper = countBefore(tx, *hi+1)
	}
	lower := 0
	if lo != nil {
		lower = countBefore(tx, *lo)
	}
	return max(upper-lower, 0)
}
