package budget_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// replay calls call twice with the same request and wants the same answer both times.
func replay[M proto.Message](t *testing.T, what string, call func() (M, error)) M {
	t.Helper()
	first, err := call()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	again, err := call()
	if err != nil {
		t.Fatalf("%s again: %v", what, err)
	}
	if !proto.Equal(first, again) {
		t.Errorf("%s replayed:\n got  %v\n want %v", what, again, first)
	}
	return first
}

// onePerPage follows the pages of a list asked for one item a page and returns the names listed,
// failing the test unless every page holds exactly one.
func onePerPage[M interface{ GetName() string }](t *testing.T, list func(token string) ([]M, string, error)) []string {
	t.Helper()
	items, _ := testkit.AllPages(t, func(token string) ([]M, string, error) {
		page, next, err := list(token)
		if err == nil && len(page) != 1 {
			t.Fatalf("page %q holds %d items, want 1", token, len(page))
		}
		return page, next, err
	})
	names := make([]string, len(items))
	for i, m := range items {
		names[i] = m.GetName()
	}
	return names
}

func TestRequestIDReplays(t *testing.T) {
	t.Parallel()
	forEachSpendDatabase(t, func(t *testing.T, e *spendEnv) {
		ctx := context.Background()
		seedApprovedBudget(t, e, "infra", "b", "EUR", domain.PolicyWarn,
			fixtureLine{id: "l", planned: 120000}, fixtureLine{id: "m", planned: 120000})
		line := "budgets/b/lines/l"

		a := replay(t, "record actual", func() (*budgetv1.Actual, error) {
			return e.client.RecordActual(ctx, &budgetv1.RecordActualRequest{Parent: line, RequestId: "6f1f0c52-8a43-4c56-9d8e-1b2f6a7c0001",
				Actual: &budgetv1.Actual{Amount: cents(1000, "EUR"), BookingDate: day(2026, 5, 1)}})
		})
		c := replay(t, "record commitment", func() (*budgetv1.Commitment, error) {
			return e.client.RecordCommitment(ctx, &budgetv1.RecordCommitmentRequest{Parent: line, RequestId: "6f1f0c52-8a43-4c56-9d8e-1b2f6a7c0002",
				Commitment: &budgetv1.Commitment{Amount: cents(5000, "EUR"), ExpectedDate: day(2026, 7, 1), Source: budgetv1.Commitment_CONTRACT}})
		})
		rel := replay(t, "release commitment", func() (*budgetv1.Commitment, error) {
			return e.client.ReleaseCommitment(ctx, &budgetv1.ReleaseCommitmentRequest{Name: c.GetName(), Amount: cents(2000, "EUR"),
				RequestId: "6f1f0c52-8a43-4c56-9d8e-1b2f6a7c0003"})
		})
		if minorOf(rel.GetRemainingAmount()) != 3000 {
			t.Errorf("remaining after one release replayed = %v, want 30.00", rel.GetRemainingAmount())
		}
		tr := replay(t, "create transfer", func() (*budgetv1.Transfer, error) {
			return e.client.CreateTransfer(ctx, &budgetv1.CreateTransferRequest{Parent: "budgets/b", RequestId: "6f1f0c52-8a43-4c56-9d8e-1b2f6a7c0004",
				Transfer: &budgetv1.Transfer{SourceLine: line, TargetLine: "budgets/b/lines/m", Amount: cents(10000, ""),
					EffectiveDate: day(2026, 9, 1), Reason: "rebalance"}})
		})
		ok := replay(t, "approve transfer", func() (*budgetv1.Transfer, error) {
			return e.approver.ApproveTransfer(ctx, &budgetv1.ApproveTransferRequest{Name: tr.GetName(), RequestId: "6f1f0c52-8a43-4c56-9d8e-1b2f6a7c0005"})
		})
		if ok.GetState() != budgetv1.Transfer_APPROVED {
			t.Errorf("approved = %v", ok)
		}

		// Each happened once: one record, one event, figures moved once.
		actuals, err := e.client.ListActuals(ctx, &budgetv1.ListActualsRequest{Parent: "budgets/-/lines/-"})
		if err != nil || len(actuals.GetActuals()) != 1 || actuals.GetActuals()[0].GetName() != a.GetName() {
			t.Errorf("actuals = %v, %v", actuals, err)
		}
		commitments, err := e.client.ListCommitments(ctx, &budgetv1.ListCommitmentsRequest{Parent: "budgets/-/lines/-"})
		if err != nil || len(commitments.GetCommitments()) != 1 {
			t.Errorf("commitments = %v, %v", commitments, err)
		}
		transfers, err := e.client.ListTransfers(ctx, &budgetv1.ListTransfersRequest{Parent: "budgets/-"})
		if err != nil || len(transfers.GetTransfers()) != 1 {
			t.Errorf("transfers = %v, %v", transfers, err)
		}
		for suffix, want := range map[string]int{".actual.recorded": 1, ".commitment.recorded": 1, ".commitment.released": 1,
			".transfer.requested": 1, ".transfer.approved": 1, ".line.updated": 2} {
			if got := outboxCount(t, e, suffix); got != want {
				t.Errorf("%s events = %d, want %d", suffix, got, want)
			}
		}
		s := summary(t, e, "b")
		if minorOf(s.GetTotal().GetActual()) != 1000 || minorOf(s.GetTotal().GetCommitted()) != 3000 ||
			minorOf(s.GetLines()[0].GetFigures().GetPlanned()) != 110000 || minorOf(s.GetLines()[1].GetFigures().GetPlanned()) != 130000 {
			t.Errorf("figures = actual %v committed %v planned l %v m %v", s.GetTotal().GetActual(), s.GetTotal().GetCommitted(),
				s.GetLines()[0].GetFigures().GetPlanned(), s.GetLines()[1].GetFigures().GetPlanned())
		}
		checkRecomputed(t, e, "b")
	})
}

