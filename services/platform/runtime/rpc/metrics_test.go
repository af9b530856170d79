package rpc_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/telemetry"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// scrapeCount returns the request count /metrics reports for a method and status code.
func scrapeCount(t *testing.T, metrics string, method, code string) (float64, bool) {
	t.Helper()
	for _, line := range strings.Split(metrics, "\n") {
		if !strings.HasPrefix(line, "rpc_server_call_duration_seconds_count{") ||
			!strings.Contains(line, `rpc_method="`+method+`"`) ||
			!strings.Contains(line, `rpc_response_status_code="`+code+`"`) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		return v, true
	}
	return 0, false
}

// TestREDMetricsAtMetricsEndpoint serves calls through a server on the process's telemetry (as
// every binary does) and scrapes the Prometheus handler: requests per method and code, the
// errors among them, and the duration histogram.
func TestREDMetricsAtMetricsEndpoint(t *testing.T) {
	tel, err := telemetry.Setup(context.Background(), "rpc-test", "dev", telemetry.Config{LogLevel: "info"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tel.Shutdown(context.Background()) })

	srv, err := rpc.NewServer(rpc.Options{Domain: domain, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	budgetv1.RegisterBudgetServiceServer(srv, &fakeBudget{})
	// Calls over the network and Local calls are counted alike: ok twice each way, one leak
	// each way.
	network := budgetv1.NewBudgetServiceClient(testkit.Dial(t, testkit.Serve(t, srv)))
	local := budgetv1.NewBudgetServiceClient(rpc.LocalFirst{Local: srv.Local()})

	calls := map[string]codes.Code{"ok": codes.OK, "missing": codes.NotFound, "leak": codes.Internal}
	want := map[string]float64{"OK": 4, "NOT_FOUND": 2, "INTERNAL": 2}
	for _, client := range []budgetv1.BudgetServiceClient{network, local} {
		for id, n := range map[string]int{"ok": 2, "missing": 1, "leak": 1} {
			for range n {
				_, err := client.GetCostCenter(callCtx(t), &budgetv1.GetCostCenterRequest{Name: "costCenters/" + id})
				if status.Code(err) != calls[id] {
					t.Fatalf("GetCostCenter(%s) = %v, want %v", id, err, calls[id])
				}
			}
		}
	}

	const method = "quarterdeck.budget.v1.BudgetService/GetCostCenter"
	var body string
	// The stats handler records a call after its response is sent: wait until all are in.
	testkit.Eventually(t, 10*time.Second, func() error {
		rec := httptest.NewRecorder()
		tel.Metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(rec.Result().Body)
		body = string(b)
		var missing []string
		for code, n := range want {
			if got, ok := scrapeCount(t, body, method, code); got != n {
				missing = append(missing, fmt.Sprintf("requests of %s with code %s = %v (present %v), want %v", method, code, got, ok, n))
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%s; metrics:\n%s", strings.Join(missing, "; "), grepLines(body, "rpc_server"))
		}
		return nil
	})
	// Errors: server errors carry error_type, so error rate = rate of the series that have it.
	errLines := 0
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(line, "rpc_server_call_duration_seconds_count{") && strings.Contains(line, `error_type="INTERNAL"`) {
			errLines++
		}
	}
	if errLines != 1 {
		t.Errorf("%d series with error_type=INTERNAL, want 1:\n%s", errLines, grepLines(body, "rpc_server_call_duration_seconds_count"))
	}
	// Duration: a histogram with buckets for the method.
	if !strings.Contains(body, `rpc_server_call_duration_seconds_bucket{`) || !strings.Contains(body, `le="0.005"`) {
		t.Errorf("no duration histogram buckets:\n%s", grepLines(body, "rpc_server"))
	}
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
