package neo4j

import (
	"context"
	"encoding/json"
	"fmt"
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

// listQuery returns the page query for f and its parameters. The range
// predicate on created_at, even the open "IS NOT NULL", lets the planner
// read the created_at index backwards in order instead of scanning and
// sorting every snapshot.
func listQuery(f telemetryd.Filter) (string, map[string]any) {
	where, params := rangeWhere(f)
	limit := f.Limit
	if limit <= 0 {
		limit = telemetryd.DefaultLimit
	}
	params["offset"] = max(f.Offset, 0)
	params["limit"] = limit
	return `MATCH (s:TelemetrySnapshot) WHERE ` + where + `
		RETURN s ORDER BY s.created_at DESC, s.id DESC SKIP $offset LIMIT $limit`, params
}

// countQuery returns the query counting the snapshots within f's bounds.
// With no bounds it reads the count store instead of the index, which is
// constant time however many snapshots there are.
func countQuery(f telemetryd.Filter) (string, map[string]any) {
	if f.Start.IsZero() && f.End.IsZero() {
		return `MATCH (s:TelemetrySnapshot) RETURN count(s) AS n`, map[string]any{}
	}
	where, params := rangeWhere(f)
	return `MATCH (s:TelemetrySnapshot) WHERE ` + where + ` RETURN count(s) AS n`, params
}

// rangeWhere is the created_at predicate of f, both bounds inclusive.
func rangeWhere(f telemetryd.Filter) (string, map[string]any) {
	var conds []string
	params := map[string]any{}
	if !f.Start.IsZero() {
		conds = append(conds, "s.created_at >= $start")
		params["start"] = telemetryd.Microseconds(f.Start)
	}
	if !f.End.IsZero() {
		conds = append(conds, "s.created_at <= $end")
		params["end"] = telemetryd.Microseconds(f.End)
	}
	if len(conds) == 0 {
		return "s.created_at IS NOT NULL", params
	}
	return strings.Join(conds, " AND "), params
}

// ListSnapshots returns one page of the snapshots within f's bounds,
// newest first (created_at, then id, descending), and how many match in
// all. Both queries run in one read transaction, so they see the same
// data. A non-positive f.Limit means telemetryd.DefaultLimit.
func (s *Store) ListSnapshots(ctx context.Context, f telemetryd.Filter) ([]*telemetryd.Snapshot, int, error) {
	type page struct {
		snaps []*telemetryd.Snapshot
		count int
	}
	p, err := read(ctx, s, "listing snapshots", func(tx driver.ManagedTransaction) (page, error) {
		query, params := listQuery(f)
		snaps, err := collectSnapshots(ctx, tx, query, params)
		if err != nil {
			return page{}, err
		}
		query, params = countQuery(f)
		res, err := tx.Run(ctx, query, params)
		if err != nil {
			return page{}, err
		}
		rec, err := res.Single(ctx)
		if err != nil {
			return page{}, err
		}
		n, _ := rec.Values[0].(int64)
		return page{snaps, int(n)}, nil
	})
	if err != nil {
		return nil, 0, err
	}
	return p.snaps, p.count, nil
}

// EachSnapshot calls fn for every snapshot within f's bounds, newest
// first, in constant memory: records are pulled from Neo4j in small
// batches as fn consumes them. The walk is one read transaction, so it
// sees one consistent state however slow fn is. It is not retried, since
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
	defer sess.Close(ctx)
	tx, err := sess.BeginTransaction(ctx)
	if err != nil {
		return wrap(op, err)
	}
	defer tx.Close(ctx) // rolls back unless committed
	where, params := rangeWhere(f)
	res, err := tx.Run(ctx, `MATCH (s:TelemetrySnapshot) WHERE `+where+`
		RETURN s ORDER BY s.created_at DESC, s.id DESC`, params)
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
const latestQuery = `MATCH (s:TelemetrySnapshot)
	WHERE s.deployment_id = $deployment AND s.created_at >= $earliest
	RETURN s ORDER BY s.deployment_id DESC, s.created_at DESC LIMIT 1`

// earliest is before every snapshot: the open lower bound of index seeks.
var earliest = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)

// UpdateSendStatus records a remote send outcome and returns the updated
// snapshot, or ENOTFOUND. A zero at and an empty reason store nulls.
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

