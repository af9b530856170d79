package auth_test

// The security suite: the whole front door (gateway on a real port, authenticator, admin server,
// budget and vendors services) with hostile credentials, through REST and gRPC on the gateway's one port as a
// client sends them, and a service called directly over gRPC as an attacker inside the network
// would.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/quarterdeck/quarterdeck/gateway"
	"github.com/quarterdeck/quarterdeck/gateway/auth"
	briefingv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/briefing/v1"
	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	iamv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/iam/v1"
	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/briefing"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/authz"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/risk"
	"github.com/quarterdeck/quarterdeck/services/talent"
	"github.com/quarterdeck/quarterdeck/services/vendors"
)

const (
	issuer   = "https://idp.example.test"
	audience = "quarterdeck"
	adminKey = "security-suite-admin-key-0123456789abcdef"
)

// idp is an OpenID provider in the test: an RSA and an EC signing key published as a JWKS.
type idp struct {
	rsa     *rsa.PrivateKey
	ec      *ecdsa.PrivateKey
	srv     *httptest.Server
	fetches atomic.Int32
	extra   atomic.Pointer[jose.JSONWebKey] // a key published later (rotation)
}

func newIDP(t *testing.T) *idp {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := &idp{rsa: rk, ec: ek}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		p.fetches.Add(1)
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &rk.PublicKey, KeyID: "rsa1", Algorithm: "RS256", Use: "sig"},
			{Key: &ek.PublicKey, KeyID: "ec1", Algorithm: "ES256", Use: "sig"},
		}}
		if k := p.extra.Load(); k != nil {
			set.Keys = append(set.Keys, *k)
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(p.srv.Close)
	return p
}

// claims are the usual claims of a token for Quarterdeck, valid now.
func claims(mod func(map[string]any)) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": issuer, "aud": audience, "sub": "alice", "iat": now.Unix(),
		"nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(10 * time.Minute).Unix(), "scope": "budget.read",
	}
	if mod != nil {
		mod(c)
	}
	return c
}

func sign(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, c map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(s).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// unsigned builds a token with header h and claims c and the given signature, by hand, for the
// forgeries a JOSE library refuses to make.
func unsigned(h, c map[string]any, sig string) string {
	hb, _ := json.Marshal(h)
	cb, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(hb) + "." + base64.RawURLEncoding.EncodeToString(cb) + "." + sig
}

// front is the platform under test, served on one real port (REST and gRPC, h2c) as in production.
type front struct {
	url      string
	addr     string // the gateway's port, for gRPC clients
	keys     *auth.Store
	budget   string // gRPC address of the budget service
	signer   *identity.Signer
	priv     ed25519.PrivateKey
	idp      *idp
	verifier *auth.JWTVerifier
	reached  *reach // calls that reached the budget or the vendors service
}

// reach counts the calls that reached a domain service: its rpc interceptor logs every call it
// handles, accepted or refused, before it answers.
type reach struct{ n atomic.Int64 }

func (r *reach) Enabled(context.Context, slog.Level) bool { return true }

func (r *reach) Handle(_ context.Context, rec slog.Record) error {
	if !strings.HasPrefix(rec.Message, "rpc") {
		return nil
	}
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "method" && strings.HasPrefix(a.Value.String(), "/quarterdeck.") {
			r.n.Add(1)
			return false
		}
		return true
	})
	return nil
}

func (r *reach) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *reach) WithGroup(string) slog.Handler      { return r }

func startFront(t *testing.T) *front { return startFrontWith(t, frontOptions{}) }

// frontOptions vary the platform under test.
type frontOptions struct {
	settings gateway.Settings // the gateway's
	// noAuthenticator starts the gateway without an Authenticator, as only tests may.
	noAuthenticator bool
	reflection      bool // gRPC server reflection on the gateway's port
}

