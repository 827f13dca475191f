package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/activity"
	"github.com/telemetryd/telemetryd/auth"
	"github.com/telemetryd/telemetryd/fleet"
	"github.com/telemetryd/telemetryd/graph"
	"github.com/telemetryd/telemetryd/internal/logbuffer"
	"github.com/telemetryd/telemetryd/server"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/store/embedded"
	"github.com/telemetryd/telemetryd/store/neo4j"
	"github.com/telemetryd/telemetryd/store/neo4j/neo4jtest"
	"github.com/telemetryd/telemetryd/store/storetest"
	"github.com/telemetryd/telemetryd/telemetry"
	"github.com/telemetryd/telemetryd/workflows"
)

const adminPassword = "correct horse battery staple"

// env is a real server on a random loopback port over the embedded store.
type env struct {
	t     testing.TB
	url   string
	store store.Store
	logs  *logbuffer.Buffer
	admin string // an access token of the built-in admin
	// deploymentID is the server's own deployment.
	deploymentID string
}

// onEachBackend runs fn against a server on the embedded store and one on
// the development Neo4j.
func onEachBackend(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("embedded", func(t *testing.T) { fn(t, start(t)) })
	t.Run("neo4j", func(t *testing.T) { fn(t, startOn(t, neo4jtest.Open(t))) })
}

func start(t testing.TB) *env {
	t.Helper()
	st, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return startOn(t, st)
}

func startOn(t testing.TB, st store.Store) *env {
	t.Helper()
	return startWith(t, st, options{})
}

// options vary the server of a test.
type options struct {
	now            func() time.Time // the auth clock; nil is time.Now
	passwordCost   int              // zero is bcrypt.MinCost
	trustedProxies string           // --trusted-proxies
	receive        bool             // --receive
	receiveKey     string           // --receive-key
	receiveNow     func() time.Time // the receiver's clock; nil is time.Now
}

func startWith(t testing.TB, st store.Store, o options) *env {
	t.Helper()
	if o.passwordCost == 0 {
		o.passwordCost = bcrypt.MinCost
	}
	proxies, err := server.ParseTrustedProxies(o.trustedProxies)
	require.NoError(t, err)
	ctx := context.Background()
	logs := &logbuffer.Buffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	deploymentID, err := store.DeploymentID(ctx, st)
	require.NoError(t, err)
	recorder := activity.New(st, time.Now)
	authService := auth.New(auth.Config{Store: st, Logger: logger, Counter: recorder, PasswordCost: o.passwordCost, Now: o.now})
	_, err = authService.Bootstrap(ctx, adminPassword, strings.Repeat("s", 32))
	require.NoError(t, err)
	sender, err := workflows.NewSender(workflows.SenderConfig{Endpoint: "https://telemetry.invalid/v1", Timeout: time.Second})
	require.NoError(t, err)
	runner := &workflows.Runner{
		Store: st, DeploymentID: deploymentID, Sender: sender, Logger: logger,
		Sections: []workflows.Section{workflows.ProcessSection{}},
	}
	telemetryService := &telemetry.Service{Store: st, Workflow: runner, Counter: recorder, Audit: logger,
		Settings: telemetry.Settings{Endpoint: "https://telemetry.invalid/v1", Schedule: "02:00", DeploymentID: deploymentID, StoreBackend: st.Backend()}}
	registry := prometheus.NewRegistry()
	fleetService := &fleet.Service{Store: st, Audit: logger, Now: o.receiveNow}
	gql, err := graph.NewHandler(&graph.Resolver{Telemetry: telemetryService, Auth: authService, Fleet: fleetService}, logger, registry)
	require.NoError(t, err)
	srv := &server.Server{
		Addr:      "127.0.0.1:0",
		Logger:    logger,
		Store:     st,
		Registry:  registry,
		Auth:      authService,
		Telemetry: telemetryService,
		GraphQL:   gql,
		Counter:   recorder,

		TrustedProxies: proxies,
	}
	if o.receive {
		srv.Receiver = &server.Receiver{Fleet: fleetService, Key: o.receiveKey, Now: o.receiveNow}
	}
	require.NoError(t, srv.Open())
	t.Cleanup(func() { srv.Close(context.Background()) })
	e := &env{t: t, url: srv.URL(), store: st, logs: logs, deploymentID: deploymentID}
	e.admin = e.login("admin", adminPassword)
	return e
}

