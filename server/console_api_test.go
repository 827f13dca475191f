package server_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/exportfile"
	"github.com/telemetryd/telemetryd/store/storetest"
)

// seedFleet stores two deployments' chains of n days from start, with send
// statuses cycling through the contract's, and returns them oldest first.
func (e *env) seedFleet(n int, start time.Time) []*telemetryd.Snapshot {
	e.t.Helper()
	var all []*telemetryd.Snapshot
	for d, dep := range []string{"dep-one", "dep-two"} {
		chain := storetest.Chain(e.t, dep, start.Add(time.Duration(d)*time.Hour), n, 200)
		for i, s := range chain {
			s.RemoteSendStatus = telemetryd.SendStatuses[(i+d)%len(telemetryd.SendStatuses)]
		}
		all = append(all, chain...)
	}
	_, err := e.store.ImportSnapshots(context.Background(), all)
	require.NoError(e.t, err)
	return all
}

// newestFirstIDs returns the ids of the snapshots f matches, in listing
// order.
func newestFirstIDs(snaps []*telemetryd.Snapshot, f telemetryd.Filter) []string {
	var out []*telemetryd.Snapshot
	for _, s := range snaps {
		if f.Matches(s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b *telemetryd.Snapshot) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	return snapshotIDs(out)
}

func snapshotIDs(snaps []*telemetryd.Snapshot) []string {
	out := make([]string, len(snaps))
	for i, s := range snaps {
		out[i] = s.ID
	}
	return out
}

func TestFiltersByDeploymentAndStatusAgreeAcrossRoutes(t *testing.T) {
	onEachBackend(t, func(t *testing.T, e *env) {
		all := e.seedFleet(12, time.Date(2026, 5, 1, 3, 0, 0, 0, time.UTC))
		sent, failed := telemetryd.SendSent, telemetryd.SendFailed
		cases := []struct {
			name  string
			rest  string
			vars  map[string]any
			match telemetryd.Filter
		}{
			{"one deployment", "deployment_id=dep-two",
				map[string]any{"deploymentId": "dep-two"},
				telemetryd.Filter{DeploymentID: "dep-two"}},
			{"any of two statuses", "status=sent,failed",
				map[string]any{"remoteSendStatus": []string{"SENT", "FAILED"}},
				telemetryd.Filter{Statuses: []telemetryd.SendStatus{sent, failed}}},
			{"deployment, status and a bare end date", "deployment_id=dep-one&status=failed&end_date=2026-05-09",
				map[string]any{"deploymentId": "dep-one", "remoteSendStatus": []string{"FAILED"}, "endDate": "2026-05-09"},
				telemetryd.Filter{DeploymentID: "dep-one", Statuses: []telemetryd.SendStatus{failed}, End: time.Date(2026, 5, 9, 23, 59, 59, 999999000, time.UTC)}},
			{"a deployment nobody has", "deployment_id=dep-none",
				map[string]any{"deploymentId": "dep-none"},
				telemetryd.Filter{DeploymentID: "dep-none"}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				want := newestFirstIDs(all, tc.match)

				var rest listing
				res := e.get("/api/telemetry/snapshots?"+tc.rest, e.admin)
				require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
				res.json(t, &rest)
				assert.Equal(t, len(want), rest.Count)
				assert.Equal(t, want, snapshotIDs(rest.Snapshots))

				var data struct {
					TelemetrySnapshots struct {
						Count int
						Nodes []struct{ ID string }
					} `json:"telemetrySnapshots"`
				}
				e.mustGraphQL(e.admin, `query($deploymentId: String, $remoteSendStatus: [RemoteSendStatus!], $endDate: DateTime) {
					telemetrySnapshots(deploymentId: $deploymentId, remoteSendStatus: $remoteSendStatus, endDate: $endDate) { count nodes { id } } }`,
					tc.vars, &data)
				assert.Equal(t, len(want), data.TelemetrySnapshots.Count)
				gql := make([]string, 0, len(data.TelemetrySnapshots.Nodes))
				for _, n := range data.TelemetrySnapshots.Nodes {
					gql = append(gql, n.ID)
				}
				assert.Equal(t, want, gql)

				res = e.get("/api/telemetry/export?"+tc.rest, e.admin)
				require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
				exported, err := exportfile.Read(strings.NewReader(string(res.body)))
				require.NoError(t, err)
				assert.Equal(t, want, snapshotIDs(exported))
			})
		}
	})
}

