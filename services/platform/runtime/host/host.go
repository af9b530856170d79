// Package host runs a domain service: it opens and migrates the service's database, makes sure
// its event stream exists, serves its gRPC API behind the shared interceptors, runs its outbox
// relay and, for a service with due items, its scheduler, and shuts all of that down in order.
// The standalone binary hosts every service in one process; each service's own binary, whose
// main is one call to ServiceMain, hosts one. Both go through Start, so the two run modes cannot
// drift apart, and every binary runs its telemetry, profiling and NATS connection through a
// Process.
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

	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/operations"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/peer"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
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
	// Consumers declares the service's consumers of other services' events (nil: none). The host
	// runs them after the service starts serving and drains them at Stop.
	Consumers func(deps Deps) []consumer.Spec
	// Schedules declares the handlers of the service's due items, by kind (nil: the service
	// schedules nothing and runs no scheduler). The host runs a scheduler.Worker with them on the
	// service's database and the clock of Options.Clock, and stops it at Stop.
	Schedules func(deps Deps) map[string]scheduler.Handler
	// Peers are the domains of the services it calls over gRPC, e.g. "budget" (nil: none). The
	// host connects to each at its address in Options.Peers, gives the connections to Register
	// in Deps.Peers, reports each peer's health under peer.HealthName and closes them at Stop.
	Peers []string
	// Ownership declares the owners of the service's resources and its write policy (nil: none;
	// scopes alone authorize its writes). The host checks the service's calls with them
	// (ownership.Guard) and refuses to start when they do not cover every write method.
	Ownership func(deps Deps) (ownership.Policy, []ownership.Rules)
	// Settings are the service's own settings, those it was described with (nil: it has none).
	// The programs that run it read them with their own settings and check them with
	// CheckSettings before they start anything.
	Settings Settings
}

// Settings are a service's own settings: a struct whose tagged fields config.Load reads from
// flags and QUARTERDECK_* variables, and the check of their values, which names the setting to
// fix in its error.
type Settings interface {
	Validate() error
}

// CheckSettings validates the settings of every service, so that a program refuses a bad value
// before it starts anything. Like config.Load, it reports every service's errors together.
func CheckSettings(svcs ...Service) error {
	var errs []error
	for _, svc := range svcs {
		if svc.Settings != nil {
			errs = append(errs, svc.Settings.Validate())
		}
	}
	return errors.Join(errs...)
}

// Deps is what the host gives a service.
type Deps struct {
	DB     *sqldb.DB
	Events *outbox.Factory
	Logger *slog.Logger
	// Operations is the service's OperationsService, registered by the host after Register.
	Operations *operations.Server
	// Consumers runs the service's consumers and serves their dead letters (ListDeadLetters,
	// ReplayDeadLetter of the OperationsService). Nil in the Deps given to Service.Consumers.
	Consumers *consumer.Runtime
	// Peers are the connections to the services of Service.Peers, by domain, for their
	// generated clients: budgetv1.NewBudgetServiceClient(deps.Peers["budget"]).
	Peers map[string]*peer.Conn
	// Clock is the time of the service's business: what "today" is for its figures and dates,
	// and when its scheduler fires due items. Never nil.
	Clock clock.Clock
	// Background runs the service's work behind its calls, ended and waited for at Stop once the
	// calls have finished (step 3). Never nil.
	Background *Background
}

// Options configures one hosted service.
type Options struct {
	// DatabaseURL is "sqlite:<file>" or a postgres:// URL.
	DatabaseURL string
	// Schema is the PostgreSQL schema (default: the domain).
	Schema string
	// DatabaseMaxConns bounds the PostgreSQL connection pool (default 16, sqldb.Options).
	DatabaseMaxConns int
	// Listener serves gRPC; when nil the host listens on GRPCAddr.
	Listener net.Listener
	GRPCAddr string
	// NATS is the connection the relay publishes on; the caller owns and closes it.
	NATS   *nats.Conn
	Stream events.StreamConfig
	// RelayPollInterval overrides how often the relay looks for rows written elsewhere.
	RelayPollInterval time.Duration
	// AuditSealInterval overrides how often the audit sealer looks for records written by other
	// replicas [250ms]; records committed through this process are sealed at once.
	AuditSealInterval time.Duration
	// Consumers are the delivery settings of the service's event consumers.
	Consumers consumer.Settings
	// Scheduler are the settings of the service's scheduler worker (see Service.Schedules).
	Scheduler scheduler.Settings
	// Clock is the service's clock, in Deps.Clock and the scheduler's (nil: the real clock).
	// Tests pass a *clock.Fake and move it to make dates arrive.
	Clock  clock.Clock
	Logger *slog.Logger
	// Identity verifies the caller identity the gateway forwards; every call but the health
	// checks must carry one. Required.
	Identity *identity.Verifier
	// Peers are the gRPC targets of other services by domain; each of Service.Peers needs one.
	Peers map[string]string
	// TLS secures the service's gRPC port and its calls to its peers (zero: cleartext); see
	// rpc.TLS.
	TLS rpc.TLS
	// HealthListener, when set, serves the gRPC health service alone, in cleartext, for probes
	// that cannot speak TLS (Kubernetes' gRPC probes): it reports what the service's own health
	// service reports. The instance closes it at Stop.
	HealthListener net.Listener
}

