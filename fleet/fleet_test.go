package fleet_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
	"github.com/telemetryd/telemetryd/fleet"
	"github.com/telemetryd/telemetryd/store/embedded"
	"github.com/telemetryd/telemetryd/store/storetest"
)

func reader() context.Context {
	return auth.NewContext(context.Background(), &auth.Principal{Username: "reader", Permissions: []telemetryd.Permission{telemetryd.ReadTelemetry}})
}

func TestDeploymentsNamesTheBadParameter(t *testing.T) {
	st, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	svc := &fleet.Service{Store: st}
	for name, req := range map[string]fleet.ListRequest{
		"seenSince": {SeenSince: "last tuesday", Limit: 10},
		"limit":     {Limit: telemetryd.MaxLimit + 1},
		"offset":    {Limit: 10, Offset: -1},
	} {
		_, _, err := svc.Deployments(reader(), req)
		assert.Equal(t, telemetryd.EINVALID, telemetryd.ErrorCode(err), name)
		assert.ErrorContains(t, err, name)
	}
	_, _, err = svc.Deployments(context.Background(), fleet.ListRequest{Limit: 10})
	assert.Equal(t, telemetryd.EUNAUTHENTICATED, telemetryd.ErrorCode(err), "an anonymous caller sees no fleet")
}

func TestReceiveStampsTheSnapshotSentWhenItArrived(t *testing.T) {
	st, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	arrived := time.Date(2026, 3, 2, 9, 30, 0, 123456789, time.UTC)
	svc := &fleet.Service{Store: st, Now: func() time.Time { return arrived }}
	s := storetest.NewSnapshot(t, "dep-a", arrived.Add(-time.Hour), nil, 100)

	got, created, err := svc.Receive(context.Background(), s.RemoteBody())

	require.NoError(t, err)
	assert.True(t, created)
	assert.Equal(t, telemetryd.SendSent, got.RemoteSendStatus)
	assert.Equal(t, telemetryd.Microseconds(arrived), got.RemoteSendAt)
	stored, err := st.Snapshot(context.Background(), s.ID)
	require.NoError(t, err)
	assert.Equal(t, got.RemoteSendAt, stored.RemoteSendAt)
}

func TestReceiveRefusesTheReceiversOwnDeployment(t *testing.T) {
	st, err := embedded.Open(t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	svc := &fleet.Service{Store: st, Self: "dep-self"}

	_, _, err = svc.Receive(context.Background(), storetest.NewSnapshot(t, "dep-self", time.Now(), nil, 100).RemoteBody())

	assert.Equal(t, telemetryd.EINVALID, telemetryd.ErrorCode(err))
	assert.ErrorContains(t, err, "deployment_id")
	_, count, err := storetest.List(context.Background(), st, telemetryd.Filter{Limit: 10})
	require.NoError(t, err)
	assert.Zero(t, count)
}
