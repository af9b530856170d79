package gateway_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/sdk/resource"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/quarterdeck/quarterdeck/gateway"
	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/telemetry"
)

// TestMetricSeriesBounded checks that no client can make the gateway keep new metric series:
// unknown gRPC methods (of unknown services, or unknown methods of a routed one), Host headers
// and URL paths of its choosing leave the number of series where it was, and no label carries
// what the client sent, nor an address or a port.
func TestMetricSeriesBounded(t *testing.T) {
	t.Parallel()
	_, backend := startRecorder(t)
	mp, metrics, err := telemetry.NewMeterProvider(resource.Empty())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
	e := startEdge(t, backend, gateway.Options{MeterProvider: mp, Metrics: metrics})
	conn := e.grpcConn(t, nil)
	client := budgetv1.NewBudgetServiceClient(conn)
	ctx := context.Background()

	var sent []string
	round := func(n int) {
		t.Helper()
		// A known method, so that its series exist from the first round.
		if _, err := client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/a"}); err != nil {
			t.Fatal(err)
		}
		for range n {
			r := randomWord()
			sent = append(sent, r)
			for _, m := range []string{"/" + r + ".Svc/Do", "/quarterdeck.budget.v1.BudgetService/" + r} {
				err := conn.Invoke(ctx, m, &emptypb.Empty{}, &emptypb.Empty{})
				if status.Code(err) != codes.Unimplemented {
					t.Fatalf("%s = %v, want UNIMPLEMENTED", m, err)
				}
			}
			for _, path := range []string{"/v1/costCenters/a", "/healthz", "/" + r} {
				req, _ := http.NewRequest(http.MethodGet, e.url+path, nil)
				req.Host = r + ".example:" + r[:4]
				if strings.Trim(r[:4], "0123456789") != "" {
					req.Host = r + ".example"
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}
	}
	scrape(t, e.url) // the series of /metrics itself
	round(5)
	first := distinct(scrape(t, e.url))
	round(20)
	second := scrape(t, e.url)
	if len(distinct(second)) != len(first) {
		t.Errorf("%d series after 5 rounds of made-up names, %d after 20 more; new ones:\n%s",
			len(first), len(distinct(second)), strings.Join(added(first, distinct(second)), "\n"))
	}
	for _, s := range second {
		for _, r := range sent {
			if strings.Contains(s, r) {
				t.Fatalf("a series carries the client's %q: %s", r, s)
			}
		}
		for _, label := range []string{"server_address", "server_port", "network_peer", "client_address"} {
			if strings.Contains(s, label+"=") {
				t.Fatalf("a series has the address label %s: %s", label, s)
			}
		}
	}
	if !strings.Contains(strings.Join(second, "\n"), `rpc_method="unknown"`) {
		t.Errorf("no series of unknown methods")
	}
}

// scrape returns the series of the gateway's RPC and HTTP metrics.
func scrape(t *testing.T, url string) []string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	var series []string
	for line := range strings.Lines(string(raw)) {
		if strings.HasPrefix(line, "rpc_") || strings.HasPrefix(line, "http_") {
			name, _, _ := strings.Cut(line, " ")
			series = append(series, name)
		}
	}
	return series
}

// statusLabel matches the status labels of a series: the status code and its error_type.
var statusLabel = regexp.MustCompile(`((rpc|http)_response_status_code|error_type)="[^"]*",?`)

// distinct returns the series without their status labels, deduplicated. A status is a bounded
// label the client does not choose (the proxy's call of an unknown method now and then reports
// a status no earlier round did), so it does not count as a new series; names, hosts and paths
// do.
func distinct(series []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range series {
		s = statusLabel.ReplaceAllString(s, "")
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

func added(before, after []string) []string {
	old := map[string]bool{}
	for _, s := range before {
		old[s] = true
	}
	var out []string
	for _, s := range after {
		if !old[s] && len(out) < 10 {
			out = append(out, s)
		}
	}
	return out
}

func randomWord() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "z" + hex.EncodeToString(b)
}
