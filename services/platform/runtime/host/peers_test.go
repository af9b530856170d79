package host_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/config"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/peer"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// noTables are the migrations of a test service that keeps nothing of its own.
func noTables(sqldb.Engine) fs.FS {
	return fstest.MapFS{"00001_none.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 1;\n")}}
}

// fundsCall is what the budget service of these tests saw of a CheckFunds call.
type fundsCall struct {
	caller   identity.Principal
	via      string
	deadline time.Time
}

// funds is a budget service that answers CheckFunds: ALLOW, or NOT_FOUND for the line "missing".
type funds struct {
	budgetv1.UnimplementedBudgetServiceServer
	mu    sync.Mutex
	calls []fundsCall
}

func (f *funds) CheckFunds(ctx context.Context, req *budgetv1.CheckFundsRequest) (*budgetv1.CheckFundsResponse, error) {
	c := fundsCall{via: peer.Via(ctx)}
	c.caller, _ = identity.FromContext(ctx)
	c.deadline, _ = ctx.Deadline()
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	if req.GetLine() == "budgets/b/lines/missing" {
		return nil, fault.New(fault.NotFound, "BUDGET_LINE_NOT_FOUND", "budget line "+req.GetLine()+" not found").With("name", req.GetLine())
	}
	return &budgetv1.CheckFundsResponse{Decision: budgetv1.CheckFundsResponse_ALLOW, Reason: "WITHIN_AVAILABLE"}, nil
}

func (f *funds) last() fundsCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[len(f.calls)-1]
}

func fundsService(f *funds) host.Service {
	return host.Service{
		Domain: "budget", Migrations: noTables, Names: []string{budgetv1.BudgetService_ServiceDesc.ServiceName},
		Register: func(r grpc.ServiceRegistrar, _ host.Deps) error {
			budgetv1.RegisterBudgetServiceServer(r, f)
			return nil
		},
	}
}

// front is the service that calls budget, standing in for vendors: its CheckFunds asks budget,
// its GetCostCenter needs nobody.
type front struct {
	budgetv1.UnimplementedBudgetServiceServer
	budget budgetv1.BudgetServiceClient
}

func (f *front) CheckFunds(ctx context.Context, req *budgetv1.CheckFundsRequest) (*budgetv1.CheckFundsResponse, error) {
	return f.budget.CheckFunds(ctx, req)
}

func (f *front) GetCostCenter(_ context.Context, req *budgetv1.GetCostCenterRequest) (*budgetv1.CostCenter, error) {
	return &budgetv1.CostCenter{Name: req.GetName()}, nil
}

func frontService() host.Service {
	return host.Service{
		Domain: "vendors", Migrations: noTables, Names: []string{budgetv1.BudgetService_ServiceDesc.ServiceName},
		Peers: []string{"budget"},
		Register: func(r grpc.ServiceRegistrar, deps host.Deps) error {
			budgetv1.RegisterBudgetServiceServer(r, &front{budget: budgetv1.NewBudgetServiceClient(deps.Peers["budget"])})
			return nil
		},
	}
}

func healthOf(t *testing.T, conn *grpc.ClientConn, service string) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatalf("health of %q: %v", service, err)
	}
	return res.GetStatus()
}

// TestPeerHealthKnownFromTheStart: a peer's health is NOT_SERVING from the moment its watch
// starts, not an unknown service until the watch's first report: a readiness probe of it made as
// soon as the service listens must not get NOT_FOUND.
func TestPeerHealthKnownFromTheStart(t *testing.T) {
	hs := health.NewServer()
	stop, err := host.WatchPeers(frontService(), host.Options{Peers: map[string]string{"budget": "127.0.0.1:1"}}, hs)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := stop(); err != nil {
			t.Error(err)
		}
	}()
	res, err := hs.Check(context.Background(), &healthpb.HealthCheckRequest{Service: peer.HealthName("budget")})
	if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("health of %s as its watch starts = %v, %v; want NOT_SERVING", peer.HealthName("budget"), res, err)
	}
}

