// Command telemetryctl is the command-line client of telemetryd: it lists,
// exports and verifies telemetry snapshots and administers who may read them.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/telemetryd/telemetryd/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.ExitCode("telemetryctl", err, os.Stderr))
}

// run executes one telemetryctl command line; main is only its shell, so
// tests drive this directly. Unlike telemetryd's run it takes stdin too,
// since passwords may be piped in.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	return cli.Execute(ctx, newRootCommand(&env{getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}), args, getenv)
}
