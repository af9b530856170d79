package gateway_test

import (
	"slices"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestPoliciesREST walks policies over REST: a policy for a team refused with talent down (503),
// one for everyone created (400s naming the field for a missing audience), its 1.0, a minor 1.1 due with 1.0 and a major 2.0, listed newest
// first, a version refused for an effective date before the current one's, a 404, and the policy
// deleted.
func TestPoliciesREST(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			url := startRisk(t, db)

			bad := call(t, "POST", url+"/v1/policies", `{"title":"Acceptable use","owner":"people/ana"}`)
			if reason, fields := details(t, bad.body); bad.code != 400 || reason != "INVALID_ARGUMENT" || !slices.Equal(fields, []string{"policy.teams:AUDIENCE_REQUIRED"}) {
				t.Errorf("a policy without an audience = %d %v %v", bad.code, reason, fields)
			}
			// Talent is not running here: teams cannot be checked, and nothing is written.
			if down := call(t, "POST", url+"/v1/policies?policyId=aup", `{"title":"Acceptable use","owner":"people/ana","teams":["teams/eng"]}`); down.code != 503 {
				t.Errorf("a policy for a team with talent down = %d %v", down.code, down.body)
			}
			p := call(t, "POST", url+"/v1/policies?policyId=aup", `{"title":"Acceptable use","owner":"people/ana","everyone":true,"acknowledgementDays":10}`)
			if p.code != 200 || p.body["name"] != "policies/aup" || p.body["acknowledgementDays"] != float64(10) {
				t.Fatalf("POST /v1/policies = %d %v", p.code, p.body)
			}
			v1 := call(t, "POST", url+"/v1/policies/aup/versions", `{"documentUri":"https://docs.example.com/aup/1","effectiveDate":{"year":2027,"month":1,"day":4}}`)
			if due, _ := v1.body["acknowledgementDueDate"].(map[string]any); v1.code != 200 || v1.body["version"] != "1.0" ||
				v1.body["requiresAcknowledgement"] != true || due["day"] != float64(14) {
				t.Fatalf("POST 1.0 = %d %v", v1.code, v1.body)
			}
			v11 := call(t, "POST", url+"/v1/policies/aup/versions", `{"change":"MINOR","documentUri":"https://docs.example.com/aup/1-1","effectiveDate":{"year":2027,"month":1,"day":5}}`)
			if due, _ := v11.body["acknowledgementDueDate"].(map[string]any); v11.code != 200 || v11.body["name"] != "policies/aup/versions/1-1" ||
				v11.body["requiresAcknowledgement"] != nil || due["day"] != float64(14) {
				t.Errorf("POST 1.1 = %d %v", v11.code, v11.body)
			}
			early := call(t, "POST", url+"/v1/policies/aup/versions", `{"change":"MAJOR","documentUri":"https://docs.example.com/aup/2","effectiveDate":{"year":2027,"month":1,"day":1}}`)
			if reason, fields := details(t, early.body); early.code != 400 || reason != "INVALID_ARGUMENT" ||
				!slices.Equal(fields, []string{"policy_version.effective_date:EFFECTIVE_DATE_BEFORE_PREVIOUS"}) {
				t.Errorf("a version before the current one = %d %v %v", early.code, reason, fields)
			}
			if v2 := call(t, "POST", url+"/v1/policies/aup/versions", `{"change":"MAJOR","documentUri":"https://docs.example.com/aup/2","effectiveDate":{"year":2027,"month":2,"day":1}}`); v2.code != 200 || v2.body["version"] != "2.0" {
				t.Errorf("POST 2.0 = %d %v", v2.code, v2.body)
			}
			list := call(t, "GET", url+"/v1/policies/aup/versions", "")
			if vs, _ := list.body["policyVersions"].([]any); list.code != 200 || len(vs) != 3 || vs[0].(map[string]any)["version"] != "2.0" || vs[2].(map[string]any)["version"] != "1.0" {
				t.Errorf("GET versions = %d %v", list.code, list.body)
			}
			if got := call(t, "GET", url+"/v1/policies/aup", ""); got.code != 200 || got.body["currentVersion"] != "2.0" || got.body["documentUri"] != "https://docs.example.com/aup/2" {
				t.Errorf("GET the policy = %d %v", got.code, got.body)
			}
			if nf := call(t, "GET", url+"/v1/policies/aup/versions/3-0", ""); nf.code != 404 {
				t.Errorf("GET a version not published = %d %v", nf.code, nf.body)
			}
			if up := call(t, "PATCH", url+"/v1/policies/aup", `{"summary":"Company devices are for work."}`); up.code != 200 ||
				up.body["summary"] != "Company devices are for work." || up.body["everyone"] != true {
				t.Errorf("PATCH the summary = %d %v", up.code, up.body)
			}
			if c := call(t, "GET", url+"/v1/policies/aup/campaign", ""); c.code != 200 || c.body["policyVersion"] != "policies/aup/versions/2-0" || c.body["dueDate"] == nil {
				t.Errorf("GET the campaign = %d %v", c.code, c.body)
			}
			if a := call(t, "POST", url+"/v1/policies/aup:acknowledge", `{"person":"ada"}`); a.code != 400 {
				t.Errorf("acknowledge by a malformed person = %d %v", a.code, a.body)
			} else if _, fields := details(t, a.body); len(fields) != 1 || fields[0][:7] != "person:" {
				t.Errorf("acknowledge by a malformed person: fields %v", fields)
			}
			if del := call(t, "DELETE", url+"/v1/policies/aup", ""); del.code != 200 {
				t.Errorf("DELETE the policy = %d %v", del.code, del.body)
			}
			if gone := call(t, "GET", url+"/v1/policies/aup", ""); gone.code != 404 {
				t.Errorf("GET a deleted policy = %d %v", gone.code, gone.body)
			}
		})
	}
}
