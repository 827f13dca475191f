package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
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
	code, _, stderr := execute(t, env(), append([]string{"snapshots", "import", "--file", file}, args...)...)
	require.Equal(t, 0, code, stderr)

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
