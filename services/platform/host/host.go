// Package host runs a domain service: it opens and migrates the service's database, makes sure
// its event stream exists, serves its gRPC API behind the shared interceptors, runs its outbox
// relay, and shuts all of that down in order. The standalone binary hosts every service in one
// process; each service's own binary hosts one. Both go through Start, so the two run modes
// cannot drift apart.
package host

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/quarterdeck/quarterdeck/services/platform/events"
	"github.com/quarterdeck/quarterdeck/services/platform/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/sqldb"
)

// Service describes a domain service to the host.
type Service struct {
	// Domain is the service's domain, e.g. "budget". It names the PostgreSQL schema, the SQLite
	// file in standalone mode, the event stream and the ErrorInfo domain (budget.quarterdeck.io).
	Domain string
	// Migrations returns the service's embedded migrations for an engine.
	Migrations func(sqldb.Engine) fs.FS
	// Register builds the service's gRPC handlers on deps and registers them on r.
	Register func(r grpc.ServiceRegistrar, deps Deps) error
	// Names are the full gRPC service names it registers; each is reported by the health service.
	Names []string
}

// Deps is what the host gives a service.
type Deps struct {
	DB     *sqldb.DB
	Events *outbox.Factory
	Logger *slog.Logger
}

// Options configures one hosted service.
type Options struct {
	// DatabaseURL is "sqlite:<file>" or a postgres:// URL.
	DatabaseURL string
	// Schema is the PostgreSQL schema (default: the domain).
	Schema string
	// Listener serves gRPC; when nil the host listens on GRPCAddr.
	Listener net.Listener
	GRPCAddr string
	// NATS is the connection the relay publishes on; the caller owns and closes it.
	NATS   *nats.Conn
	Stream events.StreamConfig
	// RelayPollInterval overrides how often the relay looks for rows written elsewhere.
	RelayPollInterval time.Duration
	Logger            *slog.Logger
}

// Instance is a running service.
type Instance struct {
	svc    Service
	lis    net.Listener
	srv    *rpc.Server
	db     *sqldb.DB
	relay  *outbox.Relay
	cancel context.CancelFunc
	relayC chan error
	serveC chan error
	log    *slog.Logger
}

// ErrorDomain returns the google.rpc.ErrorInfo domain of a service domain.
func ErrorDomain(domain string) string { return domain + ".quarterdeck.io" }

// Start opens, migrates and starts the service. The returned instance serves until Stop.
func Start(ctx context.Context, svc Service, opts Options) (in *Instance, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.NATS == nil {
		return nil, errors.New("host: a NATS connection is required")
	}
	log := opts.Logger.With("service", svc.Domain)
	var cleanup []func()
	defer func() {
		if err != nil {
			for i := len(cleanup) - 1; i >= 0; i-- {
				cleanup[i]()
			}
		}
	}()

	db, err := Migrate(ctx, svc, opts.DatabaseURL, opts.Schema, log)
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { db.Close() })

	js, err := jetstream.New(opts.NATS)
	if err != nil {
		return nil, fmt.Errorf("%s: jetstream: %w", svc.Domain, err)
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := events.EnsureStream(sctx, js, opts.Stream, svc.Domain); err != nil {
		return nil, fmt.Errorf("%s: %w", svc.Domain, err)
	}
	factory, err := outbox.NewFactory(opts.Stream.Prefix, nil)
	if err != nil {
		return nil, err
	}

	srv, err := rpc.NewServer(rpc.Options{Domain: ErrorDomain(svc.Domain), Logger: log})
	if err != nil {
		return nil, err
	}
	if err := svc.Register(srv, Deps{DB: db, Events: factory, Logger: log}); err != nil {
		return nil, fmt.Errorf("%s: register: %w", svc.Domain, err)
	}

	lis := opts.Listener
	if lis == nil {
		if lis, err = net.Listen("tcp", opts.GRPCAddr); err != nil {
			return nil, fmt.Errorf("%s: listen on %s: %w", svc.Domain, opts.GRPCAddr, err)
		}
	}
	cleanup = append(cleanup, func() { lis.Close() })

	relay := outbox.NewRelay(db, js, outbox.RelayOptions{
		Stream:       events.StreamName(opts.Stream.Prefix, svc.Domain),
		Name:         svc.Domain,
		PollInterval: opts.RelayPollInterval,
		Retention:    opts.Stream.RetentionOrDefault(),
		Logger:       log,
	})
	db.AfterCommit(relay.Notify)

	relayCtx, relayCancel := context.WithCancel(context.WithoutCancel(ctx))
	in = &Instance{
		svc: svc, lis: lis, srv: srv, db: db, relay: relay, cancel: relayCancel,
		relayC: make(chan error, 1), serveC: make(chan error, 1), log: log,
	}
	go func() { in.relayC <- relay.Run(relayCtx) }()
	go func() { in.serveC <- srv.Serve(lis) }()

	srv.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for _, n := range svc.Names {
		srv.Health.SetServingStatus(n, healthpb.HealthCheckResponse_SERVING)
	}
	log.Info("service listening", "grpc_addr", lis.Addr().String(), "database", db.Engine(),
		"stream", events.StreamName(opts.Stream.Prefix, svc.Domain))
	return in, nil
}

