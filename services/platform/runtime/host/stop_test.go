package host_test

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

var quiet = slog.New(slog.DiscardHandler)

// slowBudget commits one outbox event per CreateCostCenter. A call whose id is "wait" signals
// entered and then blocks until release is closed or its context ends.
type slowBudget struct {
	budgetv1.UnimplementedBudgetServiceServer
	deps    host.Deps
	entered chan struct{}
	release chan struct{}
}

func (b *slowBudget) CreateCostCenter(ctx context.Context, req *budgetv1.CreateCostCenterRequest) (*budgetv1.CostCenter, error) {
	if req.GetCostCenterId() == "wait" {
		close(b.entered)
		select {
		case <-b.release:
		case <-ctx.Done():
			return nil, status.Error(codes.Canceled, "stopped")
		}
	}
	name := "costCenters/" + req.GetCostCenterId()
	m, err := b.deps.Events.New(ctx, &budgetv1.CostCenterCreated{Version: 1}, name, 1)
	if err != nil {
		return nil, err
	}
	// Detached from ctx: the point is that the commit happens while the server is stopping.
	err = b.deps.DB.InTx(context.WithoutCancel(ctx), func(tx *sql.Tx) error {
		if _, err := audit.Append(ctx, tx, b.deps.DB.Engine(), audit.Entry{
			Actor: "system", Resource: name, Action: audit.Create, Method: "/test/CreateCostCenter",
		}); err != nil {
			return err
		}
		return outbox.Insert(ctx, tx, m)
	})
	if err != nil {
		return nil, err
	}
	return &budgetv1.CostCenter{Name: name}, nil
}

func create(id string) *budgetv1.CreateCostCenterRequest {
	return &budgetv1.CreateCostCenterRequest{CostCenterId: id,
		CostCenter: &budgetv1.CostCenter{DisplayName: "Stop " + id, Code: "S-" + strings.ToUpper(id)}}
}

func service(b *slowBudget) host.Service {
	return host.Service{
		Domain: "budget",
		Migrations: func(sqldb.Engine) fs.FS {
			return fstest.MapFS{"00001_noop.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n")}}
		},
		Names: []string{budgetv1.BudgetService_ServiceDesc.ServiceName},
		Register: func(r grpc.ServiceRegistrar, deps host.Deps) error {
			b.deps = deps
			budgetv1.RegisterBudgetServiceServer(r, b)
			return nil
		},
	}
}

// start runs the service of b on SQLite, publishing to n, with the relay and the sealer woken only
// by commits, so that what a Stop flushes is not published or sealed by a timer first.
func start(t *testing.T, n testenv.NATS, b *slowBudget) (*testkit.Service, budgetv1.BudgetServiceClient) {
	t.Helper()
	s := testkit.Start(t, testenv.SQLite(t), service(b), testkit.WithNATS(n), testkit.WithHostOptions(func(o *host.Options) {
		o.RelayPollInterval, o.AuditSealInterval = time.Hour, time.Hour
	}))
	return s, budgetv1.NewBudgetServiceClient(s.Conn)
}

