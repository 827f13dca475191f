package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/server"
	"github.com/telemetryd/telemetryd/store"
)

// shutdownTimeout bounds how long requests under way may finish at exit.
const shutdownTimeout = 15 * time.Second

func newServeCommand(getenv func(string) string, stderr io.Writer) *cobra.Command {
	var cfg serveConfig
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server: daily snapshots, GraphQL and REST",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := cfg.validate(getenv); err != nil {
				return &usageError{err}
			}
			return serve(cmd.Context(), cfg, newLogger(cfg.Log, stderr))
		},
	}
	cfg.register(cmd.Flags())
	return cmd
}

// serve starts every part in order, waits for ctx to end, then stops them
// in reverse order.
func serve(ctx context.Context, cfg serveConfig, logger *slog.Logger) error {
	st, err := openStore(ctx, cfg.Store)
	if err != nil {
		return fmt.Errorf("opening store: %w", err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			logger.Error("closing store", "err", err)
		}
	}()
	deploymentID, err := store.DeploymentID(ctx, st)
	if err != nil {
		return err
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(),
	)

	srv := &server.Server{Addr: cfg.Listen, Logger: logger, Store: st, Registry: registry}
	if err := srv.Open(); err != nil {
		return err
	}
	logger.Info("telemetryd serving", "url", srv.URL(), "store", st.Backend(), "deployment_id", deploymentID, "version", telemetryd.Version)

	<-ctx.Done()
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Close(shutdownCtx); err != nil {
		return fmt.Errorf("stopping http server: %w", err)
	}
	return nil
}

// buildInfo is the telemetryd_build_info gauge: always 1, labelled with
// what was built.
func buildInfo() prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "telemetryd_build_info",
		Help: "Always 1; labels tell the telemetryd version and Go version.",
	}, []string{"version", "goversion"})
	g.WithLabelValues(telemetryd.Version, runtime.Version()).Set(1)
	return g
}
