package gateway_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/quarterdeck/quarterdeck/gateway"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

func TestMain(m *testing.M) {
	// A real tracer provider, so that requests carry a trace context into the events, and a
	// recorder of its spans (see trace_test.go).
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	otel.SetTextMapPropagator(propagation.TraceContext{})
	m.Run()
}

type platform struct {
	url     string
	backend string // the budget service's gRPC address
	js      jetstream.JetStream
	nats    testenv.NATS
	stop    func()
}

// startPlatform runs the budget service and a gateway in front of it.
func startPlatform(t *testing.T, db testenv.Database) *platform {
	t.Helper()
	return startPlatformOver(t, db, false)
}

// startPlatformOver is startPlatform whose gateway makes its unary calls to the service in the
// process (Options.Local) when local is set, as the standalone binary does.
func startPlatformOver(t *testing.T, db testenv.Database, local bool) *platform {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ns := testenv.NATSServer(t)
	nc, js := testenv.Connect(t, ns.URL)
	in, err := host.Start(ctx, budget.Service(), host.Options{
		DatabaseURL: db.DSN, Schema: db.Schema, GRPCAddr: "127.0.0.1:0", NATS: nc,
		Stream: events.StreamConfig{Prefix: ns.SubjectPrefix}, Logger: quiet, Identity: identitytest.Verifier(),
	})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := in.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	}
	t.Cleanup(stop)
	opts := gateway.Options{Backends: oneBackend(in.Addr()), Logger: quiet, Authenticator: identitytest.Authenticator{}}
	if local {
		opts.Local = map[string]*rpc.Local{"budget": in.Local()}
	}
	gw, err := gateway.New(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return &platform{url: srv.URL, backend: in.Addr(), js: js, nats: ns, stop: stop}
}

// oneBackend routes every domain the gateway serves to addr: for tests of the gateway itself,
// which call only the budget service's API (or none) and need an address for each domain.
func oneBackend(addr string) map[string]string {
	backends := map[string]string{}
	for _, d := range gateway.Domains() {
		backends[d] = addr
	}
	return backends
}

type response struct {
	code   int
	header http.Header
	body   map[string]any
}

func call(t *testing.T, method, url, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := response{code: resp.StatusCode, header: resp.Header, body: map[string]any{}}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			t.Fatalf("%s %s: body %q is not a JSON object: %v", method, url, raw, err)
		}
	}
	return r
}

// details returns the ErrorInfo reason and the "field:reason" of each field violation of an
// error body.
func details(t *testing.T, body map[string]any) (reason string, fields []string) {
	t.Helper()
	ds, _ := body["details"].([]any)
	for _, d := range ds {
		d := d.(map[string]any)
		switch d["@type"] {
		case "type.googleapis.com/google.rpc.ErrorInfo":
			reason, _ = d["reason"].(string)
		case "type.googleapis.com/google.rpc.BadRequest":
			for _, v := range d["fieldViolations"].([]any) {
				v := v.(map[string]any)
				fields = append(fields, v["field"].(string)+":"+v["reason"].(string))
			}
		}
	}
	return reason, fields
}

// TestREST runs the same calls with the service behind its socket and in the gateway's process
// (the standalone binary's Local calls): a REST client sees no difference.
func TestREST(t *testing.T) {
	t.Parallel()
	for _, local := range []bool{false, true} {
		for _, db := range testenv.Databases(t) { // fresh ones for each transport
			t.Run(fmt.Sprintf("%s/local=%v", db.Engine, local), func(t *testing.T) {
				t.Parallel()
				testREST(t, startPlatformOver(t, db, local))
			})
		}
	}
}

