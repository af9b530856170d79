package gateway_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"

	"github.com/quarterdeck/quarterdeck/gateway"
	"github.com/quarterdeck/quarterdeck/services/platform/testenv"
)

// records returns the auditRecords of a ListAuditRecords response body.
func records(t *testing.T, r response) []map[string]any {
	t.Helper()
	if r.code != http.StatusOK {
		t.Fatalf("list audit records = %d %v", r.code, r.body)
	}
	var out []map[string]any
	for _, x := range r.body["auditRecords"].([]any) {
		out = append(out, x.(map[string]any))
	}
	return out
}

func TestAuditTrailOverREST(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			p := startPlatform(t, db)
			audit := p.url + "/v1/services/budget/auditRecords"

			created := call(t, "POST", p.url+"/v1/costCenters?costCenterId=infra", `{"displayName":"Infrastructure","code":"CC-100"}`)
			if created.code != http.StatusOK {
				t.Fatalf("create = %d %v", created.code, created.body)
			}
			patched := call(t, "PATCH", p.url+"/v1/costCenters/infra", `{"owner":"cio@example.com"}`)
			if patched.code != http.StatusOK {
				t.Fatalf("patch = %d %v", patched.code, patched.body)
			}
			if del := call(t, "DELETE", p.url+"/v1/costCenters/infra", ""); del.code != http.StatusOK {
				t.Fatalf("delete = %d %v", del.code, del.body)
			}

			rs := records(t, call(t, "GET", audit, ""))
			var actions []string
			for _, r := range rs {
				actions = append(actions, r["action"].(string))
			}
			if !slices.Equal(actions, []string{"CREATE", "UPDATE", "DELETE"}) {
				t.Fatalf("actions = %v", actions)
			}
			first := rs[0]
			if first["name"] != "services/budget/auditRecords/1" || first["sequence"] != "1" ||
				first["resource"] != "costCenters/infra" || first["method"] != "/quarterdeck.budget.v1.BudgetService/CreateCostCenter" {
				t.Errorf("first record = %v", first)
			}
			// The gateway's request id and the trace of the REST call reach the record.
			if first["requestId"] != created.header.Get(gateway.HeaderRequestID) || first["requestId"] == "" {
				t.Errorf("request id = %v, want %q", first["requestId"], created.header.Get(gateway.HeaderRequestID))
			}
			if id, _ := first["traceId"].(string); !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
				t.Errorf("trace id = %q", id)
			}
			change := rs[1]["changes"].([]any)[0].(map[string]any)
			if change["path"] != "owner" || change["after"] != "cio@example.com" || change["before"] != nil {
				t.Errorf("update change = %v", change)
			}

			// Pages, oldest first.
			page := call(t, "GET", audit+"?pageSize=2", "")
			next, _ := page.body["nextPageToken"].(string)
			if len(records(t, page)) != 2 || next == "" {
				t.Fatalf("first page = %v", page.body)
			}
			last := records(t, call(t, "GET", audit+"?pageSize=2&pageToken="+url.QueryEscape(next), ""))
			if len(last) != 1 || last[0]["sequence"] != "3" {
				t.Errorf("last page = %v", last)
			}

			filtered := records(t, call(t, "GET", audit+"?filter="+url.QueryEscape(`resource = "costCenters/infra" AND action = "UPDATE"`), ""))
			if len(filtered) != 1 || filtered[0]["sequence"] != "2" {
				t.Errorf("filtered = %v", filtered)
			}
			bad := call(t, "GET", audit+"?filter="+url.QueryEscape(`resource ~ "x"`), "")
			if reason, fields := details(t, bad.body); bad.code != http.StatusBadRequest || reason != "INVALID_ARGUMENT" ||
				!slices.Equal(fields, []string{"filter:FILTER_INVALID"}) {
				t.Errorf("bad filter = %d %v", bad.code, bad.body)
			}

			verified := call(t, "POST", audit+":verify", `{}`)
			if verified.code != http.StatusOK || verified.body["valid"] != true || verified.body["recordsChecked"] != "3" {
				t.Errorf("verify = %d %v", verified.code, verified.body)
			}

			unknown := call(t, "GET", p.url+"/v1/services/vendors/auditRecords", "")
			if reason, _ := details(t, unknown.body); unknown.code != http.StatusNotFound || reason != "SERVICE_NOT_FOUND" {
				t.Errorf("unknown service = %d %v", unknown.code, unknown.body)
			}
			replay := call(t, "POST", p.url+"/v1/services/nope/deadLetters/d1:replay", `{}`)
			if reason, _ := details(t, replay.body); replay.code != http.StatusNotFound || reason != "SERVICE_NOT_FOUND" {
				t.Errorf("replay on an unknown service = %d %v", replay.code, replay.body)
			}
			// Budget consumes no events yet, so it has no dead letters to list.
			if dl := call(t, "GET", p.url+"/v1/services/budget/deadLetters", ""); dl.code != http.StatusNotImplemented {
				t.Errorf("dead letters = %d %v", dl.code, dl.body)
			}
		})
	}
}
