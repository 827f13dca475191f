package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/internal/cli"
)

// account and role are the GraphQL types as listed.
type account struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Disabled bool   `json:"disabled"`
	Roles    []role `json:"roles"`
}

type role struct {
	Name        string   `json:"name"`
	Permissions []string `json:"permissions"`
}

const (
	accountFields = `id username disabled roles { name permissions }`
	roleFields    = `name permissions`
)

func (a account) roleNames() string {
	names := make([]string, len(a.Roles))
	for i, r := range a.Roles {
		names[i] = r.Name
	}
	return orNone(strings.Join(names, ", "))
}

func (a account) status() string {
	if a.Disabled {
		return "disabled"
	}
	return "active"
}

func orNone(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printOutput prints v as indented JSON for -o json, or else calls table
// with a tab writer.
func printOutput(w io.Writer, output outputFormat, v any, table func(w io.Writer)) error {
	if output == "json" {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(w, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	table(tw)
	return tw.Flush()
}

func newAccountsCommand(e *env, connect connector) *cobra.Command {
	cmd := cli.Group(&cobra.Command{
		Use:   "accounts",
		Short: "List, create, disable and enable accounts and assign their roles (MANAGE_ACCOUNTS)",
	})

	var output outputFormat
	list := &cobra.Command{
		Use:   "list",
		Short: "List accounts with their roles",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := connect()
			if err != nil {
				return err
			}
			var data struct {
				Accounts []account `json:"accounts"`
			}
			if err := c.graphQL(cmd.Context(), `{ accounts { `+accountFields+` } }`, nil, &data); err != nil {
				return err
			}
			return printOutput(e.stdout, output, data.Accounts, func(w io.Writer) {
				fmt.Fprintln(w, "USERNAME\tSTATUS\tROLES")
				for _, a := range data.Accounts {
					fmt.Fprintf(w, "%s\t%s\t%s\n", a.Username, a.status(), a.roleNames())
				}
			})
		},
	}
	registerOutput(list.Flags(), &output)

	var (
		roles         []string
		passwordStdin bool
	)
	create := &cobra.Command{
		Use:   "create USER [--role R]... [--password-stdin]",
		Short: "Create an account; its password is asked for, or read from standard input",
		Example: `  telemetryctl accounts create alice --role telemetry-reader
  printf '%s' "$PASSWORD" | telemetryctl accounts create ci --role telemetry-reader --password-stdin`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := connect()
			if err != nil {
				return err
			}
			password, err := readPassword(e, passwordStdin, "Password of "+args[0]+": ", true)
			if err != nil {
				return err
			}
			var data struct {
				Account account `json:"createAccount"`
			}
			err = c.graphQL(cmd.Context(), `mutation($u: String!, $p: String!, $r: [String!]) { createAccount(username: $u, password: $p, roles: $r) { `+accountFields+` } }`,
				map[string]any{"u": args[0], "p": password, "r": roles}, &data)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "created account %s with roles: %s\n", data.Account.Username, data.Account.roleNames())
			return nil
		},
	}
	create.Flags().StringArrayVar(&roles, "role", nil, "role to assign; repeat for several")
	create.Flags().BoolVar(&passwordStdin, "password-stdin", false, "read the password from standard input")

	disabled := func(w io.Writer, a account) { fmt.Fprintf(w, "account %s is %s\n", a.Username, a.status()) }
	hasRoles := func(w io.Writer, a account) { fmt.Fprintf(w, "account %s has roles: %s\n", a.Username, a.roleNames()) }
	cmd.AddCommand(list, create,
		accountMutation(e, connect, "disable USER", "Disable an account; its tokens stop working at once, and enabling it again restores none",
			`setAccountDisabled(username: $u, disabled: true)`, disabled),
		accountMutation(e, connect, "enable USER", "Enable a disabled account; its user signs in again",
			`setAccountDisabled(username: $u, disabled: false)`, disabled),
		accountMutation(e, connect, "assign-role USER ROLE", "Give an account a role; it applies from the account's next login or refresh",
			`assignRole(username: $u, role: $r)`, hasRoles),
		accountMutation(e, connect, "revoke-role USER ROLE", "Take a role from an account",
			`revokeRole(username: $u, role: $r)`, hasRoles),
	)
	return cmd
}