func testREST(t *testing.T, p *platform) {
	base := p.url + "/v1/costCenters"

	created := call(t, "POST", base, `{"displayName":"Infrastructure","code":"CC-100"}`)
	name, _ := created.body["name"].(string)
	if created.code != http.StatusOK || !strings.HasPrefix(name, "costCenters/") {
		t.Fatalf("create = %d %v", created.code, created.body)
	}
	if created.header.Get(gateway.HeaderRequestID) == "" {
		t.Error("no X-Request-Id on the response")
	}
	for k := range created.header {
		if strings.HasPrefix(k, "Grpc-Metadata") {
			t.Errorf("gRPC metadata leaked as header %s", k)
		}
	}
	got := call(t, "GET", p.url+"/v1/"+name, "")
	if got.code != http.StatusOK || got.body["displayName"] != "Infrastructure" || got.body["active"] != true {
		t.Errorf("get = %d %v", got.code, got.body)
	}

	// PATCH derives the mask from the body; the etag in the body is a precondition.
	etag := got.body["etag"].(string)
	patched := call(t, "PATCH", p.url+"/v1/"+name, `{"owner":"cio@example.com","etag":"`+etag+`"}`)
	if patched.code != http.StatusOK || patched.body["owner"] != "cio@example.com" || patched.body["displayName"] != "Infrastructure" {
		t.Errorf("patch = %d %v", patched.code, patched.body)
	}
	stale := call(t, "PATCH", p.url+"/v1/"+name, `{"owner":"x","etag":"`+etag+`"}`)
	if reason, _ := details(t, stale.body); stale.code != http.StatusConflict || reason != "ETAG_MISMATCH" {
		t.Errorf("stale etag = %d %v", stale.code, stale.body)
	}

	tests := []struct {
		name, method, path, body string
		code                     int
		reason                   string
		fields                   []string
	}{
		{"missing display name", "POST", "/v1/costCenters", `{"code":"CC-101"}`, 400, "INVALID_ARGUMENT", []string{"cost_center.display_name:REQUIRED"}},
		{"bad code", "POST", "/v1/costCenters", `{"displayName":"X","code":"cc 1"}`, 400, "INVALID_ARGUMENT", []string{"cost_center.code:STRING_PATTERN"}},
		{"unknown JSON field", "POST", "/v1/costCenters", `{"displayName":"X","code":"X","colour":"red"}`, 400, "INVALID_ARGUMENT", nil},
		{"malformed JSON", "POST", "/v1/costCenters", `{"displayName":`, 400, "INVALID_ARGUMENT", nil},
		{"duplicate code", "POST", "/v1/costCenters", `{"displayName":"X","code":"CC-100"}`, 409, "COST_CENTER_CODE_TAKEN", nil},
		{"bad id", "POST", "/v1/costCenters?costCenterId=Not_OK", `{"displayName":"X","code":"X"}`, 400, "INVALID_ARGUMENT", []string{"cost_center_id:STRING_PATTERN"}},
		{"not found", "GET", "/v1/costCenters/ghost", "", 404, "COST_CENTER_NOT_FOUND", nil},
		{"negative page size", "GET", "/v1/costCenters?pageSize=-1", "", 400, "INVALID_ARGUMENT", []string{"page_size:INT32_GTE"}},
		{"bad page token", "GET", "/v1/costCenters?pageToken=xyz", "", 400, "PAGE_TOKEN_INVALID", []string{"page_token:PAGE_TOKEN_INVALID"}},
		{"output-only field in mask", "PATCH", "/v1/" + name + "?updateMask=createTime", `{}`, 400, "INVALID_ARGUMENT", []string{"update_mask:FIELD_NOT_WRITABLE"}},
		{"unknown route", "GET", "/v1/nothingHere", "", 404, "NOT_FOUND", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, tt.method, p.url+tt.path, tt.body)
			reason, fields := details(t, r.body)
			if r.code != tt.code || reason != tt.reason {
				t.Errorf("got %d %s, want %d %s: %v", r.code, reason, tt.code, tt.reason, r.body)
			}
			if tt.fields != nil && !slices.Equal(fields, tt.fields) {
				t.Errorf("field violations = %v, want %v", fields, tt.fields)
			}
			if _, ok := r.body["message"].(string); !ok {
				t.Errorf("error body without message: %v", r.body)
			}
		})
	}

	if del := call(t, "DELETE", p.url+"/v1/"+name, ""); del.code != http.StatusOK {
		t.Errorf("delete = %d %v", del.code, del.body)
	}
	checkCloudEvent(t, p, name)
}

