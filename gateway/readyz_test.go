package gateway_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/quarterdeck/quarterdeck/gateway"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/peer"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestReadyzShowsPeers checks that /readyz shows the state of the services a backend calls, as
// the backend reports them, and that a peer that is down leaves the gateway ready while the
// backend itself serves.
func TestReadyzShowsPeers(t *testing.T) {
	t.Parallel()
	hs := health.NewServer()
	backend := grpc.NewServer()
	healthpb.RegisterHealthServer(backend, hs)
	hs.SetServingStatus(peer.HealthName("risk"), healthpb.HealthCheckResponse_NOT_SERVING)
	addr := testkit.Serve(t, backend)
	gw, err := gateway.New(context.Background(), gateway.Options{Backends: oneBackend(addr),
		Logger: slog.New(slog.DiscardHandler), Authenticator: identitytest.Authenticator{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)

	peerOf := func(r response, domain, name string) any {
		peers, _ := r.body["peers"].(map[string]any)
		calls, _ := peers[domain].(map[string]any)
		return calls[name]
	}
	r := call(t, "GET", srv.URL+"/readyz", "")
	if r.code != 200 || r.body["status"] != "ready" || r.body["checks"].(map[string]any)["budget"] != "SERVING" ||
		peerOf(r, "budget", "risk") != "NOT_SERVING" {
		t.Errorf("readyz with a peer down = %d %v; want 200, ready, budget SERVING and its peer risk NOT_SERVING", r.code, r.body)
	}

	hs.SetServingStatus(peer.HealthName("risk"), healthpb.HealthCheckResponse_SERVING)
	if r := call(t, "GET", srv.URL+"/readyz", ""); r.code != 200 || peerOf(r, "budget", "risk") != "SERVING" {
		t.Errorf("readyz with the peer back = %d %v; want 200 and risk SERVING", r.code, r.body)
	}

	// The backend itself not serving is still not ready.
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if r := call(t, "GET", srv.URL+"/readyz", ""); r.code != 503 || r.body["status"] != "not ready" {
		t.Errorf("readyz with the backend not serving = %d %v; want 503", r.code, r.body)
	}
}
