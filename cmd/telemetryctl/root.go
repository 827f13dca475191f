package main

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/internal/cli"
)

// env is what a command line runs with: the process's environment and
// streams, injected so tests run commands in-process.
type env struct {
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// terminal returns the file descriptor of s when it is a terminal.
func terminal(s any) (int, bool) {
	f, ok := s.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0, false
	}
	return int(f.Fd()), true
}

// globalFlags are the flags every command takes.
type globalFlags struct {
	Server string
	Token  string
}

// DefaultServer is where telemetryctl looks for telemetryd unless told.
const DefaultServer = "http://127.0.0.1:8080"

// serverURL checks --server and returns it without a trailing slash, the
// form credentials are stored under. Passwords and tokens go to it, so it
// must be https, or plain http to this machine only.
func serverURL(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &cli.UsageError{Err: fmt.Errorf("--server %q must be an https:// URL (or http:// to this machine)", s)}
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		// Redacted: the point is not to echo a password typed into the URL.
		return "", &cli.UsageError{Err: fmt.Errorf("--server %q must be a URL without user, query or fragment: telemetryctl signs in with tokens", u.Redacted())}
	}
	if u.Scheme == "http" && !loopback(u.Hostname()) {
		return "", &cli.UsageError{Err: fmt.Errorf("--server %q: use https://; plain http:// would send passwords and tokens unencrypted, so it is allowed only to this machine (localhost, 127.0.0.0/8, ::1)", s)}
	}
	return strings.TrimRight(s, "/"), nil
}

// loopback reports whether host names this machine without DNS or a
// network in between.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func newRootCommand(e *env) *cobra.Command {
	var g globalFlags
	root := &cobra.Command{
		Use:   "telemetryctl",
		Short: "Command-line client of telemetryd: list, export and verify telemetry, manage access",
		Long: `telemetryctl talks to a running telemetryd over its API.

Sign in once with "telemetryctl login"; the credentials are kept in
$XDG_CONFIG_HOME/telemetryctl/ (else ~/.config/telemetryctl/) and the access
token is refreshed when it expires. Scripts may pass an API token with
--token or TELEMETRYCTL_TOKEN instead. Since passwords and tokens travel to
--server, it must be https://, or plain http:// to this machine only.

Output is plain text without colors, so NO_COLOR is always honoured.
Exit status: 0 on success, 1 on errors, 2 on mistakes in the command line.`,
	}
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&g.Server, "server", DefaultServer, "URL of telemetryd: https://, or http:// to this machine only")
	pf.StringVar(&g.Token, "token", "", "access or API token to use instead of the stored login")
	cli.WithEnv(pf, "server", "TELEMETRYCTL_SERVER")
	cli.WithEnv(pf, "token", "TELEMETRYCTL_TOKEN")

	// connect builds the API client from the global flags; commands call
	// it from RunE, after the flags and environment have been read.
	connect := func() (*client, error) {
		server, err := serverURL(g.Server)
		if err != nil {
			return nil, err
		}
		return newClient(server, g.Token, e.getenv, e.stderr), nil
	}
	root.AddCommand(
		newLoginCommand(e, connect),
		newLogoutCommand(e, connect),
		newTelemetryCommand(e, connect),
		newAccountsCommand(e, connect),
		newRolesCommand(e, connect),
		newTokensCommand(e, connect),
		&cobra.Command{
			Use:   "version",
			Short: "Print the version",
			Args:  cobra.NoArgs,
			Run: func(*cobra.Command, []string) {
				fmt.Fprintln(e.stdout, "telemetryctl", telemetryd.Version)
			},
		},
	)
	return root
}

// connector returns the API client of the command line's --server and
// --token.
type connector func() (*client, error)
