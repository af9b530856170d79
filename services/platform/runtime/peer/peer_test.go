package peer_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/authz"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/peer"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

func TestMain(m *testing.M) {
	// A real tracer, so that calls have a trace to continue, and W3C trace context on the wire,
	// as telemetry.Setup sets for the binaries.
	otel.SetTracerProvider(sdktrace.NewTracerProvider())
	otel.SetTextMapPropagator(propagation.TraceContext{})
	os.Exit(m.Run())
}

var quiet = slog.New(slog.DiscardHandler)

// The calling service's errors: what its client sees once its rpc layer has mapped them.
var vendors = testkit.ErrorsOf("vendors")

// clientSees is the status the calling service's client receives for err, a handler's error.
func clientSees(err error) error {
	st, _ := rpc.Status(err, host.ErrorDomain("vendors"))
	return st.Err()
}

// seen is what the fake budget service saw of one call.
type seen struct {
	method    string
	principal identity.Principal
	deadline  time.Time
	via       string
	requestID string
	traceID   trace.TraceID
}

// fakeBudget answers CheckFunds, GetCostCenter and CreateCostCenter, records each call and
// answers what answer returns (nil: success). block makes every call wait for its context.
type fakeBudget struct {
	budgetv1.UnimplementedBudgetServiceServer
	mu     sync.Mutex
	calls  []seen
	answer func(n int) error // n counts the calls, from 1
	block  bool
}

func (f *fakeBudget) record(ctx context.Context, method string) error {
	s := seen{method: method, via: peer.Via(ctx), traceID: trace.SpanContextFromContext(ctx).TraceID()}
	s.principal, _ = identity.FromContext(ctx)
	s.deadline, _ = ctx.Deadline()
	if id := metadata.ValueFromIncomingContext(ctx, "x-request-id"); len(id) > 0 {
		s.requestID = id[0]
	}
	f.mu.Lock()
	f.calls = append(f.calls, s)
	n, answer := len(f.calls), f.answer
	f.mu.Unlock()
	if f.block {
		<-ctx.Done()
		return ctx.Err()
	}
	if answer != nil {
		return answer(n)
	}
	return nil
}

func (f *fakeBudget) seen() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.calls...)
}

func (f *fakeBudget) CheckFunds(ctx context.Context, _ *budgetv1.CheckFundsRequest) (*budgetv1.CheckFundsResponse, error) {
	if err := f.record(ctx, "CheckFunds"); err != nil {
		return nil, err
	}
	return &budgetv1.CheckFundsResponse{Decision: budgetv1.CheckFundsResponse_ALLOW, Reason: "WITHIN_AVAILABLE"}, nil
}

func (f *fakeBudget) GetCostCenter(ctx context.Context, req *budgetv1.GetCostCenterRequest) (*budgetv1.CostCenter, error) {
	if err := f.record(ctx, "GetCostCenter"); err != nil {
		return nil, err
	}
	return &budgetv1.CostCenter{Name: req.GetName()}, nil
}

func (f *fakeBudget) CreateCostCenter(ctx context.Context, req *budgetv1.CreateCostCenterRequest) (*budgetv1.CostCenter, error) {
	if err := f.record(ctx, "CreateCostCenter"); err != nil {
		return nil, err
	}
	return &budgetv1.CostCenter{Name: "costCenters/" + req.GetCostCenterId()}, nil
}

// budgetServer serves f behind the services' real interceptor chain, which verifies the caller
// identity and authorizes it, on addr ("127.0.0.1:0" for any port). It returns the address and
// the server; the test's end stops it.
func budgetServer(t *testing.T, f *fakeBudget, addr string) (string, *rpc.Server) {
	t.Helper()
	srv, err := rpc.NewServer(rpc.Options{Domain: host.ErrorDomain("budget"), Logger: quiet, Identity: identitytest.Verifier()})
	if err != nil {
		t.Fatal(err)
	}
	budgetv1.RegisterBudgetServiceServer(srv, f)
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), srv
}

