package telemetryd

import "time"

// Deployment summarizes the snapshots a receiver holds of one deployment
// of its fleet. Stores keep it up to date as snapshots arrive, in the
// same transaction as each snapshot, so a listing of the fleet never
// scans snapshots.
type Deployment struct {
	ID string
	// FirstSeen and LastSeen are the created_at of the oldest and the
	// newest snapshot held.
	FirstSeen time.Time
	LastSeen  time.Time
	// SnapshotCount is how many snapshots are held.
	SnapshotCount int
	// LatestVersion is the version of the newest snapshot.
	LatestVersion string
	// Breaks counts the broken links between snapshots next to each other
	// in created_at order: those whose previous_checksum is not the
	// checksum of the snapshot held before them. The oldest snapshot held
	// anchors the chain, as in Verifier.
	Breaks int
}

// ChainIntact reports whether every snapshot held chains to the one held
// before it.
func (d *Deployment) ChainIntact() bool { return d.Breaks == 0 }

// MissingDays is how many UTC days between the first and the last seen,
// both included, have no snapshot held: a deployment keeps at most one a
// day, so it is the span in days less the count.
func (d *Deployment) MissingDays() int {
	first, _ := time.Parse(time.DateOnly, Day(d.FirstSeen))
	last, _ := time.Parse(time.DateOnly, Day(d.LastSeen))
	span := int(last.Sub(first).Hours()/24) + 1
	return max(span-d.SnapshotCount, 0)
}

// Neighbours are the snapshots of a deployment held just before and just
// after (by created_at) one being added; nil where there is none. Only
// their checksums matter.
type Neighbours struct {
	Older, Newer *Snapshot
}

// broken reports whether newer does not chain to older.
func broken(older, newer *Snapshot) int {
	if older == nil || newer == nil || newer.PreviousChecksum == older.Checksum {
		return 0
	}
	return 1
}

// Add returns the summary of d (nil for a deployment not seen before)
// once s is held too, s lying between n.Older and n.Newer. A snapshot
// that does not chain to the one before it adds a break; one that
// arrives late and fills the gap its neighbours left removes theirs.
func (d *Deployment) Add(s *Snapshot, n Neighbours) *Deployment {
	if d == nil {
		return &Deployment{ID: s.DeploymentID, FirstSeen: s.CreatedAt, LastSeen: s.CreatedAt, SnapshotCount: 1, LatestVersion: s.Version}
	}
	out := *d
	out.SnapshotCount++
	if s.CreatedAt.Before(out.FirstSeen) {
		out.FirstSeen = s.CreatedAt
	}
	if !s.CreatedAt.Before(out.LastSeen) {
		out.LastSeen = s.CreatedAt
		out.LatestVersion = s.Version
	}
	out.Breaks += broken(n.Older, s) + broken(s, n.Newer) - broken(n.Older, n.Newer)
	return &out
}

// DeploymentFilter selects a page of deployments, newest LastSeen first
// (then ID, descending).
type DeploymentFilter struct {
	// SeenSince keeps deployments last seen at or after it; zero keeps all.
	SeenSince time.Time
	Limit     int
	Offset    int
}

// Summarize returns the summary of snaps, a deployment's snapshots
// oldest first; nil when there are none.
func Summarize(snaps []*Snapshot) *Deployment {
	var d *Deployment
	for i, s := range snaps {
		var n Neighbours
		if i > 0 {
			n.Older = snaps[i-1]
		}
		d = d.Add(s, n)
	}
	return d
}

// Drop returns the summary of d once gone, its oldest snapshots held
// (oldest first), are deleted, as retention does; first is the oldest
// snapshot still held. With none left (first is nil) there is no
// summary: Drop returns nil. The links among the gone snapshots, and the
// one from the last of them to first, leave with them, so first anchors
// the chain.
func (d *Deployment) Drop(gone []*Snapshot, first *Snapshot) *Deployment {
	if first == nil {
		return nil
	}
	out := *d
	out.SnapshotCount -= len(gone)
	out.FirstSeen = first.CreatedAt
	for i, g := range gone {
		next := first
		if i+1 < len(gone) {
			next = gone[i+1]
		}
		out.Breaks -= broken(g, next)
	}
	return &out
}
