package neo4j

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/telemetryd/telemetryd"
)

// Summaries of received deployments (see store.Fleet) are
// (:TelemetryDeployment {id}) nodes, updated in the transaction that
// stores each received snapshot. The label carries telemetryd's prefix,
// as its others do, since the database may be shared.
//
// The snapshots are not linked to their summary by relationships: a
// summary's update needs only the received snapshot's two neighbours in
// created_at order, which are seeks on the (deployment_id, created_at)
// index, and the fleet listing reads summary nodes alone. Relationships
// would add writes to every ingest and to every retention delete
// without making either query cheaper.

// errUnchanged rolls back a receive whose snapshot is stored already.
var errUnchanged = errors.New("snapshot stored already")

// ReceiveSnapshot stores a snapshot another deployment sent and updates
// its deployment's summary in one transaction. It locks the summary
// node first, so receives of one deployment are serialized across
// replicas and each sees the neighbours the one before it stored; the
// uniqueness constraints still have the last word against other
// writers, and a violation is checked once more to report it.
func (s *Store) ReceiveSnapshot(ctx context.Context, snap *telemetryd.Snapshot) (bool, error) {
	if snap == nil || snap.ID == "" || snap.CreatedAt.IsZero() {
		return false, telemetryd.Errorf(telemetryd.EINVALID, "a snapshot needs an id and created_at")
	}
	for attempt := 0; ; attempt++ {
		_, err := write(ctx, s, "receiving snapshot", func(tx driver.ManagedTransaction) (struct{}, error) {
			return struct{}{}, receive(ctx, tx, snap)
		})
		if errors.Is(err, errUnchanged) {
			return false, nil
		}
		if msg, ok := constraintViolated(err); ok {
			if attempt == 0 {
				continue // a concurrent writer: the checks now see it
			}
			if strings.Contains(msg, "deployment_day") {
				return false, telemetryd.Errorf(telemetryd.ECONFLICT, "deployment %s already has a snapshot on %s", snap.DeploymentID, telemetryd.Day(snap.CreatedAt))
			}
			return false, telemetryd.Errorf(telemetryd.ECONFLICT, "snapshot %s already exists with other content", snap.ID)
		}
		return err == nil, err
	}
}

func receive(ctx context.Context, tx driver.ManagedTransaction, snap *telemetryd.Snapshot) error {
	res, err := tx.Run(ctx, receiveCheckQuery, map[string]any{
		"dep": snap.DeploymentID, "id": snap.ID, "day": deploymentDay(snap),
		"at": telemetryd.Microseconds(snap.CreatedAt), "earliest": earliest,
	})
	if err != nil {
		return err
	}
	rec, err := res.Single(ctx)
	if err != nil {
		return err
	}
	v := rec.Values
	if stored, ok := v[0].(string); ok {
		if stored == snap.Checksum {
			return errUnchanged
		}
		return telemetryd.Errorf(telemetryd.ECONFLICT, "snapshot %s already exists with other content", snap.ID)
	}
	if owner, ok := v[1].(string); ok {
		return telemetryd.Errorf(telemetryd.ECONFLICT, "deployment %s already has snapshot %s on %s", snap.DeploymentID, owner, telemetryd.Day(snap.CreatedAt))
	}
	old, err := deploymentFrom(v[2])
	if err != nil {
		return err
	}
	n := telemetryd.Neighbours{Older: link(v[3], v[4]), Newer: link(v[5], v[6])}
	next := old.Add(snap, n)
	_, err = run(ctx, tx, receiveWriteQuery, map[string]any{
		"props": snapshotProps(snap), "dep": snap.DeploymentID, "summary": summaryProps(next), "name": snapshotsLock,
	})
	return err
}

