package gateway_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestIncidentsREST walks a data breach over REST: declared, refused with 400s naming the field,
// its roles and cost patched from a JSON body alone (the body's fields are the mask), moved
// through its steps (400 for an illegal transition or a time in the future), a note on its
// timeline, its notification clocks set and one notified, its postmortem written and submitted,
// and an action item listed across incidents.
func TestIncidentsREST(t *testing.T) {
	t.Parallel()
	for _, db := range testenv.Databases(t) {
		t.Run(db.Engine, func(t *testing.T) {
			t.Parallel()
			url := startRisk(t, db)
			// The service runs on the real clock.
			now := time.Now().UTC()
			rfc := func(t time.Time) string { return t.Format(time.RFC3339) }

			i := call(t, "POST", url+"/v1/incidents?incidentId=crm", `{"title":"CRM export left public","type":"DATA_LOSS",
				"severity":"SEV2","roles":{"commander":"ana@example.com"},"detectTime":"`+rfc(now.Add(-30*time.Minute))+`"}`)
			if i.code != 200 || i.body["name"] != "incidents/crm" || i.body["state"] != "DECLARED" || i.body["declareTime"] == nil {
				t.Fatalf("POST /v1/incidents = %d %v", i.code, i.body)
			}
			bad := call(t, "POST", url+"/v1/incidents", `{"title":"x","severity":"SEV2"}`)
			if reason, fields := details(t, bad.body); bad.code != 400 || reason != "INVALID_ARGUMENT" || !slices.Equal(fields, []string{"incident.type:REQUIRED"}) {
				t.Errorf("an incident without a type = %d %v %v", bad.code, reason, fields)
			}

			// PATCH without an updateMask: the body's fields are the mask, a role or the whole cost.
			p := call(t, "PATCH", url+"/v1/incidents/crm", `{"roles":{"commander":"cy@example.com"}}`)
			if roles, _ := p.body["roles"].(map[string]any); p.code != 200 || roles["commander"] != "cy@example.com" {
				t.Errorf("PATCH the commander = %d %v", p.code, p.body)
			}
			p = call(t, "PATCH", url+"/v1/incidents/crm", `{"cost":{"currencyCode":"EUR","units":"900"},"budgetLine":"budgets/it-2026/lines/security"}`)
			if cost, _ := p.body["cost"].(map[string]any); p.code != 200 || cost["units"] != "900" {
				t.Errorf("PATCH the cost = %d %v", p.code, p.body)
			}
			if s := call(t, "PATCH", url+"/v1/incidents/crm", `{"severity":"SEV4"}`); s.code != 400 {
				t.Errorf("PATCH the severity = %d %v; want 400", s.code, s.body)
			}

			if a := call(t, "POST", url+"/v1/incidents/crm:acknowledge", `{}`); a.code != 200 || a.body["state"] != "ACKNOWLEDGED" {
				t.Fatalf(":acknowledge = %d %v", a.code, a.body)
			}
			if a := call(t, "POST", url+"/v1/incidents/crm:acknowledge", `{}`); a.code != 400 {
				t.Errorf(":acknowledge twice = %d %v; want 400", a.code, a.body)
			} else if reason, _ := details(t, a.body); reason != "INVALID_STATE_TRANSITION" {
				t.Errorf(":acknowledge twice: reason %q", reason)
			}
			m := call(t, "POST", url+"/v1/incidents/crm:mitigate", `{"mitigateTime":"`+rfc(now.Add(time.Hour))+`"}`)
			if _, fields := details(t, m.body); m.code != 400 || !slices.Equal(fields, []string{"mitigate_time:TIME_IN_FUTURE"}) {
				t.Errorf(":mitigate in the future = %d %v", m.code, m.body)
			}
			if s := call(t, "POST", url+"/v1/incidents/crm:changeSeverity", `{"severity":"SEV1","reason":"customer data confirmed"}`); s.code != 200 || s.body["severity"] != "SEV1" {
				t.Errorf(":changeSeverity = %d %v", s.code, s.body)
			}
			if n := call(t, "POST", url+"/v1/incidents/crm/timelineEntries", `{"text":"Bucket made private."}`); n.code != 200 || n.body["kind"] != "NOTE" {
				t.Errorf("POST a note = %d %v", n.code, n.body)
			}
			tl := call(t, "GET", url+"/v1/incidents/crm/timelineEntries", "")
			entries, _ := tl.body["timelineEntries"].([]any)
			var kinds []string
			for _, e := range entries {
				kinds = append(kinds, e.(map[string]any)["kind"].(string))
			}
			if tl.code != 200 || !slices.Equal(kinds, []string{"STATE_CHANGE", "ROLE_CHANGE", "ROLE_CHANGE", "STATE_CHANGE", "SEVERITY_CHANGE", "NOTE"}) {
				t.Errorf("timeline = %d %v", tl.code, kinds)
			}
			if d := call(t, "DELETE", url+"/v1/incidents/crm/timelineEntries/00000001", ""); d.code != 404 && d.code != 405 && d.code != 501 {
				t.Errorf("DELETE a timeline entry = %d %v", d.code, d.body)
			}

			// The breach impact and its clocks.
			b := call(t, "PATCH", url+"/v1/incidents/crm/breachImpact", `{"affectedSubjects":"1200","jurisdictions":["DE"],
				"regulatorNotificationRequired":true,"notificationClocks":[{"id":"gdpr","regime":"GDPR","recipient":"BfDI"},
				{"id":"nis2","regime":"NIS2_EARLY_WARNING"}]}`)
			clocks, _ := b.body["notificationClocks"].([]any)
			if b.code != 200 || len(clocks) != 2 || clocks[0].(map[string]any)["deadline"] != "259200s" || clocks[1].(map[string]any)["state"] != "RUNNING" {
				t.Fatalf("PATCH the breach impact = %d %v", b.code, b.body)
			}
			cb := call(t, "PATCH", url+"/v1/incidents/crm/breachImpact", `{"notificationClocks":[{"id":"x","regime":"CUSTOM"}]}`)
			if _, fields := details(t, cb.body); cb.code != 400 || !slices.Equal(fields, []string{"breach_impact.notification_clocks[0].deadline:REQUIRED"}) {
				t.Errorf("a custom clock without a deadline = %d %v", cb.code, cb.body)
			}
			r := call(t, "POST", url+"/v1/incidents/crm/breachImpact:recordNotification", `{"clock":"nis2","reference":"BSI-1"}`)
			if clocks, _ := r.body["notificationClocks"].([]any); r.code != 200 || clocks[1].(map[string]any)["state"] != "NOTIFIED" {
				t.Errorf(":recordNotification = %d %v", r.code, r.body)
			}
			if nb := call(t, "GET", url+"/v1/incidents/nothere/breachImpact", ""); nb.code != 404 {
				t.Errorf("breach impact of a missing incident = %d", nb.code)
			}

			// The postmortem and an action item.
			pm := call(t, "PATCH", url+"/v1/incidents/crm/postmortem", `{"summary":"An export was public for a day.",
				"impact":"1,200 customers' addresses.","rootCauses":"A test bucket policy reached production."}`)
			if pm.code != 200 || pm.body["state"] != "DRAFT" {
				t.Errorf("PATCH the postmortem = %d %v", pm.code, pm.body)
			}
			if s := call(t, "POST", url+"/v1/incidents/crm/postmortem:submit", `{}`); s.code != 200 || s.body["state"] != "IN_REVIEW" {
				t.Errorf(":submit = %d %v", s.code, s.body)
			}
			if s := call(t, "POST", url+"/v1/incidents/crm/postmortem:publish", `{}`); s.code != 400 {
				t.Errorf(":publish before the incident is resolved = %d %v; want 400", s.code, s.body)
			}
			due := now.AddDate(0, 1, 0)
			ai := call(t, "POST", url+"/v1/incidents/crm/postmortem/actionItems?actionItemId=policy", fmt.Sprintf(`{"title":"Block public buckets",
				"owner":"cloud@example.com","dueDate":{"year":%d,"month":%d,"day":%d}}`, due.Year(), due.Month(), due.Day()))
			if ai.code != 200 || ai.body["name"] != "incidents/crm/postmortem/actionItems/policy" || ai.body["state"] != "OPEN" {
				t.Errorf("POST an action item = %d %v", ai.code, ai.body)
			}
			l := call(t, "GET", url+"/v1/incidents/-/postmortem/actionItems?filter=state%20%3D%20OPEN", "")
			if items, _ := l.body["actionItems"].([]any); l.code != 200 || len(items) != 1 {
				t.Errorf("open action items = %d %v", l.code, l.body)
			}
		})
	}
}