// dial connects the "vendors" service to the budget peer at addr.
func dial(t *testing.T, addr string, o peer.Options) *peer.Conn {
	t.Helper()
	o.Caller, o.Logger = "vendors", quiet
	c, err := peer.Dial("budget", addr, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// serving returns the context of a request that the vendors service serves for subject with
// scopes, as its rpc layer makes it: the caller's verified token and the gateway's request id.
func serving(t *testing.T, subject string, scopes ...string) context.Context {
	t.Helper()
	tok, err := identitytest.Signer().Sign(identity.Principal{Subject: subject, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-request-id", "req-7"))
	return identity.ContextWithToken(identity.NewContext(ctx, identity.Principal{Subject: subject, Scopes: scopes}), tok)
}

func checkFunds() *budgetv1.CheckFundsRequest {
	return &budgetv1.CheckFundsRequest{Line: "budgets/b/lines/l", Amount: &money.Money{CurrencyCode: "EUR", Units: 10}}
}

func createCostCenter(requestID string) *budgetv1.CreateCostCenterRequest {
	return &budgetv1.CreateCostCenterRequest{CostCenterId: "cc", RequestId: requestID,
		CostCenter: &budgetv1.CostCenter{DisplayName: "Peer", Code: "P-1"}}
}

// TestCallActsForTheCaller checks what a peer sees of a call: the original caller's subject and
// scopes (verified by its own interceptors), the calling service as MetadataVia, the request's
// id, its trace and its deadline.
func TestCallActsForTheCaller(t *testing.T) {
	f := &fakeBudget{}
	addr, _ := budgetServer(t, f, "127.0.0.1:0")
	budget := budgetv1.NewBudgetServiceClient(dial(t, addr, peer.Options{}))

	ctx, span := otel.Tracer("test").Start(serving(t, "users/alice", "budget.read", "vendors.write"), "activate")
	defer span.End()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := budget.CheckFunds(ctx, checkFunds()); err != nil {
		t.Fatalf("CheckFunds: %v", err)
	}
	s := f.seen()[0]
	if s.principal.Subject != "users/alice" || !s.principal.Has("budget.read") || !s.principal.Has("vendors.write") {
		t.Errorf("the peer saw the caller %+v; want users/alice with its scopes", s.principal)
	}
	if s.via != "vendors" || s.requestID != "req-7" {
		t.Errorf("the peer saw via %q and request id %q; want vendors and req-7", s.via, s.requestID)
	}
	if s.traceID != span.SpanContext().TraceID() {
		t.Errorf("the peer's trace %s; want the caller's %s", s.traceID, span.SpanContext().TraceID())
	}
	// The deadline travels as a timeout (grpc-timeout), so the peer's may differ by the time on
	// the wire.
	if want, _ := ctx.Deadline(); s.deadline.IsZero() || s.deadline.Sub(want).Abs() > 500*time.Millisecond {
		t.Errorf("the peer's deadline %v; want the caller's %v", s.deadline, want)
	}

	// A request without a deadline still gives the peer one.
	start := time.Now()
	if _, err := budget.CheckFunds(serving(t, "users/alice", "budget.read"), checkFunds()); err != nil {
		t.Fatalf("CheckFunds: %v", err)
	}
	if d := f.seen()[1].deadline.Sub(start); (d - peer.DefaultTimeout).Abs() > 500*time.Millisecond {
		t.Errorf("without a deadline of its own the call had %v; want about %v", d, peer.DefaultTimeout)
	}
}

// TestCallOutsideARequest checks that a call with no identity to forward fails before it leaves.
func TestCallOutsideARequest(t *testing.T) {
	f := &fakeBudget{}
	addr, _ := budgetServer(t, f, "127.0.0.1:0")
	budget := budgetv1.NewBudgetServiceClient(dial(t, addr, peer.Options{}))
	_, err := budget.CheckFunds(context.Background(), checkFunds())
	if st := status.Code(clientSees(err)); st != codes.Internal {
		t.Errorf("a call without identity: %v (%v); want an internal error", err, st)
	}
	if n := len(f.seen()); n != 0 {
		t.Errorf("the peer got %d calls without identity", n)
	}
}

// TestPeerDown checks that a peer nobody listens for fails a call at once with UNAVAILABLE,
// PEER_UNAVAILABLE, naming the peer, even a call that may be retried.
func TestPeerDown(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	budget := budgetv1.NewBudgetServiceClient(dial(t, addr, peer.Options{}))
	ctx, cancel := context.WithTimeout(serving(t, "users/alice", "budget.read"), 30*time.Second)
	defer cancel()
	for _, opts := range [][]grpc.CallOption{nil, {peer.Idempotent()}} {
		start := time.Now()
		_, err := budget.CheckFunds(ctx, checkFunds(), opts...)
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("a call to a peer that is down took %v", d)
		}
		vendors.Assert(t, clientSees(err), codes.Unavailable, peer.ReasonUnavailable)
		if info, _ := rpc.Details(clientSees(err)); info.GetMetadata()[peer.MetadataPeer] != "budget" {
			t.Errorf("ErrorInfo %v does not name the peer", info)
		}
		var pe *peer.Error
		if !errors.As(err, &pe) || !pe.Unavailable() || pe.Peer != "budget" {
			t.Errorf("err = %#v; want a *peer.Error of budget, unavailable", err)
		}
	}
}

// TestPeerTooSlow checks that a peer that does not answer fails the call when the default
// deadline passes: never a hang.
func TestPeerTooSlow(t *testing.T) {
	f := &fakeBudget{block: true}
	addr, _ := budgetServer(t, f, "127.0.0.1:0")
	budget := budgetv1.NewBudgetServiceClient(dial(t, addr, peer.Options{Timeout: 300 * time.Millisecond}))
	start := time.Now()
	_, err := budget.CheckFunds(serving(t, "users/alice", "budget.read"), checkFunds(), peer.Idempotent())
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a peer that never answers held the call %v", d)
	}
	vendors.Assert(t, clientSees(err), codes.Unavailable, peer.ReasonUnavailable)
}

// TestPeerRefuses checks what the calling service's client sees when the peer refuses: one
// FAILED_PRECONDITION, PEER_REFUSED, in the calling service's domain, with the peer's code and
// reason in the metadata and its message; a peer's internal failure or a deployment mistake is
// the caller's bare INTERNAL.
func TestPeerRefuses(t *testing.T) {
	expired, err := identity.NewSigner(identitytest.PrivateKey(), identity.SignerOptions{
		Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	_, stranger, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	strangerSigner, err := identity.NewSigner(stranger, identity.SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	signedBy := func(s *identity.Signer) func(t *testing.T) context.Context {
		return func(t *testing.T) context.Context {
			tok, err := s.Sign(identity.Principal{Subject: "users/alice", Scopes: []string{"budget.read"}})
			if err != nil {
				t.Fatal(err)
			}
			return identity.ContextWithToken(context.Background(), tok)
		}
	}
	alice := func(scopes ...string) func(t *testing.T) context.Context {
		return func(t *testing.T) context.Context { return serving(t, "users/alice", scopes...) }
	}
	for _, tc := range []struct {
		name       string
		ctx        func(t *testing.T) context.Context
		answer     error
		code       codes.Code
		reason     string
		peerCode   string
		peerReason string
	}{
		{"not found", alice("budget.read"), fault.New(fault.NotFound, "BUDGET_LINE_NOT_FOUND", "budget line budgets/b/lines/l not found"),
			codes.FailedPrecondition, peer.ReasonRefused, "NOT_FOUND", "BUDGET_LINE_NOT_FOUND"},
		{"failed precondition", alice("budget.read"), fault.New(fault.FailedPrecondition, "BUDGET_CLOSED", "the budget is closed"),
			codes.FailedPrecondition, peer.ReasonRefused, "FAILED_PRECONDITION", "BUDGET_CLOSED"},
		{"invalid argument", alice("budget.read"), fault.Field("amount", "CURRENCY_UNKNOWN", "unknown currency"),
			codes.FailedPrecondition, peer.ReasonRefused, "INVALID_ARGUMENT", fault.ReasonInvalid},
		// The caller lacks the peer's scope: the peer's own authorization refuses.
		{"permission denied", alice("vendors.write"), nil,
			codes.FailedPrecondition, peer.ReasonRefused, "PERMISSION_DENIED", authz.ReasonMissingScope},
		{"internal", alice("budget.read"), errors.New("disk on fire"), codes.Internal, "INTERNAL", "", ""},
		{"identity of another key", signedBy(strangerSigner), nil, codes.Internal, "INTERNAL", "", ""},
		{"identity expired", signedBy(expired), nil, codes.Unavailable, peer.ReasonUnavailable, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeBudget{answer: func(int) error { return tc.answer }}
			addr, _ := budgetServer(t, f, "127.0.0.1:0")
			budget := budgetv1.NewBudgetServiceClient(dial(t, addr, peer.Options{}))
			_, err := budget.CheckFunds(tc.ctx(t), checkFunds())
			got := clientSees(err)
			vendors.Assert(t, got, tc.code, tc.reason)
			if tc.peerCode == "" {
				if msg := status.Convert(got).Message(); tc.code == codes.Internal && msg != "internal error" {
					t.Errorf("message %q; want nothing of the peer's failure", msg)
				}
				return
			}
			info, vs := rpc.Details(got)
			md := info.GetMetadata()
			if md[peer.MetadataPeer] != "budget" || md[peer.MetadataPeerCode] != tc.peerCode || md[peer.MetadataPeerReason] != tc.peerReason {
				t.Errorf("ErrorInfo metadata %v; want peer budget, peer_code %s, peer_reason %s", md, tc.peerCode, tc.peerReason)
			}
			if len(vs) != 0 {
				t.Errorf("field violations %v: the peer's fields are not the client's", vs)
			}
			var pe *peer.Error
			if !errors.As(err, &pe) || pe.Unavailable() || pe.Reason() != tc.peerReason {
				t.Errorf("err = %v; want a *peer.Error refusing with %s", err, tc.peerReason)
			}
		})
	}
}

// TestRetries checks that a call failing with UNAVAILABLE is tried again only when repeating it
// is safe: a GET, a request with a request_id, a call or method marked idempotent — and no
// more than the attempts allowed.
func TestRetries(t *testing.T) {
	unavailable := fault.New(fault.Unavailable, "DATABASE_UNAVAILABLE", "try again")
	twice := func(n int) error { // the first two calls fail
		if n <= 2 {
			return unavailable
		}
		return nil
	}
	for _, tc := range []struct {
		name   string
		opts   peer.Options
		call   func(ctx context.Context, c budgetv1.BudgetServiceClient) error
		answer func(int) error
		calls  int
		ok     bool
	}{
		{"GET", peer.Options{}, func(ctx context.Context, c budgetv1.BudgetServiceClient) error {
			_, err := c.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/cc"})
			return err
		}, twice, 3, true},
		{"write with request_id", peer.Options{}, func(ctx context.Context, c budgetv1.BudgetServiceClient) error {
			_, err := c.CreateCostCenter(ctx, createCostCenter("0b9c6e25-4e6b-4f43-9a8e-0f7d0f3f8a11"))
			return err
		}, twice, 3, true},
		{"write without request_id", peer.Options{}, func(ctx context.Context, c budgetv1.BudgetServiceClient) error {
			_, err := c.CreateCostCenter(ctx, createCostCenter(""))
			return err
		}, twice, 1, false},
		{"POST without marking", peer.Options{}, func(ctx context.Context, c budgetv1.BudgetServiceClient) error {
			_, err := c.CheckFunds(ctx, checkFunds())
			return err
		}, twice, 1, false},
		{"call marked idempotent", peer.Options{}, func(ctx context.Context, c budgetv1.BudgetServiceClient) error {
			_, err := c.CheckFunds(ctx, checkFunds(), peer.Idempotent())
			return err
		}, twice, 3, true},
		{"method listed idempotent", peer.Options{Idempotent: []string{budgetv1.BudgetService_CheckFunds_FullMethodName}},
			func(ctx context.Context, c budgetv1.BudgetServiceClient) error {
				_, err := c.CheckFunds(ctx, checkFunds())
				return err
			}, twice, 3, true},
		{"attempts bounded", peer.Options{}, func(ctx context.Context, c budgetv1.BudgetServiceClient) error {
			_, err := c.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/cc"})
			return err
		}, func(int) error { return unavailable }, peer.DefaultAttempts, false},
		{"refusal not retried", peer.Options{}, func(ctx context.Context, c budgetv1.BudgetServiceClient) error {
			_, err := c.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/cc"})
			return err
		}, func(int) error { return fault.New(fault.NotFound, "COST_CENTER_NOT_FOUND", "not found") }, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeBudget{answer: tc.answer}
			addr, _ := budgetServer(t, f, "127.0.0.1:0")
			client := budgetv1.NewBudgetServiceClient(dial(t, addr, tc.opts))
			err := tc.call(serving(t, "users/alice", "budget.read", "budget.write"), client)
			if (err == nil) != tc.ok {
				t.Errorf("err = %v; want success %v", err, tc.ok)
			}
			if n := len(f.seen()); n != tc.calls {
				t.Errorf("the peer got %d calls; want %d", n, tc.calls)
			}
			if !tc.ok && tc.calls > 1 {
				vendors.Assert(t, clientSees(err), codes.Unavailable, peer.ReasonUnavailable)
			}
		})
	}
}

// health records the states Watch reports.
type health struct {
	mu     sync.Mutex
	states []healthpb.HealthCheckResponse_ServingStatus
}

func (h *health) report(s healthpb.HealthCheckResponse_ServingStatus) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.states = append(h.states, s)
}

func (h *health) last() healthpb.HealthCheckResponse_ServingStatus {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.states) == 0 {
		return -1
	}
	return h.states[len(h.states)-1]
}

// watch runs c.Watch until the test ends.
func watch(t *testing.T, c *peer.Conn) *health {
	h := &health{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Watch(ctx, h.report)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return h
}

func waitFor(t *testing.T, h *health, c *peer.Conn, want healthpb.HealthCheckResponse_ServingStatus) {
	t.Helper()
	testkit.Eventually(t, 10*time.Second, func() bool {
		return h.last() == want && c.Serving() == (want == healthpb.HealthCheckResponse_SERVING)
	})
}

// TestWatch follows a peer that starts, stops and comes back on the same address: NOT_SERVING
// until it answers, SERVING, NOT_SERVING once it stops, SERVING again when it is back. A
// stopping peer is not held by the watch: it drains at once.
func TestWatch(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	c := dial(t, addr, peer.Options{})
	h := watch(t, c)
	waitFor(t, h, c, healthpb.HealthCheckResponse_NOT_SERVING)

	_, srv := budgetServer(t, &fakeBudget{}, addr)
	waitFor(t, h, c, healthpb.HealthCheckResponse_SERVING)

	// As host.Instance.Stop does: NOT_SERVING first, then a drain of the calls.
	srv.Health.Shutdown()
	waitFor(t, h, c, healthpb.HealthCheckResponse_NOT_SERVING)
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the watch held the stopping peer's drain")
	}

	f := &fakeBudget{}
	budgetServer(t, f, addr)
	waitFor(t, h, c, healthpb.HealthCheckResponse_SERVING)
	// And calls go through again.
	if _, err := budgetv1.NewBudgetServiceClient(c).CheckFunds(serving(t, "users/alice", "budget.read"), checkFunds()); err != nil {
		t.Errorf("CheckFunds after the peer's return: %v", err)
	}
}

// TestDialRefusesBadNames checks that a peer's name can make a setting's name.
func TestDialRefusesBadNames(t *testing.T) {
	for _, name := range []string{"", "Budget", "budget-v2", "1budget"} {
		if _, err := peer.Dial(name, "127.0.0.1:1", peer.Options{}); err == nil {
			t.Errorf("Dial(%q) succeeded", name)
		}
	}
	if _, err := peer.Dial("budget", "", peer.Options{}); err == nil {
		t.Error("Dial without an address succeeded")
	}
}
