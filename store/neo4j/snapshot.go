package neo4j

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"maps"
	"strings"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

// Snapshots are (:TelemetrySnapshot) nodes holding the record's members
// as properties: created_at and remote_send_at as UTC DATETIMEs, data as
// a JSON string, and null for the record's nulls. deployment_day,
// "<deployment_id>/<YYYY-MM-DD>", carries the one-a-day constraint.
// data_crc is the CRC-32C of data as written, which every way in keeps
// compact and valid: a read whose data still matches it hands data on
// as it is, without scanning it as JSON (see snapshotFrom).

// deleteBatch bounds the transaction of each DeleteSnapshotsBefore step,
// so pruning years of snapshots does not build one huge transaction.
const deleteBatch = 5000

// streamFetchSize is how many records EachSnapshot pulls from Neo4j at a
// time: small enough that a walk over records of several KB each holds
// little, large enough to keep round trips few.
const streamFetchSize = 250

// CreateSnapshot stores a sealed snapshot. ECONFLICT when its id exists or
// its deployment already has a snapshot on the same UTC day; the
// uniqueness constraints decide, so this holds across replicas.
func (s *Store) CreateSnapshot(ctx context.Context, snap *telemetryd.Snapshot) error {
	// created_at must be set: every listing, and the count store standing
	// in for the open-range count, assume each snapshot has one.
	if snap == nil || snap.ID == "" || snap.CreatedAt.IsZero() {
		return telemetryd.Errorf(telemetryd.EINVALID, "a snapshot needs an id and created_at")
	}
	_, err := write(ctx, s, "creating snapshot", func(tx driver.ManagedTransaction) (struct{}, error) {
		if err := bumpSnapshotsVersion(ctx, tx); err != nil {
			return struct{}{}, err
		}
		_, err := run(ctx, tx, `CREATE (s:TelemetrySnapshot) SET s = $props`, map[string]any{"props": snapshotProps(snap)})
		return struct{}{}, err
	})
	if msg, ok := constraintViolated(err); ok {
		if strings.Contains(msg, "deployment_day") {
			return telemetryd.Errorf(telemetryd.ECONFLICT, "deployment %s already has a snapshot on %s", snap.DeploymentID, telemetryd.Day(snap.CreatedAt))
		}
		return telemetryd.Errorf(telemetryd.ECONFLICT, "snapshot %s already exists", snap.ID)
	}
	return err
}

// Snapshot returns the snapshot with id, or ENOTFOUND.
func (s *Store) Snapshot(ctx context.Context, id string) (*telemetryd.Snapshot, error) {
	return read(ctx, s, "reading snapshot", func(tx driver.ManagedTransaction) (*telemetryd.Snapshot, error) {
		return singleSnapshot(ctx, tx, id, `MATCH (s:TelemetrySnapshot {id: $id}) RETURN s`, map[string]any{"id": id})
	})
}

// pageReading reads the page of f, as the reading "page" of a consistent
// read (see consistentRead), and returns its parameters. The range
// predicate on created_at, even the open "IS NOT NULL", lets the planner
// read the created_at index backwards in order instead of scanning and
// sorting every snapshot. With a deployment, the hint and the order
// naming deployment_id first (one value, so the order is the same) read
// that deployment's range of the (deployment_id, created_at) index in
// order: statistics sampled before a deployment's snapshots arrived would
// otherwise have the planner filter the whole created_at index. collect
// keeps the order of the rows before it.
func pageReading(f telemetryd.Filter) (reading, map[string]any) {
	where, params := filterWhere(f)
	params["offset"], params["limit"] = pageBounds(f)
	return reading{"page", `MATCH (s:TelemetrySnapshot) ` + indexHint(f) + `WHERE ` + where + `
	WITH s ORDER BY ` + orderBy(f) + ` SKIP $offset LIMIT $limit
	RETURN collect(s {.*}) AS page`}, params
}

// indexHint names the deployment index when f selects a deployment.
func indexHint(f telemetryd.Filter) string {
	if f.DeploymentID == "" {
		return ""
	}
	return "USING INDEX s:TelemetrySnapshot(deployment_id, created_at) "
}

// orderBy is the listing order, newest first, in the terms of the index
// that serves f (see listQuery).
func orderBy(f telemetryd.Filter) string {
	if f.DeploymentID == "" {
		return "s.created_at DESC, s.id DESC"
	}
	return "s.deployment_id DESC, s.created_at DESC, s.id DESC"
}

