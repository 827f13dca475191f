// Command telemetryd keeps a daily telemetry snapshot of a deployment and
// serves it over GraphQL and REST to accounts allowed to read it.
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
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(cli.ExitCode("telemetryd", err, os.Stderr))
}

// run executes one telemetryd command line; main is only its shell, so
// tests drive this directly.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return cli.Execute(ctx, newRootCommand(getenv, stdout, stderr), args, getenv)
}
