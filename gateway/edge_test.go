package gateway_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/quarterdeck/quarterdeck/gateway"
	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// --- a recording backend ---

// seen is what a backend call received.
type seen struct {
	md       metadata.MD
	deadline time.Time
}

// recorder is a budget and operations service that records the metadata and deadline of each
// call, so that tests can see exactly what the gateway forwards.
type recorder struct {
	budgetv1.UnimplementedBudgetServiceServer
	operationsv1.UnimplementedOperationsServiceServer
	mu    sync.Mutex
	calls []seen
}

func (r *recorder) record(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	d, _ := ctx.Deadline()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, seen{md: md, deadline: d})
}

func (r *recorder) last(t *testing.T) seen {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.calls) == 0 {
		t.Fatal("no call reached the service")
	}
	return r.calls[len(r.calls)-1]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.calls)
}

func (r *recorder) GetCostCenter(ctx context.Context, req *budgetv1.GetCostCenterRequest) (*budgetv1.CostCenter, error) {
	r.record(ctx)
	if req.GetName() == "costCenters/missing" {
		st, _ := status.New(codes.NotFound, "no such cost centre").WithDetails(
			&errdetails.ErrorInfo{Reason: "COST_CENTER_NOT_FOUND", Domain: "budget.quarterdeck.io"})
		return nil, st.Err()
	}
	return &budgetv1.CostCenter{Name: req.GetName(), DisplayName: "Recorded"}, nil
}

func (r *recorder) ListDeadLetters(ctx context.Context, req *operationsv1.ListDeadLettersRequest) (*operationsv1.ListDeadLettersResponse, error) {
	r.record(ctx)
	return &operationsv1.ListDeadLettersResponse{NextPageToken: "from-" + req.GetParent()}, nil
}

// startRecorder serves a recorder, and whatever else register adds, on a loopback port.
func startRecorder(t testing.TB, register ...func(*grpc.Server)) (*recorder, string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	s := grpc.NewServer()
	budgetv1.RegisterBudgetServiceServer(s, rec)
	operationsv1.RegisterOperationsServiceServer(s, rec)
	for _, r := range register {
		r(s)
	}
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return rec, lis.Addr().String()
}

// fakeAuth accepts "Bearer good-<subject>" and forwards the subject as the internal identity.
type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, authorization string) (identity.Principal, metadata.MD, error) {
	subject, ok := strings.CutPrefix(authorization, "Bearer good-")
	if !ok {
		st, _ := status.New(codes.Unauthenticated, "no valid credentials").WithDetails(
			&errdetails.ErrorInfo{Reason: "CREDENTIALS_INVALID", Domain: "auth.quarterdeck.io"})
		return identity.Principal{}, nil, st.Err()
	}
	return identity.Principal{Subject: "apiKeys/" + subject}, metadata.Pairs("x-quarterdeck-identity", "signed:"+subject), nil
}

// edge is a gateway served on a real port (h2c, or TLS) in front of backend.
type edge struct {
	gw   *gateway.Gateway
	addr string
	url  string
}

func startEdge(t *testing.T, backend string, opts gateway.Options) *edge {
	t.Helper()
	opts.Backends = oneBackend(backend)
	opts.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	if opts.Authenticator == nil {
		// Real services verify the caller's identity; the test authenticator signs one.
		opts.Authenticator = identitytest.Authenticator{}
	}
	gw, err := gateway.New(context.Background(), opts)
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
			t.Errorf("shutdown: %v", err)
		}
		if err := <-served; err != http.ErrServerClosed {
			t.Errorf("serve: %v", err)
		}
		gw.Close()
	})
	scheme := "http://"
	if gw.TLS() {
		scheme = "https://"
	}
	return &edge{gw: gw, addr: lis.Addr().String(), url: scheme + lis.Addr().String()}
}

func (e *edge) grpcConn(t *testing.T, creds credentials.TransportCredentials) *grpc.ClientConn {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	conn, err := grpc.NewClient(e.addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// do sends a request with headers and returns the response with its body read.
func do(t *testing.T, client *http.Client, method, url string, body io.Reader, header map[string]string) (*http.Response, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{body: map[string]any{}}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") && len(raw) > 0 {
		_ = json.Unmarshal(raw, &r.body)
	}
	return resp, r.body
}

func grpcReason(err error) string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.GetReason()
		}
	}
	return ""
}