// pageBounds returns the offset and limit of f's page: a negative offset
// is 0 and a non-positive limit telemetryd.DefaultLimit.
func pageBounds(f telemetryd.Filter) (offset, limit int) {
	limit = f.Limit
	if limit <= 0 {
		limit = telemetryd.DefaultLimit
	}
	return max(f.Offset, 0), limit
}

// countReading counts the snapshots matching f, as the reading "count"
// of a consistent read. With no condition at all it reads the count store
// instead of an index, which is constant time however many snapshots
// there are.
func countReading(f telemetryd.Filter) (reading, map[string]any) {
	if f.Start.IsZero() && f.End.IsZero() && f.OnlyTime() {
		return reading{"count", `MATCH (s:TelemetrySnapshot) RETURN count(s) AS count`}, map[string]any{}
	}
	where, params := filterWhere(f)
	hint := indexHint(f)
	if hint == "" && len(f.Statuses) > 0 {
		// Counting needs no order, so the status index serves it best; the
		// hint keeps a planner with stale statistics from filtering the
		// whole created_at index instead.
		hint = "USING INDEX s:TelemetrySnapshot(remote_send_status, created_at) "
	}
	return reading{"count", `MATCH (s:TelemetrySnapshot) ` + hint + `WHERE ` + where + ` RETURN count(s) AS count`}, params
}

// filterWhere is the predicate of f: the created_at bounds, both
// inclusive, the deployment and the statuses. With a deployment the
// (deployment_id, created_at) index serves the range in order.
func filterWhere(f telemetryd.Filter) (string, map[string]any) {
	var conds []string
	params := map[string]any{}
	if f.DeploymentID != "" {
		conds = append(conds, "s.deployment_id = $deployment")
		params["deployment"] = f.DeploymentID
	}
	if !f.Start.IsZero() {
		conds = append(conds, "s.created_at >= $start")
		params["start"] = telemetryd.Microseconds(f.Start)
	}
	if !f.End.IsZero() {
		conds = append(conds, "s.created_at <= $end")
		params["end"] = telemetryd.Microseconds(f.End)
	}
	if f.Start.IsZero() && f.End.IsZero() {
		conds = append(conds, "s.created_at IS NOT NULL")
	}
	if len(f.Statuses) > 0 {
		statuses := make([]string, len(f.Statuses))
		for i, st := range f.Statuses {
			statuses[i] = string(st)
		}
		conds = append(conds, "s.remote_send_status IN $statuses")
		params["statuses"] = statuses
	}
	return strings.Join(conds, " AND "), params
}

// ListSnapshots calls fn with how many snapshots match f in all and one
// page of them, newest first (created_at, then id, descending), both from
// one consistent read (see consistentRead). A non-positive f.Limit means
// telemetryd.DefaultLimit.
func (s *Store) ListSnapshots(ctx context.Context, f telemetryd.Filter, fn func(count int, page []*telemetryd.Snapshot) error) error {
	type listing struct {
		snaps []*telemetryd.Snapshot
		count int
	}
	offset, limit := pageBounds(f)
	query, params := listStatement(f)
	l, err := consistentRead(ctx, s, "listing snapshots", query, params, func(values []any) (listing, error) {
		snaps, err := snapshotsFrom(values[0])
		n, ok := values[1].(int64)
		if err == nil && !ok {
			err = fmt.Errorf("count is %T, not an integer", values[1])
		}
		return listing{snaps, int(n)}, err
	}, func(l listing) bool { return pageFits(len(l.snaps), offset, limit, l.count) })
	if err != nil {
		return err
	}
	return fn(l.count, l.snaps)
}

// listStatement is the consistent read of f's page and count (see
// consistentStatement), and its parameters.
func listStatement(f telemetryd.Filter) (string, map[string]any) {
	page, params := pageReading(f)
	count, countParams := countReading(f)
	maps.Copy(params, countParams) // the same filter's, so they agree
	return consistentStatement(page, count), params
}