// response is a decoded HTTP answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), "body: %s", r.body)
}

// errorMessage returns the first error message of a contract error body.
func (r response) errorMessage(t *testing.T) string {
	t.Helper()
	var body struct {
		Data   any `json:"data"`
		Errors []struct {
			Message    string         `json:"message"`
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	r.json(t, &body)
	require.Nil(t, body.Data)
	require.NotEmpty(t, body.Errors, "body: %s", r.body)
	assert.Equal(t, float64(r.status), body.Errors[0].Extensions["code"])
	return body.Errors[0].Message
}

func (e *env) do(req *http.Request) response {
	e.t.Helper()
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(e.t, err)
	return response{status: res.StatusCode, header: res.Header, body: body}
}

func (e *env) get(path, token string) response {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	require.NoError(e.t, err)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return e.do(req)
}

// gqlResult is a GraphQL response.
type gqlResult struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message    string         `json:"message"`
		Extensions map[string]any `json:"extensions"`
	} `json:"errors"`
}

// code returns the first error's extensions.code, or "".
func (g gqlResult) code() string {
	if len(g.Errors) == 0 {
		return ""
	}
	c, _ := g.Errors[0].Extensions["code"].(string)
	return c
}

func (e *env) graphql(token, query string, vars map[string]any) (gqlResult, response) {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(e.t, err)
	req, err := http.NewRequest(http.MethodPost, e.url+"/graphql", bytes.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res := e.do(req)
	var out gqlResult
	if res.status == http.StatusOK || strings.HasPrefix(res.header.Get("Content-Type"), "application/json") {
		_ = json.Unmarshal(res.body, &out)
	}
	return out, res
}

// mustGraphQL runs an operation that must succeed and decodes its data.
func (e *env) mustGraphQL(token, query string, vars map[string]any, data any) {
	e.t.Helper()
	out, res := e.graphql(token, query, vars)
	require.Equal(e.t, http.StatusOK, res.status, "body: %s", res.body)
	require.Empty(e.t, out.Errors, "body: %s", res.body)
	if data != nil {
		require.NoError(e.t, json.Unmarshal(out.Data, data))
	}
}

func (e *env) login(username, password string) string {
	e.t.Helper()
	var data struct {
		Login struct{ AccessToken string } `json:"login"`
	}
	e.mustGraphQL("", `mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }`,
		map[string]any{"u": username, "p": password}, &data)
	return data.Login.AccessToken
}

// account creates an account holding roles and returns its access token.
func (e *env) account(username string, roles ...string) string {
	e.t.Helper()
	e.mustGraphQL(e.admin, `mutation($u: String!, $p: String!, $r: [String!]) { createAccount(username: $u, password: $p, roles: $r) { id } }`,
		map[string]any{"u": username, "p": adminPassword, "r": roles}, nil)
	return e.login(username, adminPassword)
}

// seed stores n chained snapshots, one a day from start, and returns them
// oldest first.
func (e *env) seed(n int, start time.Time) []*telemetryd.Snapshot {
	e.t.Helper()
	snaps := storetest.Chain(e.t, "dep-test", start, n, 200)
	_, err := e.store.ImportSnapshots(context.Background(), snaps)
	require.NoError(e.t, err)
	return snaps
}

func query(params map[string]string) string {
	v := url.Values{}
	for k, val := range params {
		v.Set(k, val)
	}
	return v.Encode()
}

func TestHealthReadinessAndMetrics(t *testing.T) {
	e := start(t)
	assert.Equal(t, http.StatusOK, e.get("/healthz", "").status)
	assert.Equal(t, http.StatusOK, e.get("/readyz", "").status)
	e.get("/api/telemetry/snapshots", "")
	e.get("/api/telemetry/snapshots", e.admin)
	metrics := e.get("/metrics", "")
	require.Equal(t, http.StatusOK, metrics.status)
	assert.Contains(t, string(metrics.body), `telemetryd_http_requests_total{code="401",route="GET /api/telemetry/snapshots"} 1`)
	assert.Contains(t, string(metrics.body), `telemetryd_http_requests_total{code="200",route="GET /api/telemetry/snapshots"} 1`)
	assert.Contains(t, string(metrics.body), `telemetryd_http_request_duration_seconds_bucket{route="GET /healthz"`)
	assert.Contains(t, string(metrics.body), `telemetryd_graphql_operations_total{outcome="ok",type="mutation"} 1`)
}

func TestUnavailableStoreAnswers503(t *testing.T) {
	e := start(t)
	require.NoError(t, e.store.Close())
	assert.Equal(t, http.StatusServiceUnavailable, e.get("/readyz", "").status)
	assert.Equal(t, http.StatusOK, e.get("/healthz", "").status, "the process is still alive")
	res := e.get("/api/telemetry/snapshots", e.admin)
	assert.Equal(t, http.StatusServiceUnavailable, res.status, "body: %s", res.body)
}

func TestMetricsCountEveryGraphQLOperation(t *testing.T) {
	e := start(t)
	e.graphql(e.admin, `{ telemetrySnapshots { count } }`, nil)
	e.graphql("", `{ telemetrySnapshots { count } }`, nil)
	body := string(e.get("/metrics", "").body)
	assert.Contains(t, body, `telemetryd_graphql_operations_total{outcome="ok",type="query"} 1`)
	assert.Contains(t, body, `telemetryd_graphql_operations_total{outcome="error",type="query"} 1`)
}

func TestLogsCarryNoSecrets(t *testing.T) {
	e := start(t)
	e.seed(3, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	e.get("/api/telemetry/snapshots?limit=2", e.admin)
	logs := e.logs.String()
	assert.NotContains(t, logs, e.admin, "an access token reached the logs")
	assert.NotContains(t, logs, adminPassword)
	assert.Contains(t, logs, `"action":"telemetry.list"`, "a read of telemetry must be audited")
	assert.Contains(t, logs, `"records":2`)
	assert.Contains(t, logs, `"msg":"http request","method":"GET","path":"/api/telemetry/snapshots","route":"GET /api/telemetry/snapshots","status":200`)
	assert.Contains(t, logs, `"user":"admin"`, "the access log names the caller")
}

func TestServerHealsWhenNeo4jReturns(t *testing.T) {
	neo4jtest.Open(t) // the lock, the skip rules and an empty database
	proxy, cfg := neo4jtest.StartProxy(t)
	st, err := neo4j.Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	e := startOn(t, st)
	require.Equal(t, http.StatusOK, e.get("/api/telemetry/snapshots", e.admin).status)

	proxy.Stop()
	assert.Equal(t, http.StatusServiceUnavailable, e.get("/readyz", "").status)
	res := e.get("/api/telemetry/snapshots", e.admin)
	assert.Equal(t, http.StatusServiceUnavailable, res.status, "body: %s", res.body)
	assert.Contains(t, res.errorMessage(t), "unavailable")

	proxy.Start(t)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(15 * time.Second)
	for healed := false; !healed; {
		select {
		case <-tick.C:
			healed = e.get("/readyz", "").status == http.StatusOK
		case <-deadline:
			t.Fatal("the server did not heal")
		}
	}
	assert.Equal(t, http.StatusOK, e.get("/api/telemetry/snapshots", e.admin).status)
}

func TestUnknownRoutesAndMethodsAnswerInTheErrorShape(t *testing.T) {
	e := start(t)
	cases := []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/nowhere", http.StatusNotFound},
		{http.MethodGet, "/api/telemetry/snapshot", http.StatusNotFound},
		{http.MethodPost, "/healthz", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/api/telemetry/snapshots", http.StatusMethodNotAllowed},
		{http.MethodPut, "/graphql", http.StatusMethodNotAllowed},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, e.url+tc.path, nil)
			require.NoError(t, err)
			res := e.do(req)
			require.Equal(t, tc.status, res.status)
			assert.Equal(t, "application/json", res.header.Get("Content-Type"))
			assert.Contains(t, res.errorMessage(t), tc.path)
		})
	}
}