// --- tests ---

// jsonType is the header of a JSON request body.
var jsonType = map[string]string{"Content-Type": "application/json"}

func TestHostileInput(t *testing.T) {
	t.Parallel()
	_, backend := startRecorder(t)
	e := startEdge(t, backend, gateway.Options{Settings: gateway.Settings{
		MaxBodyBytes: 1024, MaxHeaderBytes: 4096, MaxURLBytes: 512,
	}})
	big := strings.Repeat("x", 2048)
	tests := []struct {
		name   string
		method string
		path   string
		body   io.Reader
		header map[string]string
		code   int
		reason string
	}{
		{"oversize body", "POST", "/v1/costCenters", strings.NewReader(`{"displayName":"` + big + `"}`), jsonType, 413, gateway.ReasonBodyTooLarge},
		// No Content-Length: the cap stops the read instead.
		{"oversize chunked body", "POST", "/v1/costCenters", io.MultiReader(strings.NewReader(`{"displayName":"` + big + `"}`)), jsonType, 413, gateway.ReasonBodyTooLarge},
		{"oversize header", "GET", "/v1/costCenters/a", nil, map[string]string{"X-Padding": strings.Repeat("p", 5000)}, 431, gateway.ReasonHeadersTooLarge},
		{"long URL", "GET", "/v1/costCenters/a?pageToken=" + strings.Repeat("t", 600), nil, nil, 414, gateway.ReasonURITooLong},
		{"unknown JSON field", "POST", "/v1/costCenters", strings.NewReader(`{"displayName":"X","colour":"red"}`), jsonType, 400, "INVALID_ARGUMENT"},
		// Lax parsing: one JSON value, of media type JSON, and one set of credentials.
		{"trailing bytes after the JSON body", "POST", "/v1/costCenters", strings.NewReader(`{"displayName":"X","code":"CC-1"}{"code":"CC-2"}`), jsonType, 400, gateway.ReasonTrailingData},
		{"trailing garbage after the JSON body", "POST", "/v1/costCenters", strings.NewReader("{\"displayName\":\"X\"} x"), jsonType, 400, gateway.ReasonTrailingData},
		{"text/plain body", "POST", "/v1/costCenters", strings.NewReader(`{"displayName":"X"}`), map[string]string{"Content-Type": "text/plain"}, 415, gateway.ReasonUnsupportedMediaType},
		{"form body", "POST", "/v1/costCenters", strings.NewReader(`{"displayName":"X"}`), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, gateway.ReasonUnsupportedMediaType},
		{"body without a Content-Type", "POST", "/v1/costCenters", strings.NewReader(`{"displayName":"X"}`), nil, 415, gateway.ReasonUnsupportedMediaType},
		{"JSON in another charset", "POST", "/v1/costCenters", strings.NewReader(`{"displayName":"X"}`), map[string]string{"Content-Type": "application/json; charset=latin1"}, 415, gateway.ReasonUnsupportedMediaType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, nil, tt.method, e.url+tt.path, tt.body, tt.header)
			reason, _ := details(t, body)
			if resp.StatusCode != tt.code || reason != tt.reason {
				t.Errorf("got %d %s, want %d %s: %v", resp.StatusCode, reason, tt.code, tt.reason, body)
			}
			if _, ok := body["message"].(string); !ok {
				t.Errorf("error body is not a google.rpc.Status: %v", body)
			}
		})
	}
}

