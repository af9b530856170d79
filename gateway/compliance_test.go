package gateway_test

import (
	"slices"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestComplianceREST walks compliance over REST: a framework imported (twice, the same answer;
// an unknown one 404), a control created against its requirements and a risk (400s naming the
// field), the posture's gaps, a passing then a failing test raising the risk, and the trend.
func TestComplianceREST(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			url := startRisk(t, db)
			// The service runs on the real clock.
			today := time.Now().UTC().Format(time.DateOnly)

			f := call(t, "POST", url+"/v1/frameworks:import", `{"frameworkId":"iso27001-2022"}`)
			if f.code != 200 || f.body["name"] != "frameworks/iso27001-2022" || f.body["requirementCount"] != float64(93) {
				t.Fatalf("POST /v1/frameworks:import = %d %v", f.code, f.body)
			}
			if again := call(t, "POST", url+"/v1/frameworks:import", `{"frameworkId":"iso27001-2022"}`); again.code != 200 || again.body["etag"] != f.body["etag"] {
				t.Errorf("import again = %d %v", again.code, again.body)
			}
			if nf := call(t, "POST", url+"/v1/frameworks:import", `{"frameworkId":"iso9001"}`); nf.code != 404 {
				t.Errorf("import of a framework not shipped = %d %v", nf.code, nf.body)
			} else if reason, _ := details(t, nf.body); reason != "FRAMEWORK_NOT_IN_CATALOGUE" {
				t.Errorf("import of a framework not shipped: reason %q", reason)
			}
			reqs := call(t, "GET", url+"/v1/frameworks/iso27001-2022/requirements?pageSize=2", "")
			if list, _ := reqs.body["requirements"].([]any); reqs.code != 200 || len(list) != 2 || list[0].(map[string]any)["identifier"] != "A.5.1" {
				t.Errorf("GET requirements = %d %v", reqs.code, reqs.body)
			}

			r := call(t, "POST", url+"/v1/risks?riskId=vpn", `{"title":"VPN account takeover","category":"CYBERSECURITY","owner":"ana@example.com"}`)
			if r.code != 200 {
				t.Fatalf("POST /v1/risks = %d %v", r.code, r.body)
			}
			if a := call(t, "POST", url+"/v1/risks/vpn:assess", `{"inherent":{"likelihood":4,"impact":4},"residual":{"likelihood":2,"impact":4},"reason":"MFA in place"}`); a.code != 200 {
				t.Fatalf("assess = %d %v", a.code, a.body)
			}

			bad := call(t, "POST", url+"/v1/controls", `{"title":"MFA","owner":"ana@example.com","testFrequency":"QUARTERLY"}`)
			if reason, fields := details(t, bad.body); bad.code != 400 || reason != "INVALID_ARGUMENT" || !slices.Equal(fields, []string{"control.type:REQUIRED"}) {
				t.Errorf("a control without a type = %d %v %v", bad.code, reason, fields)
			}
			bad = call(t, "POST", url+"/v1/controls", `{"title":"MFA","owner":"ana@example.com","type":"PREVENTIVE","testFrequency":"QUARTERLY",
				"requirements":["frameworks/iso27001-2022/requirements/a-99"]}`)
			if reason, fields := details(t, bad.body); bad.code != 400 || reason != "INVALID_ARGUMENT" ||
				!slices.Equal(fields, []string{"control.requirements[0]:REQUIREMENT_NOT_FOUND"}) {
				t.Errorf("a control with an unknown requirement = %d %v %v", bad.code, reason, fields)
			}
			c := call(t, "POST", url+"/v1/controls?controlId=mfa", `{"title":"MFA on remote access","owner":"ana@example.com","type":"PREVENTIVE",
				"testFrequency":"QUARTERLY","requirements":["frameworks/iso27001-2022/requirements/a-8-5"],"risks":["risks/vpn"]}`)
			if c.code != 200 || c.body["name"] != "controls/mfa" || c.body["nextTestDate"] == nil {
				t.Fatalf("POST /v1/controls = %d %v", c.code, c.body)
			}
			if p := call(t, "PATCH", url+"/v1/controls/mfa", `{"description":"Every VPN login asks for a second factor."}`); p.code != 200 ||
				p.body["description"] != "Every VPN login asks for a second factor." {
				t.Errorf("PATCH the description = %d %v", p.code, p.body)
			}

			p := call(t, "GET", url+"/v1/frameworks/iso27001-2022/posture", "")
			if p.code != 200 || p.body["notCoveredCount"] != float64(93) || len(p.body["gaps"].([]any)) != 93 {
				t.Errorf("GET posture = %d %v", p.code, p.body["notCoveredCount"])
			}
			ok := call(t, "POST", url+"/v1/controls/mfa/tests", `{"testDate":{"year":`+today[:4]+`,"month":`+trim0(today[5:7])+`,"day":`+trim0(today[8:])+`},
				"result":"EFFECTIVE","evidenceLinks":["https://tickets.example.com/SEC-7"]}`)
			if ok.code != 200 || ok.body["result"] != "EFFECTIVE" {
				t.Fatalf("POST a test = %d %v", ok.code, ok.body)
			}
			if p := call(t, "GET", url+"/v1/frameworks/iso27001-2022/posture", ""); p.body["coveredCount"] != float64(1) || p.body["coveredPercent"] != float64(1) {
				t.Errorf("posture after an effective test = %v", p.body)
			}
			fail := call(t, "POST", url+"/v1/controls/mfa/tests", `{"testDate":{"year":`+today[:4]+`,"month":`+trim0(today[5:7])+`,"day":`+trim0(today[8:])+`},
				"result":"INEFFECTIVE","notes":"The fallback to SMS codes was found open."}`)
			if raised, _ := fail.body["raisedRisks"].([]any); fail.code != 200 || len(raised) != 1 || raised[0] != "risks/vpn" {
				t.Fatalf("POST a failing test = %d %v", fail.code, fail.body)
			}
			rk := call(t, "GET", url+"/v1/risks/vpn", "")
			if res, _ := rk.body["residual"].(map[string]any); res["likelihood"] != float64(3) {
				t.Errorf("risk after the failed control = %v", rk.body["residual"])
			}
			trend := call(t, "GET", url+"/v1/frameworks/iso27001-2022/postureSnapshots", "")
			if snaps, _ := trend.body["postureSnapshots"].([]any); trend.code != 200 || len(snaps) != 1 ||
				snaps[0].(map[string]any)["name"] != "frameworks/iso27001-2022/postureSnapshots/"+today {
				t.Errorf("GET postureSnapshots = %d %v", trend.code, trend.body)
			}
			future := call(t, "POST", url+"/v1/controls/mfa/tests", `{"testDate":{"year":2999,"month":1,"day":1},"result":"EFFECTIVE"}`)
			if _, fields := details(t, future.body); future.code != 400 || !slices.Equal(fields, []string{"control_test.test_date:DATE_IN_FUTURE"}) {
				t.Errorf("a test in the future = %d %v", future.code, future.body)
			}
		})
	}
}

// trim0 drops the leading zero of a month or day, as JSON numbers have none.
func trim0(s string) string {
	if len(s) == 2 && s[0] == '0' {
		return s[1:]
	}
	return s
}
