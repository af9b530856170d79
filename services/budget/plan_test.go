package budget_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// approverSubject is the second person, who approves what the test principal submits.
const approverSubject = "apiKeys/approver"

// approver returns a client of e's service that calls as approverSubject.
func approver(t *testing.T, e *env) budgetv1.BudgetServiceClient {
	t.Helper()
	return clientAs(t, e, approverSubject)
}

// units is a list of whole amounts in the budget currency.
func units(us ...int64) []*money.Money {
	out := make([]*money.Money, len(us))
	for i, u := range us {
		out[i] = &money.Money{Units: u}
	}
	return out
}

func newBudget(t *testing.T, e *env, costCenter, id string, fy int32) *budgetv1.Budget {
	t.Helper()
	b, err := e.client.CreateBudget(context.Background(), &budgetv1.CreateBudgetRequest{BudgetId: id, Budget: &budgetv1.Budget{
		CostCenter: costCenter, FiscalYear: fy, CurrencyCode: "EUR", DisplayName: "Budget " + id,
		OverspendPolicy: budgetv1.Budget_WARN,
	}})
	if err != nil {
		t.Fatalf("create budget %s: %v", id, err)
	}
	return b
}

func newLine(t *testing.T, e *env, budget, id string, planned int64, phasing *budgetv1.Phasing) *budgetv1.BudgetLine {
	t.Helper()
	l, err := e.client.CreateBudgetLine(context.Background(), &budgetv1.CreateBudgetLineRequest{
		Parent: budget, BudgetLineId: id,
		BudgetLine: &budgetv1.BudgetLine{DisplayName: "Line " + id, Category: budgetv1.BudgetLine_CLOUD,
			ExpenseType: budgetv1.BudgetLine_OPEX, PlannedAmount: &money.Money{Units: planned}, Phasing: phasing},
	})
	if err != nil {
		t.Fatalf("create line %s: %v", id, err)
	}
	return l
}

func getBudget(t *testing.T, e *env, name string) *budgetv1.Budget {
	t.Helper()
	b, err := e.client.GetBudget(context.Background(), &budgetv1.GetBudgetRequest{Name: name})
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return b
}

func wantPlanned(t *testing.T, b *budgetv1.Budget, units int64) {
	t.Helper()
	if got := b.GetPlannedAmount(); got.GetUnits() != units || got.GetNanos() != 0 || got.GetCurrencyCode() != "EUR" {
		t.Errorf("%s planned = %v, want %d EUR", b.GetName(), got, units)
	}
}

// wantSubjects reads the first len(want) events and compares their subjects, without the
// stream's prefix and domain.
func wantSubjects(t *testing.T, e *env, want ...string) {
	t.Helper()
	var got []string
	for _, m := range e.Events(t, len(want)) {
		got = append(got, m.Subject()[len(e.Subject("")):])
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n got  %v\n want %v", got, want)
	}
}

