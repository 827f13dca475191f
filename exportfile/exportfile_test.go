package exportfile_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
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

// spaces is an endless run of white space, read without allocating.
type spaces struct{}

func (spaces) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = " \n\t\r"[i%4]
	}
	return len(p), nil
}

func padding(n int64) io.Reader { return io.LimitReader(spaces{}, n) }

// allocated returns how many bytes fn allocates on the heap.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func recordsJSON(t *testing.T, snaps []*telemetryd.Snapshot) []string {
	t.Helper()
	out := make([]string, len(snaps))
	for i, s := range snaps {
		b, err := s.MarshalJSON()
		require.NoError(t, err)
		out[i] = string(b)
	}
	return out
}

// The probe padded a file with 1 GiB of white space between two records
// and the import held 3 GiB; white space around "[" made it quadratic.
// Any amount of it must now cost reading only.
func TestWhiteSpaceCostsNoMemory(t *testing.T) {
	snaps := storetest.Chain(t, "dep", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 2, 100)
	recs := recordsJSON(t, snaps)
	const pad = 32 << 20
	file := io.MultiReader(padding(pad), strings.NewReader("["), padding(pad), strings.NewReader(recs[1]),
		padding(pad), strings.NewReader(","), padding(pad), strings.NewReader(recs[0]), padding(pad),
		strings.NewReader("]"), padding(pad))
	var ids []string
	var err error
	bytes := allocated(func() {
		err = exportfile.Decode(file, func(_ int, s *telemetryd.Snapshot, err error) error {
			ids = append(ids, s.ID)
			return err
		})
	})
	require.NoError(t, err)
	assert.Equal(t, []string{snaps[1].ID, snaps[0].ID}, ids)
	assert.Less(t, bytes, uint64(4<<20), "reading 160 MiB of white space allocated %d bytes", bytes)
}

func TestARecordOverTheLimitIsRefusedWithoutBeingHeld(t *testing.T) {
	huge := io.MultiReader(strings.NewReader(`[{"id":"x"},{"id":"y","data":{"pad":"`),
		io.LimitReader(zeros{}, 1<<30), strings.NewReader(`"}}]`))
	var err error
	bytes := allocated(func() {
		err = exportfile.Decode(huge, func(int, *telemetryd.Snapshot, error) error { return nil })
	})
	require.Error(t, err)
	assert.Equal(t, telemetryd.EINVALID, telemetryd.ErrorCode(err))
	assert.Contains(t, err.Error(), "record 2: larger than 16 MiB")
	assert.Less(t, bytes, uint64(128<<20), "refusing a 1 GiB record allocated %d bytes", bytes)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}
