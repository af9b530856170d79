package testkit

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// stopTimeout bounds the Stop of a service at the end of its test.
const stopTimeout = 10 * time.Second

// Service is a domain service started for one test.
type Service struct {
	// Domain is the service's domain, e.g. "budget".
	Domain string
	// Addr is the address its gRPC server listens on.
	Addr string
	// Conn calls the service as the test principal (identitytest.Subject) with every scope.
	Conn *grpc.ClientConn
	// Database is where its store lives.
	Database testenv.Database
	// NATS is the server its events go to; its stream is named after NATS.SubjectPrefix.
	NATS testenv.NATS
	// JetStream is a JetStream context on the test's own connection to NATS, for reading the
	// service's events.
	JetStream jetstream.JetStream

	in       *host.Instance
	logs     *serviceLog
	stopOnce sync.Once
	stopErr  error
	stopped  atomic.Bool
}

// Option adjusts how Start runs a service.
type Option func(*options)

type options struct {
	nats      testenv.NATS
	configure func(*host.Options)
}

// WithNATS makes the service publish to n instead of a server of testenv.NATSServer, e.g. an
// embedded server the test stops and restarts.
func WithNATS(n testenv.NATS) Option { return func(o *options) { o.nats = n } }

// WithHostOptions lets configure change the host options after Start has filled them in, e.g. to
// slow the relay down with a long RelayPollInterval.
func WithHostOptions(configure func(*host.Options)) Option {
	return func(o *options) { o.configure = configure }
}

// Start runs svc on db for the test, as its binary would: migrated, serving gRPC on a loopback
// port behind the real interceptor chain, verifying callers with identitytest's key, publishing
// its events to a NATS server of testenv (under the test's own subject prefix). The service is
// stopped when the test ends, and a failing Stop fails the test. Should the test fail, its output
// ends with the service's latest log records (INFO and above), unless WithHostOptions set a
// logger of its own.
func Start(t testing.TB, db testenv.Database, svc host.Service, opts ...Option) *Service {
	t.Helper()
	var o options
	for _, f := range opts {
		f(&o)
	}
	ns := o.nats
	if ns.URL == "" {
		ns = testenv.NATSServer(t)
	}
	nc, js := testenv.Connect(t, ns.URL)
	logs := &serviceLog{}
	ho := host.Options{
		DatabaseURL: db.DSN,
		Schema:      db.Schema,
		GRPCAddr:    "127.0.0.1:0",
		NATS:        nc,
		Stream:      events.StreamConfig{Prefix: ns.SubjectPrefix},
		Logger:      logs.logger(),
		Identity:    identitytest.Verifier(),
	}
	if o.configure != nil {
		o.configure(&ho)
	}
	in, err := host.Start(context.Background(), svc, ho)
	if err != nil {
		t.Fatalf("start %s on %s: %v", svc.Domain, db.Engine, err)
	}
	s := &Service{Domain: svc.Domain, Addr: in.Addr(), Database: db, NATS: ns, JetStream: js, in: in, logs: logs}
	t.Cleanup(func() {
		// After the stop, so that what the stop logged is there too.
		defer logs.report(t, svc.Domain)
		if s.stopped.Load() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Errorf("stop %s: %v", svc.Domain, err)
		}
	})
	// Registered after the service's Stop, so that it closes first.
	s.Conn = Dial(t, s.Addr, identitytest.DialOption())
	return s
}

// Stop stops the service now, within ctx's deadline, and returns what host.Instance.Stop
// returned: for tests of what a stop does. The test's cleanup then leaves the service alone, and
// later calls return the first one's error.
func (s *Service) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.stopped.Store(true)
		s.stopErr = s.in.Stop(ctx)
	})
	return s.stopErr
}

// Logged returns the latest records the service logged at INFO and above (the last 300), oldest
// first, each in slog's text format (`level=INFO msg="…" key=value …`): for tests of what a
// service says about its work. Nothing when WithHostOptions set a logger of its own.
func (s *Service) Logged() []string {
	recs, _ := s.logs.kept()
	return recs
}

// ConnAs returns a connection to the service that calls as subject with scopes (every scope when
// none are given): a second person, such as the approver of what the test principal submitted,
// or a caller short of a scope.
func (s *Service) ConnAs(t testing.TB, subject string, scopes ...string) *grpc.ClientConn {
	t.Helper()
	return DialAs(t, s.Addr, subject, scopes...)
}

// ConnOf is ConnAs for the credential subject of the principal owner: a second key of one
// person, to test that rules comparing people (an approver is not the submitter) compare
// principals.
func (s *Service) ConnOf(t testing.TB, subject, owner string, scopes ...string) *grpc.ClientConn {
	t.Helper()
	return Dial(t, s.Addr, identitytest.DialOptionOf(subject, owner, scopes...))
}

// DB opens a small second connection pool to the service's database, closed when the test ends,
// for checks of what the API does not show (outbox rows, stored request IDs).
func (s *Service) DB(t testing.TB) *sqldb.DB {
	t.Helper()
	db, err := sqldb.Open(context.Background(), s.Database.DSN, sqldb.Options{
		Schema: s.Database.Schema, MaxOpenConns: 2, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open the database of %s: %v", s.Domain, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Stream is the name of the service's event stream.
func (s *Service) Stream() string { return events.StreamName(s.NATS.SubjectPrefix, s.Domain) }

// Subject is the NATS subject of the service's events of a type, e.g. "cost_center.created".
func (s *Service) Subject(event string) string {
	return s.NATS.SubjectPrefix + "." + s.Domain + "." + event
}

// Events reads the first n events of the service's stream (see ReadEvents).
func (s *Service) Events(t testing.TB, n int) []jetstream.Msg {
	t.Helper()
	return ReadEvents(t, s.JetStream, s.Stream(), n)
}

// Errors checks errors against the service's error domain.
func (s *Service) Errors() Errors { return ErrorsOf(s.Domain) }

// AssertStatus is Errors().Assert: err must carry code, an ErrorInfo with reason in the
// service's domain, and exactly the field violations fields.
func (s *Service) AssertStatus(t testing.TB, err error, code codes.Code, reason string, fields ...string) {
	t.Helper()
	s.Errors().Assert(t, err, code, reason, fields...)
}

// ForEachDatabase runs fn in a parallel subtest named after each engine of
// testenv.Databases: SQLite always, PostgreSQL when the environment offers it.
func ForEachDatabase(t *testing.T, fn func(t *testing.T, db testenv.Database)) {
	t.Helper()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			fn(t, db)
		})
	}
}

// ReadEvents reads the first n messages of stream in stream order, failing the test when they
// are not all there within a deadline.
func ReadEvents(t testing.TB, js jetstream.JetStream, stream string, n int) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("read %s: %v", stream, err)
	}
	var out []jetstream.Msg
	for len(out) < n {
		batch, err := cons.Fetch(min(n-len(out), 500), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatalf("read %s: %v", stream, err)
		}
		for m := range batch.Messages() {
			out = append(out, m)
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: %d of %d events before the deadline", stream, len(out), n)
		}
	}
	return out
}
