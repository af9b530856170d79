package rpc_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

const domain = "test.quarterdeck.io"

var errCostCenterNotFound = fault.New(fault.NotFound, "COST_CENTER_NOT_FOUND", "the cost centre does not exist")

// fakeBudget answers GetCostCenter according to the resource id in the requested name, so that
// one method can produce every kind of outcome; it counts the calls that reach it.
type fakeBudget struct {
	budgetv1.UnimplementedBudgetServiceServer
	calls atomic.Int32
}

func (f *fakeBudget) GetCostCenter(ctx context.Context, req *budgetv1.GetCostCenterRequest) (*budgetv1.CostCenter, error) {
	f.calls.Add(1)
	switch strings.TrimPrefix(req.GetName(), "costCenters/") {
	case "missing":
		return nil, errCostCenterNotFound.With("name", req.GetName())
	case "missing-wrapped":
		return nil, fmt.Errorf("store get %s: %w", req.GetName(), errCostCenterNotFound.With("name", req.GetName()))
	case "invalid":
		return nil, fault.Invalid(
			fault.Violation{Field: "cost_center.display_name", Reason: "REQUIRED", Description: "d"},
			fault.Violation{Field: "cost_center.parent", Reason: "PARENT_CYCLE", Description: "d"},
		)
	case "panic":
		panic("db password leaked")
	case "leak":
		return nil, errors.New("db password leaked")
	case "internal-fault":
		return nil, fault.New(fault.Internal, "STORE_BROKEN", "db password leaked")
	case "deadline":
		return nil, fmt.Errorf("query: %w", context.DeadlineExceeded)
	case "unavailable":
		return nil, status.Error(codes.Unavailable, "upstream is down")
	default:
		return &budgetv1.CostCenter{Name: req.GetName(), DisplayName: "OK"}, nil
	}
}

func (f *fakeBudget) CreateCostCenter(context.Context, *budgetv1.CreateCostCenterRequest) (*budgetv1.CostCenter, error) {
	f.calls.Add(1)
	return &budgetv1.CostCenter{}, nil
}

// serve starts a server with fake registered on a loopback port and returns a connection to it.
func serve(t *testing.T, fake *fakeBudget) (*rpc.Server, *grpc.ClientConn) {
	t.Helper()
	srv, err := rpc.NewServer(rpc.Options{Domain: domain, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	budgetv1.RegisterBudgetServiceServer(srv, fake)
	return srv, testkit.Dial(t, testkit.Serve(t, srv))
}

func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// violation is a BadRequest field violation without its description.
type violation struct{ Field, Reason string }

// details returns the ErrorInfo (failing t when there is none) and the field violations of st.
func details(t *testing.T, st *status.Status) (*errdetails.ErrorInfo, []violation) {
	t.Helper()
	var (
		info *errdetails.ErrorInfo
		vs   []violation
	)
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if info != nil {
				t.Fatalf("status carries two ErrorInfo details: %v and %v", info, d)
			}
			info = d
		case *errdetails.BadRequest:
			for _, fv := range d.GetFieldViolations() {
				vs = append(vs, violation{fv.GetField(), fv.GetReason()})
			}
		case error:
			t.Fatalf("undecodable status detail: %v", d)
		}
	}
	if info == nil {
		t.Fatalf("status %v has no ErrorInfo", st.Proto())
	}
	return info, vs
}

