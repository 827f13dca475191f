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
