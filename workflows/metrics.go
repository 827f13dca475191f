package workflows

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/telemetryd/telemetryd"
)

// Outcomes of the telemetryd_telemetry_snapshots_total counter.
const (
	SnapshotCreated  = "created"
	SnapshotExisting = "existing"
	SnapshotFailed   = "failed"
)

// Metrics counts what the workflow does. A nil *Metrics counts nothing.
type Metrics struct {
	sends        *prometheus.CounterVec
	snapshots    *prometheus.CounterVec
	lastSnapshot prometheus.Gauge
}

// NewMetrics returns the workflow's metrics, registered on reg when reg
// is not nil. It panics when reg already holds them, as
// prometheus.MustRegister does: that is a wiring mistake.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetryd_telemetry_sends_total",
			Help: "Remote sends of telemetry snapshots, by outcome: sent, failed or skipped.",
		}, []string{"outcome"}),
		snapshots: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "telemetryd_telemetry_snapshots_total",
			Help: "Daily telemetry runs, by outcome: created (a new snapshot), existing (today's was already stored) or failed.",
		}, []string{"outcome"}),
		lastSnapshot: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "telemetryd_telemetry_last_snapshot_timestamp_seconds",
			Help: "Creation time of the newest telemetry snapshot this process created or found, in Unix seconds.",
		}),
	}
	// Every outcome shows from the start, so a rate over a series that has
	// not happened yet reads 0 instead of nothing.
	for _, s := range []telemetryd.SendStatus{telemetryd.SendSent, telemetryd.SendFailed, telemetryd.SendSkipped} {
		m.sends.WithLabelValues(string(s))
	}
	for _, o := range []string{SnapshotCreated, SnapshotExisting, SnapshotFailed} {
		m.snapshots.WithLabelValues(o)
	}
	if reg != nil {
		reg.MustRegister(m.sends, m.snapshots, m.lastSnapshot)
	}
	return m
}

func (m *Metrics) countSend(s telemetryd.SendStatus) {
	if m != nil {
		m.sends.WithLabelValues(string(s)).Inc()
	}
}

func (m *Metrics) countSnapshot(outcome string) {
	if m != nil {
		m.snapshots.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) snapshotAt(t time.Time) {
	if m != nil {
		m.lastSnapshot.Set(float64(t.UnixMicro()) / 1e6)
	}
}
