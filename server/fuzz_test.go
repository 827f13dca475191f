package server_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
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
	// The probe's expensive documents: a fragment bomb (each fragment
	// spreads the next twice, 2^28 selections in about a kilobyte) and
	// repeated fields.
	var bomb strings.Builder
	bomb.WriteString("{...F0}")
	for i := range 28 {
		fmt.Fprintf(&bomb, " fragment F%d on Query{...F%d ...F%d}", i, i+1, i+1)
	}
	bomb.WriteString(" fragment F28 on Query{__typename}")
	for _, seed := range []string{
		bomb.String(),
		"{" + strings.Repeat("__typename ", 9000) + "}",
		"{" + strings.Repeat("me{username} ", 2400) + "}",
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
