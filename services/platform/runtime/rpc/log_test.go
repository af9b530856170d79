package rpc_test

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// records parses the JSON log lines in buf.
func records(t *testing.T, buf *testkit.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, r)
	}
	return out
}

// TestServerLogsCallsWithTheirRequestID checks the log line of each call: its level follows who is
// at fault, it carries the gateway's request id, and an internal error's cause is logged (while
// the client only sees INTERNAL).
func TestServerLogsCallsWithTheirRequestID(t *testing.T) {
	var buf testkit.Buffer
	srv, err := rpc.NewServer(rpc.Options{Domain: domain,
		Logger: slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	budgetv1.RegisterBudgetServiceServer(srv, &fakeBudget{})
	client := budgetv1.NewBudgetServiceClient(testkit.Dial(t, testkit.Serve(t, srv)))

	calls := []struct{ name, requestID, level, code string }{
		{"costCenters/ok", "req-ok", "DEBUG", "OK"},
		{"costCenters/missing", "req-nf", "WARN", "NotFound"},
		{"costCenters/leak", "req-int", "ERROR", "Internal"},
	}
	for _, c := range calls {
		ctx := metadata.AppendToOutgoingContext(callCtx(t), "x-request-id", c.requestID)
		_, _ = client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: c.name})
	}
	recs := records(t, &buf)
	for _, c := range calls {
		found := false
		for _, r := range recs {
			if r["request_id"] != c.requestID {
				continue
			}
			found = true
			if r["level"] != c.level || r["code"] != c.code || r["method"] != "/quarterdeck.budget.v1.BudgetService/GetCostCenter" {
				t.Errorf("%s: log record %v, want level %s code %s", c.name, r, c.level, c.code)
			}
			if c.code == "Internal" && !strings.Contains(r["error"].(string), "db password leaked") {
				t.Errorf("internal error's cause missing from the log: %v", r)
			}
		}
		if !found {
			t.Errorf("%s: no log record with request_id %s in %v", c.name, c.requestID, recs)
		}
	}
}
