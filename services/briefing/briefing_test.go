package briefing

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	briefingv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/briefing/v1"
	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/briefing/internal/model"
	"github.com/quarterdeck/quarterdeck/services/briefing/internal/server"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// today is the day the tests brief on.
var today = time.Date(2027, 3, 15, 9, 30, 0, 0, time.UTC)

// env is a running briefing service, with a client calling with every scope.
type env struct {
	*testkit.Service
	client briefingv1.BriefingServiceClient
}

func start(t *testing.T, db testenv.Database) *env {
	t.Helper()
	s := testkit.Start(t, db, Service(), testkit.WithHostOptions(func(o *host.Options) { o.Clock = clock.NewFake(today) }))
	return &env{Service: s, client: briefingv1.NewBriefingServiceClient(s.Conn)}
}

// caughtUp waits until the briefing has applied every event of h from each stream and none is
// pending, and returns it.
func (e *env) caughtUp(t *testing.T, h *history) *briefingv1.Briefing {
	t.Helper()
	var b *briefingv1.Briefing
	testkit.Eventually(t, time.Minute, func() error {
		var err error
		if b, err = e.client.GetBriefing(context.Background(), &briefingv1.GetBriefingRequest{Name: "briefing",
			View: briefingv1.BriefingView_FULL}); err != nil {
			return err
		}
		for _, f := range b.GetFreshness() {
			if want := h.count(f.GetDomain()); f.GetAppliedCount() != want || f.PendingCount == nil || f.GetPendingCount() != 0 {
				return fmt.Errorf("%s: %d of %d events applied, %v pending", f.GetDomain(), f.GetAppliedCount(), want, f.PendingCount)
			}
		}
		return nil
	})
	return b
}

func money2(units int64) string {
	return money.FormatMinor(units*100, "EUR")
}

func show(m interface {
	GetUnits() int64
	GetNanos() int32
	GetCurrencyCode() string
}) string {
	a, err := money.FromParts(m.GetUnits(), m.GetNanos(), m.GetCurrencyCode(), "")
	if err != nil {
		return err.Error()
	}
	return a.String()
}

