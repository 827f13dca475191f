package neo4j_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	driver "github.com/neo4j/neo4j-go-driver/v5/neo4j"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store/neo4j"
	"github.com/telemetryd/telemetryd/store/neo4j/neo4jtest"
	"github.com/telemetryd/telemetryd/store/storetest"
)

var base = time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)

// query runs a read query on the test server with its own driver and
// returns the named column of every row.
func query(t *testing.T, cypher, column string) []string {
	t.Helper()
	ctx := context.Background()
	cfg, _ := neo4jtest.Config()
	d, err := driver.NewDriverWithContext(cfg.URI, driver.BasicAuth(cfg.Username, cfg.Password, ""))
	require.NoError(t, err)
	defer d.Close(ctx)
	db := cfg.Database
	if db == "" {
		db = neo4j.DefaultDatabase
	}
	res, err := driver.ExecuteQuery(ctx, d, cypher, nil, driver.EagerResultTransformer, driver.ExecuteQueryWithDatabase(db))
	require.NoError(t, err)
	var out []string
	for _, rec := range res.Records {
		v, _ := rec.Get(column)
		out = append(out, fmt.Sprint(v))
	}
	return out
}

func TestOpenCreatesSchemaIdempotently(t *testing.T) {
	neo4jtest.Open(t)
	// A second store on the same database, as a second replica would open.
	cfg, _ := neo4jtest.Config()
	again, err := neo4j.Open(context.Background(), cfg)
	require.NoError(t, err, "opening on an existing schema must succeed")
	require.NoError(t, again.Close())
	require.NoError(t, again.Close(), "a second Close must be safe")

	constraints := query(t, `SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties
		RETURN name + ' ' + type + ' ' + labelsOrTypes[0] + '(' + reduce(s = '', p IN properties | s + p) + ')' AS c`, "c")
	for _, want := range []string{
		"telemetry_snapshot_id UNIQUENESS TelemetrySnapshot(id)",
		"telemetry_snapshot_deployment_day UNIQUENESS TelemetrySnapshot(deployment_day)",
		"account_id UNIQUENESS Account(id)",
		"account_username UNIQUENESS Account(username)",
		"role_name UNIQUENESS Role(name)",
		"token_id UNIQUENESS Token(id)",
		"token_hash UNIQUENESS Token(hash)",
		"setting_key UNIQUENESS Setting(key)",
		"activity_day UNIQUENESS ActivityDay(day)",
		"telemetryd_lock_name UNIQUENESS TelemetrydLock(name)",
	} {
		assert.Contains(t, constraints, want)
	}

	indexes := query(t, `SHOW INDEXES YIELD name, type, state, labelsOrTypes, properties
		WHERE labelsOrTypes IS NOT NULL
		RETURN name + ' ' + type + ' ' + state + ' ' + labelsOrTypes[0] + '(' + reduce(s = '', p IN properties | s + p + ',') + ')' AS i`, "i")
	for _, want := range []string{
		"telemetry_snapshot_created_at RANGE ONLINE TelemetrySnapshot(created_at,)",
		"telemetry_snapshot_deployment_created_at RANGE ONLINE TelemetrySnapshot(deployment_id,created_at,)",
		"telemetry_snapshot_deployment_send_status_created_at RANGE ONLINE TelemetrySnapshot(deployment_id,remote_send_status,created_at,)",
		"telemetry_snapshot_status_created_at RANGE ONLINE TelemetrySnapshot(remote_send_status,created_at,)",
		"token_account_kind RANGE ONLINE Token(account_id,kind,)",
	} {
		assert.Contains(t, indexes, want)
	}
	for _, index := range indexes {
		assert.False(t, strings.HasPrefix(index, "telemetry_snapshot_send_status_created_at "), "the replaced unsent index is dropped")
	}
}

func TestOneSnapshotPerDayHoldsAcrossDrivers(t *testing.T) {
	ctx := context.Background()
	first := neo4jtest.Open(t)
	cfg, _ := neo4jtest.Config()
	second, err := neo4j.Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = second.Close() })

	// Two drivers stand for two replicas racing on one deployment day;
	// only the database constraint can decide between them.
	stores := []*neo4j.Store{first, second}
	errs := make([]error, 10)
	var wg sync.WaitGroup
	for i := range errs {
		wg.Go(func() {
			s := storetest.NewSnapshot(t, "dep-a", base.Add(time.Duration(i)*time.Hour), nil, 100)
			errs[i] = stores[i%2].CreateSnapshot(ctx, s)
		})
	}
	wg.Wait()
	var created int
	for _, err := range errs {
		if err == nil {
			created++
			continue
		}
		assert.Equal(t, telemetryd.ECONFLICT, telemetryd.ErrorCode(err), "error: %v", err)
	}
	assert.Equal(t, 1, created)
	_, count, err := storetest.List(ctx, second, telemetryd.Filter{})
	require.NoError(t, err)
	assert.Equal(t, 1, count)
}