// TestServiceCallsItsPeer runs a service (vendors) that calls another (budget) through the
// connection the host gives it. Budget sees the original caller and the request's deadline;
// budget's refusal and budget's absence reach the client as vendors errors; while budget is
// down, vendors reports it under quarterdeck.peer.budget and serves everything else, and once
// budget is back on its address, vendors sees it and calls it again.
func TestServiceCallsItsPeer(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		f := &funds{}
		budgetDB := testenv.Another(t, d)
		budget := testkit.Start(t, budgetDB, fundsService(f))
		vendors := testkit.Start(t, d, frontService(), testkit.WithHostOptions(func(o *host.Options) {
			o.Peers = map[string]string{"budget": budget.Addr}
		}))
		testkit.Eventually(t, 10*time.Second, func() bool {
			return healthOf(t, vendors.Conn, peer.HealthName("budget")) == healthpb.HealthCheckResponse_SERVING
		})

		// Alice asks vendors, which asks budget on her behalf.
		alice := budgetv1.NewBudgetServiceClient(vendors.ConnAs(t, "users/alice", "budget.read"))
		ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
		defer cancel()
		req := &budgetv1.CheckFundsRequest{Line: "budgets/b/lines/l", Amount: &money.Money{CurrencyCode: "EUR", Units: 10}}
		if _, err := alice.CheckFunds(ctx, req); err != nil {
			t.Fatalf("CheckFunds through vendors: %v", err)
		}
		call := f.last()
		if call.caller.Subject != "users/alice" || len(call.caller.Scopes) != 1 || !call.caller.Has("budget.read") || call.via != "vendors" {
			t.Errorf("budget saw %+v via %q; want users/alice with budget.read, via vendors", call.caller, call.via)
		}
		if want, _ := ctx.Deadline(); call.deadline.Sub(want).Abs() > time.Second {
			t.Errorf("budget's deadline %v; want the client's %v", call.deadline, want)
		}

		// Budget refuses: vendors' client learns who refused and why, in vendors' terms.
		_, err := alice.CheckFunds(ctx, &budgetv1.CheckFundsRequest{Line: "budgets/b/lines/missing", Amount: req.GetAmount()})
		vendors.AssertStatus(t, err, codes.FailedPrecondition, peer.ReasonRefused)
		if info, _ := rpc.Details(err); info.GetMetadata()[peer.MetadataPeer] != "budget" ||
			info.GetMetadata()[peer.MetadataPeerCode] != "NOT_FOUND" || info.GetMetadata()[peer.MetadataPeerReason] != "BUDGET_LINE_NOT_FOUND" {
			t.Errorf("ErrorInfo %v; want budget's NOT_FOUND BUDGET_LINE_NOT_FOUND", info)
		}

		// Budget goes away.
		addr := budget.Addr
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		if err := budget.Stop(sctx); err != nil {
			t.Fatalf("stop budget: %v", err)
		}
		testkit.Eventually(t, 10*time.Second, func() bool {
			return healthOf(t, vendors.Conn, peer.HealthName("budget")) == healthpb.HealthCheckResponse_NOT_SERVING
		})
		for _, name := range []string{"", budgetv1.BudgetService_ServiceDesc.ServiceName} {
			if s := healthOf(t, vendors.Conn, name); s != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("vendors' health %q is %v while only its peer is down; want SERVING", name, s)
			}
		}
		if _, err := alice.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/cc"}); err != nil {
			t.Errorf("a call that needs no peer, while the peer is down: %v", err)
		}
		// It fails at once with UNAVAILABLE, not at the end of its deadline: the peer's refused
		// connection answers it, so its context is still live when it returns. (A call that
		// waited for the peer would end only with its deadline.)
		downCtx, downCancel := context.WithTimeout(context.Background(), time.Minute)
		defer downCancel()
		_, err = alice.CheckFunds(downCtx, req)
		vendors.AssertStatus(t, err, codes.Unavailable, peer.ReasonUnavailable)
		if downCtx.Err() != nil {
			t.Errorf("a call that needs the peer that is down returned %v only when its context ended (%v)", err, downCtx.Err())
		}

		// Budget comes back where it was.
		testkit.Start(t, budgetDB, fundsService(f), testkit.WithHostOptions(func(o *host.Options) { o.GRPCAddr = addr }))
		testkit.Eventually(t, 10*time.Second, func() bool {
			return healthOf(t, vendors.Conn, peer.HealthName("budget")) == healthpb.HealthCheckResponse_SERVING
		})
		if _, err := alice.CheckFunds(ctx, req); err != nil {
			t.Errorf("CheckFunds after budget's return: %v", err)
		}
	})
}