// EachSnapshot calls fn for every snapshot matching f, newest
// first, in constant memory: records are pulled from Neo4j in small
// batches as fn consumes them, within one read transaction (read
// committed: see store.Snapshots for what the walk promises). It is not
// retried, since
// fn has seen records already; an error from fn stops the walk and is
// returned as is.
func (s *Store) EachSnapshot(ctx context.Context, f telemetryd.Filter, fn func(*telemetryd.Snapshot) error) error {
	const op = "streaming snapshots"
	if s.closed.Load() {
		return errClosed(op)
	}
	sess := s.driver.NewSession(ctx, driver.SessionConfig{
		DatabaseName:    s.database,
		AccessMode:      driver.AccessModeRead,
		BookmarkManager: s.bookmarks,
		FetchSize:       streamFetchSize,
	})
	defer release(ctx, sess.Close)
	tx, err := sess.BeginTransaction(ctx)
	if err != nil {
		return wrap(op, err)
	}
	defer release(ctx, tx.Close) // rolls back unless committed
	where, params := filterWhere(f)
	res, err := tx.Run(ctx, `MATCH (s:TelemetrySnapshot) `+indexHint(f)+`WHERE `+where+`
		RETURN s ORDER BY `+orderBy(f), params)
	if err != nil {
		return wrap(op, err)
	}
	for res.Next(ctx) {
		snap, err := snapshotFrom(res.Record().Values[0])
		if err != nil {
			return wrap(op, err)
		}
		if err := fn(snap); err != nil {
			return err
		}
	}
	if err := res.Err(); err != nil {
		return wrap(op, err)
	}
	return wrap(op, tx.Commit(ctx))
}

// CountSnapshotsByStatus returns how many snapshots have each remote send
// status: one count a status, each a seek on the
// (remote_send_status, created_at) index.
func (s *Store) CountSnapshotsByStatus(ctx context.Context) (map[telemetryd.SendStatus]int, error) {
	return read(ctx, s, "counting snapshots by status", func(tx driver.ManagedTransaction) (map[telemetryd.SendStatus]int, error) {
		counts := map[telemetryd.SendStatus]int{}
		for _, status := range telemetryd.SendStatuses {
			n, err := readCount(ctx, tx, statusCountQuery, map[string]any{"status": string(status)})
			if err != nil {
				return nil, err
			}
			counts[status] = int(n)
		}
		return counts, nil
	})
}

// statusCountQuery counts the snapshots of one status from the
// (remote_send_status, created_at) index; the hint keeps a planner with
// thin statistics from preferring another.
const statusCountQuery = `MATCH (s:TelemetrySnapshot) USING INDEX s:TelemetrySnapshot(remote_send_status, created_at)
	WHERE s.remote_send_status = $status AND s.created_at IS NOT NULL RETURN count(s) AS n`

// LatestSnapshot returns the deployment's newest snapshot, or ENOTFOUND.
// It is one seek on the (deployment_id, created_at) index.
func (s *Store) LatestSnapshot(ctx context.Context, deploymentID string) (*telemetryd.Snapshot, error) {
	return read(ctx, s, "reading latest snapshot", func(tx driver.ManagedTransaction) (*telemetryd.Snapshot, error) {
		snaps, err := collectSnapshots(ctx, tx, latestQuery, map[string]any{"deployment": deploymentID, "earliest": earliest})
		if err != nil {
			return nil, err
		}
		if len(snaps) == 0 {
			return nil, telemetryd.Errorf(telemetryd.ENOTFOUND, "deployment %s has no snapshot", deploymentID)
		}
		return snaps[0], nil
	})
}

// latestQuery seeks the (deployment_id, created_at) index backwards and
// stops at the first entry. The lower bound on created_at and the
// ORDER BY naming both index properties are what let the planner use an
// ordered seek: with "IS NOT NULL" it scans the whole index instead. No
// id tie-break is needed: one deployment has at most one snapshot a day.
// The hint keeps a planner with thin statistics from scanning the index.
const latestQuery = `MATCH (s:TelemetrySnapshot) USING INDEX s:TelemetrySnapshot(deployment_id, created_at)
	WHERE s.deployment_id = $deployment AND s.created_at >= $earliest
	RETURN s ORDER BY s.deployment_id DESC, s.created_at DESC LIMIT 1`

// earliest is before every snapshot: the open lower bound of index seeks.
var earliest = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

