package workflows_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/internal/logbuffer"
	"github.com/telemetryd/telemetryd/workflows"
)

func TestRunOnceStoresASealedChainedSnapshot(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clock := newClock(t, day1)
	runner := newRunner(st, offSender(t), clock)

	first, err := runner.RunOnce(ctx)
	require.NoError(t, err)
	assert.Equal(t, testDeployment, first.DeploymentID)
	assert.Equal(t, telemetryd.Version, first.Version)
	assert.Equal(t, day1, first.CreatedAt)
	assert.Empty(t, first.PreviousChecksum, "a deployment's first snapshot starts the chain")
	require.NoError(t, first.Validate())

	clock.Advance(24 * time.Hour)
	second, err := runner.RunOnce(ctx)
	require.NoError(t, err)
	assert.Equal(t, first.Checksum, second.PreviousChecksum, "the next day chains to the first")

	v := telemetryd.NewVerifier()
	for _, s := range snapshots(t, st) {
		v.Add(s)
	}
	assert.Empty(t, v.Problems())
	assert.Equal(t, 2, v.Count())
}

func TestRestartOnTheSameDayMakesNoSecondSnapshot(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clock := newClock(t, day1)
	first, err := newRunner(st, offSender(t), clock).RunOnce(ctx)
	require.NoError(t, err)

	clock.Advance(13*time.Hour + 59*time.Minute) // 23:59, still the same UTC day
	reg := prometheus.NewRegistry()
	restarted := newRunner(st, offSender(t), clock)
	restarted.Metrics = workflows.NewMetrics(reg)
	again, err := restarted.RunOnce(ctx)
	require.NoError(t, err)

	assert.Equal(t, first.ID, again.ID)
	assert.Len(t, snapshots(t, st), 1)
	assert.Equal(t, 1.0, metricValue(t, reg, "telemetryd_telemetry_snapshots_total", workflows.SnapshotExisting))
	assert.Equal(t, float64(day1.Unix()), metricValue(t, reg, "telemetryd_telemetry_last_snapshot_timestamp_seconds", ""))
}

func TestTwoRunnersOnOneStoreMakeOneSnapshot(t *testing.T) {
	st := openStore(t)
	clock := newClock(t, day1)
	recv := newReceiver(t, answer(http.StatusOK))
	reg := prometheus.NewRegistry()
	metrics := workflows.NewMetrics(reg)

	runners := make([]*workflows.Runner, 2)
	for i := range runners {
		runners[i] = newRunner(st, newSender(t, recv.URL, true, time.Second), clock)
		runners[i].Metrics = metrics
	}
	results := runTogether(t, runners...)

	require.NotNil(t, results[0])
	require.NotNil(t, results[1])
	assert.Equal(t, results[0].ID, results[1].ID, "both runners return the one snapshot of the day")
	assert.Len(t, snapshots(t, st), 1)
	assert.Equal(t, int32(1), recv.hits.Load(), "only the runner that stored it sends it")
	assert.Equal(t, 1.0, metricValue(t, reg, "telemetryd_telemetry_snapshots_total", workflows.SnapshotCreated))
	assert.Equal(t, 1.0, metricValue(t, reg, "telemetryd_telemetry_snapshots_total", workflows.SnapshotExisting))
}

// racedStore hides the deployment's latest snapshot from the first
// lookup, as when another replica stores today's between this runner's
// lookup and its write.
type racedStore struct {
	workflows.Store
	raced atomic.Bool
}

func (s *racedStore) LatestSnapshot(ctx context.Context, deploymentID string) (*telemetryd.Snapshot, error) {
	if s.raced.CompareAndSwap(false, true) {
		return nil, telemetryd.Errorf(telemetryd.ENOTFOUND, "not yet")
	}
	return s.Store.LatestSnapshot(ctx, deploymentID)
}

