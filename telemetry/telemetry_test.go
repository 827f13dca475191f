package telemetry_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/telemetry"
)

func TestCheckLimitsNamesLimitAndOffset(t *testing.T) {
	cases := []struct {
		name   string
		filter telemetryd.Filter
		want   string // "" when the filter is fine
	}{
		{"limit zero", telemetryd.Filter{Limit: 0}, "limit"},
		{"limit too large", telemetryd.Filter{Limit: telemetryd.MaxLimit + 1}, "limit"},
		{"negative offset", telemetryd.Filter{Limit: 10, Offset: -1}, "offset"},
		{"smallest page", telemetryd.Filter{Limit: 1}, ""},
		{"largest page far in", telemetryd.Filter{Limit: telemetryd.MaxLimit, Offset: 1 << 30}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := telemetry.CheckLimits(tc.filter)
			if tc.want == "" {
				assert.NoError(t, err)
				return
			}
			assert.Equal(t, telemetryd.EINVALID, telemetryd.ErrorCode(err))
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}
