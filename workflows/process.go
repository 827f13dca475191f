package workflows

import (
	"bytes"
	"context"
	"errors"
	"os"
	"runtime"
	"strconv"
	"time"
)

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
func (ProcessSection) Collect(context.Context, time.Time) (any, error) {
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