func TestRateLimits(t *testing.T) {
	t.Parallel()
	rec, backend := startRecorder(t)

	t.Run("per address", func(t *testing.T) {
		// One call a minute after a burst of two: the third and later calls in the test's few
		// milliseconds are over the limit, whatever the machine's speed.
		e := startEdge(t, backend, gateway.Options{Settings: gateway.Settings{RateLimitPerIP: 1, RateLimitPerIPBurst: 2}})
		var got []int
		for range 5 {
			resp, body := do(t, nil, "GET", e.url+"/v1/costCenters/a", nil, nil)
			got = append(got, resp.StatusCode)
			if resp.StatusCode == http.StatusTooManyRequests {
				if reason, _ := details(t, body); reason != gateway.ReasonRateLimited {
					t.Errorf("429 reason = %q: %v", reason, body)
				}
				if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || s < 1 || s > 60 {
					t.Errorf("Retry-After = %q", resp.Header.Get("Retry-After"))
				}
			}
		}
		if want := []int{200, 200, 429, 429, 429}; !slices.Equal(got, want) {
			t.Errorf("codes = %v, want %v", got, want)
		}
		// The gRPC calls of the address share its bucket.
		_, err := budgetv1.NewBudgetServiceClient(e.grpcConn(t, nil)).GetCostCenter(context.Background(), &budgetv1.GetCostCenterRequest{Name: "costCenters/a"})
		if status.Code(err) != codes.ResourceExhausted || grpcReason(err) != gateway.ReasonRateLimited {
			t.Errorf("gRPC over the limit = %v", err)
		}
	})

	t.Run("per caller", func(t *testing.T) {
		e := startEdge(t, backend, gateway.Options{Authenticator: fakeAuth{},
			Settings: gateway.Settings{RateLimitPerKey: 1, RateLimitPerKeyBurst: 1}})
		get := func(key string) int {
			resp, _ := do(t, nil, "GET", e.url+"/v1/costCenters/a", nil, map[string]string{"Authorization": "Bearer good-" + key})
			return resp.StatusCode
		}
		if got := []int{get("alice"), get("alice"), get("bob")}; !slices.Equal(got, []int{200, 429, 200}) {
			t.Errorf("alice, alice, bob = %v, want 200 429 200", got)
		}
		client := budgetv1.NewBudgetServiceClient(e.grpcConn(t, nil))
		ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer good-carol")
		if _, err := client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/a"}); err != nil {
			t.Errorf("carol's first gRPC call: %v", err)
		}
		before := rec.count()
		_, err := client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/a"})
		if status.Code(err) != codes.ResourceExhausted || grpcReason(err) != gateway.ReasonRateLimited {
			t.Errorf("carol's second gRPC call = %v", err)
		}
		if rec.count() != before {
			t.Error("a call over the limit reached the service")
		}
	})
}

func TestCORS(t *testing.T) {
	t.Parallel()
	_, backend := startRecorder(t)
	e := startEdge(t, backend, gateway.Options{Settings: gateway.Settings{
		CORSAllowedOrigins: []string{"https://portal.example.com"},
	}})
	preflight := func(origin string) *http.Response {
		resp, _ := do(t, nil, "OPTIONS", e.url+"/v1/costCenters", nil, map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST",
			"Access-Control-Request-Headers": "authorization, content-type",
		})
		return resp
	}
	ok := preflight("https://portal.example.com")
	if ok.StatusCode != http.StatusNoContent || ok.Header.Get("Access-Control-Allow-Origin") != "https://portal.example.com" ||
		!strings.Contains(ok.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(strings.ToLower(ok.Header.Get("Access-Control-Allow-Headers")), "authorization") {
		t.Errorf("allowed preflight = %d %v", ok.StatusCode, ok.Header)
	}
	bad := preflight("https://evil.example.com")
	if bad.StatusCode != http.StatusForbidden {
		t.Errorf("disallowed preflight = %d", bad.StatusCode)
	}
	for k := range bad.Header {
		if strings.HasPrefix(k, "Access-Control-") {
			t.Errorf("disallowed preflight has %s", k)
		}
	}
	resp, _ := do(t, nil, "GET", e.url+"/v1/costCenters/a", nil, map[string]string{"Origin": "https://portal.example.com"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "https://portal.example.com" || !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "X-Request-Id") {
		t.Errorf("allowed GET headers = %v", resp.Header)
	}
	resp, _ = do(t, nil, "GET", e.url+"/v1/costCenters/a", nil, map[string]string{"Origin": "https://evil.example.com"})
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("disallowed GET has Access-Control-Allow-Origin %q", resp.Header.Get("Access-Control-Allow-Origin"))
	}
}