// startFrontWith starts the platform as opts say: a budget service, a vendors service calling
// it, a risk service, the gateway's admin server and authenticator with a real key store and OIDC provider, and the
// gateway on a loopback port. The gateway signs identities with identitytest's key, which the
// services trust, so that tests can also mint genuine identities of their own.
func startFrontWith(t *testing.T, opts frontOptions) *front {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	signer := identitytest.Signer()
	verifier := identitytest.Verifier()

	ns := testenv.NATSServer(t)
	nc, _ := testenv.Connect(t, ns.URL)
	db := testenv.SQLite(t)
	reached := &reach{}
	in, err := host.Start(ctx, budget.Service(), host.Options{
		DatabaseURL: db.DSN, GRPCAddr: "127.0.0.1:0", NATS: nc,
		Stream: events.StreamConfig{Prefix: ns.SubjectPrefix}, Logger: slog.New(reached), Identity: verifier,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = in.Stop(ctx)
	})
	vin, err := host.Start(ctx, vendors.Service(), host.Options{
		DatabaseURL: testenv.SQLite(t).DSN, GRPCAddr: "127.0.0.1:0", NATS: nc, Peers: map[string]string{"budget": in.Addr()},
		Stream: events.StreamConfig{Prefix: ns.SubjectPrefix}, Logger: slog.New(reached), Identity: verifier,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = vin.Stop(ctx)
	})

	rin, err := host.Start(ctx, risk.Service(), host.Options{
		DatabaseURL: testenv.SQLite(t).DSN, GRPCAddr: "127.0.0.1:0", NATS: nc, Peers: map[string]string{"talent": "127.0.0.1:1"},
		Stream: events.StreamConfig{Prefix: ns.SubjectPrefix}, Logger: slog.New(reached), Identity: verifier,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = rin.Stop(ctx)
	})

	tin, err := host.Start(ctx, talent.Service(), host.Options{
		DatabaseURL: testenv.SQLite(t).DSN, GRPCAddr: "127.0.0.1:0", NATS: nc, Peers: map[string]string{"budget": in.Addr()},
		Stream: events.StreamConfig{Prefix: ns.SubjectPrefix}, Logger: slog.New(reached), Identity: verifier,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = tin.Stop(ctx)
	})

	bin, err := host.Start(ctx, briefing.Service(), host.Options{
		DatabaseURL: testenv.SQLite(t).DSN, GRPCAddr: "127.0.0.1:0", NATS: nc,
		Stream: events.StreamConfig{Prefix: ns.SubjectPrefix}, Logger: slog.New(reached), Identity: verifier,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = bin.Stop(ctx)
	})

	gdb, err := auth.OpenDatabase(ctx, testenv.SQLite(t).DSN, sqldb.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gdb.Close() })
	keys := auth.NewStore(gdb)
	if _, err := auth.Bootstrap(ctx, keys, adminKey, auth.KnownScopes()); err != nil {
		t.Fatal(err)
	}
	admin, err := auth.StartAdmin(auth.AdminOptions{Store: keys, Identity: verifier, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = admin.Stop(context.Background()) })

	p := newIDP(t)
	jv, err := auth.NewJWTVerifier(auth.JWTConfig{
		Issuer: issuer, Audience: audience, JWKSURL: p.srv.URL, ScopeClaim: "scope", RolesClaim: "roles",
		RoleScopes: []string{"finance=budget.read budget.write"}, Leeway: 30 * time.Second,
		JWKSMaxAge: time.Hour, JWKSMinInterval: time.Hour,
	}, p.srv.Client(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	authn, err := auth.New(auth.Options{Keys: keys, JWT: jv, Signer: signer, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	gopts := gateway.Options{
		Backends: map[string]string{"budget": in.Addr(), "vendors": vin.Addr(), "risk": rin.Addr(), "talent": tin.Addr(), "briefing": bin.Addr(), "iam": admin.Addr()}, Logger: quiet, Authenticator: authn,
		Settings: opts.settings, Reflection: opts.reflection,
	}
	if opts.noAuthenticator {
		gopts.Authenticator = nil
	}
	gw, err := gateway.New(ctx, gopts)
	if err != nil {
		t.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- gw.Serve(lis) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := gw.Shutdown(ctx); err != nil {
			t.Errorf("gateway shutdown: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("gateway serve: %v", err)
		}
		gw.Close()
	})
	return &front{url: "http://" + lis.Addr().String(), addr: lis.Addr().String(), keys: keys, budget: in.Addr(),
		signer: signer, priv: identitytest.PrivateKey(), idp: p, verifier: jv, reached: reached}
}

// conn returns a gRPC connection to the gateway's port (h2c), as an external client makes it.
func (f *front) conn(t *testing.T) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient(f.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

type reply struct {
	code   int
	header http.Header
	body   map[string]any
}

func (f *front) do(t *testing.T, authorization, method, path, body string) reply {
	t.Helper()
	header := map[string]string{}
	if authorization != "" {
		header["Authorization"] = authorization
	}
	return f.doWith(t, method, path, body, header)
}

// doWith sends a REST request with the given headers (and a JSON content type).
func (f *front) doWith(t *testing.T, method, path, body string, header map[string]string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := reply{code: resp.StatusCode, header: resp.Header, body: map[string]any{}}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, path, raw, err)
		}
	}
	return r
}

// errorInfo returns the reason, domain and metadata of an error body's ErrorInfo.
func errorInfo(body map[string]any) (reason, domain string, meta map[string]any) {
	ds, _ := body["details"].([]any)
	for _, d := range ds {
		d, _ := d.(map[string]any)
		if d["@type"] == "type.googleapis.com/google.rpc.ErrorInfo" {
			reason, _ = d["reason"].(string)
			domain, _ = d["domain"].(string)
			meta, _ = d["metadata"].(map[string]any)
		}
	}
	return reason, domain, meta
}

func TestForgedCredentialsAreRejected(t *testing.T) {
	t.Parallel()
	f := startFront(t)
	ctx := context.Background()
	p := f.idp

	// Keys in the store that must not work.
	past := time.Now().Add(-time.Hour)
	revokedSecret, _ := auth.NewKeySecret("revoked1")
	expiredSecret, _ := auth.NewKeySecret("expired1")
	for _, k := range []*auth.Key{
		{ID: "revoked1", DisplayName: "revoked", Hash: auth.HashKey(revokedSecret), Prefix: "qdk_", Scopes: []string{"budget.read"}, Principal: "principals/t", Creator: "t", CreateTime: past, RevokeTime: &past},
		{ID: "expired1", DisplayName: "expired", Hash: auth.HashKey(expiredSecret), Prefix: "qdk_", Scopes: []string{"budget.read"}, Principal: "principals/t", Creator: "t", CreateTime: past, ExpireTime: &past},
	} {
		if err := f.keys.Create(ctx, k); err != nil {
			t.Fatal(err)
		}
	}

	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubDER, _ := x509.MarshalPKIXPublicKey(&p.rsa.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	valid := sign(t, jose.RS256, p.rsa, "rsa1", claims(nil))
	parts := strings.Split(valid, ".")
	escalated, _ := json.Marshal(claims(func(c map[string]any) { c["scope"] = "budget.read budget.write iam.admin" }))

	cases := []struct {
		name, authorization, reason string
	}{
		{"no header", "", auth.ReasonMissing},
		{"garbage", "Bearer garbage", auth.ReasonInvalid},
		{"not bearer", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:admin")), auth.ReasonInvalid},
		{"empty bearer", "Bearer ", auth.ReasonInvalid},
		{"unknown api key", "Bearer qdk_nothere_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", auth.ReasonInvalid},
		{"revoked api key", "Bearer " + revokedSecret, auth.ReasonInvalid},
		{"expired api key", "Bearer " + expiredSecret, auth.ReasonExpired},
		{"admin key with a character changed", "Bearer " + adminKey[:len(adminKey)-1] + "X", auth.ReasonInvalid},
		{"alg none", "Bearer " + unsigned(map[string]any{"alg": "none", "typ": "JWT", "kid": "rsa1"}, claims(nil), ""), auth.ReasonInvalid},
		{"alg none with a signature", "Bearer " + unsigned(map[string]any{"alg": "none", "kid": "rsa1"}, claims(nil), parts[2]), auth.ReasonInvalid},
		{"HS256 signed with the RSA public key", "Bearer " + sign(t, jose.HS256, pubPEM, "rsa1", claims(nil)), auth.ReasonInvalid},
		{"HS256 signed with the RSA public key DER", "Bearer " + sign(t, jose.HS256, pubDER, "rsa1", claims(nil)), auth.ReasonInvalid},
		{"RS384 not allowed", "Bearer " + sign(t, jose.RS384, p.rsa, "rsa1", claims(nil)), auth.ReasonInvalid},
		{"PS256 not allowed", "Bearer " + sign(t, jose.PS256, p.rsa, "rsa1", claims(nil)), auth.ReasonInvalid},
		{"ES256 header on the RSA key", "Bearer " + sign(t, jose.ES256, p.ec, "rsa1", claims(nil)), auth.ReasonInvalid},
		{"expired beyond leeway", "Bearer " + sign(t, jose.RS256, p.rsa, "rsa1", claims(func(c map[string]any) {
			c["exp"] = time.Now().Add(-2 * time.Minute).Unix()
		})), auth.ReasonExpired},
		{"not yet valid beyond leeway", "Bearer " + sign(t, jose.RS256, p.rsa, "rsa1", claims(func(c map[string]any) {
			c["nbf"] = time.Now().Add(5 * time.Minute).Unix()
		})), auth.ReasonInvalid},
		{"no exp", "Bearer " + sign(t, jose.RS256, p.rsa, "rsa1", claims(func(c map[string]any) { delete(c, "exp") })), auth.ReasonInvalid},
		{"no sub", "Bearer " + sign(t, jose.RS256, p.rsa, "rsa1", claims(func(c map[string]any) { delete(c, "sub") })), auth.ReasonInvalid},
		{"wrong iss", "Bearer " + sign(t, jose.RS256, p.rsa, "rsa1", claims(func(c map[string]any) { c["iss"] = "https://evil.example" })), auth.ReasonInvalid},
		{"wrong aud", "Bearer " + sign(t, jose.RS256, p.rsa, "rsa1", claims(func(c map[string]any) { c["aud"] = "another-app" })), auth.ReasonInvalid},
		{"unknown kid", "Bearer " + sign(t, jose.RS256, otherRSA, "rsa-unknown", claims(nil)), auth.ReasonInvalid},
		{"known kid, other key", "Bearer " + sign(t, jose.RS256, otherRSA, "rsa1", claims(nil)), auth.ReasonInvalid},
		{"tampered payload", "Bearer " + parts[0] + "." + base64.RawURLEncoding.EncodeToString(escalated) + "." + parts[2], auth.ReasonInvalid},
		{"tampered signature", "Bearer " + parts[0] + "." + parts[1] + "." + parts[2][:len(parts[2])-6] + "AAAAAA", auth.ReasonInvalid},
		{"internal identity as bearer", "Bearer " + mustSign(t, f.signer, identity.Principal{Subject: "users/x", Scopes: []string{"budget.read"}}), auth.ReasonInvalid},
	}
	// Every forgery is refused at the gateway, over REST and over gRPC on the same port, for the
	// APIs of a domain service, of the operations API and of the gateway's own admin API, and none
	// reaches the service.
	conn := f.conn(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.reached.n.Load()
			for _, path := range []string{"/v1/costCenters", "/v1/services/budget/auditRecords", "/v1/apiKeys"} {
				r := f.do(t, tc.authorization, http.MethodGet, path, "")
				reason, domain, _ := errorInfo(r.body)
				if r.code != http.StatusUnauthorized || reason != tc.reason || domain != auth.ErrorDomain {
					t.Errorf("REST %s = %d %s/%s %v; want 401 %s", path, r.code, domain, reason, r.body, tc.reason)
				}
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("REST %s: WWW-Authenticate = %q", path, r.header.Get("WWW-Authenticate"))
				}
			}
			ctx := context.Background()
			if tc.authorization != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, "authorization", tc.authorization)
			}
			for _, c := range grpcCalls {
				err := c.call(ctx, conn)
				info, _ := rpc.Details(err)
				if status.Code(err) != codes.Unauthenticated || info.GetReason() != tc.reason || info.GetDomain() != auth.ErrorDomain {
					t.Errorf("gRPC %s = %v (%v); want UNAUTHENTICATED %s", c.method, err, info, tc.reason)
				}
			}
			if n := f.reached.n.Load() - before; n != 0 {
				t.Errorf("%d calls with forged credentials reached the service", n)
			}
		})
	}

	// The genuine articles work, so that the rejections above are about the forgery.
	for name, authorization := range map[string]string{
		"valid RS256":     "Bearer " + valid,
		"valid ES256":     "Bearer " + sign(t, jose.ES256, p.ec, "ec1", claims(nil)),
		"within leeway":   "Bearer " + sign(t, jose.RS256, p.rsa, "rsa1", claims(func(c map[string]any) { c["exp"] = time.Now().Add(-10 * time.Second).Unix() })),
		"aud in a list":   "Bearer " + sign(t, jose.RS256, p.rsa, "rsa1", claims(func(c map[string]any) { c["aud"] = []string{"other", audience} })),
		"admin key":       "Bearer " + adminKey,
		"scheme any case": "bearer " + adminKey,
	} {
		if r := f.do(t, authorization, http.MethodGet, "/v1/costCenters", ""); r.code != http.StatusOK {
			t.Errorf("%s: = %d %v; want 200", name, r.code, r.body)
		}
		before := f.reached.n.Load()
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", authorization)
		if _, err := budgetv1.NewBudgetServiceClient(conn).ListCostCenters(ctx, &budgetv1.ListCostCentersRequest{}); err != nil {
			t.Errorf("%s over gRPC: %v", name, err)
		}
		// The count of calls that reach the service is what proves the forgeries did not.
		if f.reached.n.Load() != before+1 {
			t.Errorf("%s: the service saw %d calls, want 1", name, f.reached.n.Load()-before)
		}
	}
	// An identity smuggled in as gRPC metadata is dropped: the caller is who its key says.
	req, _ := http.NewRequest(http.MethodGet, f.url+"/v1/apiKeys", nil)
	req.Header.Set("Authorization", "Bearer "+valid) // budget.read only
	req.Header.Set("Grpc-Metadata-X-Quarterdeck-Identity", mustSign(t, f.signer, identity.Principal{Subject: "users/root", Scopes: auth.KnownScopes()}))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("admin call with a smuggled identity = %d; want 403 for the token's own scopes", resp.StatusCode)
	}
	// Scopes come from the token: budget.read lets a JWT list but not create.
	r := f.do(t, "Bearer "+valid, http.MethodPost, "/v1/costCenters", `{"displayName":"X","code":"CC-1"}`)
	if reason, _, meta := errorInfo(r.body); r.code != http.StatusForbidden || reason != "MISSING_SCOPE" || meta["scope"] != "budget.write" {
		t.Errorf("POST with budget.read only = %d %v; want 403 MISSING_SCOPE budget.write", r.code, r.body)
	}
	// A role mapped to scopes by configuration grants them.
	finance := sign(t, jose.RS256, p.rsa, "rsa1", claims(func(c map[string]any) { delete(c, "scope"); c["roles"] = []string{"finance"} }))
	if r := f.do(t, "Bearer "+finance, http.MethodPost, "/v1/costCenters", `{"displayName":"X","code":"CC-1"}`); r.code != http.StatusOK {
		t.Errorf("POST with role finance = %d %v; want 200", r.code, r.body)
	}
}

