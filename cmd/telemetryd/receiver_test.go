package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd/store/neo4j/neo4jtest"
)

// graphQLVars runs one operation with variables against a running
// server and returns its data, failing the test on any error.
func graphQLVars(t *testing.T, baseURL, token, query string, vars map[string]any) map[string]any {
	t.Helper()
	var data map[string]any
	graphQL(t, baseURL, token, query, vars, &data)
	return data
}

// wire stands between a sender and its receiver, as the network does:
// it forwards each POST to the receiver of the moment and, when told to,
// alters the snapshot's data on the way.
type wire struct {
	mu       sync.Mutex
	target   string
	tamper   bool
	statuses []int
}

func (w *wire) set(target string, tamper bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.target, w.tamper = target, tamper
}

func (w *wire) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w.mu.Lock()
	target, tamper := w.target, w.tamper
	w.mu.Unlock()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadGateway)
		return
	}
	if tamper {
		var record map[string]any
		if err := json.Unmarshal(body, &record); err == nil {
			record["data"].(map[string]any)["tampered"] = true
			body, _ = json.Marshal(record)
		}
	}
	req, err := http.NewRequest(http.MethodPost, target+r.URL.Path, bytes.NewReader(body))
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(rw, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	w.mu.Lock()
	w.statuses = append(w.statuses, res.StatusCode)
	w.mu.Unlock()
	rw.WriteHeader(res.StatusCode)
	io.Copy(rw, res.Body)
}

func (w *wire) lastStatus() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.statuses[len(w.statuses)-1]
}

// TestSenderAndReceiverEndToEnd is the receiver issue's "done when": two
// servers built from this tree, one sending its daily snapshot to the
// other, over each backend the receiver can keep them in.
func TestSenderAndReceiverEndToEnd(t *testing.T) {
	t.Run("receiver on the embedded store", func(t *testing.T) {
		testSenderAndReceiver(t, []string{"--data-dir", filepath.Join(t.TempDir(), "receiver")})
	})
	t.Run("receiver on Neo4j", func(t *testing.T) {
		neo4jtest.Open(t) // an empty Neo4j, held for this test alone
		testSenderAndReceiver(t, []string{"--neo4j-uri", os.Getenv("NEO4J_URI")})
	})
}

