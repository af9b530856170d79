package gateway_test

import (
	"context"
	"log/slog"
	"net"
	"net/http/httptest"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/quarterdeck/quarterdeck/gateway"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testcert"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/vendors"
)

// TestTLSOnEveryHop runs the budget service, the vendors service calling it, and the gateway in
// front of both with certificates of a CA the test makes: gateway → service and service → service
// go over mutual TLS, a cleartext caller is refused, and the health port for probes stays
// cleartext.
func TestTLSOnEveryHop(t *testing.T) {
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	ca := testcert.NewCA(t, "quarterdeck-internal")
	tlsOf := func(p testcert.Pair) rpc.TLS {
		return rpc.TLS{CertFile: p.CertFile, KeyFile: p.KeyFile, CAFile: ca.File}
	}
	// Loopback targets are dialled by address, so that is the name the certificates hold; in a
	// cluster it is the Service's DNS name (deploy.md).
	budgetTLS := tlsOf(ca.Issue(t, "budget", "127.0.0.1"))
	vendorsTLS := tlsOf(ca.Issue(t, "vendors", "127.0.0.1"))
	gatewayTLS := tlsOf(ca.Issue(t, "gateway", "gateway"))

	ns := testenv.NATSServer(t)
	nc, _ := testenv.Connect(t, ns.URL)
	healthLis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	start := func(svc host.Service, o host.Options) *host.Instance {
		t.Helper()
		o.DatabaseURL, o.GRPCAddr, o.NATS = testenv.SQLite(t).DSN, "127.0.0.1:0", nc
		o.Stream, o.Logger, o.Identity = events.StreamConfig{Prefix: ns.SubjectPrefix}, quiet, identitytest.Verifier()
		in, err := host.Start(ctx, svc, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = in.Stop(ctx)
		})
		return in
	}
	bin := start(budget.Service(), host.Options{TLS: budgetTLS, HealthListener: healthLis})
	vin := start(vendors.Service(), host.Options{TLS: vendorsTLS, Peers: map[string]string{"budget": bin.Addr()}})

	// The domains this test does not call share budget's address, as in oneBackend.
	backends := oneBackend(bin.Addr())
	backends["vendors"] = vin.Addr()
	front := func(set rpc.TLS) string {
		t.Helper()
		creds, err := set.ClientCredentials()
		if err != nil {
			t.Fatal(err)
		}
		gw, err := gateway.New(ctx, gateway.Options{
			Backends: backends,
			Logger:   quiet, Authenticator: identitytest.Authenticator{}, BackendCredentials: creds,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { gw.Close() })
		srv := httptest.NewServer(gw)
		t.Cleanup(srv.Close)
		return srv.URL
	}

	// Gateway → budget and gateway → vendors.
	url := front(gatewayTLS)
	if r := call(t, "GET", url+"/v1/budgets", ""); r.code != 200 {
		t.Fatalf("GET /v1/budgets over mutual TLS = %d %v", r.code, r.body)
	}
	if r := call(t, "GET", url+"/v1/vendors", ""); r.code != 200 {
		t.Fatalf("GET /v1/vendors over mutual TLS = %d %v", r.code, r.body)
	}
	// Vendors → budget: vendors watches its peer's health over its own connection, and reports it.
	testkit.Eventually(t, 10*time.Second, func() bool {
		r := call(t, "GET", url+"/readyz", "")
		peers, _ := r.body["peers"].(map[string]any)
		calls, _ := peers["vendors"].(map[string]any)
		return r.code == 200 && calls["budget"] == "SERVING"
	})

	// A gateway without the CA (cleartext) or without a certificate of its own is refused.
	for name, set := range map[string]rpc.TLS{"cleartext": {}, "no client certificate": {CAFile: ca.File}} {
		if r := call(t, "GET", front(set)+"/v1/budgets", ""); r.code != 503 {
			t.Errorf("%s gateway: GET /v1/budgets = %d %v, want 503", name, r.code, r.body)
		}
	}

	// Probes: the health port answers in cleartext; the gRPC port does not.
	health := func(addr string) (healthpb.HealthCheckResponse_ServingStatus, error) {
		cc := testkit.Dial(t, addr)
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
		return resp.GetStatus(), err
	}
	if st, err := health(healthLis.Addr().String()); err != nil || st != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("cleartext health port: %v %v, want SERVING", st, err)
	}
	if _, err := health(bin.Addr()); status.Code(err) != codes.Unavailable {
		t.Errorf("cleartext health call on the TLS port: %v, want UNAVAILABLE", err)
	}
}
