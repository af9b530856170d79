package rpc_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestLocalAnswersAsTheNetwork makes the same calls over a loopback connection and through
// Local, on one authenticating server, and requires the same answer of both: the response, or
// the status with its code, message and details.
func TestLocalAnswersAsTheNetwork(t *testing.T) {
	srv, err := rpc.NewServer(rpc.Options{Domain: domain, Logger: slog.New(slog.DiscardHandler),
		Identity: identitytest.Verifier()})
	if err != nil {
		t.Fatal(err)
	}
	budgetv1.RegisterBudgetServiceServer(srv, &fakeBudget{})
	network := budgetv1.NewBudgetServiceClient(testkit.Dial(t, testkit.Serve(t, srv)))
	local := budgetv1.NewBudgetServiceClient(rpc.LocalFirst{Local: srv.Local()})

	as := func(ctx context.Context, scopes ...string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, identity.MetadataKey, identitytest.Token(scopes...))
	}
	type call struct {
		name  string
		ctx   func(context.Context) context.Context
		call  func(context.Context, budgetv1.BudgetServiceClient) (proto.Message, error)
		codes codes.Code
	}
	get := func(id string) func(context.Context, budgetv1.BudgetServiceClient) (proto.Message, error) {
		return func(ctx context.Context, c budgetv1.BudgetServiceClient) (proto.Message, error) {
			return c.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/" + id})
		}
	}
	everyScope := func(ctx context.Context) context.Context { return as(ctx, identitytest.AllScopes()...) }
	calls := []call{
		{"found", everyScope, get("ok"), codes.OK},
		{"not found", everyScope, get("missing"), codes.NotFound},
		{"not found, wrapped", everyScope, get("missing-wrapped"), codes.NotFound},
		{"field violations", everyScope, get("invalid"), codes.InvalidArgument},
		{"panic", everyScope, get("panic"), codes.Internal},
		{"internal error", everyScope, get("leak"), codes.Internal},
		{"internal fault", everyScope, get("internal-fault"), codes.Internal},
		{"deadline inside", everyScope, get("deadline"), codes.DeadlineExceeded},
		{"status", everyScope, get("unavailable"), codes.Unavailable},
		{"request refused by its rules", everyScope, get(""), codes.InvalidArgument},
		{"no identity", func(ctx context.Context) context.Context { return ctx }, get("ok"), codes.Unauthenticated},
		{"no scope", func(ctx context.Context) context.Context { return as(ctx, "talent.read") }, get("ok"), codes.PermissionDenied},
		{"not implemented by the server", everyScope, func(ctx context.Context, c budgetv1.BudgetServiceClient) (proto.Message, error) {
			return c.UpdateCostCenter(ctx, &budgetv1.UpdateCostCenterRequest{
				CostCenter: &budgetv1.CostCenter{Name: "costCenters/a", DisplayName: "A"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
		}, codes.Unimplemented},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			wantResp, wantErr := c.call(c.ctx(callCtx(t)), network)
			gotResp, gotErr := c.call(c.ctx(callCtx(t)), local)
			if status.Code(wantErr) != c.codes {
				t.Fatalf("over the network: %v, want %v (the case tests nothing)", wantErr, c.codes)
			}
			if got, want := status.Convert(gotErr), status.Convert(wantErr); !sameStatus(got, want) {
				t.Errorf("Local: status %v\nover the network: %v", got.Proto(), want.Proto())
			}
			if (gotResp == nil) != (wantResp == nil) || (wantResp != nil && !proto.Equal(gotResp, wantResp)) {
				t.Errorf("Local: response %v, over the network %v", gotResp, wantResp)
			}
		})
	}

	t.Run("unknown method", func(t *testing.T) {
		err := srv.Local().Invoke(callCtx(t), "/quarterdeck.budget.v1.BudgetService/Nothing",
			&budgetv1.GetCostCenterRequest{}, &budgetv1.CostCenter{})
		if status.Code(err) != codes.Unimplemented {
			t.Fatalf("Invoke of an unknown method = %v, want UNIMPLEMENTED", err)
		}
	})
}

// probe records what a handler sees of its call, sets a header and a trailer, and changes the
// request it got, which its caller must not see.
type probe struct {
	budgetv1.UnimplementedBudgetServiceServer

	mu       sync.Mutex
	incoming metadata.MD
	outgoing metadata.MD
	method   string
	value    any
	deadline time.Time
	parent   trace.SpanContext
	resp     *budgetv1.CostCenter
	block    chan struct{} // when set, GetCostCenter of costCenters/block waits for it or its context
	started  chan struct{} // closed when a blocked call has started
	ended    error         // the context's error a blocked call ended on
}

