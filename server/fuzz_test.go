package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/storetest"
)

// fetch sends req and returns the status and body, failing t on a
// transport error.
func fetch(t *testing.T, req *http.Request) (int, []byte) {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return res.StatusCode, body
}

// listParameters are the parameters of the REST listing; a refusal must
// name one of them.
var listParameters = []string{"start_date", "end_date", "limit", "offset", "deployment_id", "status"}

// FuzzListParameters sends arbitrary list parameters, repeated ones
// included, to GET /api/telemetry/snapshots as an allowed reader: the
// answer is a listing or a 422 naming a parameter, never anything else,
// and a listing holds at most limit records, newest first, each one of
// those stored.
func FuzzListParameters(f *testing.F) {
	e := start(f)
	snaps := storetest.Chain(f, "fuzz", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 12, 16)
	if _, err := e.store.ImportSnapshots(f.Context(), store.Batch(snaps)); err != nil {
		f.Fatal(err)
	}
	seeded := map[string]string{}
	for _, s := range snaps {
		seeded[s.ID] = s.Checksum
	}
	for _, seed := range [][6]string{
		{"limit", "5", "offset", "3", "", ""},
		{"limit", "1", "limit", "2", "", ""},
		{"limit", "+5", "", "", "", ""},
		{"limit", "05", "offset", "-1", "", ""},
		{"limit", "10001", "offset", "99999999999999999999", "", ""},
		{"start_date", "2026-01-03", "end_date", "2026-01-08", "limit", "3"},
		{"start_date", "2026-01-08", "end_date", "2026-01-03", "", ""},
		{"start_date", "2026-01-03t00:00:00z", "end_date", "2026-01-08T23:59:59.9999999+01:00", "", ""},
		{"end_date", "0001-01-01T00:00:00Z", "", "", "", ""},
		{"deployment_id", "fuzz", "status", "pending,sent", "", ""},
		{"status", "bogus", "deployment_id", "", "", ""},
		{"unknown", "1", "limit", " 5", "", ""},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], seed[4], seed[5])
	}
	f.Fuzz(func(t *testing.T, n1, v1, n2, v2, n3, v3 string) {
		q := url.Values{}
		for _, p := range [][2]string{{n1, v1}, {n2, v2}, {n3, v3}} {
			if p[0] != "" {
				q.Add(p[0], p[1])
			}
		}
		req, err := http.NewRequest(http.MethodGet, e.url+"/api/telemetry/snapshots?"+q.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+e.admin)
		e.logs.Reset() // memory that does not grow with the run
		status, body := fetch(t, req)
		switch status {
		case http.StatusUnprocessableEntity:
			var refusal struct {
				Errors []struct{ Message string } `json:"errors"`
			}
			if json.Unmarshal(body, &refusal) != nil || len(refusal.Errors) == 0 {
				t.Fatalf("?%s: a 422 not in the contract's shape: %s", q.Encode(), body)
			}
			msg := refusal.Errors[0].Message
			if !slices.ContainsFunc(listParameters, func(p string) bool { return strings.Contains(msg, p) }) {
				t.Fatalf("?%s: the refusal names no parameter: %s", q.Encode(), msg)
			}
		case http.StatusOK:
			var listing struct {
				Count     int
				Snapshots []*telemetryd.Snapshot
			}
			if err := json.Unmarshal(body, &listing); err != nil {
				t.Fatalf("?%s: the listing does not decode: %v", q.Encode(), err)
			}
			limit := telemetryd.DefaultLimit
			if v, err := strconv.Atoi(q.Get("limit")); err == nil && len(q["limit"]) == 1 {
				limit = v
			}
			if len(listing.Snapshots) > min(limit, listing.Count) {
				t.Fatalf("?%s: %d records, more than limit %d or count %d", q.Encode(), len(listing.Snapshots), limit, listing.Count)
			}
			for i, s := range listing.Snapshots {
				if seeded[s.ID] != s.Checksum {
					t.Fatalf("?%s: record %s is none of those stored", q.Encode(), s.ID)
				}
				if i > 0 && s.CreatedAt.After(listing.Snapshots[i-1].CreatedAt) {
					t.Fatalf("?%s: not newest first at %s", q.Encode(), s.ID)
				}
			}
		default:
			t.Fatalf("?%s: status %d: %s", q.Encode(), status, body)
		}
	})
}

// docLimits bound what one anonymous GraphQL document of the fuzzer's
// (at most a few kilobytes) may cost the server before it is answered:
// generous, so only runaway work fails them.
const (
	docDeadline = 5 * time.Second
	docAllocs   = 64 << 20 // bytes allocated by the whole process
)

// FuzzGraphQLDocument sends arbitrary documents to POST /graphql without
// credentials, so each goes through parsing, validation and the limit
// checks only: the server answers each within docDeadline, allocating
// less than docAllocs for it, never with a 5xx, and logs no error.
func FuzzGraphQLDocument(f *testing.F) {
	e := start(f)
	for _, seed := range []string{
		`{ __typename }`,
		`{ me { username } }`,
		`query($l: Int) { telemetrySnapshots(limit: $l) { count nodes { id data } } }`,
		`{ a: telemetrySnapshots(limit: 2000) { nodes { id data } } b: telemetrySnapshots(limit: 2000) { nodes { id data } } }`,
		`mutation { login(username: "admin", password: "wrong") { accessToken } }`,
		`{ ...F0 } fragment F0 on Query { ...F1 ...F1 } fragment F1 on Query { ...F2 ...F2 } fragment F2 on Query { __typename }`,
		`{ ...F } fragment F on Query { ...F }`,
		`{ telemetrySnapshots { nodes { id } } telemetrySnapshots { nodes { id } } }`,
		`{ __schema { types { name } } }`,
		`{ telemetrySnapshots(limt: 1) { count } }`,
		`{ accounts { roles { permissions } } }`,
		`query Q($d: DateTime) { telemetrySnapshots(startDate: $d) { count } }`,
		`{ a: __typename @foo @foo @foo }`,
		`subscription { x }`,
		`{`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		body, err := json.Marshal(map[string]any{"query": doc})
		if err != nil {
			t.Fatal(err)
		}
		req, err := http.NewRequest(http.MethodPost, e.url+"/graphql", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		e.logs.Reset() // the logs of one document only, and memory that does not grow with the run
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		begin := time.Now()
		status, answer := fetch(t, req)
		took := time.Since(begin)
		runtime.ReadMemStats(&after)
		if status >= 500 {
			t.Fatalf("document %q: status %d: %.500s", doc, status, answer)
		}
		if took > docDeadline {
			t.Fatalf("document %q (%d bytes) took %s", doc, len(doc), took)
		}
		if allocated := after.TotalAlloc - before.TotalAlloc; allocated > docAllocs {
			t.Fatalf("document %q (%d bytes) made the server allocate %d bytes", doc, len(doc), allocated)
		}
		if logs := e.logs.String(); strings.Contains(logs, `"level":"ERROR"`) {
			t.Fatalf("document %q made the server log an error: %s", doc, logs)
		}
	})
}
