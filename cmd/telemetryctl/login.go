package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/telemetryd/telemetryd/internal/cli"
)

func newLoginCommand(e *env, connect connector) *cobra.Command {
	var (
		username      string
		passwordStdin bool
	)
	cmd := &cobra.Command{
		Use:   "login --username USER [--password-stdin]",
		Short: "Sign in and keep the credentials for the next commands",
		Long: `Sign in to --server and keep the access and refresh tokens in
$XDG_CONFIG_HOME/telemetryctl/credentials.json (else
~/.config/telemetryctl/credentials.json), readable by you only. The password
is asked for without echo, or read from standard input with --password-stdin.`,
		Example: `  telemetryctl login --username admin
  printf '%s' "$PASSWORD" | telemetryctl login --username admin --password-stdin`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := connect()
			if err != nil {
				return err
			}
			password, err := readPassword(e, passwordStdin, "Password: ", false)
			if err != nil {
				return err
			}
			var data struct {
				Login authPayload `json:"login"`
			}
			err = c.anonymousGraphQL(cmd.Context(), `mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken refreshToken expiresAt } }`,
				map[string]any{"u": username, "p": password}, &data)
			if err != nil {
				return fmt.Errorf("login failed: %w", err)
			}
			login := &credentials{Server: c.server, Username: username}
			data.Login.apply(login)
			unlock, err := c.creds.lock(cmd.Context())
			if err != nil {
				return err
			}
			defer unlock()
			if err := c.creds.save(login); err != nil {
				return err
			}
			path, _ := c.creds.path()
			fmt.Fprintf(e.stdout, "Logged in to %s as %s; credentials stored in %s\n", c.server, username, path)
			return nil
		},
	}
	cmd.Flags().StringVarP(&username, "username", "u", "", "account to sign in as (required)")
	cmd.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")
	_ = cmd.MarkFlagRequired("username")
	return cmd
}

func newLogoutCommand(e *env, connect connector) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Revoke the stored login on the server and delete it",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := connect()
			if err != nil {
				return err
			}
			// Read under the lock, so that no telemetryctl refreshing
			// meanwhile stores the login again once it is deleted, nor
			// leaves a newer refresh token unrevoked. Without a login
			// there is nothing to lock, nor a directory to make for it.
			login, err := c.creds.load()
			if err == nil && login != nil {
				unlock, lockErr := c.creds.lock(cmd.Context())
				if lockErr != nil {
					return lockErr
				}
				defer unlock()
				login, err = c.creds.load()
			}
			if err != nil {
				return err
			}
			if login == nil {
				fmt.Fprintln(e.stdout, "Not logged in.")
				return nil
			}
			// Logging out of another server than the stored login's would
			// surprise: revoke the session where it was made, if the
			// refresh token may travel there (a login stored by an older
			// telemetryctl may name a plain http server).
			var revokeErr error
			if server, err := serverURL(login.Server); err != nil {
				revokeErr = errors.New("the refresh token is not sent over plain http to another machine")
			} else {
				c.server = server
				var data struct {
					Logout bool `json:"logout"`
				}
				revokeErr = c.anonymousGraphQL(cmd.Context(), `mutation($t: String!) { logout(refreshToken: $t) }`,
					map[string]any{"t": login.RefreshToken}, &data)
			}
			// The local credentials go whatever the server said: the user
			// asked to be logged out here.
			if err := c.creds.remove(); err != nil {
				return err
			}
			if revokeErr != nil {
				return fmt.Errorf("deleted the stored credentials, but could not revoke the session on %s: %w", login.Server, revokeErr)
			}
			fmt.Fprintf(e.stdout, "Logged out of %s.\n", login.Server)
			return nil
		},
	}
}

// readPassword reads a password from standard input with --password-stdin
// (its first line), or else asks for it without echo on the terminal;
// confirm asks twice, for a new password.
func readPassword(e *env, fromStdin bool, prompt string, confirm bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("reading the password from standard input: %w", err)
		}
		password := strings.TrimRight(line, "\r\n")
		if password == "" {
			return "", &cli.UsageError{Err: errors.New("--password-stdin: standard input holds no password")}
		}
		return password, nil
	}
	fd, ok := terminal(e.stdin)
	if !ok {
		return "", &cli.UsageError{Err: errors.New("standard input is not a terminal to ask for the password: pass it with --password-stdin")}
	}
	ask := func(prompt string) (string, error) {
		fmt.Fprint(e.stderr, prompt)
		b, err := term.ReadPassword(fd)
		fmt.Fprintln(e.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return string(b), nil
	}
	password, err := ask(prompt)
	if err != nil {
		return "", err
	}
	if confirm {
		again, err := ask("Repeat the password: ")
		if err != nil {
			return "", err
		}
		if again != password {
			return "", errors.New("the passwords differ")
		}
	}
	return password, nil
}