func TestADayConflictReturnsTheOtherReplicasSnapshot(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	other := storeSnapshot(t, st, day1.Add(-time.Hour), telemetryd.SendSent)
	recv := newReceiver(t, answer(http.StatusOK))
	runner := newRunner(&racedStore{Store: st}, newSender(t, recv.URL, true, time.Second), newClock(t, day1))

	got, err := runner.RunOnce(ctx)
	require.NoError(t, err, "a day conflict is not an error")
	assert.Equal(t, other.ID, got.ID)
	assert.Len(t, snapshots(t, st), 1)
	assert.Zero(t, recv.hits.Load(), "the losing replica sends nothing")
}

func TestScheduledRunSendsTheBacklog(t *testing.T) {
	ctx := context.Background()

	t.Run("a failed snapshot is sent by a later day's run", func(t *testing.T) {
		st := openStore(t)
		clock := newClock(t, day1)
		recv, recovered := newFailingReceiver(t, http.StatusBadGateway)
		runner := newRunner(st, newSender(t, recv.URL, true, time.Second), clock)
		failed, err := runner.RunOnce(ctx)
		require.NoError(t, err)
		require.Equal(t, telemetryd.SendFailed, failed.RemoteSendStatus)

		recovered.Store(true)
		clock.Advance(24 * time.Hour)
		runScheduledDay(t, runner, clock)
		today, err := st.LatestSnapshot(ctx, testDeployment)
		require.NoError(t, err)
		assert.Equal(t, clock.Now(), today.CreatedAt)
		assert.Equal(t, telemetryd.SendSent, today.RemoteSendStatus)
		resent, err := st.Snapshot(ctx, failed.ID)
		require.NoError(t, err)
		assert.Equal(t, telemetryd.SendSent, resent.RemoteSendStatus)
		assert.Empty(t, resent.RemoteSendError)
		assert.Equal(t, clock.Now(), resent.RemoteSendAt)
		assert.Equal(t, int32(3), recv.hits.Load())
	})

	t.Run("at most seven are re-sent, oldest first", func(t *testing.T) {
		st := openStore(t)
		var failed []*telemetryd.Snapshot
		for i := range 9 {
			failed = append(failed, storeSnapshot(t, st, day1.AddDate(0, 0, i), telemetryd.SendFailed))
		}
		recv := newReceiver(t, answer(http.StatusOK))
		clock := newClock(t, day1.AddDate(0, 0, 9))
		runScheduledDay(t, newRunner(st, newSender(t, recv.URL, true, time.Second), clock), clock)

		for i, s := range failed {
			got, err := st.Snapshot(ctx, s.ID)
			require.NoError(t, err)
			want := telemetryd.SendSent
			if i >= workflows.BacklogLimit {
				want = telemetryd.SendFailed
			}
			assert.Equal(t, want, got.RemoteSendStatus, "snapshot of day %d", i)
		}
		var order []string
		for _, b := range recv.received()[1:] {
			var body struct{ ID string }
			require.NoError(t, json.Unmarshal(b, &body))
			order = append(order, body.ID)
		}
		var want []string
		for _, s := range failed[:workflows.BacklogLimit] {
			want = append(want, s.ID)
		}
		assert.Equal(t, want, order)
	})

	tests := []struct {
		name       string
		pendingAt  time.Time
		runAt      time.Time
		wantStatus telemetryd.SendStatus
	}{
		{
			name:       "a snapshot pending for over an hour is sent",
			pendingAt:  day1.Add(-24 * time.Hour),
			runAt:      day1,
			wantStatus: telemetryd.SendSent,
		},
		{
			name:       "a snapshot pending for less than an hour is left alone",
			pendingAt:  time.Date(2026, 11, 21, 23, 50, 0, 0, time.UTC),
			runAt:      time.Date(2026, 11, 22, 0, 20, 0, 0, time.UTC),
			wantStatus: telemetryd.SendPending,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			pending := storeSnapshot(t, st, tt.pendingAt, telemetryd.SendPending)
			recv := newReceiver(t, answer(http.StatusOK))
			clock := newClock(t, tt.runAt)
			r := newRunner(st, newSender(t, recv.URL, true, time.Second), clock)
			r.Schedule = -workflows.Jitter(testDeployment) // due at 00:00, so also at 00:20
			runScheduledDay(t, r, clock)
			got, err := st.Snapshot(ctx, pending.ID)
			require.NoError(t, err)
			assert.Equal(t, tt.wantStatus, got.RemoteSendStatus)
		})
	}
}

