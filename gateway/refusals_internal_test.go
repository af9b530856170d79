package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
)

// logBuffer captures a logger's JSON lines, debug included.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the records logged so far.
func (b *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.Lines(b.buf.String()) {
		m := map[string]any{}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// refuseAll refuses every caller.
type refuseAll struct{}

func (refuseAll) Authenticate(context.Context, string) (identity.Principal, metadata.MD, error) {
	st, _ := status.New(codes.Unauthenticated, "no valid credentials").WithDetails(
		&errdetails.ErrorInfo{Reason: "CREDENTIALS_INVALID", Domain: "auth.quarterdeck.io"})
	return identity.Principal{}, nil, st.Err()
}

// TestRefusalsLoggedAsSummary checks that 401 and 429 refusals are logged at debug only, and
// summed up at info once a period: counts by reason, and the addresses that were refused most.
func TestRefusalsLoggedAsSummary(t *testing.T) {
	logs := &logBuffer{}
	ticks := make(chan time.Time)
	backends := map[string]string{}
	for _, d := range Domains() {
		backends[d] = "127.0.0.1:1" // never called: every call is refused
	}
	g, err := New(context.Background(), Options{
		Backends: backends, Authenticator: refuseAll{}, refusalTicks: ticks,
		Logger:   slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Settings: Settings{RateLimitPerIP: 1, RateLimitPerIPBurst: 3},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()

	get := func(addr string) int {
		req := httptest.NewRequest(http.MethodGet, "/v1/costCenters/a", nil)
		req.RemoteAddr = addr
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		return w.Code
	}
	// 192.0.2.1: three 401s, then 429s (over the per-address burst); 192.0.2.2: one 401.
	for i := range 5 {
		want := http.StatusUnauthorized
		if i >= 3 {
			want = http.StatusTooManyRequests
		}
		if code := get("192.0.2.1:4000"); code != want {
			t.Fatalf("call %d = %d, want %d", i, code, want)
		}
	}
	if code := get("192.0.2.2:4000"); code != http.StatusUnauthorized {
		t.Fatalf("other address = %d", code)
	}
	// The gRPC port's refusals count too.
	grpcCtx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.ParseIP("192.0.2.3"), Port: 5}})
	g.logCall(grpcCtx, "/quarterdeck.budget.v1.BudgetService/GetCostCenter", time.Now(), status.Error(codes.Unauthenticated, "no"))
	g.logCall(grpcCtx, "/quarterdeck.budget.v1.BudgetService/GetCostCenter", time.Now(), rateLimited("from this address", time.Second).Err())

	for _, l := range logs.lines(t) {
		if l["level"] != "DEBUG" {
			t.Errorf("a refusal logged above debug: %v", l)
		}
	}

	// A tick, and a second one that the summary's goroutine takes once it has logged the first
	// period (the second period has no refusal: it logs nothing).
	tick := func() { ticks <- time.Now(); ticks <- time.Now() }
	tick()
	var summary map[string]any
	for _, l := range logs.lines(t) {
		if l["msg"] == "refused calls" {
			summary = l
		}
	}
	if summary["level"] != "INFO" || summary["total"] != float64(8) {
		t.Errorf("summary = %v, want 8 refusals at info", summary)
	}
	byReason, _ := summary["by_reason"].(map[string]any)
	if byReason[refusedUnauthenticated] != float64(5) || byReason[refusedRateLimited] != float64(3) {
		t.Errorf("by reason = %v, want 5 UNAUTHENTICATED and 3 RATE_LIMITED", byReason)
	}
	top, _ := summary["top"].([]any)
	first, _ := top[0].(map[string]any)
	if len(top) != 5 || first["address"] != "192.0.2.1" || first["count"] != float64(3) {
		t.Errorf("top = %v, want 5 pairs, 192.0.2.1 first with 3", top)
	}

	// A period without refusals logs nothing.
	n := len(logs.lines(t))
	tick()
	if len(logs.lines(t)) != n {
		t.Errorf("a quiet period logged: %v", logs.lines(t)[n:])
	}
}
