// Package fleet is the receiving end of remote telemetry: it checks and
// stores the snapshots other deployments send, and lists the deployments
// they came from, to callers allowed to read telemetry.
package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/auth"
)

// MaxSkew is how far in the future a received snapshot's created_at may
// lie: senders' clocks drift, but not by days.
const MaxSkew = 5 * time.Minute

// PayloadFormats are the payload formats a receiver understands.
var PayloadFormats = []string{telemetryd.PayloadFormat}

// Store is what the fleet needs of the storage; store.Store satisfies
// it.
type Store interface {
	ReceiveSnapshot(ctx context.Context, s *telemetryd.Snapshot) (created bool, err error)
	Deployments(ctx context.Context, f telemetryd.DeploymentFilter) ([]*telemetryd.Deployment, int, error)
}

// Service receives snapshots and lists deployments. Store is required.
type Service struct {
	Store Store
	// Self is the receiver's own deployment id: a snapshot claiming it is
	// refused, since it would take the place of one the receiver makes.
	Self string
	// Audit receives one line for every listing of the fleet; nil
	// discards them.
	Audit *slog.Logger
	// Now reads the clock; nil means time.Now.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// members are what a sender's body holds, in the contract's order; a
// record with its remote_send_* members (an exported one) is accepted,
// and those are replaced.
var (
	sealedMembers = []string{"id", "created_at", "kind", "payload_format", "deployment_id", "version", "data", "checksum", "previous_checksum"}
	sendMembers   = []string{"remote_send_status", "remote_send_at", "remote_send_error"}
)

// Receive checks body, the JSON object a sender POSTs, and stores the
// snapshot as sent at the time it arrived. created is false when the
// same snapshot (id and checksum) was received before: nothing changes
// then. EINVALID names the member that is wrong: a missing, unknown or
// mistyped member, an unknown payload_format, a checksum that does not
// verify, a created_at more than MaxSkew in the future, or the deployment
// id of the receiver itself. ECONFLICT for
// the same id with other content, or another snapshot of the deployment
// on that UTC day.
func (s *Service) Receive(ctx context.Context, body []byte) (snap *telemetryd.Snapshot, created bool, err error) {
	now := s.now()
	if snap, err = Decode(body, now); err != nil {
		return nil, false, err
	}
	if s.Self != "" && snap.DeploymentID == s.Self {
		return nil, false, telemetryd.Errorf(telemetryd.EINVALID, "deployment_id is this receiver's own deployment")
	}
	snap.RemoteSendStatus = telemetryd.SendSent
	snap.RemoteSendAt = telemetryd.Microseconds(now)
	snap.RemoteSendError = ""
	if created, err = s.Store.ReceiveSnapshot(ctx, snap); err != nil {
		return nil, false, err
	}
	return snap, created, nil
}

// Decode reads and checks a sender's body, as Receive does, with now as
// the receiver's clock. The snapshot's remote_send_* members are left
// as sent.
func Decode(body []byte, now time.Time) (*telemetryd.Snapshot, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil || members == nil {
		return nil, telemetryd.Errorf(telemetryd.EINVALID, "the body must be a JSON object: a snapshot record")
	}
	var reasons []string
	for name := range members {
		if !slices.Contains(sealedMembers, name) && !slices.Contains(sendMembers, name) {
			reasons = append(reasons, fmt.Sprintf("%s is not a member of a snapshot record", name))
		}
	}
	for _, name := range sealedMembers {
		raw, ok := members[name]
		switch {
		case !ok:
			reasons = append(reasons, name+" is missing")
		case name == "data":
			if !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("{")) {
				reasons = append(reasons, "data must be a JSON object")
			}
		case name == "previous_checksum" && string(raw) == "null":
		default:
			var str string
			if json.Unmarshal(raw, &str) != nil {
				reasons = append(reasons, name+" must be a string")
			}
		}
	}
	if len(reasons) > 0 {
		slices.Sort(reasons)
		return nil, telemetryd.Errorf(telemetryd.EINVALID, "%s", strings.Join(reasons, "; "))
	}
	snap := new(telemetryd.Snapshot)
	if err := snap.UnmarshalJSON(body); err != nil {
		// The members are all there and typed; what is left is the form of
		// a timestamp, which the message names.
		return nil, telemetryd.Errorf(telemetryd.EINVALID, "%s", strings.TrimPrefix(err.Error(), "decoding snapshot: "))
	}
	if !slices.Contains(PayloadFormats, snap.PayloadFormat) {
		return nil, telemetryd.Errorf(telemetryd.EINVALID, "payload_format %q is not one this receiver knows (%s)", snap.PayloadFormat, strings.Join(PayloadFormats, ", "))
	}
	if snap.CreatedAt.After(now.Add(MaxSkew)) {
		return nil, telemetryd.Errorf(telemetryd.EINVALID, "created_at %s lies more than %s in the future", snap.CreatedAt.Format(telemetryd.TimeLayout), MaxSkew)
	}
	// Validate wants a send status; the body has none of its own.
	check := *snap
	check.RemoteSendStatus = telemetryd.SendSent
	if err := check.Validate(); err != nil {
		return nil, err
	}
	return snap, nil
}

// DefaultDeploymentsLimit is the page size of a deployments listing that
// names none.
const DefaultDeploymentsLimit = 50

// ListRequest is a deployments listing as the caller asked for it.
type ListRequest struct {
	// SeenSince is an ISO 8601 date or date-time; empty lists every
	// deployment.
	SeenSince string
	Limit     int
	Offset    int
}

// Deployments returns one page of the fleet's deployments, newest last
// seen first, and how many match in all, from the summaries kept at
// ingest. It needs READ_TELEMETRY; EINVALID names a bad parameter.
func (s *Service) Deployments(ctx context.Context, req ListRequest) ([]*telemetryd.Deployment, int, error) {
	p, err := auth.Require(ctx, telemetryd.ReadTelemetry)
	if err != nil {
		return nil, 0, err
	}
	f := telemetryd.DeploymentFilter{Limit: req.Limit, Offset: req.Offset}
	if req.SeenSince != "" {
		if f.SeenSince, err = telemetryd.ParseStartDate(req.SeenSince); err != nil {
			return nil, 0, telemetryd.Errorf(telemetryd.EINVALID, "seenSince: %v", err)
		}
	}
	if f.Limit < 1 || f.Limit > telemetryd.MaxLimit {
		return nil, 0, telemetryd.Errorf(telemetryd.EINVALID, "limit must be an integer from 1 to %d", telemetryd.MaxLimit)
	}
	if f.Offset < 0 {
		return nil, 0, telemetryd.Errorf(telemetryd.EINVALID, "offset must be an integer of 0 or more")
	}
	deps, count, err := s.Store.Deployments(ctx, f)
	if err != nil {
		return nil, 0, fmt.Errorf("listing deployments: %w", err)
	}
	if s.Audit != nil {
		s.Audit.Info("audit", "action", "fleet.deployments", "actor", p.Username, "seen_since", req.SeenSince,
			"limit", f.Limit, "offset", f.Offset, "records", len(deps), "count", count)
	}
	return deps, count, nil
}