func TestAuthenticationAndForwardedMetadata(t *testing.T) {
	t.Parallel()
	rec, backend := startRecorder(t)
	e := startEdge(t, backend, gateway.Options{Authenticator: fakeAuth{}, Settings: gateway.Settings{CallTimeout: time.Hour}})
	client := budgetv1.NewBudgetServiceClient(e.grpcConn(t, nil))

	// Without valid credentials nothing reaches the service, over either protocol.
	resp, body := do(t, nil, "GET", e.url+"/v1/costCenters/a", nil, map[string]string{"Authorization": "Bearer forged"})
	if reason, _ := details(t, body); resp.StatusCode != 401 || reason != "CREDENTIALS_INVALID" {
		t.Errorf("REST with bad credentials = %d %v", resp.StatusCode, body)
	}
	_, err := client.GetCostCenter(context.Background(), &budgetv1.GetCostCenterRequest{Name: "costCenters/a"})
	if status.Code(err) != codes.Unauthenticated || grpcReason(err) != "CREDENTIALS_INVALID" {
		t.Errorf("gRPC without credentials = %v", err)
	}
	if rec.count() != 0 {
		t.Fatalf("%d unauthenticated calls reached the service", rec.count())
	}

	// REST: the signed identity is forwarded; the client's credentials and a forged identity
	// are not; the conventions' headers are.
	resp, body = do(t, nil, "GET", e.url+"/v1/costCenters/a", nil, map[string]string{
		"Authorization":                        "Bearer good-alice",
		"Grpc-Metadata-X-Quarterdeck-Identity": "forged",
		"Idempotency-Key":                      "key-1",
		"X-Request-Id":                         "req-1",
	})
	if resp.StatusCode != 200 || body["displayName"] != "Recorded" || resp.Header.Get("X-Request-Id") != "req-1" {
		t.Fatalf("REST = %d %v %v", resp.StatusCode, body, resp.Header)
	}
	checkForwarded(t, rec.last(t), "signed:alice", map[string]string{"idempotency-key": "key-1", "x-request-id": "req-1"}, time.Hour)

	// gRPC: the same rules, and the client's shorter deadline is kept.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer good-bob",
		"x-quarterdeck-identity", "forged", "x-quarterdeck-identity-sig", "forged", "if-match", `"e1"`)
	var header metadata.MD
	cc, err := client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/b"}, grpc.Header(&header))
	if err != nil || cc.GetDisplayName() != "Recorded" {
		t.Fatalf("gRPC = %v, %v", cc, err)
	}
	if len(header.Get("x-request-id")) != 1 {
		t.Errorf("gRPC response header has no request id: %v", header)
	}
	checkForwarded(t, rec.last(t), "signed:bob", map[string]string{"if-match": `"e1"`}, time.Minute)

	// The service's errors reach the client with their details.
	_, err = client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/missing"})
	if status.Code(err) != codes.NotFound || grpcReason(err) != "COST_CENTER_NOT_FOUND" {
		t.Errorf("gRPC error = %v", err)
	}
	resp, body = do(t, nil, "GET", e.url+"/v1/costCenters/missing", nil, map[string]string{"Authorization": "Bearer good-alice"})
	if reason, _ := details(t, body); resp.StatusCode != 404 || reason != "COST_CENTER_NOT_FOUND" {
		t.Errorf("REST error = %d %v", resp.StatusCode, body)
	}
}

// checkForwarded asserts the metadata and deadline a call reached the service with.
func checkForwarded(t *testing.T, s seen, identity string, want map[string]string, maxDeadline time.Duration) {
	t.Helper()
	if got := s.md.Get("x-quarterdeck-identity"); !slices.Equal(got, []string{identity}) {
		t.Errorf("x-quarterdeck-identity = %v, want only %q", got, identity)
	}
	if got := s.md.Get("x-quarterdeck-identity-sig"); len(got) > 0 {
		t.Errorf("a client-set reserved key was forwarded: %v", got)
	}
	for k := range s.md {
		if strings.Contains(k, "authorization") {
			t.Errorf("the client's credentials were forwarded as %s", k)
		}
	}
	for k, v := range want {
		if got := s.md.Get(k); !slices.Equal(got, []string{v}) {
			t.Errorf("%s = %v, want %q", k, got, v)
		}
	}
	if left := time.Until(s.deadline); s.deadline.IsZero() || left > maxDeadline {
		t.Errorf("deadline in %v, want at most %v", left, maxDeadline)
	}
}

