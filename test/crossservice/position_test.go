package crossservice_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/talent"
)

// labourStack is budget and talent side by side, as in production: each on a database of its
// own, both on one NATS server, talent calling budget at its address and budget consuming
// talent's position events.
type labourStack struct {
	budgetDB testenv.Database
	nats     testenv.NATS
	clock    *clock.Fake

	budget       *testkit.Service
	talent       *testkit.Service
	b, bApprover budgetv1.BudgetServiceClient
	t, tApprover talentv1.TalentServiceClient
}

// startLabour starts budget (FY2027 from April) on db and talent on another database of db's
// engine, and seeds the cost centre eng with its approved FY2027 USD budget eng-2027 (WARN) and
// its labour line (INTERNAL_LABOUR, 500,000.00), the team platform charged to eng, and carla, who
// starts on 2026-11-02.
func startLabour(t *testing.T, db testenv.Database) *labourStack {
	t.Helper()
	s := &labourStack{budgetDB: db, nats: testenv.NATSServer(t), clock: clock.NewFake(today)}
	s.startBudget(t)
	s.talent = testkit.Start(t, testenv.Another(t, db), talent.Configured(talent.DefaultSettings()), testkit.WithNATS(s.nats),
		testkit.WithHostOptions(func(o *host.Options) {
			o.Clock = s.clock
			o.Peers = map[string]string{"budget": s.budget.Addr}
		}))
	s.t = talentv1.NewTalentServiceClient(s.talent.Conn)
	s.tApprover = talentv1.NewTalentServiceClient(s.talent.ConnAs(t, "users/approver"))

	ctx := context.Background()
	if _, err := s.b.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{CostCenterId: "eng",
		CostCenter: &budgetv1.CostCenter{DisplayName: "Engineering", Code: "ENG", Owner: "cto@example.com"}}); err != nil {
		t.Fatal(err)
	}
	b, err := s.b.CreateBudget(ctx, &budgetv1.CreateBudgetRequest{BudgetId: "eng-2027", Budget: &budgetv1.Budget{
		CostCenter: "costCenters/eng", FiscalYear: 2027, CurrencyCode: "USD", DisplayName: "Engineering FY2027",
		Owner: "cto@example.com", OverspendPolicy: budgetv1.Budget_WARN}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.CreateBudgetLine(ctx, &budgetv1.CreateBudgetLineRequest{Parent: b.GetName(), BudgetLineId: "labour",
		BudgetLine: &budgetv1.BudgetLine{DisplayName: "Salaries", Category: budgetv1.BudgetLine_INTERNAL_LABOUR,
			ExpenseType: budgetv1.BudgetLine_OPEX, PlannedAmount: usd(50_000_000)}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: b.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.bApprover.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.t.CreateTeam(ctx, &talentv1.CreateTeamRequest{TeamId: "platform",
		Team: &talentv1.Team{DisplayName: "Platform", CostCenter: "costCenters/eng"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.t.CreatePerson(ctx, &talentv1.CreatePersonRequest{PersonId: "carla", Person: &talentv1.Person{
		DisplayName: "Carla", Team: "teams/platform", EmploymentType: talentv1.Person_EMPLOYEE,
		StartDate: day(2026, 11, 2)}}); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *labourStack) startBudget(t *testing.T) {
	t.Helper()
	s.budget = testkit.Start(t, s.budgetDB, budget.Configured(budget.Settings{FiscalYearStartMonth: 4}), testkit.WithNATS(s.nats),
		testkit.WithHostOptions(func(o *host.Options) {
			o.Clock = s.clock
			o.Consumers.BackoffInitial, o.Consumers.BackoffMax = 50*time.Millisecond, 500*time.Millisecond
		}))
	s.b = budgetv1.NewBudgetServiceClient(s.budget.Conn)
	s.bApprover = budgetv1.NewBudgetServiceClient(s.budget.ConnAs(t, "users/approver"))
}

// approved creates, submits and approves the GROWTH position id of the platform team, costing
// annual minor units of USD a year from start.
func (s *labourStack) approved(t *testing.T, id string, annual int64, start [3]int32) *talentv1.Position {
	t.Helper()
	ctx := context.Background()
	p, err := s.t.CreatePosition(ctx, &talentv1.CreatePositionRequest{PositionId: id, Position: &talentv1.Position{
		Team: "teams/platform", Title: "Engineer " + id, BudgetedAnnualCost: usd(annual),
		TargetStartDate: day(start[0], start[1], start[2]), Reason: talentv1.Position_GROWTH}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.t.SubmitPosition(ctx, &talentv1.SubmitPositionRequest{Name: p.GetName()}); err != nil {
		t.Fatal(err)
	}
	out, err := s.tApprover.ApprovePosition(ctx, &talentv1.ApprovePositionRequest{Name: p.GetName()})
	if err != nil {
		t.Fatalf("approve %s: %v", id, err)
	}
	return out
}

// labour is the labour line's committed and held figures.
func (s *labourStack) labour(t *testing.T) (committed, held int64) {
	t.Helper()
	sum, err := s.b.GetBudgetSummary(context.Background(), &budgetv1.GetBudgetSummaryRequest{Name: "budgets/eng-2027/summary"})
	if err != nil {
		t.Fatal(err)
	}
	f := sum.GetLines()[0].GetFigures()
	return minorOf(f.GetCommitted()), minorOf(f.GetHeld())
}

// waitLabour waits until the labour line has committed minor units and nothing held.
func (s *labourStack) waitLabour(t *testing.T, committed int64) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, func() error {
		if c, h := s.labour(t); c != committed || h != 0 {
			return fmt.Errorf("labour line: committed %d, held %d; want %d, 0", c, h, committed)
		}
		return nil
	})
}

// positionCommitments is every commitment of the labour line, by source reference.
func (s *labourStack) positionCommitments(t *testing.T) map[string][]*budgetv1.Commitment {
	t.Helper()
	r, err := s.b.ListCommitments(context.Background(), &budgetv1.ListCommitmentsRequest{Parent: "budgets/eng-2027/lines/labour",
		PageSize: 100, OrderBy: "expected_date"})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]*budgetv1.Commitment{}
	for _, c := range r.GetCommitments() {
		out[c.GetSourceReference()] = append(out[c.GetSourceReference()], c)
	}
	return out
}

// TestPositionLabourCommitments drives positions through talent's API and follows them in
// budget's: an approval becomes one labour commitment of the cost from the target start to the
// fiscal year's end, converted from the approval's hold; the fill moves it to the real start; a
// cancellation releases it; a replay of talent's stream into budget, through the inbox and with
// the inbox wiped, changes nothing.
func TestPositionLabourCommitments(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		s := startLabour(t, db)
		ctx := context.Background()

		// 120,000.00 a year from 2026-10-01: 182 of the 365 days of that year fall in FY2027.
		const fromTarget, fromFill = 5_983_562, 4_931_507 // from 2026-11-02: 150 of 365 days
		sre := s.approved(t, "sre", 12_000_000, [3]int32{2026, 10, 1})
		s.waitLabour(t, fromTarget)
		cs := s.positionCommitments(t)[sre.GetName()]
		if len(cs) != 1 || cs[0].GetHold() != sre.GetHold() || cs[0].GetSource() != budgetv1.Commitment_POSITION ||
			minorOf(cs[0].GetRemainingAmount()) != fromTarget {
			t.Fatalf("commitments of %s = %v; want one POSITION commitment of %d from %s", sre.GetName(), cs, fromTarget, sre.GetHold())
		}

		// Carla starts a month after the target: the commitment follows her start.
		if _, err := s.t.FillPosition(ctx, &talentv1.FillPositionRequest{Name: sre.GetName(), Person: "people/carla"}); err != nil {
			t.Fatalf("fill: %v", err)
		}
		s.waitLabour(t, fromFill)
		cs = s.positionCommitments(t)[sre.GetName()]
		if len(cs) != 2 || cs[0].GetState() != budgetv1.Commitment_RELEASED || cs[1].GetState() != budgetv1.Commitment_OPEN ||
			minorOf(cs[1].GetRemainingAmount()) != fromFill || cs[1].GetExpectedDate().GetMonth() != 11 {
			t.Fatalf("commitments of the filled %s = %v; want the approval's released and %d from November", sre.GetName(), cs, fromFill)
		}

		// A second position approved, then cancelled: its commitment is released.
		ops := s.approved(t, "ops", 6_000_000, [3]int32{2027, 1, 4})
		// 60,000.00 a year from 2027-01-04: 87 of 365 days in FY2027.
		const ops87 = 1_430_137
		s.waitLabour(t, fromFill+ops87)
		if _, err := s.t.CancelPosition(ctx, &talentv1.CancelPositionRequest{Name: ops.GetName(), Reason: "re-planned"}); err != nil {
			t.Fatalf("cancel: %v", err)
		}
		s.waitLabour(t, fromFill)
		if cs := s.positionCommitments(t)[ops.GetName()]; len(cs) != 1 || cs[0].GetState() != budgetv1.Commitment_RELEASED {
			t.Fatalf("commitments of the cancelled %s = %v", ops.GetName(), cs)
		}

		// Replays: budget stops, its durable of talent's stream is deleted, and budget starts
		// again, reading the stream from its start; once through the inbox, once with the inbox
		// and version marks wiped.
		const durable = "budget_talent-positions"
		bdb := s.budget.DB(t)
		before, outbox := s.positionCommitments(t), outboxCount(t, bdb)
		sent := countEvents(t, s, durable)
		for _, wipe := range []bool{false, true} {
			stopCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
			if err := s.budget.Stop(stopCtx); err != nil {
				t.Fatal(err)
			}
			if wipe {
				for _, table := range []string{"consumer_inbox", "consumer_versions"} {
					if _, err := bdb.ExecContext(stopCtx, `DELETE FROM `+table); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := s.talent.JetStream.DeleteConsumer(stopCtx, s.talent.Stream(), durable); err != nil {
				t.Fatal(err)
			}
			cancel()
			s.startBudget(t)
			testkit.Eventually(t, 60*time.Second, func() error {
				info, err := s.talent.JetStream.Consumer(ctx, s.talent.Stream(), durable)
				if err != nil {
					return err
				}
				ci, err := info.Info(ctx)
				if err != nil {
					return err
				}
				if ci.Delivered.Stream < sent || ci.NumAckPending > 0 || ci.NumPending > 0 {
					return fmt.Errorf("replay at stream sequence %d of %d, %d unacknowledged", ci.Delivered.Stream, sent, ci.NumAckPending)
				}
				return nil
			})
			after := s.positionCommitments(t)
			for ref, cs := range before {
				if !slices.EqualFunc(cs, after[ref], func(a, b *budgetv1.Commitment) bool { return proto.Equal(a, b) }) {
					t.Errorf("replay (inbox wiped: %v) changed the commitments of %s:\n%v\nto\n%v", wipe, ref, cs, after[ref])
				}
			}
			if n := outboxCount(t, bdb); n != outbox {
				t.Errorf("replay (inbox wiped: %v) published %d events", wipe, n-outbox)
			}
			if c, h := s.labour(t); c != fromFill || h != 0 {
				t.Errorf("replay (inbox wiped: %v): labour line committed %d, held %d", wipe, c, h)
			}
		}
	})
}

// outboxCount is the number of events a service wrote to its outbox.
func outboxCount(t *testing.T, db *sqldb.DB) int {
	t.Helper()
	return testkit.Column[int](t, db, `SELECT COUNT(*) FROM outbox`)[0]
}

// countEvents is the last stream sequence budget's durable has delivered, once it has caught up.
func countEvents(t *testing.T, s *labourStack, durable string) uint64 {
	t.Helper()
	var seq uint64
	testkit.Eventually(t, 30*time.Second, func() error {
		info, err := s.talent.JetStream.Consumer(context.Background(), s.talent.Stream(), durable)
		if err != nil {
			return err
		}
		ci, err := info.Info(context.Background())
		if err != nil {
			return err
		}
		if ci.NumPending > 0 || ci.NumAckPending > 0 {
			return fmt.Errorf("%d events pending", ci.NumPending+uint64(ci.NumAckPending))
		}
		seq = ci.Delivered.Stream
		return nil
	})
	return seq
}