// TestBriefing builds the briefing of a small company from its events and checks every figure
// against the sums worked out by hand in company().
func TestBriefing(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		h := company()
		h.publish(t, e.JetStream, e.NATS.SubjectPrefix, 0, len(h.events))
		b := e.caughtUp(t, h)

		if d := b.GetAsOfDate(); d.GetYear() != 2027 || d.GetMonth() != 3 || d.GetDay() != 15 {
			t.Errorf("as of %v; want 2027-03-15", b.GetAsOfDate())
		}
		// Budget: infra is over plan and comes first; apps is in force as revision 2; lab's draft
		// is not in force.
		ccs := b.GetBudget().GetCostCenters()
		if len(ccs) != 2 {
			t.Fatalf("%d cost centres; want infra and apps: %v", len(ccs), ccs)
		}
		infra, apps := ccs[0], ccs[1]
		for _, c := range []struct {
			what, got, want string
		}{
			{"infra", infra.GetCostCenter(), "costCenters/infra"},
			{"infra name", infra.GetCostCenterDisplayName(), "Cost centre infra"},
			{"infra budget", infra.GetBudget(), "budgets/infra-fy2027"},
			{"infra planned", show(infra.GetPlanned()), money2(120000)},
			{"infra actual", show(infra.GetActualToDate()), money2(30000)},
			{"infra committed", show(infra.GetCommitted()), money2(6000)},
			{"infra forecast", show(infra.GetForecast()), money2(126000)},
			{"infra variance", show(infra.GetForecastVariance()), money2(-6000)},
			{"infra P4", show(infra.GetPeriods()[3].GetActual()), money2(5000)},
			{"infra P4 cumulative", show(infra.GetPeriods()[3].GetCumulativeActual()), money2(35000)},
			{"apps budget", apps.GetBudget(), "budgets/apps-fy2027-r2"},
			{"apps planned", show(apps.GetPlanned()), money2(300000)},
			{"apps actual", show(apps.GetActualToDate()), money2(30000)},
			{"apps forecast", show(apps.GetForecast()), money2(120000)},
			{"total planned", show(b.GetBudget().GetTotals()[0].GetPlanned()), money2(420000)},
			{"total forecast", show(b.GetBudget().GetTotals()[0].GetForecast()), money2(246000)},
			// The totals' periods sum every cost centre's: P2 12,000 + 10,000, to date 60,000 + 5,000.
			{"total P2", show(b.GetBudget().GetTotals()[0].GetPeriods()[1].GetActual()), money2(22000)},
			{"total P4 cumulative", show(b.GetBudget().GetTotals()[0].GetPeriods()[3].GetCumulativeActual()), money2(65000)},
		} {
			if c.got != c.want {
				t.Errorf("%s = %s; want %s", c.what, c.got, c.want)
			}
		}
		if infra.GetElapsedPeriods() != 3 || infra.GetBurnBasisPoints() != 2500 || len(infra.GetPeriods()) != 12 {
			t.Errorf("infra: %d elapsed, %d bp, %d periods; want 3, 2500, 12", infra.GetElapsedPeriods(),
				infra.GetBurnBasisPoints(), len(infra.GetPeriods()))
		}
		if bb := b.GetBudget(); bb.GetOverPlanCount() != 1 || bb.GetCostCenterCount() != 2 || len(bb.GetTotals()[0].GetPeriods()) != 12 ||
			bb.GetTotals()[0].GetElapsedPeriods() != 3 {
			t.Errorf("%d over plan of %d, totals of %d periods, %d elapsed; want 1 of 2, 12, 3", bb.GetOverPlanCount(),
				bb.GetCostCenterCount(), len(bb.GetTotals()[0].GetPeriods()), bb.GetTotals()[0].GetElapsedPeriods())
		}

		// Vendors: crm's notice window is open; support and cloud end within 90 days.
		v := b.GetVendors()
		if len(v.GetInNoticeWindow()) != 1 || v.GetInNoticeWindow()[0].GetContract() != "vendors/acme/contracts/crm" {
			t.Fatalf("in notice window: %v; want crm", v.GetInNoticeWindow())
		}
		crm := v.GetInNoticeWindow()[0]
		if crm.GetDaysToCancelBy() != 17 || crm.GetVendorDisplayName() != "Vendor acme" || show(crm.GetRenewalValue()) != money2(72000) {
			t.Errorf("crm: %d days to cancel by, vendor %q, renewal %s; want 17, Vendor acme, %s",
				crm.GetDaysToCancelBy(), crm.GetVendorDisplayName(), show(crm.GetRenewalValue()), money2(72000))
		}
		var renewals []string
		for _, r := range v.GetRenewals() {
			renewals = append(renewals, fmt.Sprintf("%s %d %s", r.GetContract(), r.GetDaysToEnd(), show(r.GetRenewalValue())))
		}
		want := []string{"vendors/globex/contracts/support 47 " + money2(12000), "vendors/globex/contracts/cloud 77 " + money2(25000)}
		if diff := cmp.Diff(want, renewals); diff != "" {
			t.Errorf("renewals (-want +got):\n%s", diff)
		}
		if v.GetInNoticeWindowCount() != 1 || v.GetRenewalCount() != 2 {
			t.Errorf("%d in notice window, %d renewals; want 1, 2", v.GetInNoticeWindowCount(), v.GetRenewalCount())
		}
		if len(v.GetRenewalValueTotals()) != 1 || show(v.GetRenewalValueTotals()[0]) != money2(37000) {
			t.Errorf("renewal value totals %v; want %s", v.GetRenewalValueTotals(), money2(37000))
		}

		// SLA breaches of the last 90 days by vendor, the most first (company() says which).
		var breaches []string
		for _, x := range v.GetSlaBreaches() {
			breaches = append(breaches, fmt.Sprintf("%s %q %d (%d resolution, %d availability) %d incidents %d contracts last %s at %s",
				x.GetVendor(), x.GetVendorDisplayName(), x.GetBreachCount(), x.GetResolutionTimeCount(), x.GetAvailabilityCount(),
				x.GetIncidentCount(), x.GetContractCount(), x.GetLastSlaBreach(), x.GetLastBreachTime().AsTime().Format(time.RFC3339)))
		}
		if diff := cmp.Diff([]string{
			`vendors/globex "Vendor globex" 3 (2 resolution, 1 availability) 2 incidents 2 contracts last vendors/globex/slaBreaches/vpn-res at 2027-03-01T12:00:00Z`,
			`vendors/acme "Vendor acme" 2 (0 resolution, 2 availability) 2 incidents 2 contracts last vendors/acme/slaBreaches/db-down at 2027-03-15T09:00:00Z`,
			`vendors/initech "Vendor initech" 1 (0 resolution, 1 availability) 1 incidents 1 contracts last vendors/initech/slaBreaches/feb at 2027-02-01T00:00:00Z`,
			`vendors/umbrella "Vendor umbrella" 1 (1 resolution, 0 availability) 1 incidents 1 contracts last vendors/umbrella/slaBreaches/jan at 2027-01-10T00:00:00Z`,
		}, breaches); diff != "" {
			t.Errorf("SLA breaches by vendor (-want +got):\n%s", diff)
		}
		if v.GetSlaBreachCount() != 7 || v.GetSlaBreachVendorCount() != 4 {
			t.Errorf("%d SLA breaches of %d vendors; want 7 of 4", v.GetSlaBreachCount(), v.GetSlaBreachVendorCount())
		}

		// Risks: five open (legacy is closed, typo deleted), two above appetite, one unscored.
		r := b.GetRisks()
		if r.GetOpenCount() != 5 || r.GetAboveAppetiteCount() != 2 || r.GetUnscoredCount() != 1 {
			t.Errorf("risks: %d open, %d above appetite, %d unscored; want 5, 2, 1", r.GetOpenCount(),
				r.GetAboveAppetiteCount(), r.GetUnscoredCount())
		}
		if len(r.GetAboveAppetite()) != 2 || r.GetAboveAppetite()[0].GetRisk() != "risks/ransomware" ||
			r.GetAboveAppetite()[1].GetRisk() != "risks/phishing" {
			t.Errorf("above appetite %v; want ransomware then phishing", r.GetAboveAppetite())
		}
		wantCells := []*briefingv1.RiskHeatCell{
			{Likelihood: 2, Impact: 3, Level: riskv1.RiskLevel_MEDIUM, Count: 2},
			{Likelihood: 4, Impact: 4, Level: riskv1.RiskLevel_HIGH, Count: 1},
			{Likelihood: 4, Impact: 5, Level: riskv1.RiskLevel_CRITICAL, Count: 1},
		}
		if diff := cmp.Diff(wantCells, r.GetHeatMap(), protocmp.Transform()); diff != "" {
			t.Errorf("heat map (-want +got):\n%s", diff)
		}
		if r.GetLikelihoodSteps() != 5 || r.GetImpactSteps() != 5 {
			t.Errorf("matrix %d×%d; want 5×5", r.GetLikelihoodSteps(), r.GetImpactSteps())
		}

		// Incidents: two open, the SEV1 first; twelve months from April 2026, with March's and
		// December's mean times.
		inc := b.GetIncidents()
		if inc.GetOpenCount() != 2 || len(inc.GetOpen()) != 2 || inc.GetOpen()[0].GetIncident() != "incidents/db-down" ||
			inc.GetOpen()[1].GetIncident() != "incidents/slow-search" {
			t.Errorf("open incidents %d: %v; want db-down then slow-search", inc.GetOpenCount(), inc.GetOpen())
		}
		var months []string
		for _, m := range inc.GetMonths() {
			d := m.GetStartDate()
			months = append(months, fmt.Sprintf("%d-%02d %d/%d/%d mtta=%v mttr=%v", d.GetYear(), d.GetMonth(), m.GetIncidentCount(),
				m.GetAcknowledgedCount(), m.GetResolvedCount(), m.GetMtta().AsDuration(), m.GetMttr().AsDuration()))
		}
		wantMonths := []string{
			"2026-04 0/0/0 mtta=0s mttr=0s", "2026-05 0/0/0 mtta=0s mttr=0s", "2026-06 0/0/0 mtta=0s mttr=0s",
			"2026-07 0/0/0 mtta=0s mttr=0s", "2026-08 0/0/0 mtta=0s mttr=0s", "2026-09 0/0/0 mtta=0s mttr=0s",
			"2026-10 0/0/0 mtta=0s mttr=0s", "2026-11 0/0/0 mtta=0s mttr=0s", "2026-12 1/1/1 mtta=20m0s mttr=4h0m0s",
			"2027-01 0/0/0 mtta=0s mttr=0s", "2027-02 1/1/0 mtta=1h0m0s mttr=0s", "2027-03 2/2/1 mtta=20m0s mttr=2h0m0s",
		}
		if diff := cmp.Diff(wantMonths, months); diff != "" {
			t.Errorf("incident months (-want +got):\n%s", diff)
		}
		if inc.GetMonths()[10].GetMttr() != nil {
			t.Errorf("February's MTTR %v; want unset, nothing was resolved", inc.GetMonths()[10].GetMttr())
		}

		// Talent: three active people, sre open 30 days and dba 10, one filled in 40 days, two
		// gaps on platform and one key person.
		tl := b.GetTalent()
		var open []string
		for _, p := range tl.GetOpenPositions() {
			open = append(open, fmt.Sprintf("%s %s %d %s", p.GetPosition(), p.GetTeamDisplayName(), p.GetDaysOpen(), p.GetState()))
		}
		if diff := cmp.Diff([]string{"positions/sre Platform 30 OPEN", "positions/dba Data 10 OFFER"}, open); diff != "" {
			t.Errorf("open positions (-want +got):\n%s", diff)
		}
		if tl.GetHeadcount() != 3 || tl.GetOpenPositionCount() != 2 || tl.GetFilledCount() != 1 ||
			tl.GetMeanTimeToFill().AsDuration() != 40*24*time.Hour {
			t.Errorf("talent: headcount %d, %d open, %d filled in %v; want 3, 2, 1 in 960h", tl.GetHeadcount(),
				tl.GetOpenPositionCount(), tl.GetFilledCount(), tl.GetMeanTimeToFill().AsDuration())
		}
		var gaps []string
		for _, g := range tl.GetSkillGaps() {
			gaps = append(gaps, fmt.Sprintf("%s %s/%s %d", g.GetSkillRequirement(), g.GetTeamDisplayName(), g.GetSkillDisplayName(), g.GetShortfall()))
		}
		if diff := cmp.Diff([]string{"teams/platform/skillRequirements/kubernetes Platform/Kubernetes 2",
			"teams/platform/skillRequirements/postgres Platform/PostgreSQL 1"}, gaps); diff != "" {
			t.Errorf("skill gaps (-want +got):\n%s", diff)
		}
		if k := tl.GetKeyPersonRisks(); len(k) != 1 || k[0].GetKeyPerson() != "people/ana" || k[0].GetKeyPersonDisplayName() != "Ana Lima" ||
			k[0].GetSkill() != "skills/kubernetes" {
			t.Errorf("key-person risks %v; want Ana Lima on Kubernetes", k)
		}
		if tl.GetSkillGapCount() != 2 || tl.GetKeyPersonRiskCount() != 1 {
			t.Errorf("talent: %d gaps, %d key-person risks; want 2, 1", tl.GetSkillGapCount(), tl.GetKeyPersonRiskCount())
		}

		// Headcount plans of 2027 against the actuals on each quarter's last day: platform has
		// Ana, and Ben from 1 May; sre (from 1 July) is open from Q3. Data has Cy (Dee left
		// before 31 March); dba, without a target start, is open in every quarter. Platform is
		// furthest below plan in Q1 (3 − 1), then data (2 − 1). The plan of 2028 is not shown.
		quarters := func(qs []*briefingv1.HeadcountQuarterItem) []string {
			var out []string
			for _, q := range qs {
				out = append(out, fmt.Sprintf("Q%d %s..%s %d/%d open %d", q.GetQuarter(), civil.FromProto(q.GetStartDate()),
					civil.FromProto(q.GetEndDate()), q.GetPlannedHeadcount(), q.GetActualHeadcount(), q.GetOpenPositions()))
			}
			return out
		}
		var plans []string
		for _, p := range tl.GetHeadcountPlans() {
			plans = append(plans, fmt.Sprintf("%s %s %s %d", p.GetHeadcountPlan(), p.GetTeam(), p.GetTeamDisplayName(), p.GetFiscalYear()))
			plans = append(plans, quarters(p.GetQuarters())...)
		}
		if diff := cmp.Diff([]string{
			"teams/platform/headcountPlans/2027 teams/platform Platform 2027",
			"Q1 2027-01-01..2027-03-31 3/1 open 0", "Q2 2027-04-01..2027-06-30 3/2 open 0",
			"Q3 2027-07-01..2027-09-30 4/2 open 1", "Q4 2027-10-01..2027-12-31 5/2 open 1",
			"teams/data/headcountPlans/2027 teams/data Data 2027",
			"Q1 2027-01-01..2027-03-31 2/1 open 1", "Q2 2027-04-01..2027-06-30 2/1 open 1",
			"Q3 2027-07-01..2027-09-30 3/1 open 1", "Q4 2027-10-01..2027-12-31 3/1 open 1",
		}, plans); diff != "" {
			t.Errorf("headcount plans (-want +got):\n%s", diff)
		}
		if diff := cmp.Diff([]string{
			"Q1 2027-01-01..2027-03-31 5/2 open 1", "Q2 2027-04-01..2027-06-30 5/3 open 1",
			"Q3 2027-07-01..2027-09-30 7/3 open 2", "Q4 2027-10-01..2027-12-31 8/3 open 2",
		}, quarters(tl.GetHeadcountPlanQuarters())); diff != "" {
			t.Errorf("headcount plan quarters (-want +got):\n%s", diff)
		}
		if tl.GetHeadcountPlanCount() != 2 {
			t.Errorf("%d headcount plans in progress; want 2", tl.GetHeadcountPlanCount())
		}

		// Compliance: the least covered framework first, ISO 27001 with its latest posture and
		// the title of its latest import; the controls whose test is due, the longest overdue first.
		cp := b.GetCompliance()
		var frameworks []string
		for _, f := range cp.GetFrameworks() {
			frameworks = append(frameworks, fmt.Sprintf("%s %q %d/%d/%d of %d %d%% %s", f.GetFramework(), f.GetTitle(), f.GetCoveredCount(),
				f.GetPartialCount(), f.GetNotCoveredCount(), f.GetRequirementCount(), f.GetCoveredPercent(), f.GetChangeTime().AsTime().Format(time.DateOnly)))
		}
		if diff := cmp.Diff([]string{
			`frameworks/gdpr "GDPR" 0/0/20 of 20 0% 2027-02-01`,
			`frameworks/iso27001-2022 "ISO/IEC 27001:2022 Annex A" 2/1/90 of 93 2% 2027-03-02`,
			`frameworks/soc2-2017 "SOC 2" 5/0/5 of 10 50% 2027-02-01`,
		}, frameworks); diff != "" {
			t.Errorf("frameworks (-want +got):\n%s", diff)
		}
		var overdue []string
		for _, c := range cp.GetOverdueControlTests() {
			overdue = append(overdue, fmt.Sprintf("%s %q %s %s due %s at %s, %d days, last %s %v", c.GetControl(), c.GetTitle(), c.GetOwner(),
				c.GetTestFrequency(), civil.FromProto(c.GetNextTestDate()), c.GetDueTime().AsTime().Format(time.RFC3339), c.GetDaysOverdue(),
				c.GetLastResult(), c.GetLastTestDate() != nil))
		}
		if diff := cmp.Diff([]string{
			`controls/mfa "Control mfa" people/mfa-owner QUARTERLY due 2027-03-01 at 2027-03-01T00:00:00Z, 14 days, last CONTROL_TEST_RESULT_UNSPECIFIED false`,
			`controls/backup "Control backup" people/backup-owner QUARTERLY due 2027-03-15 at 2027-03-15T00:00:00Z, 0 days, last EFFECTIVE true`,
		}, overdue); diff != "" {
			t.Errorf("overdue control tests (-want +got):\n%s", diff)
		}
		if cp.GetFrameworkCount() != 3 || cp.GetOverdueControlTestCount() != 2 {
			t.Errorf("compliance: %d frameworks, %d overdue control tests; want 3, 2", cp.GetFrameworkCount(), cp.GetOverdueControlTestCount())
		}
		// The policies whose acknowledgements are overdue, the most people overdue first.
		var policies []string
		for _, p := range cp.GetOverduePolicies() {
			policies = append(policies, fmt.Sprintf("%s %q %s due %s, %d days: %d of %d acknowledged, %d overdue", p.GetPolicy(), p.GetTitle(),
				p.GetPolicyVersion(), civil.FromProto(p.GetDueDate()), p.GetDaysOverdue(), p.GetAcknowledgedCount(), p.GetRequiredCount(), p.GetOverdueCount()))
		}
		if diff := cmp.Diff([]string{
			`policies/sec "Policy sec" policies/sec/versions/1-0 due 2027-03-01, 14 days: 0 of 2 acknowledged, 2 overdue`,
			`policies/aup "Policy aup" policies/aup/versions/1-1 due 2027-03-03, 12 days: 2 of 3 acknowledged, 1 overdue`,
			`policies/dp "Policy dp" policies/dp/versions/2-0 due 2027-03-14, 1 days: 0 of 1 acknowledged, 1 overdue`,
		}, policies); diff != "" {
			t.Errorf("policies overdue (-want +got):\n%s", diff)
		}
		if cp.GetPolicyCount() != 4 || cp.GetOverduePolicyCount() != 3 || cp.GetOverdueAcknowledgementCount() != 4 {
			t.Errorf("policies: %d published, %d with people overdue, %d acknowledgements overdue; want 4, 3, 4",
				cp.GetPolicyCount(), cp.GetOverduePolicyCount(), cp.GetOverdueAcknowledgementCount())
		}

		// Continuity: the plans not exercised within their cadence, the longest overdue first.
		var bcps []string
		for _, p := range b.GetContinuity().GetOverduePlans() {
			bcps = append(bcps, fmt.Sprintf("%s %q %s %s every %dm due %s, %d days, last %v", p.GetContinuityPlan(), p.GetTitle(),
				p.GetService(), p.GetOwner(), p.GetExerciseCadence().GetMonths(), civil.FromProto(p.GetNextExerciseDate()),
				p.GetDaysOverdue(), p.GetLastExerciseDate() != nil))
		}
		if diff := cmp.Diff([]string{
			`continuityPlans/checkout "Plan checkout" checkout people/checkout-owner every 6m due 2027-02-20, 23 days, last false`,
			`continuityPlans/crm "Plan crm" crm people/crm-owner every 6m due 2027-03-01, 14 days, last false`,
			`continuityPlans/payroll "Plan payroll" payroll people/payroll-owner every 6m due 2027-03-14, 1 days, last true`,
		}, bcps); diff != "" {
			t.Errorf("overdue continuity plans (-want +got):\n%s", diff)
		}
		if c := b.GetContinuity(); c.GetPlanCount() != 5 || c.GetOverduePlanCount() != 3 {
			t.Errorf("continuity: %d plans, %d overdue; want 5, 3", c.GetPlanCount(), c.GetOverduePlanCount())
		}

		// Freshness: the last event of each stream, with its sequence.
		for _, f := range b.GetFreshness() {
			if f.GetStream() == "" || f.GetLastEventId() == "" || f.GetStreamSequence() != uint64(h.count(f.GetDomain())) ||
				f.GetLastEventTime() == nil {
				t.Errorf("freshness of %s: %v", f.GetDomain(), f)
			}
		}
		if b.GetFreshness()[2].GetLastEventType() != "quarterdeck.risk.v1.IncidentResolved" {
			t.Errorf("last risk event %s; want IncidentResolved", b.GetFreshness()[2].GetLastEventType())
		}

		// Contract values are for callers with vendors.finance only.
		reader := briefingv1.NewBriefingServiceClient(e.ConnAs(t, "apiKeys/reader", "briefing.read"))
		rb, err := reader.GetBriefing(context.Background(), &briefingv1.GetBriefingRequest{Name: "briefing", View: briefingv1.BriefingView_BASIC})
		if err != nil {
			t.Fatal(err)
		}
		if c := rb.GetVendors().GetInNoticeWindow()[0]; c.GetAnnualValue() != nil || c.GetRenewalValue() != nil ||
			rb.GetVendors().GetRenewalValueTotals() != nil {
			t.Errorf("a caller without vendors.finance sees contract values: %v", rb.GetVendors())
		}
		if len(rb.GetBudget().GetCostCenters()) != 2 {
			t.Errorf("the reader sees %d cost centres; want 2", len(rb.GetBudget().GetCostCenters()))
		}
		// The BASIC view is the FULL one, the default, without the periods.
		if len(rb.GetBudget().GetCostCenters()[0].GetPeriods()) != 0 || len(rb.GetBudget().GetTotals()[0].GetPeriods()) != 0 {
			t.Errorf("the BASIC view has periods")
		}
		fb, err := reader.GetBriefing(context.Background(), &briefingv1.GetBriefingRequest{Name: "briefing"})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range fb.GetBudget().GetCostCenters() {
			if len(c.GetPeriods()) != 12 {
				t.Errorf("%s: %d periods in the default view; want 12", c.GetCostCenter(), len(c.GetPeriods()))
			}
			c.Periods = nil
		}
		for _, c := range fb.GetBudget().GetTotals() {
			c.Periods = nil
		}
		if diff := cmp.Diff(comparable(fb), comparable(rb), protocmp.Transform(),
			protocmp.IgnoreFields(&briefingv1.StreamFreshness{}, "pending_count")); diff != "" {
			t.Errorf("FULL without periods differs from BASIC (-full +basic):\n%s", diff)
		}
	})
}

