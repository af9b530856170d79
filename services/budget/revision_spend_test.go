package budget_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// revise opens revision newID of budgetID and lets edit change it while it is a draft.
func revise(t *testing.T, e *spendEnv, budgetID, newID string, edit func(rev string)) string {
	t.Helper()
	rev, err := e.client.ReviseBudget(context.Background(), &budgetv1.ReviseBudgetRequest{Name: "budgets/" + budgetID, BudgetId: newID})
	if err != nil {
		t.Fatalf("revise %s: %v", budgetID, err)
	}
	if edit != nil {
		edit(rev.GetName())
	}
	if _, err := e.client.SubmitBudget(context.Background(), &budgetv1.SubmitBudgetRequest{Name: rev.GetName()}); err != nil {
		t.Fatalf("submit %s: %v", rev.GetName(), err)
	}
	return rev.GetName()
}

// approve approves a submitted revision as the approver.
func approve(e *spendEnv, name string) (*budgetv1.Budget, error) {
	return e.approver.ApproveBudget(context.Background(), &budgetv1.ApproveBudgetRequest{Name: name})
}

// outboxEvents decodes the payloads of the outbox events whose subject ends with suffix, in
// the order they were written, as messages like proto.
func outboxEvents[M proto.Message](t *testing.T, e *spendEnv, suffix string, newM func() M) []M {
	t.Helper()
	var out []M
	for _, payload := range testkit.Column[[]byte](t, e.db, `SELECT payload FROM outbox WHERE subject LIKE $1 ORDER BY seq`, "%"+suffix) {
		m := newM()
		if err := protojson.Unmarshal(payload, m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestReferencesAcrossRevisions(t *testing.T) {
	t.Parallel()
	forEachSpendDatabase(t, func(t *testing.T, e *spendEnv) {
		ctx := context.Background()
		seedApprovedBudget(t, e, "infra", "b", "EUR", domain.PolicyWarn, fixtureLine{id: "l", planned: 100000})
		a := mustActual(t, e, "budgets/b/lines/l", 50000, "EUR", day(2026, 5, 1), "", "")
		c, err := recordCommitment(e, "budgets/b/lines/l", 20000, day(2026, 7, 1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := approve(e, revise(t, e, "b", "b2", nil)); err != nil {
			t.Fatal(err)
		}

		// Under revision 2, a correction of the revision-1 actual and an actual consuming the
		// revision-1 commitment name them where they live.
		fix := mustActual(t, e, "budgets/b2/lines/l", -10000, "EUR", day(2026, 6, 1), a.GetName(), "")
		use := mustActual(t, e, "budgets/b2/lines/l", 5000, "EUR", day(2026, 7, 2), "", c.GetName())
		if fix.GetCorrects() != a.GetName() || use.GetCommitment() != c.GetName() {
			t.Errorf("recorded: corrects %q (want %q), commitment %q (want %q)", fix.GetCorrects(), a.GetName(), use.GetCommitment(), c.GetName())
		}
		for _, want := range []*budgetv1.Actual{fix, use} {
			got, err := e.client.GetActual(ctx, &budgetv1.GetActualRequest{Name: want.GetName()})
			if err != nil || !proto.Equal(got, want) {
				t.Errorf("get %s = %v, %v; want %v", want.GetName(), got, err, want)
			}
		}
		list, err := e.client.ListActuals(ctx, &budgetv1.ListActualsRequest{Parent: "budgets/b2/lines/l"})
		if err != nil || len(list.GetActuals()) != 2 {
			t.Fatalf("list = %v, %v", list, err)
		}
		for _, got := range list.GetActuals() {
			if got.GetCorrects() != "" && got.GetCorrects() != a.GetName() || got.GetCommitment() != "" && got.GetCommitment() != c.GetName() {
				t.Errorf("listed %s = corrects %q, commitment %q", got.GetName(), got.GetCorrects(), got.GetCommitment())
			}
		}
		orig, err := e.client.GetActual(ctx, &budgetv1.GetActualRequest{Name: fix.GetCorrects()})
		if err != nil || orig.GetName() != a.GetName() || minorOf(orig.GetConvertedAmount()) != 50000 {
			t.Errorf("get corrected %s = %v, %v", fix.GetCorrects(), orig, err)
		}
		if _, err := e.client.GetCommitment(ctx, &budgetv1.GetCommitmentRequest{Name: use.GetCommitment()}); err != nil {
			t.Errorf("get commitment %s: %v", use.GetCommitment(), err)
		}
		recorded := outboxEvents(t, e, ".actual.recorded", func() *budgetv1.ActualRecorded { return &budgetv1.ActualRecorded{} })
		if n := len(recorded); n != 3 || recorded[1].GetActual().GetCorrects() != a.GetName() || recorded[2].GetActual().GetCommitment() != c.GetName() {
			t.Errorf("actual.recorded events = %v", recorded)
		}
	})
}

func TestApprovingARevisionWithSpend(t *testing.T) {
	t.Parallel()
	forEachSpendDatabase(t, func(t *testing.T, e *spendEnv) {
		ctx := context.Background()
		seedApprovedBudget(t, e, "infra", "b", "EUR", domain.PolicyWarn,
			fixtureLine{id: "l", planned: 100000}, fixtureLine{id: "m", planned: 100000})
		mustActual(t, e, "budgets/b/lines/l", 70000, "EUR", day(2026, 5, 1), "", "")
		if got := outboxCount(t, e, ".line.threshold_crossed"); got != 0 {
			t.Fatalf("threshold crossings at 70 %% = %d", got)
		}

		// (b) A revision without a line that has spend cannot be approved. The line is deleted
		// while it has none; spend arrives on the revision in force before the approval.
		gone := revise(t, e, "b", "b2", func(rev string) {
			if _, err := e.client.DeleteBudgetLine(ctx, &budgetv1.DeleteBudgetLineRequest{Name: rev + "/lines/m"}); err != nil {
				t.Fatal(err)
			}
		})
		mustActual(t, e, "budgets/b/lines/m", 100, "EUR", day(2026, 5, 1), "", "")
		_, err := approve(e, gone)
		wantStatus(t, err, codes.FailedPrecondition, "LINE_HAS_SPEND")
		if got := getBudget(t, e.env, "budgets/b"); got.GetState() != budgetv1.Budget_APPROVED {
			t.Errorf("revision in force after the refused approval = %v", got.GetState())
		}
		if _, err := e.approver.RejectBudget(ctx, &budgetv1.RejectBudgetRequest{Name: gone, Reason: "keeps m"}); err != nil {
			t.Fatal(err)
		}

		// (a) A revision lowering l to 850.00 puts its 700.00 at 82 %: the approval crosses 80 %.
		lower := revise(t, e, "b", "b3", func(rev string) {
			if _, err := e.client.UpdateBudgetLine(ctx, &budgetv1.UpdateBudgetLineRequest{
				BudgetLine: &budgetv1.BudgetLine{Name: rev + "/lines/l", PlannedAmount: cents(85000, "")},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"planned_amount", "phasing"}},
			}); err != nil {
				t.Fatal(err)
			}
		})
		if _, err := approve(e, lower); err != nil {
			t.Fatal(err)
		}
		crossed := outboxEvents(t, e, ".line.threshold_crossed", func() *budgetv1.LineThresholdCrossed { return &budgetv1.LineThresholdCrossed{} })
		if len(crossed) != 1 || crossed[0].GetCause() != lower || crossed[0].GetLine() != lower+"/lines/l" ||
			crossed[0].GetThresholdPercent() != 80 || crossed[0].GetConsumptionBasisPoints() != 8235 {
			t.Errorf("threshold_crossed events = %v, want one of 80 %% on %s/lines/l caused by %s", crossed, lower, lower)
		}

		// (c) The superseded revision takes no more spend and names its successor; the new
		// revision's figures count the spend recorded under the old one.
		_, err = recordActual(e, "budgets/b/lines/l", 100, "EUR", day(2026, 6, 1), "", "")
		wantStatus(t, err, codes.FailedPrecondition, "BUDGET_SUPERSEDED")
		if info, _ := rpc.Details(err); info.GetMetadata()["superseded_by"] != lower {
			t.Errorf("metadata = %v, want superseded_by %s", info.GetMetadata(), lower)
		}
		_, err = recordCommitment(e, "budgets/b/lines/l", 100, day(2026, 7, 1))
		wantStatus(t, err, codes.FailedPrecondition, "BUDGET_SUPERSEDED")
		s := summary(t, e, "b3")
		if minorOf(s.GetTotal().GetActual()) != 70100 || minorOf(s.GetTotal().GetPlanned()) != 185000 ||
			minorOf(s.GetLines()[0].GetFigures().GetActual()) != 70000 || minorOf(s.GetLines()[1].GetFigures().GetActual()) != 100 {
			t.Errorf("summary of %s = total actual %v planned %v", lower, s.GetTotal().GetActual(), s.GetTotal().GetPlanned())
		}
		mustActual(t, e, lower+"/lines/l", 100, "EUR", day(2026, 6, 1), "", "")
		checkRecomputed(t, e, "b")
	})
}
