package workflows

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/activity"
	"github.com/telemetryd/telemetryd/store"
)

// The built-in sections. Every field they return is listed, with its
// type and purpose, in docs/telemetry.md; a test keeps the two in step.
// Changing a field means bumping telemetryd.PayloadFormat.
//
// Each built-in returns a struct rather than a map, so nothing but the
// documented fields can reach a payload.

// InstanceSection describes the running server: "instance".
type InstanceSection struct {
	DeploymentID string
	Version      string
	// Started is when the process started, for uptime; zero gives null.
	Started time.Time
	// Now reads the clock; nil means time.Now.
	Now func() time.Time
	// Getenv reads the environment to detect a CI system; nil means
	// os.Getenv. Only the presence of well-known variables is used,
	// never their values.
	Getenv func(string) string
	// Meminfo is the file giving the machine's memory; empty means
	// /proc/meminfo. Where it cannot be read, memory_total_bytes is null.
	Meminfo string
}

// Name returns "instance".
func (*InstanceSection) Name() string { return "instance" }

type instanceData struct {
	DeploymentID     string  `json:"deployment_id"`
	Version          string  `json:"version"`
	GoVersion        string  `json:"go_version"`
	OS               string  `json:"os"`
	Arch             string  `json:"arch"`
	CPUCores         int     `json:"cpu_cores"`
	MemoryTotalBytes *int64  `json:"memory_total_bytes"`
	UptimeSeconds    *int64  `json:"uptime_seconds"`
	CI               *string `json:"ci"`
}

// Collect describes the instance.
func (s *InstanceSection) Collect(context.Context) (any, error) {
	d := instanceData{
		DeploymentID: s.DeploymentID,
		Version:      s.Version,
		GoVersion:    runtime.Version(),
		OS:           runtime.GOOS,
		Arch:         runtime.GOARCH,
		CPUCores:     runtime.NumCPU(),
	}
	path := s.Meminfo
	if path == "" {
		path = "/proc/meminfo"
	}
	if kb, ok := meminfoTotal(path); ok {
		total := kb * 1024
		d.MemoryTotalBytes = &total
	}
	if !s.Started.IsZero() {
		now := time.Now
		if s.Now != nil {
			now = s.Now
		}
		up := int64(now().Sub(s.Started) / time.Second)
		d.UptimeSeconds = &up
	}
	getenv := os.Getenv
	if s.Getenv != nil {
		getenv = s.Getenv
	}
	if vendor := CIVendor(getenv); vendor != "" {
		d.CI = &vendor
	}
	return d, nil
}

