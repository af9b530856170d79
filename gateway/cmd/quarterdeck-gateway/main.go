// Command quarterdeck-gateway runs the gateway on its own, for distributed deployments: the REST
// and gRPC APIs on one port, the OpenAPI document and its reference page (/docs), /healthz,
// /readyz and /metrics, in front of the domain services.
package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/quarterdeck/quarterdeck/gateway"
	"github.com/quarterdeck/quarterdeck/gateway/auth"
	"github.com/quarterdeck/quarterdeck/gateway/console"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/config"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/telemetry"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

var version = "dev"

type settings struct {
	HTTPAddr         string                `env:"HTTP_ADDR" default:"127.0.0.1:8080" help:"listen address of the REST and gRPC APIs"`
	BudgetAddr       string                `env:"BUDGET_ADDR" default:"127.0.0.1:9001" help:"gRPC target of the budget service, e.g. dns:///budget:9001"`
	VendorsAddr      string                `env:"VENDORS_ADDR" default:"127.0.0.1:9002" help:"gRPC target of the vendors service, e.g. dns:///vendors:9002"`
	BriefingAddr     string                `env:"BRIEFING_ADDR" default:"127.0.0.1:9005" help:"gRPC target of the briefing service, e.g. dns:///briefing:9005"`
	RiskAddr         string                `env:"RISK_ADDR" default:"127.0.0.1:9003" help:"gRPC target of the risk service, e.g. dns:///risk:9003"`
	TalentAddr       string                `env:"TALENT_ADDR" default:"127.0.0.1:9004" help:"gRPC target of the talent service, e.g. dns:///talent:9004"`
	ShutdownTimeout  time.Duration         `env:"SHUTDOWN_TIMEOUT" default:"20s" help:"how long a stop waits for in-flight requests"`
	Reflection       bool                  `env:"GATEWAY_REFLECTION" default:"false" help:"serve gRPC server reflection, describing every service's API, on the gateway's port"`
	Gateway          gateway.Settings      `prefix:"GATEWAY_"`
	DatabaseURL      string                `env:"GATEWAY_DATABASE_URL" required:"true" help:"database of the API keys: postgres://… (tables in schema \"gateway\") or sqlite:<file>"`
	DatabaseMaxConns int                   `env:"GATEWAY_DATABASE_MAX_CONNS" default:"16" help:"most PostgreSQL connections the API keys' pool opens, at least 1 (plus one for the lease of the gateway's outbox relay)"`
	NATSURL          string                `env:"NATS_URL" default:"nats://127.0.0.1:4222" help:"NATS server URL(s), comma-separated for a cluster: API key revocations reach every gateway replica through it"`
	BootstrapAPIKey  string                `env:"BOOTSTRAP_API_KEY" secret:"true" help:"admin API key to create or keep (at least 32 characters); without it a key is generated on the first start and printed once"`
	AdminAddr        string                `env:"ADMIN_GRPC_ADDR" default:"127.0.0.1:0" help:"gRPC address of the API key admin service the gateway serves itself"`
	DebugAddr        string                `env:"DEBUG_ADDR" help:"serve Go profiling (/debug/pprof/) on this address; keep it on loopback (empty: off)"`
	TLS              rpc.TLS               `prefix:"GRPC_TLS_"`
	Identity         identity.SignerConfig `prefix:"IDENTITY_"`
	OIDC             auth.JWTConfig        `prefix:"OIDC_"`
	Events           events.StreamConfig
	Telemetry        telemetry.Config
}

