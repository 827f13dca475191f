// Package cli is what telemetryd's two commands share on the command line:
// flags that read the environment, usage mistakes that exit 2, and the
// mapping of errors to exit codes.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/telemetryd/telemetryd"
)

// ExitError ends the process with Code, after Msg (if any) is printed.
type ExitError struct {
	// Code is the process's exit status.
	Code int
	// Msg is printed to standard error, after the program's name.
	Msg string
}

func (e *ExitError) Error() string { return e.Msg }

// UsageError is a mistake in the command line itself; it exits 2.
type UsageError struct {
	Err error
	// Command is the command whose help to point at; Execute sets it.
	Command string
}

func (e *UsageError) Error() string { return e.Err.Error() }
func (e *UsageError) Unwrap() error { return e.Err }

// Usagef returns a UsageError with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Err: fmt.Errorf(format, args...)}
}

// envAnnotation marks a flag that its environment variable may set.
const envAnnotation = "env"

// WithEnv lets the named flag be set from the environment variable and
// says so in the flag's help.
func WithEnv(fs *pflag.FlagSet, name, variable string) {
	f := fs.Lookup(name)
	f.Usage += fmt.Sprintf(" (env %s)", variable)
	_ = fs.SetAnnotation(name, envAnnotation, []string{variable})
}

// applyEnv sets every flag not given on the command line from its
// environment variable, so a flag always beats the environment.
func applyEnv(cmd *cobra.Command, getenv func(string) string) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		variable, ok := f.Annotations[envAnnotation]
		if err != nil || !ok || f.Changed {
			return
		}
		if v := getenv(variable[0]); v != "" {
			if setErr := f.Value.Set(v); setErr != nil {
				err = Usagef("invalid value %q for --%s (from %s): %v", v, f.Name, variable[0], setErr)
				return
			}
			f.Changed = true // so a required flag counts as given
		}
	})
	return err
}

// Execute runs root with args. Before any command runs it reads flags
// from the environment and checks required flags; every error up to that
// point, including cobra's own for unknown commands and wrong argument
// counts, is a UsageError naming the command. It owns root's
// PersistentPreRunE, flag error function and error printing: commands set
// none of these themselves.
func Execute(ctx context.Context, root *cobra.Command, args []string, getenv func(string) string) error {
	reached := false
	root.SilenceUsage = true
	root.SilenceErrors = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &UsageError{Err: err} })
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if err := applyEnv(cmd, getenv); err != nil {
			return err
		}
		// Cobra checks required flags only after this hook; checked here, a
		// missing one is reported as a usage mistake.
		if err := cmd.ValidateRequiredFlags(); err != nil {
			return &UsageError{Err: err}
		}
		if err := cmd.ValidateFlagGroups(); err != nil {
			return &UsageError{Err: err}
		}
		reached = true
		return nil
	}
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	var usage *UsageError
	var exit *ExitError
	switch {
	case errors.As(err, &usage):
		usage.Command = cmd.CommandPath()
	case err != nil && !reached && !errors.As(err, &exit):
		return &UsageError{Err: err, Command: cmd.CommandPath()}
	}
	return err
}

// ExitCode prints err as program's message and maps it to the process
// exit code: 0 on success, 2 for usage mistakes, 1 for everything else.
func ExitCode(program string, err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var exit *ExitError
	if errors.As(err, &exit) {
		if exit.Msg != "" {
			fmt.Fprintf(stderr, "%s: %s\n", program, exit.Msg)
		}
		return exit.Code
	}
	fmt.Fprintf(stderr, "%s: %v\n", program, err)
	var usage *UsageError
	if errors.As(err, &usage) {
		if usage.Command != "" {
			fmt.Fprintf(stderr, "Run '%s --help' for usage.\n", usage.Command)
		}
		return 2
	}
	return 1
}

// Group makes cmd a command that only holds subcommands: alone it prints
// its help, and an argument that names no subcommand is a usage mistake
// (cobra would print the help and succeed).
func Group(cmd *cobra.Command) *cobra.Command {
	cmd.Args = cobra.ArbitraryArgs
	cmd.SuggestionsMinimumDistance = 2 // cobra's default for its own suggestions
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "; did you mean " + strings.Join(s, " or ") + "?"
		}
		return &UsageError{Err: errors.New(msg)}
	}
	return cmd
}

// DateFilter reads --start-date and --end-date into a filter, naming the
// flag that is wrong.
func DateFilter(start, end string) (telemetryd.Filter, error) {
	var f telemetryd.Filter
	var err error
	f.Start, f.End, err = telemetryd.ParseRange(start, end)
	var re *telemetryd.RangeError
	if errors.As(err, &re) {
		return f, Usagef("%s", re.Named("--start-date", "--end-date"))
	}
	return f, err
}

// Statuses reads --status values into send statuses, naming the flag
// when one is not a status.
func Statuses(values []string) ([]telemetryd.SendStatus, error) {
	var out []telemetryd.SendStatus
	for _, v := range values {
		s := telemetryd.SendStatus(v)
		if !s.Valid() {
			return nil, Usagef("--status: %s is not one of pending, sent, skipped, failed", telemetryd.Echo(v))
		}
		out = append(out, s)
	}
	return out, nil
}

// ReportVerification prints a verifier's findings, one a line, and fails
// with exit code 1 when there are any.
func ReportVerification(w io.Writer, v *telemetryd.Verifier) error {
	for _, p := range v.Problems() {
		fmt.Fprintln(w, p)
	}
	if n := len(v.Problems()); n > 0 {
		return &ExitError{Code: 1, Msg: fmt.Sprintf("verification failed: %s in %s", count(n, "problem"), count(v.Count(), "snapshot"))}
	}
	fmt.Fprintf(w, "verified %s: checksums and chains intact\n", count(v.Count(), "snapshot"))
	return nil
}

// count renders n things: "1 problem", "2 problems".
func count(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
