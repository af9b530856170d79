// Command quarterdeck-budget runs the budget service on its own, for distributed deployments:
// gRPC on QUARTERDECK_GRPC_ADDR, PostgreSQL (or a SQLite file), an external NATS server.
//
//	quarterdeck-budget            serve
//	quarterdeck-budget migrate    apply database migrations and exit
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/config"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/telemetry"
)

var version = "dev"

type settings struct {
	GRPCAddr        string        `env:"GRPC_ADDR" default:"127.0.0.1:9001" help:"gRPC listen address"`
	DatabaseURL     string        `env:"DATABASE_URL" required:"true" help:"postgres://… (tables in schema \"budget\") or sqlite:<file>"`
	DatabaseSchema  string        `env:"DATABASE_SCHEMA" help:"PostgreSQL schema of the budget tables (empty: \"budget\")"`
	NATSURL         string        `env:"NATS_URL" default:"nats://127.0.0.1:4222" help:"NATS server URL(s), comma-separated for a cluster"`
	MetricsAddr     string        `env:"METRICS_ADDR" help:"serve Prometheus metrics at http://<addr>/metrics (empty: off)"`
	DebugAddr       string        `env:"DEBUG_ADDR" help:"serve Go profiling (/debug/pprof/) on this address; keep it on loopback (empty: off)"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT" default:"20s" help:"how long a stop waits for in-flight calls and unpublished events"`
	Budget          budget.Settings
	Events          events.StreamConfig
	Identity        identity.VerifierConfig `prefix:"IDENTITY_"`
	Consumers       consumer.Settings
	Telemetry       telemetry.Config
}

func main() { host.Main("quarterdeck-budget", run) }

func run(ctx context.Context, args []string, stderr io.Writer) error {
	var cfg settings
	rest, log, err := host.Configure(&cfg, &cfg.Telemetry, config.Options{Program: "quarterdeck-budget", Args: args, Output: stderr,
		Description: "Runs the Quarterdeck budget service (gRPC). Subcommands: migrate."})
	if err != nil {
		return err
	}
	if err := cfg.Budget.Validate(); err != nil {
		return err
	}
	svc := budget.Configured(cfg.Budget)
	if len(rest) == 1 && rest[0] == "migrate" {
		db, err := host.Migrate(ctx, svc, cfg.DatabaseURL, cfg.DatabaseSchema, log)
		if err != nil {
			return err
		}
		return db.Close()
	}
	if len(rest) > 0 {
		return fmt.Errorf("unknown command %q; run quarterdeck-budget --help", rest[0])
	}

	log.Info("starting budget service", "version", version, "settings", config.Describe(cfg, ""))
	tel, err := telemetry.Setup(ctx, "quarterdeck-budget", version, cfg.Telemetry)
	if err != nil {
		return err
	}
	defer tel.Shutdown(context.WithoutCancel(ctx))
	if cfg.MetricsAddr != "" {
		ms := &http.Server{Addr: cfg.MetricsAddr, Handler: tel.Metrics, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := ms.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server", "error", err)
			}
		}()
		defer ms.Close()
	}
	debug, err := host.ServeDebug(cfg.DebugAddr, "QUARTERDECK_DEBUG_ADDR (--debug-addr)", log)
	if err != nil {
		return err
	}
	defer debug.Close()

	verifier, err := cfg.Identity.Verifier()
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", cfg.GRPCAddr)
	if err != nil {
		return fmt.Errorf("cannot listen on %s (%v); set QUARTERDECK_GRPC_ADDR (--grpc-addr) to a free address", cfg.GRPCAddr, err)
	}
	nc, err := events.Connect(cfg.NATSURL, "quarterdeck-budget", log)
	if err != nil {
		lis.Close()
		return err
	}
	defer nc.Close()
	in, err := host.Start(ctx, svc, host.Options{
		DatabaseURL: cfg.DatabaseURL, Schema: cfg.DatabaseSchema, Listener: lis, NATS: nc, Stream: cfg.Events,
		Consumers: cfg.Consumers, Logger: log, Identity: verifier,
	})
	if err != nil {
		lis.Close()
		return err
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-in.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	return errors.Join(serveErr, in.Stop(sctx), nc.Drain())
}
