package telemetryd

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/gowebpki/jcs"
)

// Kind and PayloadFormat are what this build writes into every snapshot.
// PayloadFormat changes whenever the fields of Data change.
const (
	Kind          = "telemetryd"
	PayloadFormat = "1"
)

// TimeLayout renders every timestamp of a record: UTC, exactly six
// fractional digits and "Z".
const TimeLayout = "2006-01-02T15:04:05.000000Z"

// SendStatus says what happened to a snapshot's remote send.
type SendStatus string

// The remote send statuses of the contract.
const (
	SendPending SendStatus = "pending"
	SendSent    SendStatus = "sent"
	SendSkipped SendStatus = "skipped"
	SendFailed  SendStatus = "failed"
)

// Valid reports whether s is one of the contract's statuses.
func (s SendStatus) Valid() bool {
	switch s {
	case SendPending, SendSent, SendSkipped, SendFailed:
		return true
	}
	return false
}

// Snapshot is one sealed telemetry record. Zero values stand for the
// contract's nulls: an empty PreviousChecksum (a deployment's first
// snapshot), a zero RemoteSendAt, an empty RemoteSendError.
type Snapshot struct {
	ID               string
	CreatedAt        time.Time
	Kind             string
	PayloadFormat    string
	DeploymentID     string
	Version          string
	Data             json.RawMessage
	Checksum         string
	PreviousChecksum string
	RemoteSendStatus SendStatus
	RemoteSendAt     time.Time
	RemoteSendError  string
}

// NewSnapshot returns an unsealed pending snapshot of data, created at now
// (kept to the microsecond, in UTC), chained to previous (nil for a
// deployment's first snapshot). Call Seal before storing it.
func NewSnapshot(deploymentID, version string, data json.RawMessage, now time.Time, previous *Snapshot) *Snapshot {
	s := &Snapshot{
		ID:               uuid.NewString(),
		CreatedAt:        Microseconds(now),
		Kind:             Kind,
		PayloadFormat:    PayloadFormat,
		DeploymentID:     deploymentID,
		Version:          version,
		Data:             data,
		RemoteSendStatus: SendPending,
	}
	if previous != nil {
		s.PreviousChecksum = previous.Checksum
	}
	return s
}

// Microseconds returns t in UTC, truncated to the microsecond: the
// precision every store keeps.
func Microseconds(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Day returns the UTC day of t as YYYY-MM-DD, the unit of "one snapshot
// per deployment per day".
func Day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// sealed holds exactly the members the checksum covers.
type sealed struct {
	CreatedAt        string          `json:"created_at"`
	Data             json.RawMessage `json:"data"`
	DeploymentID     string          `json:"deployment_id"`
	ID               string          `json:"id"`
	Kind             string          `json:"kind"`
	PayloadFormat    string          `json:"payload_format"`
	PreviousChecksum *string         `json:"previous_checksum"`
	Version          string          `json:"version"`
}

// ComputeChecksum returns the lowercase hex SHA-256 of the RFC 8785
// canonical JSON of the sealed members of s.
func (s *Snapshot) ComputeChecksum() (string, error) {
	raw, err := json.Marshal(sealed{
		CreatedAt:        s.CreatedAt.UTC().Format(TimeLayout),
		Data:             s.Data,
		DeploymentID:     s.DeploymentID,
		ID:               s.ID,
		Kind:             s.Kind,
		PayloadFormat:    s.PayloadFormat,
		PreviousChecksum: nullable(s.PreviousChecksum),
		Version:          s.Version,
	})
	if err != nil {
		return "", fmt.Errorf("encoding sealed members: %w", err)
	}
	canonical, err := jcs.Transform(raw)
	if err != nil {
		return "", fmt.Errorf("canonicalizing sealed members: %w", err)
	}
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:]), nil
}

// Seal sets the checksum from the sealed members.
func (s *Snapshot) Seal() error {
	sum, err := s.ComputeChecksum()
	if err != nil {
		return err
	}
	s.Checksum = sum
	return nil
}

// ChecksumValid reports whether the stored checksum matches the sealed
// members.
func (s *Snapshot) ChecksumValid() bool {
	sum, err := s.ComputeChecksum()
	return err == nil && sum == s.Checksum
}

var (
	hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// uuidForm is the canonical lowercase 8-4-4-4-12 form.
	uuidForm = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
)