// UpdateSendStatus records a remote send outcome and returns the updated
// snapshot; ENOTFOUND for an unknown id, EINVALID for an unknown status. A
// zero at and an empty reason store nulls.
func (s *Store) UpdateSendStatus(ctx context.Context, id string, status telemetryd.SendStatus, at time.Time, reason string) (*telemetryd.Snapshot, error) {
	if !status.Valid() {
		return nil, telemetryd.Errorf(telemetryd.EINVALID, "unknown remote send status %q", status)
	}
	return write(ctx, s, "updating send status", func(tx driver.ManagedTransaction) (*telemetryd.Snapshot, error) {
		return singleSnapshot(ctx, tx, id, `MATCH (s:TelemetrySnapshot {id: $id})
			SET s.remote_send_status = $status, s.remote_send_at = $at, s.remote_send_error = $reason
			RETURN s`, map[string]any{"id": id, "status": string(status), "at": dateTime(at), "reason": nullable(reason)})
	})
}

// UnsentSnapshots returns up to limit snapshots of the deployment, oldest
// first, that failed to send or are still pending and were created before
// pendingBefore.
func (s *Store) UnsentSnapshots(ctx context.Context, deploymentID string, pendingBefore time.Time, limit int) ([]*telemetryd.Snapshot, error) {
	if limit <= 0 {
		return []*telemetryd.Snapshot{}, nil
	}
	return read(ctx, s, "listing unsent snapshots", func(tx driver.ManagedTransaction) ([]*telemetryd.Snapshot, error) {
		return collectSnapshots(ctx, tx, unsentQuery, map[string]any{
			"deployment": deploymentID,
			"failed":     string(telemetryd.SendFailed), "pending": string(telemetryd.SendPending),
			"before": telemetryd.Microseconds(pendingBefore), "earliest": earliest, "limit": limit,
		})
	})
}

// unsentQuery is a union of two seeks on the (deployment_id,
// remote_send_status, created_at) index, so it reads only the
// deployment's unsent few. The hints keep the planner from preferring
// another index when statistics are thin, and make planning fail rather
// than fall back to a scan.
const unsentQuery = `CALL {
		MATCH (s:TelemetrySnapshot) USING INDEX s:TelemetrySnapshot(deployment_id, remote_send_status, created_at)
		WHERE s.deployment_id = $deployment AND s.remote_send_status = $failed AND s.created_at >= $earliest RETURN s
		UNION
		MATCH (s:TelemetrySnapshot) USING INDEX s:TelemetrySnapshot(deployment_id, remote_send_status, created_at)
		WHERE s.deployment_id = $deployment AND s.remote_send_status = $pending AND s.created_at < $before RETURN s
	}
	RETURN s ORDER BY s.created_at, s.id LIMIT $limit`

// DeleteSnapshotsBefore deletes snapshots created before t and returns how
// many it deleted. It deletes in batches of its own transactions, so an
// error part way leaves the older part deleted; then it updates the
// summaries of the received deployments that lost snapshots, from the
// chain links of those it read before deleting them.
func (s *Store) DeleteSnapshotsBefore(ctx context.Context, t time.Time) (int, error) {
	gone, err := s.goneLinks(ctx, t)
	if err != nil {
		return 0, err
	}
	var total int
	for {
		n, err := write(ctx, s, "deleting old snapshots", func(tx driver.ManagedTransaction) (int, error) {
			if err := bumpSnapshotsVersion(ctx, tx); err != nil {
				return 0, err
			}
			n, err := readCount(ctx, tx, `MATCH (s:TelemetrySnapshot) WHERE s.created_at < $before
				WITH s LIMIT $batch DETACH DELETE s RETURN count(*) AS n`,
				map[string]any{"before": telemetryd.Microseconds(t), "batch": deleteBatch})
			return int(n), err
		})
		total += n
		if err != nil {
			return total, err
		}
		if n < deleteBatch {
			return total, s.pruneSummaries(ctx, gone)
		}
	}
}

// importBatch is how many records ImportSnapshots sends in one query, so
// an import of any size holds only this many records in the client.
const importBatch = 500