func TestRetentionPrunesOlderSnapshots(t *testing.T) {
	tests := []struct {
		name      string
		retention time.Duration
		wantKept  int
	}{
		{name: "zero keeps everything", retention: 0, wantKept: 4},
		{name: "two days keeps the last two days", retention: 2 * 24 * time.Hour, wantKept: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := openStore(t)
			for i := 3; i > 0; i-- {
				storeSnapshot(t, st, day1.AddDate(0, 0, -i), telemetryd.SendSkipped)
			}
			clock := newClock(t, day1)
			runner := newRunner(st, offSender(t), clock)
			runner.Retention = tt.retention
			runScheduledDay(t, runner, clock)

			kept := snapshots(t, st)
			assert.Len(t, kept, tt.wantKept)
			v := telemetryd.NewVerifier()
			for _, s := range kept {
				v.Add(s)
			}
			assert.Empty(t, v.Problems(), "the chain verifies from the oldest snapshot kept")
		})
	}
}

func TestPreviewIsTheNextSendsBody(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	clock := newClock(t, day1)
	recv := newReceiver(t, answer(http.StatusOK))
	runner := newRunner(st, newSender(t, recv.URL, true, time.Second), clock)
	latest, err := runner.RunOnce(ctx)
	require.NoError(t, err)

	clock.Advance(time.Hour)
	raw, err := runner.Preview(ctx)
	require.NoError(t, err)

	var preview telemetryd.Snapshot
	dec := json.NewDecoder(bytesReader(raw))
	require.NoError(t, dec.Decode(&preview), "the preview is a record")
	assert.Equal(t, clock.Now(), preview.CreatedAt, "sealed as if now")
	assert.Equal(t, latest.Checksum, preview.PreviousChecksum, "chained to the latest")
	assert.True(t, preview.ChecksumValid())
	var members map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &members))
	var sent map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(recv.received()[0], &sent))
	assert.Equal(t, keys(sent), keys(members), "the preview has the members a send posts")
	assert.Len(t, snapshots(t, st), 1, "a preview stores nothing")
	assert.Equal(t, int32(1), recv.hits.Load(), "a preview sends nothing")
}

func TestMisconfiguredRunnerFails(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	tests := []struct {
		name   string
		change func(*workflows.Runner)
	}{
		{name: "no deployment id fails", change: func(r *workflows.Runner) { r.DeploymentID = "" }},
		{name: "two sections of one name fail", change: func(r *workflows.Runner) {
			r.Sections = append(r.Sections, workflows.ProcessSection{})
		}},
		{name: "a section named collection_errors fails", change: func(r *workflows.Runner) {
			r.Sections = append(r.Sections, section{name: workflows.CollectionErrors})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRunner(st, offSender(t), newClock(t, day1))
			tt.change(r)
			_, err := r.RunOnce(ctx)
			assert.Error(t, err)
			assert.Error(t, r.Run(ctx))
			assert.Empty(t, snapshots(t, st))
		})
	}
}

// cancelAfterStore ends the run's context as soon as today's snapshot is
// stored, as when the request behind runTelemetryWorkflow times out then.
type cancelAfterStore struct {
	workflows.Store
	cancel context.CancelFunc
}

func (s *cancelAfterStore) CreateSnapshot(ctx context.Context, snap *telemetryd.Snapshot) error {
	err := s.Store.CreateSnapshot(ctx, snap)
	s.cancel()
	return err
}