// TestBriefingRefusals: bad input is INVALID_ARGUMENT on the field; a caller without the scope is
// refused.
func TestBriefingRefusals(t *testing.T) {
	t.Parallel()
	e := start(t, testenv.SQLite(t))
	ctx := context.Background()
	_, err := e.client.GetBriefing(ctx, &briefingv1.GetBriefingRequest{Name: "briefings/x"})
	e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "name")
	_, err = e.client.GetBriefing(ctx, &briefingv1.GetBriefingRequest{Name: "briefing", View: 7})
	e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "view")
	_, err = e.client.RebuildBriefing(ctx, &briefingv1.RebuildBriefingRequest{})
	e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "name")
	reader := briefingv1.NewBriefingServiceClient(e.ConnAs(t, "apiKeys/reader", "briefing.read"))
	if _, err := reader.RebuildBriefing(ctx, &briefingv1.RebuildBriefingRequest{Name: "briefing"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("RebuildBriefing without briefing.rebuild = %v; want PERMISSION_DENIED", err)
	}
	nobody := briefingv1.NewBriefingServiceClient(e.ConnAs(t, "apiKeys/nobody", "risk.read"))
	if _, err := nobody.GetBriefing(ctx, &briefingv1.GetBriefingRequest{Name: "briefing"}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("GetBriefing without briefing.read = %v; want PERMISSION_DENIED", err)
	}
}