func mustSign(t *testing.T, s *identity.Signer, p identity.Principal) string {
	t.Helper()
	tok, err := s.Sign(p)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// endpoint is one REST call and the scope it needs: a method's scope, or the write scope of a
// sensitive field the body sets (see alsoNeeds).
type endpoint struct {
	method, path, body, scope string
}

// alsoNeeds are, for the scopes that guard sensitive fields rather than methods, the method scope
// that the calls exercising them need too: they set the field in a create.
var alsoNeeds = map[string][]string{"vendors.finance": {"vendors.write"}, "iam.principals": {"iam.admin"},
	"talent.compensation": {"talent.write"}}

// endpoints are the REST calls of every API the gateway serves. Each is valid apart from
// authorization, so that with the scope it gets anything but 401 or 403.
var endpoints = []endpoint{
	{"GET", "/v1/costCenters", "", "budget.read"},
	{"GET", "/v1/costCenters/nothere", "", "budget.read"},
	{"POST", "/v1/costCenters", `{"displayName":"Scoped","code":"CC-SCOPE"}`, "budget.write"},
	{"PATCH", "/v1/costCenters/nothere", `{"displayName":"Renamed"}`, "budget.write"},
	{"DELETE", "/v1/costCenters/nothere", "", "budget.write"},
	{"GET", "/v1/apiKeys", "", "iam.admin"},
	{"GET", "/v1/apiKeys/nothere", "", "iam.admin"},
	{"POST", "/v1/apiKeys", `{"displayName":"made by a test","scopes":["iam.admin"]}`, "iam.admin"},
	{"POST", "/v1/apiKeys/nothere:revoke", `{}`, "iam.admin"},
	{"POST", "/v1/apiKeys", `{"displayName":"for someone else","scopes":["iam.admin"],"principal":"principals/someone"}`, "iam.principals"},
	{"GET", "/v1/services/budget/auditRecords", "", "operations.read"},
	{"POST", "/v1/services/budget/auditRecords:verify", `{}`, "operations.read"},
	{"GET", "/v1/services/budget/deadLetters", "", "operations.read"},
	{"POST", "/v1/services/budget/deadLetters/nothere:replay", `{}`, "operations.replay"},
	{"GET", "/v1/budgets", "", "budget.read"},
	{"GET", "/v1/budgets/nothere/summary", "", "budget.read"},
	{"POST", "/v1/budgets/nothere:submit", `{}`, "budget.write"},
	{"POST", "/v1/budgets/nothere/lines/nothere/actuals",
		`{"amount":{"currencyCode":"EUR","units":"1"},"bookingDate":{"year":2026,"month":1,"day":1}}`, "budget.spend"},
	{"POST", "/v1/budgets/nothere/lines/nothere/commitments/nothere:release", `{}`, "budget.spend"},
	{"POST", "/v1/budgets/nothere/transfers", `{"sourceLine":"budgets/nothere/lines/a","targetLine":"budgets/nothere/lines/b",
		"amount":{"units":"1"},"reason":"test"}`, "budget.transfer"},
	{"POST", "/v1/budgets/nothere:approve", `{}`, "budget.approve"},
	{"POST", "/v1/exchangeRates", `{"month":"2026-05","sourceCurrencyCode":"USD","targetCurrencyCode":"EUR","rate":"0.92"}`, "budget.rates"},
	{"POST", "/v1/budgets/nothere/transfers/nothere:reject", `{"reason":"no"}`, "budget.approve"},
	{"GET", "/v1/vendors", "", "vendors.read"},
	{"GET", "/v1/vendors/nothere/contracts/nothere", "", "vendors.read"},
	{"POST", "/v1/vendors", `{"displayName":"Scoped","legalName":"Scoped Ltd","category":"SAAS","tier":3}`, "vendors.write"},
	{"POST", "/v1/vendors/nothere:activate", `{}`, "vendors.approve"},
	{"POST", "/v1/vendors/nothere/contracts/nothere:approve", `{}`, "vendors.approve"},
	{"POST", "/v1/vendors/nothere/contracts", `{"title":"Scoped","endDate":{"year":2027,"month":12,"day":31},
		"totalValue":{"currencyCode":"EUR","units":"1000"}}`, "vendors.finance"},
	{"GET", "/v1/risks", "", "risk.read"},
	{"GET", "/v1/riskMatrix", "", "risk.read"},
	{"POST", "/v1/risks", `{"title":"Scoped","category":"CYBERSECURITY","owner":"ana@example.com"}`, "risk.write"},
	{"POST", "/v1/risks/nothere:assess", `{"inherent":{"likelihood":3,"impact":4},"reason":"scoped"}`, "risk.write"},
	{"PATCH", "/v1/riskAppetite", `{"defaultLevel":"HIGH"}`, "risk.approve"},
	{"POST", "/v1/risks/nothere/acceptances/nothere:approve", `{}`, "risk.approve"},
	{"GET", "/v1/incidents", "", "incidents.read"},
	{"GET", "/v1/briefing", "", "briefing.read"},
	{"POST", "/v1/briefing:rebuild", `{}`, "briefing.rebuild"},
	{"GET", "/v1/incidents/nothere/postmortem", "", "incidents.read"},
	{"POST", "/v1/incidents", `{"title":"Scoped","type":"OUTAGE","severity":"SEV3"}`, "incidents.write"},
	{"POST", "/v1/incidents/nothere:acknowledge", `{}`, "incidents.write"},
	{"POST", "/v1/incidents/nothere:close", `{}`, "incidents.manage"},
	{"POST", "/v1/incidents/nothere/postmortem:publish", `{}`, "incidents.manage"},
	{"GET", "/v1/frameworks", "", "compliance.read"},
	{"GET", "/v1/frameworks/nothere/posture", "", "compliance.read"},
	{"POST", "/v1/frameworks:import", `{"frameworkId":"nothere"}`, "compliance.write"},
	{"POST", "/v1/controls/nothere/tests", `{"testDate":{"year":2026,"month":1,"day":5},"result":"EFFECTIVE"}`, "compliance.write"},
	{"GET", "/v1/teams", "", "talent.read"},
	{"GET", "/v1/people/nothere", "", "talent.read"},
	{"POST", "/v1/teams", `{"displayName":"Scoped"}`, "talent.write"},
	{"POST", "/v1/positions/nothere:approve", `{}`, "talent.approve"},
	{"POST", "/v1/people", `{"displayName":"Scoped","team":"teams/nothere","employmentType":"EMPLOYEE",
		"startDate":{"year":2026,"month":1,"day":5},"loadedAnnualCost":{"currencyCode":"EUR","units":"90000"}}`, "talent.compensation"},
}

// grpcCall is one gRPC method called through the gateway's port and the scope it needs. Each
// request is valid apart from authorization, so that with the scope the call gets anything but
// UNAUTHENTICATED or PERMISSION_DENIED.
type grpcCall struct {
	method, scope string
	call          func(context.Context, *grpc.ClientConn) error
}

// grpcCalls are the gRPC methods of every API the gateway serves: the budget, vendors and risk
// services', the operations API (routed by its parent or name) and the gateway's own admin API.
// The domain services' methods not listed here are added by allMethods.
var grpcCalls = allMethods([]grpcCall{
	{"BudgetService.ListCostCenters", "budget.read", func(ctx context.Context, c *grpc.ClientConn) error {
		_, err := budgetv1.NewBudgetServiceClient(c).ListCostCenters(ctx, &budgetv1.ListCostCentersRequest{})
		return err
	}},
	{"BudgetService.GetCostCenter", "budget.read", func(ctx context.Context, c *grpc.ClientConn) error {
		_, err := budgetv1.NewBudgetServiceClient(c).GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/nothere"})
		return err
	}},
	{"BudgetService.CreateCostCenter", "budget.write", func(ctx context.Context, c *grpc.ClientConn) error {
		_, err := budgetv1.NewBudgetServiceClient(c).CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{
			CostCenter: &budgetv1.CostCenter{DisplayName: "Scoped over gRPC", Code: "CC-GRPC"}})
		return err
	}},
	{"BudgetService.UpdateCostCenter", "budget.write", func(ctx context.Context, c *grpc.ClientConn) error {
		_, err := budgetv1.NewBudgetServiceClient(c).UpdateCostCenter(ctx, &budgetv1.UpdateCostCenterRequest{
			CostCenter: &budgetv1.CostCenter{Name: "costCenters/nothere", DisplayName: "Renamed"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
		return err
	}},
	{"BudgetService.DeleteCostCenter", "budget.write", func(ctx context.Context, c *grpc.ClientConn) error {
		_, err := budgetv1.NewBudgetServiceClient(c).DeleteCostCenter(ctx, &budgetv1.DeleteCostCenterRequest{Name: "costCenters/nothere"})
		return err
	}},
	{"OperationsService.ListAuditRecords", "operations.read", func(ctx context.Context, c *grpc.ClientConn) error {
		_, err := operationsv1.NewOperationsServiceClient(c).ListAuditRecords(ctx, &operationsv1.ListAuditRecordsRequest{Parent: "services/budget"})
		return err
	}},
	{"OperationsService.VerifyAuditChain", "operations.read", func(ctx context.Context, c *grpc.ClientConn) error {
		_, err := operationsv1.NewOperationsServiceClient(c).VerifyAuditChain(ctx, &operationsv1.VerifyAuditChainRequest{Parent: "services/budget"})
		return err
	}},
	{"OperationsService.ListDeadLetters", "operations.read", func(ctx context.Context, c *grpc.ClientConn) error {
		_, err := operationsv1.NewOperationsServiceClient(c).ListDeadLetters(ctx, &operationsv1.ListDeadLettersRequest{Parent: "services/budget"})
		return err
	}},
	{"OperationsService.ReplayDeadLetter", "operations.replay", func(ctx context.Context, c *grpc.ClientConn) error {
		_, err := operationsv1.NewOperationsServiceClient(c).ReplayDeadLetter(ctx, &operationsv1.ReplayDeadLetterRequest{Name: "services/budget/deadLetters/nothere"})
		return err
	}},
	{"ApiKeyService.ListApiKeys", "iam.admin", func(ctx context.Context, c *grpc.ClientConn) error {
		_, err := iamv1.NewApiKeyServiceClient(c).ListApiKeys(ctx, &iamv1.ListApiKeysRequest{})
		return err
	}},
	{"ApiKeyService.GetApiKey", "iam.admin", func(ctx context.Context, c *grpc.ClientConn) error {
		_, err := iamv1.NewApiKeyServiceClient(c).GetApiKey(ctx, &iamv1.GetApiKeyRequest{Name: "apiKeys/nothere"})
		return err
	}},
	{"ApiKeyService.CreateApiKey", "iam.admin", func(ctx context.Context, c *grpc.ClientConn) error {
		_, err := iamv1.NewApiKeyServiceClient(c).CreateApiKey(ctx, &iamv1.CreateApiKeyRequest{
			ApiKey: &iamv1.ApiKey{DisplayName: "made over gRPC", Scopes: []string{"iam.admin"}}})
		return err
	}},
	{"ApiKeyService.RevokeApiKey", "iam.admin", func(ctx context.Context, c *grpc.ClientConn) error {
		_, err := iamv1.NewApiKeyServiceClient(c).RevokeApiKey(ctx, &iamv1.RevokeApiKeyRequest{Name: "apiKeys/nothere"})
		return err
	}},
	// A key's principal is a sensitive field: naming another principal needs iam.principals (and
	// the method's iam.admin, alsoNeeds).
	{"ApiKeyService.CreateApiKey", "iam.principals", func(ctx context.Context, c *grpc.ClientConn) error {
		_, err := iamv1.NewApiKeyServiceClient(c).CreateApiKey(ctx, &iamv1.CreateApiKeyRequest{
			ApiKey: &iamv1.ApiKey{DisplayName: "for someone else over gRPC", Scopes: []string{"iam.admin"}, Principal: "principals/someone"}})
		return err
	}},
	// A contract's value is a sensitive field: setting it needs vendors.finance (and the method's
	// vendors.write, alsoNeeds).
	{"VendorsService.CreateContract", "vendors.finance", func(ctx context.Context, c *grpc.ClientConn) error {
		_, err := vendorsv1.NewVendorsServiceClient(c).CreateContract(ctx, &vendorsv1.CreateContractRequest{
			Parent: "vendors/nothere", Contract: &vendorsv1.Contract{Title: "Scoped over gRPC",
				TotalValue: &money.Money{CurrencyCode: "EUR", Units: 1000}}})
		return err
	}},
	// A person's pay is a sensitive field: setting it needs talent.compensation (and the method's
	// talent.write, alsoNeeds).
	{"TalentService.CreatePerson", "talent.compensation", func(ctx context.Context, c *grpc.ClientConn) error {
		_, err := talentv1.NewTalentServiceClient(c).CreatePerson(ctx, &talentv1.CreatePersonRequest{
			Person: &talentv1.Person{DisplayName: "Scoped over gRPC", Team: "teams/nothere", EmploymentType: talentv1.Person_EMPLOYEE,
				StartDate: &date.Date{Year: 2026, Month: 1, Day: 5}, LoadedAnnualCost: &money.Money{CurrencyCode: "EUR", Units: 90000}}})
		return err
	}},
}, budgetv1.File_quarterdeck_budget_v1_budget_service_proto.Services().ByName("BudgetService"),
	vendorsv1.File_quarterdeck_vendors_v1_vendors_service_proto.Services().ByName("VendorsService"),
	riskv1.File_quarterdeck_risk_v1_risk_service_proto.Services().ByName("RiskService"),
	riskv1.File_quarterdeck_risk_v1_incident_service_proto.Services().ByName("IncidentService"),
	riskv1.File_quarterdeck_risk_v1_compliance_service_proto.Services().ByName("ComplianceService"),
	talentv1.File_quarterdeck_talent_v1_talent_service_proto.Services().ByName("TalentService"),
	briefingv1.File_quarterdeck_briefing_v1_briefing_service_proto.Services().ByName("BriefingService"))

// allMethods adds to calls every method of the services sds that calls does not list, each
// called with an empty request and needing the scopes its policy declares: authorization comes
// before validation, so with the scope such a call fails with INVALID_ARGUMENT, NOT_FOUND or
// UNIMPLEMENTED (a method not written yet), and without it with PERMISSION_DENIED. A new method
// is covered as soon as it is declared.
func allMethods(calls []grpcCall, sds ...protoreflect.ServiceDescriptor) []grpcCall {
	listed := map[string]bool{}
	for _, c := range calls {
		listed[c.method] = true
	}
	for _, sd := range sds {
		for i := range sd.Methods().Len() {
			md := sd.Methods().Get(i)
			name := string(sd.Name()) + "." + string(md.Name())
			if listed[name] {
				continue
			}
			policy := authz.MethodPolicy(md)
			scopes := policy.GetScopes()
			if policy.GetPublic() && len(scopes) == 0 {
				// A public method (talent's GetCallerTeams) needs no scope: called with every
				// scope but one, whichever, it is never refused.
				scopes = []string{""}
			}
			if len(scopes) != 1 {
				panic(name + " declares " + strings.Join(scopes, ",") + "; the suite expects one scope per method")
			}
			full := "/" + string(sd.FullName()) + "/" + string(md.Name())
			calls = append(calls, grpcCall{name, scopes[0], func(ctx context.Context, c *grpc.ClientConn) error {
				return c.Invoke(ctx, full, dynamicpb.NewMessage(md.Input()), dynamicpb.NewMessage(md.Output()))
			}})
		}
	}
	return calls
}

func TestEachScopeGuardsExactlyItsMethods(t *testing.T) {
	t.Parallel()
	f := startFront(t)
	conn := f.conn(t)
	scopes := map[string]bool{}
	for _, e := range endpoints {
		scopes[e.scope] = true
	}
	grpcScopes := map[string]bool{}
	for _, c := range grpcCalls {
		grpcScopes[c.scope] = true
	}
	for scope := range scopes {
		t.Run("without "+scope, func(t *testing.T) {
			var granted []string
			for _, s := range auth.KnownScopes() {
				if s != scope {
					granted = append(granted, s)
				}
			}
			key := createKey(t, f, granted)
			for _, e := range endpoints {
				r := f.do(t, "Bearer "+key, e.method, e.path, e.body)
				reason, _, meta := errorInfo(r.body)
				switch {
				case e.scope == scope:
					if want := deniedReason(scope); r.code != http.StatusForbidden || reason != want || meta["scope"] != scope {
						t.Errorf("%s %s = %d %v; want 403 %s %s", e.method, e.path, r.code, r.body, want, scope)
					}
				case slices.Contains(alsoNeeds[e.scope], scope):
					if r.code != http.StatusForbidden || meta["scope"] != scope {
						t.Errorf("%s %s = %d %v; want 403 for %s", e.method, e.path, r.code, r.body, scope)
					}
				case r.code == http.StatusForbidden || r.code == http.StatusUnauthorized:
					t.Errorf("%s %s = %d %v; it does not need %s", e.method, e.path, r.code, r.body, scope)
				}
			}
			ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)
			for _, c := range grpcCalls {
				err := c.call(ctx, conn)
				info, _ := rpc.Details(err)
				switch code := status.Code(err); {
				case c.scope == scope:
					if want := deniedReason(scope); code != codes.PermissionDenied || info.GetReason() != want || info.GetMetadata()["scope"] != scope {
						t.Errorf("gRPC %s = %v (%v); want PERMISSION_DENIED %s %s", c.method, err, info, want, scope)
					}
				case slices.Contains(alsoNeeds[c.scope], scope):
					if code != codes.PermissionDenied || info.GetMetadata()["scope"] != scope {
						t.Errorf("gRPC %s = %v (%v); want PERMISSION_DENIED for %s", c.method, err, info, scope)
					}
				case code == codes.PermissionDenied || code == codes.Unauthenticated:
					t.Errorf("gRPC %s = %v (%v); it does not need %s", c.method, err, info, scope)
				}
			}
		})
	}
	// Every declared scope is exercised over both protocols, but a service's ownership admin
	// scope: it guards no method, only the writes of others' resources under the owner write
	// policy, which each service's ownership test exercises (ADR 0014).
	decls, _ := authz.Catalogue(nil, "quarterdeck.")
	for _, s := range auth.KnownScopes() {
		if slices.ContainsFunc(decls, func(d authz.Declaration) bool { return d.Ownership && d.Scopes[0] == s }) {
			continue
		}
		if !scopes[s] || !grpcScopes[s] {
			t.Errorf("scope %s is not exercised over REST (%v) or gRPC (%v)", s, scopes[s], grpcScopes[s])
		}
	}
	for _, s := range []string{"budget.read", "budget.write", "iam.admin", "operations.read", "operations.replay"} {
		if !slices.Contains(auth.KnownScopes(), s) {
			t.Errorf("scope %s is not declared", s)
		}
	}
}

// deniedReason is the ErrorInfo reason of a call refused for lack of scope: a field's write scope
// refuses the field (FIELD_WRITE_DENIED), a method's the call (MISSING_SCOPE).
func deniedReason(scope string) string {
	if _, field := alsoNeeds[scope]; field {
		return authz.ReasonFieldWrite
	}
	return authz.ReasonMissingScope
}

// refusedFirst is the scope a call exercising scope is refused for when the caller has none of
// those it needs: the method's, which is checked before the fields the request sets.
func refusedFirst(scope string) string {
	if method := alsoNeeds[scope]; len(method) > 0 {
		return method[0]
	}
	return scope
}

// createKey creates an API key with scopes through the admin API, as the bootstrap admin.
func createKey(t *testing.T, f *front, scopes []string) string {
	t.Helper()
	key, _ := createNamedKey(t, f, scopes)
	return key
}

// createNamedKey is createKey that also returns the key's resource name (`apiKeys/{id}`).
func createNamedKey(t *testing.T, f *front, scopes []string) (key, name string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"displayName": "test key", "scopes": scopes})
	r := f.do(t, "Bearer "+adminKey, http.MethodPost, "/v1/apiKeys", string(body))
	key, _ = r.body["key"].(string)
	name, _ = r.body["name"].(string)
	if r.code != http.StatusOK || !strings.HasPrefix(key, auth.KeyPrefix) || !strings.HasPrefix(name, "apiKeys/") {
		t.Fatalf("create key = %d %v", r.code, r.body)
	}
	return key, name
}