func TestUnreachableNeo4jIsUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	_, err := neo4j.Open(ctx, neo4j.Config{URI: "bolt://127.0.0.1:1"})
	require.Error(t, err)
	assert.Equal(t, telemetryd.EUNAVAILABLE, telemetryd.ErrorCode(err), "error: %v", err)
	assert.True(t, strings.HasPrefix(telemetryd.ErrorMessage(err), "neo4j unavailable"), telemetryd.ErrorMessage(err))
	assert.Less(t, time.Since(start), 5*time.Second)
}

func TestBadURIIsInvalid(t *testing.T) {
	_, err := neo4j.Open(context.Background(), neo4j.Config{URI: "http://127.0.0.1:7474"})
	assert.Equal(t, telemetryd.EINVALID, telemetryd.ErrorCode(err), "error: %v", err)
}

func TestStoreHealsWhenNeo4jReturns(t *testing.T) {
	ctx := context.Background()
	neo4jtest.Open(t) // for the lock, the skip and an empty database
	p, cfg := neo4jtest.StartProxy(t)
	s, err := neo4j.Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	snap := storetest.NewSnapshot(t, "dep-a", base, nil, 10)
	require.NoError(t, s.CreateSnapshot(ctx, snap))

	p.Stop()
	require.Equal(t, telemetryd.EUNAVAILABLE, telemetryd.ErrorCode(s.Ping(ctx)))
	short, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, err = s.Snapshot(short, snap.ID)
	assert.Equal(t, telemetryd.EUNAVAILABLE, telemetryd.ErrorCode(err), "error: %v", err)
	// Without a deadline the driver's retries give up within seconds.
	start := time.Now()
	_, _, err = storetest.List(ctx, s, telemetryd.Filter{})
	assert.Equal(t, telemetryd.EUNAVAILABLE, telemetryd.ErrorCode(err), "error: %v", err)
	assert.Less(t, time.Since(start), 10*time.Second)

	p.Start(t) // same address
	// The pool may still hold a connection that died with the proxy; the
	// first call discards it, so poll briefly rather than expect the
	// very first call to succeed.
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	err = s.Ping(ctx)
	for waiting := true; err != nil && waiting; {
		select {
		case <-tick.C:
			err = s.Ping(ctx)
		case <-deadline:
			waiting = false
		}
	}
	require.NoError(t, err, "the store did not heal")
	got, err := s.Snapshot(ctx, snap.ID)
	require.NoError(t, err)
	assert.Equal(t, snap.ID, got.ID)
}

func TestDamagedDataStaysValidJSON(t *testing.T) {
	ctx := context.Background()
	s := neo4jtest.Open(t)
	snap := storetest.NewSnapshot(t, "dep-a", base, nil, 10)
	require.NoError(t, s.CreateSnapshot(ctx, snap))
	// Cut short, as a hand edit or a damaged copy might leave it.
	query(t, `MATCH (s:TelemetrySnapshot {id: '`+snap.ID+`'}) SET s.data = '{"instance": {"os"' RETURN 1 AS ok`, "ok")

	got, err := s.Snapshot(ctx, snap.ID)
	require.NoError(t, err)
	record, err := json.Marshal(got)
	require.NoError(t, err)
	assert.True(t, json.Valid(record), "record is not JSON: %s", record)
	assert.JSONEq(t, `"{\"instance\": {\"os\""`, string(got.Data), "kept as a string")
	assert.False(t, got.ChecksumValid())

	page, _, err := storetest.List(ctx, s, telemetryd.Filter{})
	require.NoError(t, err)
	require.Len(t, page, 1)
	v := telemetryd.NewVerifier()
	v.Add(page[0])
	require.Len(t, v.Problems(), 1)
	assert.Equal(t, snap.ID, v.Problems()[0].ID, "verify names the damaged record")
}

