package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/quarterdeck/quarterdeck/gateway"
)

// BenchmarkRESTGet is the gateway's own cost of a REST get: GET /v1/costCenters/{id} through the
// whole handler chain (limits, authentication, edge conventions, transcoding, the gRPC call) to a
// backend that answers at once, so that what is measured is the gateway, not a service.
//
//	go test -run '^$' -bench RESTGet -benchmem -cpuprofile cpu.out ./gateway/
func BenchmarkRESTGet(b *testing.B) {
	gw := benchGateway(b)
	req := httptest.NewRequest(http.MethodGet, "/v1/costCenters/cc-1", nil)
	req.Header.Set("Authorization", "Bearer good-bench")
	req.RemoteAddr = "192.0.2.1:1234"
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, req.Clone(req.Context()))
		if w.Code != http.StatusOK {
			b.Fatalf("GET: %d %s", w.Code, w.Body)
		}
	}
}

// BenchmarkRESTGetOverTCP is BenchmarkRESTGet through the gateway's HTTP server on a real
// connection, as a client reaches it: with `strace -c -f` on the test binary it counts the
// system calls of a get (the client's, the gateway's and the backend's).
//
//	go test -c -o gateway.test ./gateway/ && strace -c -f ./gateway.test -test.run '^$' -test.bench RESTGetOverTCP -test.benchtime 5000x
func BenchmarkRESTGetOverTCP(b *testing.B) {
	gw := benchGateway(b)
	srv := httptest.NewServer(gw)
	b.Cleanup(srv.Close)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/costCenters/cc-1", nil)
		req.Header.Set("Authorization", "Bearer good-bench")
		resp, err := srv.Client().Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET: %d", resp.StatusCode)
		}
	}
}

// benchGateway is a gateway in front of a backend that answers at once, with logs discarded.
func benchGateway(b *testing.B) *gateway.Gateway {
	b.Helper()
	_, addr := startRecorder(b)
	gw, err := gateway.New(context.Background(), gateway.Options{
		Backends: oneBackend(addr), Authenticator: fakeAuth{},
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { gw.Close() })
	return gw
}
