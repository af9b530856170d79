package talent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	moneypb "google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc/codes"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/talent"
)

// positionsNow is the day the positions' tests start: in FY2027 of budgets whose year starts in
// April (2026-04-01 to 2027-03-31).
var positionsNow = time.Date(2026, 9, 15, 12, 0, 0, 0, time.UTC)

// positionEnv is the talent service with a real budget service as its peer, each on a database
// of its own, both on one fake clock.
type positionEnv struct {
	talent *testkit.Service
	budget *testkit.Service
	clock  *clock.Fake
	// requester calls talent as the test principal; approver as a second person, with every
	// scope; budgetClient calls budget as the test principal.
	requester, approver talentv1.TalentServiceClient
	budgetClient        budgetv1.BudgetServiceClient
}

// startPositions starts budget and talent (fiscal years from April) and seeds, in budget, the
// cost centre eng with its approved FY2027 USD budget eng-2027 (BLOCK): the INTERNAL_LABOUR line
// labour of 200,000.00 and the CLOUD line cloud; in talent, the team platform charged to eng,
// the team lab with no cost centre, and carla, who starts on 2026-10-05.
func startPositions(t *testing.T, db testenv.Database) *positionEnv {
	t.Helper()
	return startPositionsWith(t, db, talent.DefaultSettings())
}

// startPositionsWith is startPositions with talent's settings cfg (fiscal years from April
// whatever cfg says).
func startPositionsWith(t *testing.T, db testenv.Database, cfg talent.Settings) *positionEnv {
	t.Helper()
	fake := clock.NewFake(positionsNow)
	cfg.FiscalYearStartMonth = 4
	b := testkit.Start(t, testenv.Another(t, db), budget.Configured(budget.Settings{FiscalYearStartMonth: 4}),
		testkit.WithHostOptions(func(o *host.Options) { o.Clock = fake }))
	s := testkit.Start(t, db, talent.Configured(cfg), testkit.WithHostOptions(func(o *host.Options) {
		o.Clock = fake
		o.Peers = map[string]string{"budget": b.Addr}
	}))
	e := &positionEnv{talent: s, budget: b, clock: fake,
		requester:    talentv1.NewTalentServiceClient(s.Conn),
		approver:     talentv1.NewTalentServiceClient(s.ConnAs(t, "apiKeys/approver")),
		budgetClient: budgetv1.NewBudgetServiceClient(b.Conn)}
	seedLabourBudget(t, e.budgetClient, budgetv1.NewBudgetServiceClient(b.ConnAs(t, "apiKeys/budget-approver")),
		"eng", "eng-2027", 20_000_000)
	ctx := context.Background()
	for _, tm := range []*talentv1.CreateTeamRequest{
		{TeamId: "platform", Team: &talentv1.Team{DisplayName: "Platform", CostCenter: "costCenters/eng"}},
		{TeamId: "lab", Team: &talentv1.Team{DisplayName: "Lab"}},
	} {
		if _, err := e.requester.CreateTeam(ctx, tm); err != nil {
			t.Fatalf("create team %s: %v", tm.GetTeamId(), err)
		}
	}
	e.person(t, "carla", "teams/platform", day(2026, 10, 5), nil)
	return e
}

// person creates, through the people API, the ACTIVE EMPLOYEE id of team, who starts on start,
// with the loaded annual cost when given.
func (e *positionEnv) person(t *testing.T, id, team string, start *date.Date, cost *moneypb.Money) {
	t.Helper()
	if _, err := e.requester.CreatePerson(context.Background(), &talentv1.CreatePersonRequest{PersonId: id,
		Person: &talentv1.Person{DisplayName: id, Team: team, EmploymentType: talentv1.Person_EMPLOYEE,
			StartDate: start, LoadedAnnualCost: cost}}); err != nil {
		t.Fatalf("create person %s: %v", id, err)
	}
}

