package budget_test

import (
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"os"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc/codes"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// cents is minor units of a two-decimal currency as google.type.Money.
func cents(minor int64, cur string) *money.Money {
	return &money.Money{CurrencyCode: cur, Units: minor / 100, Nanos: int32(minor%100) * 10_000_000}
}

// minorOf is google.type.Money of a two-decimal currency in minor units.
func minorOf(m *money.Money) int64 { return m.GetUnits()*100 + int64(m.GetNanos())/10_000_000 }

func day(y, m, d int32) *date.Date { return &date.Date{Year: y, Month: m, Day: d} }

func recordActual(e *spendEnv, line string, minor int64, cur string, on *date.Date, corrects, commitment string) (*budgetv1.Actual, error) {
	return e.client.RecordActual(context.Background(), &budgetv1.RecordActualRequest{Parent: line, Actual: &budgetv1.Actual{
		Amount: cents(minor, cur), BookingDate: on, Source: budgetv1.Actual_VENDOR_INVOICE, Corrects: corrects, Commitment: commitment,
	}})
}

func mustActual(t *testing.T, e *spendEnv, line string, minor int64, cur string, on *date.Date, corrects, commitment string) *budgetv1.Actual {
	t.Helper()
	a, err := recordActual(e, line, minor, cur, on, corrects, commitment)
	if err != nil {
		t.Fatalf("record %d %s on %s: %v", minor, cur, line, err)
	}
	return a
}

func summary(t *testing.T, e *spendEnv, budgetID string) *budgetv1.BudgetSummary {
	t.Helper()
	s, err := e.client.GetBudgetSummary(context.Background(), &budgetv1.GetBudgetSummaryRequest{Name: "budgets/" + budgetID + "/summary"})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// checkRecomputed asserts that the running period spend equals the spend recomputed from records.
func checkRecomputed(t *testing.T, e *spendEnv, chainID string) {
	t.Helper()
	ctx := context.Background()
	kept, err := e.store.PeriodSpend(ctx, chainID)
	if err != nil {
		t.Fatal(err)
	}
	recomputed, err := e.store.Spend(ctx, chainID)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(kept) != fmt.Sprint(recomputed) {
		t.Errorf("period spend %v, recomputed from records %v", kept, recomputed)
	}
}

func TestConcurrentActualsCrossOnce(t *testing.T) {
	t.Parallel()
	forEachSpendDatabase(t, func(t *testing.T, e *spendEnv) {
		seedApprovedBudget(t, e, "infra", "infra-fy2027", "EUR", domain.PolicyWarn, fixtureLine{id: "cloud", planned: 100000})
		const n = 200
		testkit.Concurrently(t, n, func(i int) error {
			_, err := recordActual(e, "budgets/infra-fy2027/lines/cloud", 1000, "EUR", day(2026, int32(4+i%6), 10), "", "")
			return err
		})
		s := summary(t, e, "infra-fy2027")
		if got := minorOf(s.GetTotal().GetActual()); got != n*1000 {
			t.Errorf("summary actual = %d, want %d", got, n*1000)
		}
		if got := minorOf(s.GetLines()[0].GetFigures().GetActual()); got != n*1000 {
			t.Errorf("line actual = %d, want %d", got, n*1000)
		}
		line, err := e.store.LineBalances(context.Background(), "infra-fy2027")
		if err != nil || len(line) != 1 || line[0].ActualMinor != n*1000 {
			t.Errorf("balances = %v, %v", line, err)
		}
		checkRecomputed(t, e, "infra-fy2027")
		if got := outboxCount(t, e, ".line.threshold_crossed"); got != 2 {
			t.Errorf("threshold_crossed events = %d, want 2 (80 %% and 100 %%)", got)
		}
		if got := outboxCount(t, e, ".line.overspent"); got != 1 {
			t.Errorf("overspent events = %d, want 1", got)
		}
		if got := outboxCount(t, e, ".actual.recorded"); got != n {
			t.Errorf("actual.recorded events = %d, want %d", got, n)
		}
	})
}

func TestManyActualsSumToTheCent(t *testing.T) {
	t.Parallel()
	// 10,000 actuals take minutes under the race detector on SQLite (each one evaluates the
	// budget's forecast); QUARTERDECK_TEST_LONG=1 runs them all, the default run a tenth.
	n := 1_000
	if os.Getenv("QUARTERDECK_TEST_LONG") != "" {
		n = 10_000
	}
	if testing.Short() {
		t.Skip("skipped with -short: records 1,000 actuals (10,000 with QUARTERDECK_TEST_LONG=1); make test runs it, and make proofs runs the 10,000 in CI")
	}
	forEachSpendDatabase(t, func(t *testing.T, e *spendEnv) {
		seedApprovedBudget(t, e, "ops", "ops-fy2027", "EUR", domain.PolicyWarn, fixtureLine{id: "run", planned: 1_000_000_00})
		const workers = 16
		amounts := make([]int64, n)
		want := new(big.Int)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range amounts {
			amounts[i] = 1 + r.Int64N(100_000)
			want.Add(want, big.NewInt(amounts[i]))
		}
		jobs := make(chan int)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range jobs {
					y, m := int32(2026), int32(4+i%12) // every month of FY2027
					if m > 12 {
						y, m = 2027, m-12
					}
					if _, err := recordActual(e, "budgets/ops-fy2027/lines/run", amounts[i], "EUR", day(y, m, 1+int32(i%28)), "", ""); err != nil {
						mu.Lock()
						firstErr = err
						mu.Unlock()
					}
				}
			}()
		}
		for i := range n {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		if firstErr != nil {
			t.Fatal(firstErr)
		}
		s := summary(t, e, "ops-fy2027")
		if got := big.NewInt(minorOf(s.GetTotal().GetActual())); got.Cmp(want) != 0 {
			t.Errorf("summary actual = %v, want %v", got, want)
		}
		var perPeriod int64
		for _, p := range s.GetPeriods() {
			perPeriod += minorOf(p.GetActual())
		}
		if big.NewInt(perPeriod).Cmp(want) != 0 {
			t.Errorf("sum of periods = %d, want %v", perPeriod, want)
		}
		checkRecomputed(t, e, "ops-fy2027")
	})
}

func TestCrossingsExactlyOnce(t *testing.T) {
	t.Parallel()
	forEachSpendDatabase(t, func(t *testing.T, e *spendEnv) {
		seedApprovedBudget(t, e, "infra", "b", "EUR", domain.PolicyWarn, fixtureLine{id: "l", planned: 100000})
		line := "budgets/b/lines/l"
		a := mustActual(t, e, line, 85000, "EUR", day(2026, 5, 1), "", "")
		if got := outboxCount(t, e, ".line.threshold_crossed"); got != 1 {
			t.Fatalf("after 85 %%: %d crossings, want 1", got)
		}
		mustActual(t, e, line, -15000, "EUR", day(2026, 5, 2), a.GetName(), "")
		if got := outboxCount(t, e, ".line.threshold_crossed"); got != 1 {
			t.Fatalf("after the correction to 70 %%: %d crossings, want 1", got)
		}
		mustActual(t, e, line, 20000, "EUR", day(2026, 5, 3), "", "")
		if got := outboxCount(t, e, ".line.threshold_crossed"); got != 2 {
			t.Fatalf("after 90 %%: %d crossings, want 2", got)
		}
		if got := minorOf(summary(t, e, "b").GetTotal().GetActual()); got != 90000 {
			t.Errorf("actual = %d, want 90000", got)
		}
		checkRecomputed(t, e, "b")
	})
}

func TestActualRules(t *testing.T) {
	t.Parallel()
	forEachSpendDatabase(t, func(t *testing.T, e *spendEnv) {
		seedApprovedBudget(t, e, "infra", "b", "EUR", domain.PolicyWarn, fixtureLine{id: "l", planned: 100000}, fixtureLine{id: "m", planned: 100000})
		line := "budgets/b/lines/l"
		seedRate(t, e, "2026-05", "USD", "EUR", "0.92")

		usd := mustActual(t, e, line, 1100000, "USD", day(2026, 5, 31), "", "")
		if minorOf(usd.GetConvertedAmount()) != 1012000 || usd.GetRate().GetRate() != "0.92" ||
			usd.GetRate().GetExchangeRate() != "exchangeRates/2026-05-usd-eur" || usd.GetPeriod() != "FY2027-P02" {
			t.Errorf("USD actual = %v", usd)
		}
		_, err := recordActual(e, line, 100, "USD", day(2026, 6, 1), "", "")
		wantStatus(t, err, codes.FailedPrecondition, "EXCHANGE_RATE_MISSING")
		info, _ := rpc.Details(err)
		if md := info.GetMetadata(); md["source"] != "USD" || md["target"] != "EUR" || md["month"] != "2026-06" {
			t.Errorf("metadata = %v", md)
		}
		_, err = recordActual(e, line, 100, "EUR", day(2027, 4, 1), "", "")
		wantStatus(t, err, codes.FailedPrecondition, "DATE_OUTSIDE_FISCAL_YEAR")

		// Corrections: negative only with corrects, in the original's currency and rate, never
		// beyond the original; a full reversal nets to zero.
		_, err = recordActual(e, line, -100, "EUR", day(2026, 6, 1), "", "")
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "actual.corrects:CORRECTS_REQUIRED")
		_, err = recordActual(e, line, 100, "USD", day(2026, 6, 1), usd.GetName(), "")
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "actual.amount:CORRECTION_NOT_NEGATIVE")
		_, err = recordActual(e, "budgets/b/lines/m", -100, "USD", day(2026, 6, 1), usd.GetName(), "")
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "actual.corrects:CORRECTION_LINE_MISMATCH")
		part := mustActual(t, e, line, -333, "USD", day(2026, 6, 1), usd.GetName(), "")
		if minorOf(part.GetConvertedAmount()) != -306 || part.GetRate().GetRate() != "0.92" { // 3.33 × 0.92 = 3.0636
			t.Errorf("partial correction = %v", part)
		}
		_, err = recordActual(e, line, -1100000, "USD", day(2026, 6, 1), usd.GetName(), "")
		wantStatus(t, err, codes.FailedPrecondition, "CORRECTION_EXCEEDS_ORIGINAL")
		rest := mustActual(t, e, line, -(1100000 - 333), "USD", day(2026, 6, 1), usd.GetName(), "")
		if minorOf(rest.GetConvertedAmount()) != -(1012000 - 306) {
			t.Errorf("completing correction = %v", rest.GetConvertedAmount())
		}
		if got := minorOf(summary(t, e, "b").GetTotal().GetActual()); got != 0 {
			t.Errorf("actual after full reversal = %d", got)
		}

		got, err := e.client.GetActual(context.Background(), &budgetv1.GetActualRequest{Name: usd.GetName()})
		if err != nil || got.GetName() != usd.GetName() || minorOf(got.GetConvertedAmount()) != 1012000 {
			t.Errorf("get = %v, %v", got, err)
		}
		all, err := e.client.ListActuals(context.Background(), &budgetv1.ListActualsRequest{Parent: "budgets/-/lines/-"})
		if err != nil || len(all.GetActuals()) != 3 {
			t.Errorf("list across budgets = %d actuals, %v; want 3", len(all.GetActuals()), err)
		}

		// Spend only on the revision in force.
		closeBudget(t, e, "b")
		_, err = recordActual(e, line, 100, "EUR", day(2026, 6, 1), "", "")
		wantStatus(t, err, codes.FailedPrecondition, "BUDGET_CLOSED")
		seedDraftBudget(t, e, "apps", "d", "EUR", domain.PolicyWarn, fixtureLine{id: "l", planned: 100000})
		_, err = recordActual(e, "budgets/d/lines/l", 100, "EUR", day(2026, 6, 1), "", "")
		wantStatus(t, err, codes.FailedPrecondition, "BUDGET_NOT_APPROVED")
		_, err = e.client.RecordCommitment(context.Background(), &budgetv1.RecordCommitmentRequest{Parent: "budgets/d/lines/l", Commitment: &budgetv1.Commitment{
			Amount: cents(100, "EUR"), ExpectedDate: day(2026, 7, 1), Source: budgetv1.Commitment_CONTRACT}})
		wantStatus(t, err, codes.FailedPrecondition, "BUDGET_NOT_APPROVED")
	})
}

