package rpc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/quarterdeck/quarterdeck/services/platform/testing/testcert"
)

// serveTLS runs a server with the credentials of t on a loopback port and returns its address.
func serveTLS(tb testing.TB, set TLS) string {
	tb.Helper()
	creds, err := set.ServerCredentials()
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := NewServer(Options{Domain: "budget.quarterdeck.io", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Credentials: creds})
	if err != nil {
		tb.Fatal(err)
	}
	srv.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	tb.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// check makes one health call to addr with creds and returns its error.
func check(tb testing.TB, addr string, creds credentials.TransportCredentials) error {
	tb.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds), grpc.WithDefaultServiceConfig(RoundRobin))
	if err != nil {
		tb.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		tb.Fatalf("health = %v", resp.GetStatus())
	}
	return err
}

func clientCreds(tb testing.TB, set TLS) credentials.TransportCredentials {
	tb.Helper()
	creds, err := set.ClientCredentials()
	if err != nil {
		tb.Fatal(err)
	}
	return creds
}

// TestMutualTLS: a service with a certificate and a CA answers only clients that verify it
// against the CA and present a certificate the CA signed.
func TestMutualTLS(t *testing.T) {
	ca := testcert.NewCA(t, "internal")
	other := testcert.NewCA(t, "other")
	server := ca.Issue(t, "budget", "127.0.0.1")
	addr := serveTLS(t, TLS{CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: ca.File})

	gateway := ca.Issue(t, "gateway", "gateway")
	stranger := other.Issue(t, "stranger", "gateway")
	ok := TLS{CertFile: gateway.CertFile, KeyFile: gateway.KeyFile, CAFile: ca.File}
	if err := check(t, addr, clientCreds(t, ok)); err != nil {
		t.Fatalf("a client with the CA and a certificate it signed: %v", err)
	}
	for name, creds := range map[string]credentials.TransportCredentials{
		"cleartext":                      insecure.NewCredentials(),
		"no client certificate":          clientCreds(t, TLS{CAFile: ca.File}),
		"a certificate of another CA":    clientCreds(t, TLS{CertFile: stranger.CertFile, KeyFile: stranger.KeyFile, CAFile: ca.File}),
		"the server checked by other CA": clientCreds(t, TLS{CertFile: gateway.CertFile, KeyFile: gateway.KeyFile, CAFile: other.File}),
	} {
		if err := check(t, addr, creds); status.Code(err) != codes.Unavailable {
			t.Errorf("%s: %v, want UNAVAILABLE", name, err)
		}
	}
}

// TestServerTLS: with a certificate and no CA the port is TLS without client certificates; a
// client still checks the server's name against its certificate.
func TestServerTLS(t *testing.T) {
	ca := testcert.NewCA(t, "internal")
	server := ca.Issue(t, "budget", "127.0.0.1")
	addr := serveTLS(t, TLS{CertFile: server.CertFile, KeyFile: server.KeyFile})
	if err := check(t, addr, clientCreds(t, TLS{CAFile: ca.File})); err != nil {
		t.Fatalf("TLS client without a certificate: %v", err)
	}
	if err := check(t, addr, insecure.NewCredentials()); status.Code(err) != codes.Unavailable {
		t.Errorf("cleartext client: %v, want UNAVAILABLE", err)
	}

	misnamed := ca.Issue(t, "misnamed", "budget.example")
	addr = serveTLS(t, TLS{CertFile: misnamed.CertFile, KeyFile: misnamed.KeyFile})
	err := check(t, addr, clientCreds(t, TLS{CAFile: ca.File}))
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("a server whose certificate is for another name: %v, want UNAVAILABLE on the certificate", err)
	}
}

// TestRenewedCertificate: a certificate renewed in its files (as cert-manager does) is served by
// the next handshake, without a restart.
func TestRenewedCertificate(t *testing.T) {
	old := keyPairRecheck
	keyPairRecheck = 0
	t.Cleanup(func() { keyPairRecheck = old })
	ca := testcert.NewCA(t, "internal")
	pair := ca.Issue(t, "budget", "127.0.0.1")
	addr := serveTLS(t, TLS{CertFile: pair.CertFile, KeyFile: pair.KeyFile})

	served := func() *x509.Certificate {
		t.Helper()
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"h2"}}) //nolint:gosec // the test reads the certificate only
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0]
	}
	if got := served(); got.SerialNumber.Cmp(pair.Cert.SerialNumber) != 0 {
		t.Fatalf("served serial %v, want %v", got.SerialNumber, pair.Cert.SerialNumber)
	}
	// Modification times must differ even on a file system with coarse ones.
	time.Sleep(10 * time.Millisecond)
	renewed := ca.IssueTo(t, pair, "127.0.0.1")
	if got := served(); got.SerialNumber.Cmp(renewed.Cert.SerialNumber) != 0 {
		t.Fatalf("after the renewal: served serial %v, want the new %v", got.SerialNumber, renewed.Cert.SerialNumber)
	}
	if err := check(t, addr, clientCreds(t, TLS{CAFile: ca.File})); err != nil {
		t.Fatalf("a call after the renewal: %v", err)
	}
}

// TestTLSSettingsRefused: half a key pair, a missing file or a certificate without a CA to check
// the services it calls is refused before anything starts, naming the setting.
func TestTLSSettingsRefused(t *testing.T) {
	ca := testcert.NewCA(t, "internal")
	pair := ca.Issue(t, "budget", "budget")
	for name, tc := range map[string]struct {
		set     TLS
		server  bool
		setting string
	}{
		"certificate without key":    {TLS{CertFile: pair.CertFile}, true, "QUARTERDECK_GRPC_TLS_KEY_FILE"},
		"key without certificate":    {TLS{KeyFile: pair.KeyFile}, false, "QUARTERDECK_GRPC_TLS_CERT_FILE"},
		"missing certificate file":   {TLS{CertFile: pair.CertFile + ".gone", KeyFile: pair.KeyFile}, true, "QUARTERDECK_GRPC_TLS_CERT_FILE"},
		"missing CA file":            {TLS{CertFile: pair.CertFile, KeyFile: pair.KeyFile, CAFile: ca.File + ".gone"}, true, "QUARTERDECK_GRPC_TLS_CA_FILE"},
		"CA file without a cert":     {TLS{CAFile: pair.KeyFile}, false, "QUARTERDECK_GRPC_TLS_CA_FILE"},
		"client cert without CA":     {TLS{CertFile: pair.CertFile, KeyFile: pair.KeyFile}, false, "QUARTERDECK_GRPC_TLS_CA_FILE"},
		"key of another certificate": {TLS{CertFile: pair.CertFile, KeyFile: ca.Issue(t, "other", "other").KeyFile}, true, "QUARTERDECK_GRPC_TLS_CERT_FILE"},
	} {
		var err error
		if tc.server {
			_, err = tc.set.ServerCredentials()
		} else {
			_, err = tc.set.ClientCredentials()
		}
		if err == nil || !strings.Contains(err.Error(), tc.setting) {
			t.Errorf("%s: %v, want an error naming %s", name, err, tc.setting)
		}
	}
	if creds, err := (TLS{}).ServerCredentials(); creds != nil || err != nil {
		t.Errorf("no settings: server credentials %v, %v; want none (cleartext)", creds, err)
	}
	if creds, err := (TLS{}).ClientCredentials(); err != nil || creds.Info().SecurityProtocol != "insecure" {
		t.Errorf("no settings: client credentials %v, %v; want cleartext", creds, err)
	}
}