func TestSpendListFilters(t *testing.T) {
	t.Parallel()
	forEachSpendDatabase(t, func(t *testing.T, e *spendEnv) {
		ctx := context.Background()
		seedApprovedBudget(t, e, "infra", "b", "EUR", domain.PolicyWarn, fixtureLine{id: "l", planned: 1000000}, fixtureLine{id: "m", planned: 1000000})
		seedApprovedBudget(t, e, "apps", "o", "EUR", domain.PolicyWarn, fixtureLine{id: "x", planned: 1000000})
		seedRate(t, e, "2026-05", "USD", "EUR", "0.92")
		record := func(line string, minor int64, cur string, on int32, src budgetv1.Actual_Source) *budgetv1.Actual {
			t.Helper()
			a, err := e.client.RecordActual(ctx, &budgetv1.RecordActualRequest{Parent: line, Actual: &budgetv1.Actual{
				Amount: cents(minor, cur), BookingDate: day(2026, 5, on), Source: src}})
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		want := []*budgetv1.Actual{
			record("budgets/b/lines/l", 100, "USD", 10, budgetv1.Actual_VENDOR_INVOICE),
			record("budgets/o/lines/x", 200, "USD", 20, budgetv1.Actual_VENDOR_INVOICE),
		}
		record("budgets/b/lines/m", 300, "EUR", 15, budgetv1.Actual_VENDOR_INVOICE) // another currency
		record("budgets/b/lines/l", 400, "USD", 15, budgetv1.Actual_PAYROLL)        // another source
		record("budgets/b/lines/l", 500, "USD", 2, budgetv1.Actual_VENDOR_INVOICE)  // too early

		filter := `booking_date >= "2026-05-05" AND source = VENDOR_INVOICE AND amount.currency_code = "USD"`
		got := onePerPage(t, func(token string) ([]*budgetv1.Actual, string, error) {
			resp, err := e.client.ListActuals(ctx, &budgetv1.ListActualsRequest{Parent: "budgets/-/lines/-", Filter: filter,
				OrderBy: "booking_date", PageSize: 1, PageToken: token})
			return resp.GetActuals(), resp.GetNextPageToken(), err
		})
		if len(got) != len(want) || got[0] != want[0].GetName() || got[1] != want[1].GetName() {
			t.Errorf("filtered actuals = %v, want %s and %s", got, want[0].GetName(), want[1].GetName())
		}

		// Commitments: OPEN only, one page at a time.
		var open []string
		for _, minor := range []int64{1000, 2000, 3000} {
			c, err := recordCommitment(e, "budgets/b/lines/l", minor, day(2026, 7, 1))
			if err != nil {
				t.Fatal(err)
			}
			if minor == 2000 {
				if _, err := e.client.ReleaseCommitment(ctx, &budgetv1.ReleaseCommitmentRequest{Name: c.GetName()}); err != nil {
					t.Fatal(err)
				}
				continue
			}
			open = append(open, c.GetName())
		}
		gotOpen := onePerPage(t, func(token string) ([]*budgetv1.Commitment, string, error) {
			resp, err := e.client.ListCommitments(ctx, &budgetv1.ListCommitmentsRequest{Parent: "budgets/-/lines/-", Filter: "state = OPEN",
				PageSize: 1, PageToken: token})
			return resp.GetCommitments(), resp.GetNextPageToken(), err
		})
		if len(gotOpen) != 2 || !slices.Contains(gotOpen, open[0]) || !slices.Contains(gotOpen, open[1]) {
			t.Errorf("open commitments = %v, want %v", gotOpen, open)
		}

		// Transfers across budgets: PENDING only, one page at a time.
		var pending []string
		for i, target := range []string{"budgets/b/lines/m", "budgets/o/lines/x", "budgets/b/lines/m"} {
			tr, err := createTransfer(e, "b", "budgets/b/lines/l", target, 1000, day(2026, 9, 1))
			if err != nil {
				t.Fatal(err)
			}
			if i == 2 {
				if _, err := e.approver.ApproveTransfer(ctx, &budgetv1.ApproveTransferRequest{Name: tr.GetName()}); err != nil {
					t.Fatal(err)
				}
				continue
			}
			pending = append(pending, tr.GetName())
		}
		gotPending := onePerPage(t, func(token string) ([]*budgetv1.Transfer, string, error) {
			resp, err := e.client.ListTransfers(ctx, &budgetv1.ListTransfersRequest{Parent: "budgets/-", Filter: "state = PENDING",
				PageSize: 1, PageToken: token})
			return resp.GetTransfers(), resp.GetNextPageToken(), err
		})
		if len(gotPending) != 2 || !slices.Contains(gotPending, pending[0]) || !slices.Contains(gotPending, pending[1]) {
			t.Errorf("pending transfers = %v, want %v", gotPending, pending)
		}
	})
}

func TestSpendRejectsBadInput(t *testing.T) {
	t.Parallel()
	forEachSpendDatabase(t, func(t *testing.T, e *spendEnv) {
		ctx := context.Background()
		seedApprovedBudget(t, e, "infra", "b", "EUR", domain.PolicyWarn, fixtureLine{id: "l", planned: 100000}, fixtureLine{id: "m", planned: 100000})
		line := "budgets/b/lines/l"
		record := func(a *budgetv1.Actual) error {
			_, err := e.client.RecordActual(ctx, &budgetv1.RecordActualRequest{Parent: line, Actual: a})
			return err
		}
		err := record(&budgetv1.Actual{Amount: &money.Money{CurrencyCode: "EUR", Units: 1, Nanos: 5_000_000}, BookingDate: day(2026, 5, 1)})
		wantStatus(t, err, codes.InvalidArgument, "AMOUNT_TOO_PRECISE", "actual.amount:AMOUNT_TOO_PRECISE")
		err = record(&budgetv1.Actual{Amount: &money.Money{CurrencyCode: "XXY", Units: 1}, BookingDate: day(2026, 5, 1)})
		wantStatus(t, err, codes.InvalidArgument, "CURRENCY_UNSUPPORTED", "actual.amount:CURRENCY_UNSUPPORTED")
		err = record(&budgetv1.Actual{Amount: cents(100, "EUR")})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "actual.booking_date:REQUIRED")
		err = record(&budgetv1.Actual{Amount: cents(100, "EUR"), BookingDate: day(2026, 2, 30)})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "actual.booking_date:DATE_INVALID")
		_, err = e.client.RecordCommitment(ctx, &budgetv1.RecordCommitmentRequest{Parent: line, Commitment: &budgetv1.Commitment{
			Amount: cents(100, "EUR"), Source: budgetv1.Commitment_CONTRACT}})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "commitment.expected_date:REQUIRED")

		_, err = e.client.CreateTransfer(ctx, &budgetv1.CreateTransferRequest{Parent: "budgets/b", Transfer: &budgetv1.Transfer{
			SourceLine: line, TargetLine: "budgets/b/lines/m", Amount: cents(1000, ""), EffectiveDate: day(2026, 9, 1)}})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "transfer.reason:REQUIRED")

		for _, minor := range []int64{0, -100} {
			_, err = e.client.CheckFunds(ctx, &budgetv1.CheckFundsRequest{Line: line, Amount: cents(minor, "EUR"), Date: day(2026, 5, 20)})
			wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "amount:AMOUNT_NOT_POSITIVE")
		}

		if got := outboxCount(t, e, ".actual.recorded") + outboxCount(t, e, ".transfer.requested"); got != 0 {
			t.Errorf("refused requests wrote %d events", got)
		}
	})
}
