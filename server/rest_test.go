package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
)

// listing is the REST response body.
type listing struct {
	Count     int                    `json:"count"`
	Snapshots []*telemetryd.Snapshot `json:"snapshots"`
}

const snapshotFields = `id createdAt kind payloadFormat deploymentId version data checksum previousChecksum checksumValid remoteSendStatus remoteSendAt remoteSendError`

// restAsGraphQL renders a REST record in the GraphQL field names.
func restAsGraphQL(s *telemetryd.Snapshot) map[string]any {
	var prev, sendAt, sendErr any
	if s.PreviousChecksum != "" {
		prev = s.PreviousChecksum
	}
	if !s.RemoteSendAt.IsZero() {
		sendAt = s.RemoteSendAt.Format(telemetryd.TimeLayout)
	}
	if s.RemoteSendError != "" {
		sendErr = s.RemoteSendError
	}
	var data any
	_ = json.Unmarshal(s.Data, &data)
	return map[string]any{
		"id": s.ID, "createdAt": s.CreatedAt.Format(telemetryd.TimeLayout), "kind": s.Kind,
		"payloadFormat": s.PayloadFormat, "deploymentId": s.DeploymentID, "version": s.Version,
		"data": data, "checksum": s.Checksum, "previousChecksum": prev, "checksumValid": s.ChecksumValid(),
		"remoteSendStatus": strings.ToUpper(string(s.RemoteSendStatus)), "remoteSendAt": sendAt, "remoteSendError": sendErr,
	}
}

func TestRESTAndGraphQLAgreeForEveryFilter(t *testing.T) {
	e := start(t)
	base := time.Date(2026, 2, 1, 6, 0, 0, 0, time.UTC)
	snaps := e.seed(40, base)
	_, err := e.store.UpdateSendStatus(t.Context(), snaps[3].ID, telemetryd.SendFailed, base.AddDate(0, 0, 4), "receiver answered 500")
	require.NoError(t, err)

	filters := []map[string]string{
		{},
		{"start_date": "2026-02-10"},
		{"end_date": "2026-02-16"}, // a bare end date includes the 16th
		{"start_date": "2026-02-05", "end_date": "2026-02-05"},
		{"start_date": "2026-02-05T07:00:00+01:00", "end_date": "2026-02-20T06:00:00Z"},
		{"limit": "7", "offset": "3"},
		{"start_date": "2026-02-03", "limit": "5", "offset": "30"},
	}
	for _, f := range filters {
		t.Run(query(f), func(t *testing.T) {
			res := e.get("/api/telemetry/snapshots?"+query(f), e.admin)
			require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
			var rest listing
			res.json(t, &rest)

			vars := map[string]any{}
			for rk, gk := range map[string]string{"start_date": "startDate", "end_date": "endDate"} {
				if v, ok := f[rk]; ok {
					vars[gk] = v
				}
			}
			for _, k := range []string{"limit", "offset"} {
				if v, ok := f[k]; ok {
					var n int
					require.NoError(t, json.Unmarshal([]byte(v), &n))
					vars[k] = n
				}
			}
			var data struct {
				TelemetrySnapshots struct {
					Count int              `json:"count"`
					Nodes []map[string]any `json:"nodes"`
				} `json:"telemetrySnapshots"`
			}
			e.mustGraphQL(e.admin, `query($startDate: DateTime, $endDate: DateTime, $limit: Int, $offset: Int) {
				telemetrySnapshots(startDate: $startDate, endDate: $endDate, limit: $limit, offset: $offset) { count nodes { `+snapshotFields+` } } }`,
				vars, &data)

			assert.Equal(t, rest.Count, data.TelemetrySnapshots.Count)
			want := make([]map[string]any, len(rest.Snapshots))
			for i, s := range rest.Snapshots {
				want[i] = restAsGraphQL(s)
			}
			assert.Equal(t, want, data.TelemetrySnapshots.Nodes)
		})
	}

	t.Run("a bare end date includes its whole day", func(t *testing.T) {
		var rest listing
		e.get("/api/telemetry/snapshots?end_date=2026-02-16", e.admin).json(t, &rest)
		assert.Equal(t, 16, rest.Count)
		assert.Equal(t, snaps[15].ID, rest.Snapshots[0].ID)
	})
}

func TestRESTListingIsNewestFirstWithChecksums(t *testing.T) {
	e := start(t)
	snaps := e.seed(5, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	var rest listing
	e.get("/api/telemetry/snapshots", e.admin).json(t, &rest)
	require.Equal(t, 5, rest.Count)
	for i, s := range rest.Snapshots {
		assert.Equal(t, snaps[4-i].ID, s.ID)
		assert.True(t, s.ChecksumValid())
	}
	assert.Empty(t, rest.Snapshots[4].PreviousChecksum)
	assert.Equal(t, rest.Snapshots[1].Checksum, rest.Snapshots[0].PreviousChecksum)
}

func TestRESTRejectsBadParametersByName(t *testing.T) {
	e := start(t)
	cases := []struct {
		query, names string
	}{
		{"start_date=yesterday", "start_date"},
		{"end_date=2026-02-30", "end_date"},
		{"start_date=2026-03-02&end_date=2026-03-01", "start_date"},
		{"limit=0", "limit"},
		{"limit=10001", "limit"},
		{"limit=ten", "limit"},
		{"offset=-1", "offset"},
		{"offset=1.5", "offset"},
		{"limit=1&limit=2", "limit is given 2 times"},
		{"limit=%2B5", "limit"},
		{"limit=05", "limit"},
		{"limit=%205", "limit"},
		{"offset=00", "offset"},
		{"start_date=2026-01-01&start_date=2026-02-01", "start_date is given 2 times"},
		{"status=sent&status=failed", "status is given 2 times"},
		{"status=SENT", "status"},
		{"status=sent,", "status"},
		{"start_date=" + strings.Repeat("9", 5000), "start_date"},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			res := e.get("/api/telemetry/snapshots?"+tc.query, e.admin)
			require.Equal(t, http.StatusUnprocessableEntity, res.status, "body: %s", res.body)
			msg := res.errorMessage(t)
			assert.Contains(t, msg, tc.names)
			assert.Less(t, len(msg), 300, "a bad value is not echoed in full")
		})
	}
}