func TestServerMapsErrors(t *testing.T) {
	fake := &fakeBudget{}
	_, conn := serve(t, fake)
	client := budgetv1.NewBudgetServiceClient(conn)

	tests := []struct {
		id             string
		wantCode       codes.Code
		wantReason     string
		wantMetadata   map[string]string
		wantViolations []violation
		wantMessage    string // checked only where the text is part of the contract
	}{
		{
			id: "missing", wantCode: codes.NotFound, wantReason: "COST_CENTER_NOT_FOUND",
			wantMetadata: map[string]string{"name": "costCenters/missing"},
		},
		{
			id: "missing-wrapped", wantCode: codes.NotFound, wantReason: "COST_CENTER_NOT_FOUND",
			wantMetadata: map[string]string{"name": "costCenters/missing-wrapped"},
		},
		{
			id: "invalid", wantCode: codes.InvalidArgument, wantReason: fault.ReasonInvalid,
			wantViolations: []violation{{"cost_center.display_name", "REQUIRED"}, {"cost_center.parent", "PARENT_CYCLE"}},
		},
		{id: "leak", wantCode: codes.Internal, wantReason: "INTERNAL", wantMessage: "internal error"},
		{id: "internal-fault", wantCode: codes.Internal, wantReason: "INTERNAL", wantMessage: "internal error"},
		{id: "panic", wantCode: codes.Internal, wantReason: "INTERNAL", wantMessage: "internal error"},
		{id: "deadline", wantCode: codes.DeadlineExceeded, wantReason: "DEADLINE_EXCEEDED"},
		{id: "unavailable", wantCode: codes.Unavailable, wantReason: "UNAVAILABLE"},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			_, err := client.GetCostCenter(callCtx(t), &budgetv1.GetCostCenterRequest{Name: "costCenters/" + tt.id})
			st, ok := status.FromError(err)
			if !ok || err == nil {
				t.Fatalf("GetCostCenter = %v, want a status error", err)
			}
			if st.Code() != tt.wantCode {
				t.Fatalf("code = %v, want %v (%v)", st.Code(), tt.wantCode, err)
			}
			info, vs := details(t, st)
			if info.GetReason() != tt.wantReason || info.GetDomain() != domain {
				t.Fatalf("ErrorInfo reason/domain = %q/%q, want %q/%q", info.GetReason(), info.GetDomain(), tt.wantReason, domain)
			}
			for k, want := range tt.wantMetadata {
				if got := info.GetMetadata()[k]; got != want {
					t.Fatalf("ErrorInfo metadata[%q] = %q, want %q", k, got, want)
				}
			}
			if len(info.GetMetadata()) != len(tt.wantMetadata) {
				t.Fatalf("ErrorInfo metadata = %v, want %v", info.GetMetadata(), tt.wantMetadata)
			}
			if !slices.Equal(vs, tt.wantViolations) {
				t.Fatalf("field violations = %+v, want %+v", vs, tt.wantViolations)
			}
			if tt.wantMessage != "" && st.Message() != tt.wantMessage {
				t.Fatalf("message = %q, want %q", st.Message(), tt.wantMessage)
			}
			if raw := fmt.Sprint(st.Proto()); strings.Contains(raw, "password") {
				t.Fatalf("status reveals the internal error: %s", raw)
			}
		})
	}

	// The server survived the panic and still answers.
	got, err := client.GetCostCenter(callCtx(t), &budgetv1.GetCostCenterRequest{Name: "costCenters/ok"})
	if err != nil {
		t.Fatalf("GetCostCenter after a panic: %v", err)
	}
	if got.GetName() != "costCenters/ok" {
		t.Fatalf("GetCostCenter = %v, want costCenters/ok", got)
	}
}

func TestServerValidatesRequests(t *testing.T) {
	fake := &fakeBudget{}
	_, conn := serve(t, fake)
	client := budgetv1.NewBudgetServiceClient(conn)

	tests := []struct {
		name string
		call func(context.Context) error
		want []violation
	}{
		{
			name: "missing required message",
			call: func(ctx context.Context) error {
				_, err := client.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{})
				return err
			},
			want: []violation{{"cost_center", "REQUIRED"}},
		},
		{
			name: "name pattern",
			call: func(ctx context.Context) error {
				_, err := client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "bad"})
				return err
			},
			want: []violation{{"name", "STRING_PATTERN"}},
		},
		{
			name: "nested field",
			call: func(ctx context.Context) error {
				_, err := client.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{
					CostCenterId: "Bad_Id",
					CostCenter:   &budgetv1.CostCenter{DisplayName: "A", Code: "lower"},
				})
				return err
			},
			want: []violation{{"cost_center_id", "STRING_PATTERN"}, {"cost_center.code", "STRING_PATTERN"}},
		},
		{
			// A missing required field is reported with a broken rule, not after it is fixed.
			name: "a broken rule and a missing required field, at once",
			call: func(ctx context.Context) error {
				_, err := client.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{
					CostCenter: &budgetv1.CostCenter{Code: "bad code!"},
				})
				return err
			},
			want: []violation{{"cost_center.code", "STRING_PATTERN"}, {"cost_center.display_name", "REQUIRED"}},
		},
		{
			// The platform's text rule, before any handler or database sees the value (PostgreSQL
			// answered a NUL with a 500); a long text may hold tabs and line breaks, not a NUL.
			name: "control characters",
			call: func(ctx context.Context) error {
				_, err := client.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{
					CostCenter: &budgetv1.CostCenter{DisplayName: "A\x00B", Code: "ENG", Description: "ok\tline\r\nnext\x00"},
				})
				return err
			},
			want: []violation{{"cost_center.display_name", rpc.ReasonControlCharacter}, {"cost_center.description", rpc.ReasonControlCharacter}},
		},
		{
			name: "control character and a rule of the field",
			call: func(ctx context.Context) error {
				_, err := client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/a\u0085"})
				return err
			},
			want: []violation{{"name", rpc.ReasonControlCharacter}, {"name", "STRING_PATTERN"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := fake.calls.Load()
			st, _ := status.FromError(tt.call(callCtx(t)))
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("code = %v, want InvalidArgument (%v)", st.Code(), st.Err())
			}
			info, vs := details(t, st)
			if info.GetReason() != fault.ReasonInvalid || info.GetDomain() != domain {
				t.Fatalf("ErrorInfo reason/domain = %q/%q, want %q/%q", info.GetReason(), info.GetDomain(), fault.ReasonInvalid, domain)
			}
			byField := func(a, b violation) int {
				return cmp.Or(strings.Compare(a.Field, b.Field), strings.Compare(a.Reason, b.Reason))
			}
			slices.SortFunc(vs, byField)
			want := slices.Clone(tt.want)
			slices.SortFunc(want, byField)
			if !slices.Equal(vs, want) {
				t.Fatalf("field violations = %+v, want %+v", vs, want)
			}
			if fake.calls.Load() != before {
				t.Fatal("the handler ran for an invalid request")
			}
		})
	}

	// A valid request passes validation and reaches the handler: a long text may hold tabs and
	// line breaks, any text non-ASCII letters.
	before := fake.calls.Load()
	if _, err := client.CreateCostCenter(callCtx(t), &budgetv1.CreateCostCenterRequest{
		CostCenterId: "eng", CostCenter: &budgetv1.CostCenter{DisplayName: "Ingénierie – 東京", Code: "ENG",
			Description: "Two lines:\n\tindented\r\nand CRLF"},
	}); err != nil {
		t.Fatalf("CreateCostCenter with a valid request: %v", err)
	}
	if fake.calls.Load() != before+1 {
		t.Fatal("the handler did not run for a valid request")
	}
}

