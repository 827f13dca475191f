package neo4j

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
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

// ReceiveSnapshot stores a snapshot another deployment sent and updates
// its deployment's summary in one transaction. It locks the summary
// node first, so receives of one deployment are serialized across
// replicas and each sees the neighbours the one before it stored; the
// uniqueness constraints still have the last word against other
// writers, and a violation is checked once more to report it.
//
// Concurrent calls share transactions (see batcher), so many senders
// cost few round trips and commits.
func (s *Store) ReceiveSnapshot(ctx context.Context, snap *telemetryd.Snapshot) (bool, error) {
	if snap == nil || snap.ID == "" || snap.CreatedAt.IsZero() {
		return false, telemetryd.Errorf(telemetryd.EINVALID, "a snapshot needs an id and created_at")
	}
	return s.receiving.receive(ctx, s, snap)
}

// maxReceiveBatch bounds the snapshots one transaction receives.
const maxReceiveBatch = 64

// receiveTimeout bounds a shared receive transaction, which serves
// several callers and so runs on none of their contexts.
const receiveTimeout = 30 * time.Second

// batcher gathers concurrent receives into shared transactions, in the
// manner of bbolt's Batch: while calls wait, goroutines (receiveRunners)
// run transactions for those waiting, and the calls that arrive
// meanwhile wait for the next.
// A transaction holds at most one call per deployment, so the calls'
// checks are independent and each transaction costs three round trips
// and one commit, and takes the snapshots lock once, however many it
// receives. A call that is refused (stored already, a conflict) writes
// nothing and leaves the others be; a statement that fails (a replica's
// concurrent write violating a constraint) fails the transaction, and
// each of its calls is then received alone.
type batcher struct {
	mu       sync.Mutex
	waiting  []*receiveCall
	running  int             // goroutines running batches
	inFlight map[string]bool // deployments of the batches running
}

// receiveRunners is how many batches run at once: while one commits, the
// next runs its checks. Their deployments differ, so neither waits for
// the other's locks but the snapshots lock, which each takes last.
const receiveRunners = 2

type receiveCall struct {
	snap    *telemetryd.Snapshot
	created bool
	err     error
	done    chan struct{}
}

func (b *batcher) receive(ctx context.Context, s *Store, snap *telemetryd.Snapshot) (bool, error) {
	call := &receiveCall{snap: snap, done: make(chan struct{})}
	b.mu.Lock()
	b.waiting = append(b.waiting, call)
	if b.running < receiveRunners {
		// Goroutines of their own, so no caller waits for others' batches.
		b.running++
		go b.run(s)
	}
	b.mu.Unlock()
	select {
	case <-call.done:
		return call.created, call.err
	case <-ctx.Done():
		// The transaction goes on; a sender that retries learns its fate.
		return false, ctx.Err()
	}
}

