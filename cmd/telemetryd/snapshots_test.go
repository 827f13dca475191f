package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/exportfile"
	"github.com/telemetryd/telemetryd/store/embedded"
	"github.com/telemetryd/telemetryd/store/neo4j/neo4jtest"
	"github.com/telemetryd/telemetryd/store/storetest"
)

// writeExport writes snaps, newest first, as an export file.
func writeExport(t *testing.T, path string, snaps []*telemetryd.Snapshot) {
	t.Helper()
	_, err := exportfile.Write(path, func(yield func(*telemetryd.Snapshot) error) error {
		for i := len(snaps) - 1; i >= 0; i-- {
			if err := yield(snaps[i]); err != nil {
				return err
			}
		}
		return nil
	})
	require.NoError(t, err)
}

// TestSnapshotsMoveBetweenBackendsUnchanged is the storage issue's "done
// when": 400 chained snapshots exported from one backend import into the
// other unchanged and verify clean; a file with one altered record imports
// nothing and names it; importing the same file twice changes nothing.
func TestSnapshotsMoveBetweenBackendsUnchanged(t *testing.T) {
	neo4jtest.Open(t) // an empty Neo4j, held for this test alone
	neo4jArgs := []string{"--neo4j-uri", os.Getenv("NEO4J_URI")}
	dir := t.TempDir()
	embeddedArgs := []string{"--data-dir", filepath.Join(dir, "data")}
	snaps := storetest.Chain(t, "5d1c9a52-7d1e-4f0e-9b53-0a4c3f1e2d7b", time.Date(2025, 6, 1, 2, 17, 5, 123456000, time.UTC), 400, 1024)
	seed := filepath.Join(dir, "seed.json")
	writeExport(t, seed, snaps)

	step := func(want int, args ...string) string {
		t.Helper()
		code, stdout, stderr := execute(t, env(), args...)
		require.Equal(t, want, code, "telemetryd %s\nstdout: %s\nstderr: %s", strings.Join(args, " "), stdout, stderr)
		return stdout + stderr
	}

	out := step(0, append([]string{"snapshots", "import", "--file", seed}, embeddedArgs...)...)
	assert.Contains(t, out, "imported 400 snapshots, 0 already present")
	fromEmbedded := filepath.Join(dir, "from-embedded.json")
	step(0, append([]string{"snapshots", "export", "--output", fromEmbedded}, embeddedArgs...)...)
	assert.Equal(t, readFile(t, seed), readFile(t, fromEmbedded), "the embedded store changed records")

	out = step(0, append([]string{"snapshots", "import", "--file", fromEmbedded}, neo4jArgs...)...)
	assert.Contains(t, out, "imported 400 snapshots")
	out = step(0, append([]string{"snapshots", "import", "--file", fromEmbedded}, neo4jArgs...)...)
	assert.Contains(t, out, "imported 0 snapshots, 400 already present", "a second import must change nothing")
	fromNeo4j := filepath.Join(dir, "from-neo4j.json")
	step(0, append([]string{"snapshots", "export", "--output", fromNeo4j}, neo4jArgs...)...)
	assert.Equal(t, readFile(t, fromEmbedded), readFile(t, fromNeo4j), "Neo4j changed records")
	assert.Contains(t, step(0, append([]string{"snapshots", "verify"}, neo4jArgs...)...), "verified 400 snapshots")
	assert.Contains(t, step(0, append([]string{"snapshots", "verify"}, embeddedArgs...)...), "verified 400 snapshots")

	t.Run("an altered record imports nothing and is named", func(t *testing.T) {
		var records []map[string]any
		require.NoError(t, json.Unmarshal([]byte(readFile(t, fromNeo4j)), &records))
		records[123]["data"] = map[string]any{"altered": true}
		altered := filepath.Join(dir, "altered.json")
		b, err := json.Marshal(records)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(altered, b, 0o600))

		emptyDir := []string{"--data-dir", filepath.Join(dir, "empty")}
		out := step(1, append([]string{"snapshots", "import", "--file", altered}, emptyDir...)...)
		assert.Contains(t, out, records[123]["id"].(string))
		assert.Contains(t, out, "checksum does not match")
		assert.Contains(t, out, "nothing imported")
		exported := filepath.Join(dir, "empty.json")
		assert.Contains(t, step(0, append([]string{"snapshots", "export", "--output", exported}, emptyDir...)...), "exported 0 snapshots")
	})

	t.Run("a date range exports only its days, newest first", func(t *testing.T) {
		part := filepath.Join(dir, "part.json")
		out := step(0, append([]string{"snapshots", "export", "--output", part, "--start-date", "2025-06-10", "--end-date", "2025-06-19"}, neo4jArgs...)...)
		assert.Contains(t, out, "exported 10 snapshots")
		got, err := exportfile.Read(strings.NewReader(readFile(t, part)))
		require.NoError(t, err)
		assert.Equal(t, snaps[18].ID, got[0].ID)
		assert.Equal(t, snaps[9].ID, got[9].ID)
	})
}

