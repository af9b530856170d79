package talent_test

import (
	"context"
	"fmt"
	"testing"

	moneypb "google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// quarters is a plan's quarters: headcount and cost (minor units of USD) for Q1 to Q4.
func quarters(hc [4]int32, cost [4]int64) []*talentv1.HeadcountQuarter {
	out := make([]*talentv1.HeadcountQuarter, 4)
	for i := range out {
		out[i] = &talentv1.HeadcountQuarter{Quarter: int32(i + 1), PlannedHeadcount: hc[i], PlannedCost: usd(cost[i])}
	}
	return out
}

func headcounts(qs []*talentv1.HeadcountQuarter, get func(*talentv1.HeadcountQuarter) int32) string {
	out := make([]int32, len(qs))
	for i, q := range qs {
		out[i] = get(q)
	}
	return fmt.Sprint(out)
}

// TestHeadcountPlans plans FY2027 (from April) for the team platform, compares it with the
// actual people and open positions, tries two scenarios side by side and adopts one; the actual
// cost is pay, shown only to callers with talent.compensation.
func TestHeadcountPlans(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startPositions(t, db)
		ctx := context.Background()
		errs := e.talent.Errors()
		// Carla (from the set-up) starts 2026-10-05, no cost recorded; dev joined before the
		// year at 73,000.00 a year (200.00 a day).
		e.person(t, "dev", "teams/platform", day(2025, 1, 6), usd(7_300_000))
		// An approved position expected to start in Q3.
		p := e.pending(t, "sre-q3", sre("teams/platform", 100_000, day(2026, 11, 2)))
		if _, err := e.approver.ApprovePosition(ctx, &talentv1.ApprovePositionRequest{Name: p.GetName()}); err != nil {
			t.Fatal(err)
		}

		_, err := e.requester.CreateHeadcountPlan(ctx, &talentv1.CreateHeadcountPlanRequest{Parent: "teams/platform", FiscalYear: 2027,
			HeadcountPlan: &talentv1.HeadcountPlan{CurrencyCode: "USD", Quarters: []*talentv1.HeadcountQuarter{
				{Quarter: 1, PlannedCost: &moneypb.Money{CurrencyCode: "EUR", Units: 1}}, {Quarter: 1}}}})
		errs.Assert(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "headcount_plan.quarters[0].planned_cost:CURRENCY_MISMATCH",
			"headcount_plan.quarters[1].quarter:DUPLICATE")
		plan, err := e.requester.CreateHeadcountPlan(ctx, &talentv1.CreateHeadcountPlanRequest{Parent: "teams/platform", FiscalYear: 2027,
			HeadcountPlan: &talentv1.HeadcountPlan{CurrencyCode: "USD",
				Quarters: quarters([4]int32{1, 2, 3, 3}, [4]int64{2_000_000, 3_000_000, 4_000_000, 4_000_000})}})
		if err != nil {
			t.Fatalf("create plan: %v", err)
		}
		if plan.GetName() != "teams/platform/headcountPlans/2027" {
			t.Fatalf("plan name = %s", plan.GetName())
		}
		_, err = e.requester.CreateHeadcountPlan(ctx, &talentv1.CreateHeadcountPlanRequest{Parent: "teams/platform", FiscalYear: 2027,
			HeadcountPlan: &talentv1.HeadcountPlan{CurrencyCode: "USD"}})
		errs.Assert(t, err, codes.AlreadyExists, "HEADCOUNT_PLAN_ALREADY_EXISTS")

		got, err := e.requester.GetHeadcountPlan(ctx, &talentv1.GetHeadcountPlanRequest{Name: plan.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		// Q1 Apr-Jun, Q2 Jul-Sep: dev only; from Q3 (Oct-Dec) dev and carla.
		if h := headcounts(got.GetQuarters(), (*talentv1.HeadcountQuarter).GetActualHeadcount); h != "[1 1 2 2]" {
			t.Fatalf("actual headcount = %s", h)
		}
		if h := headcounts(got.GetQuarters(), (*talentv1.HeadcountQuarter).GetOpenPositions); h != "[0 0 1 1]" {
			t.Fatalf("open positions = %s", h)
		}
		// Dev costs 200.00 a day: 91 days in Q1; carla's cost is not recorded, so Q3's is unknown.
		if c := got.GetQuarters()[0].GetActualCost(); minorOf(c) != 1_820_000 || got.GetQuarters()[2].GetActualCost() != nil {
			t.Fatalf("actual costs = %v", got.GetQuarters())
		}
		noPay := talentv1.NewTalentServiceClient(e.talent.ConnAs(t, "apiKeys/viewer", "talent.read"))
		hidden, err := noPay.GetHeadcountPlan(ctx, &talentv1.GetHeadcountPlanRequest{Name: plan.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range hidden.GetQuarters() {
			if q.GetActualCost() != nil || q.GetPlannedCost() == nil {
				t.Fatalf("without talent.compensation, quarter = %v; want the plan's cost and no actual cost", q)
			}
		}

		// Two scenarios: a copy, then a leaner one; compared side by side.
		base, err := e.requester.CreateHeadcountScenario(ctx, &talentv1.CreateHeadcountScenarioRequest{Parent: plan.GetName(),
			ScenarioId: "as-planned", HeadcountScenario: &talentv1.HeadcountScenario{DisplayName: "As planned"}})
		if err != nil {
			t.Fatal(err)
		}
		if h := headcounts(base.GetQuarters(), (*talentv1.HeadcountQuarter).GetPlannedHeadcount); h != "[1 2 3 3]" {
			t.Fatalf("copied scenario = %s", h)
		}
		lean, err := e.requester.CreateHeadcountScenario(ctx, &talentv1.CreateHeadcountScenarioRequest{Parent: plan.GetName(),
			ScenarioId: "lean", HeadcountScenario: &talentv1.HeadcountScenario{DisplayName: "Lean",
				Quarters: quarters([4]int32{1, 2, 2, 2}, [4]int64{2_000_000, 3_000_000, 3_000_000, 3_000_000})}})
		if err != nil {
			t.Fatal(err)
		}
		lean, err = e.requester.UpdateHeadcountScenario(ctx, &talentv1.UpdateHeadcountScenarioRequest{
			HeadcountScenario: &talentv1.HeadcountScenario{Name: lean.GetName(), Description: "no hire in Q4"},
			UpdateMask:        &fieldmaskpb.FieldMask{Paths: []string{"description"}}})
		if err != nil || lean.GetDescription() != "no hire in Q4" || lean.GetQuarters()[3].GetPlannedHeadcount() != 2 {
			t.Fatalf("update scenario = %v, %v", lean, err)
		}
		cmp, err := e.requester.CompareHeadcountScenarios(ctx, &talentv1.CompareHeadcountScenariosRequest{Plan: plan.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if len(cmp.GetScenarios()) != 2 || cmp.GetScenarios()[1].GetScenario().GetName() != lean.GetName() ||
			fmt.Sprint(cmp.GetScenarios()[1].GetHeadcountDelta()) != "[0 0 -1 -1]" ||
			minorOf(cmp.GetScenarios()[1].GetCostDelta()[2]) != -1_000_000 ||
			fmt.Sprint(cmp.GetScenarios()[0].GetHeadcountDelta()) != "[0 0 0 0]" {
			t.Fatalf("comparison = %v", cmp)
		}
		_, err = e.requester.CompareHeadcountScenarios(ctx, &talentv1.CompareHeadcountScenariosRequest{Plan: plan.GetName(),
			Scenarios: []string{"teams/lab/headcountPlans/2027/scenarios/lean"}})
		errs.Assert(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "scenarios[0]:NOT_A_SCENARIO_OF_PLAN")

		// Adopting needs the plan's current etag; the adopted scenario's quarters become the plan's.
		_, err = e.approver.AdoptHeadcountScenario(ctx, &talentv1.AdoptHeadcountScenarioRequest{Name: lean.GetName(), Etag: `"stale"`})
		errs.Assert(t, err, codes.Aborted, "ETAG_MISMATCH")
		adopted, err := e.approver.AdoptHeadcountScenario(ctx, &talentv1.AdoptHeadcountScenarioRequest{Name: lean.GetName(), Etag: got.GetEtag()})
		if err != nil {
			t.Fatalf("adopt: %v", err)
		}
		if adopted.GetAdoptedScenario() != lean.GetName() ||
			headcounts(adopted.GetQuarters(), (*talentv1.HeadcountQuarter).GetPlannedHeadcount) != "[1 2 2 2]" ||
			adopted.GetQuarters()[0].GetActualHeadcount() != 1 {
			t.Fatalf("adopted plan = %v", adopted)
		}
		// The quarters are dated on the service's calendar (from April), in responses and events,
		// so that a consumer places them without knowing the calendar.
		dates := func(qs []*talentv1.HeadcountQuarter) string {
			var out []string
			for _, q := range qs {
				s, e := q.GetStartDate(), q.GetEndDate()
				out = append(out, fmt.Sprintf("%d-%02d-%02d..%d-%02d-%02d", s.GetYear(), s.GetMonth(), s.GetDay(), e.GetYear(), e.GetMonth(), e.GetDay()))
			}
			return fmt.Sprint(out)
		}
		const fy2027 = "[2026-04-01..2026-06-30 2026-07-01..2026-09-30 2026-10-01..2026-12-31 2027-01-01..2027-03-31]"
		adoptedEvents := events(t, e.talent.DB(t), ".headcount_plan.scenario_adopted", plan.GetName(),
			func() *talentv1.HeadcountScenarioAdopted { return new(talentv1.HeadcountScenarioAdopted) })
		if len(adoptedEvents) != 1 {
			t.Fatalf("%d scenario_adopted events; want 1", len(adoptedEvents))
		}
		for what, qs := range map[string][]*talentv1.HeadcountQuarter{
			"plan": adopted.GetQuarters(), "scenario": lean.GetQuarters(), "event": adoptedEvents[0].GetHeadcountPlan().GetQuarters(),
		} {
			if d := dates(qs); d != fy2027 {
				t.Errorf("%s's quarters = %s; want %s", what, d, fy2027)
			}
		}
		sc, err := e.requester.GetHeadcountScenario(ctx, &talentv1.GetHeadcountScenarioRequest{Name: lean.GetName()})
		if err != nil || sc.GetAdoptTime() == nil {
			t.Fatalf("adopted scenario = %v, %v", sc, err)
		}
		list, err := e.requester.ListHeadcountPlans(ctx, &talentv1.ListHeadcountPlansRequest{Parent: "teams/-"})
		if err != nil || len(list.GetHeadcountPlans()) != 1 || list.GetHeadcountPlans()[0].GetAdoptedScenario() != lean.GetName() {
			t.Fatalf("plans = %v, %v", list, err)
		}
		if _, err := e.requester.DeleteHeadcountScenario(ctx, &talentv1.DeleteHeadcountScenarioRequest{Name: base.GetName()}); err != nil {
			t.Fatal(err)
		}
		_, err = e.requester.GetHeadcountScenario(ctx, &talentv1.GetHeadcountScenarioRequest{Name: base.GetName()})
		errs.Assert(t, err, codes.NotFound, "HEADCOUNT_SCENARIO_NOT_FOUND")
	})
}
