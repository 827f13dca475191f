package telemetryd_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
)

// vector is a record whose checksum was computed independently: SHA-256
// over the sorted, whitespace-free JSON of the sealed members.
func vector(t *testing.T) *telemetryd.Snapshot {
	t.Helper()
	var s telemetryd.Snapshot
	require.NoError(t, json.Unmarshal([]byte(`{
		"id": "0f8e2a4c-3b1d-4e5f-9a7b-1c2d3e4f5a6b",
		"created_at": "2026-11-22T02:17:05.123456Z",
		"kind": "telemetryd",
		"payload_format": "1",
		"deployment_id": "5d1c9a52-7d1e-4f0e-9b53-0a4c3f1e2d7b",
		"version": "0.1.0",
		"data": {"b": [1, 2.5, "é"], "a": {"z": true, "y": null}},
		"checksum": "82445941e3abf4100f2d9e2e05bd9f3a9f3fd96a69ba97b67c4089b2fd6b53c6",
		"previous_checksum": null,
		"remote_send_status": "sent",
		"remote_send_at": "2026-11-22T02:17:06.5Z",
		"remote_send_error": null
	}`), &s))
	return &s
}

func TestChecksumMatchesIndependentVector(t *testing.T) {
	s := vector(t)
	assert.True(t, s.ChecksumValid())

	chained := *s
	chained.PreviousChecksum = strings.Repeat("a", 64)
	sum, err := chained.ComputeChecksum()
	require.NoError(t, err)
	assert.Equal(t, "9cc5f95af2b0a4b9b85d856d06abca05268a90ade86af50a2b0ae207c872e0f8", sum)
}

func TestChecksumCoversSealedMembersOnly(t *testing.T) {
	cases := []struct {
		name   string
		change func(*telemetryd.Snapshot)
		valid  bool
	}{
		{"send status changes keep it valid", func(s *telemetryd.Snapshot) {
			s.RemoteSendStatus, s.RemoteSendError, s.RemoteSendAt = telemetryd.SendFailed, "timeout", time.Now()
		}, true},
		{"data key order keeps it valid", func(s *telemetryd.Snapshot) {
			s.Data = json.RawMessage(`{"a":{"y":null,"z":true},"b":[1,2.5,"é"]}`)
		}, true},
		{"altered data breaks it", func(s *telemetryd.Snapshot) { s.Data = json.RawMessage(`{"a":{},"b":[]}`) }, false},
		{"a microsecond breaks it", func(s *telemetryd.Snapshot) { s.CreatedAt = s.CreatedAt.Add(time.Microsecond) }, false},
		{"a new version breaks it", func(s *telemetryd.Snapshot) { s.Version = "0.1.1" }, false},
		{"a chain link breaks it", func(s *telemetryd.Snapshot) { s.PreviousChecksum = strings.Repeat("b", 64) }, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := vector(t)
			tc.change(s)
			assert.Equal(t, tc.valid, s.ChecksumValid())
		})
	}
}

func TestRecordJSONIsTheContractShape(t *testing.T) {
	prev := telemetryd.NewSnapshot("dep", "0.1.0", json.RawMessage(`{}`), time.Now(), nil)
	require.NoError(t, prev.Seal())
	at := time.Date(2026, 11, 22, 2, 17, 5, 123456789, time.FixedZone("CET", 3600))
	s := telemetryd.NewSnapshot("dep", "0.1.0", json.RawMessage(`{"x":1}`), at, prev)
	require.NoError(t, s.Seal())

	b, err := json.Marshal(s)
	require.NoError(t, err)
	var fields map[string]any
	require.NoError(t, json.Unmarshal(b, &fields))
	assert.Equal(t, "2026-11-22T01:17:05.123456Z", fields["created_at"], "UTC, six digits, Z")
	assert.Equal(t, prev.Checksum, fields["previous_checksum"])
	assert.Equal(t, "pending", fields["remote_send_status"])
	assert.Nil(t, fields["remote_send_at"])
	assert.Nil(t, fields["remote_send_error"])
	assert.Len(t, fields, 12)

	var back telemetryd.Snapshot
	require.NoError(t, json.Unmarshal(b, &back))
	assert.True(t, back.Equal(s))
	assert.NoError(t, back.Validate())
}

func TestUnmarshalRejectsWhatTheChecksumCannotCover(t *testing.T) {
	cases := map[string]string{
		"created_at with an offset":         `{"created_at":"2026-11-22T02:17:05.123456+01:00"}`,
		"created_at with three digits":      `{"created_at":"2026-11-22T02:17:05.123Z"}`,
		"an unknown field":                  `{"checksum_valid":true}`,
		"remote_send_at that is not a time": `{"remote_send_at":"yesterday"}`,
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			var s telemetryd.Snapshot
			assert.Error(t, json.Unmarshal([]byte(doc), &s))
		})
	}
}

