package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"reflect"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/config"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/telemetry"
)

// Binary describes a domain service's own program to ServiceMain.
type Binary struct {
	// Domain is the service's domain, as in its Service; the program is quarterdeck-<domain>.
	Domain string
	// Version is the program's version, set at build time with -ldflags "-X main.version=…".
	Version string
	// GRPCAddr is the default gRPC listen address. Each service has a port of its own (budget:
	// 9001), which the gateway's default address of the service repeats.
	GRPCAddr string
	// Peers are the services it calls, as in its Service, each with the default of its address
	// setting QUARTERDECK_PEER_<NAME>_ADDR (empty: the setting is required), e.g.
	// {"budget": "127.0.0.1:9001"}. Settings are read before the Service is built, so the binary
	// lists them; RunService checks that the two lists agree.
	Peers map[string]string
}

// Program is the program's name, quarterdeck-<domain>.
func (b Binary) Program() string { return "quarterdeck-" + b.Domain }

// serviceSettings are the settings of a service's own binary: the common ones, with the
// service's own (S) among them. The {domain} and {grpc_addr} placeholders are the Binary's.
type serviceSettings[S Settings] struct {
	GRPCAddr         string        `env:"GRPC_ADDR" default:"{grpc_addr}" help:"gRPC listen address"`
	DatabaseURL      string        `env:"DATABASE_URL" required:"true" help:"postgres://… (tables in schema \"{domain}\") or sqlite:<file>"`
	DatabaseSchema   string        `env:"DATABASE_SCHEMA" help:"PostgreSQL schema of the {domain} tables (empty: \"{domain}\")"`
	DatabaseMaxConns int           `env:"DATABASE_MAX_CONNS" default:"16" help:"most PostgreSQL connections the service's pool opens (PostgreSQL's max_connections must cover every replica of every service, plus a few each for the leader locks)"`
	NATSURL          string        `env:"NATS_URL" default:"nats://127.0.0.1:4222" help:"NATS server URL(s), comma-separated for a cluster"`
	MetricsAddr      string        `env:"METRICS_ADDR" help:"serve Prometheus metrics at http://<addr>/metrics (empty: off)"`
	DebugAddr        string        `env:"DEBUG_ADDR" help:"serve Go profiling (/debug/pprof/) on this address; keep it on loopback (empty: off)"`
	HealthAddr       string        `env:"HEALTH_ADDR" help:"serve the gRPC health service alone, in cleartext, on this address, for probes that cannot use TLS such as Kubernetes' gRPC probes (empty: off)"`
	ShutdownTimeout  time.Duration `env:"SHUTDOWN_TIMEOUT" default:"20s" help:"how long a stop waits for in-flight calls and unpublished events"`
	TLS              rpc.TLS       `prefix:"GRPC_TLS_"`
	Service          S
	Events           events.StreamConfig
	Identity         identity.VerifierConfig `prefix:"IDENTITY_"`
	Consumers        consumer.Settings
	Scheduler        scheduler.Settings
	Telemetry        telemetry.Config
}

// ServiceMain is the main function of a domain service's own binary, for distributed
// deployments: gRPC on QUARTERDECK_GRPC_ADDR, PostgreSQL (or a SQLite file), an external NATS
// server.
//
//	quarterdeck-<domain>            serve until SIGINT or SIGTERM, then stop cleanly
//	quarterdeck-<domain> migrate    apply database migrations and exit
//	quarterdeck-<domain> --help     list every setting with its environment variable
//
// S is the struct of the service's own settings, read with the common ones, and service builds
// the Service from them once they are valid:
//
//	func main() {
//		host.ServiceMain(host.Binary{Domain: "budget", Version: version, GRPCAddr: "127.0.0.1:9001"},
//			func(s budget.Settings) host.Service { return budget.Configured(s) })
//	}
func ServiceMain[S Settings](b Binary, service func(S) Service) {
	b.Version = Version(b.Version)
	Main(b.Program(), func(ctx context.Context, args []string, stderr io.Writer) error {
		return RunService(ctx, b, service, args, stderr)
	})
}