func TestGRPCPassThroughAndReflection(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, testenv.SQLite(t))
	for _, reflect := range []bool{true, false} {
		t.Run("reflection "+strconv.FormatBool(reflect), func(t *testing.T) {
			e := startEdge(t, p.backend, gateway.Options{Reflection: reflect})
			conn := e.grpcConn(t, nil)
			services, err := listServices(conn)
			if !reflect {
				if status.Code(err) != codes.Unimplemented {
					t.Errorf("reflection off: ListServices = %v, %v", services, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"quarterdeck.budget.v1.BudgetService", "quarterdeck.operations.v1.OperationsService"} {
				if !slices.Contains(services, want) {
					t.Errorf("reflection lists %v, not %s", services, want)
				}
			}
			if n, err := fileDescriptors(conn, "quarterdeck.budget.v1.BudgetService"); err != nil || n == 0 {
				t.Errorf("descriptors of BudgetService: %d, %v", n, err)
			}
		})
	}

	// The real budget service behind the gateway's port: responses and errors with details.
	e := startEdge(t, p.backend, gateway.Options{})
	client := budgetv1.NewBudgetServiceClient(e.grpcConn(t, nil))
	ctx := context.Background()
	created, err := client.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{CostCenter: &budgetv1.CostCenter{DisplayName: "Edge", Code: "CC-EDGE"}})
	if err != nil || !strings.HasPrefix(created.GetName(), "costCenters/") {
		t.Fatalf("create through the gateway = %v, %v", created, err)
	}
	_, err = client.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{CostCenter: &budgetv1.CostCenter{Code: "CC-X"}})
	st := status.Convert(err)
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	if st.Code() != codes.InvalidArgument || !slices.Equal(fields, []string{"cost_center.display_name"}) {
		t.Errorf("invalid create = %v, violations %v", err, fields)
	}
	_, err = client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/ghost"})
	if status.Code(err) != codes.NotFound || grpcReason(err) != "COST_CENTER_NOT_FOUND" {
		t.Errorf("get missing = %v", err)
	}

	// A request whose strings are not UTF-8, as a client whose protobuf library does not check
	// them sends it: refused by the service's text rule on the field, not by gRPC's decoding
	// (INTERNAL); a call routed by its resource (OperationsService) is routed all the same.
	conn := e.grpcConn(t, nil)
	for _, c := range []struct {
		method string
		msg    proto.Message
		field  string
	}{
		{"/quarterdeck.budget.v1.BudgetService/CreateCostCenter",
			&budgetv1.CreateCostCenterRequest{CostCenter: &budgetv1.CostCenter{DisplayName: "@1 Edge", Code: "CC-UTF"}}, "cost_center.display_name"},
		{"/quarterdeck.operations.v1.OperationsService/ListAuditRecords",
			&operationsv1.ListAuditRecordsRequest{Parent: "services/budget", PageToken: "@1"}, "page_token"},
	} {
		b, err := proto.Marshal(c.msg)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.Replace(b, []byte("@1"), []byte("\xff1"), 1)
		err = testkit.InvokeRaw(ctx, conn, c.method, b)
		var fields []string
		for _, d := range status.Convert(err).Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				for _, v := range br.GetFieldViolations() {
					fields = append(fields, v.GetField()+":"+v.GetReason())
				}
			}
		}
		if status.Code(err) != codes.InvalidArgument || !slices.Equal(fields, []string{c.field + ":INVALID_UTF8"}) {
			t.Errorf("%s with a string not UTF-8 = %v, violations %v; want %s:INVALID_UTF8", c.method, err, fields, c.field)
		}
	}

	// A request that is not protobuf at all is the client's error too, whichever way it is routed.
	for _, method := range []string{"/quarterdeck.budget.v1.BudgetService/CreateCostCenter", "/quarterdeck.operations.v1.OperationsService/ListAuditRecords"} {
		err := testkit.InvokeRaw(ctx, conn, method, []byte("\x0a\xff"))
		if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.HasPrefix(st.Message(), "the request message cannot be decoded: proto: ") {
			t.Errorf("%s with a request that is not protobuf = %v; want INVALID_ARGUMENT saying why", method, err)
		}
	}

	// If-Match as gRPC metadata is the delete's etag: a stale one is refused.
	stale := metadata.AppendToOutgoingContext(ctx, "if-match", `"0000"`)
	_, err = client.DeleteCostCenter(stale, &budgetv1.DeleteCostCenterRequest{Name: created.GetName()})
	if status.Code(err) != codes.Aborted || grpcReason(err) != "ETAG_MISMATCH" {
		t.Errorf("delete with a stale If-Match = %v", err)
	}
	current := metadata.AppendToOutgoingContext(ctx, "if-match", `"`+created.GetEtag()+`"`)
	if _, err := client.DeleteCostCenter(current, &budgetv1.DeleteCostCenterRequest{Name: created.GetName()}); err != nil {
		t.Errorf("delete with the current If-Match: %v", err)
	}
}

