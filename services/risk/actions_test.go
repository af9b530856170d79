package risk_test

import (
	"context"
	"testing"
	"time"

	moneypb "google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

func eur(units int64) *moneypb.Money { return &moneypb.Money{CurrencyCode: "EUR", Units: units} }

// TestMitigationActions walks an action through its lifecycle and its refusals: created OPEN
// with its overdue date declared, updated (the date moves), started, and the refusals of bad
// input, stale etags, illegal transitions, a missing risk and a caller without risk.write.
func TestMitigationActions(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		r := startRegister(t, db, dec4)
		ctx := context.Background()
		rk := r.newRisk(t, "vpn", false)

		a, err := r.client.CreateMitigationAction(ctx, &riskv1.CreateMitigationActionRequest{Parent: rk.GetName(),
			MitigationActionId: "mfa", MitigationAction: &riskv1.MitigationAction{Title: " Enforce MFA on the VPN ",
				Owner: "users/netops", DueDate: day(2027, 1, 31), CostEstimate: eur(12_500), BudgetLine: "budgets/it-2027/lines/security"}})
		if err != nil {
			t.Fatal(err)
		}
		if a.GetName() != "risks/vpn/actions/mfa" || a.GetTitle() != "Enforce MFA on the VPN" || a.GetState() != riskv1.MitigationAction_OPEN ||
			a.GetOverdue() || a.GetCostEstimate().GetUnits() != 12_500 || a.GetCostEstimate().GetCurrencyCode() != "EUR" || a.GetEtag() == "" {
			t.Errorf("created action = %v", a)
		}
		if got := dueItems(t, r.db, a.GetName())["action_overdue"]; !got.Equal(midnight(2027, 2, 1)) {
			t.Errorf("overdue item due %v, want the start of 2027-02-01", got)
		}
		if n := countEvents(t, r.db, ".action.created", a.GetName()); n != 1 {
			t.Errorf("action.created events = %d", n)
		}

		// Bad input names its fields.
		for _, c := range []struct {
			name   string
			action *riskv1.MitigationAction
			reason string
			field  string
		}{
			{"past due date", &riskv1.MitigationAction{Title: "x", Owner: "o", DueDate: day(2026, 12, 3)}, "INVALID_ARGUMENT", "mitigation_action.due_date"},
			{"bad date", &riskv1.MitigationAction{Title: "x", Owner: "o", DueDate: day(2027, 2, 30)}, "DATE_INVALID", "mitigation_action.due_date"},
			{"blank title", &riskv1.MitigationAction{Title: "  ", Owner: "o", DueDate: day(2027, 2, 1)}, "INVALID_ARGUMENT", "mitigation_action.title"},
			{"negative cost", &riskv1.MitigationAction{Title: "x", Owner: "o", DueDate: day(2027, 2, 1), CostEstimate: eur(-5)}, "INVALID_ARGUMENT", "mitigation_action.cost_estimate"},
			{"bad currency", &riskv1.MitigationAction{Title: "x", Owner: "o", DueDate: day(2027, 2, 1),
				CostEstimate: &moneypb.Money{CurrencyCode: "XXX", Units: 5}}, "CURRENCY_UNSUPPORTED", "mitigation_action.cost_estimate"},
		} {
			_, err := r.client.CreateMitigationAction(ctx, &riskv1.CreateMitigationActionRequest{Parent: rk.GetName(), MitigationAction: c.action})
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("%s: %v; want INVALID_ARGUMENT", c.name, err)
				continue
			}
			testkit.AssertStatus(t, err, codes.InvalidArgument, c.reason, c.field)
		}
		_, err = r.client.CreateMitigationAction(ctx, &riskv1.CreateMitigationActionRequest{Parent: "risks/nothere",
			MitigationAction: &riskv1.MitigationAction{Title: "x", Owner: "o", DueDate: day(2027, 2, 1)}})
		r.AssertStatus(t, err, codes.NotFound, "RISK_NOT_FOUND")
		_, err = r.client.CreateMitigationAction(ctx, &riskv1.CreateMitigationActionRequest{Parent: rk.GetName(), MitigationActionId: "mfa",
			MitigationAction: &riskv1.MitigationAction{Title: "x", Owner: "o", DueDate: day(2027, 2, 1)}})
		r.AssertStatus(t, err, codes.AlreadyExists, "MITIGATION_ACTION_ALREADY_EXISTS")
		reader := riskv1.NewRiskServiceClient(r.ConnAs(t, "users/reader", "risk.read"))
		_, err = reader.CreateMitigationAction(ctx, &riskv1.CreateMitigationActionRequest{Parent: rk.GetName(),
			MitigationAction: &riskv1.MitigationAction{Title: "x", Owner: "o", DueDate: day(2027, 2, 1)}})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("create with risk.read only = %v; want PERMISSION_DENIED", err)
		}

		// A new due date moves the overdue date in the same transaction.
		up, err := r.client.UpdateMitigationAction(ctx, &riskv1.UpdateMitigationActionRequest{
			MitigationAction: &riskv1.MitigationAction{Name: a.GetName(), DueDate: day(2027, 1, 15), Etag: a.GetEtag()},
			UpdateMask:       &fieldmaskpb.FieldMask{Paths: []string{"due_date"}}})
		if err != nil || up.GetDueDate().GetDay() != 15 || up.GetEtag() == a.GetEtag() {
			t.Fatalf("update due date = %v, %v", up, err)
		}
		if got := dueItems(t, r.db, a.GetName())["action_overdue"]; !got.Equal(midnight(2027, 1, 16)) {
			t.Errorf("overdue item due %v after the update, want the start of 2027-01-16", got)
		}
		upd := outbox(t, r.db, ".action.updated", a.GetName(), func() *riskv1.ActionUpdated { return &riskv1.ActionUpdated{} })
		if len(upd) != 1 || len(upd[0].GetChangedFields().GetPaths()) != 1 || upd[0].GetChangedFields().GetPaths()[0] != "due_date" || upd[0].GetVersion() != 2 {
			t.Errorf("action.updated = %v", upd)
		}
		// The old etag is stale now; the cost estimate can be cleared.
		_, err = r.client.UpdateMitigationAction(ctx, &riskv1.UpdateMitigationActionRequest{
			MitigationAction: &riskv1.MitigationAction{Name: a.GetName(), Title: "y", Etag: a.GetEtag()},
			UpdateMask:       &fieldmaskpb.FieldMask{Paths: []string{"title"}}})
		r.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		cleared, err := r.client.UpdateMitigationAction(ctx, &riskv1.UpdateMitigationActionRequest{
			MitigationAction: &riskv1.MitigationAction{Name: a.GetName()},
			UpdateMask:       &fieldmaskpb.FieldMask{Paths: []string{"cost_estimate"}}})
		if err != nil || cleared.GetCostEstimate() != nil {
			t.Errorf("clear the cost estimate = %v, %v", cleared, err)
		}

		started, err := r.client.StartMitigationAction(ctx, &riskv1.StartMitigationActionRequest{Name: a.GetName()})
		if err != nil || started.GetState() != riskv1.MitigationAction_IN_PROGRESS {
			t.Fatalf("start = %v, %v", started, err)
		}
		_, err = r.client.StartMitigationAction(ctx, &riskv1.StartMitigationActionRequest{Name: a.GetName()})
		r.AssertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		_, err = r.client.CancelMitigationAction(ctx, &riskv1.CancelMitigationActionRequest{Name: a.GetName(), Reason: " "})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "reason")
		got, err := r.client.GetMitigationAction(ctx, &riskv1.GetMitigationActionRequest{Name: a.GetName()})
		if err != nil || got.GetState() != riskv1.MitigationAction_IN_PROGRESS || got.GetEtag() != started.GetEtag() {
			t.Errorf("get = %v, %v", got, err)
		}
		_, err = r.client.GetMitigationAction(ctx, &riskv1.GetMitigationActionRequest{Name: "risks/vpn/actions/nothere"})
		r.AssertStatus(t, err, codes.NotFound, "MITIGATION_ACTION_NOT_FOUND")
	})
}