// RunService is what ServiceMain runs, with the arguments (without the program's name) and the
// output of the process given, until ctx ends. Settings come from args and the environment.
func RunService[S Settings](ctx context.Context, b Binary, service func(S) Service, args []string, stderr io.Writer) error {
	// A pointer or an interface would not be read by config.Load, and the service would run on
	// zero settings without a word.
	if t := reflect.TypeFor[S](); t.Kind() != reflect.Struct {
		return fmt.Errorf("host: the settings of %s are a %s; want a struct", b.Program(), t)
	}
	settings, loaded, peerAddrs := withPeers[serviceSettings[S]](b)
	rest, log, err := Configure(settings, &loaded.Telemetry, config.Options{
		Program:     b.Program(),
		Description: fmt.Sprintf("Runs the Quarterdeck %s service (gRPC). Subcommands: migrate.", b.Domain),
		Args:        args,
		Output:      stderr,
		Vars:        b.vars(),
		Version:     b.Version,
	})
	if err != nil {
		return err
	}
	cfg := *loaded
	if cfg.DatabaseMaxConns < 1 {
		return fmt.Errorf("QUARTERDECK_DATABASE_MAX_CONNS is %d; want 1 or more", cfg.DatabaseMaxConns)
	}
	// Checked before the service is built, which may rely on them, and before anything starts.
	if err := cfg.Service.Validate(); err != nil {
		return err
	}
	svc := service(cfg.Service)
	if svc.Domain != b.Domain {
		return fmt.Errorf("host: %s builds the service %q", b.Program(), svc.Domain)
	}
	if err := b.checkPeers(svc); err != nil {
		return err
	}

	switch {
	case len(rest) == 0:
		return serveService(ctx, b, svc, cfg, peerAddrs(), log)
	case len(rest) == 1 && rest[0] == "migrate":
		db, err := Migrate(ctx, svc, cfg.DatabaseURL, cfg.DatabaseSchema, log)
		if err != nil {
			return err
		}
		return db.Close()
	}
	return fmt.Errorf("unknown command %q; run %s --help", rest[0], b.Program())
}

// serveService runs svc until ctx ends or its server fails, then stops everything it started in
// reverse order within the shutdown timeout. A failed stop (events left unpublished, say) fails
// the run, so that a supervisor sees it.
func serveService[S Settings](ctx context.Context, b Binary, svc Service, cfg serviceSettings[S], peers map[string]string, log *slog.Logger) (err error) {
	log.Info("starting "+b.Domain+" service", "version", b.Version, "settings", config.Changed(cfg, "", b.vars()), "peers", peers)

	// Telemetry, metrics and profiling. Everything started from here on is deferred to proc.
	proc, err := StartProcess(ctx, ProcessOptions{Program: b.Program(), Version: b.Version, Telemetry: cfg.Telemetry,
		MetricsAddr: cfg.MetricsAddr, DebugAddr: cfg.DebugAddr, Logger: log})
	if err != nil {
		return err
	}
	defer func() {
		// The timeout runs from the stop, not from the start.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		err = errors.Join(err, proc.Stop(sctx))
	}()

	// The gateway's public keys, which verify the caller identity every call carries.
	verifier, err := cfg.Identity.Verifier()
	if err != nil {
		return err
	}

	// The gRPC port is taken before the database and NATS are, so that a taken port fails first.
	// The instance closes the listener at its Stop; this closes it when the service does not
	// start.
	lis, err := Listen(cfg.GRPCAddr, "QUARTERDECK_GRPC_ADDR (--grpc-addr)")
	if err != nil {
		return err
	}
	proc.Defer(func(context.Context) error { _ = lis.Close(); return nil })
	var healthLis net.Listener
	if cfg.HealthAddr != "" {
		if healthLis, err = Listen(cfg.HealthAddr, "QUARTERDECK_HEALTH_ADDR (--health-addr)"); err != nil {
			return err
		}
		proc.Defer(func(context.Context) error { _ = healthLis.Close(); return nil })
	}

	// NATS, which the outbox relay publishes on and the consumers read from.
	nc, err := proc.ConnectNATS(cfg.NATSURL)
	if err != nil {
		return err
	}

	// The service: database, stream, gRPC server, relay, sealer, scheduler and consumers.
	in, err := Start(ctx, svc, Options{
		DatabaseURL: cfg.DatabaseURL, Schema: cfg.DatabaseSchema, DatabaseMaxConns: cfg.DatabaseMaxConns, Listener: lis, NATS: nc, Stream: cfg.Events,
		Consumers: cfg.Consumers, Scheduler: cfg.Scheduler, Logger: log, Identity: verifier, Peers: peers,
		TLS: cfg.TLS, HealthListener: healthLis,
	})
	if err != nil {
		return err
	}
	proc.Defer(in.Stop)

	select {
	case <-ctx.Done():
		return nil
	case err := <-in.Done():
		return err
	}
}

// vars are the placeholders of the settings shared by the domain services' binaries.
func (b Binary) vars() map[string]string {
	return map[string]string{"domain": b.Domain, "grpc_addr": b.GRPCAddr}
}
