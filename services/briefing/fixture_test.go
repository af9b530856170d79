package briefing

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/genproto/googleapis/type/date"
	moneypb "google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
)

// event is a domain event about a resource at a version, as a domain service publishes it.
type event struct {
	msg      proto.Message
	resource string
	version  int64
}

// history builds the events of a company, resource by resource, numbering each resource's
// versions as its service would.
type history struct {
	events   []event
	versions map[string]int64
}

func newHistory() *history { return &history{versions: map[string]int64{}} }

func (h *history) add(resource string, msg proto.Message) {
	h.versions[resource]++
	h.events = append(h.events, event{msg: msg, resource: resource, version: h.versions[resource]})
}

// count returns how many of the events are of domain's stream.
func (h *history) count(domain string) int64 {
	var n int64
	for _, e := range h.events {
		if spec, _ := events.SpecOf(e.msg); spec.Domain == domain {
			n++
		}
	}
	return n
}

func eur(units int64) *moneypb.Money { return &moneypb.Money{CurrencyCode: "EUR", Units: units} }

func day(y, m, d int) *date.Date { return &date.Date{Year: int32(y), Month: int32(m), Day: int32(d)} }

// costCenter adds a cost centre with an approved budget for fiscal year 2027 (from 1 January
// 2027) of planned units, a commitment and an actual of each amount in periods 1, 2, ….
func (h *history) costCenter(id string, planned, committed int64, actuals ...int64) {
	cc := "costCenters/" + id
	h.add(cc, &budgetv1.CostCenterCreated{CostCenter: &budgetv1.CostCenter{Name: cc, DisplayName: "Cost centre " + id}})
	b := &budgetv1.Budget{Name: "budgets/" + id + "-fy2027", CostCenter: cc, FiscalYear: 2027, CurrencyCode: "EUR",
		DisplayName: id + " FY2027", FiscalYearStartDate: day(2027, 1, 1), PlannedAmount: eur(planned),
		State: budgetv1.Budget_DRAFT, Revision: 1}
	h.add(b.Name, &budgetv1.BudgetCreated{Budget: proto.Clone(b).(*budgetv1.Budget)})
	b.State = budgetv1.Budget_SUBMITTED
	h.add(b.Name, &budgetv1.BudgetSubmitted{Budget: proto.Clone(b).(*budgetv1.Budget)})
	b.State = budgetv1.Budget_APPROVED
	h.add(b.Name, &budgetv1.BudgetApproved{Budget: proto.Clone(b).(*budgetv1.Budget)})
	line := b.Name + "/lines/run"
	if committed > 0 {
		c := line + "/commitments/c1"
		h.add(c, &budgetv1.CommitmentRecorded{Commitment: &budgetv1.Commitment{Name: c, Amount: eur(committed),
			ConvertedAmount: eur(committed), RemainingAmount: eur(committed)}})
	}
	for i, a := range actuals {
		name := fmt.Sprintf("%s/actuals/a%d", line, i+1)
		h.add(name, &budgetv1.ActualRecorded{Actual: &budgetv1.Actual{Name: name, Amount: eur(a), ConvertedAmount: eur(a),
			BookingDate: day(2027, i+1, 10), Period: fmt.Sprintf("FY2027-P%02d", i+1)}})
	}
}

// vendor adds a vendor.
func (h *history) vendor(id string) string {
	v := "vendors/" + id
	h.add(v, &vendorsv1.VendorCreated{Vendor: &vendorsv1.Vendor{Name: v, DisplayName: "Vendor " + id}})
	return v
}

// contract adds an active contract of vendor, worth annual units a year.
func (h *history) contract(vendor, id string, annual int64, end, opens, cancelBy *date.Date, renewalMonths int32) string {
	name := vendor + "/contracts/" + id
	c := &vendorsv1.Contract{Name: name, Title: "Contract " + id, Owner: "cio@example.com", State: vendorsv1.Contract_DRAFT,
		EndDate: end, AnnualValue: eur(annual), TotalValue: eur(annual), StartDate: day(2026, 1, 1)}
	if renewalMonths > 0 {
		c.AutoRenew, c.RenewalTermMonths, c.NoticeWindowOpenDate, c.CancelByDate = true, renewalMonths, opens, cancelBy
	}
	h.add(name, &vendorsv1.ContractCreated{Contract: proto.Clone(c).(*vendorsv1.Contract)})
	c.State = vendorsv1.Contract_ACTIVE
	h.add(name, &vendorsv1.ContractActivated{Contract: proto.Clone(c).(*vendorsv1.Contract)})
	return name
}

// breach adds an SLA breach of a service level of contract (`vendors/{vendor}/contracts/{id}`),
// broken by incident at at, as the vendors service publishes it.
func (h *history) breach(contract, id string, kind vendorsv1.SlaBreach_Kind, incident string, at time.Time) string {
	vendor, _, _ := strings.Cut(contract, "/contracts/")
	b := &vendorsv1.SlaBreach{Name: vendor + "/slaBreaches/" + id, Contract: contract, ServiceLevel: "Service", Kind: kind,
		Incident: incident, Severity: vendorsv1.ResponseTarget_SEV1, Target: "4h", Measured: "5h", BreachTime: timestamppb.New(at)}
	h.add(b.Name, &vendorsv1.VendorSlaBreached{SlaBreach: b, Vendor: vendor, Version: 1,
		Scorecard: fmt.Sprintf("%s/scorecards/%d-Q%d", vendor, at.Year(), (at.Month()+2)/3)})
	return b.Name
}

