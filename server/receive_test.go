package server_test

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/fleet"
	"github.com/telemetryd/telemetryd/internal/testclock"
	"github.com/telemetryd/telemetryd/server"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/embedded"
	"github.com/telemetryd/telemetryd/store/neo4j/neo4jtest"
	"github.com/telemetryd/telemetryd/store/storetest"
)

// onEachStore runs test on a fresh embedded store and a fresh Neo4j.
func onEachStore(t *testing.T, test func(t *testing.T, st store.Store)) {
	t.Run("embedded", func(t *testing.T) {
		st, err := embedded.Open(t.TempDir())
		require.NoError(t, err)
		t.Cleanup(func() { st.Close() })
		test(t, st)
	})
	t.Run("neo4j", func(t *testing.T) { test(t, neo4jtest.Open(t)) })
}

// receiving is a server receiving snapshots with key, on clock c (nil
// for the real one).
func receiving(key string, c *testclock.Clock) options {
	o := options{receive: true, receiveKey: key}
	if c != nil {
		o.receiveNow = c.Now
	}
	return o
}

// postSnapshot sends body to the receive route with the content type
// and, when not empty, the receive key as a bearer token.
func (e *env) postSnapshot(body []byte, contentType, key string) response {
	e.t.Helper()
	authorization := ""
	if key != "" {
		authorization = "Bearer " + key
	}
	return e.post("/v1/snapshots", authorization, string(body), "Content-Type", contentType)
}

func (e *env) send(s *telemetryd.Snapshot) response {
	e.t.Helper()
	return e.postSnapshot(s.RemoteBody(), "application/json", "")
}

var day = time.Date(2026, 3, 1, 2, 17, 5, 123456000, time.UTC)

func TestReceiverStoresEachSnapshotOnceAsSent(t *testing.T) {
	onEachStore(t, func(t *testing.T, st store.Store) {
		c := testclock.New(day.Add(time.Hour))
		e := startWith(t, st, receiving("", c))
		s := storetest.NewSnapshot(t, "dep-fleet", day, nil, 500)

		first := e.send(s)
		require.Equal(t, http.StatusCreated, first.status, "body: %s", first.body)
		again := e.send(s)
		require.Equal(t, http.StatusOK, again.status, "a retry is not an error: %s", again.body)

		res := e.get("/api/telemetry/snapshots/"+s.ID, e.admin)
		require.Equal(t, http.StatusOK, res.status)
		var got map[string]any
		res.json(t, &got)
		assert.Equal(t, "sent", got["remote_send_status"])
		assert.Equal(t, c.Now().Format(telemetryd.TimeLayout), got["remote_send_at"], "remote_send_at is when it arrived")
		assert.Equal(t, s.Checksum, got["checksum"])
		var list struct{ Count int }
		e.get("/api/telemetry/snapshots", e.admin).json(t, &list)
		assert.Equal(t, 1, list.Count, "the retry stored nothing")

		// Every listing, filter, export and check works on it.
		e.get("/api/telemetry/snapshots?deployment_id=dep-fleet&status=sent", e.admin).json(t, &list)
		assert.Equal(t, 1, list.Count)
		export := e.get("/api/telemetry/export?deployment_id=dep-fleet", e.admin)
		require.Equal(t, http.StatusOK, export.status)
		assert.Contains(t, string(export.body), s.ID)
		var check struct {
			TelemetryIntegrity struct {
				Checked  int
				Problems []any
			}
		}
		e.mustGraphQL(e.admin, `{ telemetryIntegrity(deploymentId: "dep-fleet") { checked problems { id } } }`, nil, &check)
		assert.Equal(t, 1, check.TelemetryIntegrity.Checked)
		assert.Empty(t, check.TelemetryIntegrity.Problems)
	})
}

