// Command telemetryd keeps a daily telemetry snapshot of a deployment and
// serves it over GraphQL and REST to accounts allowed to read it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// run executes one telemetryd command line; main is only its shell, so
// tests drive this directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	root := newRootCommand(getenv, stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// exitError ends the process with code, after its message (if any) has
// been printed.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// usageError marks a mistake in the command line itself.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// exitCode prints err and maps it to the process exit code: 0 on success,
// 2 for usage mistakes, 1 for everything else.
func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var exit *exitError
	if errors.As(err, &exit) {
		if exit.msg != "" {
			fmt.Fprintln(stderr, "telemetryd:", exit.msg)
		}
		return exit.code
	}
	fmt.Fprintln(stderr, "telemetryd:", err)
	var usage *usageError
	if errors.As(err, &usage) {
		return 2
	}
	return 1
}
