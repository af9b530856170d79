package demo

import (
	"context"
	"fmt"
	"hash/fnv"
	"net/url"
	"time"
)

// controlPlan is a control of the company, mapped to ISO/IEC 27001:2022 Annex A, and its tests:
// each a number of days ago and a result.
type controlPlan struct {
	id, title, owner, kind, frequency string
	requirements                      []string
	// risk links the control to the first open risk of the register in this category ("" none).
	riskCategory string
	tests        []controlTest
}

type controlTest struct {
	daysAgo int
	result  string
	notes   string
}

// controls are tested in the past: backup's last test failed (raising the ransomware risk it
// mitigates), vulnerability scanning's and logging's quarterly tests are overdue, the others are
// current; awareness training has never been tested (due a year after its creation).
var controls = []controlPlan{
	{"backup", "Offline backups of the booking database, restore tested", "head-of-infrastructure@halyard.example", "CORRECTIVE", "QUARTERLY",
		[]string{"a-8-13"}, "CYBERSECURITY", []controlTest{{70, "EFFECTIVE", "Full restore in 2 h 40 min."}, {10, "INEFFECTIVE", "The new customs database was missing from the backup set."}}},
	{"mfa", "Multi-factor authentication on every remote access", "ciso@halyard.example", "PREVENTIVE", "SEMI_ANNUALLY",
		[]string{"a-5-17", "a-8-5"}, "", []controlTest{{40, "EFFECTIVE", "Sampled 25 VPN and SaaS log-ins."}}},
	{"edr", "Endpoint detection and response on every laptop and server", "ciso@halyard.example", "DETECTIVE", "MONTHLY",
		[]string{"a-8-7", "a-8-16"}, "", []controlTest{{20, "PARTIALLY_EFFECTIVE", "Two depot servers run without the agent."}}},
	{"vuln-scan", "Weekly vulnerability scans, critical findings patched within 14 days", "head-of-infrastructure@halyard.example", "DETECTIVE", "QUARTERLY",
		[]string{"a-8-8"}, "", []controlTest{{100, "EFFECTIVE", "All critical findings closed in time."}}},
	{"logging", "Security logs kept for a year and reviewed weekly", "ciso@halyard.example", "DETECTIVE", "QUARTERLY",
		[]string{"a-8-15"}, "", []controlTest{{120, "EFFECTIVE", "Retention and review evidence for the quarter."}}},
	{"cloud-review", "Yearly security review of each cloud service used", "cio@halyard.example", "PREVENTIVE", "ANNUALLY",
		[]string{"a-5-23"}, "", []controlTest{{150, "EFFECTIVE", "Reviewed the cloud and SaaS providers with their SOC 2 reports."}}},
	{"awareness", "Security awareness training for every employee", "ciso@halyard.example", "PREVENTIVE", "ANNUALLY",
		[]string{"a-6-3"}, "", nil},
}

// continuityPlan is the continuity plan of one of the company's services and its exercises.
type continuityPlan struct {
	id, title, service, owner string
	rto, rpo                  time.Duration
	cadenceMonths             int
	exercises                 []continuityExercise
}

type continuityExercise struct {
	id, kind                 string
	daysAgo                  int
	achievedRTO, achievedRPO time.Duration
	notes                    string
}

// plans: booking's last failover missed its RTO; tracking's tabletop is overdue (its cadence of
// six months passed); invoicing is new and not due yet.
var plans = []continuityPlan{
	{"booking", "Freight booking recovery", "booking", "head-of-applications@halyard.example", time.Hour, 15 * time.Minute, 6,
		[]continuityExercise{{"failover-1", "FAILOVER", 45, 2 * time.Hour, 5 * time.Minute, "The standby database took an hour to promote."}}},
	{"tracking", "Shipment tracking recovery", "tracking", "head-of-infrastructure@halyard.example", 4 * time.Hour, time.Hour, 6,
		[]continuityExercise{{"tabletop-1", "TABLETOP", 200, 3 * time.Hour, 30 * time.Minute, "Walked through the loss of the Rotterdam hub."}}},
	{"invoicing", "Invoicing recovery", "invoicing", "cio@halyard.example", 24 * time.Hour, 4 * time.Hour, 12, nil},
}

// acknowledgedShare is how many people of ten acknowledge the acceptable-use policy; the others
// are overdue.
const acknowledgedShare = 7