func TestVerifyNamesEveryBrokenLink(t *testing.T) {
	dir := t.TempDir()
	args := []string{"--data-dir", dir}
	snaps := storetest.Chain(t, "dep", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 10, 64)
	// A resealed alteration passes import but breaks the chain after it.
	snaps[4].Data = []byte(`{"altered":true}`)
	require.NoError(t, snaps[4].Seal())
	file := filepath.Join(dir, "chain.json")
	writeExport(t, file, snaps)
	code, _, stderr := execute(t, env(), append([]string{"snapshots", "import", "--file", file, "--allow-chain-breaks"}, args...)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "warning: importing a chain break: "+snaps[5].ID)

	code, stdout, stderr := execute(t, env(), append([]string{"snapshots", "verify"}, args...)...)
	assert.Equal(t, 1, code)
	assert.Contains(t, stdout, snaps[5].ID+": chain break")
	assert.Contains(t, stderr, "verification failed: 1 problem in 10 snapshots")
}

func TestBadFiltersAreUsageMistakes(t *testing.T) {
	for flag, args := range map[string][]string{
		"--end-date":   {"--end-date", "nonsense"},
		"--start-date": {"--start-date", "2026-02-02", "--end-date", "2026-02-01"},
		"--status":     {"--status", "sent,lost"},
	} {
		t.Run(flag, func(t *testing.T) {
			dir := t.TempDir()
			code, _, stderr := execute(t, env(), append([]string{"snapshots", "export", "--output", filepath.Join(dir, "out.json"), "--data-dir", dir}, args...)...)
			assert.Equal(t, 2, code)
			assert.Contains(t, stderr, flag)
			assert.NoFileExists(t, filepath.Join(dir, "out.json"))
		})
	}
}

func TestExportByDeploymentAndStatus(t *testing.T) {
	dir := t.TempDir()
	data := []string{"--data-dir", filepath.Join(dir, "data")}
	start := time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)
	mine, theirs := storetest.Chain(t, "dep-mine", start, 6, 100), storetest.Chain(t, "dep-theirs", start, 6, 100)
	for i, s := range mine {
		if i%2 == 0 {
			s.RemoteSendStatus = telemetryd.SendFailed
		}
	}
	seed := filepath.Join(dir, "seed.json")
	writeExport(t, seed, append(mine, theirs...))
	code, _, stderr := execute(t, env(), append([]string{"snapshots", "import", "--file", seed}, data...)...)
	require.Equal(t, 0, code, stderr)

	out := filepath.Join(dir, "out.json")
	code, stdout, stderr := execute(t, env(), append([]string{"snapshots", "export", "--output", out, "--deployment-id", "dep-mine", "--status", "failed"}, data...)...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "exported 3 snapshots")
	got, err := exportfile.Read(strings.NewReader(readFile(t, out)))
	require.NoError(t, err)
	assert.Equal(t, []string{mine[4].ID, mine[2].ID, mine[0].ID}, []string{got[0].ID, got[1].ID, got[2].ID})
}

func TestExportsAreCountedForTheDailyTelemetry(t *testing.T) {
	dir := t.TempDir()
	for range 2 {
		code, _, stderr := execute(t, env(), "snapshots", "export", "--output", filepath.Join(dir, "out.json"), "--data-dir", dir)
		require.Equal(t, 0, code, stderr)
	}
	st, err := embedded.Open(dir)
	require.NoError(t, err)
	defer st.Close()
	counts, err := st.ActivityOn(t.Context(), telemetryd.Day(time.Now()))
	require.NoError(t, err)
	assert.Equal(t, int64(2), counts[telemetryd.ActivityExports])
}

