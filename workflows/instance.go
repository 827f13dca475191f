package workflows

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"runtime"
	"strconv"
	"time"
)

// InstanceSection describes the running server: "instance".
type InstanceSection struct {
	DeploymentID string
	Version      string
	// Started is when the process started, for uptime; zero gives null.
	Started time.Time
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

// Collect describes the instance at now.
func (s *InstanceSection) Collect(_ context.Context, now time.Time) (any, error) {
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
		up := int64(now.Sub(s.Started) / time.Second)
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
