package graph

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// The POST transport writes what gqlgen's would (json.Marshal of the
// response) without re-encoding data.
func TestResponseIsWhatJSONMarshalWrites(t *testing.T) {
	yes := true
	for name, resp := range map[string]*graphql.Response{
		"data only": {Data: json.RawMessage(`{"telemetrySnapshots":{"count":2,"nodes":[{"id":"a","data":{"x":[1,2]}}]}}`)},
		"null data with errors": {Errors: gqlerror.List{{
			Message: "forbidden", Path: ast.Path{ast.PathName("telemetrySnapshots")},
			Extensions: map[string]any{"code": "FORBIDDEN"},
		}}},
		"data, errors and extensions": {
			Data:       json.RawMessage(`{"me":null}`),
			Errors:     gqlerror.List{{Message: "bad <input> & more", Extensions: map[string]any{"code": "BAD_USER_INPUT"}}},
			Extensions: map[string]any{"complexity": 3},
		},
		"incremental members": {Data: json.RawMessage(`{}`), Label: "l", Path: ast.Path{ast.PathIndex(0)}, HasNext: &yes},
	} {
		t.Run(name, func(t *testing.T) {
			want, err := json.Marshal(resp)
			require.NoError(t, err)
			var got bytes.Buffer
			writeResponse(&got, resp)
			assert.Equal(t, string(want), got.String())
		})
	}
}
