package embedded

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/telemetryd/telemetryd"
)

// Summaries of received deployments (see store.Fleet) live in two
// buckets written in the same transaction as each received snapshot:
// bucketDeployments holds them by id, and bucketDeploymentsLastSeen
// orders them for listing, newest last seen first by walking backwards.

// summary is a deployment summary as stored.
type summary struct {
	ID            string    `json:"id"`
	FirstSeen     time.Time `json:"first_seen"`
	LastSeen      time.Time `json:"last_seen"`
	SnapshotCount int       `json:"snapshot_count"`
	LatestVersion string    `json:"latest_version"`
	Breaks        int       `json:"breaks"`
}

func (s summary) deployment() *telemetryd.Deployment {
	return &telemetryd.Deployment{ID: s.ID, FirstSeen: s.FirstSeen, LastSeen: s.LastSeen,
		SnapshotCount: s.SnapshotCount, LatestVersion: s.LatestVersion, Breaks: s.Breaks}
}

func summaryOf(d *telemetryd.Deployment) summary {
	return summary{ID: d.ID, FirstSeen: d.FirstSeen, LastSeen: d.LastSeen,
		SnapshotCount: d.SnapshotCount, LatestVersion: d.LatestVersion, Breaks: d.Breaks}
}

// lastSeenKey orders summaries by last seen, then id.
func lastSeenKey(lastSeen time.Time, id string) []byte {
	return append(binary.BigEndian.AppendUint64(nil, position(lastSeen)), id...)
}

// readSummary returns the deployment's summary, nil when it has none.
func readSummary(tx *bolt.Tx, id string) (*telemetryd.Deployment, error) {
	v := tx.Bucket(bucketDeployments).Get([]byte(id))
	if v == nil {
		return nil, nil
	}
	var s summary
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("decoding summary of deployment %s: %w", id, err)
	}
	return s.deployment(), nil
}

// writeSummary replaces old (nil when none) with next, keeping the last
// seen order in step.
func writeSummary(tx *bolt.Tx, old, next *telemetryd.Deployment) error {
	order := tx.Bucket(bucketDeploymentsLastSeen)
	if old != nil {
		if err := order.Delete(lastSeenKey(old.LastSeen, old.ID)); err != nil {
			return err
		}
	}
	v, err := json.Marshal(summaryOf(next))
	if err != nil {
		return fmt.Errorf("encoding summary of deployment %s: %w", next.ID, err)
	}
	if err := tx.Bucket(bucketDeployments).Put([]byte(next.ID), v); err != nil {
		return err
	}
	return order.Put(lastSeenKey(next.LastSeen, next.ID), nil)
}

// neighbours returns the deployment's snapshots just before and after
// the free day at dayKey, from the day index.
func neighbours(tx *bolt.Tx, deploymentID string, dayKey []byte) (telemetryd.Neighbours, error) {
	var n telemetryd.Neighbours
	prefix := lengthPrefixed(nil, deploymentID)
	snaps := tx.Bucket(bucketSnapshots)
	read := func(k []byte) (*telemetryd.Snapshot, error) { return decode(k, snaps.Get(k)) }
	c := tx.Bucket(bucketSnapshotDays).Cursor()
	k, v := c.Seek(dayKey)
	var err error
	if k != nil && bytes.HasPrefix(k, prefix) {
		if n.Newer, err = read(v); err != nil {
			return n, err
		}
	}
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	if k != nil && bytes.HasPrefix(k, prefix) {
		if n.Older, err = read(v); err != nil {
			return n, err
		}
	}
	return n, nil
}

