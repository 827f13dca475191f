package embedded

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/telemetryd/telemetryd"
)

// head reads, of the record stored under snapshot key k, only what a
// filter by deployment or send status looks at, into a partial snapshot:
// filtering a range then skips over each record's data instead of
// copying it.
func head(k, v []byte) (telemetryd.Snapshot, error) {
	h, err := decodeHead(v)
	if err != nil {
		return h, fmt.Errorf("decoding stored snapshot %s: %w", keyID(k), err)
	}
	return h, nil
}

// matches reports whether the record stored under k passes f's
// conditions besides its time bounds, which key order already gives.
func matches(f telemetryd.Filter, k, v []byte) (bool, error) {
	if f.OnlyTime() {
		return true, nil
	}
	h, err := head(k, v)
	if err != nil {
		return false, err
	}
	return f.Matches(&h), nil
}

// listMatching answers a listing filtered by deployment or send status,
// which the counters cannot count: it reads the head of every record
// within the time bounds, newest first, in one read transaction, counting
// those that match and decoding only the page. Memory stays at one page;
// time grows with the records in the bounds.
func (s *Store) listMatching(ctx context.Context, f telemetryd.Filter, lo, hi *uint64, limit int, fn func(int, []*telemetryd.Snapshot) error) error {
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSnapshots).Cursor()
		var keys, vals [][]byte
		count := 0
		for k, v := lastAtOrBefore(c, hi); above(lo, k); k, v = c.Prev() {
			ok, err := matches(f, k, v)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if count >= f.Offset && len(keys) < limit {
				keys, vals = append(keys, k), append(vals, v)
			}
			count++
		}
		return lendPage(keys, vals, count, fn)
	})
	return wrap("listing snapshots", err)
}

// CountSnapshotsByStatus returns how many snapshots have each remote send
// status, reading the head of every record in one read transaction.
func (s *Store) CountSnapshotsByStatus(ctx context.Context) (map[telemetryd.SendStatus]int, error) {
	counts := map[telemetryd.SendStatus]int{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSnapshots).ForEach(func(k, v []byte) error {
			h, err := head(k, v)
			if err != nil {
				return err
			}
			counts[h.RemoteSendStatus]++
			return nil
		})
	})
	if err != nil {
		return nil, wrap("counting snapshots by status", err)
	}
	return counts, nil
}
