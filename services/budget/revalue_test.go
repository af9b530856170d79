package budget_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
)

// TestRateCorrectionRevaluesOpenSpend is the exchange-rate attack of the security review: a
// rate made up to convert 1,000,000,000 USD into 1 EUR, a commitment and a hold recorded with
// it under BLOCK, then the rate corrected. The correction converts the open commitment and the
// held hold again, with their events, the line's alerts follow, and BLOCK refuses what no longer
// fits. A rate deleted and created again with another value revalues the same way.
func TestRateCorrectionRevaluesOpenSpend(t *testing.T) {
	t.Parallel()
	forEachHoldDatabase(t, func(t *testing.T, e *spendEnv, _ *clock.Fake) {
		ctx := context.Background()
		seedApprovedBudget(t, e, "infra", "block", "EUR", domain.PolicyBlock, fixtureLine{id: "l", planned: 100000})
		seedRate(t, e, "2026-07", "USD", "EUR", "0.000000001")
		line := "budgets/block/lines/l"

		c, err := e.client.RecordCommitment(ctx, &budgetv1.RecordCommitmentRequest{Parent: line, Commitment: &budgetv1.Commitment{
			Amount: cents(100_000_000_000, "USD"), ExpectedDate: day(2026, 7, 15), Source: budgetv1.Commitment_PURCHASE_ORDER}})
		if err != nil || minorOf(c.GetConvertedAmount()) != 100 {
			t.Fatalf("commit 1e9 USD at the made-up rate = %v, %v; want 1 EUR", c, err)
		}
		h := mustHold(t, e, line, &budgetv1.Hold{Amount: cents(100_000, "USD"), ServiceStartDate: day(2026, 7, 1),
			ServiceEndDate: day(2026, 7, 31), Source: budgetv1.Commitment_CONTRACT, SourceReference: "vendors/acme/contracts/c-1"})
		if minorOf(h.GetHeldAmount()) != 0 {
			t.Fatalf("held at the made-up rate = %v", h.GetHeldAmount())
		}
		// A commitment in the budget's own currency is no foreign-currency commitment: untouched.
		own, err := recordCommitment(e, line, 5000, day(2026, 7, 15))
		if err != nil {
			t.Fatal(err)
		}

		rate, err := e.client.GetExchangeRate(ctx, &budgetv1.GetExchangeRateRequest{Name: "exchangeRates/2026-07-usd-eur"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.UpdateExchangeRate(ctx, &budgetv1.UpdateExchangeRateRequest{
			ExchangeRate: &budgetv1.ExchangeRate{Name: rate.GetName(), Rate: "0.92", Etag: rate.GetEtag()},
			UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"rate"}}}); err != nil {
			t.Fatalf("correct the rate: %v", err)
		}

		got, err := e.client.GetCommitment(ctx, &budgetv1.GetCommitmentRequest{Name: c.GetName()})
		if err != nil {
			t.Fatal(err)
		}
		if minorOf(got.GetConvertedAmount()) != 92_000_000_000 || minorOf(got.GetRemainingAmount()) != 92_000_000_000 ||
			got.GetRate().GetRate() != "0.92" || got.GetState() != budgetv1.Commitment_OPEN || got.GetEtag() == c.GetEtag() {
			t.Errorf("revalued commitment = %v", got)
		}
		if gh := getHold(t, e, h.GetName()); minorOf(gh.GetHeldAmount()) != 92_000 || gh.GetRate().GetRate() != "0.92" {
			t.Errorf("revalued hold = %v", gh)
		}
		if o, err := e.client.GetCommitment(ctx, &budgetv1.GetCommitmentRequest{Name: own.GetName()}); err != nil || o.GetEtag() != own.GetEtag() {
			t.Errorf("the EUR commitment changed: %v, %v", o, err)
		}
		f := lineFigures(t, e, "block")
		if minorOf(f.GetCommitted()) != 92_000_005_000 || minorOf(f.GetHeld()) != 92_000 ||
			minorOf(f.GetAvailable()) != 100_000-92_000_005_000-92_000 {
			t.Errorf("line figures after the correction = %v", f)
		}

		revalued := outboxEvents(t, e, ".commitment.revalued", func() *budgetv1.CommitmentRevalued { return &budgetv1.CommitmentRevalued{} })
		if len(revalued) != 1 {
			t.Fatalf("commitment.revalued events = %d, want 1", len(revalued))
		}
		ev := revalued[0]
		if minorOf(ev.GetPreviousConvertedAmount()) != 100 || minorOf(ev.GetPreviousRemainingAmount()) != 100 ||
			ev.GetPreviousRate() != "0.000000001" || ev.GetExchangeRate() != rate.GetName() || !ev.GetLineOverAvailable() ||
			minorOf(ev.GetCommitment().GetConvertedAmount()) != 92_000_000_000 || ev.GetVersion() != 2 {
			t.Errorf("commitment.revalued = %v", ev)
		}
		holds := outboxEvents(t, e, ".hold.revalued", func() *budgetv1.HoldRevalued { return &budgetv1.HoldRevalued{} })
		if len(holds) != 1 || minorOf(holds[0].GetPreviousHeldAmount()) != 0 || minorOf(holds[0].GetHold().GetHeldAmount()) != 92_000 {
			t.Errorf("hold.revalued = %v", holds)
		}
		if n := outboxCount(t, e, ".line.overspent"); n != 1 {
			t.Errorf("line.overspent events = %d, want 1", n)
		}

		// BLOCK now sees the revalued figures.
		_, err = recordCommitment(e, line, 100, day(2026, 7, 20))
		wantStatus(t, err, codes.FailedPrecondition, "INSUFFICIENT_FUNDS")

		// Setting the same value again revalues nothing.
		rate, _ = e.client.GetExchangeRate(ctx, &budgetv1.GetExchangeRateRequest{Name: rate.GetName()})
		if _, err := e.client.UpdateExchangeRate(ctx, &budgetv1.UpdateExchangeRateRequest{
			ExchangeRate: &budgetv1.ExchangeRate{Name: rate.GetName(), Rate: "0.920", Etag: rate.GetEtag()}}); err != nil {
			t.Fatal(err)
		}
		if n := outboxCount(t, e, ".commitment.revalued"); n != 1 {
			t.Errorf("commitment.revalued after an unchanged rate = %d, want 1", n)
		}

		// Deleting the rate and creating it again with another value corrects it too: here down,
		// below what the commitment's actual consumed, which releases the rest of it.
		seedApprovedBudget(t, e, "apps", "warn", "EUR", domain.PolicyWarn, fixtureLine{id: "l", planned: 100000})
		seedRate(t, e, "2026-08", "USD", "EUR", "0.9")
		aug, err := e.client.RecordCommitment(ctx, &budgetv1.RecordCommitmentRequest{Parent: "budgets/warn/lines/l", Commitment: &budgetv1.Commitment{
			Amount: cents(10_000, "USD"), ExpectedDate: day(2026, 8, 10), Source: budgetv1.Commitment_PURCHASE_ORDER}})
		if err != nil || minorOf(aug.GetConvertedAmount()) != 9_000 {
			t.Fatalf("commit 100 USD = %v, %v", aug, err)
		}
		mustActual(t, e, "budgets/warn/lines/l", 6_000, "EUR", day(2026, 8, 12), "", aug.GetName())
		r8, err := e.client.GetExchangeRate(ctx, &budgetv1.GetExchangeRateRequest{Name: "exchangeRates/2026-08-usd-eur"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.DeleteExchangeRate(ctx, &budgetv1.DeleteExchangeRateRequest{Name: r8.GetName(), Etag: r8.GetEtag()}); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.client.GetCommitment(ctx, &budgetv1.GetCommitmentRequest{Name: aug.GetName()}); minorOf(got.GetRemainingAmount()) != 3_000 {
			t.Errorf("a deleted rate changed the commitment: %v", got)
		}
		if _, err := e.client.CreateExchangeRate(ctx, &budgetv1.CreateExchangeRateRequest{ConfirmRateChange: true, ExchangeRate: &budgetv1.ExchangeRate{
			Month: "2026-08", SourceCurrencyCode: "USD", TargetCurrencyCode: "EUR", Rate: "0.5"}}); err != nil {
			t.Fatal(err)
		}
		got, err = e.client.GetCommitment(ctx, &budgetv1.GetCommitmentRequest{Name: aug.GetName()})
		if err != nil || minorOf(got.GetConvertedAmount()) != 5_000 || minorOf(got.GetRemainingAmount()) != 0 ||
			got.GetState() != budgetv1.Commitment_RELEASED {
			t.Errorf("commitment after the rate was created again at 0.5 = %v, %v", got, err)
		}
		if f := lineFigures(t, e, "warn"); minorOf(f.GetCommitted()) != 0 || minorOf(f.GetActual()) != 6_000 {
			t.Errorf("warn line figures = %v", f)
		}
	})
}