// A client cannot bring its own identity: the gateway drops any x-quarterdeck-… metadata a
// client sends, even an identity genuinely signed with the key the services trust (one stolen
// from inside the network), and forwards only the one it signs for the caller's credentials.
func TestASmuggledIdentityIsNeverTrusted(t *testing.T) {
	t.Parallel()
	f := startFront(t)
	conn := f.conn(t)
	root := identitytest.Token() // every scope, signed with the key the budget service trusts

	// Control: the budget service itself accepts that identity, so a gateway forwarding it would
	// let the call through.
	direct, err := grpc.NewClient(f.budget, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	ctx := metadata.AppendToOutgoingContext(context.Background(), identity.MetadataKey, root)
	if _, err := budgetv1.NewBudgetServiceClient(direct).ListCostCenters(ctx, &budgetv1.ListCostCentersRequest{}); err != nil {
		t.Fatalf("the genuine identity, sent directly to the service: %v", err)
	}

	narrow := createKey(t, f, []string{"budget.read"})
	writer, writerName := createNamedKey(t, f, []string{"budget.read", "budget.write"})
	smuggled := map[string][]string{
		"forged":               {identity.MetadataKey, "qd1.eyJzdWIiOiJ1c2Vycy9yb290In0.forged"},
		"genuine":              {identity.MetadataKey, root},
		"genuine twice":        {identity.MetadataKey, root, identity.MetadataKey, root},
		"genuine binary":       {identity.MetadataKey + "-bin", root},
		"genuine upper case":   {"X-Quarterdeck-Identity", root},
		"another reserved key": {"x-quarterdeck-principal", "users/root"},
	}
	for name, md := range smuggled {
		t.Run(name, func(t *testing.T) {
			// Without credentials: 401 at the gateway, over gRPC and REST, and the service never
			// sees the call.
			before := f.reached.n.Load()
			anon := metadata.AppendToOutgoingContext(context.Background(), md...)
			for _, c := range grpcCalls {
				err := c.call(anon, conn)
				info, _ := rpc.Details(err)
				if status.Code(err) != codes.Unauthenticated || info.GetReason() != auth.ReasonMissing || info.GetDomain() != auth.ErrorDomain {
					t.Errorf("gRPC %s without credentials = %v (%v); want UNAUTHENTICATED %s", c.method, err, info, auth.ReasonMissing)
				}
			}
			for _, path := range []string{"/v1/costCenters", "/v1/services/budget/auditRecords", "/v1/apiKeys"} {
				r := f.doWith(t, http.MethodGet, path, "", map[string]string{"Grpc-Metadata-" + md[0]: md[1]})
				if reason, _, _ := errorInfo(r.body); r.code != http.StatusUnauthorized || reason != auth.ReasonMissing {
					t.Errorf("REST %s without credentials = %d %v; want 401 %s", path, r.code, r.body, auth.ReasonMissing)
				}
			}
			if n := f.reached.n.Load() - before; n != 0 {
				t.Errorf("%d calls without credentials reached the service", n)
			}

			// With a key of narrow scopes: the key's scopes apply, not the smuggled ones.
			ctx := metadata.AppendToOutgoingContext(anon, "authorization", "Bearer "+narrow)
			for _, c := range grpcCalls {
				err := c.call(ctx, conn)
				info, _ := rpc.Details(err)
				if c.scope == "budget.read" || c.scope == "" {
					if code := status.Code(err); code == codes.PermissionDenied || code == codes.Unauthenticated {
						t.Errorf("gRPC %s with the narrow key = %v; it needs at most budget.read", c.method, err)
					}
				} else if want := refusedFirst(c.scope); status.Code(err) != codes.PermissionDenied || info.GetReason() != "MISSING_SCOPE" || info.GetMetadata()["scope"] != want {
					t.Errorf("gRPC %s with the narrow key = %v (%v); want PERMISSION_DENIED MISSING_SCOPE %s", c.method, err, info, want)
				}
			}
			for _, e := range endpoints {
				r := f.doWith(t, e.method, e.path, e.body, map[string]string{"Authorization": "Bearer " + narrow, "Grpc-Metadata-" + md[0]: md[1]})
				reason, _, _ := errorInfo(r.body)
				if e.scope == "budget.read" {
					if r.code == http.StatusForbidden || r.code == http.StatusUnauthorized {
						t.Errorf("REST %s %s with the narrow key = %d %v", e.method, e.path, r.code, r.body)
					}
				} else if r.code != http.StatusForbidden || reason != "MISSING_SCOPE" {
					t.Errorf("REST %s %s with the narrow key = %d %v; want 403 MISSING_SCOPE", e.method, e.path, r.code, r.body)
				}
			}
		})
	}

	// The service acts for the key, not for the smuggled subject: the audit trail names the key.
	ctx = metadata.AppendToOutgoingContext(context.Background(), identity.MetadataKey, root, "authorization", "Bearer "+writer)
	created, err := budgetv1.NewBudgetServiceClient(conn).CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{
		CostCenter: &budgetv1.CostCenter{DisplayName: "Smuggled", Code: "CC-SMUGGLE"}})
	if err != nil {
		t.Fatalf("create with the writer key: %v", err)
	}
	admin := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+adminKey)
	// The record is listed once the service's sealer has sealed it, a moment after the commit.
	var recs *operationsv1.ListAuditRecordsResponse
	testkit.Eventually(t, 20*time.Second, func() error {
		recs, err = operationsv1.NewOperationsServiceClient(conn).ListAuditRecords(admin, &operationsv1.ListAuditRecordsRequest{
			Parent: "services/budget", Filter: `resource = "` + created.GetName() + `"`})
		if err != nil {
			t.Fatalf("audit records of %s: %v", created.GetName(), err)
		}
		if len(recs.GetAuditRecords()) == 0 {
			return fmt.Errorf("no audit record of %s sealed", created.GetName())
		}
		return nil
	})
	if len(recs.GetAuditRecords()) != 1 {
		t.Fatalf("audit records of %s = %v", created.GetName(), recs)
	}
	if actor := recs.GetAuditRecords()[0].GetActor(); actor != writerName {
		t.Errorf("the create was recorded as %q; want the key %q", actor, writerName)
	}
}

