package gateway_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/gateway"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/risk"
)

// startRisk runs the risk service on db and a gateway in front of it; it returns the gateway's
// URL.
func startRisk(t *testing.T, db testenv.Database) string {
	t.Helper()
	ctx := context.Background()
	quiet := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ns := testenv.NATSServer(t)
	nc, _ := testenv.Connect(t, ns.URL)
	in, err := host.Start(ctx, risk.Service(), host.Options{
		DatabaseURL: db.DSN, Schema: db.Schema, GRPCAddr: "127.0.0.1:0", NATS: nc, Peers: map[string]string{"talent": "127.0.0.1:1"},
		Stream: events.StreamConfig{Prefix: ns.SubjectPrefix}, Logger: quiet, Identity: identitytest.Verifier(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = in.Stop(ctx)
	})
	gw, err := gateway.New(ctx, gateway.Options{Backends: oneBackend(in.Addr()), Logger: quiet,
		Authenticator: identitytest.Authenticator{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { gw.Close() })
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestRiskREST walks the register over REST: the matrix, a risk identified, assessed (with a 400
// for a score off the matrix, a 409 for a stale If-Match, a retried Idempotency-Key), listed
// with a filter, its score history, and a transition refused with 400.
func TestRiskREST(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			url := startRisk(t, db)
			m := call(t, "GET", url+"/v1/riskMatrix", "")
			if m.code != 200 || m.body["version"] != float64(1) || len(m.body["cells"].([]any)) != 25 {
				t.Fatalf("GET /v1/riskMatrix = %d %v", m.code, m.body)
			}
			if v := call(t, "GET", url+"/v1/riskMatrix/versions/1", ""); v.code != 200 || v.body["name"] != "riskMatrix/versions/1" {
				t.Errorf("GET version 1 = %d %v", v.code, v.body)
			}

			r := call(t, "POST", url+"/v1/risks?riskId=phishing", `{"title":"Phishing leads to account takeover",
				"category":"CYBERSECURITY","owner":"ana@example.com","controls":["controls/mfa-01"]}`)
			if r.code != 200 || r.body["state"] != "IDENTIFIED" || r.body["nextReviewDate"] == nil {
				t.Fatalf("POST /v1/risks = %d %v", r.code, r.body)
			}
			// A missing reason, then a likelihood off the 5×5 matrix: 400 naming the field.
			bad := call(t, "POST", url+"/v1/risks/phishing:assess", `{"inherent":{"likelihood":6,"impact":2}}`)
			if reason, fields := details(t, bad.body); bad.code != 400 || reason != "INVALID_ARGUMENT" ||
				!slices.Contains(fields, "reason:STRING_MIN_LEN") {
				t.Errorf("assess without a reason = %d %v %v", bad.code, reason, fields)
			}
			bad = call(t, "POST", url+"/v1/risks/phishing:assess", `{"inherent":{"likelihood":6,"impact":2},"reason":"x"}`)
			if reason, fields := details(t, bad.body); bad.code != 400 || reason != "INVALID_ARGUMENT" ||
				!slices.Contains(fields, "inherent.likelihood:OUT_OF_RANGE") {
				t.Errorf("assess off the matrix = %d %v %v", bad.code, reason, fields)
			}
			body := `{"inherent":{"likelihood":5,"impact":3},"residual":{"likelihood":3,"impact":3},"reason":"no MFA on webmail"}`
			resp, a := do(t, nil, "POST", url+"/v1/risks/phishing:assess", strings.NewReader(body),
				map[string]string{"Content-Type": "application/json", "Idempotency-Key": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"})
			res, _ := a["residual"].(map[string]any)
			if resp.StatusCode != 200 || a["state"] != "ASSESSED" || res["score"] != float64(9) || res["level"] != "MEDIUM" {
				t.Fatalf("assess = %d %v", resp.StatusCode, a)
			}
			// The same key again is the first answer, not a second assessment.
			resp, again := do(t, nil, "POST", url+"/v1/risks/phishing:assess", strings.NewReader(body),
				map[string]string{"Content-Type": "application/json", "Idempotency-Key": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"})
			if resp.StatusCode != 200 || again["etag"] != a["etag"] {
				t.Errorf("retried assess = %d %v; want the first answer", resp.StatusCode, again)
			}
			// A stale etag: 409.
			resp, stale := do(t, nil, "POST", url+"/v1/risks/phishing:monitor", strings.NewReader(`{}`),
				map[string]string{"Content-Type": "application/json", "If-Match": r.body["etag"].(string)})
			if reason, _ := details(t, stale); resp.StatusCode != 409 || reason != "ETAG_MISMATCH" {
				t.Errorf("monitor with a stale etag = %d %v", resp.StatusCode, stale)
			}
			// MONITORING before TREATING: 400 FAILED_PRECONDITION.
			mo := call(t, "POST", url+"/v1/risks/phishing:monitor", `{}`)
			if reason, _ := details(t, mo.body); mo.code != 400 || reason != "INVALID_STATE_TRANSITION" {
				t.Errorf("monitor an assessed risk = %d %v", mo.code, mo.body)
			}

			l := call(t, "GET", url+`/v1/risks?filter=controls%3A%22controls%2Fmfa-01%22%20AND%20residual_score%20%3E%3D%209`, "")
			if rs, _ := l.body["risks"].([]any); l.code != 200 || len(rs) != 1 {
				t.Errorf("filtered list = %d %v", l.code, l.body)
			}
			h := call(t, "GET", url+"/v1/risks/phishing/scoreChanges", "")
			cs, _ := h.body["riskScoreChanges"].([]any)
			if h.code != 200 || len(cs) != 1 || cs[0].(map[string]any)["reason"] != "no MFA on webmail" {
				t.Errorf("score history = %d %v", h.code, h.body)
			}
			ap := call(t, "PATCH", url+"/v1/riskAppetite", `{"categories":[{"category":"CYBERSECURITY","level":"LOW"}]}`)
			if ap.code != 200 {
				t.Fatalf("PATCH /v1/riskAppetite = %d %v", ap.code, ap.body)
			}
			if g := call(t, "GET", url+"/v1/risks/phishing", ""); g.body["aboveAppetite"] != true {
				t.Errorf("risk after the appetite change = %v", g.body)
			}
		})
	}
}
