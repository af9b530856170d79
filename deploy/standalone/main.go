// Command quarterdeck runs the whole Quarterdeck platform in one process: an embedded NATS server
// with JetStream, one SQLite file per service, every domain service as a gRPC server on loopback,
// and the gateway serving the REST and gRPC APIs on one port. The services are still reached over gRPC, exactly as in a
// distributed deployment, so what works here works there.
//
//	quarterdeck            run the platform (Ctrl-C stops it cleanly)
//	quarterdeck migrate    apply database migrations and exit
//	quarterdeck demo       load the demo company into a running platform, through its REST API
//	quarterdeck --help     list every setting with its environment variable
package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/deploy/standalone/demo"
	"github.com/quarterdeck/quarterdeck/gateway"
	"github.com/quarterdeck/quarterdeck/gateway/auth"
	"github.com/quarterdeck/quarterdeck/gateway/console"
	"github.com/quarterdeck/quarterdeck/services/briefing"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/natsembed"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/config"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/telemetry"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/datadir"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/risk"
	"github.com/quarterdeck/quarterdeck/services/talent"
	"github.com/quarterdeck/quarterdeck/services/vendors"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

// services are the domain services the platform runs, in start order.
func services(cfg settings) []host.Service {
	return []host.Service{budget.Configured(cfg.Budget), vendors.Configured(cfg.Vendors), risk.Configured(cfg.Risk),
		talent.Configured(cfg.Talent), briefing.Service()}
}

type settings struct {
	HTTPAddr         string        `env:"HTTP_ADDR" default:"127.0.0.1:8080" help:"address of the REST and gRPC APIs (the gateway)"`
	DataDir          string        `env:"DATA_DIR" default:"./data" help:"folder for the SQLite files and the embedded NATS store"`
	NATSPort         int           `env:"NATS_PORT" default:"4222" help:"client port of the embedded NATS server"`
	NATSURL          string        `env:"NATS_URL" help:"use this NATS server instead of embedding one, e.g. nats://127.0.0.1:4222"`
	DatabaseURL      string        `env:"DATABASE_URL" help:"use this PostgreSQL database (postgres://…, one schema per service) instead of SQLite files"`
	DatabaseMaxConns int           `env:"DATABASE_MAX_CONNS" default:"8" help:"most PostgreSQL connections each of the process's six pools opens (one per service and the gateway's), at least 1; PostgreSQL's max_connections must cover six times this, plus one per lease held (outbox relays, audit sealers, schedulers: 16 at most)"`
	ShutdownTimeout  time.Duration `env:"SHUTDOWN_TIMEOUT" default:"20s" help:"how long a stop waits for in-flight requests and unpublished events"`
	DebugAddr        string        `env:"DEBUG_ADDR" help:"serve Go profiling (/debug/pprof/) on this address; keep it on loopback (empty: off)"`
	Budget           budget.Settings
	Vendors          vendors.Settings
	Risk             risk.Settings
	Talent           talent.Settings
	Reflection       bool             `env:"GATEWAY_REFLECTION" default:"true" help:"serve gRPC server reflection, describing every service's API, on the gateway's port"`
	Gateway          gateway.Settings `prefix:"GATEWAY_"`
	// The gateway's API keys live in their own database: gateway.db under the data folder, or
	// the schema "gateway" of DATABASE_URL.
	GatewayDatabaseURL string         `env:"GATEWAY_DATABASE_URL" help:"database of the gateway's API keys (default: gateway.db under the data folder, or schema \"gateway\" of --database-url)"`
	BootstrapAPIKey    string         `env:"BOOTSTRAP_API_KEY" secret:"true" help:"admin API key to create or keep (at least 32 characters); without it a key is generated on the first start and printed once"`
	OIDC               auth.JWTConfig `prefix:"OIDC_"`
	Events             events.StreamConfig
	Consumers          consumer.Settings
	Scheduler          scheduler.Settings
	Telemetry          telemetry.Config
}

const description = `Runs the whole Quarterdeck platform in one process: an embedded NATS server with JetStream,
one SQLite file per service under the data folder, every domain service on loopback gRPC, and the
REST API. Subcommands: migrate (apply database migrations and exit); demo [--small] [--url URL]
(load a fictitious company into a running platform through its REST API, with the admin key in
QUARTERDECK_API_KEY or QUARTERDECK_BOOTSTRAP_API_KEY; a second run adds nothing).`