func TestDirectCallsToAServiceNeedAnIdentity(t *testing.T) {
	t.Parallel()
	f := startFront(t)
	conn, err := grpc.NewClient(f.budget, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := budgetv1.NewBudgetServiceClient(conn)

	_, wrongKey, _ := identity.GenerateKey()
	wrong, _ := identity.NewSigner(wrongKey, identity.SignerOptions{})
	p := identity.Principal{Subject: "users/mallory", Scopes: auth.KnownScopes()}
	cases := map[string]struct {
		md     []string
		reason string
	}{
		"no identity":           {nil, rpc.ReasonIdentityMissing},
		"signed by another key": {[]string{identity.MetadataKey, mustSign(t, wrong, p)}, rpc.ReasonIdentityInvalid},
		"expired":               {[]string{identity.MetadataKey, expiredToken(t, f, p)}, rpc.ReasonIdentityExpired},
		"an API key instead":    {[]string{identity.MetadataKey, adminKey}, rpc.ReasonIdentityInvalid},
		"a bearer header only":  {[]string{"authorization", "Bearer " + adminKey}, rpc.ReasonIdentityMissing},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(context.Background(), tc.md...)
			_, err := client.ListCostCenters(ctx, &budgetv1.ListCostCentersRequest{})
			info, _ := rpc.Details(err)
			if status.Code(err) != codes.Unauthenticated || info.GetReason() != tc.reason {
				t.Fatalf("= %v (%v); want UNAUTHENTICATED %s", status.Code(err), info, tc.reason)
			}
		})
	}
	// The gateway's signature is what makes the difference.
	ctx := metadata.AppendToOutgoingContext(context.Background(), identity.MetadataKey, mustSign(t, f.signer, p))
	if _, err := client.ListCostCenters(ctx, &budgetv1.ListCostCentersRequest{}); err != nil {
		t.Fatalf("with the gateway's identity: %v", err)
	}
}

