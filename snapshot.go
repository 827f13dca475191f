package telemetryd

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
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

// SendStatuses is every status of the contract, in its order.
var SendStatuses = []SendStatus{SendPending, SendSent, SendSkipped, SendFailed}

// Valid reports whether s is one of the contract's statuses.
func (s SendStatus) Valid() bool { return slices.Contains(SendStatuses, s) }

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
		Data:             compact(data),
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

// ComputeChecksum returns the lowercase hex SHA-256 of the RFC 8785
// canonical JSON of the sealed members of s.
func (s *Snapshot) ComputeChecksum() (string, error) {
	// Exactly the sealed members; JCS puts them in order.
	b := make([]byte, 0, len(s.Data)+384)
	b = append(b, `{"created_at":`...)
	b = appendTime(b, s.CreatedAt)
	b = append(b, `,"data":`...)
	b = appendRaw(b, s.Data)
	b = append(b, `,"deployment_id":`...)
	b = appendString(b, s.DeploymentID)
	b = append(b, `,"id":`...)
	b = appendString(b, s.ID)
	b = append(b, `,"kind":`...)
	b = appendString(b, s.Kind)
	b = append(b, `,"payload_format":`...)
	b = appendString(b, s.PayloadFormat)
	b = append(b, `,"previous_checksum":`...)
	b = appendNullable(b, s.PreviousChecksum)
	b = append(b, `,"version":`...)
	b = appendString(b, s.Version)
	b = append(b, '}')
	canonical, err := jcs.Transform(b)
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

// MaxNameLength bounds kind, payload_format, deployment_id and version, in
// bytes, so every store can index them.
const MaxNameLength = 256

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
		switch {
		case strings.TrimSpace(f.value) == "":
			fail("%s is missing", f.name)
		case len(f.value) > MaxNameLength:
			fail("%s is %d bytes long, more than the %d allowed", f.name, len(f.value), MaxNameLength)
		}
	}
	sum := ""
	if !isJSONObject(s.Data) {
		fail("data must be a JSON object")
	} else if computed, err := s.ComputeChecksum(); err != nil {
		// RFC 8785 refuses what it cannot canonicalise, such as a
		// number beyond IEEE 754 double range or a duplicate member.
		fail("data cannot be canonicalised (RFC 8785): %v", errors.Unwrap(err))
	} else {
		sum = computed
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
	case len(reasons) == 0 && sum != s.Checksum:
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

// ClonePage returns a copy of page that owns its memory, in three
// allocations: the snapshots, their pointers and one buffer for their
// data. A store lends pages (see store.Snapshots); whoever keeps one
// after the loan clones it.
func ClonePage(page []*Snapshot) []*Snapshot {
	size := 0
	for _, s := range page {
		size += len(s.Data)
	}
	data := make([]byte, 0, size)
	all, out := make([]Snapshot, len(page)), make([]*Snapshot, len(page))
	for i, s := range page {
		all[i] = *s
		if s.Data != nil {
			start := len(data)
			data = append(data, s.Data...)
			all[i].Data = data[start:len(data):len(data)]
		}
		out[i] = &all[i]
	}
	return out
}

// record is the contract's JSON shape of a snapshot, for decoding.
type record struct {
	ID               string          `json:"id"`
	CreatedAt        string          `json:"created_at"`
	Kind             string          `json:"kind"`
	PayloadFormat    string          `json:"payload_format"`
	DeploymentID     string          `json:"deployment_id"`
	Version          string          `json:"version"`
	Data             json.RawMessage `json:"data"`
	Checksum         string          `json:"checksum"`
	PreviousChecksum *string         `json:"previous_checksum"`
	RemoteSendStatus SendStatus      `json:"remote_send_status"`
	RemoteSendAt     *string         `json:"remote_send_at"`
	RemoteSendError  *string         `json:"remote_send_error"`
}

// MarshalJSON renders the contract's record.
func (s *Snapshot) MarshalJSON() ([]byte, error) { return s.AppendJSON(nil), nil }

// RemoteBody returns what a remote send POSTs: the record without its
// remote_send_* members, which change after sealing.
func (s *Snapshot) RemoteBody() []byte { return s.appendJSON(nil, false) }

// AppendJSON appends the contract's record to b, exactly as json.Marshal
// writes it. It writes data as stored, which every way in keeps compact
// and valid, so listings need not scan kilobytes of data again for each
// record they encode.
func (s *Snapshot) AppendJSON(b []byte) []byte { return s.appendJSON(b, true) }

func (s *Snapshot) appendJSON(b []byte, withSend bool) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, s.ID)
	b = append(b, `,"created_at":`...)
	b = appendTime(b, s.CreatedAt)
	b = append(b, `,"kind":`...)
	b = appendString(b, s.Kind)
	b = append(b, `,"payload_format":`...)
	b = appendString(b, s.PayloadFormat)
	b = append(b, `,"deployment_id":`...)
	b = appendString(b, s.DeploymentID)
	b = append(b, `,"version":`...)
	b = appendString(b, s.Version)
	b = append(b, `,"data":`...)
	b = AppendRawJSON(b, s.Data)
	b = append(b, `,"checksum":`...)
	b = appendString(b, s.Checksum)
	b = append(b, `,"previous_checksum":`...)
	b = appendNullable(b, s.PreviousChecksum)
	if withSend {
		b = append(b, `,"remote_send_status":`...)
		b = appendString(b, string(s.RemoteSendStatus))
		b = append(b, `,"remote_send_at":`...)
		if s.RemoteSendAt.IsZero() {
			b = append(b, "null"...)
		} else {
			b = appendTime(b, s.RemoteSendAt)
		}
		b = append(b, `,"remote_send_error":`...)
		b = appendNullable(b, s.RemoteSendError)
	}
	return append(b, '}')
}

