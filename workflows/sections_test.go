package workflows_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/workflows"
)

func TestCIVendorIsDetectedFromTheEnvironment(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "outside CI it is empty", env: nil, want: ""},
		{name: "GitHub Actions", env: map[string]string{"GITHUB_ACTIONS": "true", "CI": "true"}, want: "github_actions"},
		{name: "GitLab", env: map[string]string{"GITLAB_CI": "true"}, want: "gitlab"},
		{name: "Jenkins by its URL's presence", env: map[string]string{"JENKINS_URL": "https://ci.example/"}, want: "jenkins"},
		{name: "Azure Pipelines", env: map[string]string{"TF_BUILD": "True"}, want: "azure_pipelines"},
		{name: "AWS CodeBuild", env: map[string]string{"CODEBUILD_BUILD_ID": "x:1"}, want: "aws_codebuild"},
		{name: "only CI=true is unknown", env: map[string]string{"CI": "true"}, want: "unknown"},
		{name: "CI=false is not CI", env: map[string]string{"CI": "false"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, workflows.CIVendor(func(k string) string { return tt.env[k] }))
		})
	}
}

func TestInstanceSectionReadsMemoryAndUptime(t *testing.T) {
	dir := t.TempDir()
	meminfo := filepath.Join(dir, "meminfo")
	require.NoError(t, os.WriteFile(meminfo, []byte("MemTotal:       16318504 kB\nMemFree:         1000 kB\n"), 0o600))
	tests := []struct {
		name    string
		meminfo string
		started time.Time
		want    string
	}{
		{name: "meminfo and start time give numbers", meminfo: meminfo, started: day1.Add(-90 * time.Second),
			want: `"memory_total_bytes":16710148096,"uptime_seconds":90`},
		{name: "no meminfo nor start time give null", meminfo: filepath.Join(dir, "missing"),
			want: `"memory_total_bytes":null,"uptime_seconds":null`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &workflows.InstanceSection{DeploymentID: testDeployment, Version: "1.2.3", Started: tt.started,
				Getenv: func(string) string { return "" }, Meminfo: tt.meminfo}
			v, err := s.Collect(context.Background(), day1)
			require.NoError(t, err)
			raw, err := json.Marshal(v)
			require.NoError(t, err)
			assert.Contains(t, string(raw), tt.want)
			assert.Contains(t, string(raw), `"ci":null`)
		})
	}
}

func TestActivitySectionCountsYesterdayOnly(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	yesterday := telemetryd.Day(day1.AddDate(0, 0, -1))
	require.NoError(t, st.AddActivity(ctx, yesterday, map[string]int64{telemetryd.ActivityLogins: 3, telemetryd.ActivityServerErrors: 1}))
	require.NoError(t, st.AddActivity(ctx, telemetryd.Day(day1), map[string]int64{telemetryd.ActivityLogins: 100}))

	v, err := (&workflows.ActivitySection{Activity: st}).Collect(ctx, day1)
	require.NoError(t, err)
	raw, err := json.Marshal(v)
	require.NoError(t, err)
	assert.JSONEq(t, `{"logins":3,"failed_logins":0,"telemetry_reads":0,"exports":0,
		"graphql_requests":0,"rest_requests":0,"responses_5xx":1}`, string(raw))
}

// countingStats counts how often the store is measured.
type countingStats struct {
	neo4jLikeStats
	calls atomic.Int32
}

func (c *countingStats) Stats(ctx context.Context) (*store.Stats, error) {
	c.calls.Add(1)
	return c.neo4jLikeStats.Stats(ctx)
}

// Measuring Neo4j costs a round trip per label, so the "store" and
// "schema" sections of one collection share one reading, and the next
// collection measures again.
func TestStoreAndSchemaSectionsMeasureOncePerCollection(t *testing.T) {
	st := openStore(t)
	clock := newClock(t, day1)
	r := newRunner(st, offSender(t), clock)
	stats := &countingStats{}
	r.Sections = workflows.StoreSections(stats, func() (int, int) { return 1, 1 })

	body, err := r.Preview(context.Background())
	require.NoError(t, err)
	assert.Contains(t, string(body), `"nodes_by_label":{"Account":2,"Snapshot":10}`)
	assert.Contains(t, string(body), `"labels":["Account","Snapshot"]`)
	assert.Equal(t, int32(1), stats.calls.Load(), "one reading serves both sections")

	clock.Advance(time.Minute)
	_, err = r.Preview(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int32(2), stats.calls.Load(), "a later collection measures again")
}