// expiredToken signs p with the gateway's key as it was two minutes ago.
func expiredToken(t *testing.T, f *front, p identity.Principal) string {
	t.Helper()
	return mustSign(t, f.signerAt(t, time.Now().Add(-2*time.Minute)), p)
}

func (f *front) signerAt(t *testing.T, at time.Time) *identity.Signer {
	t.Helper()
	s, err := identity.NewSigner(f.priv, identity.SignerOptions{Now: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The per-caller rate limit with real API keys: a key's REST and gRPC calls draw on one
// bucket, the calls above the burst are refused at the gateway (429 with Retry-After,
// RESOURCE_EXHAUSTED with a retry-after header) and never reach the service, and another key
// has a bucket of its own.
func TestRateLimitPerKeyAcrossProtocols(t *testing.T) {
	t.Parallel()
	// One call a minute after a burst of three: the test's calls beyond the burst are over the
	// limit whatever the machine's speed.
	const burst = 3
	f := startFrontWith(t, frontOptions{settings: gateway.Settings{RateLimitPerKey: 1, RateLimitPerKeyBurst: burst}})
	conn := f.conn(t)
	// The bootstrap admin's burst goes on these three keys.
	alice := createKey(t, f, []string{"budget.read"})
	bob := createKey(t, f, []string{"budget.read"})
	carol := createKey(t, f, []string{"budget.read"})

	// viaREST and viaGRPC make one call as key, and report whether it passed the limit, checking
	// the refusal's shape.
	viaREST := func(key string) bool {
		r := f.do(t, "Bearer "+key, http.MethodGet, "/v1/costCenters", "")
		if r.code == http.StatusOK {
			return true
		}
		reason, domain, _ := errorInfo(r.body)
		if r.code != http.StatusTooManyRequests || reason != gateway.ReasonRateLimited || domain != gateway.ErrorDomain {
			t.Errorf("REST = %d %v; want 200 or 429 %s", r.code, r.body, gateway.ReasonRateLimited)
		}
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
			t.Errorf("429 Retry-After = %q", r.header.Get("Retry-After"))
		}
		if !hasRetryInfo(r.body) {
			t.Errorf("429 without RetryInfo: %v", r.body)
		}
		return false
	}
	viaGRPC := func(key string) bool {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+key)
		var header, trailer metadata.MD
		_, err := budgetv1.NewBudgetServiceClient(conn).ListCostCenters(ctx, &budgetv1.ListCostCentersRequest{},
			grpc.Header(&header), grpc.Trailer(&trailer))
		if err == nil {
			return true
		}
		st := status.Convert(err)
		info, _ := rpc.Details(err)
		if st.Code() != codes.ResourceExhausted || info.GetReason() != gateway.ReasonRateLimited {
			t.Errorf("gRPC = %v (%v); want OK or RESOURCE_EXHAUSTED %s", err, info, gateway.ReasonRateLimited)
		}
		retry := append(header.Get("retry-after"), trailer.Get("retry-after")...)
		if len(retry) == 0 {
			t.Errorf("RESOURCE_EXHAUSTED without a retry-after header (header %v, trailer %v)", header, trailer)
		}
		var hasInfo bool
		for _, d := range st.Details() {
			if _, ok := d.(*errdetails.RetryInfo); ok {
				hasInfo = true
			}
		}
		if !hasInfo {
			t.Errorf("RESOURCE_EXHAUSTED without RetryInfo: %v", st.Details())
		}
		return false
	}

	// Alternating protocols, one bucket: the burst, then refusals on both.
	before := f.reached.n.Load()
	var got []bool
	for i := range 2 * burst {
		if i%2 == 0 {
			got = append(got, viaREST(alice))
		} else {
			got = append(got, viaGRPC(alice))
		}
	}
	if want := []bool{true, true, true, false, false, false}; !slices.Equal(got, want) {
		t.Errorf("alice's REST, gRPC, REST, … passed = %v; want %v", got, want)
	}
	if n := f.reached.n.Load() - before; n != burst {
		t.Errorf("%d of alice's calls reached the service; want %d", n, burst)
	}
	// Another key is not slowed down by alice.
	if !viaREST(bob) || !viaGRPC(bob) {
		t.Error("bob's calls were refused")
	}

	// A concurrent burst over both protocols: exactly the burst passes.
	before = f.reached.n.Load()
	var passed atomic.Int32
	var wg sync.WaitGroup
	for i := range 4 * burst {
		wg.Go(func() {
			ok := false
			if i%2 == 0 {
				ok = viaREST(carol)
			} else {
				ok = viaGRPC(carol)
			}
			if ok {
				passed.Add(1)
			}
		})
	}
	wg.Wait()
	if passed.Load() != burst {
		t.Errorf("%d of %d concurrent calls passed; want the burst, %d", passed.Load(), 4*burst, burst)
	}
	if n := f.reached.n.Load() - before; n != burst {
		t.Errorf("%d of carol's calls reached the service; want %d", n, burst)
	}
}

// hasRetryInfo reports whether an error body carries a google.rpc.RetryInfo.
func hasRetryInfo(body map[string]any) bool {
	ds, _ := body["details"].([]any)
	for _, d := range ds {
		if d, _ := d.(map[string]any); d["@type"] == "type.googleapis.com/google.rpc.RetryInfo" {
			return true
		}
	}
	return false
}

// A gateway started without an Authenticator (gateway.New allows it, for tests, with a warning)
// fails closed: it forwards no identity, so the services refuse every call, whatever identity a
// client tries to bring along.
func TestAGatewayWithoutAuthenticatorFailsClosed(t *testing.T) {
	t.Parallel()
	f := startFrontWith(t, frontOptions{noAuthenticator: true,
		settings: gateway.Settings{RateLimitPerKey: 1, RateLimitPerKeyBurst: 1}})
	conn := f.conn(t)
	root := identitytest.Token()
	for name, md := range map[string][]string{
		"nothing":                  nil,
		"the admin key":            {"authorization", "Bearer " + adminKey},
		"a genuine identity":       {identity.MetadataKey, root},
		"key and genuine identity": {"authorization", "Bearer " + adminKey, identity.MetadataKey, root},
	} {
		t.Run(name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(context.Background(), md...)
			// Two calls of each: without a caller there is no per-caller bucket to run dry.
			for range 2 {
				for _, c := range grpcCalls {
					err := c.call(ctx, conn)
					info, _ := rpc.Details(err)
					if status.Code(err) != codes.Unauthenticated || info.GetReason() != rpc.ReasonIdentityMissing {
						t.Errorf("gRPC %s = %v (%v); want UNAUTHENTICATED %s from the service", c.method, err, info, rpc.ReasonIdentityMissing)
					}
				}
			}
			header := map[string]string{}
			for i := 0; i+1 < len(md); i += 2 {
				if md[i] == "authorization" {
					header["Authorization"] = md[i+1]
				} else {
					header["Grpc-Metadata-"+md[i]] = md[i+1]
				}
			}
			for range 2 {
				for _, e := range endpoints {
					r := f.doWith(t, e.method, e.path, e.body, header)
					if reason, _, _ := errorInfo(r.body); r.code != http.StatusUnauthorized || reason != rpc.ReasonIdentityMissing {
						t.Errorf("REST %s %s = %d %v; want 401 %s", e.method, e.path, r.code, r.body, rpc.ReasonIdentityMissing)
					}
				}
			}
		})
	}
}

// Reflection, when turned on, answers without credentials (it describes the API, as the public
// OpenAPI document does), while every call it describes still needs them.
func TestReflectionIsPublicButTheAPIIsNot(t *testing.T) {
	t.Parallel()
	f := startFrontWith(t, frontOptions{reflection: true})
	conn := f.conn(t)
	stream, err := reflectionv1.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}}); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err) // on io.EOF the server ended the stream: Recv returns its status
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("reflection without credentials: %v", err)
	}
	_ = stream.CloseSend()
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !slices.Contains(names, "quarterdeck.iam.v1.ApiKeyService") || !slices.Contains(names, "quarterdeck.budget.v1.BudgetService") {
		t.Errorf("reflection lists %v", names)
	}
	before := f.reached.n.Load()
	for _, c := range grpcCalls {
		err := c.call(context.Background(), conn)
		if info, _ := rpc.Details(err); status.Code(err) != codes.Unauthenticated || info.GetReason() != auth.ReasonMissing {
			t.Errorf("gRPC %s without credentials on a port with reflection = %v", c.method, err)
		}
	}
	if n := f.reached.n.Load() - before; n != 0 {
		t.Errorf("%d calls without credentials reached the service", n)
	}
}
