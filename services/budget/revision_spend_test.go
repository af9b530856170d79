package budget_test

import (
	"context"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
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
	rows, err := e.db.QueryContext(context.Background(), `SELECT payload FROM outbox WHERE subject LIKE $1 ORDER BY seq`, "%"+suffix)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []M
	for rows.Next() {
		var payload []byte
		if err := rows.Scan(&payload); err != nil {
			t.Fatal(err)
		}
		m := newM()
		if err := protojson.Unmarshal(payload, m); err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
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