func recordCommitment(e *spendEnv, line string, minor int64, on *date.Date) (*budgetv1.Commitment, error) {
	return e.client.RecordCommitment(context.Background(), &budgetv1.RecordCommitmentRequest{Parent: line, Commitment: &budgetv1.Commitment{
		Amount: cents(minor, "EUR"), ExpectedDate: on, Source: budgetv1.Commitment_PURCHASE_ORDER, SourceReference: "po-4711"}})
}

func TestCommitments(t *testing.T) {
	t.Parallel()
	forEachSpendDatabase(t, func(t *testing.T, e *spendEnv) {
		ctx := context.Background()
		seedApprovedBudget(t, e, "strict", "block", "EUR", domain.PolicyBlock, fixtureLine{id: "l", planned: 100000})
		seedApprovedBudget(t, e, "loose", "warn", "EUR", domain.PolicyWarn, fixtureLine{id: "l", planned: 100000})

		_, err := recordCommitment(e, "budgets/block/lines/l", 100001, day(2026, 7, 15))
		wantStatus(t, err, codes.FailedPrecondition, "INSUFFICIENT_FUNDS")
		info, _ := rpc.Details(err)
		if md := info.GetMetadata(); md["available"] == "" || md["requested"] == "" {
			t.Errorf("metadata = %v", md)
		}
		if _, err := recordCommitment(e, "budgets/warn/lines/l", 120000, day(2026, 7, 15)); err != nil {
			t.Fatal(err)
		}
		if got := outboxCount(t, e, ".line.overspent"); got != 1 {
			t.Errorf("overspent events = %d, want 1", got)
		}

		// An actual naming a commitment releases what it consumes; :release releases the rest.
		c, err := recordCommitment(e, "budgets/block/lines/l", 50000, day(2026, 7, 15))
		if err != nil {
			t.Fatal(err)
		}
		a := mustActual(t, e, "budgets/block/lines/l", 30000, "EUR", day(2026, 7, 10), "", c.GetName())
		if minorOf(a.GetReleasedCommitmentAmount()) != 30000 {
			t.Errorf("released by the actual = %v", a.GetReleasedCommitmentAmount())
		}
		got, err := e.client.GetCommitment(ctx, &budgetv1.GetCommitmentRequest{Name: c.GetName()})
		if err != nil || minorOf(got.GetRemainingAmount()) != 20000 || got.GetState() != budgetv1.Commitment_OPEN {
			t.Fatalf("after the actual = %v, %v", got, err)
		}
		_, err = e.client.ReleaseCommitment(ctx, &budgetv1.ReleaseCommitmentRequest{Name: c.GetName(), Amount: cents(20001, "EUR")})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "amount:RELEASE_EXCEEDS_REMAINING")
		rel, err := e.client.ReleaseCommitment(ctx, &budgetv1.ReleaseCommitmentRequest{Name: c.GetName(), Etag: got.GetEtag()})
		if err != nil || rel.GetState() != budgetv1.Commitment_RELEASED || minorOf(rel.GetRemainingAmount()) != 0 {
			t.Fatalf("release = %v, %v", rel, err)
		}
		s := summary(t, e, "block")
		if minorOf(s.GetTotal().GetCommitted()) != 0 || minorOf(s.GetTotal().GetActual()) != 30000 {
			t.Errorf("figures = committed %v actual %v", s.GetTotal().GetCommitted(), s.GetTotal().GetActual())
		}
		if got := outboxCount(t, e, ".commitment.released"); got != 2 {
			t.Errorf("commitment.released events = %d, want 2", got)
		}
		list, err := e.client.ListCommitments(ctx, &budgetv1.ListCommitmentsRequest{Parent: "budgets/-/lines/-", Filter: "state = OPEN"})
		if err != nil || len(list.GetCommitments()) != 1 {
			t.Errorf("open commitments = %v, %v", list, err)
		}
		checkRecomputed(t, e, "block")
		checkRecomputed(t, e, "warn")
	})
}