// TestImportNamesTheRealCause holds the probe's import findings: each bad
// file imports nothing, and the error names the record and what is wrong
// with it in the user's terms, not the store's.
func TestImportNamesTheRealCause(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	importFile := func(t *testing.T, content string, extra ...string) (dir string, code int, stdout, stderr string) {
		t.Helper()
		dir = t.TempDir()
		file := filepath.Join(dir, "import.json")
		require.NoError(t, os.WriteFile(file, []byte(content), 0o600))
		code, stdout, stderr = execute(t, env(), append([]string{"snapshots", "import", "--file", file, "--data-dir", dir}, extra...)...)
		return dir, code, stdout, stderr
	}
	requireEmpty := func(t *testing.T, dir string) {
		t.Helper()
		code, stdout, stderr := execute(t, env(), "snapshots", "export", "--output", filepath.Join(dir, "out.json"), "--data-dir", dir)
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "exported 0 snapshots")
	}
	record := func(t *testing.T, s *telemetryd.Snapshot) string {
		t.Helper()
		b, err := s.MarshalJSON()
		require.NoError(t, err)
		return string(b)
	}

	t.Run("a 5 MB deployment_id is a length error naming the id", func(t *testing.T) {
		s := storetest.NewSnapshot(t, strings.Repeat("d", 5_000_000), base, nil, 10)
		dir, code, _, stderr := importFile(t, "["+record(t, s)+"]")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, s.ID+": deployment_id is 5000000 bytes long, more than the 256 allowed")
		assert.NotContains(t, stderr, "key too large")
		requireEmpty(t, dir)
	})
	t.Run("1e400 in data is a number out of range, not a checksum mismatch", func(t *testing.T) {
		s := storetest.NewSnapshot(t, "dep", base, nil, 10)
		rec := strings.Replace(record(t, s), `"data":{`, `"data":{"huge":1e400,`, 1)
		dir, code, _, stderr := importFile(t, "["+rec+"]")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, s.ID+`: data cannot be canonicalised (RFC 8785): Number out of range: "1e400"`)
		assert.NotContains(t, stderr, "checksum")
		requireEmpty(t, dir)
	})
	t.Run("a UTF-8 byte order mark is accepted", func(t *testing.T) {
		snaps := storetest.Chain(t, "dep", base, 2, 10)
		_, code, stdout, stderr := importFile(t, "\ufeff[\n"+record(t, snaps[1])+",\n"+record(t, snaps[0])+"\n]\n")
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "imported 2 snapshots")
	})
	t.Run("a chain break inside the file imports nothing unless allowed, and is named", func(t *testing.T) {
		snaps := storetest.Chain(t, "dep", base, 3, 10)
		snaps[1].Data = []byte(`{"altered":true}`)
		require.NoError(t, snaps[1].Seal())
		file := "[" + record(t, snaps[2]) + "," + record(t, snaps[1]) + "," + record(t, snaps[0]) + "]"

		dir, code, _, stderr := importFile(t, file)
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "chains break inside the file (--allow-chain-breaks imports it anyway)")
		assert.Contains(t, stderr, snaps[2].ID+": chain break: previous_checksum does not match the checksum of "+snaps[1].ID)
		requireEmpty(t, dir)

		_, code, stdout, stderr := importFile(t, file, "--allow-chain-breaks")
		require.Equal(t, 0, code, stderr)
		assert.Contains(t, stdout, "imported 3 snapshots")
		assert.Contains(t, stderr, "warning: importing a chain break: "+snaps[2].ID)
	})
}

// The import reads its file twice; a pipe, which cannot be read again,
// is copied aside first.
func TestImportReadsAPipe(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "import.pipe")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	snaps := storetest.Chain(t, "dep", time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), 3, 10)
	file := filepath.Join(dir, "export.json")
	writeExport(t, file, snaps)
	content := readFile(t, file)
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer w.Close()
		_, _ = w.WriteString(content)
	}()
	code, stdout, stderr := execute(t, env(), "snapshots", "import", "--file", fifo, "--data-dir", dir)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, "imported 3 snapshots, 0 already present")
}