// accountMutation is a command whose arguments, USER ($u) and ROLE ($r)
// when use names one, feed one mutation returning the account, which
// report then describes.
func accountMutation(e *env, connect connector, use, short, call string, report func(io.Writer, account)) *cobra.Command {
	withRole := strings.Contains(use, "ROLE")
	params := "$u: String!"
	if withRole {
		params += ", $r: String!"
	}
	mutation := "mutation(" + params + ") { account: " + call + " { " + accountFields + " } }"
	return &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cobra.ExactArgs(len(strings.Fields(use)) - 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := connect()
			if err != nil {
				return err
			}
			vars := map[string]any{"u": args[0]}
			if withRole {
				vars["r"] = args[1]
			}
			var data struct {
				Account account `json:"account"`
			}
			if err := c.graphQL(cmd.Context(), mutation, vars, &data); err != nil {
				return err
			}
			report(e.stdout, data.Account)
			return nil
		},
	}
}

// permissionArgs reads --permission values: the enum names, in any case,
// with - for _ (read-telemetry is READ_TELEMETRY).
func permissionArgs(values []string) ([]string, error) {
	out := make([]string, 0, len(values))
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			name := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(p), "-", "_"))
			if !telemetryd.Permission(name).Valid() {
				return nil, &cli.UsageError{Err: fmt.Errorf("--permission %q: want one of %s", p, permissionList())}
			}
			if !slices.Contains(out, name) {
				out = append(out, name)
			}
		}
	}
	return out, nil
}

func permissionList() string {
	names := make([]string, len(telemetryd.AllPermissions))
	for i, p := range telemetryd.AllPermissions {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

func newRolesCommand(e *env, connect connector) *cobra.Command {
	cmd := cli.Group(&cobra.Command{
		Use:   "roles",
		Short: "List, create, change and delete roles (MANAGE_PERMISSIONS)",
	})

	var output outputFormat
	list := &cobra.Command{
		Use:   "list",
		Short: "List roles with the permissions they grant",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := connect()
			if err != nil {
				return err
			}
			var data struct {
				Roles []role `json:"roles"`
			}
			if err := c.graphQL(cmd.Context(), `{ roles { `+roleFields+` } }`, nil, &data); err != nil {
				return err
			}
			return printOutput(e.stdout, output, data.Roles, func(w io.Writer) {
				fmt.Fprintln(w, "NAME\tPERMISSIONS")
				for _, r := range data.Roles {
					fmt.Fprintf(w, "%s\t%s\n", r.Name, orNone(strings.Join(r.Permissions, ", ")))
				}
			})
		},
	}
	registerOutput(list.Flags(), &output)

	cmd.AddCommand(list,
		roleMutation(e, connect, "create NAME --permission P...", "Create a role granting the permissions",
			"createRole", "created role"),
		roleMutation(e, connect, "set-permissions NAME --permission P...", "Replace the permissions a role grants; this applies at once",
			"setRolePermissions", "role"),
		&cobra.Command{
			Use:   "delete NAME",
			Short: "Delete a role",
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := connect()
				if err != nil {
					return err
				}
				var data struct {
					Deleted bool `json:"deleteRole"`
				}
				if err := c.graphQL(cmd.Context(), `mutation($n: String!) { deleteRole(name: $n) }`, map[string]any{"n": args[0]}, &data); err != nil {
					return err
				}
				fmt.Fprintf(e.stdout, "deleted role %s\n", args[0])
				return nil
			},
		},
	)
	return cmd
}

// roleMutation is create or set-permissions: NAME and --permission feed
// the mutation field, which returns the role.
func roleMutation(e *env, connect connector, use, short, field, done string) *cobra.Command {
	mutation := "mutation($n: String!, $p: [GlobalPermission!]!) { role: " + field + "(name: $n, permissions: $p) { " + roleFields + " } }"
	var permissions []string
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: "  telemetryctl roles " + strings.Fields(use)[0] + " auditors --permission READ_TELEMETRY",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			perms, err := permissionArgs(permissions)
			if err != nil {
				return err
			}
			c, err := connect()
			if err != nil {
				return err
			}
			var data struct {
				Role role `json:"role"`
			}
			if err := c.graphQL(cmd.Context(), mutation, map[string]any{"n": args[0], "p": perms}, &data); err != nil {
				return err
			}
			r := data.Role
			fmt.Fprintf(e.stdout, "%s %s granting %s\n", done, r.Name, orNone(strings.Join(r.Permissions, ", ")))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&permissions, "permission", nil, "permission to grant ("+permissionList()+"); repeat for several")
	_ = cmd.MarkFlagRequired("permission")
	return cmd
}

// apiToken is an API token as listed, without its value.
type apiToken struct {
	ID         string  `json:"id"`
	Name       string  `json:"name"`
	CreatedAt  string  `json:"createdAt"`
	ExpiresAt  *string `json:"expiresAt"`
	LastUsedAt *string `json:"lastUsedAt"`
	Revoked    bool    `json:"revoked"`
}

