package graph

import (
	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/telemetry"
)

// Snapshot is a TelemetrySnapshot as GraphQL shows it: the record as read,
// with its checksum verdict taken when it was read. Every field is a plain
// field or a method without a context, so gqlgen renders a snapshot inline
// instead of starting a goroutine for each resolver field of each record.
type Snapshot struct {
	*telemetryd.Snapshot
	// Valid is checksumValid: whether the checksum matches the sealed
	// members read.
	Valid bool
}

// NullablePreviousChecksum is previousChecksum: null for a deployment's
// first snapshot.
func (s *Snapshot) NullablePreviousChecksum() *string { return nullable(s.PreviousChecksum) }

// NullableRemoteSendAt is remoteSendAt: null until a send is attempted.
func (s *Snapshot) NullableRemoteSendAt() *DateTime { return newDateTime(s.RemoteSendAt) }

// NullableRemoteSendError is remoteSendError: null unless a send failed.
func (s *Snapshot) NullableRemoteSendError() *string { return nullable(s.RemoteSendError) }

// newSnapshot returns snap with its verdict, or nil for nil.
func newSnapshot(svc *telemetry.Service, snap *telemetryd.Snapshot) *Snapshot {
	if snap == nil {
		return nil
	}
	return &Snapshot{Snapshot: snap, Valid: svc.ChecksumValid(snap)}
}

// newSnapshots returns snaps with their verdicts, in one allocation.
func newSnapshots(svc *telemetry.Service, snaps []*telemetryd.Snapshot) []*Snapshot {
	all := make([]Snapshot, len(snaps))
	out := make([]*Snapshot, len(snaps))
	for i, snap := range snaps {
		all[i] = Snapshot{Snapshot: snap, Valid: svc.ChecksumValid(snap)}
		out[i] = &all[i]
	}
	return out
}