func TestBudgetLifecycleAndRevisions(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		fin := approver(t, e)
		cc := create(t, e, "infra", "Infrastructure", "CC-100", "")

		b := newBudget(t, e, cc.GetName(), "infra-fy2027", 2027)
		if b.GetName() != "budgets/infra-fy2027" || b.GetState() != budgetv1.Budget_DRAFT || b.GetRevision() != 1 ||
			b.GetFiscalYearStartDate().GetMonth() != 1 || b.GetFiscalYearStartDate().GetYear() != 2027 {
			t.Errorf("created = %v", b)
		}
		wantPlanned(t, b, 0)
		_, err := e.client.CreateBudget(ctx, &budgetv1.CreateBudgetRequest{Budget: &budgetv1.Budget{
			CostCenter: cc.GetName(), FiscalYear: 2027, CurrencyCode: "USD", DisplayName: "Again"}})
		wantStatus(t, err, codes.AlreadyExists, "BUDGET_EXISTS")

		// Nothing to approve yet, and nothing to submit.
		_, err = fin.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		_, err = fin.CloseBudget(ctx, &budgetv1.CloseBudgetRequest{Name: b.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		_, err = e.client.ReviseBudget(ctx, &budgetv1.ReviseBudgetRequest{Name: b.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		_, err = e.client.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: b.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "BUDGET_HAS_NO_LINES")

		// Lines: an even split by default, phasing that must add up, amounts in minor units.
		cloud := newLine(t, e, b.GetName(), "cloud", 120000, nil)
		if p := cloud.GetPhasing(); p.GetGranularity() != budgetv1.Phasing_MONTHLY || len(p.GetAmounts()) != 12 ||
			p.GetAmounts()[0].GetUnits() != 10000 || p.GetAmounts()[0].GetCurrencyCode() != "EUR" {
			t.Errorf("default phasing = %v", p)
		}
		badLine := func(planned *money.Money, phasing *budgetv1.Phasing) error {
			_, err := e.client.CreateBudgetLine(ctx, &budgetv1.CreateBudgetLineRequest{Parent: b.GetName(), BudgetLineId: "bad",
				BudgetLine: &budgetv1.BudgetLine{DisplayName: "Bad", Category: budgetv1.BudgetLine_HARDWARE,
					ExpenseType: budgetv1.BudgetLine_CAPEX, PlannedAmount: planned, Phasing: phasing}})
			return err
		}
		err = badLine(&money.Money{Units: 60000}, &budgetv1.Phasing{Granularity: budgetv1.Phasing_QUARTERLY, Amounts: units(10000, 10000, 10000, 10000)})
		wantStatus(t, err, codes.InvalidArgument, "PHASING_SUM_MISMATCH", "budget_line.phasing.amounts:PHASING_SUM_MISMATCH")
		err = badLine(&money.Money{Units: 60000}, &budgetv1.Phasing{Granularity: budgetv1.Phasing_MONTHLY, Amounts: units(15000, 15000, 15000, 15000)})
		wantStatus(t, err, codes.InvalidArgument, "PHASING_LENGTH", "budget_line.phasing.amounts:PHASING_LENGTH")
		err = badLine(&money.Money{Units: 1, Nanos: 5_000_000}, nil)
		wantStatus(t, err, codes.InvalidArgument, "AMOUNT_TOO_PRECISE", "budget_line.planned_amount:AMOUNT_TOO_PRECISE")
		err = badLine(&money.Money{CurrencyCode: "USD", Units: 1}, nil)
		wantStatus(t, err, codes.InvalidArgument, "CURRENCY_MISMATCH", "budget_line.planned_amount:CURRENCY_MISMATCH")
		_, err = e.client.CreateBudgetLine(ctx, &budgetv1.CreateBudgetLineRequest{Parent: b.GetName(), BudgetLine: &budgetv1.BudgetLine{
			PlannedAmount: whole("EUR", 1)}})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT",
			"budget_line.display_name:REQUIRED", "budget_line.category:REQUIRED", "budget_line.expense_type:REQUIRED")

		servers := newLine(t, e, b.GetName(), "servers", 60000, &budgetv1.Phasing{Granularity: budgetv1.Phasing_MONTHLY,
			Amounts: units(0, 0, 30000, 0, 0, 0, 0, 0, 30000, 0, 0, 0)})
		wantPlanned(t, getBudget(t, e, b.GetName()), 180000)

		// A new planned amount alone is re-phased evenly; the budget's total follows.
		cloud, err = e.client.UpdateBudgetLine(ctx, &budgetv1.UpdateBudgetLineRequest{
			BudgetLine: &budgetv1.BudgetLine{Name: cloud.GetName(), PlannedAmount: whole("EUR", 96000), Etag: cloud.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"planned_amount"}},
		})
		if err != nil || cloud.GetPhasing().GetAmounts()[11].GetUnits() != 8000 {
			t.Fatalf("update planned = %v, %v", cloud, err)
		}
		_, err = e.client.UpdateBudgetLine(ctx, &budgetv1.UpdateBudgetLineRequest{
			BudgetLine: &budgetv1.BudgetLine{Name: servers.GetName(),
				Phasing: &budgetv1.Phasing{Granularity: budgetv1.Phasing_QUARTERLY, Amounts: units(1, 2, 3, 4)}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"phasing"}},
		})
		wantStatus(t, err, codes.InvalidArgument, "PHASING_SUM_MISMATCH", "budget_line.phasing.amounts:PHASING_SUM_MISMATCH")
		wantPlanned(t, getBudget(t, e, b.GetName()), 156000)
		lines, err := e.client.ListBudgetLines(ctx, &budgetv1.ListBudgetLinesRequest{Parent: b.GetName()})
		if err != nil || len(lines.GetBudgetLines()) != 2 || lines.GetBudgetLines()[1].GetAvailableAmount().GetUnits() != 60000 {
			t.Fatalf("lines = %v, %v", lines, err)
		}

		// Submit; the submitter cannot approve, the approver can.
		sub, err := e.client.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: b.GetName()})
		if err != nil || sub.GetState() != budgetv1.Budget_SUBMITTED || sub.GetSubmitter() != identitytest.Subject {
			t.Fatalf("submit = %v, %v", sub, err)
		}
		_, err = e.client.CreateBudgetLine(ctx, &budgetv1.CreateBudgetLineRequest{Parent: b.GetName(),
			BudgetLine: &budgetv1.BudgetLine{DisplayName: "Late", Category: budgetv1.BudgetLine_OTHER,
				ExpenseType: budgetv1.BudgetLine_OPEX, PlannedAmount: whole("EUR", 1)}})
		wantStatus(t, err, codes.FailedPrecondition, "BUDGET_NOT_DRAFT")
		_, err = e.client.DeleteBudgetLine(ctx, &budgetv1.DeleteBudgetLineRequest{Name: servers.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "BUDGET_NOT_DRAFT")
		_, err = e.client.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: b.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		_, err = e.client.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()})
		wantStatus(t, err, codes.PermissionDenied, "SELF_APPROVAL")
		_, err = fin.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName(), Etag: b.GetEtag()})
		wantStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		approved, err := fin.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName(), Etag: sub.GetEtag()})
		if err != nil || approved.GetState() != budgetv1.Budget_APPROVED || approved.GetDecider() != approverSubject {
			t.Fatalf("approve = %v, %v", approved, err)
		}
		_, err = fin.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		_, err = fin.RejectBudget(ctx, &budgetv1.RejectBudgetRequest{Name: b.GetName(), Reason: "late"})
		wantStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		_, err = e.client.UpdateBudgetLine(ctx, &budgetv1.UpdateBudgetLineRequest{
			BudgetLine: &budgetv1.BudgetLine{Name: cloud.GetName(), Tag: "x"},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"tag"}}})
		wantStatus(t, err, codes.FailedPrecondition, "BUDGET_NOT_DRAFT")
		// The policy is part of the approved plan; names are not.
		_, err = e.client.UpdateBudget(ctx, &budgetv1.UpdateBudgetRequest{
			Budget:     &budgetv1.Budget{Name: b.GetName(), OverspendPolicy: budgetv1.Budget_BLOCK},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"overspend_policy"}}})
		wantStatus(t, err, codes.FailedPrecondition, "BUDGET_NOT_DRAFT")
		_, err = e.client.UpdateBudget(ctx, &budgetv1.UpdateBudgetRequest{
			Budget: &budgetv1.Budget{Name: b.GetName()}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "budget.display_name:REQUIRED")
		_, err = e.client.UpdateBudget(ctx, &budgetv1.UpdateBudgetRequest{
			Budget: &budgetv1.Budget{Name: b.GetName(), FiscalYear: 2028}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"fiscal_year"}}})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "update_mask:FIELD_NOT_WRITABLE")
		renamed, err := e.client.UpdateBudget(ctx, &budgetv1.UpdateBudgetRequest{
			Budget:     &budgetv1.Budget{Name: b.GetName(), DisplayName: "Infrastructure FY2027", Etag: approved.GetEtag()},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}}})
		if err != nil || renamed.GetDisplayName() != "Infrastructure FY2027" || renamed.GetState() != budgetv1.Budget_APPROVED {
			t.Fatalf("rename = %v, %v", renamed, err)
		}

		// A revision is a new draft with the same lines; one at a time.
		rev, err := e.client.ReviseBudget(ctx, &budgetv1.ReviseBudgetRequest{Name: b.GetName(), BudgetId: "infra-fy2027-r2"})
		if err != nil || rev.GetName() != "budgets/infra-fy2027-r2" || rev.GetRevision() != 2 || rev.GetState() != budgetv1.Budget_DRAFT ||
			rev.GetPreviousRevision() != b.GetName() || rev.GetDisplayName() != "Infrastructure FY2027" {
			t.Fatalf("revise = %v, %v", rev, err)
		}
		wantPlanned(t, rev, 156000)
		revLines, err := e.client.ListBudgetLines(ctx, &budgetv1.ListBudgetLinesRequest{Parent: rev.GetName()})
		if err != nil || len(revLines.GetBudgetLines()) != 2 ||
			revLines.GetBudgetLines()[0].GetName() != rev.GetName()+"/lines/cloud" ||
			revLines.GetBudgetLines()[1].GetName() != rev.GetName()+"/lines/servers" ||
			!proto.Equal(revLines.GetBudgetLines()[1].GetPhasing(), servers.GetPhasing()) {
			t.Fatalf("revision lines = %v, %v", revLines, err)
		}
		_, err = e.client.ReviseBudget(ctx, &budgetv1.ReviseBudgetRequest{Name: b.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "REVISION_IN_PROGRESS")
		// Closing the revision in force would strand the open one: it could never be approved.
		wantCloseRefused := func() {
			t.Helper()
			_, err := fin.CloseBudget(ctx, &budgetv1.CloseBudgetRequest{Name: b.GetName()})
			wantStatus(t, err, codes.FailedPrecondition, "REVISION_IN_PROGRESS")
			if info, _ := rpc.Details(err); info.GetMetadata()["open_revision"] != rev.GetName() {
				t.Errorf("metadata = %v, want open_revision %s", info.GetMetadata(), rev.GetName())
			}
		}
		wantCloseRefused()
		if got := getBudget(t, e, b.GetName()); got.GetState() != budgetv1.Budget_APPROVED {
			t.Errorf("revised budget state = %v, want APPROVED until the revision is approved", got.GetState())
		}

		// The revision's plan changes; approving it supersedes the revision in force.
		if _, err := e.client.DeleteBudgetLine(ctx, &budgetv1.DeleteBudgetLineRequest{Name: rev.GetName() + "/lines/servers"}); err != nil {
			t.Fatal(err)
		}
		wantPlanned(t, getBudget(t, e, rev.GetName()), 96000)
		if _, err := e.client.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: rev.GetName()}); err != nil {
			t.Fatal(err)
		}
		wantCloseRefused()
		revApproved, err := fin.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: rev.GetName()})
		if err != nil || revApproved.GetState() != budgetv1.Budget_APPROVED {
			t.Fatalf("approve revision = %v, %v", revApproved, err)
		}
		old := getBudget(t, e, b.GetName())
		if old.GetState() != budgetv1.Budget_SUPERSEDED || old.GetSupersededBy() != rev.GetName() {
			t.Errorf("old revision = %v", old)
		}
		_, err = e.client.ReviseBudget(ctx, &budgetv1.ReviseBudgetRequest{Name: b.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		_, err = e.client.UpdateBudget(ctx, &budgetv1.UpdateBudgetRequest{
			Budget: &budgetv1.Budget{Name: b.GetName(), Owner: "x"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"owner"}}})
		wantStatus(t, err, codes.FailedPrecondition, "BUDGET_SUPERSEDED")
		_, err = fin.CloseBudget(ctx, &budgetv1.CloseBudgetRequest{Name: b.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")

		closed, err := fin.CloseBudget(ctx, &budgetv1.CloseBudgetRequest{Name: rev.GetName()})
		if err != nil || closed.GetState() != budgetv1.Budget_CLOSED || closed.GetCloser() != approverSubject {
			t.Fatalf("close = %v, %v", closed, err)
		}
		_, err = e.client.ReviseBudget(ctx, &budgetv1.ReviseBudgetRequest{Name: rev.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		_, err = e.client.DeleteBudget(ctx, &budgetv1.DeleteBudgetRequest{Name: rev.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "BUDGET_NOT_DELETABLE")
		_, err = e.client.DeleteCostCenter(ctx, &budgetv1.DeleteCostCenterRequest{Name: cc.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "COST_CENTER_HAS_BUDGETS")

		list, err := e.client.ListBudgets(ctx, &budgetv1.ListBudgetsRequest{Filter: `fiscal_year = 2027 AND state = CLOSED`})
		if err != nil || len(list.GetBudgets()) != 1 || list.GetBudgets()[0].GetName() != rev.GetName() {
			t.Errorf("list closed = %v, %v", list, err)
		}

		wantSubjects(t, e,
			"cost_center.created", "budget.created", "line.created", "line.created", "line.updated",
			"budget.submitted", "budget.approved", "budget.updated",
			"budget.revised", "line.deleted", "budget.submitted", "budget.approved", "budget.closed")
	})
}

func TestBudgetRejectDeleteAndRetry(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		fin := approver(t, e)
		cc := create(t, e, "apps", "Applications", "CC-200", "")

		_, err := e.client.CreateBudget(ctx, &budgetv1.CreateBudgetRequest{Budget: &budgetv1.Budget{
			CostCenter: "costCenters/ghost", FiscalYear: 2027, CurrencyCode: "EUR", DisplayName: "Ghost"}})
		wantStatus(t, err, codes.NotFound, "COST_CENTER_NOT_FOUND")
		_, err = e.client.CreateBudget(ctx, &budgetv1.CreateBudgetRequest{Budget: &budgetv1.Budget{FiscalYear: 2027, CurrencyCode: "XXX"}})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "budget.cost_center:REQUIRED",
			"budget.display_name:REQUIRED", "budget.currency_code:CURRENCY_UNSUPPORTED")

		// A retry with the request ID gets the same budget back, once.
		req := &budgetv1.CreateBudgetRequest{RequestId: "0b8c3a52-5f7e-4c61-8f0e-2d9b6a1c7e34", BudgetId: "apps-fy2027",
			Budget: &budgetv1.Budget{CostCenter: cc.GetName(), FiscalYear: 2027, CurrencyCode: "EUR", DisplayName: "Apps"}}
		b, err := e.client.CreateBudget(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		again, err := e.client.CreateBudget(ctx, req)
		if err != nil || !proto.Equal(again, b) {
			t.Fatalf("retry = %v, %v; want %v", again, err, b)
		}
		lineReq := &budgetv1.CreateBudgetLineRequest{Parent: b.GetName(), RequestId: "6e2f0c4d-1a9b-4d3e-8c7f-5b0a9e8d7c61",
			BudgetLine: &budgetv1.BudgetLine{DisplayName: "Licences", Category: budgetv1.BudgetLine_SOFTWARE,
				ExpenseType: budgetv1.BudgetLine_OPEX, PlannedAmount: whole("EUR", 1200)}}
		l, err := e.client.CreateBudgetLine(ctx, lineReq)
		if err != nil {
			t.Fatal(err)
		}
		if l2, err := e.client.CreateBudgetLine(ctx, lineReq); err != nil || !proto.Equal(l2, l) {
			t.Fatalf("line retry = %v, %v; want %v", l2, err, l)
		}
		wantPlanned(t, getBudget(t, e, b.GetName()), 1200)
		submitReq := &budgetv1.SubmitBudgetRequest{Name: b.GetName(), RequestId: "9d1e7b3a-2c4f-4a8e-b6d0-3f5c7a9e1b28"}
		sub, err := e.client.SubmitBudget(ctx, submitReq)
		if err != nil {
			t.Fatal(err)
		}
		if sub2, err := e.client.SubmitBudget(ctx, submitReq); err != nil || !proto.Equal(sub2, sub) {
			t.Fatalf("submit retry = %v, %v; want %v", sub2, err, sub)
		}

		// Rejecting takes a reason and another person.
		_, err = fin.RejectBudget(ctx, &budgetv1.RejectBudgetRequest{Name: b.GetName()})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "reason:STRING_MIN_LEN")
		_, err = e.client.RejectBudget(ctx, &budgetv1.RejectBudgetRequest{Name: b.GetName(), Reason: "mine"})
		wantStatus(t, err, codes.PermissionDenied, "SELF_APPROVAL")
		rej, err := fin.RejectBudget(ctx, &budgetv1.RejectBudgetRequest{Name: b.GetName(), Reason: "too much"})
		if err != nil || rej.GetState() != budgetv1.Budget_REJECTED || rej.GetDecisionReason() != "too much" {
			t.Fatalf("reject = %v, %v", rej, err)
		}
		_, err = e.client.DeleteBudget(ctx, &budgetv1.DeleteBudgetRequest{Name: b.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "BUDGET_NOT_DELETABLE")

		// A rejected budget is revised; deleting the draft revision frees the chain for another.
		rev, err := e.client.ReviseBudget(ctx, &budgetv1.ReviseBudgetRequest{Name: b.GetName()})
		if err != nil || rev.GetRevision() != 2 {
			t.Fatalf("revise = %v, %v", rev, err)
		}
		if _, err := e.client.DeleteBudget(ctx, &budgetv1.DeleteBudgetRequest{Name: rev.GetName(), Etag: rev.GetEtag()}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.GetBudget(ctx, &budgetv1.GetBudgetRequest{Name: rev.GetName()})
		wantStatus(t, err, codes.NotFound, "BUDGET_NOT_FOUND")
		_, err = e.client.GetBudgetLine(ctx, &budgetv1.GetBudgetLineRequest{Name: rev.GetName() + "/lines/x"})
		wantStatus(t, err, codes.NotFound, "LINE_NOT_FOUND")
		rev2, err := e.client.ReviseBudget(ctx, &budgetv1.ReviseBudgetRequest{Name: b.GetName(), BudgetId: "apps-fy2027-r2"})
		if err != nil || rev2.GetRevision() != 2 || rev2.GetState() != budgetv1.Budget_DRAFT {
			t.Fatalf("revise again = %v, %v", rev2, err)
		}
		got, err := e.client.GetBudgetLine(ctx, &budgetv1.GetBudgetLineRequest{Name: rev2.GetName() + "/lines/" + l.GetName()[len(b.GetName()+"/lines/"):]})
		if err != nil || got.GetPlannedAmount().GetUnits() != 1200 {
			t.Fatalf("copied line = %v, %v", got, err)
		}

		// A draft revision 1 is deleted with its chain: the year is free again.
		draft := newBudget(t, e, cc.GetName(), "apps-fy2028", 2028)
		if _, err := e.client.DeleteBudget(ctx, &budgetv1.DeleteBudgetRequest{Name: draft.GetName()}); err != nil {
			t.Fatal(err)
		}
		newBudget(t, e, cc.GetName(), "apps-fy2028-b", 2028)

		// Inactive cost centres get no budgets.
		if _, err := e.client.UpdateCostCenter(ctx, &budgetv1.UpdateCostCenterRequest{
			CostCenter: &budgetv1.CostCenter{Name: cc.GetName(), Active: proto.Bool(false)},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"active"}}}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.CreateBudget(ctx, &budgetv1.CreateBudgetRequest{Budget: &budgetv1.Budget{
			CostCenter: cc.GetName(), FiscalYear: 2029, CurrencyCode: "EUR", DisplayName: "Apps 2029"}})
		wantStatus(t, err, codes.FailedPrecondition, "COST_CENTER_INACTIVE")

		wantSubjects(t, e,
			"cost_center.created", "budget.created", "line.created", "budget.submitted", "budget.rejected",
			"budget.revised", "budget.deleted", "budget.revised",
			"budget.created", "budget.deleted", "budget.created", "cost_center.updated")
	})
}

func TestExchangeRates(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		newRate := func(month, src, dst, rate string) (*budgetv1.ExchangeRate, error) {
			return e.client.CreateExchangeRate(ctx, &budgetv1.CreateExchangeRateRequest{ExchangeRate: &budgetv1.ExchangeRate{
				Month: month, SourceCurrencyCode: src, TargetCurrencyCode: dst, Rate: rate}})
		}
		may, err := newRate("2026-05", "USD", "EUR", "0.9200")
		if err != nil || may.GetName() != "exchangeRates/2026-05-usd-eur" || may.GetRate() != "0.92" || may.GetMonth() != "2026-05" {
			t.Fatalf("create = %v, %v", may, err)
		}
		if _, err := newRate("2026-07", "USD", "EUR", "0.9"); err != nil {
			t.Fatal(err)
		}
		if _, err := newRate("2026-07", "GBP", "CHF", "1.12"); err != nil {
			t.Fatal(err)
		}
		_, err = newRate("2026-05", "USD", "EUR", "0.93")
		wantStatus(t, err, codes.AlreadyExists, "EXCHANGE_RATE_EXISTS")
		_, err = newRate("2026-05", "EUR", "EUR", "1")
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "exchange_rate.target_currency_code:RATE_SAME_CURRENCY")
		_, err = newRate("2026-05", "USD", "XXX", "0")
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT",
			"exchange_rate.target_currency_code:CURRENCY_UNSUPPORTED", "exchange_rate.rate:RATE_INVALID")

		// Retrying with a request ID returns the rate once created.
		req := &budgetv1.CreateExchangeRateRequest{RequestId: "4c7b2e9a-8d1f-4b3c-a6e5-0f2d9c8b7a16",
			ExchangeRate: &budgetv1.ExchangeRate{Month: "2026-08", SourceCurrencyCode: "USD", TargetCurrencyCode: "EUR", Rate: "0.91"}}
		aug, err := e.client.CreateExchangeRate(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := e.client.CreateExchangeRate(ctx, req); err != nil || !proto.Equal(again, aug) {
			t.Fatalf("retry = %v, %v; want %v", again, err, aug)
		}

		names := func(filter string) []string {
			t.Helper()
			resp, err := e.client.ListExchangeRates(ctx, &budgetv1.ListExchangeRatesRequest{Filter: filter})
			if err != nil {
				t.Fatalf("list %q: %v", filter, err)
			}
			var out []string
			for _, r := range resp.GetExchangeRates() {
				out = append(out, r.GetName())
			}
			return out
		}
		if got := names(`month = "2026-07"`); !slices.Equal(got, []string{"exchangeRates/2026-07-gbp-chf", "exchangeRates/2026-07-usd-eur"}) {
			t.Errorf("rates of 2026-07 = %v", got)
		}
		if got := names(`month = "2026-07" AND target_currency_code = "EUR"`); !slices.Equal(got, []string{"exchangeRates/2026-07-usd-eur"}) {
			t.Errorf("rates of 2026-07 into EUR = %v", got)
		}

		// Only the rate changes.
		upd, err := e.client.UpdateExchangeRate(ctx, &budgetv1.UpdateExchangeRateRequest{
			ExchangeRate: &budgetv1.ExchangeRate{Name: may.GetName(), Rate: "0.925", Etag: may.GetEtag()},
			UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"rate"}}})
		if err != nil || upd.GetRate() != "0.925" || upd.GetEtag() == may.GetEtag() {
			t.Fatalf("update = %v, %v", upd, err)
		}
		_, err = e.client.UpdateExchangeRate(ctx, &budgetv1.UpdateExchangeRateRequest{
			ExchangeRate: &budgetv1.ExchangeRate{Name: may.GetName(), Month: "2026-06"},
			UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"month"}}})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "update_mask:FIELD_NOT_WRITABLE")
		_, err = e.client.UpdateExchangeRate(ctx, &budgetv1.UpdateExchangeRateRequest{
			ExchangeRate: &budgetv1.ExchangeRate{Name: may.GetName(), Rate: "0.95", Etag: may.GetEtag()},
			UpdateMask:   &fieldmaskpb.FieldMask{Paths: []string{"rate"}}})
		wantStatus(t, err, codes.Aborted, "ETAG_MISMATCH")

		if _, err := e.client.DeleteExchangeRate(ctx, &budgetv1.DeleteExchangeRateRequest{Name: may.GetName(), Etag: upd.GetEtag()}); err != nil {
			t.Fatal(err)
		}
		_, err = e.client.GetExchangeRate(ctx, &budgetv1.GetExchangeRateRequest{Name: may.GetName()})
		wantStatus(t, err, codes.NotFound, "EXCHANGE_RATE_NOT_FOUND")
		_, err = e.client.GetExchangeRate(ctx, &budgetv1.GetExchangeRateRequest{Name: "exchangeRates/2026-05-abc-eur"})
		wantStatus(t, err, codes.NotFound, "EXCHANGE_RATE_NOT_FOUND")

		wantSubjects(t, e, "exchange_rate.created", "exchange_rate.created", "exchange_rate.created", "exchange_rate.created",
			"exchange_rate.updated", "exchange_rate.deleted")
	})
}