func TestCheckFunds(t *testing.T) {
	t.Parallel()
	forEachSpendDatabase(t, func(t *testing.T, e *spendEnv) {
		ctx := context.Background()
		seedApprovedBudget(t, e, "strict", "block", "EUR", domain.PolicyBlock, fixtureLine{id: "l", planned: 120000})
		seedApprovedBudget(t, e, "loose", "warn", "EUR", domain.PolicyWarn, fixtureLine{id: "l", planned: 120000})
		mustActual(t, e, "budgets/block/lines/l", 25000, "EUR", day(2026, 4, 10), "", "")
		check := func(line string, minor int64, cur string) *budgetv1.CheckFundsResponse {
			t.Helper()
			r, err := e.client.CheckFunds(ctx, &budgetv1.CheckFundsRequest{Line: line, Amount: cents(minor, cur), Date: day(2026, 5, 20)})
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		r := check("budgets/block/lines/l", 10000, "EUR")
		if r.GetDecision() != budgetv1.CheckFundsResponse_ALLOW || r.GetReason() != "WITHIN_AVAILABLE" ||
			minorOf(r.GetAvailable()) != 95000 || minorOf(r.GetAvailableAfter()) != 85000 ||
			minorOf(r.GetPeriodAvailable()) != -5000 || r.GetPeriod().GetLabel() != "FY2027-P02" {
			t.Errorf("allow = %v", r) // P01+P02 planned 20,000.00 − 25,000.00 actual
		}
		if r := check("budgets/block/lines/l", 95001, "EUR"); r.GetDecision() != budgetv1.CheckFundsResponse_DENY || r.GetReason() != "EXCEEDS_AVAILABLE" {
			t.Errorf("block beyond available = %v", r)
		}
		if r := check("budgets/warn/lines/l", 120001, "EUR"); r.GetDecision() != budgetv1.CheckFundsResponse_WARN || r.GetReason() != "EXCEEDS_AVAILABLE" {
			t.Errorf("warn beyond available = %v", r)
		}
		_, err := e.client.CheckFunds(ctx, &budgetv1.CheckFundsRequest{Line: "budgets/warn/lines/l", Amount: cents(100, "USD"), Date: day(2026, 5, 20)})
		wantStatus(t, err, codes.FailedPrecondition, "EXCHANGE_RATE_MISSING")
		closeBudget(t, e, "warn")
		if r := check("budgets/warn/lines/l", 1, "EUR"); r.GetDecision() != budgetv1.CheckFundsResponse_DENY || r.GetReason() != "BUDGET_CLOSED" {
			t.Errorf("closed = %v", r)
		}
		if got := outboxCount(t, e, ".actual.recorded"); got != 1 {
			t.Errorf("CheckFunds wrote events: %d actual.recorded", got)
		}
	})
}
