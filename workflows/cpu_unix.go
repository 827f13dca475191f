//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package workflows

import (
	"syscall"
	"time"
)

// cpuSeconds returns the user and system CPU time the process has used.
func cpuSeconds() (float64, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, err
	}
	d := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return d.Seconds(), nil
}
