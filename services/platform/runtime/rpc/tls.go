package rpc

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// TLS are the settings of TLS on the gRPC hops inside a deployment: gateway → service and
// service → service. The binaries read them with the prefix GRPC_TLS_
// (QUARTERDECK_GRPC_TLS_CERT_FILE, --grpc-tls-cert-file …). With none set, every hop is cleartext,
// as on loopback in the standalone binary.
//
// A service with a certificate serves its gRPC port over TLS only; with a CA as well, it requires
// every client to present a certificate the CA signed (mutual TLS), and it calls its peers over
// TLS, verifying them against the CA and presenting its own certificate. The gateway, which serves
// no internal port, uses the three files as a client only. Certificates are read again when their
// files change (cert-manager renews them in place); a new CA needs a restart.
type TLS struct {
	CertFile string `env:"CERT_FILE" help:"PEM certificate (chain) this process presents on internal gRPC hops: a service serves its gRPC port with it, and every process presents it to the services it calls when QUARTERDECK_GRPC_TLS_CA_FILE is set (empty: cleartext)"`
	KeyFile  string `env:"KEY_FILE" help:"PEM private key of QUARTERDECK_GRPC_TLS_CERT_FILE"`
	CAFile   string `env:"CA_FILE" help:"PEM CA certificate(s) of internal gRPC hops: calls to services use TLS and verify them against it, and a service with a certificate requires callers to present one it signed (mutual TLS)"`
}

// Enabled reports whether any of the files is set.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" || t.CAFile != "" }

// check refuses half a key pair, naming the settings to fix.
func (t TLS) check() error {
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("a gRPC TLS certificate needs its key and a key its certificate (QUARTERDECK_GRPC_TLS_CERT_FILE, QUARTERDECK_GRPC_TLS_KEY_FILE)")
	}
	return nil
}

// ServerCredentials returns the transport credentials of a service's gRPC server: nil (cleartext)
// without a certificate, even with a CA (which is then a client's setting only), TLS with one,
// mutual TLS with a CA too. The files are read now, so that a
// missing or broken one stops the start.
func (t TLS) ServerCredentials() (credentials.TransportCredentials, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if t.CertFile == "" {
		return nil, nil
	}
	kp, err := newKeyPair(t.CertFile, t.KeyFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: kp.server}
	if t.CAFile != "" {
		pool, err := loadCA(t.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return credentials.NewTLS(cfg), nil
}

// ClientCredentials returns the transport credentials of calls to services: cleartext without a
// CA, TLS verifying the service against the CA with one, presenting the certificate when one is
// set. The server's name is the host of the call's target (budget for dns:///budget:9001), which
// the service's certificate must hold.
func (t TLS) ClientCredentials() (credentials.TransportCredentials, error) {
	if err := t.check(); err != nil {
		return nil, err
	}
	if t.CAFile == "" {
		if t.CertFile != "" {
			return nil, errors.New("a gRPC TLS certificate without a CA cannot verify the services it calls; set QUARTERDECK_GRPC_TLS_CA_FILE")
		}
		return insecure.NewCredentials(), nil
	}
	pool, err := loadCA(t.CAFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool}
	if t.CertFile != "" {
		kp, err := newKeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, err
		}
		cfg.GetClientCertificate = kp.client
	}
	return credentials.NewTLS(cfg), nil
}

// DialOption is ClientCredentials as the dial option of a connection to a service.
func (t TLS) DialOption() (grpc.DialOption, error) {
	creds, err := t.ClientCredentials()
	if err != nil {
		return nil, err
	}
	return grpc.WithTransportCredentials(creds), nil
}

func loadCA(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("gRPC TLS CA (QUARTERDECK_GRPC_TLS_CA_FILE): %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("gRPC TLS CA (QUARTERDECK_GRPC_TLS_CA_FILE): no PEM certificate in %s", file)
	}
	return pool, nil
}

// RoundRobin is the default service config of connections to services (grpc.WithDefaultServiceConfig):
// calls go to every address the target resolves to in turn, rather than all to the first, so that
// a dns:/// target naming every replica (a headless Kubernetes Service) spreads the load over them.
const RoundRobin = `{"loadBalancingConfig": [{"round_robin": {}}]}`

// keyPairRecheck bounds how often a handshake looks at the files' modification times (a variable
// for tests).
var keyPairRecheck = 10 * time.Second

// keyPair is a certificate and key read from files, and read again when either file changes, so
// that a renewed certificate is used by the next handshake without a restart. A renewal that
// cannot be read (the two files caught between writes) keeps the previous pair until it can.
type keyPair struct {
	certFile, keyFile string
	mu                sync.Mutex
	cert              *tls.Certificate
	certMod, keyMod   time.Time
	checked           time.Time
}

func newKeyPair(certFile, keyFile string) (*keyPair, error) {
	kp := &keyPair{certFile: certFile, keyFile: keyFile}
	if err := kp.load(); err != nil {
		return nil, err
	}
	return kp, nil
}

func (kp *keyPair) load() error {
	cs, err := os.Stat(kp.certFile)
	if err != nil {
		return fmt.Errorf("gRPC TLS certificate (QUARTERDECK_GRPC_TLS_CERT_FILE): %w", err)
	}
	ks, err := os.Stat(kp.keyFile)
	if err != nil {
		return fmt.Errorf("gRPC TLS key (QUARTERDECK_GRPC_TLS_KEY_FILE): %w", err)
	}
	cert, err := tls.LoadX509KeyPair(kp.certFile, kp.keyFile)
	if err != nil {
		return fmt.Errorf("gRPC TLS certificate (QUARTERDECK_GRPC_TLS_CERT_FILE, QUARTERDECK_GRPC_TLS_KEY_FILE): %w", err)
	}
	kp.cert, kp.certMod, kp.keyMod = &cert, cs.ModTime(), ks.ModTime()
	return nil
}

// current returns the pair, read again first when the files changed since it was read.
func (kp *keyPair) current() *tls.Certificate {
	kp.mu.Lock()
	defer kp.mu.Unlock()
	if now := time.Now(); now.Sub(kp.checked) >= keyPairRecheck {
		kp.checked = now
		cs, cerr := os.Stat(kp.certFile)
		ks, kerr := os.Stat(kp.keyFile)
		if cerr == nil && kerr == nil && (!cs.ModTime().Equal(kp.certMod) || !ks.ModTime().Equal(kp.keyMod)) {
			_ = kp.load() // on failure the previous pair stays
		}
	}
	return kp.cert
}

func (kp *keyPair) server(*tls.ClientHelloInfo) (*tls.Certificate, error) { return kp.current(), nil }

func (kp *keyPair) client(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	return kp.current(), nil
}
