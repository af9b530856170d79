package testkit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/authz"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// whoami is a budget service that answers GetCostCenter with its caller as the owner, and
// commits one event per CreateCostCenter.
type whoami struct {
	budgetv1.UnimplementedBudgetServiceServer
	deps host.Deps
}

func (w *whoami) GetCostCenter(ctx context.Context, req *budgetv1.GetCostCenterRequest) (*budgetv1.CostCenter, error) {
	p, _ := identity.FromContext(ctx)
	return &budgetv1.CostCenter{Name: req.GetName(), Owner: p.Subject}, nil
}

func (w *whoami) CreateCostCenter(ctx context.Context, req *budgetv1.CreateCostCenterRequest) (*budgetv1.CostCenter, error) {
	name := "costCenters/" + req.GetCostCenterId()
	m, err := w.deps.Events.New(ctx, &budgetv1.CostCenterCreated{Version: 1}, name, 1)
	if err != nil {
		return nil, err
	}
	err = w.deps.DB.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO things (name) VALUES ($1)`, name); err != nil {
			return err
		}
		return outbox.Insert(ctx, tx, m)
	})
	return &budgetv1.CostCenter{Name: name}, err
}

// things is the whoami service's one migration, the same on both engines.
var things = fstest.MapFS{"00001_things.sql": {Data: []byte("-- +goose Up\nCREATE TABLE things (name TEXT PRIMARY KEY);\n")}}

func service() host.Service {
	w := &whoami{}
	return host.Service{
		Domain:     "budget", // the domain of the events it writes
		Migrations: func(sqldb.Engine) fs.FS { return things },
		Names:      []string{budgetv1.BudgetService_ServiceDesc.ServiceName},
		Register: func(r grpc.ServiceRegistrar, deps host.Deps) error {
			w.deps = deps
			budgetv1.RegisterBudgetServiceServer(r, w)
			return nil
		},
	}
}

func TestStart(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		s := testkit.Start(t, db, service())
		if s.Domain != "budget" || s.Database != db || s.Addr == "" {
			t.Fatalf("started %+v on %+v", s, db)
		}

		// Callers: the test principal, another subject, a caller short of a scope.
		get := func(conn *grpc.ClientConn) (string, error) {
			cc, err := budgetv1.NewBudgetServiceClient(conn).GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/x"})
			return cc.GetOwner(), err
		}
		if who, err := get(s.Conn); err != nil || who != identitytest.Subject {
			t.Errorf("Conn calls as %q, %v; want %s", who, err, identitytest.Subject)
		}
		if who, err := get(s.ConnAs(t, "apiKeys/approver", "budget.read")); err != nil || who != "apiKeys/approver" {
			t.Errorf("ConnAs calls as %q, %v; want apiKeys/approver", who, err)
		}
		_, err := get(s.ConnAs(t, "apiKeys/reader", "vendors.read"))
		s.AssertStatus(t, err, codes.PermissionDenied, authz.ReasonMissingScope)
		if d := s.Errors().Domain; d != "budget.quarterdeck.io" {
			t.Errorf("Errors().Domain = %q, want budget.quarterdeck.io", d)
		}
		_, err = get(testkit.Dial(t, s.Addr))
		s.AssertStatus(t, err, codes.Unauthenticated, "IDENTITY_MISSING")

		// The service's own migrations ran, its events go to its stream.
		if _, err := budgetv1.NewBudgetServiceClient(s.Conn).CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{
			CostCenterId: "a", CostCenter: &budgetv1.CostCenter{DisplayName: "A", Code: "A"}}); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := s.DB(t).QueryRowContext(ctx, `SELECT COUNT(*) FROM things`).Scan(&n); err != nil || n != 1 {
			t.Errorf("things = %d, %v; want 1", n, err)
		}
		evs := s.Events(t, 1)
		if evs[0].Subject() != s.Subject("cost_center.created") || !strings.HasPrefix(s.Stream(), strings.ToUpper(s.NATS.SubjectPrefix)) {
			t.Errorf("event on %s, stream %s; want %s", evs[0].Subject(), s.Stream(), s.Subject("cost_center.created"))
		}

		// Stop is the test's to call once; later calls repeat the result, the cleanup leaves it.
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := s.Stop(stopCtx); err != nil {
			t.Fatalf("Stop: %v", err)
		}
		if err := s.Stop(stopCtx); err != nil {
			t.Fatalf("second Stop: %v", err)
		}
		if _, err := get(s.Conn); status.Code(err) != codes.Unavailable {
			t.Errorf("call after Stop = %v, want UNAVAILABLE", err)
		}
	})
}

func TestStartOptions(t *testing.T) {
	t.Parallel()
	n := testenv.EmbeddedNATS(t)
	var got host.Options
	s := testkit.Start(t, testenv.SQLite(t), service(), testkit.WithNATS(n),
		testkit.WithHostOptions(func(o *host.Options) { o.RelayPollInterval = time.Hour; got = *o }))
	if s.NATS != n || got.Stream.Prefix != n.SubjectPrefix || got.RelayPollInterval != time.Hour || got.Identity == nil {
		t.Fatalf("NATS %+v, host options %+v; want the given server and poll interval", s.NATS, got)
	}
}

func TestDatabases(t *testing.T) {
	t.Parallel()
	tables := func(t *testing.T, db *sqldb.DB, names ...string) []bool {
		t.Helper()
		var out []bool
		for _, name := range names {
			_, err := db.ExecContext(context.Background(), `SELECT COUNT(*) FROM `+name)
			out = append(out, err == nil)
		}
		return out
	}
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		svc := service()
		if got := tables(t, testkit.Migrated(t, d, svc), "things", "outbox", "audit_records", "request_ids", "consumer_inbox"); slices.Contains(got, false) {
			t.Errorf("Migrated: tables things, outbox, audit_records, request_ids, consumer_inbox exist = %v", got)
		}
		// Each engine-specific set on a fresh database of its own: only what was asked for.
		fresh := testenv.SQLite(t)
		if d.Engine == testenv.EnginePostgres {
			fresh = testenv.Postgres(t)
		}
		db := testkit.Open(t, fresh, audit.Migrations)
		if got := tables(t, db, "audit_records", "outbox"); !slices.Equal(got, []bool{true, false}) {
			t.Errorf("Open with the audit migrations: audit_records, outbox exist = %v", got)
		}
	})
}

func TestServeAndDial(t *testing.T) {
	t.Parallel()
	srv := grpc.NewServer()
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	addr := testkit.Serve(t, srv)
	resp, err := healthpb.NewHealthClient(testkit.Dial(t, addr)).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health = %v, %v", resp, err)
	}
}

// recorder stands in for a test so that a helper's failures can be observed: Errorf is
// recorded, Fatalf is recorded and ends the goroutine, as testing.T does.
type recorder struct {
	testing.TB
	mu     sync.Mutex
	errors []string
	fatal  string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Fatal(args ...any) { r.Fatalf("%s", fmt.Sprint(args...)) }

// run calls f with a fresh recorder on a goroutine of its own, since Fatalf ends it.
func run(t *testing.T, f func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
	return r
}

func (r *recorder) failures() string {
	return strings.Join(append(slices.Clone(r.errors), r.fatal), "|")
}

func TestEventually(t *testing.T) {
	t.Parallel()
	calls := 0
	testkit.Eventually(t, 5*time.Second, func() bool { calls++; return calls == 3 })
	if calls != 3 {
		t.Errorf("a condition that holds at the third check was checked %d times", calls)
	}
	calls = 0
	testkit.Eventually(t, 5*time.Second, func() error {
		if calls++; calls < 2 {
			return errors.New("not yet")
		}
		return nil
	})

	start := time.Now()
	r := run(t, func(tb testing.TB) {
		testkit.Eventually(tb, 50*time.Millisecond, func() error { return errors.New("3 events pending") })
	})
	if !strings.Contains(r.fatal, "3 events pending") || !strings.Contains(r.fatal, "50ms") {
		t.Errorf("failure = %q, want the timeout and the last error", r.fatal)
	}
	if took := time.Since(start); took < 50*time.Millisecond || took > 5*time.Second {
		t.Errorf("gave up after %v, want about 50ms", took)
	}
	r = run(t, func(tb testing.TB) { testkit.Eventually(tb, 0, func() bool { return false }) })
	if r.fatal == "" {
		t.Error("a condition that never holds did not fail the test")
	}
}

func TestErrorsAssert(t *testing.T) {
	t.Parallel()
	invalid := func(domain string, fields ...string) error {
		st := status.New(codes.InvalidArgument, "invalid")
		br := &errdetails.BadRequest{}
		for _, f := range fields {
			path, reason, _ := strings.Cut(f, ":")
			br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: path, Reason: reason})
		}
		st, err := st.WithDetails(&errdetails.ErrorInfo{Reason: "INVALID_ARGUMENT", Domain: domain}, br)
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	errs := testkit.ErrorsOf("budget")
	err := invalid("budget.quarterdeck.io", "cost_center.code:STRING_PATTERN", "cost_center_id:REQUIRED")
	tests := []struct {
		name   string
		assert func(tb testing.TB)
		want   string // a part of the failures; "" for none
	}{
		{"paths and reasons", func(tb testing.TB) {
			errs.Assert(tb, err, codes.InvalidArgument, "INVALID_ARGUMENT", "cost_center.code:STRING_PATTERN", "cost_center_id:REQUIRED")
		}, ""},
		{"paths only", func(tb testing.TB) {
			errs.Assert(tb, err, codes.InvalidArgument, "INVALID_ARGUMENT", "cost_center.code", "cost_center_id")
		}, ""},
		{"any domain", func(tb testing.TB) {
			testkit.AssertStatus(tb, invalid("vendors.quarterdeck.io"), codes.InvalidArgument, "INVALID_ARGUMENT")
		}, ""},
		{"wrong code", func(tb testing.TB) { errs.Assert(tb, err, codes.NotFound, "INVALID_ARGUMENT") }, "want code NotFound"},
		{"no error", func(tb testing.TB) { errs.Assert(tb, nil, codes.NotFound, "NOT_FOUND") }, "want code NotFound"},
		{"not a status", func(tb testing.TB) { errs.Assert(tb, errors.New("boom"), codes.Unknown, "UNKNOWN") }, "want code Unknown"},
		{"no ErrorInfo", func(tb testing.TB) {
			errs.Assert(tb, status.Error(codes.Internal, "bare"), codes.Internal, "INTERNAL")
		}, "ErrorInfo = <nil>"},
		{"wrong reason", func(tb testing.TB) {
			errs.Assert(tb, invalid("budget.quarterdeck.io"), codes.InvalidArgument, "PARENT_CYCLE")
		}, "want reason PARENT_CYCLE in budget.quarterdeck.io"},
		{"wrong domain", func(tb testing.TB) {
			errs.Assert(tb, invalid("vendors.quarterdeck.io"), codes.InvalidArgument, "INVALID_ARGUMENT")
		}, "in budget.quarterdeck.io"},
		{"wrong field reason", func(tb testing.TB) {
			errs.Assert(tb, err, codes.InvalidArgument, "INVALID_ARGUMENT", "cost_center.code:REQUIRED", "cost_center_id")
		}, "field violations = [cost_center.code:STRING_PATTERN cost_center_id:REQUIRED]"},
		{"a violation missing", func(tb testing.TB) {
			errs.Assert(tb, err, codes.InvalidArgument, "INVALID_ARGUMENT", "cost_center.code")
		}, "field violations"},
		{"violations not expected", func(tb testing.TB) {
			errs.Assert(tb, err, codes.InvalidArgument, "INVALID_ARGUMENT")
		}, "field violations"},
		{"in another order", func(tb testing.TB) {
			errs.Assert(tb, err, codes.InvalidArgument, "INVALID_ARGUMENT", "cost_center_id", "cost_center.code")
		}, "field violations"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, tt.assert).failures()
			if tt.want == "" && got != "" || !strings.Contains(got, tt.want) {
				t.Errorf("failures %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAllPages(t *testing.T) {
	t.Parallel()
	items := []int{1, 2, 3, 4, 5, 6, 7}
	pager := func(size int) func(string) ([]int, string, error) {
		return func(token string) ([]int, string, error) {
			from := 0
			if token != "" {
				fmt.Sscan(token, &from)
			}
			to := min(from+size, len(items))
			next := ""
			if to < len(items) {
				next = fmt.Sprint(to)
			}
			return items[from:to], next, nil
		}
	}
	for size, wantPages := range map[int]int{3: 3, 7: 1, 100: 1, 1: 7} {
		got, pages := testkit.AllPages(t, pager(size))
		if !slices.Equal(got, items) || pages != wantPages {
			t.Errorf("page size %d: %v in %d pages, want %v in %d", size, got, pages, items, wantPages)
		}
	}
	r := run(t, func(tb testing.TB) {
		testkit.AllPages(tb, func(token string) ([]int, string, error) {
			if token == "" {
				return []int{1}, "next", nil
			}
			return nil, "", errors.New("PAGE_TOKEN_INVALID")
		})
	})
	if !strings.Contains(r.fatal, "page 2: PAGE_TOKEN_INVALID") {
		t.Errorf("failure = %q, want the page and its error", r.fatal)
	}
	r = run(t, func(tb testing.TB) {
		testkit.AllPages(tb, func(string) ([]int, string, error) { return nil, "again", nil })
	})
	if !strings.Contains(r.fatal, "more than") {
		t.Errorf("failure = %q, want an endless list reported", r.fatal)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	mp, reader := testkit.MeterProvider(t)
	meter := mp.Meter("test")
	count, _ := meter.Int64Counter("published")
	level, _ := meter.Int64Gauge("pending")
	age, _ := meter.Float64Gauge("age")
	lag, _ := meter.Float64Histogram("lag")
	ctx := context.Background()
	for _, svc := range []string{"budget", "vendors"} {
		attrs := metric.WithAttributes(attribute.String("service", svc))
		count.Add(ctx, 2, attrs, metric.WithAttributes(attribute.String("consumer", "a")))
		count.Add(ctx, 3, attrs, metric.WithAttributes(attribute.String("consumer", "b")))
		level.Record(ctx, 7, attrs)
		age.Record(ctx, 1.5, attrs)
		lag.Record(ctx, 0.2, attrs)
		lag.Record(ctx, 30, attrs)
	}
	got := testkit.Metrics(t, reader, "budget")
	if want := map[string]float64{"published": 5, "pending": 7, "age": 1.5, "lag": 2}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Metrics = %v, want %v", got, want)
	}
	if got := testkit.Metrics(t, reader, "risk"); len(got) != 0 {
		t.Errorf("Metrics of a service without any = %v", got)
	}
}

func TestColumn(t *testing.T) {
	t.Parallel()
	db := testkit.Open(t, testenv.SQLite(t))
	ctx := context.Background()
	for _, q := range []string{`CREATE TABLE t (id TEXT, n INTEGER)`, `INSERT INTO t VALUES ('b', 2), ('a', 1), ('c', 3)`} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if got := testkit.Column[string](t, db, `SELECT id FROM t WHERE n > $1 ORDER BY id`, 1); !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("ids = %v, want [b c]", got)
	}
	if got := testkit.Column[int64](t, db, `SELECT SUM(n) FROM t`); !slices.Equal(got, []int64{6}) {
		t.Errorf("sum = %v, want [6]", got)
	}
	r := run(t, func(tb testing.TB) { testkit.Column[int](tb, db, `SELECT id FROM t`) })
	if !strings.Contains(r.fatal, "SELECT id FROM t") {
		t.Errorf("failure = %q, want the query named", r.fatal)
	}
}

func TestConcurrently(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	seen := map[int]bool{}
	testkit.Concurrently(t, 50, func(i int) error {
		mu.Lock()
		defer mu.Unlock()
		seen[i] = true
		return nil
	})
	if len(seen) != 50 || !seen[0] || !seen[49] {
		t.Errorf("calls = %v, want 0 to 49", seen)
	}
	r := run(t, func(tb testing.TB) {
		testkit.Concurrently(tb, 3, func(i int) error {
			if i == 0 {
				return nil
			}
			return fmt.Errorf("call %d failed", i)
		})
	})
	if !strings.Contains(r.fatal, "call 1 failed") || !strings.Contains(r.fatal, "call 2 failed") {
		t.Errorf("failure = %q, want both failed calls", r.fatal)
	}
}

func TestBuffer(t *testing.T) {
	t.Parallel()
	var b testkit.Buffer
	testkit.Concurrently(t, 20, func(i int) error {
		_, err := fmt.Fprintf(&b, "line %d\n", i)
		return err
	})
	if lines := strings.Split(strings.TrimSpace(b.String()), "\n"); len(lines) != 20 {
		t.Errorf("%d lines, want 20: %q", len(lines), b.String())
	}
}

func TestProtoFile(t *testing.T) {
	t.Parallel()
	fd := testkit.ProtoFile(t, `
		name: "kit/v1/thing.proto"  package: "kit.v1"  syntax: "proto3"
		dependency: "quarterdeck/auth/v1/auth.proto"
		message_type { name: "Thing"  field { name: "id"  number: 1  json_name: "id"  label: LABEL_OPTIONAL  type: TYPE_STRING } }
		service { name: "ThingService"  method { name: "Get"  input_type: ".kit.v1.Thing"  output_type: ".kit.v1.Thing"
			options { [quarterdeck.auth.v1.policy] { scopes: "things.read" } } } }`)
	md := fd.Messages().ByName("Thing")
	if md == nil || md.Fields().ByName("id") == nil || fd.Services().ByName("ThingService").Methods().ByName("Get") == nil {
		t.Fatalf("built %v", fd)
	}
	for text, want := range map[string]string{
		`name: "x.proto" nonsense: 1`: "text format",
		`name: "x.proto" message_type { name: "A" field { name: "b" number: 1 type: TYPE_MESSAGE type_name: ".missing.B" } }`: "x.proto",
	} {
		if r := run(t, func(tb testing.TB) { testkit.ProtoFile(tb, text) }); !strings.Contains(r.fatal, want) {
			t.Errorf("ProtoFile(%q) failure = %q, want it to name %q", text, r.fatal, want)
		}
	}
}