// ReceiveSnapshot stores a snapshot another deployment sent and updates
// its deployment's summary, in one transaction. Concurrent calls share
// transactions (bbolt's Batch), so many senders cost few commits.
func (s *Store) ReceiveSnapshot(ctx context.Context, snap *telemetryd.Snapshot) (bool, error) {
	value, err := encode(snap)
	if err != nil {
		return false, err
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	var created bool
	// Batch may call this more than once: it must start from scratch.
	err = unavailable(s.db.Batch(func(tx *bolt.Tx) error {
		created = false
		if k := tx.Bucket(bucketSnapshotIDs).Get([]byte(snap.ID)); k != nil {
			stored, err := decode(k, tx.Bucket(bucketSnapshots).Get(k))
			if err != nil {
				return err
			}
			if stored.Checksum != snap.Checksum {
				return telemetryd.Errorf(telemetryd.ECONFLICT, "snapshot %s already exists with other content", snap.ID)
			}
			return nil
		}
		day := telemetryd.Day(snap.CreatedAt)
		dayKey := deploymentDayKey(snap.DeploymentID, day)
		if k := tx.Bucket(bucketSnapshotDays).Get(dayKey); k != nil {
			return telemetryd.Errorf(telemetryd.ECONFLICT, "deployment %s already has snapshot %s on %s", snap.DeploymentID, keyID(k), day)
		}
		n, err := neighbours(tx, snap.DeploymentID, dayKey)
		if err != nil {
			return err
		}
		old, err := readSummary(tx, snap.DeploymentID)
		if err != nil {
			return err
		}
		counts := countDeltas{}
		if err := putAll(tx, entries(snap, value, counts)); err != nil {
			return err
		}
		if err := counts.apply(tx); err != nil {
			return err
		}
		if err := writeSummary(tx, old, old.Add(snap, n)); err != nil {
			return err
		}
		created = true
		return nil
	}))
	if err != nil {
		return false, wrap("receiving snapshot "+snap.ID, err)
	}
	return created, nil
}

// Deployments returns one page of summaries, newest last seen first, and
// how many match, from one read transaction: a walk of the last seen
// order down to f.SeenSince.
func (s *Store) Deployments(ctx context.Context, f telemetryd.DeploymentFilter) ([]*telemetryd.Deployment, int, error) {
	limit := f.Limit
	if limit < 1 {
		limit = telemetryd.DefaultLimit
	}
	var lo []byte
	if !f.SeenSince.IsZero() {
		lo = binary.BigEndian.AppendUint64(nil, positionCeil(f.SeenSince))
	}
	page := []*telemetryd.Deployment{}
	count := 0
	err := s.view(ctx, func(tx *bolt.Tx) error {
		summaries := tx.Bucket(bucketDeployments)
		c := tx.Bucket(bucketDeploymentsLastSeen).Cursor()
		for k, _ := c.Last(); k != nil && (lo == nil || bytes.Compare(k, lo) >= 0); k, _ = c.Prev() {
			count++
			if count <= f.Offset || len(page) == limit {
				continue
			}
			id := string(k[8:])
			var sum summary
			if err := json.Unmarshal(summaries.Get([]byte(id)), &sum); err != nil {
				return fmt.Errorf("decoding summary of deployment %s: %w", id, err)
			}
			page = append(page, sum.deployment())
		}
		return nil
	})
	if err != nil {
		return nil, 0, wrap("listing deployments", err)
	}
	return page, count, nil
}

// SummarizeDeployments computes the summaries of the deployments named
// afresh from their snapshots, in one transaction.
func (s *Store) SummarizeDeployments(ctx context.Context, ids []string) error {
	return wrap("summarizing deployments", s.update(ctx, func(tx *bolt.Tx) error {
		for _, id := range ids {
			if err := summarize(tx, id); err != nil {
				return err
			}
		}
		return nil
	}))
}

// summarize rewrites the deployment's summary from its snapshots, read
// in day order from the day index.
func summarize(tx *bolt.Tx, id string) error {
	old, err := readSummary(tx, id)
	if err != nil {
		return err
	}
	prefix := lengthPrefixed(nil, id)
	snaps := tx.Bucket(bucketSnapshots)
	var chain []*telemetryd.Snapshot
	c := tx.Bucket(bucketSnapshotDays).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		snap, err := decode(v, snaps.Get(v))
		if err != nil {
			return err
		}
		snap.Data = nil // only the chain and the version matter
		chain = append(chain, snap)
	}
	return replaceSummary(tx, old, telemetryd.Summarize(chain))
}

// replaceSummary replaces old with next; either may be nil, for none.
func replaceSummary(tx *bolt.Tx, old, next *telemetryd.Deployment) error {
	if next != nil {
		return writeSummary(tx, old, next)
	}
	if old == nil {
		return nil
	}
	if err := tx.Bucket(bucketDeploymentsLastSeen).Delete(lastSeenKey(old.LastSeen, old.ID)); err != nil {
		return err
	}
	return tx.Bucket(bucketDeployments).Delete([]byte(old.ID))
}

// pruneSummaries updates the summaries of the deployments whose oldest
// snapshots retention deleted, gone by deployment, oldest first: it reads
// only the oldest snapshot each has left.
func pruneSummaries(tx *bolt.Tx, gone map[string][]*telemetryd.Snapshot) error {
	snaps := tx.Bucket(bucketSnapshots)
	for id, links := range gone {
		old, err := readSummary(tx, id)
		if err != nil {
			return err
		}
		if old == nil {
			continue // not a deployment of the fleet
		}
		var first *telemetryd.Snapshot
		prefix := lengthPrefixed(nil, id)
		if k, v := tx.Bucket(bucketSnapshotDays).Cursor().Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
			if first, err = decode(v, snaps.Get(v)); err != nil {
				return err
			}
		}
		if err := replaceSummary(tx, old, old.Drop(links, first)); err != nil {
			return err
		}
	}
	return nil
}