// TestRollupRefusesMixedCalendars: budgets created before and after a change of the fiscal-year
// setting start their years in different months; summing their periods by number would add
// April to January, so the roll-up refuses instead.
func TestRollupRefusesMixedCalendars(t *testing.T) {
	t.Parallel()
	db := testenv.SQLite(t)
	april := startService(t, db, budget.Configured(budget.Settings{FiscalYearStartMonth: 4}))
	january := startService(t, db, budget.Configured(budget.Settings{FiscalYearStartMonth: 1}))
	ctx := context.Background()
	create(t, april, "group", "Group IT", "CC-G", "")
	create(t, april, "apps", "Applications", "CC-A", "costCenters/group")
	approve := func(e *env, cc, id string) {
		t.Helper()
		b := newBudget(t, e, cc, id, 2027)
		newLine(t, e, b.GetName(), "run", 1200, nil)
		if _, err := e.client.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: b.GetName()}); err != nil {
			t.Fatal(err)
		}
		if _, err := approver(t, e).ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()}); err != nil {
			t.Fatal(err)
		}
	}
	approve(april, "costCenters/apps", "apps-fy2027")
	if _, err := january.client.GetCostCenterRollup(ctx, &budgetv1.GetCostCenterRollupRequest{Name: "costCenters/group/rollups/2027"}); err != nil {
		t.Fatalf("roll-up over one calendar: %v", err)
	}
	approve(january, "costCenters/group", "group-fy2027")
	_, err := january.client.GetCostCenterRollup(ctx, &budgetv1.GetCostCenterRollupRequest{Name: "costCenters/group/rollups/2027"})
	wantStatus(t, err, codes.FailedPrecondition, "FISCAL_CALENDAR_MISMATCH")
}