// meminfoTotal reads MemTotal, in kB, from a /proc/meminfo file.
func meminfoTotal(path string) (int64, bool) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		fields := bytes.Fields(sc.Bytes())
		if len(fields) >= 2 && string(fields[0]) == "MemTotal:" {
			kb, err := strconv.ParseInt(string(fields[1]), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}

// ciVendors maps an environment variable each CI system sets to the name
// reported, in the manner of the ci-info packages; the first one set
// wins.
var ciVendors = []struct{ env, vendor string }{
	{"GITHUB_ACTIONS", "github_actions"},
	{"GITLAB_CI", "gitlab"},
	{"CIRCLECI", "circleci"},
	{"BUILDKITE", "buildkite"},
	{"JENKINS_URL", "jenkins"},
	{"TRAVIS", "travis"},
	{"TF_BUILD", "azure_pipelines"},
	{"BITBUCKET_BUILD_NUMBER", "bitbucket"},
	{"TEAMCITY_VERSION", "teamcity"},
	{"DRONE", "drone"},
	{"CODEBUILD_BUILD_ID", "aws_codebuild"},
}

// CIVendor names the CI system the process runs under, "unknown" for one
// that only sets CI, and "" outside CI. It tells test installations from
// real ones without reading any variable's value beyond CI's.
func CIVendor(getenv func(string) string) string {
	for _, v := range ciVendors {
		if getenv(v.env) != "" {
			return v.vendor
		}
	}
	if ci := getenv("CI"); ci != "" && ci != "false" && ci != "0" {
		return "unknown"
	}
	return ""
}

// StoreStats is the "store" section, measured by the backend.
type StoreStats struct {
	// Backend is store.Store's Backend(): "neo4j" or "embedded".
	Backend string `json:"backend"`
	// DatabaseType such as "neo4j-community", "neo4j-enterprise" or
	// "bbolt".
	DatabaseType string `json:"database_type"`
	// ServerVersion is the database server's version; empty gives null.
	ServerVersion string `json:"server_version"`
	// Nodes and Relationships count everything stored; for Neo4j from the
	// count store, in constant time.
	Nodes         int64 `json:"nodes"`
	Relationships int64 `json:"relationships"`
	// NodesByLabel and RelationshipsByType break the counts down by
	// telemetryd's own labels and types; nil gives an empty object.
	NodesByLabel        map[string]int64 `json:"nodes_by_label"`
	RelationshipsByType map[string]int64 `json:"relationships_by_type"`
}

// StoreSection is the "store" section: Stats measures the backend.
type StoreSection struct {
	Stats func(ctx context.Context) (StoreStats, error)
}

// Name returns "store".
func (*StoreSection) Name() string { return "store" }

// Collect calls Stats.
func (s *StoreSection) Collect(ctx context.Context) (any, error) {
	st, err := s.Stats(ctx)
	if err != nil {
		return nil, err
	}
	if st.NodesByLabel == nil {
		st.NodesByLabel = map[string]int64{}
	}
	if st.RelationshipsByType == nil {
		st.RelationshipsByType = map[string]int64{}
	}
	return struct {
		StoreStats
		ServerVersion *string `json:"server_version"`
	}{st, nullable(st.ServerVersion)}, nil
}

// SchemaStats is the "schema" section: what the server serves and what
// the database holds, by name and count, never by content.
type SchemaStats struct {
	// GraphQLTypes and GraphQLFields count the GraphQL schema's own types
	// (introspection types excluded) and their fields.
	GraphQLTypes  int `json:"graphql_types"`
	GraphQLFields int `json:"graphql_fields"`
	// Labels and RelationshipTypes name telemetryd's own labels and types
	// in the database, sorted; nil gives an empty list, never null.
	Labels            []string `json:"labels"`
	RelationshipTypes []string `json:"relationship_types"`
	// Constraints and Indexes count the database's.
	Constraints int `json:"constraints"`
	Indexes     int `json:"indexes"`
}

// SchemaSection is the "schema" section: Schema measures it.
type SchemaSection struct {
	Schema func(ctx context.Context) (SchemaStats, error)
}

// Name returns "schema".
func (*SchemaSection) Name() string { return "schema" }

// Collect calls Schema.
func (s *SchemaSection) Collect(ctx context.Context) (any, error) {
	st, err := s.Schema(ctx)
	if err != nil {
		return nil, err
	}
	if st.Labels == nil {
		st.Labels = []string{}
	}
	if st.RelationshipTypes == nil {
		st.RelationshipTypes = []string{}
	}
	return st, nil
}

// AccessReader reads accounts and roles; store.Store satisfies it.
type AccessReader interface {
	Access(ctx context.Context) (*store.Access, error)
}

// AccountsSection is the "accounts" section: counts only, no names.
type AccountsSection struct {
	Access AccessReader
}

// Name returns "accounts".
func (*AccountsSection) Name() string { return "accounts" }

type accountsData struct {
	Total            int `json:"total"`
	Disabled         int `json:"disabled"`
	Roles            int `json:"roles"`
	CustomRoles      int `json:"custom_roles"`
	SuperAdmins      int `json:"super_admins"`
	TelemetryReaders int `json:"telemetry_readers"`
}

// Collect counts accounts and roles.
func (s *AccountsSection) Collect(ctx context.Context) (any, error) {
	a, err := s.Access.Access(ctx)
	if err != nil {
		return nil, err
	}
	d := accountsData{Total: len(a.Accounts), Roles: len(a.Roles)}
	for _, acc := range a.Accounts {
		if acc.Disabled {
			d.Disabled++
		}
		if slices.Contains(acc.Roles, telemetryd.RoleSuperAdmin) {
			d.SuperAdmins++
		}
		if slices.Contains(acc.Roles, telemetryd.RoleTelemetryReader) {
			d.TelemetryReaders++
		}
	}
	for _, r := range a.Roles {
		if r.Name != telemetryd.RoleSuperAdmin && r.Name != telemetryd.RoleTelemetryReader {
			d.CustomRoles++
		}
	}
	return d, nil
}

// ActivityReader reads per-day counters; store.Store satisfies it.
type ActivityReader interface {
	ActivityOn(ctx context.Context, day string) (map[string]int64, error)
}

// ActivitySection is the "activity_24h" section: every counter of
// activity.Names over yesterday's UTC day, [00:00, 24:00), 0 when nothing
// was counted.
type ActivitySection struct {
	Activity ActivityReader
	// Now reads the clock; nil means time.Now.
	Now func() time.Time
}

// Name returns "activity_24h".
func (*ActivitySection) Name() string { return "activity_24h" }

// Collect reads yesterday's counters.
func (s *ActivitySection) Collect(ctx context.Context) (any, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	yesterday := telemetryd.Day(now().UTC().AddDate(0, 0, -1))
	counts, err := s.Activity.ActivityOn(ctx, yesterday)
	if err != nil {
		return nil, err
	}
	// Only the known counters, so a stray one in the store cannot add a
	// field nobody documented.
	d := make(map[string]int64, len(activity.Names))
	for _, name := range activity.Names {
		d[name] = counts[name]
	}
	return d, nil
}

// TokenReader lists accounts and their tokens; store.Store satisfies it.
type TokenReader interface {
	AccessReader
	ListTokens(ctx context.Context, accountID string, kind telemetryd.TokenKind) ([]*telemetryd.Token, error)
}

// FeaturesSection is the "features" section: which optional features the
// deployment uses.
type FeaturesSection struct {
	// RemoteSending is whether snapshots are sent (after DO_NOT_TRACK).
	RemoteSending bool
	// Retention is --telemetry-retention; zero keeps snapshots forever.
	Retention time.Duration
	// Tokens finds the token kinds in use.
	Tokens TokenReader
	// Now reads the clock, to tell active tokens; nil means time.Now.
	Now func() time.Time
}

// Name returns "features".
func (*FeaturesSection) Name() string { return "features" }

type featuresData struct {
	RemoteSending   bool     `json:"remote_sending"`
	RetentionDays   int      `json:"retention_days"`
	TokenKindsInUse []string `json:"token_kinds_in_use"`
}

// Collect reports the features.
func (s *FeaturesSection) Collect(ctx context.Context) (any, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	a, err := s.Tokens.Access(ctx)
	if err != nil {
		return nil, err
	}
	kinds := []string{}
	for _, kind := range []telemetryd.TokenKind{telemetryd.APIToken, telemetryd.RefreshToken} {
		inUse, err := anyActiveToken(ctx, s.Tokens, a.Accounts, kind, now())
		if err != nil {
			return nil, err
		}
		if inUse {
			kinds = append(kinds, string(kind))
		}
	}
	return featuresData{
		RemoteSending:   s.RemoteSending,
		RetentionDays:   int(s.Retention / day),
		TokenKindsInUse: kinds,
	}, nil
}

// anyActiveToken reports whether an account holds an active token of the
// kind. Deployments have tens of accounts, so a listing per account is
// cheap.
func anyActiveToken(ctx context.Context, tokens TokenReader, accounts []*telemetryd.Account, kind telemetryd.TokenKind, now time.Time) (bool, error) {
	for _, acc := range accounts {
		list, err := tokens.ListTokens(ctx, acc.ID, kind)
		if err != nil {
			return false, fmt.Errorf("listing %s tokens: %w", kind, err)
		}
		for _, t := range list {
			if t.Active(now) {
				return true, nil
			}
		}
	}
	return false, nil
}

// ProcessSection is the "process" section: the server process's use of
// the machine.
type ProcessSection struct{}

// Name returns "process".
func (ProcessSection) Name() string { return "process" }

type processData struct {
	CPUSeconds *float64 `json:"cpu_seconds"`
	RSSBytes   *int64   `json:"rss_bytes"`
	Goroutines int      `json:"goroutines"`
}

// Collect measures the process. CPU seconds and RSS are null where the
// platform does not tell them.
func (ProcessSection) Collect(context.Context) (any, error) {
	d := processData{Goroutines: runtime.NumGoroutine()}
	if cpu, err := cpuSeconds(); err == nil {
		// Hundredths of a second are plenty and keep the number short.
		rounded := float64(int64(cpu*100+0.5)) / 100
		d.CPUSeconds = &rounded
	}
	if rss, err := rssBytes(); err == nil {
		d.RSSBytes = &rss
	}
	return d, nil
}

// rssBytes reads the resident set size from /proc/self/statm (Linux).
func rssBytes() (int64, error) {
	raw, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	fields := bytes.Fields(raw)
	if len(fields) < 2 {
		return 0, errors.New("unexpected /proc/self/statm")
	}
	pages, err := strconv.ParseInt(string(fields[1]), 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// StatsReader measures a store; store.Store is one.
type StatsReader interface {
	Backend() string
	Stats(ctx context.Context) (*store.Stats, error)
}

// StoreSections returns the "store" and "schema" sections of st. Both
// want the same reading, and on Neo4j each reading costs a round trip per
// label, so one reading serves both within a collection. graphQL counts
// the GraphQL schema's types and fields.
func StoreSections(st StatsReader, graphQL func() (types, fields int)) []Section {
	stats := &recentStats{store: st}
	return []Section{
		&StoreSection{Stats: func(ctx context.Context) (StoreStats, error) {
			s, err := stats.get(ctx)
			if err != nil {
				return StoreStats{}, err
			}
			return StoreStats{
				Backend: st.Backend(), DatabaseType: s.DatabaseType, ServerVersion: s.ServerVersion,
				Nodes: s.Nodes, Relationships: s.Relationships,
				NodesByLabel: s.NodesByLabel, RelationshipsByType: s.RelationshipsByType,
			}, nil
		}},
		&SchemaSection{Schema: func(ctx context.Context) (SchemaStats, error) {
			s, err := stats.get(ctx)
			if err != nil {
				return SchemaStats{}, err
			}
			types, fields := graphQL()
			return SchemaStats{
				GraphQLTypes: types, GraphQLFields: fields,
				Labels:            slices.Sorted(maps.Keys(s.NodesByLabel)),
				RelationshipTypes: slices.Sorted(maps.Keys(s.RelationshipsByType)),
				Constraints:       s.Constraints, Indexes: s.Indexes,
			}, nil
		}},
	}
}

// recentStats keeps one reading of a store for statsReuse.
type recentStats struct {
	store StatsReader

	mu    sync.Mutex
	at    time.Time
	stats *store.Stats
}

// statsReuse is how long one reading serves; a collection takes seconds.
const statsReuse = 30 * time.Second

func (r *recentStats) get(ctx context.Context) (*store.Stats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stats != nil && time.Since(r.at) < statsReuse {
		return r.stats, nil
	}
	s, err := r.store.Stats(ctx)
	if err != nil {
		return nil, err
	}
	r.stats, r.at = s, time.Now()
	return s, nil
}
