package telemetryd_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
)

// chain returns n sealed snapshots of one deployment, newest first.
func chain(t *testing.T, dep string, n int) []*telemetryd.Snapshot {
	t.Helper()
	out := make([]*telemetryd.Snapshot, n)
	var prev *telemetryd.Snapshot
	start := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	for i := range n {
		s := telemetryd.NewSnapshot(dep, "0.1.0", json.RawMessage(fmt.Sprintf(`{"day":%d}`, i)), start.AddDate(0, 0, i), prev)
		require.NoError(t, s.Seal())
		out[n-1-i] = s
		prev = s
	}
	return out
}

func verify(snaps ...*telemetryd.Snapshot) []telemetryd.Problem {
	v := telemetryd.NewVerifier()
	for _, s := range snaps {
		v.Add(s)
	}
	return v.Problems()
}

func TestVerifierFindsEveryKindOfDamage(t *testing.T) {
	t.Run("intact interleaved chains verify clean", func(t *testing.T) {
		a, b := chain(t, "a", 5), chain(t, "b", 5)
		var mixed []*telemetryd.Snapshot
		for i := range a {
			mixed = append(mixed, a[i], b[i])
		}
		assert.Empty(t, verify(mixed...))
	})

	t.Run("a retention cut verifies clean from the oldest kept", func(t *testing.T) {
		assert.Empty(t, verify(chain(t, "a", 6)[:3]...))
	})

	t.Run("altered content is a checksum mismatch of that id", func(t *testing.T) {
		c := chain(t, "a", 4)
		c[1].Data = json.RawMessage(`{"day":99}`)
		problems := verify(c...)
		require.Len(t, problems, 1)
		assert.Equal(t, c[1].ID, problems[0].ID)
		assert.Equal(t, telemetryd.ChecksumMismatch, problems[0].Kind)
		assert.Contains(t, problems[0].Message, "checksum mismatch")
	})

	t.Run("a resealed alteration breaks the link from the next newer", func(t *testing.T) {
		c := chain(t, "a", 4)
		c[2].Data = json.RawMessage(`{"day":99}`)
		require.NoError(t, c[2].Seal())
		problems := verify(c...)
		require.Len(t, problems, 1)
		assert.Equal(t, c[1].ID, problems[0].ID)
		assert.Equal(t, telemetryd.ChainBreak, problems[0].Kind)
		assert.Contains(t, problems[0].Message, "chain break")
	})

	t.Run("a deleted snapshot breaks the chain", func(t *testing.T) {
		c := chain(t, "a", 4)
		problems := verify(c[0], c[1], c[3])
		require.Len(t, problems, 1)
		assert.Equal(t, c[1].ID, problems[0].ID)
	})

	t.Run("records out of order are reported", func(t *testing.T) {
		c := chain(t, "a", 3)
		problems := verify(c[2], c[1], c[0])
		require.NotEmpty(t, problems)
		assert.Equal(t, telemetryd.ChainBreak, problems[0].Kind)
		assert.Contains(t, problems[0].Message, "out of order")
	})
}
