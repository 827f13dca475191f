package telemetryd_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/telemetryd/telemetryd"
)

// dailyChain returns n linked snapshots of a deployment, one a day from start.
func dailyChain(n int, start time.Time) []*telemetryd.Snapshot {
	var out []*telemetryd.Snapshot
	var prev *telemetryd.Snapshot
	for i := range n {
		s := telemetryd.NewSnapshot("dep-a", "0.1.0", []byte(`{}`), start.AddDate(0, 0, i), prev)
		_ = s.Seal()
		out = append(out, s)
		prev = s
	}
	return out
}

func TestDeploymentSummary(t *testing.T) {
	start := time.Date(2026, 3, 1, 2, 0, 0, 0, time.UTC)
	c := dailyChain(5, start)

	t.Run("a gap breaks the chain until the late arrival fills it", func(t *testing.T) {
		d := telemetryd.Summarize([]*telemetryd.Snapshot{c[0], c[1], c[3], c[4]})
		assert.False(t, d.ChainIntact())
		assert.Equal(t, 1, d.MissingDays())
		d = d.Add(c[2], telemetryd.Neighbours{Older: c[1], Newer: c[3]})
		assert.True(t, d.ChainIntact())
		assert.Equal(t, 0, d.MissingDays())
		assert.Equal(t, 5, d.SnapshotCount)
	})

	t.Run("dropping the oldest snapshots takes their breaks along", func(t *testing.T) {
		d := telemetryd.Summarize([]*telemetryd.Snapshot{c[0], c[2], c[3], c[4]}) // day 2 never came
		assert.False(t, d.ChainIntact())
		d = d.Drop([]*telemetryd.Snapshot{c[0]}, c[2])
		assert.True(t, d.ChainIntact(), "day 3 anchors the chain now")
		assert.Equal(t, 3, d.SnapshotCount)
		assert.Equal(t, c[2].CreatedAt, d.FirstSeen)
		assert.Nil(t, d.Drop([]*telemetryd.Snapshot{c[2], c[3], c[4]}, nil), "nothing left, no summary")
	})

	t.Run("the newest snapshot names the latest version, whatever the order of arrival", func(t *testing.T) {
		newer := telemetryd.NewSnapshot("dep-a", "0.2.0", []byte(`{}`), start.AddDate(0, 0, 9), c[4])
		d := telemetryd.Summarize([]*telemetryd.Snapshot{c[4]}).Add(newer, telemetryd.Neighbours{Older: c[4]})
		d = d.Add(c[3], telemetryd.Neighbours{Newer: c[4]})
		assert.Equal(t, "0.2.0", d.LatestVersion)
		assert.Equal(t, 4, d.MissingDays(), "days 6 to 9")
		assert.Equal(t, c[3].CreatedAt, d.FirstSeen)
	})
}
