package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
)

func TestGraphQLRefusesAbusiveRequestsCheaply(t *testing.T) {
	e := start(t)
	cases := []struct {
		name, query, message string
	}{
		{"more than 20,000 records in all",
			`{ a: telemetrySnapshots(limit: 10000) { count } b: telemetrySnapshots(limit: 10000) { count } c: telemetrySnapshots(limit: 500) { count } }`,
			"complexity"},
		{"nesting past the depth limit",
			"{ __schema { types { " + strings.Repeat("ofType { ", 16) + "name" + strings.Repeat(" }", 16) + " } } }",
			"levels deep"},
		{"two password checks in one request",
			`mutation { a: login(username: "admin", password: "guess number one") { accessToken } b: login(username: "admin", password: "guess number two") { accessToken } }`,
			"one login or refreshToken per request"},
		{"more tokens than the parser reads",
			"{ " + strings.Repeat("me { id } ", 3000) + "}",
			"token limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, res := e.graphql(e.admin, tc.query, nil)
			require.NotEmpty(t, out.Errors, "status %d body %s", res.status, res.body)
			assert.Contains(t, out.Errors[0].Message, tc.message)
			assert.Equal(t, "BAD_USER_INPUT", out.code())
			assert.JSONEq(t, "null", string(out.Data), "a refused request must not run")
		})
	}
}

func TestGraphQLBodyOverOneMebibyteIs413(t *testing.T) {
	e := start(t)
	body := `{"query":"{ me { id } }","variables":{"pad":"` + strings.Repeat("x", 1<<20) + `"}}`
	req, err := http.NewRequest(http.MethodPost, e.url+"/graphql", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	res := e.do(req)
	assert.Equal(t, http.StatusRequestEntityTooLarge, res.status)

	// Without a declared length the limit holds all the same.
	req, err = http.NewRequest(http.MethodPost, e.url+"/graphql", struct{ *strings.Reader }{strings.NewReader(body)})
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	assert.Equal(t, http.StatusRequestEntityTooLarge, e.do(req).status)
}

func TestGraphQLAcceptsOnlyJSONPostAndGet(t *testing.T) {
	e := start(t)
	for _, contentType := range []string{"application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"} {
		t.Run(contentType, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, e.url+"/graphql", bytes.NewReader([]byte("query=%7B+me+%7B+id+%7D+%7D")))
			require.NoError(t, err)
			req.Header.Set("Content-Type", contentType)
			req.Header.Set("Authorization", "Bearer "+e.admin)
			res := e.do(req)
			assert.GreaterOrEqual(t, res.status, 400, "body: %s", res.body)
			assert.NotContains(t, string(res.body), `"me"`)
		})
	}
	t.Run("GET runs queries", func(t *testing.T) {
		res := e.get("/graphql?query="+query(map[string]string{"q": "{ me { username } }"})[2:], e.admin)
		assert.Equal(t, http.StatusOK, res.status)
		assert.Contains(t, string(res.body), `"username":"admin"`)
	})
}

func TestGraphQLIntrospectionOnlyWhenSignedIn(t *testing.T) {
	e := start(t)
	out, _ := e.graphql("", `{ __schema { queryType { name } } }`, nil)
	require.NotEmpty(t, out.Errors)
	assert.Equal(t, "UNAUTHENTICATED", out.code())
	assert.NotContains(t, string(out.Data), "Query")

	var data struct {
		Schema struct {
			QueryType struct{ Name string } `json:"queryType"`
		} `json:"__schema"`
	}
	e.mustGraphQL(e.admin, `{ __schema { queryType { name } } }`, nil, &data)
	assert.Equal(t, "Query", data.Schema.QueryType.Name)
}

func TestGraphQLGivesNoFieldSuggestions(t *testing.T) {
	e := start(t)
	out, _ := e.graphql(e.admin, `{ telemetrySnapshot(id: "x") { checksm } }`, nil)
	require.NotEmpty(t, out.Errors)
	assert.NotContains(t, out.Errors[0].Message, "Did you mean")
	assert.NotContains(t, out.Errors[0].Message, "checksum")
}