// UnsentSnapshots returns up to limit snapshots, oldest first, that failed
// to send or are still pending and were created before pendingBefore.
func (s *Store) UnsentSnapshots(ctx context.Context, pendingBefore time.Time, limit int) ([]*telemetryd.Snapshot, error) {
	if limit <= 0 {
		return []*telemetryd.Snapshot{}, nil
	}
	return read(ctx, s, "listing unsent snapshots", func(tx driver.ManagedTransaction) ([]*telemetryd.Snapshot, error) {
		return collectSnapshots(ctx, tx, unsentQuery, map[string]any{
			"failed": string(telemetryd.SendFailed), "pending": string(telemetryd.SendPending),
			"before": telemetryd.Microseconds(pendingBefore), "earliest": earliest, "limit": limit,
		})
	})
}

// unsentQuery is a union of two seeks on the (remote_send_status,
// created_at) index, so it reads only the unsent few. The hints keep the
// planner from preferring the created_at index when statistics are thin.
const unsentQuery = `CALL {
		MATCH (s:TelemetrySnapshot) USING INDEX s:TelemetrySnapshot(remote_send_status, created_at)
		WHERE s.remote_send_status = $failed AND s.created_at >= $earliest RETURN s
		UNION
		MATCH (s:TelemetrySnapshot) USING INDEX s:TelemetrySnapshot(remote_send_status, created_at)
		WHERE s.remote_send_status = $pending AND s.created_at < $before RETURN s
	}
	RETURN s ORDER BY s.created_at, s.id LIMIT $limit`

// DeleteSnapshotsBefore deletes snapshots created before t and returns how
// many it deleted. It deletes in batches of its own transactions, so an
// error part way leaves the older part deleted.
func (s *Store) DeleteSnapshotsBefore(ctx context.Context, t time.Time) (int, error) {
	var total int
	for {
		n, err := write(ctx, s, "deleting old snapshots", func(tx driver.ManagedTransaction) (int, error) {
			res, err := tx.Run(ctx, `MATCH (s:TelemetrySnapshot) WHERE s.created_at < $before
				WITH s LIMIT $batch DETACH DELETE s RETURN count(*) AS n`,
				map[string]any{"before": telemetryd.Microseconds(t), "batch": deleteBatch})
			if err != nil {
				return 0, err
			}
			rec, err := res.Single(ctx)
			if err != nil {
				return 0, err
			}
			n, _ := rec.Values[0].(int64)
			return int(n), nil
		})
		total += n
		if err != nil || n < deleteBatch {
			return total, err
		}
	}
}

