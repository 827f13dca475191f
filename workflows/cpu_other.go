//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package workflows

import "errors"

// cpuSeconds is not measured on this platform; the field is null.
func cpuSeconds() (float64, error) { return 0, errors.New("not measured on this platform") }