// loadCompliance imports ISO/IEC 27001:2022 Annex A and maps the company's controls to it, each
// tested in the past (one failed, two overdue for their next test); writes the continuity plans of
// three services (one exercise missed its RTO, one plan is overdue for its next); and publishes
// the acceptable-use policy to everyone, 45 days ago with 30 days to acknowledge it: seven in ten
// active people did, the others are overdue.
func (l *loader) loadCompliance(ctx context.Context) error {
	if err := l.admin.do(ctx, "POST", "/v1/frameworks:import", map[string]any{"frameworkId": "iso27001-2022"}, nil); err != nil {
		return fmt.Errorf("import ISO/IEC 27001: %w", err)
	}
	risks := map[string]string{}
	for _, p := range l.riskPlans() {
		// An open, assessed risk: the register's first of each category that is neither closed nor
		// only identified.
		if _, ok := risks[p.category]; !ok && p.fate >= 0 && p.fate != 4 {
			risks[p.category] = "risks/" + p.id
		}
	}
	for _, c := range controls {
		body := map[string]any{"title": c.title, "owner": c.owner, "type": c.kind, "testFrequency": c.frequency}
		var reqs []string
		for _, r := range c.requirements {
			reqs = append(reqs, "frameworks/iso27001-2022/requirements/"+r)
		}
		body["requirements"] = reqs
		if r := risks[c.riskCategory]; r != "" {
			body["risks"] = []string{r}
		}
		did, err := l.admin.ensure(ctx, "controls", "controlId", c.id, body, nil)
		if err != nil {
			return err
		}
		l.created("controls", did)
		for i, t := range c.tests {
			did, err := l.admin.ensure(ctx, "controls/"+c.id+"/tests", "controlTestId", fmt.Sprintf("t%d", i+1), map[string]any{
				"testDate": date(l.now.AddDate(0, 0, -t.daysAgo)), "result": t.result, "notes": t.notes,
				"evidenceLinks": []string{fmt.Sprintf("https://tickets.halyard.example/GRC-%d", 100+10*len(c.id)+i)},
			}, nil)
			if err != nil {
				return err
			}
			l.created("controlTests", did)
		}
	}
	for _, p := range plans {
		did, err := l.admin.ensure(ctx, "continuityPlans", "continuityPlanId", p.id, map[string]any{
			"title": p.title, "service": p.service, "owner": p.owner,
			"recoveryTimeObjective": seconds(p.rto), "recoveryPointObjective": seconds(p.rpo),
			"exerciseCadence": map[string]any{"months": p.cadenceMonths},
		}, nil)
		if err != nil {
			return err
		}
		l.created("continuityPlans", did)
		for _, e := range p.exercises {
			did, err := l.admin.ensure(ctx, "continuityPlans/"+p.id+"/exercises", "continuityExerciseId", e.id, map[string]any{
				"kind": e.kind, "exerciseDate": date(l.now.AddDate(0, 0, -e.daysAgo)),
				"achievedRecoveryTime": seconds(e.achievedRTO), "achievedRecoveryPoint": seconds(e.achievedRPO), "notes": e.notes,
			}, nil)
			if err != nil {
				return err
			}
			l.created("exercises", did)
		}
	}
	return l.loadPolicy(ctx)
}

// loadPolicy publishes the acceptable-use policy to everyone and has seven in ten of the active
// people acknowledge it (a fixed choice by person, so a second run asks the same people: their
// acknowledgements are kept, and only one made by this run counts as created).
func (l *loader) loadPolicy(ctx context.Context) error {
	var p struct {
		CurrentVersion string `json:"currentVersion"`
	}
	did, err := l.admin.ensure(ctx, "policies", "policyId", "acceptable-use", map[string]any{
		"title": "Acceptable use", "summary": "How company devices, accounts and data may be used.",
		"owner": "ciso@halyard.example", "everyone": true, "acknowledgementDays": 30,
	}, &p)
	if err != nil {
		return err
	}
	l.created("policies", did)
	if p.CurrentVersion == "" {
		if err := l.admin.do(ctx, "POST", "/v1/policies/acceptable-use/versions", map[string]any{
			"documentUri":   "https://intranet.halyard.example/policies/acceptable-use/1.0",
			"effectiveDate": date(l.now.AddDate(0, 0, -45)), "changeSummary": "First version.",
		}, nil); err != nil {
			return err
		}
	}
	people, err := list[struct{ Name, State string }](ctx, l.admin, "/v1/people?filter="+url.QueryEscape(`state = ACTIVE`), "people")
	if status(err) == 404 || status(err) == 501 {
		fmt.Fprintf(l.opts.Log, "demo: this platform serves no people (%v); no acknowledgements\n", err)
		return nil
	}
	if err != nil {
		return err
	}
	started := time.Now().UTC()
	for _, person := range people {
		h := fnv.New32a()
		h.Write([]byte(person.Name))
		if h.Sum32()%10 >= acknowledgedShare {
			continue
		}
		var a struct {
			AcknowledgeTime time.Time `json:"acknowledgeTime"`
		}
		if err := l.admin.do(ctx, "POST", "/v1/policies/acceptable-use:acknowledge", map[string]any{"person": person.Name}, &a); err != nil {
			return fmt.Errorf("acknowledge by %s: %w", person.Name, err)
		}
		l.created("acknowledgements", !a.AcknowledgeTime.Before(started.Truncate(time.Second)))
	}
	return nil
}

// seconds is a google.protobuf.Duration in JSON.
func seconds(d time.Duration) string { return fmt.Sprintf("%ds", int64(d.Seconds())) }