// receiveCheckQuery locks the deployment's summary node (creating it for
// a deployment not seen before; it is rolled back with the transaction
// when nothing is stored), then reads in one round trip: the checksum of
// a snapshot stored with the same id, the id of the one holding the same
// deployment day, the summary, and the checksums of the neighbours the
// new snapshot will sit between.
const receiveCheckQuery = `MERGE (d:TelemetryDeployment {id: $dep})
	SET d._lock = true REMOVE d._lock
	WITH d
	OPTIONAL MATCH (same:TelemetrySnapshot {id: $id})
	OPTIONAL MATCH (taken:TelemetrySnapshot {deployment_day: $day})
	CALL (d) {
		OPTIONAL MATCH (o:TelemetrySnapshot) USING INDEX o:TelemetrySnapshot(deployment_id, created_at)
		WHERE o.deployment_id = $dep AND o.created_at >= $earliest AND o.created_at < $at
		RETURN o ORDER BY o.deployment_id DESC, o.created_at DESC LIMIT 1
	}
	CALL (d) {
		OPTIONAL MATCH (n:TelemetrySnapshot) USING INDEX n:TelemetrySnapshot(deployment_id, created_at)
		WHERE n.deployment_id = $dep AND n.created_at > $at
		RETURN n ORDER BY n.deployment_id, n.created_at LIMIT 1
	}
	RETURN same.checksum, taken.id, d, o.checksum, o.previous_checksum, n.checksum, n.previous_checksum`

// receiveWriteQuery stores the snapshot and its deployment's summary, and
// bumps the snapshots version (see snapshotsLock) last, so that lock is
// held only for the end of the transaction.
const receiveWriteQuery = `CREATE (s:TelemetrySnapshot) SET s = $props
	WITH s
	MATCH (d:TelemetryDeployment {id: $dep}) SET d += $summary
	WITH d
	MERGE (v:TelemetrydLock {name: $name})
	SET v.version = coalesce(v.version, 0) + 1`

// link is a neighbour as far as the chain goes: its checksum and previous
// checksum; nil when absent.
func link(checksum, previous any) *telemetryd.Snapshot {
	sum, ok := checksum.(string)
	if !ok {
		return nil
	}
	prev, _ := previous.(string)
	return &telemetryd.Snapshot{Checksum: sum, PreviousChecksum: prev}
}

func summaryProps(d *telemetryd.Deployment) map[string]any {
	return map[string]any{
		"first_seen":     dateTime(d.FirstSeen),
		"last_seen":      dateTime(d.LastSeen),
		"snapshot_count": int64(d.SnapshotCount),
		"latest_version": d.LatestVersion,
		"breaks":         int64(d.Breaks),
	}
}

// deploymentFrom reads a summary node; nil for one just created.
func deploymentFrom(v any) (*telemetryd.Deployment, error) {
	node, ok := v.(driver.Node)
	if !ok {
		return nil, errors.New("expected a deployment node")
	}
	if node.Props["snapshot_count"] == nil {
		return nil, nil
	}
	p := &props{m: node.Props}
	d := &telemetryd.Deployment{
		ID:            p.str("id"),
		FirstSeen:     p.time("first_seen"),
		LastSeen:      p.time("last_seen"),
		LatestVersion: p.str("latest_version"),
		SnapshotCount: int(p.int("snapshot_count")),
		Breaks:        int(p.int("breaks")),
	}
	return d, p.err
}

// Deployments returns one page of summaries, newest last seen first, and
// how many match, in one read transaction: the page reads the last_seen
// index backwards, in order; the count reads the same index.
func (s *Store) Deployments(ctx context.Context, f telemetryd.DeploymentFilter) ([]*telemetryd.Deployment, int, error) {
	type page struct {
		deps  []*telemetryd.Deployment
		count int
	}
	offset, limit := max(f.Offset, 0), f.Limit
	if limit <= 0 {
		limit = telemetryd.DefaultLimit
	}
	since := earliest
	if !f.SeenSince.IsZero() {
		since = telemetryd.Microseconds(f.SeenSince)
	}
	p, err := read(ctx, s, "listing deployments", func(tx driver.ManagedTransaction) (page, error) {
		params := map[string]any{"since": since, "offset": offset, "limit": limit}
		res, err := tx.Run(ctx, `MATCH (d:TelemetryDeployment) WHERE d.last_seen >= $since
			RETURN d ORDER BY d.last_seen DESC, d.id DESC SKIP $offset LIMIT $limit`, params)
		if err != nil {
			return page{}, err
		}
		out := page{deps: []*telemetryd.Deployment{}}
		for res.Next(ctx) {
			d, err := deploymentFrom(res.Record().Values[0])
			if err != nil {
				return page{}, err
			}
			if d != nil {
				out.deps = append(out.deps, d)
			}
		}
		if err := res.Err(); err != nil {
			return page{}, err
		}
		res, err = tx.Run(ctx, `MATCH (d:TelemetryDeployment) WHERE d.last_seen >= $since RETURN count(d)`, params)
		if err != nil {
			return page{}, err
		}
		rec, err := res.Single(ctx)
		if err != nil {
			return page{}, err
		}
		n, _ := rec.Values[0].(int64)
		out.count = int(n)
		return out, nil
	})
	return p.deps, p.count, err
}