// Instance is a running service.
type Instance struct {
	svc    Service
	lis    net.Listener
	srv    *rpc.Server
	db     *sqldb.DB
	relay  *outbox.Relay
	sealer *audit.Sealer
	cons   *consumer.Runtime
	sched  *scheduler.Worker // nil when the service schedules nothing
	peers  *peers
	bg     *Background
	health *grpc.Server // serves HealthListener; nil without one
	cancel context.CancelFunc
	relayC chan error
	sealC  chan error
	schedC chan error
	serveC chan error
	pruneC chan struct{}
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
	if opts.Identity == nil {
		return nil, errors.New("host: an identity verifier is required")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
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

	// The peers first: a missing address fails before anything opens. Nothing connects yet.
	creds, err := opts.TLS.ServerCredentials()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", svc.Domain, err)
	}
	peers, err := dialPeers(svc, opts, log)
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { _ = peers.close() })

	db, err := migrate(ctx, svc, opts.DatabaseURL, sqldb.Options{Schema: opts.Schema, MaxOpenConns: opts.DatabaseMaxConns, Logger: log})
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
	stream, err := events.EnsureStream(sctx, js, opts.Stream, svc.Domain)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", svc.Domain, err)
	}
	atomic := events.AtomicBatches(stream)
	if opts.Stream.AtomicBatches && !atomic {
		log.Warn("the NATS server does not take atomic batch publishes (2.12 or later does): the outbox relay publishes one event at a time",
			"stream", events.StreamName(opts.Stream.Prefix, svc.Domain))
	}
	factory, err := outbox.NewFactory(opts.Stream.Prefix, nil)
	if err != nil {
		return nil, err
	}

	ops := operations.New(svc.Domain, audit.NewStore(db))
	bg := NewBackground(log)
	cleanup = append(cleanup, func() { _ = bg.Stop(context.Background()) })
	deps := Deps{DB: db, Events: factory, Logger: log, Peers: peers.conns, Clock: opts.Clock, Background: bg}
	var owners *ownership.Guard
	if svc.Ownership != nil {
		policy, rules := svc.Ownership(deps)
		if owners, err = ownership.New(policy, rules...); err != nil {
			return nil, fmt.Errorf("%s: %w", svc.Domain, err)
		}
	}
	srv, err := rpc.NewServer(rpc.Options{Domain: ErrorDomain(svc.Domain), Logger: log, Identity: opts.Identity,
		Credentials: creds, Ownership: owners})
	if err != nil {
		return nil, err
	}
	var specs []consumer.Spec
	if svc.Consumers != nil {
		specs = svc.Consumers(deps)
	}
	cons, err := consumer.New(db, js, specs, consumer.Options{
		Service: svc.Domain, Prefix: opts.Stream.Prefix, Settings: opts.Consumers, Logger: log,
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", svc.Domain, err)
	}
	deps.Consumers = cons
	deps.Operations = ops
	ops.DeadLetters = cons
	cleanup = append(cleanup, func() { _ = cons.Drain(context.Background()) })
	if err := svc.Register(srv, deps); err != nil {
		return nil, fmt.Errorf("%s: register: %w", svc.Domain, err)
	}
	// Every service serves its audit trail and dead letters under the same API.
	operationsv1.RegisterOperationsServiceServer(srv, ops)

	// The scheduler, for a service that declares due items. Its metrics go to the global meter
	// provider, as the relay's do: the one the Process exports at /metrics.
	var sched *scheduler.Worker
	if svc.Schedules != nil {
		sched, err = scheduler.NewWorker(sqlstore.New(db, factory), svc.Schedules(deps), scheduler.Options{
			Name: svc.Domain, Settings: opts.Scheduler, Clock: opts.Clock, Logger: log,
		})
		if err != nil {
			return nil, fmt.Errorf("%s: %w", svc.Domain, err)
		}
	}

	lis := opts.Listener
	if lis == nil {
		if lis, err = net.Listen("tcp", opts.GRPCAddr); err != nil {
			return nil, fmt.Errorf("%s: listen on %s: %w", svc.Domain, opts.GRPCAddr, err)
		}
	}
	cleanup = append(cleanup, func() { lis.Close() })

	relay := outbox.NewRelay(db, js, outbox.RelayOptions{
		Stream:        events.StreamName(opts.Stream.Prefix, svc.Domain),
		Name:          svc.Domain,
		PollInterval:  opts.RelayPollInterval,
		Retention:     opts.Stream.RetentionOrDefault(),
		Logger:        log,
		AtomicBatches: atomic,
	})
	// Each loop is woken by the commits that left it work, not by every commit: a consumer's
	// transaction that wrote no event costs the relay no read of the outbox.
	db.AfterCommitOf(outbox.Work, relay.Notify)
	sealer := audit.NewSealer(db, audit.SealerOptions{
		Name: svc.Domain, PollInterval: opts.AuditSealInterval, Logger: log,
	})
	db.AfterCommitOf(audit.Work, sealer.Notify)
	if sched != nil {
		// A commit may have scheduled an item due before the one the worker sleeps until.
		db.AfterCommitOf(scheduler.Work, sched.Notify)
	}

	relayCtx, relayCancel := context.WithCancel(context.WithoutCancel(ctx))
	in = &Instance{
		svc: svc, lis: lis, srv: srv, db: db, relay: relay, sealer: sealer, cons: cons, sched: sched, peers: peers, bg: bg,
		cancel: relayCancel, relayC: make(chan error, 1), sealC: make(chan error, 1), schedC: make(chan error, 1),
		serveC: make(chan error, 1), pruneC: make(chan struct{}), log: log,
	}
	go func() { in.relayC <- relay.Run(relayCtx) }()
	go func() { in.sealC <- sealer.Run(relayCtx) }()
	if sched != nil {
		go func() { in.schedC <- sched.Run(relayCtx) }()
	}
	// Request IDs expire after idempotency.Retention; every replica prunes them hourly.
	go func() {
		defer close(in.pruneC)
		idempotency.RunPruner(relayCtx, db, time.Hour, log)
	}()
	go func() { in.serveC <- srv.Serve(lis) }()
	if opts.HealthListener != nil {
		in.health = grpc.NewServer()
		healthpb.RegisterHealthServer(in.health, srv.Health)
		go func() { _ = in.health.Serve(opts.HealthListener) }()
	}
	if err := cons.Start(relayCtx); err != nil {
		// Stop what already runs before the deferred cleanup closes the database under it.
		if in.health != nil {
			in.health.Stop()
		}
		srv.Stop()
		relayCancel()
		<-in.relayC
		<-in.sealC
		if sched != nil {
			<-in.schedC
		}
		<-in.pruneC
		return nil, fmt.Errorf("%s: %w", svc.Domain, err)
	}

	srv.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for _, n := range svc.Names {
		srv.Health.SetServingStatus(n, healthpb.HealthCheckResponse_SERVING)
	}
	srv.Health.SetServingStatus(operationsv1.OperationsService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	peers.watch(srv.Health)
	attrs := []any{"grpc_addr", lis.Addr().String(), "tls", creds != nil, "database", db.Engine(),
		"stream", events.StreamName(opts.Stream.Prefix, svc.Domain)}
	if opts.HealthListener != nil {
		attrs = append(attrs, "health_addr", opts.HealthListener.Addr().String())
	}
	log.Info("service listening", attrs...)
	return in, nil
}

// Migrate opens the service's database and applies the platform's and the service's
// migrations. The caller closes the returned database.
func Migrate(ctx context.Context, svc Service, databaseURL, schema string, log *slog.Logger) (*sqldb.DB, error) {
	return migrate(ctx, svc, databaseURL, sqldb.Options{Schema: schema, Logger: log})
}

// migrate is Migrate with the database's options (its schema, default the domain).
func migrate(ctx context.Context, svc Service, databaseURL string, o sqldb.Options) (*sqldb.DB, error) {
	if o.Schema == "" {
		o.Schema = svc.Domain
	}
	db, err := sqldb.Open(ctx, databaseURL, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", svc.Domain, err)
	}
	if err := MigratePlatform(ctx, db); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", svc.Domain, err)
	}
	if err := db.Migrate(ctx, svc.Domain+"_migrations", svc.Migrations(db.Engine())); err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: %w", svc.Domain, err)
	}
	return db, nil
}