func TestOperationsRoutedByResource(t *testing.T) {
	t.Parallel()
	rec, backend := startRecorder(t)
	e := startEdge(t, backend, gateway.Options{})
	client := operationsv1.NewOperationsServiceClient(e.grpcConn(t, nil))
	resp, err := client.ListDeadLetters(context.Background(), &operationsv1.ListDeadLettersRequest{Parent: "services/budget"})
	if err != nil || resp.GetNextPageToken() != "from-services/budget" || rec.count() != 1 {
		t.Errorf("ListDeadLetters(services/budget) = %v, %v (%d calls)", resp, err, rec.count())
	}
	_, err = client.ListDeadLetters(context.Background(), &operationsv1.ListDeadLettersRequest{Parent: "services/nowhere"})
	if status.Code(err) != codes.InvalidArgument || grpcReason(err) != gateway.ReasonServiceUnroutable {
		t.Errorf("ListDeadLetters(services/nowhere) = %v", err)
	}
}

func TestRESTEdgeConventions(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, testenv.SQLite(t))
	e := startEdge(t, p.backend, gateway.Options{})
	resp, cc := do(t, nil, "POST", e.url+"/v1/costCenters", strings.NewReader(`{"displayName":"Conv","code":"CC-CONV"}`),
		map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 200 {
		t.Fatalf("create = %d %v", resp.StatusCode, cc)
	}
	name, etag := cc["name"].(string), cc["etag"].(string)
	with := func(k, v string) map[string]string {
		return map[string]string{"Content-Type": "application/json", k: v}
	}

	// If-Match on an update is the resource's etag; conflicting with the body's is a 400.
	resp, body := do(t, nil, "PATCH", e.url+"/v1/"+name, strings.NewReader(`{"owner":"a@example.com"}`), with("If-Match", `"0000"`))
	if reason, _ := details(t, body); resp.StatusCode != 409 || reason != "ETAG_MISMATCH" {
		t.Errorf("PATCH with a stale If-Match = %d %v", resp.StatusCode, body)
	}
	resp, body = do(t, nil, "PATCH", e.url+"/v1/"+name, strings.NewReader(`{"owner":"a@example.com","etag":"`+etag+`"}`), with("If-Match", `"0000"`))
	if _, fields := details(t, body); resp.StatusCode != 400 || !slices.Equal(fields, []string{"cost_center.etag:IF_MATCH_CONFLICT"}) {
		t.Errorf("PATCH with If-Match and another body etag = %d %v", resp.StatusCode, body)
	}
	resp, body = do(t, nil, "PATCH", e.url+"/v1/"+name, strings.NewReader(`{"owner":"a@example.com"}`), with("If-Match", `"`+etag+`"`))
	if resp.StatusCode != 200 || body["owner"] != "a@example.com" {
		t.Errorf("PATCH with the current If-Match = %d %v", resp.StatusCode, body)
	}
	// A page size above the maximum is lowered, not refused.
	if resp, body := do(t, nil, "GET", e.url+"/v1/costCenters?pageSize=100000", nil, nil); resp.StatusCode != 200 {
		t.Errorf("list with a huge page size = %d %v", resp.StatusCode, body)
	}
}