func testSenderAndReceiver(t *testing.T, receiverStore []string) {
	receiverArgs := append([]string{"--listen", "127.0.0.1:0", "--admin-password", testAdminPassword, "--receive"}, receiverStore...)
	receiver := serveInBackground(t, env(), receiverArgs...)
	net := &wire{}
	net.set(receiver.url, false)
	proxy := httptest.NewServer(net)
	t.Cleanup(proxy.Close)
	sender := serveInBackground(t, env(), "--listen", "127.0.0.1:0", "--admin-password", testAdminPassword,
		"--data-dir", filepath.Join(t.TempDir(), "sender"),
		"--telemetry-remote", "--telemetry-endpoint", proxy.URL+"/v1/snapshots")
	senderToken, receiverToken := adminToken(t, sender.url), adminToken(t, receiver.url)
	const snapshotFields = `id deploymentId checksum checksumValid remoteSendStatus remoteSendAt remoteSendError`
	receivedQuery := `query($id: ID!) { telemetrySnapshot(id: $id) { ` + snapshotFields + ` } }`
	// The receiver keeps its own daily snapshot beside those it receives.
	countQuery := `{ telemetrySnapshots { nodes { deploymentId } } deployments { count nodes { deploymentId snapshotCount chainIntact } } }`
	receivedFrom := func(fleet map[string]any, deploymentID any) int {
		n := 0
		for _, node := range fleet["telemetrySnapshots"].(map[string]any)["nodes"].([]any) {
			if node.(map[string]any)["deploymentId"] == deploymentID {
				n++
			}
		}
		return n
	}

	// The daily run sends the snapshot; it arrives verified.
	run := graphQLVars(t, sender.url, senderToken, `mutation { runTelemetryWorkflow { `+snapshotFields+` } }`, nil)["runTelemetryWorkflow"].(map[string]any)
	assert.Equal(t, "SENT", run["remoteSendStatus"], "the sender records the send: %v", run)
	assert.Equal(t, 201, net.lastStatus())
	id := run["id"].(string)
	got := graphQLVars(t, receiver.url, receiverToken, receivedQuery, map[string]any{"id": id})["telemetrySnapshot"].(map[string]any)
	assert.Equal(t, run["checksum"], got["checksum"])
	assert.Equal(t, run["deploymentId"], got["deploymentId"])
	assert.Equal(t, true, got["checksumValid"])
	assert.Equal(t, "SENT", got["remoteSendStatus"])
	assert.NotNil(t, got["remoteSendAt"])

	// A re-send, as a backlog or another replica makes, changes nothing.
	resend := `mutation($id: ID!) { sendTelemetrySnapshot(id: $id) { remoteSendStatus remoteSendError } }`
	again := graphQLVars(t, sender.url, senderToken, resend, map[string]any{"id": id})["sendTelemetrySnapshot"].(map[string]any)
	assert.Equal(t, "SENT", again["remoteSendStatus"])
	assert.Equal(t, 200, net.lastStatus(), "the receiver knew it already")
	fleet := graphQLVars(t, receiver.url, receiverToken, countQuery, nil)
	assert.Equal(t, 1, receivedFrom(fleet, run["deploymentId"]), "the snapshot is stored once")
	deployments := fleet["deployments"].(map[string]any)
	require.Equal(t, float64(1), deployments["count"])
	assert.Equal(t, map[string]any{"deploymentId": run["deploymentId"], "snapshotCount": float64(1), "chainIntact": true},
		deployments["nodes"].([]any)[0])

	// Altered on the way, it is refused, and the sender says so.
	net.set(receiver.url, true)
	tampered := graphQLVars(t, sender.url, senderToken, resend, map[string]any{"id": id})["sendTelemetrySnapshot"].(map[string]any)
	assert.Equal(t, 422, net.lastStatus())
	assert.Equal(t, "FAILED", tampered["remoteSendStatus"])
	assert.Equal(t, "receiver answered 422 Unprocessable Entity", tampered["remoteSendError"])
	_, metrics := httpGet(t, receiver.url+"/metrics")
	assert.Contains(t, metrics, `telemetryd_receiver_snapshots_total{outcome="created"} 1`)
	assert.Contains(t, metrics, `telemetryd_receiver_snapshots_total{outcome="duplicate"} 1`)
	assert.Contains(t, metrics, `telemetryd_receiver_snapshots_total{outcome="invalid"} 1`)
	assert.NotContains(t, receiver.stderr.String(), `"tampered"`, "a body reached the receiver's log")

	// The receiver restarts and has lost nothing; the next send is known.
	require.NoError(t, receiver.stop())
	verify := append([]string{"snapshots", "verify"}, receiverStore...)
	code, stdout, stderr := execute(t, env(), verify...)
	require.Equal(t, 0, code, "stdout: %s\nstderr: %s", stdout, stderr)
	assert.Contains(t, stdout+stderr, "checksums and chains intact")
	receiver = serveInBackground(t, env(), receiverArgs...)
	receiverToken = adminToken(t, receiver.url)
	net.set(receiver.url, false)
	healed := graphQLVars(t, sender.url, senderToken, resend, map[string]any{"id": id})["sendTelemetrySnapshot"].(map[string]any)
	assert.Equal(t, "SENT", healed["remoteSendStatus"])
	assert.Equal(t, 200, net.lastStatus())
	got = graphQLVars(t, receiver.url, receiverToken, receivedQuery, map[string]any{"id": id})["telemetrySnapshot"].(map[string]any)
	assert.Equal(t, run["checksum"], got["checksum"])
	assert.True(t, strings.HasPrefix(got["remoteSendAt"].(string), "20"))
	fleet = graphQLVars(t, receiver.url, receiverToken, countQuery, nil)
	assert.Equal(t, 1, receivedFrom(fleet, run["deploymentId"]))
	assert.Equal(t, float64(1), fleet["deployments"].(map[string]any)["count"])
}

func TestReceiveKeyConfigurationMistakesNameTheFlag(t *testing.T) {
	for name, args := range map[string][]string{
		"a key without --receive": {"--receive-key", "a-long-enough-receive-key"},
		"a short key":             {"--receive", "--receive-key", "short"},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := execute(t, env(), append([]string{"serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, args...)...)
			assert.Equal(t, 2, code, stderr)
			assert.Contains(t, stderr, "--receive-key")
			assert.NotContains(t, stderr, "a-long-enough-receive-key", "the key was repeated")
		})
	}
}

func TestReceiveKeyComesFromTheEnvironmentAndStaysOutOfTheLog(t *testing.T) {
	const key = "fleet-receive-key-from-env"
	d := serveInBackground(t, env("TELEMETRYD_RECEIVE", "true", "TELEMETRYD_RECEIVE_KEY", key),
		"--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	req, err := http.NewRequest(http.MethodPost, d.url+"/v1/snapshots", strings.NewReader(`{}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	assert.Contains(t, d.stderr.String(), "key_required=true")
	assert.NotContains(t, d.stderr.String(), key)
}