// PlatformMigrations are the migration sets of the platform's own tables — outbox, request IDs,
// audit trail, consumer inbox and dead letters, scheduled items — in the order MigratePlatform
// applies them, each under its own version table so that the packages evolve independently.
func PlatformMigrations() []sqldb.MigrationSet {
	return []sqldb.MigrationSet{outbox.Migrations, idempotency.Migrations, audit.Migrations, consumer.Migrations,
		scheduler.Migrations}
}

// MigratePlatform applies PlatformMigrations to db.
func MigratePlatform(ctx context.Context, db *sqldb.DB) error {
	return db.MigrateSets(ctx, PlatformMigrations()...)
}

// Addr is the address the gRPC server listens on.
func (in *Instance) Addr() string { return in.lis.Addr().String() }

// Local calls the service's unary methods from within the process, without its socket (see
// rpc.Local): the standalone gateway's calls to the services it hosts.
func (in *Instance) Local() *rpc.Local { return in.srv.Local() }

// Done delivers the error that made the gRPC server stop serving on its own (nil after Stop).
func (in *Instance) Done() <-chan error { return in.serveC }

// Stop shuts the service down in order, each step bounded by ctx's deadline:
//
//  1. health reports NOT_SERVING, so balancers and probes stop sending new calls;
//  2. the server stops accepting connections and calls;
//  3. in-flight calls finish — for three quarters of the time left, after which they are
//     cancelled, so that the relay keeps time to publish what they committed — then the work
//     they left running behind them (Deps.Background) is cancelled and waited for, and the
//     connections to the service's peers, which only calls and that work use, close;
//  4. the scheduler commits the items it is firing and stops (items still due wait in the table
//     for the next start or another replica);
//  5. the outbox relay publishes what those calls and items (and earlier ones) committed;
//  6. event consumers finish the events they hold and stop (after the relay flush: a service
//     may consume its own events);
//  7. the audit sealer seals the records that the calls and the consumers committed;
//  8. the database pools close.
//
// A call that finished in step 3, and an item fired by step 4, therefore has its event published
// before the database closes, unless NATS is unreachable until the deadline: then the event waits
// in the outbox for the next start, and Stop reports the drain error.
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
	if err := in.bg.Stop(ctx); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", in.svc.Domain, err))
	}
	if err := in.peers.close(); err != nil {
		errs = append(errs, err)
	}
	if in.sched != nil { // 4
		if err := in.sched.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	if err := in.relay.Shutdown(ctx); err != nil { // 5
		errs = append(errs, err)
	}
	if err := in.cons.Drain(ctx); err != nil { // 6
		errs = append(errs, err)
	}
	// 7: after the consumers too, whose handlers may append records. Unsealed records would be
	// sealed by the next start (or another replica) anyway; flushing keeps the trail complete
	// for whoever reads it while this replica is down.
	if err := in.sealer.Shutdown(ctx); err != nil {
		errs = append(errs, err)
	}
	// The relay, the sealer, the scheduler, the consumers and the request-ID pruner share one
	// context: the relay and the sealer have flushed, the scheduler has stopped and the consumers
	// have drained, so ending it stops what is left of them.
	in.cancel()
	if err := <-in.relayC; err != nil {
		errs = append(errs, err)
	}
	if err := <-in.sealC; err != nil {
		errs = append(errs, err)
	}
	if in.sched != nil {
		if err := <-in.schedC; err != nil {
			errs = append(errs, err)
		}
	}
	<-in.pruneC
	if in.health != nil {
		// Last, so that probes read NOT_SERVING all through the stop rather than a refused port.
		in.health.Stop()
	}
	if err := in.db.Close(); err != nil { // 8
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