// TestSeparationOfDutiesComparesPrincipals: two keys of one person are one person. Alice submits
// with one key and cannot approve or reject with another, nor approve the transfer she
// requested; Bob can. The submitter, requester and decider are principals. On both engines.
func TestSeparationOfDutiesComparesPrincipals(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		alice := budgetv1.NewBudgetServiceClient(e.ConnOf(t, "apiKeys/alice-1", "principals/alice"))
		aliceAgain := budgetv1.NewBudgetServiceClient(e.ConnOf(t, "apiKeys/alice-2", "principals/alice", "budget.read", "budget.approve"))
		bob := budgetv1.NewBudgetServiceClient(e.ConnOf(t, "apiKeys/bob", "principals/bob", "budget.read", "budget.approve"))

		cc := create(t, e, "sod", "Separation", "CC-SOD", "")
		b := newBudget(t, e, cc.GetName(), "sod-fy2027", 2027)
		from := newLine(t, e, b.GetName(), "from", 1200, nil)
		to := newLine(t, e, b.GetName(), "to", 1200, nil)
		sub, err := alice.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: b.GetName()})
		if err != nil || sub.GetSubmitter() != "principals/alice" {
			t.Fatalf("submit = %v, %v; want the submitter principals/alice", sub, err)
		}
		_, err = aliceAgain.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()})
		wantStatus(t, err, codes.PermissionDenied, "SELF_APPROVAL")
		_, err = aliceAgain.RejectBudget(ctx, &budgetv1.RejectBudgetRequest{Name: b.GetName(), Reason: "mine after all"})
		wantStatus(t, err, codes.PermissionDenied, "SELF_APPROVAL")
		approved, err := bob.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()})
		if err != nil || approved.GetDecider() != "principals/bob" {
			t.Fatalf("bob's approval = %v, %v", approved, err)
		}

		tr, err := alice.CreateTransfer(ctx, &budgetv1.CreateTransferRequest{Parent: b.GetName(), Transfer: &budgetv1.Transfer{
			SourceLine: from.GetName(), TargetLine: to.GetName(), Amount: &money.Money{Units: 100},
			EffectiveDate: &date.Date{Year: 2027, Month: 1, Day: 1}, Reason: "rebalance"}})
		if err != nil || tr.GetRequester() != "principals/alice" {
			t.Fatalf("transfer = %v, %v; want the requester principals/alice", tr, err)
		}
		_, err = aliceAgain.ApproveTransfer(ctx, &budgetv1.ApproveTransferRequest{Name: tr.GetName()})
		wantStatus(t, err, codes.PermissionDenied, "SELF_APPROVAL")
		if done, err := bob.ApproveTransfer(ctx, &budgetv1.ApproveTransferRequest{Name: tr.GetName()}); err != nil || done.GetState() != budgetv1.Transfer_APPROVED {
			t.Fatalf("bob's transfer approval = %v, %v", done, err)
		}
	})
}