// checkCloudEvent asserts the headers of the first event on the budget stream, the creation of
// the cost centre named name.
func checkCloudEvent(t *testing.T, p *platform, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cons, err := p.js.OrderedConsumer(ctx, events.StreamName(p.nats.SubjectPrefix, "budget"), jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
	if err != nil {
		t.Fatalf("no event: %v", err)
	}
	h := m.Headers()
	want := map[string]string{
		"ce-specversion":      "1.0",
		"ce-source":           "/quarterdeck/budget",
		"ce-type":             "quarterdeck.budget.v1.CostCenterCreated",
		"ce-subject":          name,
		"Content-Type":        "application/json",
		"ce-aggregateversion": "1",
	}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, h.Get(k), v)
		}
	}
	if m.Subject() != p.nats.SubjectPrefix+".budget.cost_center.created" {
		t.Errorf("subject = %s", m.Subject())
	}
	if id := h.Get("ce-id"); id == "" || id != h.Get("Nats-Msg-Id") {
		t.Errorf("ce-id %q must equal Nats-Msg-Id %q", id, h.Get("Nats-Msg-Id"))
	}
	if ts, err := time.Parse(time.RFC3339Nano, h.Get("ce-time")); err != nil || ts.Location() != time.UTC {
		t.Errorf("ce-time %q is not RFC 3339 UTC: %v", h.Get("ce-time"), err)
	}
	if !regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$`).MatchString(h.Get("traceparent")) {
		t.Errorf("traceparent = %q", h.Get("traceparent"))
	}
	var payload map[string]any
	if err := json.Unmarshal(m.Data(), &payload); err != nil {
		t.Fatalf("payload is not JSON: %v", err)
	}
	cc, _ := payload["costCenter"].(map[string]any)
	if cc["name"] != name || payload["version"] != "1" {
		t.Errorf("payload = %s", m.Data())
	}
	checkAsyncAPI(t, p.nats.SubjectPrefix, m.Subject(), h, m.Data())
}

func TestProbesAndOpenAPI(t *testing.T) {
	t.Parallel()
	p := startPlatform(t, testenv.SQLite(t))
	if r := call(t, "GET", p.url+"/healthz", ""); r.code != 200 || r.body["status"] != "ok" {
		t.Errorf("healthz = %d %v", r.code, r.body)
	}
	if r := call(t, "GET", p.url+"/readyz", ""); r.code != 200 || r.body["checks"].(map[string]any)["budget"] != "SERVING" {
		t.Errorf("readyz = %d %v", r.code, r.body)
	}
	doc := call(t, "GET", p.url+"/openapi.json", "")
	paths, _ := doc.body["paths"].(map[string]any)
	if doc.code != 200 || doc.body["openapi"] != "3.1.0" || paths["/v1/costCenters"] == nil {
		t.Errorf("openapi.json = %d, openapi %v, paths %v", doc.code, doc.body["openapi"], len(paths))
	}
	events := call(t, "GET", p.url+"/asyncapi.json", "")
	channels, _ := events.body["channels"].(map[string]any)
	if events.code != 200 || events.body["asyncapi"] != "3.0.0" || channels["vendors.contract.notice_window_opened"] == nil {
		t.Errorf("asyncapi.json = %d, asyncapi %v, channels %v", events.code, events.body["asyncapi"], len(channels))
	}

	// With the service gone, the gateway is alive but not ready, and calls fail with 503.
	p.stop()
	if r := call(t, "GET", p.url+"/healthz", ""); r.code != 200 {
		t.Errorf("healthz after backend stop = %d", r.code)
	}
	if r := call(t, "GET", p.url+"/readyz", ""); r.code != 503 || r.body["status"] != "not ready" {
		t.Errorf("readyz after backend stop = %d %v", r.code, r.body)
	}
	if r := call(t, "GET", p.url+"/v1/costCenters", ""); r.code != 503 {
		t.Errorf("call after backend stop = %d %v", r.code, r.body)
	}
}

func TestNewNeedsEveryBackend(t *testing.T) {
	_, err := gateway.New(context.Background(), gateway.Options{Backends: map[string]string{}, Authenticator: identitytest.Authenticator{}})
	if err == nil || !strings.Contains(err.Error(), "briefing") {
		t.Errorf("err = %v, want a missing briefing backend", err)
	}
	_, err = gateway.New(context.Background(), gateway.Options{Backends: map[string]string{"briefing": "127.0.0.1:9005", "risk": "127.0.0.1:9003"},
		Authenticator: identitytest.Authenticator{}})
	if err == nil || !strings.Contains(err.Error(), "budget") {
		t.Errorf("err = %v, want a missing budget backend", err)
	}
	_, err = gateway.New(context.Background(), gateway.Options{Backends: map[string]string{"briefing": "127.0.0.1:9005", "budget": "127.0.0.1:9001", "risk": "127.0.0.1:9003", "talent": "127.0.0.1:9004"},
		Authenticator: identitytest.Authenticator{}})
	if err == nil || !strings.Contains(err.Error(), "vendors") {
		t.Errorf("err = %v, want a missing vendors backend", err)
	}
	_, err = gateway.New(context.Background(), gateway.Options{Backends: map[string]string{"briefing": "127.0.0.1:9005", "budget": "127.0.0.1:9001", "vendors": "127.0.0.1:9002", "talent": "127.0.0.1:9004"},
		Authenticator: identitytest.Authenticator{}})
	if err == nil || !strings.Contains(err.Error(), "risk") {
		t.Errorf("err = %v, want a missing risk backend", err)
	}
	_, err = gateway.New(context.Background(), gateway.Options{Backends: map[string]string{"briefing": "127.0.0.1:9005", "budget": "127.0.0.1:9001",
		"vendors": "127.0.0.1:9002", "risk": "127.0.0.1:9003"}, Authenticator: identitytest.Authenticator{}})
	if err == nil || !strings.Contains(err.Error(), "talent") {
		t.Errorf("err = %v, want a missing talent backend", err)
	}
}