// TestBriefingLists checks that each list of the briefing of a large company holds the first
// ItemLimit items in its order, with the count of them all beside it, and that the sums cover
// them all.
func TestBriefingLists(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		fillFrom(t, e.DB(t), demo(3), 0)
		b, err := e.client.GetBriefing(context.Background(), &briefingv1.GetBriefingRequest{Name: "briefing"})
		if err != nil {
			t.Fatal(err)
		}
		budget, vendors, risks, incidents, talent := b.GetBudget(), b.GetVendors(), b.GetRisks(), b.GetIncidents(), b.GetTalent()
		compliance := b.GetCompliance()
		for _, l := range []struct {
			what         string
			listed, want int
			count        int32
		}{
			{"cost centres", len(budget.GetCostCenters()), 90, budget.GetCostCenterCount()},
			{"contracts in the notice window", len(vendors.GetInNoticeWindow()), -1, vendors.GetInNoticeWindowCount()},
			{"renewals", len(vendors.GetRenewals()), -1, vendors.GetRenewalCount()},
			// Every other vendor of 120, less those whose breaches are 90 to 99 days old (90 to 98).
			{"vendors with SLA breaches", len(vendors.GetSlaBreaches()), 55, vendors.GetSlaBreachVendorCount()},
			{"risks above appetite", len(risks.GetAboveAppetite()), 36, risks.GetAboveAppetiteCount()},
			{"open incidents", len(incidents.GetOpen()), 45, incidents.GetOpenCount()},
			{"open positions", len(talent.GetOpenPositions()), 60, talent.GetOpenPositionCount()},
			{"headcount plans", len(talent.GetHeadcountPlans()), 30, talent.GetHeadcountPlanCount()},
			{"frameworks", len(compliance.GetFrameworks()), 24, compliance.GetFrameworkCount()},
			// 31 of every 80 controls due: 120 controls, the first 80 and 31 of the next 40.
			{"overdue control tests", len(compliance.GetOverdueControlTests()), 62, compliance.GetOverdueControlTestCount()},
			// 30 of every 80 plans overdue: 120 plans, the first 80 and 30 of the next 40.
			{"overdue continuity plans", len(b.GetContinuity().GetOverduePlans()), 60, b.GetContinuity().GetOverduePlanCount()},
			// 25 of every 30 teams' policies overdue: 30 policies.
			{"policies with people overdue", len(compliance.GetOverduePolicies()), 25, compliance.GetOverduePolicyCount()},
		} {
			if l.want >= 0 && int(l.count) != l.want {
				t.Errorf("%s: count %d; want %d", l.what, l.count, l.want)
			}
			if l.count <= server.ItemLimit || l.listed != server.ItemLimit {
				t.Errorf("%s: %d listed of %d; want %d of more", l.what, l.listed, l.count, server.ItemLimit)
			}
		}
		// In order: the furthest over plan first.
		over := func(c *briefingv1.CostCenterBurn) float64 {
			return -float64(c.GetForecastVariance().GetUnits()) / float64(c.GetPlanned().GetUnits())
		}
		for i, c := range budget.GetCostCenters()[1:] {
			if over(c) > over(budget.GetCostCenters()[i]) {
				t.Errorf("%s is further over plan than %s, listed before it", c.GetCostCenter(), budget.GetCostCenters()[i].GetCostCenter())
			}
		}
		// The most SLA breaches first (three of every vendor i with i%3 == 2), the most recent
		// first among equals; the breaches of every vendor counted: 1 + i%3 of each even i below
		// 90 or from 100.
		var breaches int32
		for i := 0; i < 120; i += 2 {
			if i%100 < 90 {
				breaches += int32(1 + i%3)
			}
		}
		if n := vendors.GetSlaBreachCount(); n != breaches {
			t.Errorf("%d SLA breaches; want %d", n, breaches)
		}
		if sb := vendors.GetSlaBreaches(); sb[0].GetVendor() != "vendors/v-0002" || sb[0].GetBreachCount() != 3 ||
			!slices.IsSortedFunc(sb, func(a, b *briefingv1.VendorSlaBreaches) int {
				if a.GetBreachCount() != b.GetBreachCount() {
					return int(b.GetBreachCount() - a.GetBreachCount())
				}
				return b.GetLastBreachTime().AsTime().Compare(a.GetLastBreachTime().AsTime())
			}) {
			t.Errorf("vendors with SLA breaches not the most first, then the most recent: %v", sb)
		}

		// The least covered framework first; the longest overdue control test first.
		for i, f := range compliance.GetFrameworks()[1:] {
			prev := compliance.GetFrameworks()[i]
			if f.GetCoveredCount()*prev.GetRequirementCount() < prev.GetCoveredCount()*f.GetRequirementCount() {
				t.Errorf("%s is less covered than %s, listed before it", f.GetFramework(), prev.GetFramework())
			}
		}
		if c := compliance.GetOverdueControlTests(); c[0].GetDaysOverdue() != 30 ||
			!slices.IsSortedFunc(c, func(a, b *briefingv1.ControlTestDueItem) int { return int(b.GetDaysOverdue() - a.GetDaysOverdue()) }) {
			t.Errorf("overdue control tests not the longest overdue first: %v", c)
		}

		// The most people overdue first: team 0's policy, which nobody acknowledged (27 people).
		// Every acknowledgement overdue is counted: 27 less those of the first i%27 people who
		// have not left, for each team i%30 < 25.
		var overdueAcks int32
		for i := range 30 {
			if i%30 < 25 {
				overdueAcks += 27 - int32(i%27-i%27/10)
			}
		}
		if p := compliance.GetOverduePolicies(); p[0].GetPolicy() != "policies/pol-0000" || p[0].GetOverdueCount() != 27 ||
			compliance.GetOverdueAcknowledgementCount() != overdueAcks || compliance.GetPolicyCount() != 30 ||
			!slices.IsSortedFunc(p, func(a, b *briefingv1.PolicyAcknowledgementItem) int {
				return int(b.GetOverdueCount() - a.GetOverdueCount())
			}) {
			t.Errorf("policies overdue not the most people overdue first, or %d of %d acknowledgements overdue (want %d of 30 policies): %v",
				compliance.GetOverdueAcknowledgementCount(), compliance.GetPolicyCount(), overdueAcks, p)
		}

		if p := b.GetContinuity().GetOverduePlans(); p[0].GetDaysOverdue() != 30 ||
			!slices.IsSortedFunc(p, func(a, b *briefingv1.ContinuityPlanItem) int { return int(b.GetDaysOverdue() - a.GetDaysOverdue()) }) {
			t.Errorf("overdue continuity plans not the longest overdue first: %v", p)
		}

		// The sums cover every cost centre and plan: 90 cost centres of 30 per unit; the planned
		// headcount of 30 plans, (27 + i%5) in Q1.
		if n := budget.GetTotals()[0].GetCostCenterCount(); n != 90 {
			t.Errorf("the totals sum %d cost centres; want 90", n)
		}
		var q1 int32
		for i := range 30 {
			q1 += int32(27 + i%5)
		}
		if got := talent.GetHeadcountPlanQuarters()[0].GetPlannedHeadcount(); got != q1 {
			t.Errorf("Q1 planned headcount %d; want %d, the sum of every plan", got, q1)
		}
	})
}

