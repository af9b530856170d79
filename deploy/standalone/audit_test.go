//go:build unix

package main

import (
	"fmt"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"net/http"
	"testing"
	"time"
)

// TestStandaloneAuditSurvivesKill checks that an audit record commits with its change: every
// cost centre that answered 200 before a kill -9 has exactly one CREATE record after the
// restart (sealed by the new process if the old one had not sealed it), and the chain still
// verifies.
func TestStandaloneAuditSurvivesKill(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	p := start(t, dataDir, scenario{prefix: "quarterdeck"})
	var names []string
	for _, code := range []string{"CC-100", "CC-200", "CC-300"} {
		names = append(names, createCostCenter(t, p.rest, "Cost centre "+code, code)["name"].(string))
	}
	p.Kill()

	p = start(t, dataDir, scenario{prefix: "quarterdeck"})
	defer p.Stop()
	// Records the killed process committed but had not sealed yet are sealed by the new one's
	// sealer, a moment after it starts.
	var (
		status  int
		body    map[string]any
		records []any
	)
	testkit.Eventually(t, 20*time.Second, func() error {
		status, body = call(t, http.MethodGet, p.rest+"/v1/services/budget/auditRecords", nil)
		if status != http.StatusOK {
			t.Fatalf("GET auditRecords: %d %v", status, body)
		}
		if records, _ = body["auditRecords"].([]any); len(records) < len(names) {
			return fmt.Errorf("%d audit records after kill -9, want %d: %v", len(records), len(names), body)
		}
		return nil
	})
	if len(records) != len(names) {
		t.Fatalf("%d audit records after kill -9, want %d: %v", len(records), len(names), body)
	}
	for i, r := range records {
		r := r.(map[string]any)
		if r["action"] != "CREATE" || r["resource"] != names[i] {
			t.Errorf("record %d = %v, want CREATE of %s", i+1, r, names[i])
		}
	}
	status, body = call(t, http.MethodPost, p.rest+"/v1/services/budget/auditRecords:verify", map[string]any{})
	if status != http.StatusOK || body["valid"] != true || body["recordsChecked"] != "3" {
		t.Errorf("verify after kill -9: %d %v", status, body)
	}
}