func TestServerUnimplemented(t *testing.T) {
	_, conn := serve(t, &fakeBudget{})
	_, err := budgetv1.NewBudgetServiceClient(conn).DeleteCostCenter(callCtx(t),
		&budgetv1.DeleteCostCenterRequest{Name: "costCenters/a"})
	st, _ := status.FromError(err)
	if st.Code() != codes.Unimplemented {
		t.Fatalf("code = %v, want Unimplemented", st.Code())
	}
	if info, _ := details(t, st); info.GetReason() != "UNIMPLEMENTED" || info.GetDomain() != domain {
		t.Fatalf("ErrorInfo reason/domain = %q/%q, want UNIMPLEMENTED/%s", info.GetReason(), info.GetDomain(), domain)
	}
}

func TestServerHealth(t *testing.T) {
	srv, conn := serve(t, &fakeBudget{})
	health := healthpb.NewHealthClient(conn)
	check := func(want healthpb.HealthCheckResponse_ServingStatus) {
		t.Helper()
		resp, err := health.Check(callCtx(t), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatalf("Check: %v", err)
		}
		if resp.GetStatus() != want {
			t.Fatalf("health = %v, want %v", resp.GetStatus(), want)
		}
	}
	srv.Health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	check(healthpb.HealthCheckResponse_NOT_SERVING)
	srv.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	check(healthpb.HealthCheckResponse_SERVING)

	// Unknown services are NOT_FOUND, mapped with an ErrorInfo like every other error.
	_, err := health.Check(callCtx(t), &healthpb.HealthCheckRequest{Service: "nope"})
	st, _ := status.FromError(err)
	if st.Code() != codes.NotFound {
		t.Fatalf("Check(nope) code = %v, want NotFound", st.Code())
	}
	if info, _ := details(t, st); info.GetReason() != "NOT_FOUND" {
		t.Fatalf("Check(nope) reason = %q, want NOT_FOUND", info.GetReason())
	}
}

func TestServerStreamingHealthWatch(t *testing.T) {
	srv, conn := serve(t, &fakeBudget{})
	srv.Health.SetServingStatus("budget", healthpb.HealthCheckResponse_SERVING)

	// Watch is a streaming call, so it goes through the stream interceptor.
	stream, err := healthpb.NewHealthClient(conn).Watch(callCtx(t), &healthpb.HealthCheckRequest{Service: "budget"})
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first watched status = %v, want SERVING", resp.GetStatus())
	}
	srv.Health.SetServingStatus("budget", healthpb.HealthCheckResponse_NOT_SERVING)
	resp, err = stream.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	if resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("second watched status = %v, want NOT_SERVING", resp.GetStatus())
	}
}