// TestBriefingBehindTheModel checks that while the model moves, a read is answered at once with
// the briefing last computed if it is younger than MaxStale, and that the briefing of the new
// state, computed behind the reads, follows; with MaxStale zero a read computes it first.
func TestBriefingBehindTheModel(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		h := demo(1)
		fillFrom(t, e.DB(t), h, 0)
		// The checks behind the reads end before the test's database closes.
		bg := host.NewBackground(nil)
		t.Cleanup(func() {
			if err := bg.Stop(context.Background()); err != nil {
				t.Error(err)
			}
		})
		srv := server.New(e.DB(t), nil, bg, Domains, "quarterdeck", func() time.Time { return today })
		srv.MaxStale = time.Hour
		ctx := context.Background()
		applied := func() int64 {
			t.Helper()
			b, err := srv.GetBriefing(ctx, &briefingv1.GetBriefingRequest{Name: "briefing"})
			if err != nil {
				t.Fatal(err)
			}
			return b.GetFreshness()[0].GetAppliedCount()
		}
		n := len(h.events)
		change := func() {
			n++
			more := newHistory()
			name := fmt.Sprintf("budgets/cc-0001-fy2027/lines/run/actuals/late-%d", n)
			more.add(name, &budgetv1.ActualRecorded{Actual: &budgetv1.Actual{Name: name, Amount: eur(1),
				ConvertedAmount: eur(1), BookingDate: day(2027, 3, 1), Period: "FY2027-P03"}})
			fillFrom(t, e.DB(t), more, uint64(n))
		}
		first := applied()
		if first != h.count("budget") {
			t.Fatalf("%d budget events applied; want %d", first, h.count("budget"))
		}
		change()
		if got := applied(); got != first {
			t.Errorf("right after a change, the briefing includes %d budget events; want the %d of the one kept", got, first)
		}
		testkit.Eventually(t, 30*time.Second, func() error {
			if got := applied(); got != first+1 {
				return fmt.Errorf("%d budget events in the briefing; want %d", got, first+1)
			}
			return nil
		})
		srv.MaxStale = 0
		change()
		if got := applied(); got != first+2 {
			t.Errorf("with MaxStale 0, %d budget events in the briefing after a change; want %d", got, first+2)
		}
	})
}

