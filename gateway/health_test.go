package gateway_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/quarterdeck/quarterdeck/gateway"
)

// TestGRPCHealthOnThePort checks that the gateway's port answers the standard gRPC health
// protocol without credentials (as grpc-health-probe and Kubernetes gRPC probes call it): the
// whole platform under "", each backend under its domain and its services' names.
func TestGRPCHealthOnThePort(t *testing.T) {
	t.Parallel()
	hs := health.NewServer()
	_, backend := startRecorder(t, func(s *grpc.Server) { healthpb.RegisterHealthServer(s, hs) })
	e := startEdge(t, backend, gateway.Options{})
	hc := healthpb.NewHealthClient(e.grpcConn(t, nil)) // no Authorization: the probes send none
	ctx := context.Background()

	check := func(service string) healthpb.HealthCheckResponse_ServingStatus {
		t.Helper()
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
		if err != nil {
			t.Fatalf("Check(%q): %v", service, err)
		}
		return resp.GetStatus()
	}
	for _, s := range []string{"", "budget", "quarterdeck.budget.v1.BudgetService"} {
		if got := check(s); got != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("Check(%q) = %v with every backend serving, want SERVING", s, got)
		}
	}

	watch, err := hc.Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if first, err := watch.Recv(); err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("Watch first = %v, %v; want SERVING", first, err)
	}

	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	for _, s := range []string{"", "budget", "quarterdeck.budget.v1.BudgetService"} {
		if got := check(s); got != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("Check(%q) = %v with the backend not serving, want NOT_SERVING", s, got)
		}
	}

	_, err = hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope.Service"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("Check of an unknown service = %v, want NOT_FOUND", err)
	}

	list, err := hc.List(ctx, &healthpb.HealthListRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append([]string{"", "quarterdeck.budget.v1.BudgetService"}, gateway.Domains()...) {
		if st, ok := list.GetStatuses()[name]; !ok || st.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Errorf("List[%q] = %v, want NOT_SERVING", name, st)
		}
	}
}