// seedLabourBudget creates the cost centre cc and its approved FY2027 USD BLOCK budget id with
// the INTERNAL_LABOUR line labour of planned minor units and a CLOUD line cloud.
func seedLabourBudget(t *testing.T, bc, approver budgetv1.BudgetServiceClient, cc, id string, planned int64) {
	t.Helper()
	ctx := context.Background()
	if _, err := bc.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{CostCenterId: cc,
		CostCenter: &budgetv1.CostCenter{DisplayName: cc, Code: "CC-" + strings.ToUpper(cc), Owner: "cto@example.com"}}); err != nil {
		t.Fatal(err)
	}
	b, err := bc.CreateBudget(ctx, &budgetv1.CreateBudgetRequest{BudgetId: id, Budget: &budgetv1.Budget{
		CostCenter: "costCenters/" + cc, FiscalYear: 2027, CurrencyCode: "USD", DisplayName: id,
		Owner: "cto@example.com", OverspendPolicy: budgetv1.Budget_BLOCK}})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []struct {
		id  string
		cat budgetv1.BudgetLine_Category
	}{{"labour", budgetv1.BudgetLine_INTERNAL_LABOUR}, {"cloud", budgetv1.BudgetLine_CLOUD}} {
		if _, err := bc.CreateBudgetLine(ctx, &budgetv1.CreateBudgetLineRequest{Parent: b.GetName(), BudgetLineId: l.id,
			BudgetLine: &budgetv1.BudgetLine{DisplayName: l.id, Category: l.cat, ExpenseType: budgetv1.BudgetLine_OPEX,
				PlannedAmount: usd(planned)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bc.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: b.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := approver.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()}); err != nil {
		t.Fatal(err)
	}
}

func usd(minor int64) *moneypb.Money {
	return &moneypb.Money{CurrencyCode: "USD", Units: minor / 100, Nanos: int32(minor%100) * 10_000_000}
}

func minorOf(m *moneypb.Money) int64 { return m.GetUnits()*100 + int64(m.GetNanos())/10_000_000 }

func day(y, m, d int32) *date.Date { return &date.Date{Year: y, Month: m, Day: d} }

// sre is a GROWTH position of the team, costing annual minor units a year from start.
func sre(team string, annual int64, start *date.Date) *talentv1.Position {
	return &talentv1.Position{Team: team, Title: "Site reliability engineer", Level: "L4",
		BudgetedAnnualCost: usd(annual), TargetStartDate: start, Reason: talentv1.Position_GROWTH}
}

// pending creates the position id and submits it as the requester.
func (e *positionEnv) pending(t *testing.T, id string, p *talentv1.Position) *talentv1.Position {
	t.Helper()
	ctx := context.Background()
	if _, err := e.requester.CreatePosition(ctx, &talentv1.CreatePositionRequest{PositionId: id, Position: p}); err != nil {
		t.Fatalf("create position %s: %v", id, err)
	}
	out, err := e.requester.SubmitPosition(ctx, &talentv1.SubmitPositionRequest{Name: "positions/" + id})
	if err != nil {
		t.Fatalf("submit %s: %v", id, err)
	}
	return out
}

// holds lists the holds of the labour line.
func (e *positionEnv) holds(t *testing.T) []*budgetv1.Hold {
	t.Helper()
	r, err := e.budgetClient.ListHolds(context.Background(), &budgetv1.ListHoldsRequest{Parent: "budgets/eng-2027/lines/labour"})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetHolds()
}

// TestPositionApproval drives positions through their lifecycle against a real budget: the
// approval holds the cost from the target start to the fiscal year's end on the team's labour
// line, only another person may approve, and every refusal leaves budget untouched.
func TestPositionApproval(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startPositions(t, db)
		ctx := context.Background()
		errs := e.talent.Errors()

		_, err := e.requester.CreatePosition(ctx, &talentv1.CreatePositionRequest{Position: &talentv1.Position{
			Team: "teams/platform", BudgetedAnnualCost: usd(-1), TargetStartDate: day(2026, 10, 1), Reason: talentv1.Position_BACKFILL}})
		errs.Assert(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "position.title:REQUIRED",
			"position.budgeted_annual_cost:AMOUNT_NOT_POSITIVE", "position.backfill_of:REQUIRED")
		_, err = e.requester.CreatePosition(ctx, &talentv1.CreatePositionRequest{Position: sre("teams/nowhere", 100, day(2026, 10, 1))})
		errs.Assert(t, err, codes.InvalidArgument, "TEAM_NOT_FOUND", "position.team")

		p := e.pending(t, "sre-1", sre("teams/platform", 12_000_000, day(2026, 10, 1)))
		if p.GetState() != talentv1.Position_PENDING_APPROVAL || p.GetRequester() == "" {
			t.Fatalf("submitted = %v", p)
		}
		// The requester's own key, or another key of the same principal, cannot approve.
		_, err = e.requester.ApprovePosition(ctx, &talentv1.ApprovePositionRequest{Name: p.GetName()})
		errs.Assert(t, err, codes.PermissionDenied, "APPROVER_IS_REQUESTER")
		again := talentv1.NewTalentServiceClient(e.talent.ConnOf(t, "apiKeys/requester-2", p.GetRequester()))
		_, err = again.ApprovePosition(ctx, &talentv1.ApprovePositionRequest{Name: p.GetName()})
		errs.Assert(t, err, codes.PermissionDenied, "APPROVER_IS_REQUESTER")
		// An approver who may not spend from budget is refused by budget.
		noSpend := talentv1.NewTalentServiceClient(e.talent.ConnAs(t, "apiKeys/hr", "talent.read", "talent.approve", "budget.read"))
		_, err = noSpend.ApprovePosition(ctx, &talentv1.ApprovePositionRequest{Name: p.GetName()})
		errs.Assert(t, err, codes.FailedPrecondition, "PEER_REFUSED")
		if hs := e.holds(t); len(hs) != 0 {
			t.Fatalf("refused approvals left holds: %v", hs)
		}

		approved, err := e.approver.ApprovePosition(ctx, &talentv1.ApprovePositionRequest{Name: p.GetName(),
			RequestId: "2f1d6c1e-6a55-4c1b-9a0e-3f1b2b9f1a01"})
		if err != nil {
			t.Fatalf("approve: %v", err)
		}
		if approved.GetState() != talentv1.Position_OPEN || approved.GetBudgetLine() != "budgets/eng-2027/lines/labour" ||
			approved.GetHold() == "" || approved.GetOpenTime() == nil || approved.GetApprover() == approved.GetRequester() {
			t.Fatalf("approved = %v", approved)
		}
		// 120,000.00 a year from 2026-10-01: 182 of the year's 365 days fall in FY2027.
		hs := e.holds(t)
		if len(hs) != 1 || hs[0].GetName() != approved.GetHold() || minorOf(hs[0].GetHeldAmount()) != 5_983_562 ||
			hs[0].GetSource() != budgetv1.Commitment_POSITION || hs[0].GetSourceReference() != p.GetName() {
			t.Fatalf("holds = %v; want one of 59,835.62 for %s", hs, p.GetName())
		}
		// A retry of the approval answers as the first did and holds nothing more.
		retry, err := e.approver.ApprovePosition(ctx, &talentv1.ApprovePositionRequest{Name: p.GetName(),
			RequestId: "2f1d6c1e-6a55-4c1b-9a0e-3f1b2b9f1a01"})
		if err != nil || retry.GetEtag() != approved.GetEtag() || len(e.holds(t)) != 1 {
			t.Fatalf("retried approval = %v, %v; holds %d", retry, err, len(e.holds(t)))
		}
		_, err = e.approver.ApprovePosition(ctx, &talentv1.ApprovePositionRequest{Name: p.GetName()})
		errs.Assert(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")

		// Refusals that budget's figures or the team's set-up decide.
		big := e.pending(t, "sre-big", sre("teams/platform", 1_000_000_000, day(2026, 10, 1)))
		_, err = e.approver.ApprovePosition(ctx, &talentv1.ApprovePositionRequest{Name: big.GetName()})
		errs.Assert(t, err, codes.FailedPrecondition, "PEER_REFUSED")
		lab := e.pending(t, "lab-1", sre("teams/lab", 100_000, day(2026, 10, 1)))
		_, err = e.approver.ApprovePosition(ctx, &talentv1.ApprovePositionRequest{Name: lab.GetName()})
		errs.Assert(t, err, codes.FailedPrecondition, "TEAM_HAS_NO_COST_CENTER")
		later := e.pending(t, "sre-2028", sre("teams/platform", 100_000, day(2027, 6, 1)))
		_, err = e.approver.ApprovePosition(ctx, &talentv1.ApprovePositionRequest{Name: later.GetName()})
		errs.Assert(t, err, codes.FailedPrecondition, "NO_LABOUR_BUDGET")
		if hs := e.holds(t); len(hs) != 1 {
			t.Fatalf("refused approvals left holds: %v", hs)
		}
		if got, err := e.requester.GetPosition(ctx, &talentv1.GetPositionRequest{Name: big.GetName()}); err != nil ||
			got.GetState() != talentv1.Position_PENDING_APPROVAL {
			t.Fatalf("refused position = %v, %v", got, err)
		}

		// Offer and fill: the person links, the start is the person's, time to fill in days.
		if _, err := e.requester.OfferPosition(ctx, &talentv1.OfferPositionRequest{Name: p.GetName()}); err != nil {
			t.Fatalf("offer: %v", err)
		}
		e.clock.Advance(20 * 24 * time.Hour)
		_, err = e.requester.FillPosition(ctx, &talentv1.FillPositionRequest{Name: p.GetName(), Person: "people/nobody"})
		errs.Assert(t, err, codes.InvalidArgument, "PERSON_NOT_FOUND", "person")
		filled, err := e.requester.FillPosition(ctx, &talentv1.FillPositionRequest{Name: p.GetName(), Person: "people/carla"})
		if err != nil {
			t.Fatalf("fill: %v", err)
		}
		if filled.GetState() != talentv1.Position_FILLED || filled.GetPerson() != "people/carla" || filled.GetTimeToFillDays() != 20 ||
			filled.GetStartDate().GetDay() != 5 || filled.GetFillTime() == nil {
			t.Fatalf("filled = %v", filled)
		}
		_, err = e.requester.CancelPosition(ctx, &talentv1.CancelPositionRequest{Name: p.GetName(), Reason: "late"})
		errs.Assert(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")

		// One position per person.
		other := e.pending(t, "sre-3", sre("teams/platform", 100_000, day(2026, 11, 1)))
		if _, err := e.approver.ApprovePosition(ctx, &talentv1.ApprovePositionRequest{Name: other.GetName()}); err != nil {
			t.Fatalf("approve sre-3: %v", err)
		}
		_, err = e.requester.FillPosition(ctx, &talentv1.FillPositionRequest{Name: other.GetName(), Person: "people/carla"})
		errs.Assert(t, err, codes.FailedPrecondition, "PERSON_FILLS_ANOTHER_POSITION")
		cancelled, err := e.requester.CancelPosition(ctx, &talentv1.CancelPositionRequest{Name: other.GetName(), Reason: "re-planned"})
		if err != nil || cancelled.GetState() != talentv1.Position_CANCELLED || cancelled.GetCancelReason() != "re-planned" {
			t.Fatalf("cancel = %v, %v", cancelled, err)
		}

		list, err := e.requester.ListPositions(ctx, &talentv1.ListPositionsRequest{Filter: `state = PENDING_APPROVAL AND team = "teams/platform"`})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range list.GetPositions() {
			got = append(got, p.GetName())
		}
		if fmt.Sprint(got) != "[positions/sre-2028 positions/sre-big]" {
			t.Fatalf("pending positions of platform = %v", got)
		}
	})
}