func main() {
	version = host.Version(version)
	host.Main("quarterdeck", run)
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	return runOn(ctx, args, stderr, nil)
}

// runOn is run with the services on clk, the time of their business (nil: the real clock). The
// binary runs on the real clock; a test of a guide whose dates must arrive (notification clocks,
// an SLA's hours) runs the platform in its own process on a clock it moves.
func runOn(ctx context.Context, args []string, stderr io.Writer, clk clock.Clock) error {
	var cfg settings
	rest, log, err := host.Configure(&cfg, &cfg.Telemetry, config.Options{Program: "quarterdeck", Description: description, Args: args, Output: stderr, Version: version})
	if err != nil {
		return err
	}
	// Every hosted service's own settings, checked before anything starts.
	if err := host.CheckSettings(services(cfg)...); err != nil {
		return err
	}
	if cfg.DatabaseMaxConns < 1 {
		return fmt.Errorf("QUARTERDECK_DATABASE_MAX_CONNS is %d; want 1 or more", cfg.DatabaseMaxConns)
	}

	switch {
	case len(rest) == 0:
		return serve(ctx, cfg, log, stderr, clk)
	case rest[0] == "migrate" && len(rest) == 1:
		return migrate(ctx, cfg, log)
	case rest[0] == "demo":
		return loadDemo(ctx, cfg, rest[1:], stderr)
	}
	return fmt.Errorf("unknown command %q; run quarterdeck --help", rest[0])
}

// loadDemo loads the demo company into the platform at --url (default: this configuration's
// REST address) with an admin key.
func loadDemo(ctx context.Context, cfg settings, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("quarterdeck demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	base := fs.String("url", "http://"+cfg.HTTPAddr, "REST address of the running platform")
	small := fs.Bool("small", false, "a smaller company (9 cost centres, 10 vendors, 15 risks), for quick tests; not loaded where the full one is, nor the full one where it is")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("quarterdeck demo: unexpected argument %q", fs.Arg(0))
	}
	key := os.Getenv("QUARTERDECK_API_KEY")
	if key == "" {
		key = cfg.BootstrapAPIKey
	}
	if key == "" {
		return errors.New("quarterdeck demo: set QUARTERDECK_API_KEY to an admin API key (the one printed at the first start)")
	}
	start := time.Now()
	stats, err := demo.Load(ctx, demo.Options{BaseURL: *base, Key: key, Small: *small, Log: stderr})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "demo company loaded into %s in %s (%d calls); created: %s\n", *base, time.Since(start).Round(time.Millisecond), stats.Calls, stats)
	return nil
}

// databaseURL is the DSN of a service: the shared PostgreSQL database, or its own SQLite file.
func databaseURL(cfg settings, domain string) string {
	if cfg.DatabaseURL != "" {
		return cfg.DatabaseURL
	}
	return "sqlite:" + filepath.Join(cfg.DataDir, domain+".db")
}

// gatewayDatabaseURL is the DSN of the gateway's database.
func gatewayDatabaseURL(cfg settings) string {
	switch {
	case cfg.GatewayDatabaseURL != "":
		return cfg.GatewayDatabaseURL
	case cfg.DatabaseURL != "":
		return cfg.DatabaseURL
	}
	return "sqlite:" + filepath.Join(cfg.DataDir, "gateway.db")
}

// usesDataDir reports whether anything is kept under the data folder: a SQLite file, or the
// embedded NATS server's store.
func usesDataDir(cfg settings) bool {
	return cfg.NATSURL == "" || cfg.DatabaseURL == "" || strings.HasPrefix(gatewayDatabaseURL(cfg), "sqlite:")
}

// secureDataDir makes the data folder, with what an earlier run or version left in it, private to
// the process's user: 0700, its files 0600 (what the process creates from now on is born so, see
// host.Main). What cannot be changed is a warning.
func secureDataDir(cfg settings, log *slog.Logger) error {
	if !usesDataDir(cfg) {
		return nil
	}
	return datadir.Secure(cfg.DataDir, log)
}