// ImportSnapshots stores the snapshots that each yields, all or nothing,
// in one write transaction, sending them importBatch at a time. Each
// record is first checked on its own by a store.ImportCheck: EINVALID
// naming each malformed record, ECONFLICT naming each id or deployment
// day the batch holds twice. A record store.Identical to a stored one is
// skipped and counted as unchanged, and the stored remote_send_* fields
// are kept, since they record what this deployment did with it. A record
// whose id is stored with other content, or whose deployment day is taken
// by another id, fails the whole import with one ECONFLICT naming every
// such id. A transaction retried after a transient error calls each again.
func (s *Store) ImportSnapshots(ctx context.Context, each func(yield func(*telemetryd.Snapshot) error) error) (store.ImportResult, error) {
	res, err := write(ctx, s, "importing snapshots", func(tx driver.ManagedTransaction) (store.ImportResult, error) {
		// First, so the checks below see every write that committed
		// before this one and none can commit in between.
		if err := bumpSnapshotsVersion(ctx, tx); err != nil {
			return store.ImportResult{}, err
		}
		var (
			result    store.ImportResult
			conflicts []string
			batch     []*telemetryd.Snapshot
		)
		check := store.NewImportCheck()
		flush := func() error {
			defer func() { batch = batch[:0] }()
			rows, unchanged, problems, err := importRows(ctx, tx, batch)
			if err != nil {
				return err
			}
			result.Unchanged += unchanged
			conflicts = append(conflicts, problems...)
			if len(rows) == 0 || len(conflicts) > 0 || check.Failed() {
				return nil // nothing will be stored; keep checking to name every problem
			}
			result.Created += len(rows)
			_, err = run(ctx, tx, `UNWIND $rows AS row CREATE (s:TelemetrySnapshot) SET s = row`, map[string]any{"rows": rows})
			return err
		}
		err := each(func(snap *telemetryd.Snapshot) error {
			if !check.Add(snap) {
				return nil
			}
			batch = append(batch, snap)
			if len(batch) < importBatch {
				return nil
			}
			return flush()
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return store.ImportResult{}, err
		}
		if err := check.Err(); err != nil {
			return store.ImportResult{}, err
		}
		if len(conflicts) > 0 {
			return store.ImportResult{}, store.ImportConflict(conflicts)
		}
		return result, nil
	})
	if _, ok := constraintViolated(err); ok {
		// A writer that does not take the snapshots lock (a replica of an
		// older release) stored one of these between our check and our
		// write; a second import reports which.
		return store.ImportResult{}, telemetryd.Errorf(telemetryd.ECONFLICT, "import conflicts with snapshots stored concurrently; retry to see which")
	}
	return res, err
}

// importRows compares a batch of an import with what tx holds. It returns
// the rows to create, how many records are stored already, identical, and
// why any other record cannot be stored.
func importRows(ctx context.Context, tx driver.ManagedTransaction, snaps []*telemetryd.Snapshot) (rows []map[string]any, unchanged int, problems []string, err error) {
	if len(snaps) == 0 {
		return nil, 0, nil, nil
	}
	ids := make([]string, len(snaps))
	days := make([]string, len(snaps))
	for i, snap := range snaps {
		ids[i], days[i] = snap.ID, deploymentDay(snap)
	}
	stored, err := collectSnapshots(ctx, tx, `UNWIND $ids AS id MATCH (s:TelemetrySnapshot {id: id}) RETURN s`, map[string]any{"ids": ids})
	if err != nil {
		return nil, 0, nil, err
	}
	storedByID := make(map[string]*telemetryd.Snapshot, len(stored))
	for _, snap := range stored {
		storedByID[snap.ID] = snap
	}
	taken, err := tx.Run(ctx, `UNWIND $days AS day MATCH (s:TelemetrySnapshot {deployment_day: day})
		RETURN day, s.id AS id`, map[string]any{"days": days})
	if err != nil {
		return nil, 0, nil, err
	}
	storedDay := map[string]string{}
	for taken.Next(ctx) {
		day, _ := taken.Record().Values[0].(string)
		id, _ := taken.Record().Values[1].(string)
		storedDay[day] = id
	}
	if err := taken.Err(); err != nil {
		return nil, 0, nil, err
	}
	for _, snap := range snaps {
		if old, ok := storedByID[snap.ID]; ok {
			if store.Identical(old, snap) {
				unchanged++
			} else {
				problems = append(problems, snap.ID+": stored with other content")
			}
			continue
		}
		if owner, ok := storedDay[deploymentDay(snap)]; ok {
			problems = append(problems, fmt.Sprintf("%s: deployment %s already has snapshot %s on %s", snap.ID, snap.DeploymentID, owner, telemetryd.Day(snap.CreatedAt)))
			continue
		}
		rows = append(rows, snapshotProps(snap))
	}
	return rows, unchanged, problems, nil
}

func deploymentDay(s *telemetryd.Snapshot) string {
	return s.DeploymentID + "/" + telemetryd.Day(s.CreatedAt)
}

// snapshotProps is the node's property map; nulls leave properties unset.
func snapshotProps(s *telemetryd.Snapshot) map[string]any {
	var data any
	if s.Data != nil {
		data = string(s.Data)
	}
	return map[string]any{
		"data_crc":           int64(crc32.Checksum(s.Data, castagnoli)),
		"id":                 s.ID,
		"created_at":         dateTime(s.CreatedAt),
		"kind":               s.Kind,
		"payload_format":     s.PayloadFormat,
		"deployment_id":      s.DeploymentID,
		"deployment_day":     deploymentDay(s),
		"version":            s.Version,
		"data":               data,
		"checksum":           s.Checksum,
		"previous_checksum":  nullable(s.PreviousChecksum),
		"remote_send_status": nullable(string(s.RemoteSendStatus)),
		"remote_send_at":     dateTime(s.RemoteSendAt),
		"remote_send_error":  nullable(s.RemoteSendError),
	}
}

// castagnoli is the CRC-32C table of data_crc.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// snapshotFrom reads a snapshot node.
func snapshotFrom(v any) (*telemetryd.Snapshot, error) {
	node, ok := v.(driver.Node)
	if !ok {
		return nil, fmt.Errorf("expected a snapshot node, got %T", v)
	}
	return snapshotFromProps(node.Props)
}

// snapshotsFrom reads a list of snapshot property maps (see pageReading);
// never nil.
func snapshotsFrom(v any) ([]*telemetryd.Snapshot, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("expected a list of snapshots, got %T", v)
	}
	snaps := make([]*telemetryd.Snapshot, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("expected a snapshot's properties, got %T", e)
		}
		snap, err := snapshotFromProps(m)
		if err != nil {
			return nil, err
		}
		snaps[i] = snap
	}
	return snaps, nil
}