type probeKey struct{}

func (p *probe) GetCostCenter(ctx context.Context, req *budgetv1.GetCostCenterRequest) (*budgetv1.CostCenter, error) {
	p.mu.Lock()
	p.incoming, _ = metadata.FromIncomingContext(ctx)
	p.outgoing, _ = metadata.FromOutgoingContext(ctx)
	p.method, _ = grpc.Method(ctx)
	p.value = ctx.Value(probeKey{})
	p.deadline, _ = ctx.Deadline()
	p.parent = trace.SpanContextFromContext(ctx)
	block, started := p.block, p.started
	p.mu.Unlock()
	if block != nil && req.GetName() == "costCenters/block" {
		close(started)
		select {
		case <-block:
		case <-ctx.Done():
			p.mu.Lock()
			p.ended = ctx.Err()
			p.mu.Unlock()
			return nil, ctx.Err()
		}
	}
	req.Name = "changed by the handler"
	_ = grpc.SetHeader(ctx, metadata.Pairs("x-header", "h"))
	_ = grpc.SetTrailer(ctx, metadata.Pairs("x-trailer", "t"))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.resp = &budgetv1.CostCenter{Name: "costCenters/a", DisplayName: "A"}
	return p.resp, nil
}

func localProbe(t *testing.T) (*rpc.Server, *probe) {
	t.Helper()
	srv, err := rpc.NewServer(rpc.Options{Domain: domain, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	p := &probe{}
	budgetv1.RegisterBudgetServiceServer(srv, p)
	return srv, p
}

// TestLocalCrossesWhatTheNetworkCrosses: metadata, deadline and trace reach the handler; no other
// value of the caller's context, no outgoing metadata of the caller; messages are copies; the
// handler's header and trailer reach the caller's options.
func TestLocalCrossesWhatTheNetworkCrosses(t *testing.T) {
	srv, p := localProbe(t)
	client := budgetv1.NewBudgetServiceClient(rpc.LocalFirst{Local: srv.Local()})

	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2},
		TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.WithValue(callCtx(t), probeKey{}, "caller's"), parent)
	ctx = metadata.AppendToOutgoingContext(ctx, "x-request-id", "req-1")
	deadline, _ := ctx.Deadline()
	req := &budgetv1.GetCostCenterRequest{Name: "costCenters/a"}
	var header, trailer metadata.MD
	resp, err := client.GetCostCenter(ctx, req, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	if got := p.incoming.Get("x-request-id"); len(got) != 1 || got[0] != "req-1" {
		t.Errorf("incoming x-request-id = %v, want [req-1]", got)
	}
	if len(p.outgoing) != 0 {
		t.Errorf("the handler's outgoing metadata = %v, want none of the caller's", p.outgoing)
	}
	if p.method != "/quarterdeck.budget.v1.BudgetService/GetCostCenter" {
		t.Errorf("grpc.Method = %q", p.method)
	}
	if p.value != nil {
		t.Errorf("a value of the caller's context reached the handler: %v", p.value)
	}
	if !p.deadline.Equal(deadline) {
		t.Errorf("handler's deadline %v, want the caller's %v", p.deadline, deadline)
	}
	if p.parent.TraceID() != parent.TraceID() {
		t.Errorf("handler's trace %v, want the caller's %v", p.parent.TraceID(), parent.TraceID())
	}
	if req.GetName() != "costCenters/a" {
		t.Errorf("the caller's request changed to %q: the handler got it, not a copy", req.GetName())
	}
	if resp == p.resp || !proto.Equal(resp, p.resp) {
		t.Errorf("response %p %v, the handler's %p %v: want an equal copy", resp, resp, p.resp, p.resp)
	}
	if got := header.Get("x-header"); len(got) != 1 || got[0] != "h" {
		t.Errorf("header = %v", header)
	}
	if got := trailer.Get("x-trailer"); len(got) != 1 || got[0] != "t" {
		t.Errorf("trailer = %v", trailer)
	}
}

// TestLocalCancellation: a caller that leaves gets CANCELED and its handler's context ends.
func TestLocalCancellation(t *testing.T) {
	srv, p := localProbe(t)
	p.block, p.started = make(chan struct{}), make(chan struct{})
	ctx, cancel := context.WithCancel(callCtx(t))
	errc := make(chan error, 1)
	go func() {
		errc <- srv.Local().Invoke(ctx, "/quarterdeck.budget.v1.BudgetService/GetCostCenter",
			&budgetv1.GetCostCenterRequest{Name: "costCenters/block"}, &budgetv1.CostCenter{})
	}()
	<-p.started
	cancel()
	if err := <-errc; status.Code(err) != codes.Canceled {
		t.Fatalf("Invoke = %v, want CANCELED", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !errors.Is(p.ended, context.Canceled) {
		t.Errorf("the handler's context ended with %v, want canceled", p.ended)
	}
}

// TestLocalStops: GracefulStop waits for a Local call in flight and refuses new ones; Stop
// cancels the calls in flight.
func TestLocalStops(t *testing.T) {
	invoke := func(srv *rpc.Server, name string) error {
		return srv.Local().Invoke(callCtx(t), "/quarterdeck.budget.v1.BudgetService/GetCostCenter",
			&budgetv1.GetCostCenterRequest{Name: name}, &budgetv1.CostCenter{})
	}
	// inFlight starts a server with a Local call blocked in its handler; the call's error comes
	// on the channel.
	inFlight := func(t *testing.T) (*rpc.Server, *probe, chan error) {
		srv, p := localProbe(t)
		p.block, p.started = make(chan struct{}), make(chan struct{})
		errc := make(chan error, 1)
		go func() { errc <- invoke(srv, "costCenters/block") }()
		<-p.started
		return srv, p, errc
	}
	t.Run("graceful", func(t *testing.T) {
		srv, p, errc := inFlight(t)
		stopped := make(chan struct{})
		go func() { srv.GracefulStop(); close(stopped) }()
		testkit.Eventually(t, 10*time.Second, func() error {
			if err := invoke(srv, "costCenters/a"); status.Code(err) != codes.Unavailable {
				return errors.New("a new call is not refused yet: " + status.Convert(err).Message())
			}
			return nil
		})
		select {
		case <-stopped:
			t.Fatal("GracefulStop returned while a call was in flight")
		case <-time.After(50 * time.Millisecond):
		}
		close(p.block)
		if err := <-errc; err != nil {
			t.Fatalf("the call in flight = %v, want it to finish", err)
		}
		<-stopped
	})
	t.Run("stop", func(t *testing.T) {
		srv, _, errc := inFlight(t)
		srv.Stop()
		if err := <-errc; status.Code(err) != codes.Canceled {
			t.Fatalf("the call in flight = %v, want CANCELED", err)
		}
	})
}

// TestLocalSizeLimits: a request over the server's limit and a response over the call's are
// refused as over the network.
func TestLocalSizeLimits(t *testing.T) {
	srv, err := rpc.NewServer(rpc.Options{Domain: domain, Logger: slog.New(slog.DiscardHandler), MaxRecvMsgSize: 64})
	if err != nil {
		t.Fatal(err)
	}
	budgetv1.RegisterBudgetServiceServer(srv, &fakeBudget{})
	network := budgetv1.NewBudgetServiceClient(testkit.Dial(t, testkit.Serve(t, srv)))
	local := budgetv1.NewBudgetServiceClient(rpc.LocalFirst{Local: srv.Local()})
	for _, c := range []struct {
		name string
		req  *budgetv1.GetCostCenterRequest
		opts []grpc.CallOption
	}{
		{"request over the server's limit", &budgetv1.GetCostCenterRequest{Name: "costCenters/" + strings.Repeat("a", 100)}, nil},
		{"response over the call's limit", &budgetv1.GetCostCenterRequest{Name: "costCenters/ok"}, []grpc.CallOption{grpc.MaxCallRecvMsgSize(8)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, wantErr := network.GetCostCenter(callCtx(t), c.req, c.opts...)
			_, gotErr := local.GetCostCenter(callCtx(t), c.req, c.opts...)
			if status.Code(wantErr) != codes.ResourceExhausted {
				t.Fatalf("over the network: %v, want RESOURCE_EXHAUSTED (the case tests nothing)", wantErr)
			}
			if want, got := status.Convert(wantErr), status.Convert(gotErr); !sameStatus(got, want) {
				t.Errorf("Local: %v\nover the network: %v", got.Proto(), want.Proto())
			}
		})
	}
}

// sameStatus reports whether two statuses have the same code, message and details. The details
// are compared unpacked: the bytes of an Any holding a map (ErrorInfo's metadata) depend on the
// order the map was marshalled in, which differs from one marshal to the next.
func sameStatus(a, b *status.Status) bool {
	if a.Code() != b.Code() || a.Message() != b.Message() {
		return false
	}
	da, db := a.Proto().GetDetails(), b.Proto().GetDetails()
	if len(da) != len(db) {
		return false
	}
	for i := range da {
		ma, errA := da[i].UnmarshalNew()
		mb, errB := db[i].UnmarshalNew()
		if errA != nil || errB != nil || !proto.Equal(ma, mb) {
			return false
		}
	}
	return true
}
