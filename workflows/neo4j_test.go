package workflows_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store/neo4j"
	"github.com/telemetryd/telemetryd/store/neo4j/neo4jtest"
)

// openSecondNeo4j opens another store on the database neo4jtest.Open
// emptied, as a second replica of the server would.
func openSecondNeo4j(t *testing.T) *neo4j.Store {
	t.Helper()
	cfg, _ := neo4jtest.Config()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := neo4j.Open(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestNeo4jTwoReplicasMakeOneSnapshot(t *testing.T) {
	replicas := []*neo4j.Store{neo4jtest.Open(t), nil}
	replicas[1] = openSecondNeo4j(t)
	recv := newReceiver(t, answer(http.StatusOK))
	clock := newClock(t, day1)

	results := runTogether(t,
		newRunner(replicas[0], newSender(t, recv.URL, true, 5*time.Second), clock),
		newRunner(replicas[1], newSender(t, recv.URL, true, 5*time.Second), clock))

	require.NotNil(t, results[0])
	require.NotNil(t, results[1])
	assert.Equal(t, results[0].ID, results[1].ID, "both replicas return the one snapshot of the day")
	assert.Len(t, snapshots(t, replicas[0]), 1)
	assert.Equal(t, int32(1), recv.hits.Load(), "only the replica that stored it sends it")
}

func TestNeo4jFailedSendIsSentByTheNextDaysBacklog(t *testing.T) {
	ctx := context.Background()
	st := neo4jtest.Open(t)
	clock := newClock(t, day1)
	recv, recovered := newFailingReceiver(t, http.StatusInternalServerError)
	runner := newRunner(st, newSender(t, recv.URL, true, 5*time.Second), clock)

	failed, err := runner.RunOnce(ctx)
	require.NoError(t, err)
	assert.Equal(t, telemetryd.SendFailed, failed.RemoteSendStatus)
	assert.Equal(t, "receiver answered 500 Internal Server Error", failed.RemoteSendError)

	clock.Advance(time.Hour)
	restarted := newRunner(st, newSender(t, recv.URL, true, 5*time.Second), clock)
	again, err := restarted.RunOnce(ctx)
	require.NoError(t, err)
	assert.Equal(t, failed.ID, again.ID, "a restart on the same day makes no second snapshot")

	recovered.Store(true)
	clock.Advance(24 * time.Hour)
	runScheduledDay(t, restarted, clock)
	today, err := st.LatestSnapshot(ctx, testDeployment)
	require.NoError(t, err)
	assert.Equal(t, telemetryd.SendSent, today.RemoteSendStatus)
	assert.Equal(t, failed.Checksum, today.PreviousChecksum)
	resent, err := st.Snapshot(ctx, failed.ID)
	require.NoError(t, err)
	assert.Equal(t, telemetryd.SendSent, resent.RemoteSendStatus)
	assert.Len(t, snapshots(t, st), 2)
}
