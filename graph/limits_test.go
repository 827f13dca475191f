package graph_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd/graph"
)

// BenchmarkDocumentLimits measures what documents at and past the limits
// cost an anonymous caller, validation included. Run it with
// go test -run - -bench DocumentLimits ./graph/
func BenchmarkDocumentLimits(b *testing.B) {
	h, err := graph.NewHandler(&graph.Resolver{}, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	require.NoError(b, err)
	bomb := func(n int) string {
		var s strings.Builder
		s.WriteString("{ ...F0 }")
		for i := range n {
			fmt.Fprintf(&s, " fragment F%d on Query { ...F%d ...F%d }", i, i+1, i+1)
		}
		fmt.Fprintf(&s, " fragment F%d on Query { __typename }", n)
		return s.String()
	}
	cases := []struct{ name, query string }{
		{"refused/fragment-bomb-28", bomb(28)},
		{"refused/typename-x9000", "{" + strings.Repeat(" __typename", 9000) + " }"},
		{"refused/me-username-x2400", "{" + strings.Repeat(" me { username }", 2400) + " }"},
		{"accepted/typename-x500", "{" + strings.Repeat(" __typename", 500) + " }"},
		{"accepted/me-username-x250", "{" + strings.Repeat(" me { username }", 250) + " }"},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				// A new document each time, so the query cache does not
				// answer: a comment is part of the cache key.
				n++
				body, err := json.Marshal(map[string]any{"query": fmt.Sprintf("# %d\n%s", n, tc.query)})
				require.NoError(b, err)
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(body)))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
			}
		})
	}
}