func TestExportIsTheExportFileOfTheFilter(t *testing.T) {
	onEachBackend(t, func(t *testing.T, e *env) {
		all := e.seedFleet(30, time.Date(2026, 6, 1, 3, 0, 0, 0, time.UTC))
		reader := e.account("reader", "telemetry-reader")

		res := e.get("/api/telemetry/export?start_date=2026-06-05&end_date=2026-06-20", reader)
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		assert.Equal(t, "application/json", res.header.Get("Content-Type"))
		assert.Equal(t, "attachment; filename=telemetry-snapshots-from-2026-06-05-to-2026-06-20.json", res.header.Get("Content-Disposition"))
		v, err := exportfile.Verify(strings.NewReader(string(res.body)))
		require.NoError(t, err)
		assert.Empty(t, v.Problems())
		assert.Equal(t, 32, v.Count(), "16 days of two deployments")

		// The offline export of the same filter, byte for byte.
		f := telemetryd.Filter{Start: time.Date(2026, 6, 5, 0, 0, 0, 0, time.UTC), End: time.Date(2026, 6, 20, 23, 59, 59, 999999000, time.UTC)}
		var offline strings.Builder
		enc := exportfile.NewEncoder(&offline)
		require.NoError(t, e.store.EachSnapshot(context.Background(), f, enc.Add))
		require.NoError(t, enc.Close())
		assert.Equal(t, offline.String(), string(res.body))

		whole := e.get("/api/telemetry/export", reader)
		require.Equal(t, http.StatusOK, whole.status)
		assert.Equal(t, "attachment; filename=telemetry-snapshots.json", whole.header.Get("Content-Disposition"))
		got, err := exportfile.Read(strings.NewReader(string(whole.body)))
		require.NoError(t, err)
		assert.Equal(t, newestFirstIDs(all, telemetryd.Filter{}), snapshotIDs(got), "no limit: every snapshot")

		empty := e.get("/api/telemetry/export?deployment_id=nobody", reader)
		require.Equal(t, http.StatusOK, empty.status)
		assert.Equal(t, "[\n]\n", string(empty.body))

		assert.Contains(t, e.logs.String(), `"action":"telemetry.export"`, "an export is audited")
	})
}

func TestExportRefusesWhatTheListingRefuses(t *testing.T) {
	e := start(t)
	nobody := e.account("nobody")
	cases := []struct {
		name, query, token string
		status             int
		names              string
	}{
		{"no token", "", "", http.StatusUnauthorized, ""},
		{"no permission", "", nobody, http.StatusForbidden, "READ_TELEMETRY"},
		{"a limit", "limit=10", e.admin, http.StatusUnprocessableEntity, "limit"},
		{"an offset", "offset=10", e.admin, http.StatusUnprocessableEntity, "offset"},
		{"an unknown status", "status=sent,lost", e.admin, http.StatusUnprocessableEntity, "status"},
		{"a bad date", "end_date=2026-02-30", e.admin, http.StatusUnprocessableEntity, "end_date"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.get("/api/telemetry/export?"+tc.query, tc.token)
			require.Equal(t, tc.status, res.status, "body: %s", res.body)
			assert.Contains(t, res.errorMessage(t), tc.names)
			assert.Empty(t, res.header.Get("Content-Disposition"), "an error is no download")
		})
	}
}