func TestBacklogAndRetentionOutliveTheRequestThatMadeTheSnapshot(t *testing.T) {
	st := openStore(t)
	expired := storeSnapshot(t, st, day1.AddDate(0, 0, -10), telemetryd.SendSent)
	failed := storeSnapshot(t, st, day1.AddDate(0, 0, -1), telemetryd.SendFailed)
	recv := newReceiver(t, answer(http.StatusOK))
	clock := newClock(t, at(1, 0)) // before the day's scheduled run
	newDayRunner := func(st workflows.Store) *workflows.Runner {
		r := newRunner(st, newSender(t, recv.URL, true, time.Second), clock)
		r.Retention = 7 * 24 * time.Hour
		return r
	}

	request, cancel := context.WithCancel(context.Background())
	defer cancel()
	today, err := newDayRunner(&cancelAfterStore{Store: st, cancel: cancel}).RunOnce(request)
	require.NoError(t, err, "the snapshot was stored before the request ended")
	require.Error(t, request.Err())
	got, err := st.Snapshot(context.Background(), failed.ID)
	require.NoError(t, err)
	assert.True(t, got.Equal(failed), "the ended request left the backlog as it was")
	_, err = st.Snapshot(context.Background(), expired.ID)
	require.NoError(t, err, "the ended request pruned nothing")

	clock.Set(at(10, 0))
	runScheduledDay(t, newDayRunner(st), clock)

	got, err = st.Snapshot(context.Background(), failed.ID)
	require.NoError(t, err)
	assert.Equal(t, telemetryd.SendSent, got.RemoteSendStatus, "the day's scheduled run sent the backlog")
	assert.Equal(t, at(10, 0), got.RemoteSendAt)
	var sentIDs []string
	for _, b := range recv.received() {
		var body struct{ ID string }
		require.NoError(t, json.Unmarshal(b, &body))
		sentIDs = append(sentIDs, body.ID)
	}
	assert.Equal(t, []string{failed.ID}, sentIDs)
	_, err = st.Snapshot(context.Background(), expired.ID)
	assert.Equal(t, telemetryd.ENOTFOUND, telemetryd.ErrorCode(err), "the day's scheduled run pruned by retention")
	kept := snapshots(t, st)
	require.Len(t, kept, 2)
	assert.Equal(t, today.ID, kept[0].ID, "and made no second snapshot")
}

func TestRunOnceReadsTheClockOnce(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	start := time.Date(2026, 11, 22, 23, 59, 59, 500_000_000, time.UTC)
	clock := newClock(t, start)
	r := newRunner(st, offSender(t), clock)
	r.Sections = append(r.Sections, section{name: "slow", collect: func(context.Context) (any, error) {
		clock.Advance(time.Second) // the first run's collection ends past midnight
		return 1, nil
	}})

	snap, err := r.RunOnce(ctx)
	require.NoError(t, err)
	assert.Equal(t, start, snap.CreatedAt, "the snapshot is of the day the run checked")

	clock.Set(start.Add(10 * time.Hour))
	next, err := r.RunOnce(ctx)
	require.NoError(t, err)
	assert.NotEqual(t, snap.ID, next.ID, "the next day still gets its own snapshot")
	assert.Len(t, snapshots(t, st), 2)
}

func TestALatestSnapshotDatedAfterNowIsNotChainedTo(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	future := storeSnapshot(t, st, day1.AddDate(0, 0, 1), telemetryd.SendSkipped)
	logs := &logbuffer.Buffer{}
	r := newRunner(st, offSender(t), newClock(t, day1))
	r.Logger = slog.New(slog.NewTextHandler(logs, nil))

	got, err := r.RunOnce(ctx)
	require.NoError(t, err, "a clock behind the latest snapshot is no failure to retry")
	assert.Equal(t, future.ID, got.ID, "the latest snapshot is returned")
	assert.Contains(t, logs.String(), "dated after now")

	stored := snapshots(t, st)
	assert.Len(t, stored, 1, "no snapshot is chained after a newer one")
	v := telemetryd.NewVerifier()
	for _, s := range stored {
		v.Add(s)
	}
	assert.Empty(t, v.Problems())
}