// TestActionOverdue moves the clock past the due dates of a risk's actions: the action still to
// be done falls overdue once, at the start of the day after its due date; the completed and the
// cancelled ones never do, and neither does the old date of a moved one. Lists select the overdue
// actions across risks.
func TestActionOverdue(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		r := startRegister(t, db, dec4)
		ctx := context.Background()
		rk := r.newRisk(t, "erp", false)
		create := func(id string, due *riskv1.MitigationAction) *riskv1.MitigationAction {
			t.Helper()
			due.Title, due.Owner = "Action "+id, "users/ops"
			a, err := r.client.CreateMitigationAction(ctx, &riskv1.CreateMitigationActionRequest{Parent: rk.GetName(), MitigationActionId: id, MitigationAction: due})
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		late := create("late", &riskv1.MitigationAction{DueDate: day(2027, 1, 10)})
		done := create("done", &riskv1.MitigationAction{DueDate: day(2027, 1, 10)})
		dropped := create("dropped", &riskv1.MitigationAction{DueDate: day(2027, 1, 10)})
		moved := create("moved", &riskv1.MitigationAction{DueDate: day(2027, 1, 10)})
		if _, err := r.client.CompleteMitigationAction(ctx, &riskv1.CompleteMitigationActionRequest{Name: done.GetName()}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.client.CancelMitigationAction(ctx, &riskv1.CancelMitigationActionRequest{Name: dropped.GetName(), Reason: "superseded"}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.client.UpdateMitigationAction(ctx, &riskv1.UpdateMitigationActionRequest{
			MitigationAction: &riskv1.MitigationAction{Name: moved.GetName(), DueDate: day(2027, 3, 31)},
			UpdateMask:       &fieldmaskpb.FieldMask{Paths: []string{"due_date"}}}); err != nil {
			t.Fatal(err)
		}
		for _, a := range []*riskv1.MitigationAction{done, dropped} {
			if items := dueItems(t, r.db, a.GetName()); len(items) != 0 {
				t.Errorf("%s keeps due items %v", a.GetName(), items)
			}
		}

		// The last day of the due date: nothing yet.
		r.clock.Set(midnight(2027, 1, 10).Add(23 * time.Hour))
		if got, _ := r.client.GetMitigationAction(ctx, &riskv1.GetMitigationActionRequest{Name: late.GetName()}); got.GetOverdue() {
			t.Errorf("action overdue on its due date")
		}
		r.clock.Set(midnight(2027, 1, 11))
		testkit.Eventually(t, 10*time.Second, func() bool { return countEvents(t, r.db, ".action.overdue", late.GetName()) > 0 })
		ev := outbox(t, r.db, ".action.overdue", late.GetName(), func() *riskv1.ActionOverdue { return &riskv1.ActionOverdue{} })
		if len(ev) != 1 || !ev[0].GetDueTime().AsTime().Equal(midnight(2027, 1, 11)) || ev[0].GetDueDate().GetDay() != 10 ||
			!ev[0].GetAction().GetOverdue() || ev[0].GetVersion() != 2 || ev[0].GetAction().GetState() != riskv1.MitigationAction_OPEN {
			t.Errorf("action.overdue = %v; want one, due at the start of 2027-01-11", ev)
		}
		got, err := r.client.GetMitigationAction(ctx, &riskv1.GetMitigationActionRequest{Name: late.GetName()})
		if err != nil || !got.GetOverdue() {
			t.Errorf("late action = %v, %v; want overdue", got, err)
		}
		list, err := r.client.ListMitigationActions(ctx, &riskv1.ListMitigationActionsRequest{Parent: "risks/-", Filter: "overdue = true"})
		if err != nil || len(list.GetMitigationActions()) != 1 || list.GetMitigationActions()[0].GetName() != late.GetName() {
			t.Errorf("overdue actions = %v, %v; want the late one", list, err)
		}

		// Past every date, including the moved action's new one, which fires for it alone.
		r.clock.Set(midnight(2027, 4, 1))
		testkit.Eventually(t, 10*time.Second, func() bool { return countEvents(t, r.db, ".action.overdue", moved.GetName()) > 0 })
		for _, c := range []struct {
			a    *riskv1.MitigationAction
			want int
		}{{late, 1}, {done, 0}, {dropped, 0}, {moved, 1}} {
			if n := countEvents(t, r.db, ".action.overdue", c.a.GetName()); n != c.want {
				t.Errorf("action.overdue of %s = %d, want %d", c.a.GetName(), n, c.want)
			}
		}
		mv := outbox(t, r.db, ".action.overdue", moved.GetName(), func() *riskv1.ActionOverdue { return &riskv1.ActionOverdue{} })
		if len(mv) != 1 || !mv[0].GetDueTime().AsTime().Equal(midnight(2027, 4, 1)) {
			t.Errorf("overdue of the moved action = %v; want due at the start of 2027-04-01", mv)
		}
		// Completing an overdue action clears the flag.
		fin, err := r.client.CompleteMitigationAction(ctx, &riskv1.CompleteMitigationActionRequest{Name: late.GetName()})
		if err != nil || fin.GetOverdue() || fin.GetState() != riskv1.MitigationAction_DONE || fin.GetCompleteTime() == nil {
			t.Errorf("complete the late action = %v, %v", fin, err)
		}
	})
}

// TestClosedRisk: a CLOSED risk takes no new action and no approval, and its open actions do not
// fall overdue; reopened, it takes actions again.
func TestClosedRisk(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		r := startRegister(t, db, dec4)
		ctx := context.Background()
		rk := r.newRisk(t, "retired", true)
		a, err := r.client.CreateMitigationAction(ctx, &riskv1.CreateMitigationActionRequest{Parent: rk.GetName(),
			MitigationAction: &riskv1.MitigationAction{Title: "Decommission", Owner: "users/ops", DueDate: day(2027, 1, 10)}})
		if err != nil {
			t.Fatal(err)
		}
		q, err := r.client.CreateAcceptance(ctx, &riskv1.CreateAcceptanceRequest{Parent: rk.GetName(),
			Acceptance: &riskv1.Acceptance{Justification: "Retiring anyway.", ExpiryDate: day(2027, 3, 31)}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.client.CloseRisk(ctx, &riskv1.CloseRiskRequest{Name: rk.GetName(), Reason: "system retired"}); err != nil {
			t.Fatal(err)
		}
		_, err = r.client.CreateMitigationAction(ctx, &riskv1.CreateMitigationActionRequest{Parent: rk.GetName(),
			MitigationAction: &riskv1.MitigationAction{Title: "x", Owner: "o", DueDate: day(2027, 2, 1)}})
		r.AssertStatus(t, err, codes.FailedPrecondition, "RISK_CLOSED")
		_, err = r.approver.ApproveAcceptance(ctx, &riskv1.ApproveAcceptanceRequest{Name: q.GetName()})
		r.AssertStatus(t, err, codes.FailedPrecondition, "RISK_CLOSED")

		// Past the action's due date: its item fires and does nothing.
		r.clock.Set(midnight(2027, 1, 11))
		testkit.Eventually(t, 10*time.Second, func() bool { return len(dueItems(t, r.db, a.GetName())) == 0 })
		if n := countEvents(t, r.db, ".action.overdue", a.GetName()); n != 0 {
			t.Errorf("an action of a CLOSED risk fell overdue %d times", n)
		}
		if _, err := r.client.ReopenRisk(ctx, &riskv1.ReopenRiskRequest{Name: rk.GetName(), Reason: "not retired after all"}); err != nil {
			t.Fatal(err)
		}
		if _, err := r.client.CreateMitigationAction(ctx, &riskv1.CreateMitigationActionRequest{Parent: rk.GetName(),
			MitigationAction: &riskv1.MitigationAction{Title: "Patch", Owner: "users/ops", DueDate: day(2027, 2, 1)}}); err != nil {
			t.Errorf("an action of the reopened risk: %v", err)
		}
	})
}