func TestTelemetryStatusShowsTheLatestAndTheCounts(t *testing.T) {
	onEachBackend(t, func(t *testing.T, e *env) {
		const query = `{ telemetryStatus { remoteEnabled doNotTrack endpoint schedule nextRunAt deploymentId storeBackend
			latest { id remoteSendStatus } countsByStatus { status count } retention } }`
		type status struct {
			TelemetryStatus struct {
				RemoteEnabled  bool
				Endpoint       string
				Schedule       string
				NextRunAt      string
				DeploymentID   string `json:"deploymentId"`
				StoreBackend   string
				Latest         *struct{ ID, RemoteSendStatus string }
				CountsByStatus []struct {
					Status string
					Count  int
				}
				Retention int
			} `json:"telemetryStatus"`
		}
		counts := func(s status) map[string]int {
			out := map[string]int{}
			for _, c := range s.TelemetryStatus.CountsByStatus {
				out[c.Status] = c.Count
			}
			return out
		}

		// Other deployments' snapshots are counted but are not this one's latest.
		e.seedFleet(4, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		reader := e.account("reader", "telemetry-reader")
		var before status
		e.mustGraphQL(reader, query, nil, &before)
		assert.Nil(t, before.TelemetryStatus.Latest, "no snapshot of this deployment yet")
		assert.Equal(t, map[string]int{"PENDING": 2, "SENT": 2, "SKIPPED": 2, "FAILED": 2}, counts(before))
		assert.Equal(t, e.deploymentID, before.TelemetryStatus.DeploymentID)
		assert.Equal(t, e.store.Backend(), before.TelemetryStatus.StoreBackend)
		assert.Equal(t, "02:00", before.TelemetryStatus.Schedule)
		assert.Equal(t, 0, before.TelemetryStatus.Retention, "kept forever")
		_, err := time.Parse(time.RFC3339, before.TelemetryStatus.NextRunAt)
		assert.NoError(t, err)

		var run struct {
			RunTelemetryWorkflow struct{ ID string } `json:"runTelemetryWorkflow"`
		}
		e.mustGraphQL(e.admin, `mutation { runTelemetryWorkflow { id } }`, nil, &run)
		var after status
		e.mustGraphQL(reader, query, nil, &after)
		require.NotNil(t, after.TelemetryStatus.Latest)
		assert.Equal(t, run.RunTelemetryWorkflow.ID, after.TelemetryStatus.Latest.ID)
		assert.Equal(t, "SKIPPED", after.TelemetryStatus.Latest.RemoteSendStatus, "remote sending is off")
		assert.Equal(t, 3, counts(after)["SKIPPED"])

		nobody := e.account("nobody")
		out, _ := e.graphql(nobody, query, nil)
		assert.Equal(t, telemetryd.EFORBIDDEN, out.code())
	})
}

func TestTelemetryIntegrityFindsBreaksWithinTheFilter(t *testing.T) {
	onEachBackend(t, func(t *testing.T, e *env) {
		start := time.Date(2026, 3, 1, 4, 0, 0, 0, time.UTC)
		intact := storetest.Chain(t, "dep-intact", start, 10, 100)
		broken := storetest.Chain(t, "dep-broken", start, 10, 100)
		// The 6th day of dep-broken is gone: the 7th's link breaks.
		_, err := e.store.ImportSnapshots(context.Background(), append(intact, append(broken[:5:5], broken[6:]...)...))
		require.NoError(t, err)

		const query = `query($startDate: DateTime, $endDate: DateTime, $deploymentId: String) {
			telemetryIntegrity(startDate: $startDate, endDate: $endDate, deploymentId: $deploymentId) { checked problems { id kind message } } }`
		type report struct {
			TelemetryIntegrity struct {
				Checked  int
				Problems []struct{ ID, Kind, Message string }
			} `json:"telemetryIntegrity"`
		}

		var all report
		e.mustGraphQL(e.admin, query, nil, &all)
		assert.Equal(t, 19, all.TelemetryIntegrity.Checked)
		require.Len(t, all.TelemetryIntegrity.Problems, 1)
		p := all.TelemetryIntegrity.Problems[0]
		assert.Equal(t, broken[6].ID, p.ID)
		assert.Equal(t, "CHAIN_BREAK", p.Kind)
		assert.Contains(t, p.Message, "chain break")

		var intactOnly report
		e.mustGraphQL(e.admin, query, map[string]any{"deploymentId": "dep-intact"}, &intactOnly)
		assert.Equal(t, 10, intactOnly.TelemetryIntegrity.Checked)
		assert.Empty(t, intactOnly.TelemetryIntegrity.Problems)

		var afterTheGap report
		e.mustGraphQL(e.admin, query, map[string]any{"startDate": "2026-03-07", "deploymentId": "dep-broken"}, &afterTheGap)
		assert.Equal(t, 4, afterTheGap.TelemetryIntegrity.Checked)
		assert.Empty(t, afterTheGap.TelemetryIntegrity.Problems, "the oldest snapshot in the filter anchors the chain")

		out, _ := e.graphql(e.admin, query, map[string]any{"startDate": "2026-03-07", "endDate": "2026-03-01"})
		assert.Equal(t, telemetryd.EINVALID, out.code())
		require.NotEmpty(t, out.Errors)
		assert.Contains(t, out.Errors[0].Message, "startDate must not be after endDate")
	})
}

// TestExportHoldsOneBatchNotTheWholeSet downloads an export of about
// 26 MiB from the server in this process, sampling the live Go heap as
// the body arrives: the server holds a batch of records and its buffers
// (a few MiB), never the file.
func TestExportHoldsOneBatchNotTheWholeSet(t *testing.T) {
	onEachBackend(t, func(t *testing.T, e *env) {
		const n, size = 6000, 4096
		snaps := make([]*telemetryd.Snapshot, 0, n)
		for i := range n {
			snaps = append(snaps, storetest.NewSnapshot(t, fmt.Sprintf("dep-%04d", i), time.Date(2025, 1, 1, 0, 0, i, 0, time.UTC), nil, size))
		}
		for chunk := range slices.Chunk(snaps, 500) {
			_, err := e.store.ImportSnapshots(context.Background(), chunk)
			require.NoError(t, err)
		}
		snaps = nil

		req, err := http.NewRequest(http.MethodGet, e.url+"/api/telemetry/export", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+e.admin)
		var stats runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&stats)
		baseline, peak := stats.HeapAlloc, stats.HeapAlloc
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		buf := make([]byte, 64<<10)
		var total int64
		for chunk := 0; ; chunk++ {
			k, err := res.Body.Read(buf)
			total += int64(k)
			if chunk%16 == 0 {
				// What the process holds live, not garbage awaiting the
				// collector.
				runtime.GC()
				runtime.ReadMemStats(&stats)
				peak = max(peak, stats.HeapAlloc)
			}
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
		}
		growth := int64(peak) - int64(baseline)
		t.Logf("exporting %d records (%d KiB) grew the heap by at most %d KiB", n, total/1024, growth/1024)
		assert.Greater(t, total, int64(n*size))
		// Measured: 3-7 MiB, flat from the first MiB to the last.
		assert.Less(t, growth, int64(12<<20), "the export held on to records")
	})
}