// TestStopFinishesInFlightCallAndPublishesItsEvent stops the service while a call is in flight:
// the call completes, and its event is in the stream and its audit record sealed by the time Stop
// returns (and so before the database closed).
func TestStopFinishesInFlightCallAndPublishesItsEvent(t *testing.T) {
	t.Parallel()
	b := &slowBudget{entered: make(chan struct{}), release: make(chan struct{})}
	s, client := start(t, testenv.NATSServer(t), b)

	type result struct {
		cc  *budgetv1.CostCenter
		err error
	}
	call := make(chan result, 1)
	go func() {
		cc, err := client.CreateCostCenter(context.Background(), create("wait"))
		call <- result{cc, err}
	}()
	select {
	case <-b.entered:
	case r := <-call:
		t.Fatalf("the held call returned early: %v", r.err)
	}

	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stopped <- s.Stop(ctx)
	}()
	// Stop waits for the call: it has not returned while the call is held.
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) while a call was in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(b.release)
	if r := <-call; r.err != nil || r.cc.GetName() != "costCenters/wait" {
		t.Fatalf("in-flight call = %v, %v; want it to complete", r.cc, r.err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := s.JetStream.Stream(ctx, s.Stream())
	if err != nil {
		t.Fatal(err)
	}
	msg, err := st.GetLastMsgForSubject(ctx, s.Subject(">"))
	if err != nil {
		t.Fatalf("the in-flight call's event is not in the stream after Stop: %v", err)
	}
	if got := msg.Header.Get(events.HeaderSubject); got != "costCenters/wait" {
		t.Fatalf("last event is about %q, want costCenters/wait", got)
	}

	db, err := sqldb.Open(ctx, s.Database.DSN, sqldb.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if n, _, err := audit.Unsealed(ctx, db); err != nil || n != 0 {
		t.Fatalf("%d audit records unsealed after Stop (%v)", n, err)
	}
	rs, err := audit.NewStore(db).List(ctx, audit.Query{Limit: 10})
	if err != nil || len(rs) != 1 || rs[0].Resource != "costCenters/wait" || rs[0].Sequence != 1 {
		t.Fatalf("audit records after Stop = %+v, %v", rs, err)
	}
}

// TestStopRespectsItsDeadline stops a service whose call never finishes on its own and whose
// NATS server is gone: Stop cancels the call at the deadline, gives up on the relay, reports the
// deadline, and the unpublished event stays in the outbox for the next start.
func TestStopRespectsItsDeadline(t *testing.T) {
	t.Parallel()
	ns := testenv.StoppableNATS(t)
	b := &slowBudget{entered: make(chan struct{}), release: make(chan struct{})}
	s, client := start(t, ns.NATS, b)

	ns.Stop()
	if _, err := client.CreateCostCenter(context.Background(), create("pending")); err != nil {
		t.Fatal(err) // writes do not need NATS
	}
	call := make(chan error, 1)
	go func() {
		_, err := client.CreateCostCenter(context.Background(), create("wait"))
		call <- err
	}()
	select {
	case <-b.entered:
	case err := <-call:
		t.Fatalf("the held call returned early: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(ctx) }()
	select {
	case err := <-stopped:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Stop = %v, want the deadline error of the relay drain", err)
		}
	case <-time.After(30 * time.Second): // a hang guard, far beyond the 300ms deadline
		t.Fatal("Stop did not return after its deadline")
	}
	if err := <-call; status.Code(err) == codes.OK {
		t.Error("the held call succeeded; it should have been cancelled at the deadline")
	}

	db, err := sqldb.Open(context.Background(), s.Database.DSN, sqldb.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	n, _, err := outbox.Pending(context.Background(), db)
	if err != nil || n != 1 {
		t.Fatalf("pending events after the stop = %d, %v; want 1 kept for the next start", n, err)
	}
}

// TestStopWithAWatchingClient stops a service while a client watches its health: the watcher sees
// NOT_SERVING first, and its never-ending stream does not eat the relay's share of the deadline.
func TestStopWithAWatchingClient(t *testing.T) {
	t.Parallel()
	b := &slowBudget{entered: make(chan struct{}), release: make(chan struct{})}
	s, client := start(t, testenv.NATSServer(t), b)
	if _, err := client.CreateCostCenter(context.Background(), create("before")); err != nil {
		t.Fatal(err)
	}

	// Health needs no identity.
	watch, err := healthpb.NewHealthClient(testkit.Dial(t, s.Addr)).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := watch.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first health status = %v, %v; want SERVING", r, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	stopped := make(chan error, 1)
	go func() { stopped <- s.Stop(ctx) }()
	if r, err := watch.Recv(); err != nil || r.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health status after Stop began = %v, %v; want NOT_SERVING", r, err)
	}
	if err := <-stopped; err != nil {
		t.Fatalf("Stop with a health watcher = %v; want the relay to drain in its share of the deadline", err)
	}
}
