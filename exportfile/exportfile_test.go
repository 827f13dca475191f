package exportfile_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/exportfile"
	"github.com/telemetryd/telemetryd/store/storetest"
)

func newestFirst(snaps []*telemetryd.Snapshot) func(func(*telemetryd.Snapshot) error) error {
	return func(yield func(*telemetryd.Snapshot) error) error {
		for i := len(snaps) - 1; i >= 0; i-- {
			if err := yield(snaps[i]); err != nil {
				return err
			}
		}
		return nil
	}
}

func TestWriteThenReadRoundTrips(t *testing.T) {
	snaps := storetest.Chain(t, "dep", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 5, 100)
	path := filepath.Join(t.TempDir(), "export.json")
	n, err := exportfile.Write(path, newestFirst(snaps))
	require.NoError(t, err)
	assert.Equal(t, 5, n)

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	got, err := exportfile.Read(f)
	require.NoError(t, err)
	require.Len(t, got, 5)
	for i, s := range got {
		assert.True(t, s.Equal(snaps[4-i]))
	}
}

// The export holds each record exactly as json.Marshal writes it, one a
// line, however many writes it takes.
func TestEncoderWritesEachRecordAsJSONMarshalDoes(t *testing.T) {
	snaps := storetest.Chain(t, "dep", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 150, 4096) // several writes' worth
	snaps[3].RemoteSendStatus = telemetryd.SendFailed
	snaps[3].RemoteSendError = `remote said "<no>"`
	var want bytes.Buffer
	want.WriteString("[")
	for i := len(snaps) - 1; i >= 0; i-- {
		b, err := json.Marshal(snaps[i])
		require.NoError(t, err)
		if i < len(snaps)-1 {
			want.WriteString(",")
		}
		want.WriteString("\n")
		want.Write(b)
	}
	want.WriteString("\n]\n")

	var got bytes.Buffer
	enc := exportfile.NewEncoder(&got)
	require.NoError(t, newestFirst(snaps)(enc.Add))
	require.NoError(t, enc.Close())

	assert.Equal(t, len(snaps), enc.Count())
	assert.Equal(t, want.String(), got.String())
}

func TestEmptyExportIsAnEmptyArray(t *testing.T) {
	path := filepath.Join(t.TempDir(), "export.json")
	_, err := exportfile.Write(path, newestFirst(nil))
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.JSONEq(t, "[]", string(b))
}

func TestFailedWriteLeavesTheTargetAlone(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "export.json")
	require.NoError(t, os.WriteFile(path, []byte("previous export"), 0o600))
	snaps := storetest.Chain(t, "dep", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 3, 10)
	broken := errors.New("store went away")
	_, err := exportfile.Write(path, func(yield func(*telemetryd.Snapshot) error) error {
		if err := yield(snaps[0]); err != nil {
			return err
		}
		return broken
	})
	require.ErrorIs(t, err, broken)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, "previous export", string(b))
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, entries, 1, "the temporary file must be removed")
}

func TestReadNamesEveryBadRecord(t *testing.T) {
	good := storetest.Chain(t, "dep", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 1, 10)[0]
	goodJSON, err := good.MarshalJSON()
	require.NoError(t, err)
	altered := strings.Replace(string(goodJSON), `"cores":2`, `"cores":64`, 1)
	badTime := strings.Replace(string(goodJSON), `Z"`, `+00:00"`, 1)
	file := "[" + string(goodJSON) + "," + altered + "," + badTime + `,{"id":` + "\n" + `"x"}]`
	_, err = exportfile.Read(strings.NewReader(file))
	require.Error(t, err)
	assert.Equal(t, telemetryd.EINVALID, telemetryd.ErrorCode(err))
	msg := err.Error()
	assert.Contains(t, msg, "3 of 4 records are invalid")
	assert.Contains(t, msg, good.ID+": checksum does not match")
	assert.Contains(t, msg, "is not in the form")
	assert.Contains(t, msg, "x: ")
}

func TestReadRefusesWhatIsNoArray(t *testing.T) {
	for name, doc := range map[string]string{
		"an object":            `{"id":"x"}`,
		"a truncated array":    `[{"id":"x"}`,
		"not JSON":             `hello`,
		"an array of arrays":   `[[1]]`,
		"more after the array": `[] {"id":"x"}`,
	} {
		t.Run(name, func(t *testing.T) {
			_, err := exportfile.Read(strings.NewReader(doc))
			assert.Error(t, err)
		})
	}
}

func TestVerifyReportsUnreadableRecordsToo(t *testing.T) {
	snaps := storetest.Chain(t, "dep", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 3, 10)
	path := filepath.Join(t.TempDir(), "export.json")
	_, err := exportfile.Write(path, newestFirst(snaps))
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	broken := strings.Replace(string(b), `"remote_send_status":"pending"`, `"remote_send_status":"pending","extra":1`, 1)

	v, err := exportfile.Verify(strings.NewReader(broken))
	require.NoError(t, err)
	require.Len(t, v.Problems(), 1)
	assert.Equal(t, snaps[2].ID, v.Problems()[0].ID, "the unreadable record is named by its id")
	assert.Equal(t, 3, v.Count(), "the walk goes on past it, counting it as checked")
	assert.Equal(t, telemetryd.Corrupt, v.Problems()[0].Kind)
	assert.Contains(t, v.Problems()[0].Message, "unknown field")
}
