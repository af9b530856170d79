package gateway_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/quarterdeck/quarterdeck/gateway"
)

// TestDecodeErrorsNameTheField checks that a body, a query parameter or a path segment the
// gateway cannot decode or send answers 400 with a field violation naming the field as the
// services do, not the decoder's raw message (nor gRPC's 500 for text that is not UTF-8).
func TestDecodeErrorsNameTheField(t *testing.T) {
	t.Parallel()
	rec, backend := startRecorder(t)
	e := startEdge(t, backend, gateway.Options{})
	for _, tc := range []struct {
		name, method, path, body   string
		reason, field, fieldReason string
		describes                  []string // words the violation's description must contain
	}{
		{"wrong JSON type", "POST", "/v1/costCenters", `{"displayName":5}`,
			"INVALID_ARGUMENT", "cost_center.display_name", "INVALID_VALUE", []string{"5", "string"}},
		{"unknown enum value", "POST", "/v1/budgets/b/lines", `{"displayName":"x","category":"NOPE"}`,
			"INVALID_ARGUMENT", "budget_line.category", "INVALID_ENUM_VALUE", []string{`"NOPE"`, "SOFTWARE"}},
		{"unknown field", "POST", "/v1/costCenters", `{"colour":"red"}`,
			"INVALID_ARGUMENT", "colour", "UNKNOWN_FIELD", nil},
		{"malformed query parameter", "GET", "/v1/costCenters?pageSize=abc", "",
			"INVALID_ARGUMENT", "page_size", "INVALID_VALUE", []string{"abc"}},
		{"not JSON", "POST", "/v1/costCenters", `[1]`, "INVALID_ARGUMENT", "", "", nil},
		// Bytes that are not UTF-8 cannot even be sent to the service (textChecked).
		{"path segment not UTF-8", "GET", "/v1/costCenters/caf%E9", "",
			"INVALID_ARGUMENT", "name", "INVALID_UTF8", []string{"byte 15"}},
		{"query parameter not UTF-8", "GET", "/v1/costCenters?pageToken=%FF", "",
			"INVALID_ARGUMENT", "page_token", "INVALID_UTF8", []string{"byte 0"}},
		{"query parameter of a create not UTF-8", "POST", "/v1/costCenters?costCenterId=a%C3", `{"displayName":"x"}`,
			"INVALID_ARGUMENT", "cost_center_id", "INVALID_UTF8", []string{"byte 1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, got := do(t, nil, tc.method, e.url+tc.path, strings.NewReader(tc.body),
				map[string]string{"Content-Type": "application/json"})
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("%s %s = %d %v, want 400", tc.method, tc.path, resp.StatusCode, got)
			}
			reason, fields := details(t, got)
			if reason != tc.reason {
				t.Errorf("reason = %q, want %q (%v)", reason, tc.reason, got)
			}
			msg, _ := got["message"].(string)
			if strings.Contains(msg, "proto:") || strings.Contains(msg, "line 1") {
				t.Errorf("the message is the decoder's: %q", msg)
			}
			if tc.field == "" {
				if len(fields) > 0 {
					t.Errorf("violations %v, want none", fields)
				}
				return
			}
			if !slices.Equal(fields, []string{tc.field + ":" + tc.fieldReason}) {
				t.Errorf("violations = %v, want %s:%s", fields, tc.field, tc.fieldReason)
			}
			for _, w := range tc.describes {
				if !strings.Contains(describe(got), w) {
					t.Errorf("the violation's description %q does not mention %s", describe(got), w)
				}
			}
		})
	}
	if n := rec.count(); n != 0 {
		t.Errorf("the backend got %d calls; a body that cannot be decoded must stop at the gateway", n)
	}
}

// describe returns the description of the first field violation of an error body.
func describe(body map[string]any) string {
	ds, _ := body["details"].([]any)
	for _, d := range ds {
		d, _ := d.(map[string]any)
		if vs, ok := d["fieldViolations"].([]any); ok && len(vs) > 0 {
			v, _ := vs[0].(map[string]any)
			s, _ := v["description"].(string)
			return s
		}
	}
	return ""
}