func TestGraphQLErrorCodes(t *testing.T) {
	e := start(t)
	reader := e.account("reader", "telemetry-reader")
	cases := []struct {
		name, token, query, code string
	}{
		{"anonymous read is unauthenticated", "", `{ telemetrySnapshots { count } }`, "UNAUTHENTICATED"},
		{"a bad token is unauthenticated", "garbage", `{ me { id } }`, "UNAUTHENTICATED"},
		{"a reader managing accounts is forbidden", reader, `{ accounts { id } }`, "FORBIDDEN"},
		{"a reader running the workflow is forbidden", reader, `mutation { runTelemetryWorkflow { id } }`, "FORBIDDEN"},
		{"a bad limit is bad input", reader, `{ telemetrySnapshots(limit: 0) { count } }`, "BAD_USER_INPUT"},
		{"start after end is bad input", reader, `{ telemetrySnapshots(startDate: "2026-02-02", endDate: "2026-02-01") { count } }`, "BAD_USER_INPUT"},
		{"a date that is no date is bad input", reader, `{ telemetrySnapshots(startDate: "soon") { count } }`, "BAD_USER_INPUT"},
		{"sending an unknown snapshot is not found", e.admin, `mutation { sendTelemetrySnapshot(id: "0f8e2a4c-3b1d-4e5f-9a7b-1c2d3e4f5a6b") { id } }`, "NOT_FOUND"},
		{"a second account of one name conflicts", e.admin, `mutation { createAccount(username: "reader", password: "long enough password") { id } }`, "CONFLICT"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, res := e.graphql(tc.token, tc.query, nil)
			require.NotEmpty(t, out.Errors, "body: %s", res.body)
			assert.Equal(t, tc.code, out.code(), "body: %s", res.body)
		})
	}
	t.Run("bad input names the argument", func(t *testing.T) {
		out, _ := e.graphql(reader, `{ telemetrySnapshots(limit: 20000) { count } }`, nil)
		require.NotEmpty(t, out.Errors)
		assert.Contains(t, out.Errors[0].Message, "limit")
	})
	t.Run("throttled logins are too many requests", func(t *testing.T) {
		var out gqlResult
		for range 6 {
			out, _ = e.graphql("", `mutation { login(username: "reader", password: "wrong password!") { accessToken } }`, nil)
		}
		assert.Equal(t, "TOO_MANY_REQUESTS", out.code())
	})
}

func TestGraphQLMissingSnapshotIsNull(t *testing.T) {
	e := start(t)
	var data struct {
		TelemetrySnapshot *struct{ ID string } `json:"telemetrySnapshot"`
	}
	e.mustGraphQL(e.admin, `{ telemetrySnapshot(id: "0f8e2a4c-3b1d-4e5f-9a7b-1c2d3e4f5a6b") { id } }`, nil, &data)
	assert.Nil(t, data.TelemetrySnapshot)
}

func TestRunAndSendThroughGraphQL(t *testing.T) {
	e := start(t)
	var run struct {
		RunTelemetryWorkflow struct {
			ID               string `json:"id"`
			ChecksumValid    bool   `json:"checksumValid"`
			RemoteSendStatus string `json:"remoteSendStatus"`
		} `json:"runTelemetryWorkflow"`
	}
	e.mustGraphQL(e.admin, `mutation { runTelemetryWorkflow { id checksumValid remoteSendStatus } }`, nil, &run)
	assert.True(t, run.RunTelemetryWorkflow.ChecksumValid)
	assert.Equal(t, "SKIPPED", run.RunTelemetryWorkflow.RemoteSendStatus, "remote sending is off by default")

	var again struct {
		RunTelemetryWorkflow struct{ ID string } `json:"runTelemetryWorkflow"`
	}
	e.mustGraphQL(e.admin, `mutation { runTelemetryWorkflow { id } }`, nil, &again)
	assert.Equal(t, run.RunTelemetryWorkflow.ID, again.RunTelemetryWorkflow.ID, "one snapshot a day")

	var sent struct {
		SendTelemetrySnapshot struct {
			RemoteSendStatus string  `json:"remoteSendStatus"`
			RemoteSendAt     *string `json:"remoteSendAt"`
		} `json:"sendTelemetrySnapshot"`
	}
	e.mustGraphQL(e.admin, `mutation($id: ID!) { sendTelemetrySnapshot(id: $id) { remoteSendStatus remoteSendAt } }`,
		map[string]any{"id": run.RunTelemetryWorkflow.ID}, &sent)
	assert.Equal(t, "SKIPPED", sent.SendTelemetrySnapshot.RemoteSendStatus)
	require.NotNil(t, sent.SendTelemetrySnapshot.RemoteSendAt)
	_, err := time.Parse(time.RFC3339, *sent.SendTelemetrySnapshot.RemoteSendAt)
	assert.NoError(t, err)
}

