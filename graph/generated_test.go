package graph

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestGeneratedCodeIsCurrent fails when schema.graphqls changed without
// `make generate`: gqlgen embeds the schema it generated from.
func TestGeneratedCodeIsCurrent(t *testing.T) {
	schema, err := os.ReadFile("../schema.graphqls")
	require.NoError(t, err)
	require.Len(t, sources, 1)
	require.Equal(t, string(schema), sources[0].Input, "graph/generated.go is stale: run `make generate`")
}

// TestNodesBypassTheExecutor fails when graph/generated.go was made by
// gqlgen alone: `make generate` then has tools/fastnodes hand lists of
// snapshots to renderSnapshots.
func TestNodesBypassTheExecutor(t *testing.T) {
	src, err := os.ReadFile("generated.go")
	require.NoError(t, err)
	require.Contains(t, string(src), "if m, ok := ec.renderSnapshots(ctx, sel, v); ok {", "graph/generated.go lacks the call to renderSnapshots: run `make generate`")
}
