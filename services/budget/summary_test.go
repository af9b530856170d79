package budget_test

import (
	"context"
	"testing"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/grpc/codes"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
)

func createTransfer(e *spendEnv, budgetID, from, to string, minor int64, eff *date.Date) (*budgetv1.Transfer, error) {
	return e.client.CreateTransfer(context.Background(), &budgetv1.CreateTransferRequest{Parent: "budgets/" + budgetID, Transfer: &budgetv1.Transfer{
		SourceLine: from, TargetLine: to, Amount: cents(minor, ""), EffectiveDate: eff, Reason: "rebalance"}})
}

func TestTransfers(t *testing.T) {
	t.Parallel()
	forEachSpendDatabase(t, func(t *testing.T, e *spendEnv) {
		ctx := context.Background()
		seedApprovedBudget(t, e, "infra", "b", "EUR", domain.PolicyBlock,
			fixtureLine{id: "a", planned: 120000}, fixtureLine{id: "c", planned: 120000})
		seedApprovedBudget(t, e, "apps", "o", "EUR", domain.PolicyWarn, fixtureLine{id: "x", planned: 120000})

		tr, err := createTransfer(e, "b", "budgets/b/lines/a", "budgets/b/lines/c", 30000, day(2026, 9, 1))
		if err != nil || tr.GetState() != budgetv1.Transfer_PENDING || tr.GetPeriod() != "FY2027-P06" {
			t.Fatalf("request = %v, %v", tr, err)
		}
		_, err = e.client.ApproveTransfer(ctx, &budgetv1.ApproveTransferRequest{Name: tr.GetName()})
		wantStatus(t, err, codes.PermissionDenied, "SELF_APPROVAL")
		ok, err := e.approver.ApproveTransfer(ctx, &budgetv1.ApproveTransferRequest{Name: tr.GetName(), Etag: tr.GetEtag()})
		if err != nil || ok.GetState() != budgetv1.Transfer_APPROVED || ok.GetDecider() != "apiKeys/approver" {
			t.Fatalf("approve = %v, %v", ok, err)
		}
		s := summary(t, e, "b")
		if minorOf(s.GetLines()[0].GetFigures().GetPlanned()) != 90000 || minorOf(s.GetLines()[1].GetFigures().GetPlanned()) != 150000 ||
			minorOf(s.GetTotal().GetPlanned()) != 240000 {
			t.Errorf("planned after transfer = %v / %v / %v", s.GetLines()[0].GetFigures().GetPlanned(), s.GetLines()[1].GetFigures().GetPlanned(), s.GetTotal().GetPlanned())
		}
		// a's P06 (10,000.00) went first, then P07 and P08; c's P06 took it all.
		if minorOf(s.GetLines()[0].GetPeriods()[5].GetPlanned()) != 0 || minorOf(s.GetLines()[0].GetPeriods()[8].GetPlanned()) != 10000 ||
			minorOf(s.GetLines()[1].GetPeriods()[5].GetPlanned()) != 40000 {
			t.Errorf("phasing after transfer: a P06 %v P09 %v, c P06 %v", s.GetLines()[0].GetPeriods()[5].GetPlanned(),
				s.GetLines()[0].GetPeriods()[8].GetPlanned(), s.GetLines()[1].GetPeriods()[5].GetPlanned())
		}
		if got := outboxCount(t, e, ".line.updated"); got != 2 {
			t.Errorf("line.updated events = %d, want 2", got)
		}

		// a has P10–P12 = 30,000.00 left from January on.
		_, err = createTransfer(e, "b", "budgets/b/lines/a", "budgets/b/lines/c", 30001, day(2027, 1, 1))
		wantStatus(t, err, codes.FailedPrecondition, "INSUFFICIENT_PLANNED")
		mustActual(t, e, "budgets/b/lines/a", 80000, "EUR", day(2026, 5, 1), "", "")
		_, err = createTransfer(e, "b", "budgets/b/lines/a", "budgets/b/lines/c", 10001, day(2026, 9, 1))
		wantStatus(t, err, codes.FailedPrecondition, "INSUFFICIENT_FUNDS")

		// Across budgets of the same year and currency; rejection needs a reason.
		x, err := createTransfer(e, "b", "budgets/b/lines/c", "budgets/o/lines/x", 5000, day(2026, 9, 1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.approver.ApproveTransfer(ctx, &budgetv1.ApproveTransferRequest{Name: x.GetName()}); err != nil {
			t.Fatal(err)
		}
		if got := minorOf(summary(t, e, "o").GetTotal().GetPlanned()); got != 125000 {
			t.Errorf("target budget planned = %d", got)
		}
		if got := minorOf(summary(t, e, "b").GetTotal().GetPlanned()); got != 235000 {
			t.Errorf("source budget planned = %d", got)
		}
		y, err := createTransfer(e, "b", "budgets/b/lines/c", "budgets/o/lines/x", 5000, nil)
		if err != nil {
			t.Fatal(err)
		}
		rej, err := e.approver.RejectTransfer(ctx, &budgetv1.RejectTransferRequest{Name: y.GetName(), Reason: "not now"})
		if err != nil || rej.GetState() != budgetv1.Transfer_REJECTED {
			t.Errorf("reject = %v, %v", rej, err)
		}
		list, err := e.client.ListTransfers(ctx, &budgetv1.ListTransfersRequest{Parent: "budgets/-", Filter: "state = APPROVED"})
		if err != nil || len(list.GetTransfers()) != 2 {
			t.Errorf("approved transfers = %v, %v", list, err)
		}
	})
}

func TestSummaryFigures(t *testing.T) {
	t.Parallel()
	forEachSpendDatabase(t, func(t *testing.T, e *spendEnv) {
		ctx := context.Background()
		// The worked example of docs/budget.md up to the transfer: 2026-09-15, six periods started.
		seedApprovedBudget(t, e, "infra", "infra-fy2027", "EUR", domain.PolicyWarn,
			fixtureLine{id: "cloud", planned: 12000000},
			fixtureLine{id: "servers", planned: 6000000, capex: true, phasing: []int64{0, 0, 3000000, 0, 0, 0, 0, 0, 3000000, 0, 0, 0}})
		seedRate(t, e, "2026-05", "USD", "EUR", "0.92")
		seedRate(t, e, "2026-07", "USD", "EUR", "0.9")
		seedRate(t, e, "2026-06", "USD", "EUR", "0.925")
		cloud, servers := "budgets/infra-fy2027/lines/cloud", "budgets/infra-fy2027/lines/servers"
		mustActual(t, e, cloud, 950000, "EUR", day(2026, 4, 30), "", "")
		mustActual(t, e, cloud, 1100000, "USD", day(2026, 5, 31), "", "")
		mustActual(t, e, cloud, 1000000, "EUR", day(2026, 6, 30), "", "")
		// 0.50 USD × 0.925 = 0.4625 EUR → 0.46 (below the half: down).
		half := mustActual(t, e, cloud, 50, "USD", day(2026, 6, 1), "", "")
		if minorOf(half.GetConvertedAmount()) != 46 {
			t.Errorf("0.50 USD × 0.925 = %v, want 0.46", half.GetConvertedAmount())
		}
		c, err := recordCommitment(e, servers, 4500000, day(2026, 7, 15))
		if err != nil {
			t.Fatal(err)
		}
		mustActual(t, e, servers, 3100000, "USD", day(2026, 7, 10), "", c.GetName())

		s := summary(t, e, "infra-fy2027")
		wantFig := func(what string, f *budgetv1.Figures, planned, committed, actual, burn, forecast int64, bp int64) {
			t.Helper()
			if minorOf(f.GetPlanned()) != planned || minorOf(f.GetCommitted()) != committed || minorOf(f.GetActual()) != actual ||
				minorOf(f.GetBurnRate()) != burn || minorOf(f.GetForecast()) != forecast || f.GetConsumptionBasisPoints() != bp ||
				minorOf(f.GetAvailable()) != planned-committed-actual {
				t.Errorf("%s = %v", what, f)
			}
		}
		// cloud: actual 9,500 + 10,120 + 10,000 + 0.46 = 29,620.46; burn 29,620.46 / 6 = 4,936.743… → 4,936.74;
		// forecast 29,620.46 × 2 = 59,240.92.
		wantFig("cloud", s.GetLines()[0].GetFigures(), 12000000, 0, 2962046, 493674, 5924092, 2468)
		// servers: 31,000 USD × 0.9 = 27,900.00, releasing as much of the 45,000.00 commitment.
		wantFig("servers", s.GetLines()[1].GetFigures(), 6000000, 1710000, 2790000, 465000, 5580000+1710000, 7500)
		// Budget burn: 57,520.46 / 6 = 9,586.7433… → 9,586.74.
		wantFig("total", s.GetTotal(), 18000000, 1710000, 5752046, 958674, 11504092+1710000, 4145)
		if s.GetElapsedPeriods() != 6 || s.GetAsOf().GetMonth() != 9 || len(s.GetRatesUsed()) != 3 || len(s.GetPeriods()) != 12 {
			t.Errorf("summary = elapsed %d, as of %v, %d rates, %d periods", s.GetElapsedPeriods(), s.GetAsOf(), len(s.GetRatesUsed()), len(s.GetPeriods()))
		}
		if minorOf(s.GetCapex().GetActual()) != 2790000 || minorOf(s.GetOpex().GetActual()) != 2962046 {
			t.Errorf("capex %v opex %v", s.GetCapex().GetActual(), s.GetOpex().GetActual())
		}

		// The roll-up in the budget's own currency equals the summary; in USD it converts per period.
		r, err := e.client.GetCostCenterRollup(ctx, &budgetv1.GetCostCenterRollupRequest{Name: "costCenters/infra/rollups/2027"})
		if err != nil {
			t.Fatal(err)
		}
		wantFig("rollup", r.GetTotal(), 18000000, 1710000, 5752046, 958674, 11504092+1710000, 4145)
		wantFig("own", r.GetOwn(), 18000000, 1710000, 5752046, 958674, 11504092+1710000, 4145)
		_, err = e.client.GetCostCenterRollup(ctx, &budgetv1.GetCostCenterRollupRequest{Name: "costCenters/infra/rollups/2027", CurrencyCode: "USD"})
		wantStatus(t, err, codes.FailedPrecondition, "EXCHANGE_RATE_MISSING")
	})
}
