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