func (t apiToken) status(now time.Time) string {
	switch {
	case t.Revoked:
		return "revoked"
	case t.ExpiresAt != nil && expired(*t.ExpiresAt, now):
		return "expired"
	}
	return "active"
}

func expired(at string, now time.Time) bool {
	t, err := time.Parse(time.RFC3339Nano, at)
	return err == nil && !t.After(now)
}

func orNever(s *string) string {
	if s == nil {
		return "never"
	}
	return *s
}

// relativeExpiry is --expires as a period from now: 90d or a Go duration.
var relativeExpiry = regexp.MustCompile(`^(\d+)d$`)

// expiresAt reads --expires: a period from now (90d, 36h) becomes that
// instant; a date or date-time goes to the server as typed, where a bare
// date means the end of that UTC day.
func expiresAt(s string, now time.Time) (string, error) {
	if m := relativeExpiry.FindStringSubmatch(s); m != nil {
		days, err := strconv.Atoi(m[1])
		if err == nil && days > 0 {
			return now.AddDate(0, 0, days).UTC().Format(telemetryd.TimeLayout), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d).UTC().Format(telemetryd.TimeLayout), nil
	}
	t, err := telemetryd.ParseEndDate(s)
	if err != nil {
		return "", &cli.UsageError{Err: fmt.Errorf("--expires: want a period such as 90d or 36h, or %v", err)}
	}
	if !t.After(now) {
		return "", &cli.UsageError{Err: errors.New("--expires must be in the future")}
	}
	return s, nil
}

func newTokensCommand(e *env, connect connector) *cobra.Command {
	cmd := cli.Group(&cobra.Command{
		Use:   "tokens",
		Short: "Create, list and revoke your API tokens, for scripts (--token or TELEMETRYCTL_TOKEN)",
	})

	var expires string
	create := &cobra.Command{
		Use:   "create NAME [--expires D]",
		Short: "Create an API token acting with your roles; it is printed only this once",
		Example: `  TOKEN=$(telemetryctl tokens create nightly-export --expires 90d)
  TELEMETRYCTL_TOKEN=$TOKEN telemetryctl telemetry export --output all.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			vars := map[string]any{"n": args[0]}
			if expires != "" {
				at, err := expiresAt(expires, time.Now())
				if err != nil {
					return err
				}
				vars["e"] = at
			}
			c, err := connect()
			if err != nil {
				return err
			}
			var data struct {
				Token struct {
					ID        string  `json:"id"`
					Name      string  `json:"name"`
					Token     string  `json:"token"`
					ExpiresAt *string `json:"expiresAt"`
				} `json:"createApiToken"`
			}
			if err := c.graphQL(cmd.Context(), `mutation($n: String!, $e: DateTime) { createApiToken(name: $n, expiresAt: $e) { id name token expiresAt } }`, vars, &data); err != nil {
				return err
			}
			// The value alone goes to stdout, so scripts can capture it.
			fmt.Fprintln(e.stdout, data.Token.Token)
			fmt.Fprintf(e.stderr, "Created API token %s (id %s, expires %s). It is shown only this once: keep it now.\n",
				data.Token.Name, data.Token.ID, orNever(data.Token.ExpiresAt))
			return nil
		},
	}
	create.Flags().StringVar(&expires, "expires", "", "when the token expires: a period (90d, 36h), a date (the end of that UTC day) or a date-time; default never")

	var output outputFormat
	list := &cobra.Command{
		Use:   "list",
		Short: "List your API tokens, revoked and expired ones included",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := connect()
			if err != nil {
				return err
			}
			var data struct {
				Tokens []apiToken `json:"apiTokens"`
			}
			if err := c.graphQL(cmd.Context(), `{ apiTokens { id name createdAt expiresAt lastUsedAt revoked } }`, nil, &data); err != nil {
				return err
			}
			now := time.Now()
			return printOutput(e.stdout, output, data.Tokens, func(w io.Writer) {
				fmt.Fprintln(w, "ID\tNAME\tSTATUS\tCREATED\tEXPIRES\tLAST USED")
				for _, t := range data.Tokens {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.status(now), t.CreatedAt, orNever(t.ExpiresAt), orNever(t.LastUsedAt))
				}
			})
		},
	}
	registerOutput(list.Flags(), &output)

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke an API token; it stops working at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := connect()
			if err != nil {
				return err
			}
			var data struct {
				Revoked bool `json:"revokeApiToken"`
			}
			if err := c.graphQL(cmd.Context(), `mutation($id: ID!) { revokeApiToken(id: $id) }`, map[string]any{"id": args[0]}, &data); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "revoked API token %s\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}