// TestStartNeedsEveryPeer checks that a service whose peer has no address does not start, and
// that the error names the setting to set.
func TestStartNeedsEveryPeer(t *testing.T) {
	ns := testenv.NATSServer(t)
	nc, _ := testenv.Connect(t, ns.URL)
	_, err := host.Start(context.Background(), frontService(), host.Options{
		DatabaseURL: testenv.SQLite(t).DSN, GRPCAddr: "127.0.0.1:0", NATS: nc, Logger: slog.New(slog.DiscardHandler),
		Identity: identitytest.Verifier(),
	})
	if err == nil || !strings.Contains(err.Error(), "QUARTERDECK_PEER_BUDGET_ADDR (--peer-budget-addr)") {
		t.Errorf("start without budget's address: %v; want the setting named", err)
	}
}

// peerBinary is the binary of frontService: vendors, which calls budget.
var peerBinary = host.Binary{Domain: "vendors", Version: "test", GRPCAddr: "127.0.0.1:9998",
	Peers: map[string]string{"budget": "127.0.0.1:9001"}}

// noSettings are the own settings of a service that has none.
type noSettings struct{}

func (noSettings) Validate() error { return nil }

func runVendors(ctx context.Context, b host.Binary, args []string, out io.Writer) error {
	return host.RunService(ctx, b, func(noSettings) host.Service { return frontService() }, args, out)
}

// TestServiceMainPeerSettings checks the settings of a binary's peers: one address setting per
// peer in --help with the binary's default, the binary listing every peer of its service,
// and a peer without a default needing its setting.
func TestServiceMainPeerSettings(t *testing.T) {
	var out bytes.Buffer
	if err := runVendors(context.Background(), peerBinary, []string{"--help"}, &out); !errors.Is(err, config.ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, want := range []string{
		"--peer-budget-addr string",
		"QUARTERDECK_PEER_BUDGET_ADDR\n        gRPC target of the budget service, which vendors calls, e.g. dns:///budget:9001 (default \"127.0.0.1:9001\")\n",
		"QUARTERDECK_GRPC_ADDR", "QUARTERDECK_IDENTITY_PUBLIC_KEYS",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, out.String())
		}
	}

	keys := "--identity-public-keys=" + identity.EncodePublicKey(identitytest.Signer().PublicKey())
	args := []string{"--database-url", "sqlite:" + t.TempDir() + "/v.db", keys, "migrate"}
	err := runVendors(context.Background(), host.Binary{Domain: "vendors", GRPCAddr: "127.0.0.1:9998"}, args, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "calls the services [budget] but its Binary lists the peers []") {
		t.Errorf("a binary that does not list its service's peer: %v", err)
	}
	// A binary may list a peer its service calls only under other settings.
	err = runVendors(context.Background(), host.Binary{Domain: "vendors", GRPCAddr: "127.0.0.1:9998",
		Peers: map[string]string{"budget": "127.0.0.1:9001", "talent": "127.0.0.1:9004"}}, args, io.Discard)
	if err != nil {
		t.Errorf("a binary listing a peer more than its service calls: %v", err)
	}
	err = runVendors(context.Background(), host.Binary{Domain: "vendors", GRPCAddr: "127.0.0.1:9998",
		Peers: map[string]string{"budget": ""}}, args, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "QUARTERDECK_PEER_BUDGET_ADDR (--peer-budget-addr) is required") {
		t.Errorf("a peer without a default nor a setting: %v", err)
	}
}

// TestServiceMainDialsThePeer runs the binary with its peer's address set: the service reports
// the peer, a bare health server here, under quarterdeck.peer.budget.
func TestServiceMainDialsThePeer(t *testing.T) {
	budget := grpc.NewServer()
	healthpb.RegisterHealthServer(budget, health.NewServer())
	budgetAddr := testkit.Serve(t, budget)

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ns := testenv.NATSServer(t)
	args := []string{"--database-url", "sqlite:" + t.TempDir() + "/v.db",
		"--identity-public-keys", identity.EncodePublicKey(identitytest.Signer().PublicKey()),
		"--grpc-addr", addr, "--nats-url", ns.URL, "--event-subject-prefix", ns.SubjectPrefix,
		"--peer-budget-addr", budgetAddr, "--shutdown-timeout", "10s"}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runVendors(ctx, peerBinary, args, io.Discard) }()

	conn := testkit.Dial(t, addr)
	testkit.Eventually(t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: peer.HealthName("budget")})
		if err == nil && res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			err = errors.New("budget is " + res.GetStatus().String())
		}
		select {
		case err := <-done:
			t.Fatalf("the binary stopped: %v", err)
		default:
		}
		return err
	})
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still running 30s after cancel")
	}
}