func TestDataWrittenBeforeItsCRCReadsAsIs(t *testing.T) {
	ctx := context.Background()
	s := neo4jtest.Open(t)
	snap := storetest.NewSnapshot(t, "dep-a", base, nil, 10)
	require.NoError(t, s.CreateSnapshot(ctx, snap))
	// As a release before data_crc wrote it.
	query(t, `MATCH (s:TelemetrySnapshot {id: '`+snap.ID+`'}) REMOVE s.data_crc RETURN 1 AS ok`, "ok")

	got, err := s.Snapshot(ctx, snap.ID)
	require.NoError(t, err)
	assert.Equal(t, string(snap.Data), string(got.Data))
	assert.True(t, got.ChecksumValid())
}

// seed stores n snapshots, one a day each for n/1000 deployments.
func seed(tb testing.TB, s *neo4j.Store, n, size int) {
	tb.Helper()
	ctx := context.Background()
	const days = 1000
	batch := make([]*telemetryd.Snapshot, 0, 5000)
	for i := range n {
		at := base.AddDate(0, 0, i%days).Add(time.Duration(i/days) * time.Second)
		snap := storetest.NewSnapshot(tb, fmt.Sprintf("dep-%05d", i/days), at, nil, size)
		// Like a deployment that sends: almost every snapshot sent.
		snap.RemoteSendStatus, snap.RemoteSendAt = telemetryd.SendSent, at
		if i%100 == 0 {
			snap.RemoteSendStatus = telemetryd.SendFailed
		}
		batch = append(batch, snap)
		if len(batch) == cap(batch) || i == n-1 {
			require.NoError(tb, neo4j.SeedSnapshots(ctx, s, batch))
			batch = batch[:0]
		}
	}
}

func TestQueriesReadTheirIndexes(t *testing.T) {
	ctx := context.Background()
	s := neo4jtest.Open(t)
	// Enough data that a label scan and sort would cost more than the index.
	seed(t, s, 5000, 10)
	mid := telemetryd.Filter{Start: base.AddDate(0, 0, 100), End: base.AddDate(0, 0, 200), Limit: 50}

	fixed := func(query string, params map[string]any) func() (string, map[string]any) {
		return func() (string, map[string]any) { return query, params }
	}
	filter := func(build func(telemetryd.Filter) (string, map[string]any), f telemetryd.Filter) func() (string, map[string]any) {
		return func() (string, map[string]any) { return build(f) }
	}
	open := telemetryd.Filter{Limit: 50}
	byDeployment := telemetryd.Filter{DeploymentID: "dep-00001", Start: base.AddDate(0, 0, 100), Limit: 50}
	byStatus := telemetryd.Filter{Statuses: []telemetryd.SendStatus{telemetryd.SendFailed, telemetryd.SendSkipped}, Limit: 50}
	cases := []struct {
		name   string
		query  func() (string, map[string]any)
		want   string   // an operator or index the plan must contain
		absent []string // operators it must not contain
	}{
		{"open listing reads the created_at index in order", filter(neo4j.PageStatement, open),
			"TelemetrySnapshot(created_at)", []string{"NodeByLabelScan", "Sort"}},
		{"bounded listing seeks the created_at range in order", filter(neo4j.PageStatement, mid),
			"TelemetrySnapshot(created_at)", []string{"NodeByLabelScan", "Sort"}},
		{"open count reads the count store", filter(neo4j.CountStatement, open),
			"NodeCountFromCountStore", []string{"NodeByLabelScan"}},
		{"bounded count seeks the created_at range", filter(neo4j.CountStatement, mid),
			"TelemetrySnapshot(created_at)", []string{"NodeByLabelScan"}},
		{"a deployment's listing reads the deployment index in order", filter(neo4j.PageStatement, byDeployment),
			"TelemetrySnapshot(deployment_id, created_at)", []string{"NodeByLabelScan", "Sort"}},
		{"a deployment's count seeks the deployment index", filter(neo4j.CountStatement, byDeployment),
			"TelemetrySnapshot(deployment_id, created_at)", []string{"NodeByLabelScan"}},
		{"a listing by status reads an index, not every node", filter(neo4j.PageStatement, byStatus),
			"TelemetrySnapshot(", []string{"NodeByLabelScan"}},
		{"a count by status reads the status index", filter(neo4j.CountStatement, byStatus),
			"TelemetrySnapshot(remote_send_status, created_at)", []string{"NodeByLabelScan"}},
		{"counts by status seek the status index", fixed(neo4j.StatusCountQuery, map[string]any{"status": "failed"}),
			"TelemetrySnapshot(remote_send_status, created_at)", []string{"NodeByLabelScan"}},
		// These two carry index hints, so they read their index or fail to
		// plan. Whether the planner seeks or scans it depends on index
		// statistics, which Neo4j samples in the background after the seed:
		// with fresh ones it seeks, with stale ones it may scan, so the
		// test asks for the index, not the operator.
		{"latest reads the deployment index", fixed(neo4j.LatestQuery, map[string]any{"deployment": "dep-00001", "earliest": time.Time{}}),
			"RANGE INDEX s:TelemetrySnapshot(deployment_id, created_at)", []string{"NodeByLabelScan", "Sort", "Top"}},
		{"unsent reads the deployment's send status index", fixed(neo4j.UnsentQuery, map[string]any{"deployment": "dep-00001", "failed": "failed", "pending": "pending", "before": base, "earliest": time.Time{}, "limit": 10}),
			"RANGE INDEX s:TelemetrySnapshot(deployment_id, remote_send_status, created_at)", []string{"NodeByLabelScan"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			query, params := tc.query()
			steps, err := neo4j.Explain(ctx, s, query, params)
			require.NoError(t, err)
			plan := fmt.Sprint(steps)
			t.Logf("plan: %s", plan)
			assert.Contains(t, plan, tc.want)
			var operators []string
			for _, step := range steps {
				op, _, _ := strings.Cut(step.Operator, "@")
				operators = append(operators, op)
			}
			for _, op := range tc.absent {
				assert.NotContains(t, operators, op)
			}
		})
	}
}