// appendString appends s as encoding/json writes it. The members of a
// record are nearly always plain ASCII that needs no escape, which it
// copies as is; anything else goes through encoding/json.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !plainInJSON[s[i]] {
			quoted, _ := json.Marshal(s) // a string always encodes
			return append(b, quoted...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// plainInJSON marks the bytes encoding/json writes into a string as they
// are: printable ASCII but for ", \, and the <, > and & it escapes for HTML.
var plainInJSON = func() (plain [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		plain[c] = true
	}
	for _, c := range `"\<>&` {
		plain[c] = false
	}
	return plain
}()

func appendRaw(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	return append(b, raw...)
}

// AppendRawJSON appends raw, a compact JSON value, as encoding/json writes
// a json.RawMessage: with <, >, &, U+2028 and U+2029 escaped, so that
// every writer of records writes the bytes json.Marshal would. Checking
// for those is a few fast byte searches; only data that holds one pays
// for a rewrite. Empty raw is null.
func AppendRawJSON(b []byte, raw json.RawMessage) []byte {
	if len(raw) == 0 {
		return append(b, "null"...)
	}
	if bytes.IndexByte(raw, '<') < 0 && bytes.IndexByte(raw, '>') < 0 && bytes.IndexByte(raw, '&') < 0 &&
		(bytes.IndexByte(raw, 0xE2) < 0 || !bytes.Contains(raw, []byte("\u2028")) && !bytes.Contains(raw, []byte("\u2029"))) {
		return append(b, raw...)
	}
	buf := bytes.NewBuffer(b)
	json.HTMLEscape(buf, raw)
	return buf.Bytes()
}

func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}

func appendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year := t.Year()
	if year < 0 || year > 9999 {
		b = append(b, '"')
		b = t.AppendFormat(b, TimeLayout)
		return append(b, '"')
	}
	// TimeLayout by hand: Time.AppendFormat reads the layout afresh for
	// every timestamp, and listings write two a record.
	month, day := t.Month(), t.Day()
	hour, minute, second := t.Clock()
	b = append(b, '"')
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, second, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z', '"')
}

// appendDigits appends n, from 0 up, as width decimal digits.
func appendDigits(b []byte, n, width int) []byte {
	b = append(b, make([]byte, width)...)
	for i := len(b) - 1; i >= len(b)-width; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return b
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
		Data:             compact(r.Data),
		Checksum:         r.Checksum,
		PreviousChecksum: deref(r.PreviousChecksum),
		RemoteSendStatus: r.RemoteSendStatus,
		RemoteSendAt:     Microseconds(sentAt),
		RemoteSendError:  deref(r.RemoteSendError),
	}
	return nil
}

// compact returns raw without insignificant white space, so data is kept
// and written in one form. Most data arrives compact already: the check
// is a fast byte search, and only a hit pays for a rewrite.
func compact(raw json.RawMessage) json.RawMessage {
	if !bytes.ContainsAny(raw, " \t\r\n") {
		return raw
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return raw // the decoder accepted it, so this cannot happen
	}
	return buf.Bytes()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