// int returns an integer property; absent is 0.
func (p *props) int(key string) int64 {
	switch v := p.m[key].(type) {
	case nil:
		return 0
	case int64:
		return v
	default:
		p.fail(key, v)
		return 0
	}
}

// summarizeBatch bounds the deployments summarized in one transaction.
const summarizeBatch = 500

// SummarizeDeployments computes the summaries of the deployments named
// afresh from their stored snapshots, reading only the members the
// chain needs, in transactions of summarizeBatch deployments that lock
// their summary nodes first.
func (s *Store) SummarizeDeployments(ctx context.Context, ids []string) error {
	for batch := range slices.Chunk(ids, summarizeBatch) {
		_, err := write(ctx, s, "summarizing deployments", func(tx driver.ManagedTransaction) (struct{}, error) {
			return struct{}{}, summarize(ctx, tx, batch)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

func summarize(ctx context.Context, tx driver.ManagedTransaction, ids []string) error {
	if _, err := run(ctx, tx, `UNWIND $ids AS id MERGE (d:TelemetryDeployment {id: id})
		SET d._lock = true REMOVE d._lock`, map[string]any{"ids": ids}); err != nil {
		return err
	}
	res, err := tx.Run(ctx, `UNWIND $ids AS id
		CALL (id) {
			MATCH (s:TelemetrySnapshot) USING INDEX s:TelemetrySnapshot(deployment_id, created_at)
			WHERE s.deployment_id = id AND s.created_at >= $earliest
			WITH s ORDER BY s.created_at
			RETURN collect([s.created_at, s.version, s.checksum, s.previous_checksum]) AS chain
		}
		RETURN id, chain`, map[string]any{"ids": ids, "earliest": earliest})
	if err != nil {
		return err
	}
	var rows []map[string]any
	var empty []string
	for res.Next(ctx) {
		id, _ := res.Record().Values[0].(string)
		links, _ := res.Record().Values[1].([]any)
		chain := make([]*telemetryd.Snapshot, 0, len(links))
		for _, l := range links {
			v, _ := l.([]any)
			p := &props{m: map[string]any{"created_at": v[0], "version": v[1], "checksum": v[2], "previous_checksum": v[3]}}
			chain = append(chain, &telemetryd.Snapshot{DeploymentID: id, CreatedAt: p.time("created_at"), Version: p.str("version"),
				Checksum: p.str("checksum"), PreviousChecksum: p.str("previous_checksum")})
			if p.err != nil {
				return p.err
			}
		}
		if d := telemetryd.Summarize(chain); d != nil {
			rows = append(rows, map[string]any{"id": id, "summary": summaryProps(d)})
		} else {
			empty = append(empty, id)
		}
	}
	if err := res.Err(); err != nil {
		return err
	}
	if _, err := run(ctx, tx, `UNWIND $rows AS row MATCH (d:TelemetryDeployment {id: row.id}) SET d += row.summary`,
		map[string]any{"rows": rows}); err != nil {
		return err
	}
	_, err = run(ctx, tx, `UNWIND $ids AS id MATCH (d:TelemetryDeployment {id: id}) DELETE d`, map[string]any{"ids": empty})
	return err
}

// summarizePruned summarizes afresh the deployments whose oldest
// snapshots retention may have deleted: those first seen before t.
func (s *Store) summarizePruned(ctx context.Context, t time.Time) error {
	ids, err := read(ctx, s, "finding pruned deployments", func(tx driver.ManagedTransaction) ([]string, error) {
		res, err := tx.Run(ctx, `MATCH (d:TelemetryDeployment) WHERE d.first_seen < $before RETURN d.id`,
			map[string]any{"before": telemetryd.Microseconds(t)})
		if err != nil {
			return nil, err
		}
		var ids []string
		for res.Next(ctx) {
			id, _ := res.Record().Values[0].(string)
			ids = append(ids, id)
		}
		return ids, res.Err()
	})
	if err != nil {
		return err
	}
	return s.SummarizeDeployments(ctx, ids)
}
