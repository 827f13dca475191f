package graph

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
)

func TestChecksumVerdictsFollowTheContent(t *testing.T) {
	ctx := context.Background()
	verdicts := newChecksumVerdicts()
	s := telemetryd.NewSnapshot("dep", "0.1.0", json.RawMessage(`{"a":1}`), time.Now(), nil)
	require.NoError(t, s.Seal())
	assert.True(t, verdicts.valid(ctx, s))
	assert.True(t, verdicts.valid(ctx, s), "the remembered verdict")

	tampered := *s
	tampered.Data = json.RawMessage(`{"a":2}`)
	assert.False(t, verdicts.valid(ctx, &tampered), "changed content must be verified afresh")

	resealed := tampered
	require.NoError(t, resealed.Seal())
	assert.True(t, verdicts.valid(ctx, &resealed))
	assert.False(t, verdicts.valid(ctx, &tampered))
}
