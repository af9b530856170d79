package budget_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc/codes"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	kitmoney "github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// TestAmountsAreBoundedAndFiguresChecked is issue 20's attack: two actuals of
// 92,233,720,368,547,758 EUR made the summary and the roll-up show −0.16 EUR. An amount beyond
// the documented bound is refused at the API with a field violation; figures of recorded amounts
// that do not fit — summed in Go or by the database — are FIGURE_OUT_OF_RANGE, on both engines.
func TestAmountsAreBoundedAndFiguresChecked(t *testing.T) {
	t.Parallel()
	forEachSpendDatabase(t, func(t *testing.T, e *spendEnv) {
		ctx := context.Background()
		seedApprovedBudget(t, e, "infra", "big", "EUR", domain.PolicyWarn,
			fixtureLine{id: "a", planned: 100000}, fixtureLine{id: "b", planned: 100000})
		record := func(line string, units int64) error {
			_, err := e.client.RecordActual(ctx, &budgetv1.RecordActualRequest{Parent: "budgets/big/lines/" + line,
				Actual: &budgetv1.Actual{Amount: &money.Money{CurrencyCode: "EUR", Units: units}, BookingDate: day(2026, 9, 1),
					Source: budgetv1.Actual_VENDOR_INVOICE}})
			return err
		}

		// The bound, at the API: the attack's amount and one unit past the bound are refused,
		// naming the field; the bound itself is an amount.
		for _, units := range []int64{92_233_720_368_547_758, kitmoney.MaxUnits + 1, -kitmoney.MaxUnits - 1} {
			wantStatus(t, record("a", units), codes.InvalidArgument, "AMOUNT_OUT_OF_RANGE", "actual.amount:AMOUNT_OUT_OF_RANGE")
		}
		_, err := e.client.CheckFunds(ctx, &budgetv1.CheckFundsRequest{Line: "budgets/big/lines/a",
			Amount: &money.Money{CurrencyCode: "EUR", Units: kitmoney.MaxUnits + 1}})
		wantStatus(t, err, codes.InvalidArgument, "AMOUNT_OUT_OF_RANGE", "amount:AMOUNT_OUT_OF_RANGE")
		if err := record("a", kitmoney.MaxUnits); err != nil {
			t.Fatalf("an actual of the bound, %d EUR: %v", int64(kitmoney.MaxUnits), err)
		}
		if err := record("b", 1); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.GetBudgetSummary(ctx, &budgetv1.GetBudgetSummaryRequest{Name: "budgets/big/summary"}); err != nil {
			t.Fatalf("summary within range: %v", err)
		}

		// Amounts recorded before the bound existed: the attack's two actuals, one per line.
		const attack = 9_223_372_036_854_775_800 // 92,233,720,368,547,758.00 EUR in cents
		if _, err := e.db.ExecContext(ctx, `UPDATE period_balances SET actual_minor = $1`, attack); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.GetBudgetSummary(ctx, &budgetv1.GetBudgetSummaryRequest{Name: "budgets/big/summary"})
		wantStatus(t, err, codes.FailedPrecondition, "FIGURE_OUT_OF_RANGE")
		_, err = e.client.GetCostCenterRollup(ctx, &budgetv1.GetCostCenterRollupRequest{Name: "costCenters/infra/rollups/2027"})
		wantStatus(t, err, codes.FailedPrecondition, "FIGURE_OUT_OF_RANGE")
		_, err = e.client.CheckFunds(ctx, &budgetv1.CheckFundsRequest{Line: "budgets/big/lines/a",
			Amount: &money.Money{CurrencyCode: "EUR", Units: 1}})
		if err == nil {
			// One line alone fits; its available amount and forecast may not.
			t.Log("CheckFunds of line a answered within range")
		} else {
			wantStatus(t, err, codes.FailedPrecondition, "FIGURE_OUT_OF_RANGE")
		}
		// A write on top is refused too, and stores nothing.
		wantStatus(t, record("b", 1), codes.FailedPrecondition, "FIGURE_OUT_OF_RANGE")

		// The database's own sums: two actuals of the attack on one line and period. PostgreSQL
		// sums bigint as numeric and cannot cast the sum back; SQLite's SUM overflows.
		b, err := e.store.GetBudget(ctx, "big")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.db.ExecContext(ctx, `UPDATE actuals SET converted_minor = $1, line_id = 'a', period = 6`, attack); err != nil {
			t.Fatal(err)
		}
		if _, err := e.store.Spend(ctx, b.ChainID); !errors.Is(err, kitmoney.ErrFigureOutOfRange) {
			t.Errorf("the database's SUM of two actuals of %d cents: %v; want FIGURE_OUT_OF_RANGE", int64(attack), err)
		}
	})
}