// snapshotFromProps reads a snapshot node's properties. Data that matches
// its data_crc is as written, so valid JSON; other data (a node written
// before data_crc, or edited since) is checked.
func snapshotFromProps(m map[string]any) (*telemetryd.Snapshot, error) {
	p := &props{m: m}
	s := &telemetryd.Snapshot{
		ID:               p.str("id"),
		CreatedAt:        p.time("created_at"),
		Kind:             p.str("kind"),
		PayloadFormat:    p.str("payload_format"),
		DeploymentID:     p.str("deployment_id"),
		Version:          p.str("version"),
		Checksum:         p.str("checksum"),
		PreviousChecksum: p.str("previous_checksum"),
		RemoteSendStatus: telemetryd.SendStatus(p.str("remote_send_status")),
		RemoteSendAt:     p.time("remote_send_at"),
		RemoteSendError:  p.str("remote_send_error"),
	}
	if data, ok := m["data"].(string); ok {
		s.Data = json.RawMessage(data)
		if !asWritten(m["data_crc"], s.Data) && !json.Valid(s.Data) {
			// A damaged or hand-edited property. Records are written as
			// stored (see telemetryd.Snapshot.AppendJSON), so it is kept as
			// a JSON string: the output stays valid JSON, and the checksum
			// fails, so verify names the record.
			s.Data, _ = json.Marshal(data) // a string always encodes
		}
	}
	return s, p.err
}

// asWritten reports whether data matches the data_crc property crc.
func asWritten(crc any, data []byte) bool {
	sum, ok := crc.(int64)
	return ok && uint32(sum) == crc32.Checksum(data, castagnoli)
}

// collectSnapshots runs query, whose only column is a snapshot node, and
// returns every snapshot; never nil.
func collectSnapshots(ctx context.Context, tx driver.ManagedTransaction, query string, params map[string]any) ([]*telemetryd.Snapshot, error) {
	res, err := tx.Run(ctx, query, params)
	if err != nil {
		return nil, err
	}
	snaps := []*telemetryd.Snapshot{}
	for res.Next(ctx) {
		snap, err := snapshotFrom(res.Record().Values[0])
		if err != nil {
			return nil, err
		}
		snaps = append(snaps, snap)
	}
	return snaps, res.Err()
}

// singleSnapshot returns the one snapshot query finds, or ENOTFOUND.
func singleSnapshot(ctx context.Context, tx driver.ManagedTransaction, id, query string, params map[string]any) (*telemetryd.Snapshot, error) {
	snaps, err := collectSnapshots(ctx, tx, query, params)
	if err != nil {
		return nil, err
	}
	if len(snaps) == 0 {
		return nil, telemetryd.Errorf(telemetryd.ENOTFOUND, "snapshot %s not found", id)
	}
	return snaps[0], nil
}
