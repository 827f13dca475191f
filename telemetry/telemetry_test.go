package telemetry_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/telemetry"
)

func TestFilterNamesTheParameterAsEachAPICallsIt(t *testing.T) {
	cases := []struct {
		name              string
		req               telemetry.ListRequest
		restName, gqlName string
	}{
		{"bad start", telemetry.ListRequest{StartDate: "soon", Limit: 10}, "start_date", "startDate"},
		{"bad end", telemetry.ListRequest{EndDate: "2026-13-01", Limit: 10}, "end_date", "endDate"},
		{"start after end", telemetry.ListRequest{StartDate: "2026-02-02", EndDate: "2026-02-01", Limit: 10}, "start_date must not be after end_date", "startDate must not be after endDate"},
		{"limit too large", telemetry.ListRequest{Limit: telemetryd.MaxLimit + 1}, "limit", "limit"},
		{"negative offset", telemetry.ListRequest{Limit: 10, Offset: -1}, "offset", "offset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.req.Filter(telemetry.RESTParams)
			require.Error(t, err)
			assert.Equal(t, telemetryd.EINVALID, telemetryd.ErrorCode(err))
			assert.Contains(t, err.Error(), tc.restName)
			_, err = tc.req.Filter(telemetry.GraphQLParams)
			assert.Contains(t, err.Error(), tc.gqlName)
		})
	}
}

func TestFilterReadsBoundsAsTheContractSays(t *testing.T) {
	f, err := telemetry.ListRequest{StartDate: "2026-02-16", EndDate: "2026-02-16", Limit: 50, Offset: 5}.Filter(telemetry.RESTParams)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 2, 16, 0, 0, 0, 0, time.UTC), f.Start)
	assert.Equal(t, time.Date(2026, 2, 16, 23, 59, 59, 999999000, time.UTC), f.End)
	assert.Equal(t, 50, f.Limit)
	assert.Equal(t, 5, f.Offset)
}
