package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fragmentBomb is a document of about 1 KB whose every fragment spreads
// the next one twice: expanded, it selects __typename 2^n times.
func fragmentBomb(n int) string {
	var b strings.Builder
	b.WriteString("{ ...F0 }")
	for i := range n {
		fmt.Fprintf(&b, " fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
	}
	fmt.Fprintf(&b, " fragment F%d on Query { __typename }", n)
	return b.String()
}

// graphqlWithin posts an anonymous query and fails the test when no answer
// comes before the deadline: refusals must not cost the server seconds.
func (e *env) graphqlWithin(deadline time.Duration, query string) gqlResult {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	body, err := json.Marshal(map[string]any{"query": query})
	require.NoError(e.t, err)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.url+"/graphql", bytes.NewReader(body))
	require.NoError(e.t, err)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err, "no answer within %s", deadline)
	defer res.Body.Close()
	var out gqlResult
	require.NoError(e.t, json.NewDecoder(res.Body).Decode(&out))
	return out
}

func TestExpensiveDocumentsAreRefusedBeforeTheyCostAnything(t *testing.T) {
	e := start(t)
	cases := []struct {
		name, query string
	}{
		{"a fragment bomb of 2^40 selections in 1 KB", fragmentBomb(40)},
		{"a fragment bomb of 2^62 selections", fragmentBomb(62)},
		{"9,000 copies of one field", "{" + strings.Repeat(" __typename", 9000) + " }"},
		{"2,400 copies of one nested field", "{" + strings.Repeat(" me { username }", 2400) + " }"},
		{"an unused fragment of 9,000 fields", "{ __typename } fragment U on Query {" + strings.Repeat(" __typename", 9000) + " }"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Before the limits, each of these took from seconds to hours.
			out := e.graphqlWithin(5*time.Second, tc.query)
			require.NotEmpty(t, out.Errors)
			assert.Contains(t, out.Errors[0].Message, "selections")
			assert.Equal(t, "BAD_USER_INPUT", out.code())
			assert.JSONEq(t, "null", string(out.Data))
		})
	}
	t.Run("nesting through fragments counts toward the depth limit", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("{ __schema { types { ...T0 } } }")
		for i := range 16 {
			fmt.Fprintf(&b, " fragment T%d on __Type { ofType { ...T%d } }", i, i+1)
		}
		b.WriteString(" fragment T16 on __Type { name }")
		out, _ := e.graphql(e.admin, b.String(), nil)
		require.NotEmpty(t, out.Errors)
		assert.Contains(t, out.Errors[0].Message, "levels deep")
		assert.Equal(t, "BAD_USER_INPUT", out.code())
	})
	t.Run("ordinary documents with fragments still run", func(t *testing.T) {
		var data struct {
			Me struct{ Username string } `json:"me"`
		}
		e.mustGraphQL(e.admin, `{ ...A ...A } fragment A on Query { me { ...B } } fragment B on Account { username }`, nil, &data)
		assert.Equal(t, "admin", data.Me.Username)
	})
}

func TestErrorsEchoLittleOfWhatTheCallerSent(t *testing.T) {
	e := start(t)
	post := func(body string) response {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, e.url+"/graphql", strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		return e.do(req)
	}
	t.Run("a batched body of 80 KB", func(t *testing.T) {
		item := `{"query":"{ __typename }","variables":{"pad":"` + strings.Repeat("x", 1000) + `"}}`
		res := post("[" + strings.Repeat(item+",", 80) + item + "]")
		assert.Equal(t, http.StatusBadRequest, res.status)
		assert.Less(t, len(res.body), 2048, "body: %.300s", res.body)
		assert.True(t, strings.Contains(string(res.body), "truncated"), "body: %.300s", res.body)
	})
	t.Run("a DateTime of 900 KB", func(t *testing.T) {
		out, res := e.graphql(e.admin, `query($d: DateTime) { telemetrySnapshots(startDate: $d) { count } }`,
			map[string]any{"d": "2026-" + strings.Repeat("9", 900<<10)})
		require.NotEmpty(t, out.Errors, "body: %.300s", res.body)
		assert.Equal(t, "BAD_USER_INPUT", out.code())
		assert.Less(t, len(res.body), 2048, "body: %.300s", res.body)
	})
	t.Run("15 KB of unknown directives", func(t *testing.T) {
		out, res := e.graphql("", "{ __typename"+strings.Repeat(" @foo", 3000)+" }", nil)
		require.NotEmpty(t, out.Errors)
		assert.LessOrEqual(t, len(out.Errors), 21)
		assert.Contains(t, out.Errors[len(out.Errors)-1].Message, "more errors")
		assert.Less(t, len(res.body), 16<<10, "the errors must not outweigh the request")
	})
	t.Run("a REST date of 60 KB", func(t *testing.T) {
		res := e.get("/api/telemetry/snapshots?start_date=2026-"+strings.Repeat("9", 60<<10), e.admin)
		assert.Equal(t, http.StatusUnprocessableEntity, res.status)
		assert.Less(t, len(res.body), 2048, "body: %.300s", res.body)
		assert.Contains(t, res.errorMessage(t), "start_date")
	})
}