// ImportSnapshots stores snapshots all or nothing, in one write
// transaction. Every record is checked before anything is written. A
// record is identical to a stored one when its id, checksum and sealed
// members match; it is skipped and counted as unchanged, and the stored
// remote_send_* fields are kept, since they record what this deployment
// did with it. A record whose id is stored with other content, or whose
// deployment day is taken by another id (stored or earlier in the batch),
// fails the whole import with one ECONFLICT naming every such id. Invalid
// records fail it with EINVALID naming each.
func (s *Store) ImportSnapshots(ctx context.Context, snaps []*telemetryd.Snapshot) (store.ImportResult, error) {
	var invalid []string
	for i, snap := range snaps {
		if snap == nil {
			invalid = append(invalid, fmt.Sprintf("record %d: empty", i))
		} else if err := snap.Validate(); err != nil {
			invalid = append(invalid, fmt.Sprintf("%s: %s", snap.ID, telemetryd.ErrorMessage(err)))
		}
	}
	if len(invalid) > 0 {
		return store.ImportResult{}, telemetryd.Errorf(telemetryd.EINVALID, "invalid snapshots: %s", strings.Join(invalid, "; "))
	}

	// Conflicts within the batch itself, and its distinct records.
	var conflicts []string
	byID := make(map[string]*telemetryd.Snapshot, len(snaps))
	dayOwner := make(map[string]string, len(snaps))
	var unique []*telemetryd.Snapshot
	var repeated int
	for _, snap := range snaps {
		if first, ok := byID[snap.ID]; ok {
			if sameSealed(first, snap) {
				repeated++
			} else {
				conflicts = append(conflicts, snap.ID+": appears twice in the import with different content")
			}
			continue
		}
		byID[snap.ID] = snap
		day := deploymentDay(snap)
		if owner, ok := dayOwner[day]; ok {
			conflicts = append(conflicts, fmt.Sprintf("%s: deployment %s has snapshot %s on %s in the same import", snap.ID, snap.DeploymentID, owner, telemetryd.Day(snap.CreatedAt)))
			continue
		}
		dayOwner[day] = snap.ID
		unique = append(unique, snap)
	}

	res, err := write(ctx, s, "importing snapshots", func(tx driver.ManagedTransaction) (store.ImportResult, error) {
		conflicts := conflicts // a retried transaction starts over
		ids := make([]string, len(unique))
		days := make([]string, len(unique))
		for i, snap := range unique {
			ids[i], days[i] = snap.ID, deploymentDay(snap)
		}
		stored, err := collectSnapshots(ctx, tx, `UNWIND $ids AS id MATCH (s:TelemetrySnapshot {id: id}) RETURN s`, map[string]any{"ids": ids})
		if err != nil {
			return store.ImportResult{}, err
		}
		storedByID := make(map[string]*telemetryd.Snapshot, len(stored))
		for _, snap := range stored {
			storedByID[snap.ID] = snap
		}
		taken, err := tx.Run(ctx, `UNWIND $days AS day MATCH (s:TelemetrySnapshot {deployment_day: day})
			RETURN day, s.id AS id`, map[string]any{"days": days})
		if err != nil {
			return store.ImportResult{}, err
		}
		storedDay := map[string]string{}
		for taken.Next(ctx) {
			day, _ := taken.Record().Values[0].(string)
			id, _ := taken.Record().Values[1].(string)
			storedDay[day] = id
		}
		if err := taken.Err(); err != nil {
			return store.ImportResult{}, err
		}

		result := store.ImportResult{Unchanged: repeated}
		var rows []map[string]any
		for _, snap := range unique {
			if old, ok := storedByID[snap.ID]; ok {
				if sameSealed(old, snap) {
					result.Unchanged++
				} else {
					conflicts = append(conflicts, snap.ID+": stored with other content")
				}
				continue
			}
			day := deploymentDay(snap)
			if owner, ok := storedDay[day]; ok && owner != snap.ID {
				conflicts = append(conflicts, fmt.Sprintf("%s: deployment %s already has snapshot %s on %s", snap.ID, snap.DeploymentID, owner, telemetryd.Day(snap.CreatedAt)))
				continue
			}
			rows = append(rows, snapshotProps(snap))
		}
		if len(conflicts) > 0 {
			return store.ImportResult{}, telemetryd.Errorf(telemetryd.ECONFLICT, "import conflicts with stored snapshots: %s", strings.Join(conflicts, "; "))
		}
		if len(rows) > 0 {
			if _, err := run(ctx, tx, `UNWIND $rows AS row CREATE (s:TelemetrySnapshot) SET s = row`, map[string]any{"rows": rows}); err != nil {
				return store.ImportResult{}, err
			}
		}
		result.Created = len(rows)
		return result, nil
	})
	if _, ok := constraintViolated(err); ok {
		// Another writer stored one of these between our check and our
		// write; a second import reports which.
		return store.ImportResult{}, telemetryd.Errorf(telemetryd.ECONFLICT, "import conflicts with snapshots stored concurrently; retry to see which")
	}
	return res, err
}

// sameSealed reports whether a and b are the same sealed record: same
// checksum, both checksums valid (so the canonical sealed members match)
// and the same plain members.
func sameSealed(a, b *telemetryd.Snapshot) bool {
	return a.ID == b.ID && a.Checksum == b.Checksum && a.CreatedAt.Equal(b.CreatedAt) &&
		a.Kind == b.Kind && a.PayloadFormat == b.PayloadFormat && a.DeploymentID == b.DeploymentID &&
		a.Version == b.Version && a.PreviousChecksum == b.PreviousChecksum &&
		a.ChecksumValid() && b.ChecksumValid()
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

func snapshotFrom(v any) (*telemetryd.Snapshot, error) {
	node, ok := v.(driver.Node)
	if !ok {
		return nil, fmt.Errorf("expected a snapshot node, got %T", v)
	}
	p := &props{m: node.Props}
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
	if data, ok := node.Props["data"].(string); ok {
		s.Data = json.RawMessage(data)
	}
	return s, p.err
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