// TestExportCutShortIsABrokenTransfer loses the store part way through an
// export too large for the connection's buffers: the client must see the
// transfer fail, never a short file that ends like a whole one.
func TestExportCutShortIsABrokenTransfer(t *testing.T) {
	e := start(t)
	const n, size = 6000, 4096 // about 25 MiB, more than loopback buffers hold
	snaps := make([]*telemetryd.Snapshot, 0, n)
	for i := range n {
		snaps = append(snaps, storetest.NewSnapshot(t, fmt.Sprintf("dep-%05d", i), time.Date(2024, 1, 1, 0, 0, i, 0, time.UTC), nil, size))
	}
	for chunk := range slices.Chunk(snaps, 2000) {
		_, err := e.store.ImportSnapshots(context.Background(), chunk)
		require.NoError(t, err)
	}

	req, err := http.NewRequest(http.MethodGet, e.url+"/api/telemetry/export", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+e.admin)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, http.StatusOK, res.StatusCode)
	_, err = io.ReadFull(res.Body, make([]byte, 64<<10))
	require.NoError(t, err)

	require.NoError(t, e.store.Close())
	body, err := io.ReadAll(res.Body)
	assert.Error(t, err, "the transfer ended as if complete after %d more bytes", len(body))
	assert.Contains(t, e.logs.String(), "export cut short")
}