func TestTLS(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, testenv.SQLite(t))
	certFile, keyFile, pool := selfSigned(t)
	e := startEdge(t, p.backend, gateway.Options{Settings: gateway.Settings{TLSCertFile: certFile, TLSKeyFile: keyFile}})
	if !strings.HasPrefix(e.url, "https://") {
		t.Fatalf("url = %s", e.url)
	}
	for _, h2 := range []bool{false, true} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: h2}
		if !h2 {
			tr.TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
		}
		client := &http.Client{Transport: tr}
		resp, body := do(t, client, "GET", e.url+"/v1/costCenters", nil, nil)
		if resp.StatusCode != 200 || resp.ProtoMajor != map[bool]int{false: 1, true: 2}[h2] {
			t.Errorf("REST over TLS (h2 %v) = %s %d %v", h2, resp.Proto, resp.StatusCode, body)
		}
		tr.CloseIdleConnections()
	}
	conn := e.grpcConn(t, credentials.NewTLS(&tls.Config{RootCAs: pool}))
	if _, err := budgetv1.NewBudgetServiceClient(conn).ListCostCenters(context.Background(), &budgetv1.ListCostCentersRequest{}); err != nil {
		t.Errorf("gRPC over TLS: %v", err)
	}
	// Cleartext is not served on a TLS port.
	if resp, err := http.Get("http://" + e.addr + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("cleartext HTTP answered on the TLS port")
		}
	}
}

func TestDocsPage(t *testing.T) {
	t.Parallel()
	_, backend := startRecorder(t)
	e := startEdge(t, backend, gateway.Options{})
	resp, err := http.Get(e.url + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	html, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/docs = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Errorf("CSP = %q", resp.Header.Get("Content-Security-Policy"))
	}
	if m := regexp.MustCompile(`(?i)(https?:)?//[a-z0-9]`).Find(html); m != nil {
		t.Errorf("the page refers to another host (%s):\n%s", m, html)
	}
	assets := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllSubmatch(html, -1)
	if len(assets) < 3 {
		t.Fatalf("assets = %q", assets)
	}
	for _, a := range assets {
		u := e.url + "/docs/" + string(a[1])
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(data) == 0 {
			t.Errorf("%s = %d (%d bytes)", u, resp.StatusCode, len(data))
		}
	}
	init, _ := http.Get(e.url + "/docs/init.js")
	js, _ := io.ReadAll(init.Body)
	init.Body.Close()
	if !strings.Contains(string(js), `"/openapi.json"`) {
		t.Errorf("init.js does not load /openapi.json:\n%s", js)
	}
}

// --- helpers ---

func listServices(conn *grpc.ClientConn) ([]string, error) {
	resp, err := reflectionCall(conn, &reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}})
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names, nil
}

func fileDescriptors(conn *grpc.ClientConn, symbol string) (int, error) {
	resp, err := reflectionCall(conn, &reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol}})
	if err != nil {
		return 0, err
	}
	if e := resp.GetErrorResponse(); e != nil {
		return 0, status.Error(codes.Code(e.GetErrorCode()), e.GetErrorMessage())
	}
	return len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()), nil
}

// reflectionCall sends one request on a reflection stream and returns its answer. A server that
// ends the stream at once (reflection off) can do so before the request is sent: Send then
// returns io.EOF, and the stream's status is what Recv returns.
func reflectionCall(conn *grpc.ClientConn, req *reflectionv1.ServerReflectionRequest) (*reflectionv1.ServerReflectionResponse, error) {
	stream, err := reflectionv1.NewServerReflectionClient(conn).ServerReflectionInfo(context.Background())
	if err != nil {
		return nil, err
	}
	defer stream.CloseSend()
	if err := stream.Send(req); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return stream.Recv()
}