// A listing reads its page and count in one statement (see
// consistentStatement in consistent.go), which is consistent only if it
// reads the snapshots lock before and after everything else: the plan
// must join its parts with Apply, whose left side runs first, and read the
// lock first and last.
func TestListingReadsTheLockBeforeAndAfter(t *testing.T) {
	ctx := context.Background()
	s := neo4jtest.Open(t)
	seed(t, s, 2000, 10)
	for _, tc := range []struct {
		name   string
		filter telemetryd.Filter
	}{
		{"open", telemetryd.Filter{Limit: 50}},
		{"dates", telemetryd.Filter{Start: base.AddDate(0, 0, 100), End: base.AddDate(0, 0, 200), Limit: 50, Offset: 50}},
		{"deployment", telemetryd.Filter{DeploymentID: "dep-00001", Limit: 50}},
		{"statuses", telemetryd.Filter{Statuses: []telemetryd.SendStatus{telemetryd.SendFailed}, Limit: 50}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			query, params := neo4j.ListStatement(tc.filter)
			steps, err := neo4j.Explain(ctx, s, query, params)
			require.NoError(t, err)
			t.Logf("plan: %s", steps)
			var reads []string
			for _, step := range steps {
				op, _, _ := strings.Cut(step.Operator, "@")
				if step.Children > 1 {
					assert.Equal(t, "Apply", op, "a join that may run its right side first: %s", step)
				}
				if strings.HasPrefix(op, "Node") && step.Children == 0 {
					reads = append(reads, step.Details)
				}
			}
			require.GreaterOrEqual(t, len(reads), 4, "the lock twice, the page and the count: %q", reads)
			assert.Contains(t, reads[0], "TelemetrydLock", "the lock is read first")
			assert.Contains(t, reads[len(reads)-1], "TelemetrydLock", "the lock is read last")
			for _, r := range reads[1 : len(reads)-1] {
				assert.Contains(t, r, "TelemetrySnapshot", "page and count read only snapshots, between the lock's readings")
			}
		})
	}
}

// Usernames became unique regardless of case; a database holding accounts
// that differ only in case is refused, naming them, rather than guessed at.
func TestOpenRefusesUsernamesThatDifferOnlyInCase(t *testing.T) {
	neo4jtest.Open(t)
	// Other tests open the store before they empty it.
	t.Cleanup(func() { query(t, `MATCH (a:Account) DETACH DELETE a RETURN count(*) AS n`, "n") })
	// As a release before the rule wrote them.
	query(t, `UNWIND ['Admin', 'admin', 'ADMIN', 'bob'] AS name
		CREATE (a:Account {id: name + '-id', username: name, password_hash: 'hash', disabled: false, roles: []})
		RETURN count(*) AS n`, "n")
	cfg, _ := neo4jtest.Config()
	_, err := neo4j.Open(context.Background(), cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"ADMIN", "Admin" and "admin"`)
	assert.NotContains(t, err.Error(), "bob")
}
