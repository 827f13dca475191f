package telemetry_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/telemetry"
)

func TestChecksumValidFollowsTheContentRead(t *testing.T) {
	svc := &telemetry.Service{}
	s := telemetryd.NewSnapshot("dep", "0.1.0", json.RawMessage(`{"a":1}`), time.Now(), nil)
	require.NoError(t, s.Seal())
	assert.True(t, svc.ChecksumValid(s))
	assert.True(t, svc.ChecksumValid(s), "the remembered verdict")

	for name, change := range map[string]func(*telemetryd.Snapshot){
		"data":              func(s *telemetryd.Snapshot) { s.Data = json.RawMessage(`{"a":2}`) },
		"created_at":        func(s *telemetryd.Snapshot) { s.CreatedAt = s.CreatedAt.Add(time.Microsecond) },
		"deployment_id":     func(s *telemetryd.Snapshot) { s.DeploymentID = "other" },
		"previous_checksum": func(s *telemetryd.Snapshot) { s.PreviousChecksum = s.Checksum },
		"checksum":          func(s *telemetryd.Snapshot) { s.Checksum = strings.Repeat("0", 64) },
		// The same bytes moved from one member to the next.
		"member boundary": func(s *telemetryd.Snapshot) { s.Kind, s.PayloadFormat = s.Kind+s.PayloadFormat, "" },
	} {
		t.Run(name, func(t *testing.T) {
			tampered := *s
			change(&tampered)
			assert.False(t, svc.ChecksumValid(&tampered), "changed content must be verified afresh")
			resealed := tampered
			require.NoError(t, resealed.Seal())
			assert.True(t, svc.ChecksumValid(&resealed))
			assert.False(t, svc.ChecksumValid(&tampered))
		})
	}
	assert.True(t, svc.ChecksumValid(s))
}