// TestBriefingReadConcurrently reads the briefing from several callers at once, in both views,
// while the model moves: under the race detector, the reads, the briefing kept and the checks
// behind the reads share the server safely; every read answers, and the last change shows.
func TestBriefingReadConcurrently(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		h := demo(1)
		fillFrom(t, e.DB(t), h, 0)
		bg := host.NewBackground(nil)
		t.Cleanup(func() {
			if err := bg.Stop(context.Background()); err != nil {
				t.Error(err)
			}
		})
		srv := server.New(e.DB(t), nil, bg, Domains, "quarterdeck", func() time.Time { return today })
		ctx := context.Background()
		const readers, reads, changes = 4, 10, 5
		errs := make(chan error, readers*reads)
		var wg sync.WaitGroup
		for i := range readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				view := []briefingv1.BriefingView{briefingv1.BriefingView_BASIC, briefingv1.BriefingView_FULL}[i%2]
				for range reads {
					if _, err := srv.GetBriefing(ctx, &briefingv1.GetBriefingRequest{Name: "briefing", View: view}); err != nil {
						errs <- err
					}
				}
			}()
		}
		n := len(h.events)
		for range changes {
			n++
			more := newHistory()
			name := fmt.Sprintf("budgets/cc-0001-fy2027/lines/run/actuals/concurrent-%d", n)
			more.add(name, &budgetv1.ActualRecorded{Actual: &budgetv1.Actual{Name: name, Amount: eur(1),
				ConvertedAmount: eur(1), BookingDate: day(2027, 3, 1), Period: "FY2027-P03"}})
			fillFrom(t, e.DB(t), more, uint64(n))
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("a concurrent read: %v", err)
		}
		want := h.count("budget") + changes
		testkit.Eventually(t, 30*time.Second, func() error {
			b, err := srv.GetBriefing(ctx, &briefingv1.GetBriefingRequest{Name: "briefing"})
			if err != nil {
				return err
			}
			if got := b.GetFreshness()[0].GetAppliedCount(); got != want {
				return fmt.Errorf("%d budget events in the briefing; want %d", got, want)
			}
			return nil
		})
	})
}

