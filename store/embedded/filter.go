package embedded

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/telemetryd/telemetryd"
)

// listMatching answers a listing filtered by deployment or send status,
// which the counters cannot count: it reads every record within the time
// bounds, newest first, in one read transaction, counting those that
// match and keeping the page. Memory stays at one page; time grows with
// the records in the bounds.
func (s *Store) listMatching(ctx context.Context, f telemetryd.Filter, lo, hi *uint64, limit int) ([]*telemetryd.Snapshot, int, error) {
	page := []*telemetryd.Snapshot{}
	count := 0
	err := s.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSnapshots).Cursor()
		for k, v := lastAtOrBefore(c, hi); above(lo, k); k, v = c.Prev() {
			snap, err := decode(k, v)
			if err != nil {
				return err
			}
			if !f.Matches(snap) {
				continue
			}
			if count >= f.Offset && len(page) < limit {
				page = append(page, snap)
			}
			count++
		}
		return nil
	})
	if err != nil {
		return nil, 0, wrap("listing snapshots", err)
	}
	return page, count, nil
}

// CountSnapshotsByStatus returns how many snapshots have each remote send
// status, reading every record in one read transaction.
func (s *Store) CountSnapshotsByStatus(ctx context.Context) (map[telemetryd.SendStatus]int, error) {
	counts := map[telemetryd.SendStatus]int{}
	err := s.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSnapshots).ForEach(func(k, v []byte) error {
			snap, err := decode(k, v)
			if err != nil {
				return err
			}
			counts[snap.RemoteSendStatus]++
			return nil
		})
	})
	if err != nil {
		return nil, wrap("counting snapshots by status", err)
	}
	return counts, nil
}