func main() {
	version = host.Version(version)
	host.Main("quarterdeck-gateway", run)
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	if len(args) == 1 && args[0] == "identity-keygen" {
		return keygen(os.Stdout)
	}
	var cfg settings
	rest, log, err := host.Configure(&cfg, &cfg.Telemetry, config.Options{Program: "quarterdeck-gateway", Args: args, Output: stderr, Version: version,
		Description: "Runs the Quarterdeck gateway: the REST and gRPC APIs in front of the domain services. Subcommands: migrate (apply the database migrations and exit), identity-keygen (print a new identity key pair)."})
	if err != nil {
		return err
	}
	if cfg.DatabaseMaxConns < 1 {
		return fmt.Errorf("QUARTERDECK_GATEWAY_DATABASE_MAX_CONNS is %d; want 1 or more", cfg.DatabaseMaxConns)
	}
	switch {
	case len(rest) == 1 && rest[0] == "migrate":
		// The API keys' tables and the gateway's outbox, under the migrations' advisory lock, as
		// every start applies them too: a Job runs this once per release before the pods roll.
		db, err := auth.OpenDatabase(ctx, cfg.DatabaseURL, sqldb.Options{MaxOpenConns: cfg.DatabaseMaxConns, Logger: log})
		if err != nil {
			return err
		}
		log.Info("gateway database migrated", "version", version)
		return db.Close()
	case len(rest) > 0:
		return fmt.Errorf("unknown command %q; run quarterdeck-gateway --help", rest[0])
	}
	// The connections to the services: TLS when a CA is set.
	backendCreds, err := cfg.TLS.ClientCredentials()
	if err != nil {
		return err
	}
	signer, err := cfg.Identity.Signer()
	if err != nil {
		return err
	}
	verifier, err := identity.NewVerifier([]ed25519.PublicKey{signer.PublicKey()}, identity.VerifierOptions{Audience: cfg.Identity.Audience})
	if err != nil {
		return err
	}
	log.Info("starting gateway", "version", version, "settings", config.Changed(cfg, "", nil))

	// The listener is opened first so that a taken port fails before anything else starts.
	lis, err := host.Listen(cfg.HTTPAddr, "QUARTERDECK_HTTP_ADDR (--http-addr)")
	if err != nil {
		return err
	}
	defer lis.Close()

	// Telemetry (traces, and the metrics the gateway serves at /metrics) and Go profiling, on a
	// listener of its own when an address is set.
	proc, err := host.StartProcess(ctx, host.ProcessOptions{Program: "quarterdeck-gateway", Version: version,
		Telemetry: cfg.Telemetry, DebugAddr: cfg.DebugAddr, Logger: log})
	if err != nil {
		return err
	}
	defer proc.Stop(context.WithoutCancel(ctx))

	// API keys: the gateway's own database, the bootstrap admin key and the admin API.
	db, err := auth.OpenDatabase(ctx, cfg.DatabaseURL, sqldb.Options{MaxOpenConns: cfg.DatabaseMaxConns, Logger: log})
	if err != nil {
		return err
	}
	defer db.Close()
	keys := auth.NewStore(db)
	created, err := auth.Bootstrap(ctx, keys, cfg.BootstrapAPIKey, auth.KnownScopes())
	if err != nil {
		return err
	}
	if created != "" {
		fmt.Fprintf(stderr, "\nAdmin API key (shown only this once; keep it safe):\n\n    %s\n\n", created)
	}
	admin, err := auth.StartAdmin(auth.AdminOptions{Store: keys, Identity: verifier, Logger: log, Addr: cfg.AdminAddr})
	if err != nil {
		return err
	}
	defer admin.Stop(context.WithoutCancel(ctx))
	authn, err := auth.NewFromConfig(keys, cfg.OIDC, signer, log)
	if err != nil {
		return err
	}
	// API key revocations: published through the outbox, applied by every replica.
	nc, err := proc.ConnectNATS(cfg.NATSURL)
	if err != nil {
		return err
	}
	evs, err := auth.StartEvents(ctx, auth.EventsOptions{DB: db, Keys: keys, Authenticator: authn, NATS: nc,
		Stream: cfg.Events, Logger: log})
	if err != nil {
		return err
	}
	defer evs.Stop(context.WithoutCancel(ctx))

	gw, err := gateway.New(ctx, gateway.Options{
		Backends:           map[string]string{"budget": cfg.BudgetAddr, "vendors": cfg.VendorsAddr, "risk": cfg.RiskAddr, "talent": cfg.TalentAddr, "briefing": cfg.BriefingAddr, "iam": admin.Addr()},
		Logger:             log,
		Metrics:            proc.Telemetry.Metrics,
		Authenticator:      authn,
		Reflection:         cfg.Reflection,
		Settings:           cfg.Gateway,
		BackendCredentials: backendCreds,
		Console:            console.Options{OIDCIssuer: cfg.OIDC.Issuer, OIDCClientID: cfg.OIDC.ConsoleClientID()},
	})
	if err != nil {
		return err
	}
	defer gw.Close()
	served := make(chan error, 1)
	go func() { served <- gw.Serve(lis) }()
	scheme := "http://"
	if gw.TLS() {
		scheme = "https://"
	}
	log.Info("gateway listening", "rest", scheme+lis.Addr().String(), "grpc", lis.Addr().String(), "tls", gw.TLS(),
		"reflection", cfg.Reflection)
	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("gateway server: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	return gw.Shutdown(sctx)
}

// keygen prints a new identity key pair as the settings that take it.
func keygen(w io.Writer) error {
	pub, priv, err := identity.GenerateKey()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "# the gateway (keep secret)\nQUARTERDECK_IDENTITY_SIGNING_KEY=%s\n# every service\nQUARTERDECK_IDENTITY_PUBLIC_KEYS=%s\n",
		identity.EncodePrivateKey(priv), identity.EncodePublicKey(pub))
	return err
}