func TestRFC3339LowerCaseTAndZAreDates(t *testing.T) {
	e := start(t)
	snaps := e.seed(5, time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC))
	var rest listing
	res := e.get("/api/telemetry/snapshots?start_date=2026-03-02t06:00:00z&end_date=2026-03-03t06:00:00.000000z", e.admin)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	res.json(t, &rest)
	assert.Equal(t, []string{snaps[2].ID, snaps[1].ID}, snapshotIDs(rest.Snapshots))

	var data struct {
		TelemetrySnapshots struct{ Count int } `json:"telemetrySnapshots"`
	}
	e.mustGraphQL(e.admin, `{ telemetrySnapshots(startDate: "2026-03-02t06:00:00z", endDate: "2026-03-03t06:00:00+00:00") { count } }`, nil, &data)
	assert.Equal(t, 2, data.TelemetrySnapshots.Count)
}

func TestGraphQLIntIsANumberNotAString(t *testing.T) {
	e := start(t)
	e.seed(3, time.Date(2026, 3, 1, 6, 0, 0, 0, time.UTC))
	const query = `query($l: Int) { telemetrySnapshots(limit: $l) { count nodes { id } } }`
	for _, l := range []any{"5", "five", 2.5} {
		out, res := e.graphql(e.admin, query, map[string]any{"l": l})
		assert.Equal(t, telemetryd.EINVALID, out.code(), "%v: %s", l, res.body)
		assert.JSONEq(t, "null", string(out.Data), "%v: %s", l, res.body)
	}
	var data struct {
		TelemetrySnapshots struct{ Nodes []struct{ ID string } } `json:"telemetrySnapshots"`
	}
	e.mustGraphQL(e.admin, query, map[string]any{"l": 2}, &data)
	assert.Len(t, data.TelemetrySnapshots.Nodes, 2, "a number is an Int")
}

func TestRESTAccessRules(t *testing.T) {
	e := start(t)
	snaps := e.seed(2, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	reader := e.account("reader", "telemetry-reader")
	nobody := e.account("nobody")

	cases := []struct {
		name   string
		token  string
		status int
	}{
		{"no token is unauthenticated", "", http.StatusUnauthorized},
		{"a garbage token is unauthenticated", "not-a-token", http.StatusUnauthorized},
		{"an unknown API token is unauthenticated", "tdk_0123456789abcdef", http.StatusUnauthorized},
		{"an account without READ_TELEMETRY is forbidden", nobody, http.StatusForbidden},
		{"a telemetry reader may read", reader, http.StatusOK},
		{"a super admin may read", e.admin, http.StatusOK},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/api/telemetry/snapshots", "/api/telemetry/snapshots/" + snaps[0].ID, "/api/telemetry/preview"} {
				res := e.get(path, tc.token)
				require.Equal(t, tc.status, res.status, "%s: %s", path, res.body)
				if tc.status == http.StatusUnauthorized {
					assert.Contains(t, res.header.Get("WWW-Authenticate"), "Bearer")
				}
				if tc.status == http.StatusForbidden {
					assert.Contains(t, res.errorMessage(t), "READ_TELEMETRY")
				}
			}
		})
	}
}

func TestRESTSnapshotByID(t *testing.T) {
	e := start(t)
	snaps := e.seed(2, time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	var got telemetryd.Snapshot
	res := e.get("/api/telemetry/snapshots/"+snaps[1].ID, e.admin)
	require.Equal(t, http.StatusOK, res.status)
	res.json(t, &got)
	assert.True(t, got.Equal(snaps[1]))

	missing := e.get("/api/telemetry/snapshots/0f8e2a4c-3b1d-4e5f-9a7b-1c2d3e4f5a6b", e.admin)
	assert.Equal(t, http.StatusNotFound, missing.status)
	assert.Contains(t, missing.errorMessage(t), "not found")
}

func TestPreviewIsTheRemoteBody(t *testing.T) {
	e := start(t)
	res := e.get("/api/telemetry/preview", e.admin)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	var body map[string]any
	res.json(t, &body)
	for _, field := range []string{"id", "created_at", "kind", "payload_format", "deployment_id", "version", "data", "checksum", "previous_checksum"} {
		assert.Contains(t, body, field)
	}
	for _, field := range []string{"remote_send_status", "remote_send_at", "remote_send_error"} {
		assert.NotContains(t, body, field)
	}

	var gql struct {
		TelemetryPreview map[string]any `json:"telemetryPreview"`
	}
	e.mustGraphQL(e.admin, `{ telemetryPreview }`, nil, &gql)
	assert.Equal(t, body["deployment_id"], gql.TelemetryPreview["deployment_id"])
}