// selfSigned writes a self-signed certificate for 127.0.0.1 and returns its files and a pool
// that trusts it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "quarterdeck test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestStrictRequestForm checks what the gateway accepts at the edge of its form rules: JSON with
// a charset and trailing whitespace passes; a second Authorization header is refused over REST
// and over gRPC, and an If-Match or Idempotency-Key that gRPC metadata cannot carry over REST,
// before anything reaches a service.
func TestStrictRequestForm(t *testing.T) {
	t.Parallel()
	rec, backend := startRecorder(t)
	e := startEdge(t, backend, gateway.Options{Authenticator: fakeAuth{}})
	auth := "Bearer good-alice"

	// The recorder does not implement CreateCostCenter: UNIMPLEMENTED (501) shows the call got
	// through the edge's rules.
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON;Charset=UTF-8"} {
		resp, body := do(t, nil, "POST", e.url+"/v1/costCenters", strings.NewReader("{\"displayName\":\"X\"}\r\n \n"),
			map[string]string{"Content-Type": ct, "Authorization": auth})
		if resp.StatusCode != http.StatusNotImplemented {
			t.Errorf("Content-Type %q: %d %v, want the call forwarded", ct, resp.StatusCode, body)
		}
	}
	resp, body := do(t, nil, "GET", e.url+"/v1/costCenters/a", nil, map[string]string{"Authorization": auth})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET without a body or Content-Type: %d %v", resp.StatusCode, body)
	}

	before := rec.count()
	req, _ := http.NewRequest("GET", e.url+"/v1/costCenters/a", nil)
	req.Header.Add("Authorization", auth)
	req.Header.Add("Authorization", "Bearer good-mallory")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(r.Body)
	r.Body.Close()
	var st map[string]any
	_ = json.Unmarshal(raw, &st)
	if reason, _ := details(t, st); r.StatusCode != http.StatusBadRequest || reason != gateway.ReasonDuplicateAuthorization {
		t.Errorf("two Authorization headers over REST: %d %s", r.StatusCode, raw)
	}

	client := budgetv1.NewBudgetServiceClient(e.grpcConn(t, nil))
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", auth, "authorization", "Bearer good-mallory")
	_, err = client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/a"})
	if status.Code(err) != codes.InvalidArgument || grpcReason(err) != gateway.ReasonDuplicateAuthorization {
		t.Errorf("two authorization values over gRPC: %v", err)
	}
	if rec.count() != before {
		t.Errorf("a call with two Authorization headers reached the service")
	}

	// A condition that gRPC metadata cannot carry would be dropped on the way: refused instead.
	for _, h := range [][2]string{
		{"If-Match", "\"b\xe9\""}, {"If-Match", "\"bé\""}, {"Idempotency-Key", "k\xffk"}, {"Idempotency-Key", "kék"},
	} {
		resp, body := do(t, nil, "DELETE", e.url+"/v1/costCenters/a", nil, map[string]string{"Authorization": auth, h[0]: h[1]})
		reason, _ := details(t, body)
		meta, _ := errorInfo(body)["metadata"].(map[string]any)
		if resp.StatusCode != http.StatusBadRequest || reason != gateway.ReasonHeaderNotASCII || meta["header"] != h[0] {
			t.Errorf("%s: %q = %d %v; want 400 %s naming the header", h[0], h[1], resp.StatusCode, body, gateway.ReasonHeaderNotASCII)
		}
	}
	if rec.count() != before {
		t.Errorf("a call with a condition that cannot be sent reached the service")
	}
	// A request id that cannot be sent as it is is replaced, not refused.
	resp, _ = do(t, nil, "GET", e.url+"/v1/costCenters/a", nil, map[string]string{"Authorization": auth, "X-Request-Id": "id\xff"})
	if id := resp.Header.Get("X-Request-Id"); resp.StatusCode != http.StatusOK || id == "" || id == "id\xff" {
		t.Errorf("X-Request-Id not ASCII: %d, echoed %q; want the call served with a new id", resp.StatusCode, id)
	}
}
