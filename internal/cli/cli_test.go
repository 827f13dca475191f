package cli_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"

	"github.com/telemetryd/telemetryd/internal/cli"
)

// tree is a small command line: `tool group leaf --name N` (required).
func tree(got *string) *cobra.Command {
	root := &cobra.Command{Use: "tool"}
	group := cli.Group(&cobra.Command{Use: "group"})
	leaf := &cobra.Command{
		Use:  "leaf",
		Args: cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error { return nil },
	}
	leaf.Flags().StringVar(got, "name", "", "a name")
	cli.WithEnv(leaf.Flags(), "name", "TOOL_NAME")
	_ = leaf.MarkFlagRequired("name")
	group.AddCommand(leaf)
	root.AddCommand(group)
	return root
}

func TestExecuteExitCodes(t *testing.T) {
	env := func(pairs map[string]string) func(string) string { return func(k string) string { return pairs[k] } }
	cases := []struct {
		name   string
		args   []string
		env    map[string]string
		code   int
		want   string // the --name the command saw
		stderr string
	}{
		{"a flag beats the environment", []string{"group", "leaf", "--name", "flag"}, map[string]string{"TOOL_NAME": "env"}, 0, "flag", ""},
		{"the environment fills a missing flag", []string{"group", "leaf"}, map[string]string{"TOOL_NAME": "env"}, 0, "env", ""},
		{"a missing required flag is a usage mistake", []string{"group", "leaf"}, nil, 2, "", `required flag(s) "name" not set`},
		{"an unknown subcommand is a usage mistake", []string{"group", "lead"}, nil, 2, "", `did you mean leaf`},
		{"an unknown flag is a usage mistake", []string{"group", "leaf", "--nme", "x"}, nil, 2, "", "unknown flag: --nme"},
		{"an extra argument is a usage mistake", []string{"group", "leaf", "--name", "x", "extra"}, nil, 2, "x", "unknown command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got string
			var stderr bytes.Buffer
			err := cli.Execute(context.Background(), tree(&got), tc.args, env(tc.env))
			assert.Equal(t, tc.code, cli.ExitCode("tool", err, &stderr))
			assert.Equal(t, tc.want, got)
			assert.Contains(t, stderr.String(), tc.stderr)
			if tc.code == 2 {
				assert.Contains(t, stderr.String(), "--help' for usage")
			}
		})
	}
}

func TestExitCodeOfOtherErrors(t *testing.T) {
	var stderr bytes.Buffer
	assert.Equal(t, 0, cli.ExitCode("tool", nil, &stderr))
	assert.Equal(t, 1, cli.ExitCode("tool", errors.New("disk full"), &stderr))
	assert.Equal(t, "tool: disk full\n", stderr.String())
	stderr.Reset()
	assert.Equal(t, 3, cli.ExitCode("tool", &cli.ExitError{Code: 3, Msg: "three"}, &stderr))
	assert.Equal(t, "tool: three\n", stderr.String())
}
