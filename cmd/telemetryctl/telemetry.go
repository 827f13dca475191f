package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/exportfile"
	"github.com/telemetryd/telemetryd/internal/cli"
)

func newTelemetryCommand(e *env, connect connector) *cobra.Command {
	cmd := cli.Group(&cobra.Command{
		Use:   "telemetry",
		Short: "List, export, verify, preview, create and send telemetry snapshots",
	})
	cmd.AddCommand(
		newListCommand(e, connect),
		newGetCommand(e, connect),
		newPreviewCommand(e, connect),
		newRunCommand(e, connect),
		newSendCommand(e, connect),
		newExportCommand(e, connect),
		newVerifyCommand(e, connect),
	)
	return cmd
}

// filterFlags are --start-date, --end-date, --deployment-id and
// --status. They go to the server as typed, so a bare end date keeps
// meaning "that whole UTC day"; they are only read here to catch mistakes,
// naming the flag, before a request.
type filterFlags struct {
	Start, End, DeploymentID string
	Statuses                 []string
}

func (f *filterFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.Start, "start-date", "", "only snapshots created on or after this ISO 8601 date (from 00:00 UTC) or date-time")
	fs.StringVar(&f.End, "end-date", "", "only snapshots created on or before this ISO 8601 date (the whole UTC day) or date-time")
	fs.StringVar(&f.DeploymentID, "deployment-id", "", "only this deployment's snapshots")
	fs.StringSliceVar(&f.Statuses, "status", nil, "only snapshots with one of these remote send statuses: pending, sent, skipped, failed (comma-separated or repeated)")
}

// query returns the filter as the REST routes' parameters, or a usage
// error naming the flag that is wrong.
func (f *filterFlags) query() (url.Values, error) {
	if _, err := cli.DateFilter(f.Start, f.End); err != nil {
		return nil, err
	}
	if _, err := cli.Statuses(f.Statuses); err != nil {
		return nil, err
	}
	q := url.Values{}
	for name, v := range map[string]string{"start_date": f.Start, "end_date": f.End, "deployment_id": f.DeploymentID, "status": strings.Join(f.Statuses, ",")} {
		if v != "" {
			q.Set(name, v)
		}
	}
	return q, nil
}

// snapshotList is the REST listing.
type snapshotList struct {
	Count     int                    `json:"count"`
	Snapshots []*telemetryd.Snapshot `json:"snapshots"`
}

// eachExported calls yield with every snapshot the export route answers
// for q, newest first, as they arrive.
func (c *client) eachExported(ctx context.Context, q url.Values, yield func(*telemetryd.Snapshot) error) error {
	return c.stream(ctx, "/api/telemetry/export", q, func(body io.Reader) error {
		return exportfile.Decode(body, func(i int, s *telemetryd.Snapshot, err error) error {
			if err != nil {
				return fmt.Errorf("record %d of the export: %w", i+1, err)
			}
			return yield(s)
		})
	})
}

// outputFormat is -o: table or json.
type outputFormat string

func (o *outputFormat) String() string { return string(*o) }
func (o *outputFormat) Type() string   { return "table|json" }
func (o *outputFormat) Set(s string) error {
	if s != "table" && s != "json" {
		return fmt.Errorf("want table or json")
	}
	*o = outputFormat(s)
	return nil
}

func registerOutput(fs *pflag.FlagSet, o *outputFormat) {
	*o = "table"
	fs.VarP(o, "output", "o", "output format: table or json")
}