func migrate(ctx context.Context, cfg settings, log *slog.Logger) error {
	if err := secureDataDir(cfg, log); err != nil {
		return err
	}
	gdb, err := auth.OpenDatabase(ctx, gatewayDatabaseURL(cfg), sqldb.Options{MaxOpenConns: cfg.DatabaseMaxConns, Logger: log})
	if err != nil {
		return err
	}
	gdb.Close()
	for _, svc := range services(cfg) {
		db, err := host.Migrate(ctx, svc, databaseURL(cfg, svc.Domain), "", log)
		if err != nil {
			return err
		}
		db.Close()
	}
	log.Info("migrations applied")
	return nil
}

func serve(ctx context.Context, cfg settings, log *slog.Logger, stderr io.Writer, clk clock.Clock) (err error) {
	log.Info("starting Quarterdeck", "version", version, "settings", config.Changed(cfg, "", nil))
	if err := secureDataDir(cfg, log); err != nil {
		return err
	}

	// The REST listener is opened first so that a taken port fails before anything else starts.
	lis, err := host.Listen(cfg.HTTPAddr, "QUARTERDECK_HTTP_ADDR (--http-addr)")
	if err != nil {
		return err
	}

	// Telemetry (traces, and the metrics the gateway serves at /metrics) and Go profiling, on a
	// listener of its own when an address is set. Everything started is deferred to proc, which
	// stops it in reverse order on the way out of serve, whatever happens; a stop's failure is
	// logged where it happens and does not fail the run.
	proc, err := host.StartProcess(ctx, host.ProcessOptions{Program: "quarterdeck", Version: version,
		Telemetry: cfg.Telemetry, DebugAddr: cfg.DebugAddr, Logger: log})
	if err != nil {
		lis.Close()
		return err
	}
	ready := false
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
		defer cancel()
		_ = proc.Stop(sctx)
		if ready { // a run that failed to start says why, not that it stopped
			log.Info("Quarterdeck stopped")
		}
	}()
	proc.Defer(func(context.Context) error { _ = lis.Close(); return nil })

	// NATS: embedded with JetStream under the data folder, unless a server is given.
	natsURL := cfg.NATSURL
	if natsURL == "" {
		srv, err := natsembed.Start(natsembed.Options{
			Port:     cfg.NATSPort,
			StoreDir: filepath.Join(cfg.DataDir, "nats"),
			Logger:   log,
			// One server, no replicas: an event the relay saw acknowledged must be on disk, as
			// the SQLite commit that produced it is.
			SyncAlways: true,
		})
		if errors.Is(err, natsembed.ErrPortInUse) {
			return fmt.Errorf("%v; set QUARTERDECK_NATS_PORT (--nats-port) to a free port, or QUARTERDECK_NATS_URL (--nats-url) to use a running NATS server", err)
		}
		if err != nil {
			return err
		}
		proc.Defer(func(context.Context) error { srv.Shutdown(); return nil })
		natsURL = srv.ClientURL()
		// The embedded server is the binary's own, of a version that takes atomic batch
		// publishes: the relays use them for backlogs whatever QUARTERDECK_EVENT_ATOMIC_BATCHES
		// says, which is for a server of the operator's.
		cfg.Events.AtomicBatches = true
		log.Info("embedded NATS listening", "url", natsURL, "store", filepath.Join(cfg.DataDir, "nats"))
	}
	nc, err := proc.ConnectNATS(natsURL)
	if err != nil {
		return err
	}

	// Caller identity: an Ed25519 key pair made for this run and kept in memory only. The
	// gateway signs with the private key; the services get the public key and can verify an
	// identity but never mint one.
	pub, priv, err := identity.GenerateKey()
	if err != nil {
		return err
	}
	signer, err := identity.NewSigner(priv, identity.SignerOptions{})
	if err != nil {
		return err
	}
	verifier, err := identity.NewVerifier([]ed25519.PublicKey{pub}, identity.VerifierOptions{})
	if err != nil {
		return err
	}

	// The gateway's database and the bootstrap admin key.
	gdb, err := auth.OpenDatabase(ctx, gatewayDatabaseURL(cfg), sqldb.Options{MaxOpenConns: cfg.DatabaseMaxConns, Logger: log})
	if err != nil {
		return err
	}
	proc.Defer(func(context.Context) error { _ = gdb.Close(); return nil })
	keys := auth.NewStore(gdb)
	created, err := auth.Bootstrap(ctx, keys, cfg.BootstrapAPIKey, auth.KnownScopes())
	if err != nil {
		return err
	}
	if created != "" {
		fmt.Fprintf(stderr, "\nAdmin API key (shown only this once; keep it safe):\n\n    %s\n\nUse it as: Authorization: Bearer <key>\n\n", created)
	}

	// The domain services, each a gRPC server on a loopback port of its own. The ports are
	// taken first, so that a service that calls others (its peers) is given their addresses
	// whatever the order of the start.
	svcs := services(cfg)
	backends := map[string]string{}
	listeners := make([]net.Listener, len(svcs))
	for i, svc := range svcs {
		if listeners[i], err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return fmt.Errorf("%s: listen on loopback: %w", svc.Domain, err)
		}
		proc.Defer(func(context.Context) error { _ = listeners[i].Close(); return nil })
		backends[svc.Domain] = listeners[i].Addr().String()
	}
	peers := maps.Clone(backends)
	// The gateway calls the services' unary methods in the process (rpc.Local), not over
	// their loopback ports, which serve its streams, gRPC clients and the services' peers.
	local := map[string]*rpc.Local{}
	for i, svc := range svcs {
		in, err := host.Start(ctx, svc, host.Options{
			DatabaseURL:      databaseURL(cfg, svc.Domain),
			DatabaseMaxConns: cfg.DatabaseMaxConns,
			Listener:         listeners[i],
			Peers:            peers,
			NATS:             nc,
			Stream:           cfg.Events,
			Consumers:        cfg.Consumers,
			Scheduler:        cfg.Scheduler,
			Logger:           log,
			Identity:         verifier,
			Clock:            clk,
		})
		if err != nil {
			return err
		}
		local[svc.Domain] = in.Local()
		proc.Defer(func(ctx context.Context) error {
			if err := in.Stop(ctx); err != nil {
				log.Warn("service stop", "service", svc.Domain, "error", err)
			}
			return nil
		})
	}

	// The API key admin API, served by the gateway's side of the process over gRPC.
	admin, err := auth.StartAdmin(auth.AdminOptions{Store: keys, Identity: verifier, Logger: log})
	if err != nil {
		return err
	}
	proc.Defer(func(ctx context.Context) error { _ = admin.Stop(ctx); return nil })
	backends["iam"] = admin.Addr()
	authn, err := auth.NewFromConfig(keys, cfg.OIDC, signer, log)
	if err != nil {
		return err
	}
	// API key revocations go out as events, like every other change; a gateway sharing the
	// database (several standalone processes on one PostgreSQL) applies them too.
	evs, err := auth.StartEvents(ctx, auth.EventsOptions{DB: gdb, Keys: keys, Authenticator: authn, NATS: nc,
		Stream: cfg.Events, Logger: log})
	if err != nil {
		return err
	}
	proc.Defer(func(ctx context.Context) error { _ = evs.Stop(ctx); return nil })

	// The gateway: REST and gRPC APIs, OpenAPI and /docs, health and metrics on one listener.
	gw, err := gateway.New(ctx, gateway.Options{Backends: backends, Local: local, Logger: log, Metrics: proc.Telemetry.Metrics,
		Authenticator: authn, Reflection: cfg.Reflection, Settings: cfg.Gateway,
		Console: console.Options{OIDCIssuer: cfg.OIDC.Issuer, OIDCClientID: cfg.OIDC.ConsoleClientID()}})
	if err != nil {
		return err
	}
	proc.Defer(func(context.Context) error { _ = gw.Close(); return nil })
	served := make(chan error, 1)
	go func() { served <- gw.Serve(lis) }()
	proc.Defer(func(ctx context.Context) error {
		if err := gw.Shutdown(ctx); err != nil {
			log.Warn("gateway shutdown", "error", err)
		}
		return nil
	})
	base := "http://" + lis.Addr().String()
	if gw.TLS() {
		base = "https://" + lis.Addr().String()
	}
	log.Info("Quarterdeck is ready", "rest", base, "grpc", lis.Addr().String(), "openapi", base+"/openapi.json",
		"docs", base+"/docs", "console", base+"/console/", "nats", natsURL, "data_dir", cfg.DataDir)
	ready = true

	select {
	case <-ctx.Done():
		log.Info("stopping")
		return nil
	case err := <-served:
		return fmt.Errorf("gateway server: %w", err)
	}
}
