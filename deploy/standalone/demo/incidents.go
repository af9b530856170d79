package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// incidentKinds are the incidents of the demo company's year. Those of a vendor's service name
// the vendor, whose contracts' service levels they may break.
var incidentKinds = []struct {
	title, kind, service string
	vendor               string
}{
	{"Freight booking API returns errors", "OUTAGE", "freight-booking", ""},
	{"Customer portal slow at peak", "DEGRADATION", "customer-portal", ""},
	{"ERP batch invoicing failed", "OUTAGE", "erp", ""},
	{"VPN gateway drops connections", "DEGRADATION", "vpn", ""},
	{"Email delivery delayed", "DEGRADATION", "email", ""},
	{"Warehouse scanners cannot sync", "OUTAGE", "warehouse-mobile", ""},
	{"Cloud region networking incident", "VENDOR_FAILURE", "cloud-platform", "vendors/northwind-cloud"},
	{"Phishing campaign against finance", "SECURITY_BREACH", "email", ""},
	{"Route planning job lost its results", "DATA_LOSS", "route-planning", ""},
	{"Identity provider login failures", "OUTAGE", "identity", ""},
	{"Telecom link to the Rotterdam hub down", "VENDOR_FAILURE", "wan", "vendors/fabrikam-networks"},
	{"Reporting warehouse refresh late", "DEGRADATION", "data-platform", ""},
}

type incidentPlan struct {
	id, title, kind, service, severity, vendor string
	declare                                    time.Time
	ack, mitigate, resolve                     time.Duration // after the declaration; 0: not yet
	closed                                     bool
}

// incidentPlans are a year of incidents, most resolved, the last few still open.
func (l *loader) incidentPlans() []incidentPlan {
	n := 150
	if l.opts.Small {
		n = 30
	}
	start := l.now.AddDate(-1, 0, 0)
	span := l.now.Sub(start) - 48*time.Hour
	var out []incidentPlan
	for i := 0; i < n; i++ {
		k := incidentKinds[l.rnd.IntN(len(incidentKinds))]
		sev := []string{"SEV1", "SEV2", "SEV2", "SEV3", "SEV3", "SEV3", "SEV4", "SEV4"}[l.rnd.IntN(8)]
		p := incidentPlan{id: fmt.Sprintf("inc-%04d", i+1), title: k.title, kind: k.kind, service: k.service, severity: sev, vendor: k.vendor,
			declare: start.Add(span * time.Duration(i) / time.Duration(n)).Add(time.Duration(l.between(0, 600)) * time.Minute).Truncate(time.Second)}
		p.ack = time.Duration(l.between(2, 45)) * time.Minute
		p.mitigate = p.ack + time.Duration(l.between(10, 240))*time.Minute
		p.resolve = p.mitigate + time.Duration(l.between(15, 600))*time.Minute
		// Closing a SEV1 or SEV2 needs its postmortem published: those stay resolved.
		p.closed = l.rnd.IntN(3) != 0 && (sev == "SEV3" || sev == "SEV4")
		if i >= n-4 { // the most recent ones are still being worked on
			p.resolve, p.closed = 0, false
			if i >= n-2 {
				p.mitigate = 0
			}
		}
		out = append(out, p)
	}
	return out
}

func (l *loader) loadIncidents(ctx context.Context) error {
	for _, p := range l.incidentPlans() {
		if err := l.incident(ctx, p); err != nil {
			return err
		}
	}
	if err := l.breach(ctx); err != nil {
		return err
	}
	return l.vendorOutage(ctx)
}

