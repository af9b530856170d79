package gateway_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestContinuityREST walks continuity plans over REST: a plan refused with 400s naming its
// fields, then created with durations as JSON strings, a second plan for its service refused
// (409), a FAILOVER exercise that misses the RTO with its finding become an action of the plan's
// risk, the plan's latest exercise, a filter on the service, and a 404.
func TestContinuityREST(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			url := startRisk(t, db)
			today := time.Now().UTC()
			date := fmt.Sprintf(`{"year":%d,"month":%d,"day":%d}`, today.Year(), int(today.Month()), today.Day())

			bad := call(t, "POST", url+"/v1/continuityPlans", `{"title":"Checkout","service":"checkout","owner":"people/ana","recoveryTimeObjective":"0s","exerciseCadence":{"months":6}}`)
			if reason, fields := details(t, bad.body); bad.code != 400 || reason != "INVALID_ARGUMENT" ||
				!slices.Equal(fields, []string{"continuity_plan.recovery_time_objective:OUT_OF_RANGE", "continuity_plan.recovery_point_objective:REQUIRED"}) {
				t.Errorf("a plan without objectives = %d %v %v", bad.code, reason, fields)
			}
			r := call(t, "POST", url+"/v1/risks?riskId=outage", `{"title":"Checkout outage","category":"OPERATIONAL","owner":"people/ana"}`)
			if r.code != 200 {
				t.Fatalf("POST /v1/risks = %d %v", r.code, r.body)
			}
			p := call(t, "POST", url+"/v1/continuityPlans?continuityPlanId=checkout", `{"title":"Checkout","service":"checkout","owner":"people/ana",
				"recoveryTimeObjective":"3600s","recoveryPointObjective":"900s","exerciseCadence":{"months":6},"risk":"risks/outage",
				"vendorDependencies":["vendors/payco"]}`)
			if p.code != 200 || p.body["name"] != "continuityPlans/checkout" || p.body["recoveryTimeObjective"] != "3600s" || p.body["nextExerciseDate"] == nil {
				t.Fatalf("POST /v1/continuityPlans = %d %v", p.code, p.body)
			}
			if dup := call(t, "POST", url+"/v1/continuityPlans", `{"title":"Again","service":"checkout","owner":"people/ana",
				"recoveryTimeObjective":"3600s","recoveryPointObjective":"0s","exerciseCadence":{"days":30}}`); dup.code != 409 {
				t.Errorf("a second plan for checkout = %d %v", dup.code, dup.body)
			}
			e := call(t, "POST", url+"/v1/continuityPlans/checkout/exercises", `{"kind":"FAILOVER","exerciseDate":`+date+`,
				"achievedRecoveryTime":"7200s","achievedRecoveryPoint":"300s","findings":[{"title":"Automate the DNS switch"}]}`)
			findings, _ := e.body["findings"].([]any)
			if e.code != 200 || e.body["recoveryTimeResult"] != "MISSED" || e.body["recoveryPointResult"] != "MET" || len(findings) != 1 {
				t.Fatalf("POST a failover = %d %v", e.code, e.body)
			}
			action, _ := findings[0].(map[string]any)["action"].(string)
			if a := call(t, "GET", url+"/v1/"+action, ""); a.code != 200 || a.body["title"] != "Automate the DNS switch" || a.body["owner"] != "people/ana" || a.body["state"] != "OPEN" {
				t.Errorf("GET the finding's action %q = %d %v", action, a.code, a.body)
			}
			if got := call(t, "GET", url+"/v1/continuityPlans/checkout", ""); got.code != 200 || got.body["lastExercise"] != e.body["name"] {
				t.Errorf("GET the plan = %d %v", got.code, got.body)
			}
			if tt := call(t, "POST", url+"/v1/continuityPlans/checkout/exercises", `{"kind":"FAILOVER","exerciseDate":`+date+`}`); tt.code != 400 {
				t.Errorf("a failover without times = %d %v", tt.code, tt.body)
			} else if _, fields := details(t, tt.body); !slices.Equal(fields, []string{"continuity_exercise.achieved_recovery_time:REQUIRED", "continuity_exercise.achieved_recovery_point:REQUIRED"}) {
				t.Errorf("a failover without times: fields %v", fields)
			}
			list := call(t, "GET", url+`/v1/continuityPlans?filter=service%20%3D%20%22checkout%22`, "")
			if ps, _ := list.body["continuityPlans"].([]any); list.code != 200 || len(ps) != 1 {
				t.Errorf("GET plans of checkout = %d %v", list.code, list.body)
			}
			if up := call(t, "PATCH", url+"/v1/continuityPlans/checkout", `{"recoveryTimeObjective":"10800s"}`); up.code != 200 || up.body["recoveryTimeObjective"] != "10800s" || up.body["title"] != "Checkout" {
				t.Errorf("PATCH the RTO = %d %v", up.code, up.body)
			}
			if nf := call(t, "GET", url+"/v1/continuityPlans/checkout/exercises/nothere", ""); nf.code != 404 {
				t.Errorf("GET an exercise not recorded = %d %v", nf.code, nf.body)
			}
			if del := call(t, "DELETE", url+"/v1/continuityPlans/checkout", ""); del.code != 200 {
				t.Errorf("DELETE the plan = %d %v", del.code, del.body)
			}
		})
	}
}