// risk adds a risk, assessed with a residual score unless likelihood is 0.
func (h *history) risk(id string, likelihood, impact int32, level riskv1.RiskLevel, above bool) *riskv1.Risk {
	r := &riskv1.Risk{Name: "risks/" + id, Title: "Risk " + id, Category: riskv1.Risk_CYBERSECURITY,
		Owner: "ciso@example.com", State: riskv1.Risk_IDENTIFIED}
	h.add(r.Name, &riskv1.RiskIdentified{Risk: proto.Clone(r).(*riskv1.Risk)})
	if likelihood > 0 {
		r.State = riskv1.Risk_ASSESSED
		r.Residual = &riskv1.RiskScore{Likelihood: likelihood, Impact: impact, Score: likelihood * impact, Level: level}
		r.Inherent = proto.Clone(r.Residual).(*riskv1.RiskScore)
		r.AboveAppetite = above
		h.add(r.Name, &riskv1.RiskAssessed{Risk: proto.Clone(r).(*riskv1.Risk), PreviousState: riskv1.Risk_IDENTIFIED})
	}
	return r
}

// incident adds an incident detected at detect, acknowledged and resolved so many minutes after
// it (0: not), and closed when closed is true.
func (h *history) incident(id string, sev riskv1.Incident_Severity, detect time.Time, ackAfter, resolveAfter int, closed bool) {
	i := &riskv1.Incident{Name: "incidents/" + id, Title: "Incident " + id, Type: riskv1.Incident_OUTAGE, Severity: sev,
		State: riskv1.Incident_DECLARED, DetectTime: timestamppb.New(detect), DeclareTime: timestamppb.New(detect)}
	h.add(i.Name, &riskv1.IncidentDeclared{Incident: proto.Clone(i).(*riskv1.Incident)})
	if ackAfter > 0 {
		i.State, i.AcknowledgeTime = riskv1.Incident_ACKNOWLEDGED, timestamppb.New(detect.Add(time.Duration(ackAfter)*time.Minute))
		h.add(i.Name, &riskv1.IncidentAcknowledged{Incident: proto.Clone(i).(*riskv1.Incident)})
	}
	if resolveAfter > 0 {
		i.State, i.ResolveTime = riskv1.Incident_RESOLVED, timestamppb.New(detect.Add(time.Duration(resolveAfter)*time.Minute))
		h.add(i.Name, &riskv1.IncidentResolved{Incident: proto.Clone(i).(*riskv1.Incident)})
	}
	if closed {
		i.State = riskv1.Incident_CLOSED
		h.add(i.Name, &riskv1.IncidentClosed{Incident: proto.Clone(i).(*riskv1.Incident)})
	}
}

// posture adds a framework's posture after a change: covered, partial and not covered of its
// requirements, changed at changed.
func (h *history) posture(id, title string, covered, partial, notCovered int32, changed time.Time) {
	name := "frameworks/" + id
	total := covered + partial + notCovered
	h.add(name+"/posture", &riskv1.FrameworkPostureChanged{Framework: name, Title: title, Posture: &riskv1.CompliancePosture{
		Name: name + "/posture", RequirementCount: total, CoveredCount: covered, PartialCount: partial, NotCoveredCount: notCovered,
		CoveredPercent: covered * 100 / total, ComputeTime: timestamppb.New(changed)}})
}

// control adds a control tested QUARTERLY, whose next test is due on next.
func (h *history) control(id string, next *date.Date) *riskv1.Control {
	c := &riskv1.Control{Name: "controls/" + id, Title: "Control " + id, Owner: "people/" + id + "-owner",
		Type: riskv1.ControlType_PREVENTIVE, TestFrequency: riskv1.TestFrequency_QUARTERLY, NextTestDate: next}
	h.add(c.Name, &riskv1.ControlCreated{Control: proto.Clone(c).(*riskv1.Control)})
	return c
}

// plan adds a continuity plan of service, exercised every months months, whose next exercise is
// due by next.
func (h *history) plan(id, service string, months int32, next *date.Date) *riskv1.ContinuityPlan {
	p := &riskv1.ContinuityPlan{Name: "continuityPlans/" + id, Title: "Plan " + id, Service: service, Owner: "people/" + id + "-owner",
		ExerciseCadence: &riskv1.ExerciseCadence{Months: months}, NextExerciseDate: next}
	h.add(p.Name, &riskv1.ContinuityPlanCreated{Plan: proto.Clone(p).(*riskv1.ContinuityPlan)})
	return p
}

// policy adds a policy asking everyone, or the teams given.
func (h *history) policy(id string, teams ...string) *riskv1.Policy {
	p := &riskv1.Policy{Name: "policies/" + id, Title: "Policy " + id, Owner: "people/" + id + "-owner", Everyone: len(teams) == 0,
		Teams: teams, AcknowledgementDays: 30}
	h.add(p.Name, &riskv1.PolicyCreated{Policy: proto.Clone(p).(*riskv1.Policy)})
	return p
}