func TestAReaderSeesItsOwnRoles(t *testing.T) {
	e := start(t)
	reader := e.account("reader", "telemetry-reader")
	var data struct {
		Me struct {
			Roles []struct {
				Name        string
				Permissions []string
			}
		}
	}
	e.mustGraphQL(reader, `{ me { roles { name permissions } } }`, nil, &data)
	require.Len(t, data.Me.Roles, 1)
	assert.Equal(t, "telemetry-reader", data.Me.Roles[0].Name)
	assert.Equal(t, []string{"READ_TELEMETRY"}, data.Me.Roles[0].Permissions)
}

// TestNodesRenderAsTheExecutorDoes compares each node of a page, which
// graph's own renderer writes, with the same snapshot read through
// telemetrySnapshot(id:), which gqlgen's executor writes, byte for byte,
// for selections that use every field, aliases, repeats, fragments and
// directives; and checks that a deferred selection still gets the
// executor's answer.
func TestNodesRenderAsTheExecutorDoes(t *testing.T) {
	e := start(t)
	ctx := context.Background()
	var snaps []*telemetryd.Snapshot
	var prev *telemetryd.Snapshot
	for i, data := range []string{
		`{"html":"<b>&amp;</b>","line":"a\u2028b","accent":"é","quote":"\"q\""}`,
		`{"n":1e3,"nested":{"list":[1,2.5,null,true],"empty":{}}}`,
		`{}`,
	} {
		s := telemetryd.NewSnapshot("dep-render", "1.2.3", []byte(data), time.Date(2026, 3, 1+i, 12, 0, 0, 123456000, time.UTC), prev)
		require.NoError(t, s.Seal())
		snaps, prev = append(snaps, s), s
	}
	_, err := e.store.ImportSnapshots(ctx, store.Batch(snaps))
	require.NoError(t, err)
	_, err = e.store.UpdateSendStatus(ctx, snaps[1].ID, telemetryd.SendFailed, time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC), `endpoint said "no" <500>`)
	require.NoError(t, err)

	for _, sel := range []string{
		snapshotFields + ` __typename`,
		`a: id b: id id kind kind k: kind data d: data __typename t: __typename`,
		`...F ... on TelemetrySnapshot { remoteSendAt remoteSendError id }`,
		`id checksum @skip(if: $yes) previousChecksum @include(if: $yes) version @include(if: $no) createdAt`,
	} {
		params, vars, fragment := "", map[string]any{}, ""
		if strings.Contains(sel, "$yes") {
			params, vars["yes"], vars["no"] = "$yes: Boolean!, $no: Boolean!, ", true, false
		}
		if strings.Contains(sel, "...F") {
			fragment = ` fragment F on TelemetrySnapshot { checksum previousChecksum checksumValid remoteSendStatus }`
		}
		var page struct {
			TelemetrySnapshots struct{ Nodes []json.RawMessage } `json:"telemetrySnapshots"`
		}
		e.mustGraphQL(e.admin, `query(`+params+`$dep: String) {
			telemetrySnapshots(deploymentId: $dep, limit: 10) { nodes { `+sel+` } } }`+fragment,
			merge(vars, map[string]any{"dep": "dep-render"}), &page)
		require.Len(t, page.TelemetrySnapshots.Nodes, len(snaps), sel)
		for i, node := range page.TelemetrySnapshots.Nodes {
			var one struct {
				TelemetrySnapshot json.RawMessage `json:"telemetrySnapshot"`
			}
			// The page is newest first.
			e.mustGraphQL(e.admin, `query(`+params+`$id: ID!) { telemetrySnapshot(id: $id) { `+sel+` } }`+fragment,
				merge(vars, map[string]any{"id": snaps[len(snaps)-1-i].ID}), &one)
			require.Equal(t, string(one.TelemetrySnapshot), string(node), sel)
		}
	}

	// A deferred field is left to the executor, which answers it.
	out, res := e.graphql(e.admin, `{ telemetrySnapshots(deploymentId: "dep-render", limit: 1) { nodes { id ... @defer { checksum } } } }`, nil)
	require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
	require.Empty(t, out.Errors, "body: %s", res.body)
	assert.Contains(t, string(out.Data), snaps[len(snaps)-1].ID)
}

// merge returns the members of a and b in one new map.
func merge(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}