// run receives waiting calls, batch after batch, until none it may take
// wait.
func (b *batcher) run(s *Store) {
	for {
		b.mu.Lock()
		calls := b.next()
		if len(calls) == 0 {
			b.running--
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		s.receiveBatch(calls)
		b.mu.Lock()
		for _, c := range calls {
			delete(b.inFlight, c.snap.DeploymentID)
		}
		b.mu.Unlock()
	}
}

// next takes the next batch from the waiting calls: the oldest call of
// each deployment no batch is running for, up to maxReceiveBatch.
func (b *batcher) next() []*receiveCall {
	if b.inFlight == nil {
		b.inFlight = map[string]bool{}
	}
	var calls, rest []*receiveCall
	for _, c := range b.waiting {
		if len(calls) == maxReceiveBatch || b.inFlight[c.snap.DeploymentID] {
			rest = append(rest, c)
			continue
		}
		b.inFlight[c.snap.DeploymentID] = true
		calls = append(calls, c)
	}
	b.waiting = rest
	return calls
}

func (s *Store) receiveBatch(calls []*receiveCall) {
	ctx, cancel := context.WithTimeout(context.Background(), receiveTimeout)
	defer cancel()
	defer func() {
		for _, c := range calls {
			close(c.done)
		}
	}()
	snaps := make([]*telemetryd.Snapshot, len(calls))
	for i, c := range calls {
		snaps[i] = c.snap
	}
	results, err := write(ctx, s, "receiving snapshots", func(tx driver.ManagedTransaction) ([]received, error) {
		return receive(ctx, tx, snaps)
	})
	if _, ok := constraintViolated(err); ok {
		// Another writer stored one of these meanwhile: each call alone
		// sees what, and the others go through.
		for _, c := range calls {
			c.created, c.err = s.receiveAlone(ctx, c.snap)
		}
		return
	}
	for i, c := range calls {
		if err != nil {
			c.err = err
			continue
		}
		c.created, c.err = results[i].created, results[i].err
	}
}

// receiveAlone receives one snapshot in a transaction of its own, and
// tells a constraint violation as the conflict it is.
func (s *Store) receiveAlone(ctx context.Context, snap *telemetryd.Snapshot) (bool, error) {
	for attempt := 0; ; attempt++ {
		results, err := write(ctx, s, "receiving snapshot", func(tx driver.ManagedTransaction) ([]received, error) {
			return receive(ctx, tx, []*telemetryd.Snapshot{snap})
		})
		msg, violated := constraintViolated(err)
		switch {
		case err == nil:
			return results[0].created, results[0].err
		case !violated:
			return false, err
		case attempt == 0:
			continue // the checks now see the concurrent write
		case strings.Contains(msg, "deployment_day"):
			return false, telemetryd.Errorf(telemetryd.ECONFLICT, "deployment %s already has a snapshot on %s", snap.DeploymentID, telemetryd.Day(snap.CreatedAt))
		default:
			return false, telemetryd.Errorf(telemetryd.ECONFLICT, "snapshot %s already exists with other content", snap.ID)
		}
	}
}

// received is the outcome of one snapshot of a batch.
type received struct {
	created bool
	err     error // ECONFLICT; nothing was written
}

// receive stores snaps, of distinct deployments, and their deployments'
// summaries in tx, and returns each one's outcome: created, stored
// already (nothing written), or refused with ECONFLICT (nothing
// written). It fails only when a statement does.
func receive(ctx context.Context, tx driver.ManagedTransaction, snaps []*telemetryd.Snapshot) ([]received, error) {
	items := make([]map[string]any, len(snaps))
	for i, snap := range snaps {
		items[i] = map[string]any{"dep": snap.DeploymentID, "id": snap.ID, "day": deploymentDay(snap), "at": telemetryd.Microseconds(snap.CreatedAt)}
	}
	res, err := tx.Run(ctx, receiveCheckQuery, map[string]any{"items": items, "earliest": earliest})
	if err != nil {
		return nil, err
	}
	recs, err := res.Collect(ctx)
	if err != nil {
		return nil, err
	}
	if len(recs) != len(snaps) {
		return nil, fmt.Errorf("receive check returned %d rows for %d snapshots", len(recs), len(snaps))
	}
	out := make([]received, len(snaps))
	var rows []map[string]any
	var unseen []string // deployments whose summary node the check made in vain
	for i, rec := range recs {
		snap, v := snaps[i], rec.Values
		old, err := deploymentFrom(v[2])
		if err != nil {
			return nil, err
		}
		stored, isStored := v[0].(string)
		owner, taken := v[1].(string)
		switch {
		case isStored && stored != snap.Checksum:
			out[i].err = telemetryd.Errorf(telemetryd.ECONFLICT, "snapshot %s already exists with other content", snap.ID)
		case isStored:
		case taken:
			out[i].err = telemetryd.Errorf(telemetryd.ECONFLICT, "deployment %s already has snapshot %s on %s", snap.DeploymentID, owner, telemetryd.Day(snap.CreatedAt))
		default:
			next := old.Add(snap, telemetryd.Neighbours{Older: link(v[3], v[4]), Newer: link(v[5], v[6])})
			rows = append(rows, map[string]any{"props": snapshotProps(snap), "dep": snap.DeploymentID, "summary": summaryProps(next)})
			out[i].created = true
			continue
		}
		if old == nil {
			unseen = append(unseen, snap.DeploymentID)
		}
	}
	if len(unseen) > 0 {
		if _, err := run(ctx, tx, `UNWIND $ids AS id MATCH (d:TelemetryDeployment {id: id})
			WHERE d.snapshot_count IS NULL DELETE d`, map[string]any{"ids": unseen}); err != nil {
			return nil, err
		}
	}
	if len(rows) > 0 {
		if _, err := run(ctx, tx, receiveWriteQuery, map[string]any{"rows": rows, "name": snapshotsLock}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// receiveCheckQuery locks each snapshot's deployment summary node
// (creating it for a deployment not seen before; receive deletes it
// again when nothing is stored), then reads, in one row per snapshot in
// the order given: the checksum of a snapshot stored with the same id,
// the id of the one holding the same deployment day, the summary, and
// the checksums of the neighbours the new snapshot will sit between,
// each one seek on the (deployment_id, created_at) index.
const receiveCheckQuery = `UNWIND $items AS item
	MERGE (d:TelemetryDeployment {id: item.dep})
	SET d._lock = true REMOVE d._lock
	WITH item, d
	OPTIONAL MATCH (same:TelemetrySnapshot {id: item.id})
	OPTIONAL MATCH (taken:TelemetrySnapshot {deployment_day: item.day})
	CALL (item) {
		OPTIONAL MATCH (o:TelemetrySnapshot) USING INDEX o:TelemetrySnapshot(deployment_id, created_at)
		WHERE o.deployment_id = item.dep AND o.created_at >= $earliest AND o.created_at < item.at
		RETURN o ORDER BY o.deployment_id DESC, o.created_at DESC LIMIT 1
	}
	CALL (item) {
		OPTIONAL MATCH (n:TelemetrySnapshot) USING INDEX n:TelemetrySnapshot(deployment_id, created_at)
		WHERE n.deployment_id = item.dep AND n.created_at > item.at
		RETURN n ORDER BY n.deployment_id, n.created_at LIMIT 1
	}
	RETURN same.checksum, taken.id, d, o.checksum, o.previous_checksum, n.checksum, n.previous_checksum`

// receiveWriteQuery stores the snapshots and their deployments'
// summaries, and bumps the snapshots version (see snapshotsLock) last,
// once, so that lock is held only for the end of the transaction.
const receiveWriteQuery = `UNWIND $rows AS row
	CREATE (s:TelemetrySnapshot) SET s = row.props
	WITH row
	MATCH (d:TelemetryDeployment {id: row.dep}) SET d += row.summary
	WITH count(*) AS stored
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
		n, err := readCount(ctx, tx, `MATCH (d:TelemetryDeployment) WHERE d.last_seen >= $since RETURN count(d)`, params)
		if err != nil {
			return page{}, err
		}
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
	return writeSummaries(ctx, tx, rows, empty)
}

// goneLinks returns, by deployment of the fleet first seen before t, the
// chain links of its snapshots created before t, oldest first: what
// retention is about to delete, read before it does.
func (s *Store) goneLinks(ctx context.Context, t time.Time) (map[string][]*telemetryd.Snapshot, error) {
	return read(ctx, s, "reading snapshots past retention", func(tx driver.ManagedTransaction) (map[string][]*telemetryd.Snapshot, error) {
		res, err := tx.Run(ctx, `MATCH (d:TelemetryDeployment) WHERE d.first_seen < $before
			CALL (d) {
				MATCH (s:TelemetrySnapshot) USING INDEX s:TelemetrySnapshot(deployment_id, created_at)
				WHERE s.deployment_id = d.id AND s.created_at >= $earliest AND s.created_at < $before
				WITH s ORDER BY s.created_at
				RETURN collect([s.checksum, s.previous_checksum]) AS gone
			}
			RETURN d.id, gone`, map[string]any{"before": telemetryd.Microseconds(t), "earliest": earliest})
		if err != nil {
			return nil, err
		}
		out := map[string][]*telemetryd.Snapshot{}
		for res.Next(ctx) {
			id, _ := res.Record().Values[0].(string)
			links, _ := res.Record().Values[1].([]any)
			for _, l := range links {
				v, _ := l.([]any)
				out[id] = append(out[id], link(v[0], v[1]))
			}
		}
		return out, res.Err()
	})
}

// pruneSummaries updates the summaries of the deployments whose oldest
// snapshots retention deleted, gone by deployment (see goneLinks): it
// reads only the oldest snapshot each has left.
func (s *Store) pruneSummaries(ctx context.Context, gone map[string][]*telemetryd.Snapshot) error {
	ids := slices.Sorted(maps.Keys(gone))
	for batch := range slices.Chunk(ids, summarizeBatch) {
		_, err := write(ctx, s, "updating pruned summaries", func(tx driver.ManagedTransaction) (struct{}, error) {
			res, err := tx.Run(ctx, `UNWIND $ids AS id
				MATCH (d:TelemetryDeployment {id: id}) SET d._lock = true REMOVE d._lock
				WITH d
				CALL (d) {
					OPTIONAL MATCH (f:TelemetrySnapshot) USING INDEX f:TelemetrySnapshot(deployment_id, created_at)
					WHERE f.deployment_id = d.id AND f.created_at >= $earliest
					RETURN f ORDER BY f.deployment_id, f.created_at LIMIT 1
				}
				RETURN d, f.created_at, f.checksum, f.previous_checksum`, map[string]any{"ids": batch, "earliest": earliest})
			if err != nil {
				return struct{}{}, err
			}
			recs, err := res.Collect(ctx)
			if err != nil {
				return struct{}{}, err
			}
			var rows []map[string]any
			var empty []string
			for _, rec := range recs {
				old, err := deploymentFrom(rec.Values[0])
				if err != nil {
					return struct{}{}, err
				}
				if old == nil {
					continue // made by a receive's check, not yet holding a snapshot
				}
				var first *telemetryd.Snapshot
				if f := link(rec.Values[2], rec.Values[3]); f != nil {
					p := &props{m: map[string]any{"created_at": rec.Values[1]}}
					f.CreatedAt = p.time("created_at")
					first = f
				}
				if next := old.Drop(gone[old.ID], first); next != nil {
					rows = append(rows, map[string]any{"id": old.ID, "summary": summaryProps(next)})
				} else {
					empty = append(empty, old.ID)
				}
			}
			return struct{}{}, writeSummaries(ctx, tx, rows, empty)
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// writeSummaries sets the summaries of rows ({id, summary}) and deletes
// the summary nodes of empty.
func writeSummaries(ctx context.Context, tx driver.ManagedTransaction, rows []map[string]any, empty []string) error {
	if _, err := run(ctx, tx, `UNWIND $rows AS row MATCH (d:TelemetryDeployment {id: row.id}) SET d += row.summary`,
		map[string]any{"rows": rows}); err != nil {
		return err
	}
	_, err := run(ctx, tx, `UNWIND $ids AS id MATCH (d:TelemetryDeployment {id: id}) DELETE d`, map[string]any{"ids": empty})
	return err
}