// policyVersion publishes version (MAJOR.MINOR) of policy p; a major one's acknowledgements are
// due on due.
func (h *history) policyVersion(p *riskv1.Policy, version string, due *date.Date) {
	p.CurrentVersion = version
	v := &riskv1.PolicyVersion{Name: p.Name + "/versions/" + strings.ReplaceAll(version, ".", "-"), Version: version,
		DocumentUri: "https://docs.example.com/" + p.Name}
	if strings.HasSuffix(version, ".0") {
		v.RequiresAcknowledgement, v.AcknowledgementDueDate = true, due
	}
	h.add(p.Name, &riskv1.PolicyVersionPublished{Policy: proto.Clone(p).(*riskv1.Policy), PolicyVersion: v})
}

// acknowledge adds person's acknowledgement of policy p's current version.
func (h *history) acknowledge(p *riskv1.Policy, person string) {
	h.add(p.Name, &riskv1.PolicyAcknowledged{Policy: p.Name, Acknowledgement: &riskv1.PolicyAcknowledgement{Person: person,
		PolicyVersion: p.Name + "/versions/" + strings.ReplaceAll(p.GetCurrentVersion(), ".", "-"), Version: p.GetCurrentVersion()}})
}

// publish sends the events to their domains' streams under prefix, creating the streams.
func (h *history) publish(t testing.TB, js jetstream.JetStream, prefix string, from, to int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, d := range Domains {
		if _, err := events.EnsureStream(ctx, js, events.StreamConfig{Prefix: prefix}, d); err != nil {
			t.Fatal(err)
		}
	}
	f, err := outbox.NewFactory(prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	var acks []jetstream.PubAckFuture
	for _, e := range h.events[from:to] {
		m, err := f.New(ctx, e.msg, e.resource, e.version)
		if err != nil {
			t.Fatal(err)
		}
		a, err := js.PublishMsgAsync(m.NATSMsg())
		if err != nil {
			t.Fatal(err)
		}
		acks = append(acks, a)
	}
	for _, a := range acks {
		select {
		case <-a.Ok():
		case err := <-a.Err():
			t.Fatal(err)
		case <-ctx.Done():
			t.Fatal("publish: no acknowledgement")
		}
	}
}

// demo is the demo company's events times scale: per unit of scale 30 cost centres with a year of
// actuals and a commitment, 40 vendors with two contracts each (some in their notice window, some
// renewing within 90 days), 60 risks over the matrix (a fifth above appetite, a tenth closed),
// 150 incidents over the last year (a tenth open), and 10 teams of 30 people (one in ten left),
// each with two open positions, a headcount plan for the year and a policy to acknowledge.
func demo(scale int) *history {
	h := newHistory()
	for i := range 30 * scale {
		actuals := make([]int64, 12)
		for p := range actuals {
			actuals[p] = int64(5000 + (i*37+p*101)%7000)
		}
		h.costCenter(fmt.Sprintf("cc-%04d", i), int64(90000+i%50*1000), int64(i%7*1000), actuals...)
	}
	for i := range 40 * scale {
		v := h.vendor(fmt.Sprintf("v-%04d", i))
		end := today.AddDate(0, 0, 20+i%400)
		opens, cancelBy := today.AddDate(0, 0, -10+i%30), today.AddDate(0, 0, 5+i%60)
		h.contract(v, "main", int64(10000+i%90*1000), day(end.Year(), int(end.Month()), end.Day()),
			day(opens.Year(), int(opens.Month()), opens.Day()), day(cancelBy.Year(), int(cancelBy.Month()), cancelBy.Day()), 12)
		end = today.AddDate(0, 0, 5+i%200)
		support := h.contract(v, "support", int64(2000+i%10*500), day(end.Year(), int(end.Month()), end.Day()), nil, nil, 0)
		// Every other vendor broke its support contract's service level 1 to 3 times, i%100
		// days ago: all but those of 90 days ago or more in the briefing's 90 days.
		if i%2 == 0 {
			for k := range 1 + i%3 {
				h.breach(support, fmt.Sprintf("b%d", k), vendorsv1.SlaBreach_RESOLUTION_TIME, fmt.Sprintf("incidents/i-%05d", i),
					today.AddDate(0, 0, -(i%100)).Add(-time.Duration(k)*time.Hour))
			}
		}
	}
	levels := []riskv1.RiskLevel{riskv1.RiskLevel_LOW, riskv1.RiskLevel_MEDIUM, riskv1.RiskLevel_HIGH, riskv1.RiskLevel_CRITICAL}
	for i := range 60 * scale {
		l, m := int32(1+i%5), int32(1+i/5%5)
		r := h.risk(fmt.Sprintf("r-%04d", i), l, m, levels[min(3, int(l*m)/7)], i%5 == 0)
		if i%10 == 3 {
			r.State = riskv1.Risk_CLOSED
			h.add(r.Name, &riskv1.RiskClosed{Risk: r})
		}
	}
	for i := range 150 * scale {
		detect := today.Add(-time.Duration(i%360) * 24 * time.Hour).Add(-time.Duration(i%24) * time.Hour)
		resolve := 30 + i%600
		if i%10 == 0 {
			resolve = 0
		}
		h.incident(fmt.Sprintf("i-%05d", i), riskv1.Incident_Severity(1+i%4), detect, 5+i%55, resolve, i%3 == 0 && resolve > 0)
	}
	for i := range 8 * scale {
		h.posture(fmt.Sprintf("f-%04d", i), fmt.Sprintf("Framework %d", i), int32(i%40), int32(i%7), int32(60-i%40), today)
	}
	for i := range 40 * scale {
		// From 30 days overdue to 49 days ahead: 31 of every 80 due.
		next := today.AddDate(0, 0, -30+i%80)
		h.control(fmt.Sprintf("c-%04d", i), day(next.Year(), int(next.Month()), next.Day()))
	}
	for i := range 40 * scale {
		// From 30 days overdue to 49 days ahead: 30 of every 80 overdue.
		next := today.AddDate(0, 0, -30+i%80)
		h.plan(fmt.Sprintf("bcp-%04d", i), fmt.Sprintf("service-%d", i), 6, day(next.Year(), int(next.Month()), next.Day()))
	}
	for i := range 10 * scale {
		team := fmt.Sprintf("teams/t-%04d", i)
		h.add(team, &talentv1.TeamCreated{Team: &talentv1.Team{Name: team, DisplayName: fmt.Sprintf("Team %d", i)}})
		for j := range 30 {
			p := &talentv1.Person{Name: fmt.Sprintf("people/p-%04d-%02d", i, j), DisplayName: fmt.Sprintf("Person %d-%d", i, j),
				Team: team, State: talentv1.Person_ACTIVE, StartDate: day(2024+j%4, 1+j%12, 1)}
			h.add(p.Name, &talentv1.PersonJoined{Person: proto.Clone(p).(*talentv1.Person)})
			if j%10 == 9 {
				p.State, p.EndDate = talentv1.Person_LEFT, day(2027, 1+j%3, 15)
				h.add(p.Name, &talentv1.PersonLeft{Person: p})
			}
		}
		for j := range 2 {
			p := &talentv1.Position{Name: fmt.Sprintf("positions/o-%04d-%d", i, j), Title: "Engineer", Team: team,
				State: talentv1.Position_OPEN, OpenTime: timestamppb.New(today.AddDate(0, 0, -10-i%60-j)),
				TargetStartDate: day(2027, 4+3*j, 1)}
			h.add(p.Name, &talentv1.PositionOpened{Position: p})
		}
		n := int32(27 + i%5)
		h.add(team+"/headcountPlans/2027", &talentv1.HeadcountPlanCreated{HeadcountPlan: plan(team[len("teams/"):], 2027, true, n, n+1, n+2, n+2)})
		// The team's policy, due from 25 days ago to 4 days ahead (25 of every 30 overdue),
		// acknowledged by its first i%27 people (some of whom left).
		pol := h.policy(fmt.Sprintf("pol-%04d", i), team)
		due := today.AddDate(0, 0, -25+i%30)
		h.policyVersion(pol, "1.0", day(due.Year(), int(due.Month()), due.Day()))
		for j := range i % 27 {
			h.acknowledge(pol, fmt.Sprintf("people/p-%04d-%02d", i, j))
		}
	}
	return h
}

// company is the small company the tests brief on 15 March 2027: its figures are worked out in
// TestBriefing.
func company() *history {
	h := newHistory()
	// infra: 120,000 planned, 6,000 committed, actuals 10,000 + 12,000 + 8,000 to date and
	// 5,000 booked in April: forecast 30,000 × 12 / 3 + 6,000 = 126,000, over plan by 6,000.
	h.costCenter("infra", 120000, 6000, 10000, 12000, 8000, 5000)
	// apps: 240,000 planned, actuals 10,000 a month: forecast 120,000, under plan.
	h.costCenter("apps", 240000, 0, 10000, 10000, 10000)
	// apps is revised: revision 2 plans 300,000 and supersedes revision 1; the spend carries over.
	r2 := &budgetv1.Budget{Name: "budgets/apps-fy2027-r2", CostCenter: "costCenters/apps", FiscalYear: 2027,
		CurrencyCode: "EUR", DisplayName: "apps FY2027 r2", FiscalYearStartDate: day(2027, 1, 1),
		PlannedAmount: eur(300000), State: budgetv1.Budget_DRAFT, Revision: 2, PreviousRevision: "budgets/apps-fy2027"}
	h.add(r2.Name, &budgetv1.BudgetRevised{Budget: proto.Clone(r2).(*budgetv1.Budget), PreviousRevision: "budgets/apps-fy2027"})
	r2.State = budgetv1.Budget_APPROVED
	h.add(r2.Name, &budgetv1.BudgetApproved{Budget: proto.Clone(r2).(*budgetv1.Budget), Superseded: "budgets/apps-fy2027"})
	// A draft budget of another cost centre is not in force.
	h.add("costCenters/lab", &budgetv1.CostCenterCreated{CostCenter: &budgetv1.CostCenter{Name: "costCenters/lab", DisplayName: "Lab"}})
	h.add("budgets/lab-fy2027", &budgetv1.BudgetCreated{Budget: &budgetv1.Budget{Name: "budgets/lab-fy2027",
		CostCenter: "costCenters/lab", FiscalYear: 2027, CurrencyCode: "EUR", FiscalYearStartDate: day(2027, 1, 1),
		PlannedAmount: eur(1000), State: budgetv1.Budget_DRAFT}})

	acme, globex := h.vendor("acme"), h.vendor("globex")
	// crm: auto-renewing for 24 months, notice window open (1 March to 1 April), ends 30 June.
	crmContract := h.contract(acme, "crm", 36000, day(2027, 6, 30), day(2027, 3, 1), day(2027, 4, 1), 24)
	// support: ends 1 May without renewing: a renewal within 90 days, worth a year.
	h.contract(globex, "support", 12000, day(2027, 5, 1), nil, nil, 0)
	// cloud: auto-renewing for 6 months, ends 31 May, notice window opens 15 April: renewal only.
	h.contract(globex, "cloud", 50000, day(2027, 5, 31), day(2027, 4, 15), day(2027, 5, 1), 6)
	// A contract ending in 2028 is neither; a terminated one ending soon neither.
	erpContract := h.contract(acme, "erp", 99000, day(2028, 1, 31), day(2027, 11, 1), day(2027, 12, 1), 12)
	gone := h.contract(acme, "old", 1000, day(2027, 4, 30), nil, nil, 0)
	h.add(gone, &vendorsv1.ContractTerminated{Contract: &vendorsv1.Contract{Name: gone, Title: "Contract old",
		State: vendorsv1.Contract_TERMINATED, EndDate: day(2027, 4, 30), AnnualValue: eur(1000)}})

	// SLA breaches: the briefing counts those of the 90 days from 16 December 2026 to 15 March
	// 2027. globex: three, two of them resolution times, by two incidents on two contracts, the
	// latest on 1 March. acme: two availability targets on 16 December at midnight and today, one
	// a minute before the 90 days; then initech's of 1 February and umbrella's of 10 January, one
	// each (the most recent first), not initech's of tomorrow; and none of hooli, deleted.
	h.breach("vendors/globex/contracts/cloud", "vpn-avail", vendorsv1.SlaBreach_AVAILABILITY, "incidents/vpn", time.Date(2027, 3, 1, 11, 0, 0, 0, time.UTC))
	h.breach("vendors/globex/contracts/cloud", "vpn-res", vendorsv1.SlaBreach_RESOLUTION_TIME, "incidents/vpn", time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC))
	h.breach("vendors/globex/contracts/support", "mail", vendorsv1.SlaBreach_RESOLUTION_TIME, "incidents/mail", time.Date(2026, 12, 24, 4, 0, 0, 0, time.UTC))
	h.breach(crmContract, "db-down", vendorsv1.SlaBreach_AVAILABILITY, "incidents/db-down", time.Date(2027, 3, 15, 9, 0, 0, 0, time.UTC))
	h.breach(erpContract, "slow-search", vendorsv1.SlaBreach_AVAILABILITY, "incidents/slow-search", time.Date(2026, 12, 16, 0, 0, 0, 0, time.UTC))
	h.breach(crmContract, "ancient", vendorsv1.SlaBreach_RESOLUTION_TIME, "incidents/ancient", time.Date(2026, 12, 15, 23, 59, 0, 0, time.UTC))
	initech, umbrella, hooli := h.vendor("initech"), h.vendor("umbrella"), h.vendor("hooli")
	h.breach(initech+"/contracts/cdn", "next", vendorsv1.SlaBreach_AVAILABILITY, "incidents/cdn", time.Date(2027, 3, 16, 0, 0, 0, 0, time.UTC))
	h.breach(initech+"/contracts/cdn", "feb", vendorsv1.SlaBreach_AVAILABILITY, "incidents/cdn", time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC))
	h.breach(umbrella+"/contracts/dns", "jan", vendorsv1.SlaBreach_RESOLUTION_TIME, "incidents/dns", time.Date(2027, 1, 10, 0, 0, 0, 0, time.UTC))
	h.breach(hooli+"/contracts/mail", "jan", vendorsv1.SlaBreach_RESOLUTION_TIME, "incidents/mail", time.Date(2027, 1, 10, 0, 0, 0, 0, time.UTC))
	h.add(hooli, &vendorsv1.VendorDeleted{Vendor: &vendorsv1.Vendor{Name: hooli}})

	h.risk("ransomware", 4, 5, riskv1.RiskLevel_CRITICAL, true)
	h.risk("phishing", 4, 4, riskv1.RiskLevel_HIGH, true)
	h.risk("outage", 2, 3, riskv1.RiskLevel_MEDIUM, false)
	h.risk("outage-2", 2, 3, riskv1.RiskLevel_MEDIUM, false)
	h.risk("new", 0, 0, 0, false)
	closed := h.risk("legacy", 5, 5, riskv1.RiskLevel_CRITICAL, true)
	closed.State = riskv1.Risk_CLOSED
	h.add(closed.Name, &riskv1.RiskClosed{Risk: closed, PreviousState: riskv1.Risk_ASSESSED})
	deleted := h.risk("typo", 0, 0, 0, false)
	h.add(deleted.Name, &riskv1.RiskDeleted{Risk: deleted})

	// Compliance: ISO 27001 from no control to 2 covered and 1 partial of 93, then re-imported
	// under a new title; SOC 2 half covered; GDPR not at all.
	h.posture("iso27001-2022", "ISO 27001", 0, 0, 93, time.Date(2027, 1, 4, 9, 0, 0, 0, time.UTC))
	h.posture("iso27001-2022", "ISO 27001", 2, 1, 90, time.Date(2027, 3, 2, 11, 0, 0, 0, time.UTC))
	h.add("frameworks/iso27001-2022", &riskv1.FrameworkImported{Framework: &riskv1.Framework{Name: "frameworks/iso27001-2022",
		Title: "ISO/IEC 27001:2022 Annex A", RequirementCount: 93}})
	h.posture("soc2-2017", "SOC 2", 5, 0, 5, time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC))
	h.posture("gdpr", "GDPR", 0, 0, 20, time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC))
	// Controls on 15 March: mfa's test was due on 1 March (control.test_due said so); backup's,
	// last tested EFFECTIVE on 15 December, is due today; logs was overdue and tested since, then
	// failed; dlp's test was moved to April by a new frequency; waf was overdue and deleted;
	// siem's is due in April.
	mfa := h.control("mfa", day(2027, 3, 1))
	mfa.TestDue = true
	h.add(mfa.Name, &riskv1.ControlTestDue{Control: mfa, NextTestDate: mfa.GetNextTestDate(),
		DueTime: timestamppb.New(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC))})
	backup := h.control("backup", day(2027, 3, 15))
	backup.LastResult, backup.LastTestDate = riskv1.ControlTestResult_EFFECTIVE, day(2026, 12, 15)
	h.add(backup.Name, &riskv1.ControlTested{Control: backup,
		Test: &riskv1.ControlTest{Name: backup.Name + "/tests/t1", TestDate: day(2026, 12, 15), Result: riskv1.ControlTestResult_EFFECTIVE}})
	logs := h.control("logs", day(2027, 2, 1))
	h.add(logs.Name, &riskv1.ControlTestDue{Control: proto.Clone(logs).(*riskv1.Control), NextTestDate: logs.GetNextTestDate()})
	logs.LastResult, logs.LastTestDate, logs.NextTestDate = riskv1.ControlTestResult_INEFFECTIVE, day(2027, 3, 10), day(2027, 6, 10)
	h.add(logs.Name, &riskv1.ControlTested{Control: proto.Clone(logs).(*riskv1.Control)})
	h.add(logs.Name, &riskv1.ControlFailed{Control: logs})
	dlp := h.control("dlp", day(2027, 2, 20))
	dlp.TestFrequency, dlp.NextTestDate = riskv1.TestFrequency_SEMI_ANNUALLY, day(2027, 4, 20)
	h.add(dlp.Name, &riskv1.ControlUpdated{Control: dlp})
	waf := h.control("waf", day(2027, 1, 10))
	h.add(waf.Name, &riskv1.ControlTestDue{Control: proto.Clone(waf).(*riskv1.Control), NextTestDate: waf.GetNextTestDate()})
	h.add(waf.Name, &riskv1.ControlDeleted{Control: waf})
	h.control("siem", day(2027, 4, 1))
	// Continuity plans on 15 March: checkout's exercise was due by 20 February
	// (continuity.exercise_overdue said so), never exercised; payroll's, exercised on 14 September,
	// was due by 14 March; erp was overdue and exercised since; crm's cadence was shortened and
	// it became overdue by 1 March without an event of its own; search was overdue and deleted;
	// mail's is due by today, not overdue yet.
	checkout := h.plan("checkout", "checkout", 6, day(2027, 2, 20))
	checkout.ExerciseOverdue = true
	h.add(checkout.Name, &riskv1.ContinuityExerciseOverdue{Plan: checkout, Service: "checkout", NextExerciseDate: day(2027, 2, 20)})
	payroll := h.plan("payroll", "payroll", 6, day(2027, 3, 14))
	payroll.LastExerciseDate = day(2026, 9, 14)
	h.add(payroll.Name, &riskv1.ContinuityExerciseRecorded{Plan: payroll, Service: "payroll", Kind: riskv1.ExerciseKind_TABLETOP})
	erp := h.plan("erp", "erp", 12, day(2027, 1, 31))
	h.add(erp.Name, &riskv1.ContinuityExerciseOverdue{Plan: proto.Clone(erp).(*riskv1.ContinuityPlan), Service: "erp"})
	erp.LastExerciseDate, erp.NextExerciseDate = day(2027, 3, 1), day(2028, 3, 1)
	h.add(erp.Name, &riskv1.ContinuityExerciseRecorded{Plan: proto.Clone(erp).(*riskv1.ContinuityPlan), Service: "erp",
		Kind: riskv1.ExerciseKind_FAILOVER})
	h.add(erp.Name, &riskv1.ContinuityTargetMissed{Plan: erp, Service: "erp", RecoveryTimeMissed: true})
	crm := h.plan("crm", "crm", 12, day(2027, 9, 1))
	crm.ExerciseCadence, crm.NextExerciseDate = &riskv1.ExerciseCadence{Months: 6}, day(2027, 3, 1)
	h.add(crm.Name, &riskv1.ContinuityPlanUpdated{Plan: crm})
	search := h.plan("search", "search", 6, day(2027, 1, 5))
	h.add(search.Name, &riskv1.ContinuityExerciseOverdue{Plan: proto.Clone(search).(*riskv1.ContinuityPlan), Service: "search"})
	h.add(search.Name, &riskv1.ContinuityPlanDeleted{Plan: search})
	h.plan("mail", "mail", 3, day(2027, 3, 15))
	// Policies on 15 March, asking the people below (ana and ben in platform, cy in data; dee,
	// in data, left). aup, everyone's, was due on 3 March: ana acknowledged 1.0, dee too before
	// leaving, cy the minor 1.1 after the overdue event; ben has not. sec, platform's, was due on
	// 1 March and nobody acknowledged it. dp, data's, asks again with 2.0, due yesterday: cy's
	// acknowledgement of 1.0 no longer counts. travel's is due today, not overdue yet; draft has
	// no version; old was overdue and deleted.
	aup := h.policy("aup")
	h.policyVersion(aup, "1.0", day(2027, 3, 3))
	h.acknowledge(aup, "people/ana")
	h.acknowledge(aup, "people/dee")
	h.add(aup.Name, &riskv1.PolicyAcknowledgementOverdue{Policy: proto.Clone(aup).(*riskv1.Policy), DueDate: day(2027, 3, 3),
		RequiredCount: 3, OverdueCount: 2, OverduePeople: []string{"people/ben", "people/cy"}})
	h.policyVersion(aup, "1.1", nil)
	h.acknowledge(aup, "people/cy")
	sec := h.policy("sec", "teams/platform")
	h.policyVersion(sec, "1.0", day(2027, 3, 1))
	dp := h.policy("dp", "teams/data")
	h.policyVersion(dp, "1.0", day(2027, 1, 31))
	h.acknowledge(dp, "people/cy")
	h.policyVersion(dp, "2.0", day(2027, 3, 14))
	travel := h.policy("travel")
	h.policyVersion(travel, "1.0", day(2027, 3, 15))
	h.policy("draft")
	old := h.policy("old")
	h.policyVersion(old, "1.0", day(2027, 1, 1))
	h.add(old.Name, &riskv1.PolicyDeleted{Policy: old})

	at := func(m time.Month, d, hour int, y ...int) time.Time {
		year := 2027
		if len(y) > 0 {
			year = y[0]
		}
		return time.Date(year, m, d, hour, 0, 0, 0, time.UTC)
	}
	// Open: a SEV1 acknowledged after 30 minutes, a SEV3 mitigated (acknowledged after an hour).
	h.incident("db-down", riskv1.Incident_SEV1, at(time.March, 10, 8), 30, 0, false)
	h.incident("slow-search", riskv1.Incident_SEV3, at(time.February, 5, 9), 60, 0, false)
	// Resolved: in March after 10 minutes and 2 hours, in December after 20 minutes and 4 hours
	// (then closed), and one too old for the trend.
	h.incident("vpn", riskv1.Incident_SEV2, at(time.March, 1, 10), 10, 120, false)
	h.incident("mail", riskv1.Incident_SEV1, at(time.December, 24, 0, 2026), 20, 240, true)
	h.incident("ancient", riskv1.Incident_SEV2, at(time.February, 20, 0, 2026), 5, 50, false)

	// Talent: two teams, three active people (a fourth left), two positions being recruited for,
	// one filled in 40 days (another too long ago to count), and the teams' coverage.
	for id, name := range map[string]string{"platform": "Platform", "data": "Data"} {
		h.add("teams/"+id, &talentv1.TeamCreated{Team: &talentv1.Team{Name: "teams/" + id, DisplayName: name}})
	}
	for id, name := range map[string]string{"kubernetes": "Kubernetes", "postgres": "PostgreSQL"} {
		h.add("skills/"+id, &talentv1.SkillCreated{Skill: &talentv1.Skill{Name: "skills/" + id, DisplayName: name}})
	}
	// Ben joins platform on 1 May; Dee left data on 10 February.
	for _, p := range []struct {
		id, name, team string
		start          *date.Date
	}{
		{"ana", "Ana Lima", "platform", day(2026, 1, 1)}, {"ben", "Ben Ode", "platform", day(2027, 5, 1)},
		{"cy", "Cy Park", "data", day(2025, 6, 1)}, {"dee", "Dee Roy", "data", day(2024, 9, 1)},
	} {
		person := &talentv1.Person{Name: "people/" + p.id, DisplayName: p.name, Team: "teams/" + p.team, State: talentv1.Person_ACTIVE,
			StartDate: p.start}
		h.add(person.Name, &talentv1.PersonJoined{Person: proto.Clone(person).(*talentv1.Person)})
		if p.id == "dee" {
			person.State, person.EndDate = talentv1.Person_LEFT, day(2027, 2, 10)
			h.add(person.Name, &talentv1.PersonLeft{Person: person})
		}
	}
	// sre is expected to start on 1 July; dba has no target start.
	targets := map[string]*date.Date{"sre": day(2027, 7, 1)}
	position := func(id, team string, opened time.Time, state talentv1.Position_State, filled time.Time) {
		p := &talentv1.Position{Name: "positions/" + id, Title: "Job " + id, Team: "teams/" + team,
			State: talentv1.Position_OPEN, OpenTime: timestamppb.New(opened), TargetStartDate: targets[id]}
		h.add(p.Name, &talentv1.PositionApproved{Position: proto.Clone(p).(*talentv1.Position)})
		h.add(p.Name, &talentv1.PositionOpened{Position: proto.Clone(p).(*talentv1.Position)})
		switch state {
		case talentv1.Position_FILLED:
			p.State, p.FillTime = state, timestamppb.New(filled)
			h.add(p.Name, &talentv1.PositionFilled{Position: p})
		case talentv1.Position_CANCELLED:
			p.State = state
			h.add(p.Name, &talentv1.PositionCancelled{Position: p})
		case talentv1.Position_OFFER:
			p.State = state
			h.add(p.Name, &talentv1.PositionApproved{Position: p})
		}
	}
	position("sre", "platform", at(time.February, 13, 12), talentv1.Position_OPEN, time.Time{})
	position("dba", "data", at(time.March, 5, 12), talentv1.Position_OFFER, time.Time{})
	position("dev", "data", at(time.December, 1, 0, 2026), talentv1.Position_FILLED, at(time.January, 10, 0))
	position("old", "data", at(time.January, 1, 0, 2025), talentv1.Position_FILLED, at(time.March, 1, 0, 2025))
	position("gone", "data", at(time.January, 1, 0), talentv1.Position_CANCELLED, time.Time{})
	coverage := func(team, skill string, required, covered int32, keyPerson string, msg func(*talentv1.SkillCoverage, string) proto.Message) {
		req := "teams/" + team + "/skillRequirements/" + skill
		c := &talentv1.SkillCoverage{Team: "teams/" + team, Skill: "skills/" + skill, RequiredPeople: required,
			CoveredPeople: covered, Shortfall: max(0, required-covered), Gap: covered < required, KeyPersonRisk: covered == 1}
		if covered == 1 {
			c.KeyPerson = "people/" + keyPerson
		}
		h.add(req, msg(c, req))
	}
	gap := func(c *talentv1.SkillCoverage, r string) proto.Message {
		return &talentv1.SkillCoverageGap{Coverage: c, SkillRequirement: r}
	}
	keyPerson := func(c *talentv1.SkillCoverage, r string) proto.Message {
		return &talentv1.SkillKeyPersonRisk{Coverage: c, SkillRequirement: r}
	}
	cleared := func(c *talentv1.SkillCoverage, r string) proto.Message {
		return &talentv1.SkillKeyPersonRiskCleared{Coverage: c, SkillRequirement: r}
	}
	coverage("platform", "kubernetes", 3, 1, "ana", gap)
	coverage("platform", "kubernetes", 3, 1, "ana", keyPerson)
	coverage("platform", "postgres", 1, 0, "", gap)
	coverage("data", "postgres", 1, 1, "cy", keyPerson)
	coverage("data", "postgres", 1, 2, "", cleared)
	coverage("data", "kubernetes", 2, 0, "", gap)
	h.add("teams/data/skillRequirements/kubernetes", &talentv1.SkillRequirementDeleted{
		SkillRequirement: &talentv1.SkillRequirement{Name: "teams/data/skillRequirements/kubernetes"}})

	// Headcount plans of fiscal year 2027 (from 1 January): platform's, created then changed to
	// 3, 3, 4, 5; data's, whose events carry no quarter dates (published before the talent
	// service placed them), with a scenario of 2, 2, 3, 3 adopted; and platform's of 2028, not in
	// progress.
	h.add("teams/platform/headcountPlans/2027", &talentv1.HeadcountPlanCreated{HeadcountPlan: plan("platform", 2027, true, 2, 3, 4, 4)})
	h.add("teams/platform/headcountPlans/2027", &talentv1.HeadcountPlanUpdated{HeadcountPlan: plan("platform", 2027, true, 3, 3, 4, 5)})
	h.add("teams/data/headcountPlans/2027", &talentv1.HeadcountPlanCreated{HeadcountPlan: plan("data", 2027, false, 1, 2, 2, 2)})
	h.add("teams/data/headcountPlans/2027", &talentv1.HeadcountScenarioAdopted{HeadcountPlan: plan("data", 2027, false, 2, 2, 3, 3),
		Scenario: &talentv1.HeadcountScenario{Name: "teams/data/headcountPlans/2027/scenarios/grow"}})
	h.add("teams/platform/headcountPlans/2028", &talentv1.HeadcountPlanCreated{HeadcountPlan: plan("platform", 2028, true, 6, 6, 6, 6)})
	return h
}

// plan is team's headcount plan for fiscal year fy (from 1 January) of the given headcounts,
// each quarter costing 1,000 a head; dated places the quarters as the talent service does.
func plan(team string, fy int, dated bool, headcounts ...int32) *talentv1.HeadcountPlan {
	p := &talentv1.HeadcountPlan{Name: fmt.Sprintf("teams/%s/headcountPlans/%d", team, fy), CurrencyCode: "EUR"}
	for i, n := range headcounts {
		q := &talentv1.HeadcountQuarter{Quarter: int32(i + 1), PlannedHeadcount: n, PlannedCost: eur(int64(n) * 1000)}
		if dated {
			first := time.Date(fy, time.Month(1+3*i), 1, 0, 0, 0, 0, time.UTC)
			last := first.AddDate(0, 3, -1)
			q.StartDate, q.EndDate = day(fy, int(first.Month()), 1), day(fy, int(last.Month()), last.Day())
		}
		p.Quarters = append(p.Quarters, q)
	}
	return p
}