func newListCommand(e *env, connect connector) *cobra.Command {
	var (
		filter        filterFlags
		limit, offset int
		output        outputFormat
	)
	cmd := &cobra.Command{
		Use:   "list [--start-date D] [--end-date D] [--deployment-id ID] [--status S,...] [--limit N] [--offset N] [-o table|json]",
		Short: "List snapshots, newest first",
		Example: `  telemetryctl telemetry list --start-date 2026-02-01 --end-date 2026-02-16
  telemetryctl telemetry list --status failed,pending
  telemetryctl telemetry list -o json | jq '.snapshots[].id'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := filter.query()
			if err != nil {
				return err
			}
			if limit < 1 || limit > telemetryd.MaxLimit {
				return &cli.UsageError{Err: fmt.Errorf("--limit must be 1-%d", telemetryd.MaxLimit)}
			}
			if offset < 0 {
				return &cli.UsageError{Err: errors.New("--offset must not be negative")}
			}
			c, err := connect()
			if err != nil {
				return err
			}
			q.Set("limit", strconv.Itoa(limit))
			q.Set("offset", strconv.Itoa(offset))
			body, err := c.getREST(cmd.Context(), "/api/telemetry/snapshots", q)
			if err != nil {
				return err
			}
			var list snapshotList
			if err := json.Unmarshal(body, &list); err != nil {
				return fmt.Errorf("reading the snapshot listing: %w", err)
			}
			if output == "json" {
				return printJSON(e.stdout, body)
			}
			w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(w, "CREATED (UTC)\tID\tVERSION\tDEPLOYMENT\tREMOTE\tCHECKSUM")
			for _, s := range list.Snapshots {
				check := "ok"
				if !s.ChecksumValid() {
					check = "MISMATCH"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", s.CreatedAt.UTC().Format(time.DateTime), s.ID, s.Version, s.DeploymentID, s.RemoteSendStatus, check)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "Showing %d of %d\n", len(list.Snapshots), list.Count)
			return nil
		},
	}
	filter.register(cmd.Flags())
	cmd.Flags().IntVar(&limit, "limit", 50, "how many snapshots to show (1-10000)")
	cmd.Flags().IntVar(&offset, "offset", 0, "how many of the newest snapshots to skip")
	registerOutput(cmd.Flags(), &output)
	return cmd
}

// printJSON writes a JSON answer indented, for people; it is the same
// JSON value the server sent.
func printJSON(w io.Writer, body []byte) error {
	var out bytes.Buffer
	if err := json.Indent(&out, bytes.TrimSpace(body), "", "  "); err != nil {
		return fmt.Errorf("the server answered with invalid JSON: %w", err)
	}
	out.WriteByte('\n')
	_, err := out.WriteTo(w)
	return err
}

func newGetCommand(e *env, connect connector) *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "Print one snapshot as JSON",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := connect()
			if err != nil {
				return err
			}
			body, err := c.getREST(cmd.Context(), "/api/telemetry/snapshots/"+url.PathEscape(args[0]), nil)
			if err != nil {
				return err
			}
			return printJSON(e.stdout, body)
		},
	}
}

func newPreviewCommand(e *env, connect connector) *cobra.Command {
	return &cobra.Command{
		Use:   "preview",
		Short: "Print exactly what the next remote send would POST, collected now",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := connect()
			if err != nil {
				return err
			}
			body, err := c.getREST(cmd.Context(), "/api/telemetry/preview", nil)
			if err != nil {
				return err
			}
			return printJSON(e.stdout, body)
		},
	}
}

// sendResult is what run and send report of a snapshot.
type sendResult struct {
	ID               string  `json:"id"`
	CreatedAt        string  `json:"createdAt"`
	RemoteSendStatus string  `json:"remoteSendStatus"`
	RemoteSendError  *string `json:"remoteSendError"`
}

const sendResultFields = `id createdAt remoteSendStatus remoteSendError`

// describe says what happened to the snapshot's remote send, and fails
// when the send failed.
func (r sendResult) describe(w io.Writer) error {
	status := strings.ToLower(r.RemoteSendStatus)
	if status == string(telemetryd.SendFailed) {
		reason := "no reason given"
		if r.RemoteSendError != nil {
			reason = *r.RemoteSendError
		}
		return &cli.ExitError{Code: 1, Msg: fmt.Sprintf("snapshot %s of %s: remote send failed: %s", r.ID, r.CreatedAt, reason)}
	}
	fmt.Fprintf(w, "snapshot %s of %s: remote send %s\n", r.ID, r.CreatedAt, status)
	return nil
}

func newRunCommand(e *env, connect connector) *cobra.Command {
	return &cobra.Command{
		Use:   "run",
		Short: "Make today's snapshot now, if there is none yet, and send it when remote sending is on",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := connect()
			if err != nil {
				return err
			}
			var data struct {
				Snapshot sendResult `json:"runTelemetryWorkflow"`
			}
			if err := c.graphQL(cmd.Context(), `mutation { runTelemetryWorkflow { `+sendResultFields+` } }`, nil, &data); err != nil {
				return err
			}
			return data.Snapshot.describe(e.stdout)
		},
	}
}

func newSendCommand(e *env, connect connector) *cobra.Command {
	return &cobra.Command{
		Use:   "send ID",
		Short: "Send a snapshot to the remote endpoint now and record the outcome",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := connect()
			if err != nil {
				return err
			}
			var data struct {
				Snapshot sendResult `json:"sendTelemetrySnapshot"`
			}
			if err := c.graphQL(cmd.Context(), `mutation($id: ID!) { sendTelemetrySnapshot(id: $id) { `+sendResultFields+` } }`,
				map[string]any{"id": args[0]}, &data); err != nil {
				return err
			}
			return data.Snapshot.describe(e.stdout)
		},
	}
}

func newExportCommand(e *env, connect connector) *cobra.Command {
	var (
		filter filterFlags
		output string
	)
	cmd := &cobra.Command{
		Use:   "export --output FILE [--start-date D] [--end-date D] [--deployment-id ID] [--status S,...]",
		Short: "Write snapshots, newest first, to a JSON file",
		Long: `Write the snapshots matching the filters to FILE as a JSON array, newest
first: the format "telemetryd snapshots import" reads. They are streamed
from the server's export route and checked as they arrive; the file is
written to a temporary file renamed into place, so it is never seen half
written.`,
		Example: `  telemetryctl telemetry export --output telemetry-2026.json --start-date 2026-01-01 --end-date 2026-12-31`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := filter.query()
			if err != nil {
				return err
			}
			c, err := connect()
			if err != nil {
				return err
			}
			bar := newProgressBar(e.stderr, "exporting")
			n, err := exportfile.Write(output, func(yield func(*telemetryd.Snapshot) error) error {
				return c.eachExported(cmd.Context(), q, func(s *telemetryd.Snapshot) error {
					if bar != nil {
						_ = bar.Add(1)
					}
					return yield(s)
				})
			})
			if bar != nil {
				if err != nil {
					_ = bar.Exit()
				} else {
					_ = bar.Finish()
				}
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "exported %d snapshots to %s\n", n, output)
			return nil
		},
	}
	cmd.Flags().StringVar(&output, "output", "", "file to write (required)")
	filter.register(cmd.Flags())
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

// newProgressBar returns a progress bar counting snapshots on w when w is
// a terminal, and nil otherwise: redirected to a file or a CI log, redraws
// would be noise. A stream has no total, so it counts up.
func newProgressBar(w io.Writer, what string) *progressbar.ProgressBar {
	if _, ok := terminal(w); !ok {
		return nil
	}
	return progressbar.NewOptions(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(what),
		progressbar.OptionShowCount(),
		progressbar.OptionSetItsString("snapshots"),
		progressbar.OptionShowIts(),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

func newVerifyCommand(e *env, connect connector) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "verify [--file FILE]",
		Short: "Check checksums and chains of an export file, or of the server's snapshots; exit 1 listing every problem",
		Long: `Check every snapshot's checksum and its deployment's chain of
previous_checksum links, either in an export file (offline, with --file) or
of every snapshot on the server. Every bad id and every chain break is
listed, and the exit status is 1 when there is any.`,
		Example: `  telemetryctl telemetry verify --file telemetry-2026.json
  telemetryctl telemetry verify`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if file != "" {
				in, err := os.Open(file)
				if err != nil {
					return &cli.UsageError{Err: fmt.Errorf("--file: %v", err)}
				}
				defer in.Close()
				v, err := exportfile.Verify(in)
				if err != nil {
					return fmt.Errorf("%s: %w", file, err)
				}
				return cli.ReportVerification(e.stdout, v)
			}
			c, err := connect()
			if err != nil {
				return err
			}
			// The export is newest first, the order the verifier needs;
			// records that do not decode are reported, not fatal.
			var v *telemetryd.Verifier
			err = c.stream(cmd.Context(), "/api/telemetry/export", nil, func(body io.Reader) error {
				v, err = exportfile.Verify(body)
				return err
			})
			if err != nil {
				return err
			}
			return cli.ReportVerification(e.stdout, v)
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "export file to verify offline, instead of the server's snapshots")
	return cmd
}