type incidentState struct {
	State string `json:"state"`
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// createIncident declares an incident at its (past) declare time, or reads it when it exists.
func (l *loader) createIncident(ctx context.Context, id string, declare time.Time, body map[string]any) (incidentState, error) {
	var st incidentState
	did, err := l.admin.ensure(ctx, "incidents", "incidentId", id, body, &st,
		"declareTime="+url.QueryEscape(rfc3339(declare)), "reason=recorded+from+the+on-call+log")
	if err != nil {
		return st, err
	}
	l.created("incidents", did)
	return st, nil
}

func (l *loader) incident(ctx context.Context, p incidentPlan) error {
	body := map[string]any{
		"title": p.title, "type": p.kind, "severity": p.severity, "affectedServices": []string{p.service},
		"detectTime": rfc3339(p.declare.Add(-time.Duration(len(p.id)) * time.Minute)),
		"roles":      map[string]any{"commander": "oncall-lead@halyard.example"},
	}
	if p.vendor != "" {
		body["vendor"] = p.vendor
	}
	st, err := l.createIncident(ctx, p.id, p.declare, body)
	if err != nil {
		return err
	}
	return l.advance(ctx, "incidents/"+p.id, st.State, p.declare, p.ack, p.mitigate, p.resolve, p.closed)
}

// advance takes an incident through the steps it has not taken yet, each at its own past time.
func (l *loader) advance(ctx context.Context, name, state string, declare time.Time, ack, mitigate, resolve time.Duration, closed bool) error {
	steps := []struct {
		from, verb, field string
		after             time.Duration
		when              bool
	}{
		{"DECLARED", "acknowledge", "acknowledgeTime", ack, ack > 0},
		{"ACKNOWLEDGED", "mitigate", "mitigateTime", mitigate, mitigate > 0},
		{"MITIGATED", "resolve", "resolveTime", resolve, resolve > 0},
		{"RESOLVED", "close", "closeTime", resolve + 24*time.Hour, closed && resolve > 0},
	}
	for _, s := range steps {
		if state != s.from || !s.when {
			continue
		}
		at := declare.Add(s.after)
		if at.After(l.now) {
			return nil
		}
		var st incidentState
		if err := l.admin.do(ctx, "POST", "/v1/"+name+":"+s.verb, map[string]any{
			s.field: rfc3339(at), "reason": "recorded from the on-call log"}, &st); err != nil {
			return err
		}
		state = st.State
	}
	return nil
}

// breach is the year's data breach: customer contact data exposed, declared a day and a half
// ago, with the GDPR and NIS2 clocks running from the awareness time; the early warning was sent.
func (l *loader) breach(ctx context.Context) error {
	declare := l.now.Add(-36 * time.Hour).Truncate(time.Second)
	st, err := l.createIncident(ctx, "customer-data-exposure", declare, map[string]any{
		"title":            "Customer contact data exposed through a misconfigured storage bucket",
		"summary":          "A storage bucket holding shipment notifications was readable from the internet.",
		"type":             "SECURITY_BREACH",
		"severity":         "SEV1",
		"affectedServices": []string{"customer-portal", "notifications"},
		"detectTime":       rfc3339(declare.Add(-2 * time.Hour)),
		"roles":            map[string]any{"commander": "ciso@halyard.example", "communicationsLead": "dpo@halyard.example"},
	})
	if err != nil {
		return err
	}
	if err := l.advance(ctx, "incidents/customer-data-exposure", st.State, declare, 20*time.Minute, 3*time.Hour, 0, false); err != nil {
		return err
	}
	var impact struct {
		NotificationClocks []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"notificationClocks"`
	}
	if err := l.admin.do(ctx, "GET", "/v1/incidents/customer-data-exposure/breachImpact", nil, &impact); err != nil {
		return err
	}
	if len(impact.NotificationClocks) == 0 {
		if err := l.admin.do(ctx, "PATCH", "/v1/incidents/customer-data-exposure/breachImpact?updateMask=description,affectedSubjects,affectedRecords,dataCategories,jurisdictions,regulatorNotificationRequired,subjectNotificationRequired,awarenessTime,notificationClocks", map[string]any{
			"description":                   "Names, e-mail addresses and delivery addresses of customers' consignees.",
			"affectedSubjects":              "18250",
			"affectedRecords":               "42000",
			"dataCategories":                []string{"IDENTITY", "CONTACT", "LOCATION"},
			"jurisdictions":                 []string{"NL", "DE", "BE"},
			"regulatorNotificationRequired": true,
			"subjectNotificationRequired":   true,
			"awarenessTime":                 rfc3339(declare),
			"notificationClocks": []map[string]any{
				{"id": "gdpr", "regime": "GDPR", "recipient": "Autoriteit Persoonsgegevens"},
				{"id": "nis2-early-warning", "regime": "NIS2_EARLY_WARNING", "recipient": "NCSC-NL"},
				{"id": "nis2-notification", "regime": "NIS2_NOTIFICATION", "recipient": "NCSC-NL"},
			},
		}, &impact); err != nil {
			return err
		}
	}
	for _, c := range impact.NotificationClocks {
		if c.ID == "nis2-early-warning" && c.State != "NOTIFIED" {
			if err := l.admin.do(ctx, "POST", "/v1/incidents/customer-data-exposure/breachImpact:recordNotification", map[string]any{
				"clock": "nis2-early-warning", "notifyTime": rfc3339(declare.Add(20 * time.Hour)), "reference": "NCSC-NL early warning",
			}, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// vendorOutage is a provider's outage three days ago, on the active contract with service levels
// (serviceLevels) that started first: a SEV1 resolved after 6 hours, the provider's service down
// for 2 of them. It breaks both of the contract's service levels — 4 hours to resolve a SEV1, and
// 99.9 % of the month — which the vendors service records as SLA breaches. Such contracts start
// on 1 January; in the first six hours of a year, when none can have had an outage resolved
// since, there is none.
func (l *loader) vendorOutage(ctx context.Context) error {
	var page struct {
		Contracts []struct {
			Name      string                         `json:"name"`
			StartDate struct{ Year, Month, Day int } `json:"startDate"`
			SLAs      []json.RawMessage              `json:"slas"`
		} `json:"contracts"`
	}
	if err := l.admin.do(ctx, "GET", "/v1/vendors/-/contracts?pageSize=1000&filter="+url.QueryEscape("state = ACTIVE"), nil, &page); err != nil {
		return err
	}
	contract, start := "", time.Time{}
	for _, c := range page.Contracts {
		from := time.Date(c.StartDate.Year, time.Month(c.StartDate.Month), c.StartDate.Day, 0, 0, 0, 0, time.UTC)
		if len(c.SLAs) > 0 && (contract == "" || from.Before(start)) {
			contract, start = c.Name, from
		}
	}
	declare := l.now.Add(-72 * time.Hour).Truncate(time.Minute)
	if declare.Before(start) {
		declare = start
	}
	if contract == "" || declare.Add(6*time.Hour).After(l.now) {
		return nil
	}
	vendor := contract[:strings.Index(contract, "/contracts/")]
	st, err := l.createIncident(ctx, "provider-outage", declare, map[string]any{
		"title":            "Provider outage takes the cloud platform down",
		"type":             "VENDOR_FAILURE",
		"severity":         "SEV1",
		"affectedServices": []string{"cloud-platform"},
		"vendor":           vendor,
		"vendorContract":   contract,
		"detectTime":       rfc3339(declare.Add(-5 * time.Minute)),
		"roles":            map[string]any{"commander": "oncall-lead@halyard.example"},
	})
	if err != nil {
		return err
	}
	return l.advance(ctx, "incidents/provider-outage", st.State, declare, 10*time.Minute, 2*time.Hour, 6*time.Hour, false)
}
