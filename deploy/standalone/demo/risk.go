package demo

import (
	"context"
	"fmt"
	"time"
)

var riskTitles = []struct{ title, category string }{
	{"Ransomware encrypts the freight booking database", "CYBERSECURITY"},
	{"Phishing compromises a finance mailbox", "CYBERSECURITY"},
	{"Unpatched VPN appliances are exploited", "CYBERSECURITY"},
	{"Customer data leaks through a misconfigured storage bucket", "CYBERSECURITY"},
	{"Privileged accounts without MFA at a managed service provider", "CYBERSECURITY"},
	{"The primary data centre loses power beyond the UPS autonomy", "OPERATIONAL"},
	{"The WAN link to the Rotterdam hub fails during peak season", "OPERATIONAL"},
	{"Batch invoicing overruns its nightly window", "OPERATIONAL"},
	{"Backups of the ERP are not restorable", "OPERATIONAL"},
	{"The service desk cannot absorb the peak-season ticket volume", "OPERATIONAL"},
	{"GDPR breach notification is missed", "COMPLIANCE"},
	{"Customs filing software falls out of certification", "COMPLIANCE"},
	{"Software licence audit finds under-licensed databases", "COMPLIANCE"},
	{"Retention rules are not applied to shipment records", "COMPLIANCE"},
	{"A critical SaaS vendor goes out of business", "VENDOR"},
	{"The routing engine vendor raises prices at renewal", "VENDOR"},
	{"A telecom provider misses its SLA repeatedly", "VENDOR"},
	{"Offshore development partner loses key staff", "VENDOR"},
	{"The ERP upgrade overruns its budget and date", "TECHNOLOGY_ADOPTION"},
	{"The legacy CRM runs on an unsupported database version", "TECHNOLOGY_ADOPTION"},
	{"Cloud migration doubles the run cost", "TECHNOLOGY_ADOPTION"},
	{"The mobile driver app is rejected by the app stores", "TECHNOLOGY_ADOPTION"},
	{"Currency swings inflate the dollar-denominated licences", "FINANCIAL"},
	{"Cloud spend exceeds the committed-use discount", "FINANCIAL"},
	{"Capitalised project costs are written off", "FINANCIAL"},
	{"One DBA alone knows the billing database", "PEOPLE"},
	{"Security engineers leave for better-paid roles", "PEOPLE"},
	{"The architecture team is understaffed for the programme", "PEOPLE"},
	{"Key integration knowledge sits with a contractor", "PEOPLE"},
	{"On-call fatigue in the platform team", "PEOPLE"},
}

var owners = []string{"ciso@halyard.example", "cio@halyard.example", "cto@halyard.example", "head-of-infrastructure@halyard.example", "head-of-applications@halyard.example"}

type riskPlan struct {
	id, title, category, owner string
	inherent, residual         [2]int
	// what happens after the assessment: 0 stays assessed, 1 treated with an action, 2 treated
	// and monitored, 3 accepted, 4 closed
	fate int
}

func (l *loader) riskPlans() []riskPlan {
	n := 60
	if l.opts.Small {
		n = 15
	}
	var out []riskPlan
	for i := 0; i < n; i++ {
		t := riskTitles[i%len(riskTitles)]
		title := t.title
		if i >= len(riskTitles) {
			title = fmt.Sprintf("%s (%s)", t.title, []string{"Europe", "Americas", "Asia"}[i%3])
		}
		p := riskPlan{id: fmt.Sprintf("r%03d-%s", i+1, slug(t.category)), title: title, category: t.category, owner: l.pick(owners)}
		p.inherent = [2]int{l.between(2, 5), l.between(2, 5)}
		p.residual = [2]int{max(1, p.inherent[0]-l.between(0, 2)), max(1, p.inherent[1]-l.between(0, 1))}
		p.fate = l.rnd.IntN(5)
		if i%6 == 5 {
			p.fate = -1 // identified, not assessed yet
		}
		out = append(out, p)
	}
	return out
}

func (l *loader) loadRisks(ctx context.Context) error {
	for _, p := range l.riskPlans() {
		if err := l.risk(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func (l *loader) risk(ctx context.Context, p riskPlan) error {
	var r struct {
		State string `json:"state"`
	}
	did, err := l.admin.ensure(ctx, "risks", "riskId", p.id, map[string]any{
		"title": p.title, "category": p.category, "owner": p.owner,
		"description": "Identified at the IT risk workshop.",
	}, &r)
	if err != nil {
		return err
	}
	l.created("risks", did)
	name := "/v1/risks/" + p.id
	if p.fate < 0 {
		return nil
	}
	if r.State == "IDENTIFIED" {
		if err := l.admin.do(ctx, "POST", name+":assess", map[string]any{
			"reason":   "IT risk workshop",
			"inherent": map[string]any{"likelihood": p.inherent[0], "impact": p.inherent[1]},
			"residual": map[string]any{"likelihood": p.residual[0], "impact": p.residual[1]},
		}, &r); err != nil {
			return err
		}
	}
	switch p.fate {
	case 1, 2:
		if r.State == "ASSESSED" {
			if err := l.admin.do(ctx, "POST", name+":startTreatment", map[string]any{
				"treatment": "MITIGATE", "treatmentPlan": "Controls agreed at the risk committee."}, &r); err != nil {
				return err
			}
		}
		did, err := l.admin.ensure(ctx, "risks/"+p.id+"/actions", "mitigationActionId", "control", map[string]any{
			"title": "Put the agreed control in place", "owner": p.owner,
			"dueDate": date(l.now.AddDate(0, 0, 30+len(p.id)%60)), "costEstimate": money("EUR", int64(5_000+1_000*(len(p.title)%20))),
		}, nil)
		if err != nil {
			return err
		}
		l.created("actions", did)
		if p.fate == 2 && r.State == "TREATING" {
			var a struct {
				State string `json:"state"`
			}
			if err := l.admin.do(ctx, "GET", name+"/actions/control", nil, &a); err != nil {
				return err
			}
			if a.State == "OPEN" {
				if err := l.admin.do(ctx, "POST", name+"/actions/control:complete", map[string]any{}, nil); err != nil {
					return err
				}
			}
			if err := l.admin.do(ctx, "POST", name+":monitor", map[string]any{}, &r); err != nil {
				return err
			}
		}
	case 3:
		if r.State == "ASSESSED" {
			if err := l.admin.do(ctx, "POST", name+":startTreatment", map[string]any{
				"treatment": "ACCEPT", "treatmentPlan": "Accepted until the system is retired."}, &r); err != nil {
				return err
			}
		}
		var a struct {
			State string `json:"state"`
		}
		did, err := l.admin.ensure(ctx, "risks/"+p.id+"/acceptances", "acceptanceId", "until-retirement", map[string]any{
			"justification": "The system is retired next year; compensating controls are in place.",
			"expiryDate":    date(time.Date(l.year+1, 6, 30, 0, 0, 0, 0, time.UTC)),
		}, &a)
		if err != nil {
			return err
		}
		l.created("acceptances", did)
		if a.State == "PENDING" {
			if err := l.approver.do(ctx, "POST", name+"/acceptances/until-retirement:approve", map[string]any{"reason": "agreed at the risk committee"}, nil); err != nil {
				return err
			}
		}
	case 4:
		if r.State == "ASSESSED" {
			if err := l.admin.do(ctx, "POST", name+":close", map[string]any{"reason": "the system was decommissioned"}, &r); err != nil {
				return err
			}
		}
	}
	return nil
}
