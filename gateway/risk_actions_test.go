package gateway_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestRiskActionsAndAcceptancesREST walks a risk's mitigation actions and acceptances over REST:
// created, refused with 400s naming the field, moved through their lifecycle (400 for an illegal
// transition), listed across risks with a filter; an acceptance approved by someone other than
// the risk's owner, refused with 403 for the owner, and revoked.
func TestRiskActionsAndAcceptancesREST(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			url := startRisk(t, db)
			// The service runs on the real clock: an acceptance expires within its limit from today.
			d := time.Now().UTC().AddDate(0, 6, 0)
			expiry := fmt.Sprintf(`{"year":%d,"month":%d,"day":%d}`, d.Year(), d.Month(), d.Day())
			risk := func(id, owner string) {
				t.Helper()
				if r := call(t, "POST", url+"/v1/risks?riskId="+id, `{"title":"Remote access without MFA","category":"CYBERSECURITY","owner":"`+owner+`"}`); r.code != 200 {
					t.Fatalf("POST /v1/risks = %d %v", r.code, r.body)
				}
				if r := call(t, "POST", url+"/v1/risks/"+id+":assess", `{"inherent":{"likelihood":4,"impact":4},"residual":{"likelihood":3,"impact":4},"reason":"first look"}`); r.code != 200 {
					t.Fatalf("assess %s = %d %v", id, r.code, r.body)
				}
			}
			risk("vpn", "ana@example.com")

			// Mitigation actions.
			a := call(t, "POST", url+"/v1/risks/vpn/actions?mitigationActionId=mfa", `{"title":"Enforce MFA on the VPN",
				"owner":"netops@example.com","dueDate":{"year":2030,"month":1,"day":31},"costEstimate":{"currencyCode":"EUR","units":"12500"}}`)
			cost, _ := a.body["costEstimate"].(map[string]any)
			if a.code != 200 || a.body["name"] != "risks/vpn/actions/mfa" || a.body["state"] != "OPEN" || cost["units"] != "12500" {
				t.Fatalf("POST actions = %d %v", a.code, a.body)
			}
			bad := call(t, "POST", url+"/v1/risks/vpn/actions", `{"title":"Too late","owner":"x@example.com","dueDate":{"year":2020,"month":1,"day":31}}`)
			if reason, fields := details(t, bad.body); bad.code != 400 || reason != "INVALID_ARGUMENT" ||
				!slices.Contains(fields, "mitigation_action.due_date:DUE_DATE_IN_PAST") {
				t.Errorf("an action due in the past = %d %v %v", bad.code, reason, fields)
			}
			if nf := call(t, "POST", url+"/v1/risks/nothere/actions", `{"title":"x","owner":"x@example.com","dueDate":{"year":2030,"month":1,"day":31}}`); nf.code != 404 {
				t.Errorf("an action of a missing risk = %d %v", nf.code, nf.body)
			}
			up := call(t, "PATCH", url+"/v1/risks/vpn/actions/mfa?updateMask=dueDate", `{"dueDate":{"year":2030,"month":3,"day":31}}`)
			if due, _ := up.body["dueDate"].(map[string]any); up.code != 200 || due["month"] != float64(3) {
				t.Errorf("PATCH the due date = %d %v", up.code, up.body)
			}
			if st := call(t, "POST", url+"/v1/risks/vpn/actions/mfa:start", `{}`); st.code != 200 || st.body["state"] != "IN_PROGRESS" {
				t.Errorf(":start = %d %v", st.code, st.body)
			}
			if st := call(t, "POST", url+"/v1/risks/vpn/actions/mfa:start", `{}`); st.code != 400 {
				t.Errorf(":start twice = %d %v; want 400", st.code, st.body)
			} else if reason, _ := details(t, st.body); reason != "INVALID_STATE_TRANSITION" {
				t.Errorf(":start twice: reason %q", reason)
			}
			if c := call(t, "POST", url+"/v1/risks/vpn/actions/mfa:cancel", `{}`); c.code != 400 {
				t.Errorf(":cancel without a reason = %d %v; want 400", c.code, c.body)
			} else if _, fields := details(t, c.body); !slices.ContainsFunc(fields, func(f string) bool { return len(f) > 7 && f[:7] == "reason:" }) {
				t.Errorf(":cancel without a reason: fields %v", fields)
			}
			l := call(t, "GET", url+"/v1/risks/-/actions?filter=state%20%3D%20IN_PROGRESS%20AND%20overdue%20%3D%20false", "")
			if as, _ := l.body["mitigationActions"].([]any); l.code != 200 || len(as) != 1 {
				t.Errorf("actions in progress = %d %v", l.code, l.body)
			}
			if d := call(t, "POST", url+"/v1/risks/vpn/actions/mfa:complete", `{}`); d.code != 200 || d.body["state"] != "DONE" || d.body["completeTime"] == nil {
				t.Errorf(":complete = %d %v", d.code, d.body)
			}

			// Acceptances: the caller (not the owner) approves; the owner may not.
			q := call(t, "POST", url+"/v1/risks/vpn/acceptances?acceptanceId=q1", `{"justification":"VPN replaced by ZTNA in Q2.",
				"expiryDate":`+expiry+`}`)
			if q.code != 200 || q.body["state"] != "PENDING" || q.body["requester"] != identitytest.Subject || q.body["acceptedScore"] != float64(12) {
				t.Fatalf("POST acceptances = %d %v", q.code, q.body)
			}
			if again := call(t, "POST", url+"/v1/risks/vpn/acceptances", `{"justification":"again","expiryDate":`+expiry+`}`); again.code != 400 {
				t.Errorf("a second live acceptance = %d %v; want 400", again.code, again.body)
			} else if reason, _ := details(t, again.body); reason != "ACCEPTANCE_EXISTS" {
				t.Errorf("a second live acceptance: reason %q", reason)
			}
			ok := call(t, "POST", url+"/v1/risks/vpn/acceptances/q1:approve", `{"reason":"Until the ZTNA rollout."}`)
			if ok.code != 200 || ok.body["state"] != "APPROVED" || ok.body["approver"] != identitytest.Subject {
				t.Errorf(":approve = %d %v", ok.code, ok.body)
			}
			rv := call(t, "POST", url+"/v1/risks/vpn/acceptances/q1:revoke", `{"reason":"The rollout slipped."}`)
			if rv.code != 200 || rv.body["state"] != "REVOKED" {
				t.Errorf(":revoke = %d %v", rv.code, rv.body)
			}

			risk("own", identitytest.Subject)
			if r := call(t, "POST", url+"/v1/risks/own/acceptances?acceptanceId=q1", `{"justification":"mine","expiryDate":`+expiry+`}`); r.code != 200 {
				t.Fatalf("request an acceptance of one's own risk = %d %v", r.code, r.body)
			}
			own := call(t, "POST", url+"/v1/risks/own/acceptances/q1:approve", `{}`)
			if reason, _ := details(t, own.body); own.code != 403 || reason != "APPROVER_IS_OWNER" {
				t.Errorf("the owner approving = %d %v", own.code, own.body)
			}
			list := call(t, "GET", url+"/v1/risks/-/acceptances?filter=state%20%3D%20PENDING", "")
			if qs, _ := list.body["acceptances"].([]any); list.code != 200 || len(qs) != 1 || qs[0].(map[string]any)["name"] != "risks/own/acceptances/q1" {
				t.Errorf("pending acceptances = %d %v", list.code, list.body)
			}
		})
	}
}