// comparable is a briefing without what differs between two computations of one model: the
// time of the computation and when each event was applied.
func comparable(b *briefingv1.Briefing) *briefingv1.Briefing {
	b = proto.Clone(b).(*briefingv1.Briefing)
	b.ComputeTime = nil
	for _, f := range b.GetFreshness() {
		f.ApplyTime = nil
	}
	return b
}

// modelOf is the model with the times of application left out.
func modelOf(t *testing.T, e *env) *model.Snapshot {
	t.Helper()
	snap, err := model.Load(context.Background(), e.DB(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range snap.Streams {
		snap.Streams[i].ApplyTime = time.Time{}
	}
	return snap
}

// TestRebuildEqualsLive rebuilds the model from the streams and finds it equal to the one built
// live, table by table and in the briefing; the rebuilt model then keeps following the streams.
func TestRebuildEqualsLive(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := start(t, db)
		h := company()
		// Live: the events arrive in two batches while the consumers run.
		half := len(h.events) / 2
		h.publish(t, e.JetStream, e.NATS.SubjectPrefix, 0, half)
		h.publish(t, e.JetStream, e.NATS.SubjectPrefix, half, len(h.events))
		live := e.caughtUp(t, h)
		liveModel := modelOf(t, e)

		// Spoil the model behind the consumers' back: only a rebuild from the streams repairs it.
		spoil := e.DB(t)
		for _, q := range []string{
			`UPDATE briefing_budgets SET planned_minor = 1`,
			`INSERT INTO briefing_risks (name, title, category, owner, state, likelihood, impact, score, level, above_appetite)
			VALUES ('risks/stray', 'Stray', 1, '', 2, 5, 5, 25, 4, TRUE)`,
			// As if the model were another code's: the rebuild records this code's version.
			`UPDATE briefing_model_version SET version = 0`,
		} {
			if _, err := spoil.ExecContext(context.Background(), q); err != nil {
				t.Fatal(err)
			}
		}
		if cmp.Equal(liveModel, modelOf(t, e)) {
			t.Fatal("the spoilt model still equals the live one")
		}

		if _, err := e.client.RebuildBriefing(context.Background(), &briefingv1.RebuildBriefingRequest{Name: "briefing"}); err != nil {
			t.Fatal(err)
		}
		if v := storedVersion(t, spoil); v != model.Version {
			t.Errorf("model version %d stored after the rebuild; want %d", v, model.Version)
		}
		rebuilt := e.caughtUp(t, h)
		if diff := cmp.Diff(comparable(live), comparable(rebuilt), protocmp.Transform()); diff != "" {
			t.Errorf("rebuilt briefing differs from the live one (-live +rebuilt):\n%s", diff)
		}
		if diff := cmp.Diff(liveModel, modelOf(t, e)); diff != "" {
			t.Errorf("rebuilt model differs from the live one (-live +rebuilt):\n%s", diff)
		}

		// The rebuilt model follows the streams: a new cost centre appears.
		n := len(h.events)
		h.costCenter("data", 60000, 0, 5000)
		h.publish(t, e.JetStream, e.NATS.SubjectPrefix, n, len(h.events))
		b := e.caughtUp(t, h)
		if len(b.GetBudget().GetCostCenters()) != 3 {
			t.Errorf("after the rebuild, %d cost centres; want 3", len(b.GetBudget().GetCostCenters()))
		}
	})
}
