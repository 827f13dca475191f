package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/exportfile"
)

// seededNewestFirst returns the ids of the seeded snapshots in listing
// order.
func seededNewestFirst() []string {
	ids := make([]string, 0, len(shared.seeded))
	for _, s := range slices.Backward(shared.seeded) {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestTelemetryList(t *testing.T) {
	srv := sharedServer(t)
	admin := loginAs(t, srv, "admin", adminPassword)
	newest := shared.seeded[len(shared.seeded)-1]

	t.Run("table shows the newest 50 and the total", func(t *testing.T) {
		r := ctl(t, admin, "", append([]string{"telemetry", "list"}, seededRange...)...)
		requireOK(t, r)
		lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
		require.Len(t, lines, 1+50+1)
		assert.Regexp(t, `^CREATED \(UTC\)\s+ID\s+VERSION\s+DEPLOYMENT\s+REMOTE\s+CHECKSUM$`, lines[0])
		assert.Regexp(t, `^`+regexp.QuoteMeta(newest.CreatedAt.Format("2006-01-02 15:04:05"))+`\s+`+newest.ID+`\s+0\.1\.0\s+`+seededDeployment+`\s+pending\s+ok$`, lines[1])
		assert.Equal(t, "Showing 50 of 1100", lines[len(lines)-1])
	})

	t.Run("json prints the API's response", func(t *testing.T) {
		r := ctl(t, admin, "", append([]string{"telemetry", "list", "-o", "json", "--limit", "3", "--offset", "1"}, seededRange...)...)
		requireOK(t, r)
		var resp struct {
			Count     int                    `json:"count"`
			Snapshots []*telemetryd.Snapshot `json:"snapshots"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &resp))
		assert.Equal(t, seededCount, resp.Count)
		require.Len(t, resp.Snapshots, 3)
		assert.Equal(t, seededNewestFirst()[1:4], []string{resp.Snapshots[0].ID, resp.Snapshots[1].ID, resp.Snapshots[2].ID})
		assert.True(t, resp.Snapshots[0].ChecksumValid())
	})

	t.Run("a bare end date includes its whole day", func(t *testing.T) {
		r := ctl(t, admin, "", "telemetry", "list", "--start-date", "2020-01-05", "--end-date", "2020-01-06")
		requireOK(t, r)
		assert.Contains(t, r.stdout, shared.seeded[4].ID)
		assert.Contains(t, r.stdout, shared.seeded[5].ID)
		assert.Contains(t, r.stdout, "Showing 2 of 2")
	})

	t.Run("deployment and status filters go to the server", func(t *testing.T) {
		r := ctl(t, admin, "", "telemetry", "list", "--deployment-id", seededDeployment, "--status", "pending,failed", "--end-date", "2020-01-10")
		requireOK(t, r)
		assert.Contains(t, r.stdout, "Showing 10 of 10")
		r = ctl(t, admin, "", append([]string{"telemetry", "list", "--status", "sent"}, seededRange...)...)
		requireOK(t, r)
		assert.Contains(t, r.stdout, "Showing 0 of 0", "every seeded snapshot is pending")

		file := filepath.Join(t.TempDir(), "part.json")
		r = ctl(t, admin, "", "telemetry", "export", "--output", file, "--deployment-id", seededDeployment, "--status", "pending", "--end-date", "2020-01-10")
		requireOK(t, r)
		assert.Equal(t, "exported 10 snapshots to "+file+"\n", r.stdout)
	})

	t.Run("an unknown status is a usage mistake naming the flag", func(t *testing.T) {
		requireFailure(t, ctl(t, admin, "", "telemetry", "list", "--status", "sent,lost"), 2, "--status")
		requireFailure(t, ctl(t, admin, "", "telemetry", "export", "--output", filepath.Join(t.TempDir(), "x.json"), "--status", "SENT"), 2, "--status")
	})

	t.Run("an empty range says so", func(t *testing.T) {
		r := ctl(t, admin, "", "telemetry", "list", "--end-date", "2019-12-31")
		requireOK(t, r)
		assert.Contains(t, r.stdout, "Showing 0 of 0")
	})
}

func TestTelemetryExportAndVerify(t *testing.T) {
	srv := sharedServer(t)
	admin := loginAs(t, srv, "admin", adminPassword)
	dir := t.TempDir()
	file := filepath.Join(dir, "export.json")

	t.Run("exports more than one page newest first", func(t *testing.T) {
		r := ctl(t, admin, "", append([]string{"telemetry", "export", "--output", file}, seededRange...)...)
		requireOK(t, r)
		assert.Equal(t, "exported 1100 snapshots to "+file+"\n", r.stdout)
		assert.Empty(t, r.stderr, "no progress bar when stderr is not a terminal")

		in, err := os.Open(file)
		require.NoError(t, err)
		defer in.Close()
		snaps, err := exportfile.Read(in)
		require.NoError(t, err)
		ids := make([]string, len(snaps))
		for i, s := range snaps {
			ids[i] = s.ID
		}
		assert.Equal(t, seededNewestFirst(), ids)
	})

	t.Run("an export without bounds holds every snapshot", func(t *testing.T) {
		all := filepath.Join(dir, "all.json")
		requireOK(t, ctl(t, admin, "", "telemetry", "export", "--output", all))
		listed := ctl(t, admin, "", "telemetry", "list", "-o", "json", "--limit", "1")
		requireOK(t, listed)
		var resp struct{ Count int }
		require.NoError(t, json.Unmarshal([]byte(listed.stdout), &resp))
		in, err := os.Open(all)
		require.NoError(t, err)
		defer in.Close()
		snaps, err := exportfile.Read(in)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, len(snaps), seededCount)
		// The server's own snapshot of today may arrive meanwhile.
		assert.InDelta(t, resp.Count, len(snaps), 1)
	})

	t.Run("a clean export verifies", func(t *testing.T) {
		r := ctl(t, admin, "", "telemetry", "verify", "--file", file)
		requireOK(t, r)
		assert.Equal(t, "verified 1100 snapshots: checksums and chains intact\n", r.stdout)
	})

	t.Run("the server's snapshots verify", func(t *testing.T) {
		r := ctl(t, admin, "", "telemetry", "verify")
		requireOK(t, r)
		assert.Contains(t, r.stdout, "checksums and chains intact")
	})

	records := readRecords(t, file)
	tests := []struct {
		name   string
		tamper func([]map[string]any) []map[string]any
		want   []string
	}{
		{
			name: "altered data fails naming the snapshot",
			tamper: func(recs []map[string]any) []map[string]any {
				recs[10]["data"].(map[string]any)["note"] = "altered"
				return recs
			},
			want: []string{records[10]["id"].(string) + ": checksum mismatch"},
		},
		{
			name: "a deleted snapshot fails as a chain break at the next newer one",
			tamper: func(recs []map[string]any) []map[string]any {
				return slices.Delete(recs, 20, 21)
			},
			want: []string{records[19]["id"].(string) + ": chain break"},
		},
		{
			name: "several problems are all listed",
			tamper: func(recs []map[string]any) []map[string]any {
				recs[1]["version"] = "9.9.9"
				recs[500]["created_at"] = "2021-01-01T00:00:00.000000Z"
				return recs
			},
			want: []string{records[1]["id"].(string) + ": checksum mismatch", records[500]["id"].(string) + ": checksum mismatch"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tampered := filepath.Join(t.TempDir(), "tampered.json")
			writeRecords(t, tampered, tt.tamper(readRecords(t, file)))
			r := ctl(t, admin, "", "telemetry", "verify", "--file", tampered)
			requireFailure(t, r, 1, "verification failed")
			for _, w := range tt.want {
				assert.Contains(t, r.stdout, w)
			}
		})
	}

	t.Run("a file that is no export fails", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.json")
		require.NoError(t, os.WriteFile(bad, []byte(`{"not":"an array"}`), 0o600))
		requireFailure(t, ctl(t, admin, "", "telemetry", "verify", "--file", bad), 1, "JSON array")
	})
}

func readRecords(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var recs []map[string]any
	require.NoError(t, json.Unmarshal(b, &recs))
	return recs
}

func writeRecords(t *testing.T, path string, recs []map[string]any) {
	t.Helper()
	b, err := json.Marshal(recs)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

func TestTelemetrySnapshotCommands(t *testing.T) {
	srv := sharedServer(t)
	admin := loginAs(t, srv, "admin", adminPassword)

	var id string
	t.Run("run makes today's snapshot, stored but not sent", func(t *testing.T) {
		r := ctl(t, admin, "", "telemetry", "run")
		requireOK(t, r)
		m := regexp.MustCompile(`^snapshot (\S+) of \S+: remote send (\w+)\n$`).FindStringSubmatch(r.stdout)
		require.NotNil(t, m, r.stdout)
		id = m[1]
		assert.Equal(t, "skipped", m[2])
	})

	t.Run("get prints the record", func(t *testing.T) {
		r := ctl(t, admin, "", "telemetry", "get", id)
		requireOK(t, r)
		var s telemetryd.Snapshot
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &s))
		assert.Equal(t, id, s.ID)
		assert.True(t, s.ChecksumValid())
	})

	t.Run("get of an unknown id fails", func(t *testing.T) {
		requireFailure(t, ctl(t, admin, "", "telemetry", "get", "00000000-0000-4000-8000-000000000000"), 1, "not found")
	})

	t.Run("send records the outcome", func(t *testing.T) {
		r := ctl(t, admin, "", "telemetry", "send", id)
		requireOK(t, r)
		assert.Equal(t, "snapshot "+id+" of ", r.stdout[:len("snapshot "+id+" of ")])
		assert.Contains(t, r.stdout, "remote send skipped")
	})

	t.Run("preview prints what would be sent", func(t *testing.T) {
		r := ctl(t, admin, "", "telemetry", "preview")
		requireOK(t, r)
		var body map[string]any
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &body))
		assert.Contains(t, body, "checksum")
		assert.NotContains(t, body, "remote_send_status")
	})
}