func TestAnonymousCallersGetNoSuggestions(t *testing.T) {
	e := start(t)
	cases := []struct{ name, query, hidden string }{
		{"argument names", `{ telemetrySnapshots(limt: 5) { count } }`, `"limit"`},
		{"enum values", `mutation { createRole(name: "x", permissions: [SUPER_ADMN]) { name } }`, "SUPER_ADMIN"},
		{"type names of variables", `query($q: Querz) { __typename }`, `"Query"`},
		{"type names of fragments", `{ ... on Querz { __typename } }`, `"Query"`},
		{"field names", `{ telemetrySnapshot(id: "x") { checksm } }`, `"checksum"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, res := e.graphql("", tc.query, nil)
			require.NotEmpty(t, out.Errors, "body: %s", res.body)
			assert.NotContains(t, string(res.body), "Did you mean")
			assert.NotContains(t, string(res.body), tc.hidden)
			assert.Equal(t, "BAD_USER_INPUT", out.code())
		})
	}
}

func TestAPITokensAndMutationsAreCapped(t *testing.T) {
	e := start(t)
	aliased := func(n, from int) string {
		var b strings.Builder
		b.WriteString("mutation {")
		for i := range n {
			fmt.Fprintf(&b, " t%d: createApiToken(name: \"t%d\") { id }", i, from+i)
		}
		b.WriteString(" }")
		return b.String()
	}
	t.Run("11 or 850 aliased mutations in one request", func(t *testing.T) {
		out, res := e.graphql(e.admin, aliased(11, 0), nil)
		require.NotEmpty(t, out.Errors, "body: %.300s", res.body)
		assert.Contains(t, out.Errors[0].Message, "at most 10 mutations per request")
		assert.Equal(t, "BAD_USER_INPUT", out.code())
		out, res = e.graphql(e.admin, aliased(850, 0), nil)
		require.NotEmpty(t, out.Errors, "body: %.300s", res.body)
		assert.Equal(t, "BAD_USER_INPUT", out.code())
		var data struct {
			APITokens []struct{ ID string } `json:"apiTokens"`
		}
		e.mustGraphQL(e.admin, `{ apiTokens { id } }`, nil, &data)
		assert.Empty(t, data.APITokens, "a refused request creates nothing")
	})
	t.Run("tokens past the cap of an account", func(t *testing.T) {
		for i := range 5 {
			e.mustGraphQL(e.admin, aliased(10, 10*i), nil, nil)
		}
		out, _ := e.graphql(e.admin, aliased(1, 50), nil)
		require.NotEmpty(t, out.Errors)
		assert.Equal(t, "CONFLICT", out.code())
		assert.Contains(t, out.Errors[0].Message, "50")

		var data struct {
			APITokens []struct{ ID string } `json:"apiTokens"`
		}
		e.mustGraphQL(e.admin, `{ apiTokens { id } }`, nil, &data)
		require.Len(t, data.APITokens, 50)
		e.mustGraphQL(e.admin, `mutation($id: ID!) { revokeApiToken(id: $id) }`, map[string]any{"id": data.APITokens[0].ID}, nil)
		e.mustGraphQL(e.admin, aliased(1, 51), nil, nil)
	})
}