func TestValidateNamesEveryBadField(t *testing.T) {
	s := vector(t)
	s.ID = "not-a-uuid"
	s.Data = json.RawMessage(`[1]`)
	s.RemoteSendStatus = "lost"
	s.PreviousChecksum = "ABC"
	err := s.Validate()
	require.Error(t, err)
	assert.Equal(t, telemetryd.EINVALID, telemetryd.ErrorCode(err))
	for _, field := range []string{"id", "data", "remote_send_status", "previous_checksum"} {
		assert.Contains(t, err.Error(), field)
	}

	tampered := vector(t)
	tampered.Data = json.RawMessage(`{"a":1}`)
	assert.ErrorContains(t, tampered.Validate(), "checksum does not match")
	assert.NoError(t, vector(t).Validate())
}

func TestRecordJSONEscapesAndCompacts(t *testing.T) {
	s := telemetryd.NewSnapshot("dép \"quoted\" <tag>\n", "0.1.0-beta+\u2028", json.RawMessage("{ \"a\" : [ 1,\n 2 ] }"), time.Now(), nil)
	require.NoError(t, s.Seal())
	b, err := json.Marshal(s)
	require.NoError(t, err)
	require.True(t, json.Valid(b), "%s", b)
	assert.Contains(t, string(b), `"data":{"a":[1,2]}`, "data is kept in one compact form")

	var back telemetryd.Snapshot
	require.NoError(t, json.Unmarshal(b, &back))
	assert.True(t, back.Equal(s))
	assert.True(t, back.ChecksumValid())

	var spaced telemetryd.Snapshot
	require.NoError(t, json.Unmarshal([]byte(strings.Replace(string(b), `{"a":[1,2]}`, "{ \"a\": [1, 2] }", 1)), &spaced))
	assert.Equal(t, `{"a":[1,2]}`, string(spaced.Data))
	assert.True(t, spaced.ChecksumValid(), "white space in data is outside the checksum")
}

func TestRecordWritesEachMemberAsEncodingJSONDoes(t *testing.T) {
	for _, member := range []string{"plain-ascii_0.1", "quote \" and \\ back", "<tag>&amp;", "tab\tnew\nline", "dép ✓", "line\u2028sep", "\x7f del"} {
		t.Run(member, func(t *testing.T) {
			s := telemetryd.NewSnapshot(member, member, json.RawMessage(`{}`), time.Date(2026, 11, 22, 2, 17, 5, 0, time.UTC), nil)
			s.RemoteSendError = member
			want, err := json.Marshal(member)
			require.NoError(t, err)
			record := string(s.AppendJSON(nil))
			assert.Contains(t, record, `"deployment_id":`+string(want)+`,"version":`+string(want))
			assert.Contains(t, record, `"remote_send_error":`+string(want)+`}`)
			assert.True(t, json.Valid([]byte(record)), record)
		})
	}
}

func TestClonePageOwnsItsMemory(t *testing.T) {
	lent := []*telemetryd.Snapshot{
		telemetryd.NewSnapshot("dep", "1", json.RawMessage(`{"a":1}`), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), nil),
		telemetryd.NewSnapshot("dep", "1", json.RawMessage(`{"b":[2,3]}`), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), nil),
	}
	kept := telemetryd.ClonePage(lent)
	require.Len(t, kept, 2)
	// The lender reuses its memory: the copy must not change with it.
	for _, s := range lent {
		for i := range s.Data {
			s.Data[i] = 'x'
		}
		s.ID = "reused"
	}
	assert.JSONEq(t, `{"a":1}`, string(kept[0].Data))
	assert.JSONEq(t, `{"b":[2,3]}`, string(kept[1].Data))
	assert.NotEqual(t, "reused", kept[0].ID)
	// Appending to one record's data cannot spill into the next one's.
	_ = append(kept[0].Data, '!')
	assert.JSONEq(t, `{"b":[2,3]}`, string(kept[1].Data))
}

func TestRecordWritesTimesInTheLayout(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2026, 11, 29, 20, 41, 7, 123456789, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("east", 5*3600+1800)),
		time.Date(1, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Date(999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 15, 12, 0, 0, 0, time.UTC),
	} {
		s := telemetryd.NewSnapshot("dep", "1", json.RawMessage(`{}`), at, nil)
		s.RemoteSendAt = at
		want := `"` + at.UTC().Format(telemetryd.TimeLayout) + `"`
		record := string(s.AppendJSON(nil))
		assert.Contains(t, record, `"created_at":`+want+`,`)
		assert.Contains(t, record, `"remote_send_at":`+want+`,`)
	}
}

func TestRecordWritesDataAsJSONMarshalDoes(t *testing.T) {
	for _, data := range []string{`{"plain":[1,2,{"a":null}]}`, `{"html":"<b>&amp;</b>"}`, "{\"sep\":\"a\u2028b\u2029c\",\"é\":\"\u20ac\"}"} {
		t.Run(data, func(t *testing.T) {
			s := telemetryd.NewSnapshot("dep", "0.1.0", json.RawMessage(data), time.Date(2026, 11, 22, 2, 17, 5, 0, time.UTC), nil)
			require.NoError(t, s.Seal())
			want, err := json.Marshal(s)
			require.NoError(t, err)
			assert.Equal(t, string(want), string(s.AppendJSON(nil)))
			assert.True(t, s.ChecksumValid())
		})
	}
}