// Validate reports every way s is not a well-formed sealed record, each
// reason naming its field, in one EINVALID error; nil when s is sound.
func (s *Snapshot) Validate() error {
	var reasons []string
	fail := func(format string, args ...any) { reasons = append(reasons, fmt.Sprintf(format, args...)) }
	if !uuidForm.MatchString(s.ID) {
		fail("id must be a lowercase UUID")
	}
	if s.CreatedAt.IsZero() {
		fail("created_at is missing")
	} else if !s.CreatedAt.Equal(Microseconds(s.CreatedAt)) {
		fail("created_at has more than microsecond precision")
	}
	for _, f := range []struct{ name, value string }{
		{"kind", s.Kind}, {"payload_format", s.PayloadFormat}, {"deployment_id", s.DeploymentID}, {"version", s.Version},
	} {
		if strings.TrimSpace(f.value) == "" {
			fail("%s is missing", f.name)
		}
	}
	if !isJSONObject(s.Data) {
		fail("data must be a JSON object")
	}
	if s.PreviousChecksum != "" && !hexSHA256.MatchString(s.PreviousChecksum) {
		fail("previous_checksum must be 64 lowercase hex digits or null")
	}
	if !s.RemoteSendStatus.Valid() {
		fail("remote_send_status must be pending, sent, skipped or failed")
	}
	switch {
	case !hexSHA256.MatchString(s.Checksum):
		fail("checksum must be 64 lowercase hex digits")
	case len(reasons) == 0 && !s.ChecksumValid():
		fail("checksum does not match the record's content")
	}
	if len(reasons) > 0 {
		return Errorf(EINVALID, "%s", strings.Join(reasons, "; "))
	}
	return nil
}

func isJSONObject(raw json.RawMessage) bool {
	trimmed := bytes.TrimSpace(raw)
	return len(trimmed) > 0 && trimmed[0] == '{' && json.Valid(trimmed)
}

// Equal reports whether a and b are the same record, send status
// included.
func (s *Snapshot) Equal(o *Snapshot) bool {
	a, errA := json.Marshal(s)
	b, errB := json.Marshal(o)
	return errA == nil && errB == nil && bytes.Equal(a, b)
}

// body is the record without its remote_send_* members: what a remote
// send POSTs.
type body struct {
	ID               string          `json:"id"`
	CreatedAt        string          `json:"created_at"`
	Kind             string          `json:"kind"`
	PayloadFormat    string          `json:"payload_format"`
	DeploymentID     string          `json:"deployment_id"`
	Version          string          `json:"version"`
	Data             json.RawMessage `json:"data"`
	Checksum         string          `json:"checksum"`
	PreviousChecksum *string         `json:"previous_checksum"`
}

// record is the contract's JSON shape of a snapshot.
type record struct {
	body
	RemoteSendStatus SendStatus `json:"remote_send_status"`
	RemoteSendAt     *string    `json:"remote_send_at"`
	RemoteSendError  *string    `json:"remote_send_error"`
}

func (s *Snapshot) body() body {
	b := body{
		ID:               s.ID,
		CreatedAt:        s.CreatedAt.UTC().Format(TimeLayout),
		Kind:             s.Kind,
		PayloadFormat:    s.PayloadFormat,
		DeploymentID:     s.DeploymentID,
		Version:          s.Version,
		Data:             s.Data,
		Checksum:         s.Checksum,
		PreviousChecksum: nullable(s.PreviousChecksum),
	}
	if b.Data == nil {
		b.Data = json.RawMessage("null")
	}
	return b
}

// RemoteBody returns what a remote send POSTs: the record without its
// remote_send_* members, which change after sealing.
func (s *Snapshot) RemoteBody() ([]byte, error) { return json.Marshal(s.body()) }

// MarshalJSON renders the contract's record.
func (s *Snapshot) MarshalJSON() ([]byte, error) {
	r := record{
		body:             s.body(),
		RemoteSendStatus: s.RemoteSendStatus,
		RemoteSendError:  nullable(s.RemoteSendError),
	}
	if !s.RemoteSendAt.IsZero() {
		at := s.RemoteSendAt.UTC().Format(TimeLayout)
		r.RemoteSendAt = &at
	}
	return json.Marshal(r)
}

// UnmarshalJSON reads the contract's record. Timestamps must be RFC 3339;
// created_at must be in the record's own rendering (UTC, six fractional
// digits, "Z") because the checksum covers it as written.
func (s *Snapshot) UnmarshalJSON(b []byte) error {
	var r record
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return fmt.Errorf("decoding snapshot: %w", err)
	}
	created, err := time.Parse(TimeLayout, r.CreatedAt)
	if err != nil && r.CreatedAt != "" {
		return fmt.Errorf("created_at %q is not in the form %s", r.CreatedAt, TimeLayout)
	}
	var sentAt time.Time
	if r.RemoteSendAt != nil {
		if sentAt, err = time.Parse(time.RFC3339Nano, *r.RemoteSendAt); err != nil {
			return fmt.Errorf("remote_send_at %q is not RFC 3339", *r.RemoteSendAt)
		}
	}
	*s = Snapshot{
		ID:               r.ID,
		CreatedAt:        created,
		Kind:             r.Kind,
		PayloadFormat:    r.PayloadFormat,
		DeploymentID:     r.DeploymentID,
		Version:          r.Version,
		Data:             r.Data,
		Checksum:         r.Checksum,
		PreviousChecksum: deref(r.PreviousChecksum),
		RemoteSendStatus: r.RemoteSendStatus,
		RemoteSendAt:     Microseconds(sentAt),
		RemoteSendError:  deref(r.RemoteSendError),
	}
	return nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
