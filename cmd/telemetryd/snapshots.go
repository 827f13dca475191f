package main

import (
	"context"
	"fmt"
	"io"
	"os"
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
	cmd.AddCommand(newExportCommand(stdout), newImportCommand(stdout), newVerifyCommand(stdout))
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

func newImportCommand(stdout io.Writer) *cobra.Command {
	var (
		sc   storeConfig
		file string
	)
	cmd := &cobra.Command{
		Use:   "import --file FILE",
		Short: "Import an export file: every record is checked first, and any bad one imports nothing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in, err := os.Open(file)
			if err != nil {
				return &cli.UsageError{Err: fmt.Errorf("--file: %v", err)}
			}
			defer in.Close()
			snaps, err := exportfile.Read(in)
			if err != nil {
				return fmt.Errorf("nothing imported: %w", err)
			}
			return withStore(cmd.Context(), sc, func(st store.Store) error {
				res, err := st.ImportSnapshots(cmd.Context(), snaps)
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
	_ = cmd.MarkFlagRequired("file")
	return cmd
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