func TestReceiverRejectsEachProblemWithItsOwnStatus(t *testing.T) {
	c := testclock.New(day.Add(time.Hour))
	e := startWith(t, embeddedStore(t), receiving("", c))
	stored := storetest.NewSnapshot(t, "dep-fleet", day, nil, 100)
	require.Equal(t, http.StatusCreated, e.send(stored).status)

	tampered := storetest.NewSnapshot(t, "dep-other", day, nil, 100)
	tampered.Data = []byte(`{"instance":{"os":"linux","cores":64}}`)
	otherContent := *stored
	otherContent.Version = "9.9.9"
	require.NoError(t, otherContent.Seal())
	sameDay := storetest.NewSnapshot(t, "dep-fleet", day.Add(time.Hour), nil, 100)
	future := storetest.NewSnapshot(t, "dep-future", c.Now().Add(fleet.MaxSkew+time.Second), nil, 100)
	nearFuture := storetest.NewSnapshot(t, "dep-near", c.Now().Add(fleet.MaxSkew), nil, 100)
	format := storetest.NewSnapshot(t, "dep-format", day, nil, 100)
	format.PayloadFormat = "2"
	require.NoError(t, format.Seal())
	body := func(s *telemetryd.Snapshot) string { return string(s.RemoteBody()) }

	cases := []struct {
		name        string
		body        string
		contentType string
		status      int
		names       string
	}{
		{"a form body is refused", "id=1", "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, "Content-Type"},
		{"a body over 64 KiB is refused", `{"data":"` + strings.Repeat("x", 64<<10) + `"}`, "application/json", http.StatusRequestEntityTooLarge, "65536"},
		{"a body that is not JSON", "{not json", "application/json", http.StatusBadRequest, "not JSON"},
		{"an array is not a record", "[]", "application/json", http.StatusUnprocessableEntity, "JSON object"},
		{"a missing member is named", strings.Replace(body(stored), `"checksum":`, `"checksun":`, 1), "application/json", http.StatusUnprocessableEntity, "checksum is missing"},
		{"an unknown member is named", strings.Replace(body(stored), `{"id"`, `{"extra":1,"id"`, 1), "application/json", http.StatusUnprocessableEntity, "extra is not a member"},
		{"a mistyped member is named", strings.Replace(body(stored), `"version":"0.1.0"`, `"version":1`, 1), "application/json", http.StatusUnprocessableEntity, "version must be a string"},
		{"an unknown payload format", body(format), "application/json; charset=utf-8", http.StatusUnprocessableEntity, "payload_format"},
		{"tampered data fails the checksum", body(tampered), "application/json", http.StatusUnprocessableEntity, "checksum does not match"},
		{"a snapshot from too far in the future", body(future), "application/json", http.StatusUnprocessableEntity, "created_at"},
		{"the same id with other content", body(&otherContent), "application/json", http.StatusConflict, stored.ID},
		{"a second snapshot of a deployment day", body(sameDay), "application/json", http.StatusConflict, "dep-fleet"},
		{"five minutes ahead is within the skew allowed", body(nearFuture), "application/json", http.StatusCreated, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := e.postSnapshot([]byte(tc.body), tc.contentType, "")
			require.Equal(t, tc.status, res.status, "body: %s", res.body)
			if tc.names != "" {
				assert.Contains(t, res.errorMessage(t), tc.names)
			}
		})
	}

	var list struct{ Count int }
	e.get("/api/telemetry/snapshots", e.admin).json(t, &list)
	assert.Equal(t, 2, list.Count, "nothing rejected was stored")
	metrics := string(e.get("/metrics", "").body)
	for outcome, n := range map[string]int{"created": 2, "invalid": 8, "conflict": 2, "too_large": 1, "unsupported_media_type": 1, "rate_limited": 0} {
		assert.Contains(t, metrics, `telemetryd_receiver_snapshots_total{outcome="`+outcome+`"} `+strconv.Itoa(n))
	}
	assert.Contains(t, metrics, "telemetryd_receiver_ingest_duration_seconds_count ")
	assert.NotContains(t, e.logs.String(), "cores", "the access log printed a body")
}

func embeddedStore(t *testing.T) store.Store {
	st, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return st
}

func TestReceiverIsOffUnlessEnabled(t *testing.T) {
	e := start(t)
	res := e.send(storetest.NewSnapshot(t, "dep-fleet", time.Now(), nil, 100))
	assert.Equal(t, http.StatusNotFound, res.status)
}

func TestReceiveKeyIsRequiredWhenSet(t *testing.T) {
	const key = "receive-key-of-the-fleet"
	e := startWith(t, embeddedStore(t), receiving(key, nil))
	body := storetest.NewSnapshot(t, "dep-fleet", time.Now(), nil, 100).RemoteBody()

	for name, k := range map[string]string{"no key": "", "a wrong key": "receive-key-of-another-fleet", "a prefix of the key": key[:8]} {
		res := e.postSnapshot(body, "application/json", k)
		assert.Equal(t, http.StatusUnauthorized, res.status, name)
		assert.Equal(t, `Bearer realm="telemetryd receiver"`, res.header.Get("WWW-Authenticate"))
	}
	assert.Equal(t, http.StatusCreated, e.postSnapshot(body, "application/json", key).status)

	// A sender whose endpoint URL carries the key: https://fleet:<key>@….
	basic := func(user, password string) int {
		req, err := http.NewRequest(http.MethodPost, e.url+"/v1/snapshots", bytes.NewReader(storetest.NewSnapshot(t, "dep-basic", time.Now(), nil, 100).RemoteBody()))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(user, password)
		return e.do(req).status
	}
	assert.Equal(t, http.StatusUnauthorized, basic(key, "not the key"), "the key goes in the password")
	assert.Equal(t, http.StatusCreated, basic("fleet", key))
	assert.NotContains(t, e.logs.String(), key, "the receive key reached the logs")
}

