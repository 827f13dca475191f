package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/exportfile"
	"github.com/telemetryd/telemetryd/internal/cli"
	"github.com/telemetryd/telemetryd/store"
)

// newSnapshotsCommand administers snapshots offline, directly on the
// store, with the same store flags as serve.
func newSnapshotsCommand(stdout, stderr io.Writer) *cobra.Command {
	cmd := cli.Group(&cobra.Command{
		Use:   "snapshots",
		Short: "Export, import and verify snapshots directly on the store",
	})
	cmd.AddCommand(newExportCommand(stdout), newImportCommand(stdout, stderr), newVerifyCommand(stdout))
	return cmd
}

// withStore opens the configured store for one offline command.
func withStore(ctx context.Context, c storeConfig, fn func(store.Store) error) error {
	if err := c.validate(); err != nil {
		return &cli.UsageError{Err: err}
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return fmt.Errorf("opening store: %w", err)
	}
	defer st.Close()
	return fn(st)
}

func newExportCommand(stdout io.Writer) *cobra.Command {
	var (
		sc                               storeConfig
		output, start, end, deploymentID string
		statuses                         []string
	)
	cmd := &cobra.Command{
		Use:   "export --output FILE [--start-date D] [--end-date D] [--deployment-id ID] [--status S,...]",
		Short: "Write snapshots, newest first, to a JSON file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, err := cli.DateFilter(start, end)
			if err != nil {
				return err
			}
			if f.Statuses, err = cli.Statuses(statuses); err != nil {
				return err
			}
			f.DeploymentID = deploymentID
			return withStore(cmd.Context(), sc, func(st store.Store) error {
				n, err := exportfile.Write(output, func(yield func(*telemetryd.Snapshot) error) error {
					return st.EachSnapshot(cmd.Context(), f, yield)
				})
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "exported %d snapshots to %s\n", n, output)
				// Counted for activity_24h; a failure to count fails no export.
				_ = st.AddActivity(cmd.Context(), telemetryd.Day(time.Now()), map[string]int64{telemetryd.ActivityExports: 1})
				return nil
			})
		},
	}
	sc.register(cmd.Flags())
	cmd.Flags().StringVar(&output, "output", "", "file to write (required)")
	cmd.Flags().StringVar(&start, "start-date", "", "only snapshots created on or after this ISO 8601 date or date-time")
	cmd.Flags().StringVar(&end, "end-date", "", "only snapshots created on or before this date (a bare date includes the whole UTC day) or date-time")
	cmd.Flags().StringVar(&deploymentID, "deployment-id", "", "only this deployment's snapshots")
	cmd.Flags().StringSliceVar(&statuses, "status", nil, "only snapshots with one of these remote send statuses: pending, sent, skipped, failed (comma-separated or repeated)")
	_ = cmd.MarkFlagRequired("output")
	return cmd
}

func newImportCommand(stdout, stderr io.Writer) *cobra.Command {
	var (
		sc          storeConfig
		file        string
		chainBreaks bool
	)
	cmd := &cobra.Command{
		Use:   "import --file FILE [--allow-chain-breaks]",
		Short: "Import an export file: every record is checked first, and any bad one imports nothing",
		Long: `Import an export file. Every record is checked first: a malformed record,
one whose checksum does not match, or an id or deployment day the file or
the store already holds with other content imports nothing, and the error
names each such record. So does a chain break inside the file (a record
whose previous_checksum is not the checksum of its deployment's next older
record in the file), unless --allow-chain-breaks is given: then each break
is named in a warning and the file is imported.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in, err := openRereadable(file)
			if err != nil {
				return err
			}
			defer in.Close()
			n, breaks, err := exportfile.Check(in)
			if err != nil {
				return fmt.Errorf("nothing imported: %w", err)
			}
			if len(breaks) > 0 && !chainBreaks {
				return fmt.Errorf("nothing imported: chains break inside the file (--allow-chain-breaks imports it anyway):\n  %s",
					joinProblems(breaks))
			}
			for _, p := range breaks {
				fmt.Fprintf(stderr, "warning: importing a chain break: %s\n", p)
			}
			// The file is read a second time, record by record, so no
			// more than one record of it is held at a time.
			each := func(yield func(*telemetryd.Snapshot) error) error {
				if _, err := in.Seek(0, io.SeekStart); err != nil {
					return fmt.Errorf("rereading %s: %w", file, err)
				}
				return exportfile.Decode(in, func(_ int, s *telemetryd.Snapshot, err error) error {
					if err != nil {
						return fmt.Errorf("%s changed while it was imported: %w", file, err)
					}
					return yield(s)
				})
			}
			return withStore(cmd.Context(), sc, func(st store.Store) error {
				fmt.Fprintf(stdout, "checked %d snapshots; importing\n", n)
				res, err := st.ImportSnapshots(cmd.Context(), each)
				if err != nil {
					return fmt.Errorf("nothing imported: %w", err)
				}
				fmt.Fprintf(stdout, "imported %d snapshots, %d already present\n", res.Created, res.Unchanged)
				return nil
			})
		},
	}
	sc.register(cmd.Flags())
	cmd.Flags().StringVar(&file, "file", "", "export file to import (required)")
	cmd.Flags().BoolVar(&chainBreaks, "allow-chain-breaks", false, "import a file whose chains break inside it, warning about each break")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

// openRereadable opens the export file for the import's two passes. A
// file that cannot seek, such as a pipe, is first copied to a temporary
// file, removed when closed.
func openRereadable(path string) (*os.File, error) {
	in, err := os.Open(path)
	if err != nil {
		return nil, &cli.UsageError{Err: fmt.Errorf("--file: %v", err)}
	}
	if _, err := in.Seek(0, io.SeekCurrent); err == nil {
		return in, nil
	}
	defer in.Close()
	spool, err := os.CreateTemp("", "telemetryd-import-*.json")
	if err != nil {
		return nil, fmt.Errorf("copying --file %s to a temporary file: %w", path, err)
	}
	os.Remove(spool.Name()) // gone once closed; Linux keeps it until then
	if _, err := io.Copy(spool, in); err != nil {
		spool.Close()
		return nil, fmt.Errorf("copying --file %s to a temporary file: %w", path, err)
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		spool.Close()
		return nil, fmt.Errorf("rereading the copy of --file %s: %w", path, err)
	}
	return spool, nil
}

// joinProblems lists problems one a line, for under a heading line.
func joinProblems(problems []telemetryd.Problem) string {
	lines := make([]string, len(problems))
	for i, p := range problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n  ")
}

func newVerifyCommand(stdout io.Writer) *cobra.Command {
	var sc storeConfig
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check every stored snapshot's checksum and chain; exit 1 listing the bad ids",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(cmd.Context(), sc, func(st store.Store) error {
				v := telemetryd.NewVerifier()
				err := st.EachSnapshot(cmd.Context(), telemetryd.Filter{}, func(s *telemetryd.Snapshot) error {
					v.Add(s)
					return nil
				})
				if err != nil {
					return fmt.Errorf("reading snapshots: %w", err)
				}
				return cli.ReportVerification(stdout, v)
			})
		},
	}
	sc.register(cmd.Flags())
	return cmd
}