// TestRateFarFromPreviousNeedsConfirmation: a rate more than 20 % away from the pair's rate of
// the previous month — the 0.000000001 of issue 20 — is refused on its field unless the request
// confirms it, on create and on update; a rate within 20 %, or without a previous month, needs
// nothing. On both engines.
func TestRateFarFromPreviousNeedsConfirmation(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		create := func(month, rate string, confirm bool) (*budgetv1.ExchangeRate, error) {
			return e.client.CreateExchangeRate(ctx, &budgetv1.CreateExchangeRateRequest{ConfirmRateChange: confirm,
				ExchangeRate: &budgetv1.ExchangeRate{Month: month, SourceCurrencyCode: "USD", TargetCurrencyCode: "EUR", Rate: rate}})
		}
		if _, err := create("2026-05", "0.92", false); err != nil {
			t.Fatalf("the first rate of a pair needs no confirmation: %v", err)
		}
		_, err := create("2026-06", "0.000000001", false)
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "exchange_rate.rate:RATE_CONFIRMATION_REQUIRED")
		_, err = create("2026-06", "1.2", false) // +30 %
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "exchange_rate.rate:RATE_CONFIRMATION_REQUIRED")
		june, err := create("2026-06", "1.1", false) // +19.6 %
		if err != nil {
			t.Fatalf("a rate within 20 %%: %v", err)
		}
		if _, err := create("2026-07", "0.000000001", true); err != nil {
			t.Fatalf("a confirmed rate: %v", err)
		}
		// An update is checked against the previous month too.
		update := func(rate string, confirm bool) error {
			_, err := e.client.UpdateExchangeRate(ctx, &budgetv1.UpdateExchangeRateRequest{ConfirmRateChange: confirm,
				ExchangeRate: &budgetv1.ExchangeRate{Name: june.GetName(), Rate: rate}})
			return err
		}
		wantStatus(t, update("5", false), codes.InvalidArgument, "INVALID_ARGUMENT", "exchange_rate.rate:RATE_CONFIRMATION_REQUIRED")
		if err := update("0.95", false); err != nil {
			t.Fatalf("an update within 20 %%: %v", err)
		}
		if err := update("5", true); err != nil {
			t.Fatalf("a confirmed update: %v", err)
		}
	})
}