func TestReceiverLimitsEachAddressToSixtyAMinute(t *testing.T) {
	c := testclock.New(time.Now())
	e := startWith(t, embeddedStore(t), receiving("", c))
	notARecord := []byte(`{}`)
	for i := range server.ReceiveRate {
		require.Equal(t, http.StatusUnprocessableEntity, e.postSnapshot(notARecord, "application/json", "").status, "request %d", i+1)
	}

	res := e.postSnapshot(notARecord, "application/json", "")
	require.Equal(t, http.StatusTooManyRequests, res.status)
	assert.Equal(t, "1", res.header.Get("Retry-After"), "one request a second comes free again")
	assert.Contains(t, res.errorMessage(t), "60 a minute")

	c.Advance(time.Second)
	assert.Equal(t, http.StatusUnprocessableEntity, e.postSnapshot(notARecord, "application/json", "").status)
	assert.Equal(t, http.StatusTooManyRequests, e.postSnapshot(notARecord, "application/json", "").status)
	c.Advance(time.Minute)
	assert.Equal(t, http.StatusUnprocessableEntity, e.postSnapshot(notARecord, "application/json", "").status, "a minute later the allowance is back")
}

func TestDeploymentsQuery(t *testing.T) {
	onEachStore(t, func(t *testing.T, st store.Store) {
		e := startWith(t, st, receiving("", testclock.New(day.AddDate(0, 0, 10))))
		chain := storetest.Chain(t, "dep-gap", day, 4, 100)
		for _, s := range []*telemetryd.Snapshot{chain[0], chain[1], chain[3]} {
			require.Equal(t, http.StatusCreated, e.send(s).status)
		}
		require.Equal(t, http.StatusCreated, e.send(storetest.NewSnapshot(t, "dep-old", day.AddDate(0, 0, -5), nil, 100)).status)
		const q = `query($since: DateTime) { deployments(seenSince: $since) { count nodes {
			deploymentId firstSeen lastSeen snapshotCount latestVersion missingDays chainIntact } } }`
		type node struct {
			DeploymentID  string
			FirstSeen     string
			LastSeen      string
			SnapshotCount int
			LatestVersion string
			MissingDays   int
			ChainIntact   bool
		}
		var data struct {
			Deployments struct {
				Count int
				Nodes []node
			}
		}

		e.mustGraphQL(e.admin, q, nil, &data)

		require.Equal(t, 2, data.Deployments.Count)
		require.Len(t, data.Deployments.Nodes, 2)
		assert.Equal(t, node{
			DeploymentID: "dep-gap", FirstSeen: chain[0].CreatedAt.Format(telemetryd.TimeLayout), LastSeen: chain[3].CreatedAt.Format(telemetryd.TimeLayout),
			SnapshotCount: 3, LatestVersion: "0.1.0", MissingDays: 1, ChainIntact: false,
		}, data.Deployments.Nodes[0])
		assert.Equal(t, "dep-old", data.Deployments.Nodes[1].DeploymentID)

		require.Equal(t, http.StatusCreated, e.send(chain[2]).status, "the late arrival")
		e.mustGraphQL(e.admin, q, map[string]any{"since": "2026-03-01"}, &data)
		require.Equal(t, 1, data.Deployments.Count, "dep-old was last seen before March")
		assert.True(t, data.Deployments.Nodes[0].ChainIntact, "the late arrival healed the chain")
		assert.Equal(t, 0, data.Deployments.Nodes[0].MissingDays)

		reader := e.account("reader", "telemetry-reader")
		e.mustGraphQL(reader, q, nil, nil)
		nobody := e.account("nobody")
		out, _ := e.graphql(nobody, q, nil)
		assert.Equal(t, "FORBIDDEN", out.code())
		out, _ = e.graphql(e.admin, `{ deployments(limit: 0) { count } }`, nil)
		assert.Equal(t, "BAD_USER_INPUT", out.code())
		assert.Contains(t, out.Errors[0].Message, "limit")
	})
}

func TestReceiverLimitsTheClientBehindATrustedProxy(t *testing.T) {
	o := receiving("", testclock.New(time.Now()))
	o.trustedProxies = "127.0.0.1/32"
	e := startWith(t, embeddedStore(t), o)
	from := func(client string) int {
		return e.post("/v1/snapshots", "", `{}`, "X-Forwarded-For", client).status
	}
	for range server.ReceiveRate {
		require.Equal(t, http.StatusUnprocessableEntity, from("203.0.113.1"))
	}
	assert.Equal(t, http.StatusTooManyRequests, from("203.0.113.1"))
	assert.Equal(t, http.StatusUnprocessableEntity, from("203.0.113.2"), "another client behind the same proxy has its own allowance")
}