// Migrate opens the service's database and applies the platform's and the service's migrations.
// The caller closes the returned database.
func Migrate(ctx context.Context, svc Service, databaseURL, schema string, log *slog.Logger) (*sqldb.DB, error) {
	if schema == "" {
		schema = svc.Domain
	}
	db, err := sqldb.Open(ctx, databaseURL, sqldb.Options{Schema: schema, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", svc.Domain, err)
	}
	if err := db.Migrate(ctx, outbox.MigrationTable, outbox.Migrations(db.Engine())); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", svc.Domain, err)
	}
	if err := db.Migrate(ctx, svc.Domain+"_migrations", svc.Migrations(db.Engine())); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", svc.Domain, err)
	}
	return db, nil
}

// Addr is the address the gRPC server listens on.
func (in *Instance) Addr() string { return in.lis.Addr().String() }

// Done delivers the error that made the gRPC server stop serving on its own (nil after Stop).
func (in *Instance) Done() <-chan error { return in.serveC }

// Stop shuts the service down in order, each step bounded by ctx's deadline:
//
//  1. health reports NOT_SERVING, so balancers and probes stop sending new calls;
//  2. the server stops accepting connections and calls;
//  3. in-flight calls finish — for three quarters of the time left, after which they are
//     cancelled, so that the relay keeps time to publish what they committed;
//  4. the outbox relay publishes what those calls (and earlier ones) committed;
//  5. event consumers stop (their own step, after the relay: nothing they do needs it);
//  6. the database pools close.
//
// A call that finished in step 3 therefore has its event published before the database closes,
// unless NATS is unreachable until the deadline: then the event waits in the outbox for the next
// start, and Stop reports the drain error.
func (in *Instance) Stop(ctx context.Context) error {
	in.srv.Health.Shutdown() // 1
	// 2, 3: calls get three quarters of the remaining time and the relay at least the rest, because
	// a stream that never ends on its own (a client's health Watch) holds the drain to its deadline.
	callsCtx := ctx
	if d, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		callsCtx, cancel = context.WithDeadline(ctx, d.Add(-time.Until(d)/4))
		defer cancel()
	}
	in.drainCalls(callsCtx)
	var errs []error
	if err := in.flushRelay(ctx); err != nil { // 4
		errs = append(errs, err)
	}
	// 5: consumers are drained here.
	if err := in.db.Close(); err != nil { // 6
		errs = append(errs, fmt.Errorf("%s: close database: %w", in.svc.Domain, err))
	}
	in.log.Info("service stopped", "error", errors.Join(errs...))
	return errors.Join(errs...)
}

// drainCalls closes the listener and waits for in-flight calls until ctx ends, then cancels
// those still running.
func (in *Instance) drainCalls(ctx context.Context) {
	stopped := make(chan struct{})
	go func() {
		in.srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-ctx.Done():
		in.log.Warn("in-flight calls did not finish in time; cancelling them")
		in.srv.Stop()
		<-stopped
	}
}

// flushRelay lets the relay publish what is pending until ctx ends, then stops it.
func (in *Instance) flushRelay(ctx context.Context) error {
	err := in.relay.Shutdown(ctx)
	in.cancel()
	return errors.Join(err, <-in.relayC)
}
