package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/telemetryd/telemetryd"
	"github.com/telemetryd/telemetryd/activity"
	"github.com/telemetryd/telemetryd/auth"
	"github.com/telemetryd/telemetryd/console"
	"github.com/telemetryd/telemetryd/fleet"
	"github.com/telemetryd/telemetryd/graph"
	"github.com/telemetryd/telemetryd/internal/cli"
	"github.com/telemetryd/telemetryd/server"
	"github.com/telemetryd/telemetryd/store"
	"github.com/telemetryd/telemetryd/telemetry"
	"github.com/telemetryd/telemetryd/workflows"
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
			if err := cfg.validate(); err != nil {
				return &cli.UsageError{Err: err}
			}
			return serve(cmd.Context(), cfg, getenv, stderr)
		},
	}
	cfg.register(cmd.Flags())
	return cmd
}

// serve starts every part in order, waits for ctx to end, then stops them
// in reverse order.
func serve(ctx context.Context, cfg serveConfig, getenv func(string) string, stderr io.Writer) error {
	started := time.Now()
	logger := newLogger(cfg.Log, stderr)
	remote := workflows.RemoteEnabled(cfg.TelemetryRemote, getenv)
	sender, err := workflows.NewSender(workflows.SenderConfig{Endpoint: cfg.TelemetryEndpoint, Timeout: cfg.TelemetryTimeout, Enabled: remote})
	if err != nil {
		return &cli.UsageError{Err: fmt.Errorf("--telemetry-endpoint: %w", err)}
	}
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

	recorder := activity.New(st, time.Now)
	authService := auth.New(auth.Config{Store: st, Logger: logger, AccessTokenTTL: cfg.AccessTokenTTL, Counter: recorder})
	generated, err := authService.Bootstrap(ctx, cfg.AdminPassword, cfg.JWTSecret)
	if err != nil {
		return fmt.Errorf("setting up accounts: %w", err)
	}
	if generated != "" {
		fmt.Fprintf(stderr, "\nGenerated password of the built-in account %q (shown only this once): %s\n\n", telemetryd.AdminUsername, generated)
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(),
	)

	runner := &workflows.Runner{
		Store:        st,
		DeploymentID: deploymentID,
		Sender:       sender,
		Sections:     sections(st, deploymentID, started, remote, cfg.TelemetryRetention.Duration(), getenv),

		Schedule:  time.Duration(cfg.TelemetrySchedule),
		Retention: cfg.TelemetryRetention.Duration(),
		Metrics:   workflows.NewMetrics(registry),
		Logger:    logger,
	}
	telemetryService := &telemetry.Service{Store: st, Workflow: runner, Counter: recorder, Audit: logger,
		Settings: telemetry.Settings{
			RemoteEnabled: remote,
			DoNotTrack:    workflows.DoNotTrack(getenv),
			Endpoint:      sender.Endpoint(),
			Schedule:      cfg.TelemetrySchedule.String(),
			DeploymentID:  deploymentID,
			StoreBackend:  st.Backend(),
			Retention:     cfg.TelemetryRetention.Duration(),
		}}

	fleetService := &fleet.Service{Store: st, Audit: logger, Self: deploymentID}
	gql, err := graph.NewHandler(&graph.Resolver{Telemetry: telemetryService, Auth: authService, Fleet: fleetService}, logger, registry)
	if err != nil {
		return err
	}
	ui, err := console.New()
	if err != nil {
		return err
	}
	srv := &server.Server{
		Addr:      cfg.Listen,
		Logger:    logger,
		Store:     st,
		Registry:  registry,
		Auth:      authService,
		Telemetry: telemetryService,
		GraphQL:   gql,
		Counter:   recorder,
		Console:   ui.Handler,

		TrustedProxies: cfg.TrustedProxies,
	}
	if cfg.Receive {
		srv.Receiver = &server.Receiver{Fleet: fleetService, Key: cfg.ReceiveKey}
	}
	if err := srv.Open(); err != nil {
		return err
	}
	logger.Info("telemetryd serving", "url", srv.URL(), "store", st.Backend(), "deployment_id", deploymentID, "version", telemetryd.Version)
	logRemote(logger, remote, sender.Endpoint(), srv.URL())
	if cfg.Receive {
		logger.Info("receiving snapshots from other deployments", "url", srv.URL()+"/v1/snapshots", "key_required", cfg.ReceiveKey != "")
	}

	var background sync.WaitGroup
	background.Go(func() {
		recorder.Run(ctx, time.Minute, func(err error) { logger.Warn("storing activity counters", "err", err) })
	})
	background.Go(func() {
		if err := runner.Run(ctx); err != nil && ctx.Err() == nil {
			logger.Error("telemetry workflow stopped", "err", err)
		}
	})

	<-ctx.Done()
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Close(shutdownCtx); err != nil {
		logger.Error("stopping http server", "err", err)
	}
	background.Wait()
	return nil
}

// logRemote says, once at start, whether snapshots leave the machine and
// how to see or stop what would be sent.
func logRemote(logger *slog.Logger, remote bool, endpoint, baseURL string) {
	preview := baseURL + "/api/telemetry/preview"
	if remote {
		logger.Info("remote telemetry is ON: a daily snapshot is sent", "endpoint", endpoint, "preview", preview,
			"turn_off", "--telemetry-remote=false or DO_NOT_TRACK=1")
		return
	}
	logger.Info("remote telemetry is OFF: snapshots are kept locally only", "endpoint", endpoint, "preview", preview,
		"turn_on", "--telemetry-remote=true")
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
