package risk_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestAcceptances requests, refuses and decides acceptances: one live acceptance per assessed
// risk that is not closed, an expiry date after today and within the limit, decisions by an
// approver with risk.approve who is not the risk's owner, and the paths to REJECTED, WITHDRAWN
// and REVOKED.
func TestAcceptances(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		r := startRegister(t, db, dec4)
		ctx := context.Background()
		rk := r.newRisk(t, "legacy-erp", true)
		request := func(risk, id string, expiry int32) (*riskv1.Acceptance, error) {
			return r.client.CreateAcceptance(ctx, &riskv1.CreateAcceptanceRequest{Parent: risk, AcceptanceId: id,
				Acceptance: &riskv1.Acceptance{Justification: "Replaced by the new ERP in Q2; compensating controls in place.",
					ExpiryDate: day(2027, 3, expiry)}})
		}

		a, err := request(rk.GetName(), "q1", 31)
		if err != nil {
			t.Fatal(err)
		}
		if a.GetName() != "risks/legacy-erp/acceptances/q1" || a.GetState() != riskv1.Acceptance_PENDING ||
			a.GetRequester() != identitytest.Subject || a.GetAcceptedScore() != 9 || a.GetApprover() != "" || a.GetDecideTime() != nil {
			t.Errorf("requested acceptance = %v", a)
		}
		if n := countEvents(t, r.db, ".acceptance.requested", a.GetName()); n != 1 {
			t.Errorf("acceptance.requested events = %d", n)
		}
		if items := dueItems(t, r.db, a.GetName()); len(items) != 0 {
			t.Errorf("a pending acceptance has due items %v", items)
		}

		// Refusals of the request.
		_, err = request(rk.GetName(), "q1-again", 30)
		r.AssertStatus(t, err, codes.FailedPrecondition, "ACCEPTANCE_EXISTS")
		other := r.newRisk(t, "shadow-it", true)
		_, err = r.client.CreateAcceptance(ctx, &riskv1.CreateAcceptanceRequest{Parent: other.GetName(),
			Acceptance: &riskv1.Acceptance{Justification: "x", ExpiryDate: day(2026, 12, 4)}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "acceptance.expiry_date")
		_, err = r.client.CreateAcceptance(ctx, &riskv1.CreateAcceptanceRequest{Parent: other.GetName(),
			Acceptance: &riskv1.Acceptance{Justification: "x", ExpiryDate: day(2028, 12, 5)}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "acceptance.expiry_date")
		_, err = r.client.CreateAcceptance(ctx, &riskv1.CreateAcceptanceRequest{Parent: other.GetName(),
			Acceptance: &riskv1.Acceptance{Justification: "   ", ExpiryDate: day(2027, 1, 5)}})
		testkit.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "acceptance.justification")
		unscored := r.newRisk(t, "unscored", false)
		_, err = request(unscored.GetName(), "", 31)
		r.AssertStatus(t, err, codes.FailedPrecondition, "RISK_NOT_ASSESSED")
		_, err = request("risks/nothere", "", 31)
		r.AssertStatus(t, err, codes.NotFound, "RISK_NOT_FOUND")

		// The decision: not by the owner, not without risk.approve.
		_, err = r.owner.ApproveAcceptance(ctx, &riskv1.ApproveAcceptanceRequest{Name: a.GetName()})
		r.AssertStatus(t, err, codes.PermissionDenied, "APPROVER_IS_OWNER")
		_, err = r.owner.RejectAcceptance(ctx, &riskv1.RejectAcceptanceRequest{Name: a.GetName(), Reason: "no"})
		r.AssertStatus(t, err, codes.PermissionDenied, "APPROVER_IS_OWNER")
		// Another key of the owner's principal is still the owner (separation of duties compares
		// people, not keys).
		ownerAgain := riskv1.NewRiskServiceClient(r.ConnOf(t, "apiKeys/owner-2", rk.GetOwner(), "risk.read", "risk.approve"))
		_, err = ownerAgain.ApproveAcceptance(ctx, &riskv1.ApproveAcceptanceRequest{Name: a.GetName()})
		r.AssertStatus(t, err, codes.PermissionDenied, "APPROVER_IS_OWNER")
		writer := riskv1.NewRiskServiceClient(r.ConnAs(t, "users/writer", "risk.read", "risk.write"))
		_, err = writer.ApproveAcceptance(ctx, &riskv1.ApproveAcceptanceRequest{Name: a.GetName()})
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("approve with risk.write only = %v; want PERMISSION_DENIED", err)
		}
		_, err = r.approver.ApproveAcceptance(ctx, &riskv1.ApproveAcceptanceRequest{Name: a.GetName(), Etag: `"stale"`})
		r.AssertStatus(t, err, codes.Aborted, "ETAG_MISMATCH")
		ok, err := r.approver.ApproveAcceptance(ctx, &riskv1.ApproveAcceptanceRequest{Name: a.GetName(), Etag: a.GetEtag(),
			Reason: "Accepted until the migration."})
		if err != nil {
			t.Fatal(err)
		}
		if ok.GetState() != riskv1.Acceptance_APPROVED || ok.GetApprover() != "users/approver" || ok.GetDecisionReason() != "Accepted until the migration." ||
			ok.GetDecideTime() == nil {
			t.Errorf("approved = %v", ok)
		}
		if got := dueItems(t, r.db, a.GetName())["acceptance_expiry"]; !got.Equal(midnight(2027, 4, 1)) {
			t.Errorf("expiry item due %v, want the start of 2027-04-01", got)
		}
		_, err = r.approver.ApproveAcceptance(ctx, &riskv1.ApproveAcceptanceRequest{Name: a.GetName()})
		r.AssertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		_, err = r.client.WithdrawAcceptance(ctx, &riskv1.WithdrawAcceptanceRequest{Name: a.GetName(), Reason: "changed my mind"})
		r.AssertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")

		// Revoked before its expiry: the expiry date is cleared and a new acceptance can be asked.
		rev, err := r.approver.RevokeAcceptance(ctx, &riskv1.RevokeAcceptanceRequest{Name: a.GetName(), Reason: "The migration slipped."})
		if err != nil || rev.GetState() != riskv1.Acceptance_REVOKED || rev.GetApprover() != "users/approver" {
			t.Fatalf("revoke = %v, %v", rev, err)
		}
		if items := dueItems(t, r.db, a.GetName()); len(items) != 0 {
			t.Errorf("a revoked acceptance keeps due items %v", items)
		}

		// Rejected, and withdrawn: both final, neither with a date.
		b, err := request(rk.GetName(), "q2", 15)
		if err != nil {
			t.Fatal(err)
		}
		rej, err := r.approver.RejectAcceptance(ctx, &riskv1.RejectAcceptanceRequest{Name: b.GetName(), Reason: "Not without a compensating control."})
		if err != nil || rej.GetState() != riskv1.Acceptance_REJECTED || rej.GetApprover() != "users/approver" {
			t.Fatalf("reject = %v, %v", rej, err)
		}
		c, err := request(rk.GetName(), "q3", 15)
		if err != nil {
			t.Fatal(err)
		}
		wd, err := r.client.WithdrawAcceptance(ctx, &riskv1.WithdrawAcceptanceRequest{Name: c.GetName(), Reason: "Mitigating instead."})
		if err != nil || wd.GetState() != riskv1.Acceptance_WITHDRAWN {
			t.Fatalf("withdraw = %v, %v", wd, err)
		}
		for _, ev := range []string{".acceptance.approved", ".acceptance.revoked"} {
			if n := countEvents(t, r.db, ev, a.GetName()); n != 1 {
				t.Errorf("%s events of %s = %d, want 1", ev, a.GetName(), n)
			}
		}
		if n := countEvents(t, r.db, ".acceptance.rejected", b.GetName()) + countEvents(t, r.db, ".acceptance.withdrawn", c.GetName()); n != 2 {
			t.Errorf("rejected + withdrawn events = %d, want 2", n)
		}
		list, err := r.client.ListAcceptances(ctx, &riskv1.ListAcceptancesRequest{Parent: "risks/-", Filter: "state = REVOKED OR state = REJECTED"})
		if err != nil || len(list.GetAcceptances()) != 2 {
			t.Errorf("revoked or rejected acceptances = %v, %v; want 2", list, err)
		}
	})
}

// TestAcceptanceExpiry moves the clock to the day after an approved acceptance's expiry date:
// it becomes EXPIRED, acceptance.expired is published once, and nothing fires for an acceptance
// that was still pending on its expiry date.
func TestAcceptanceExpiry(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		r := startRegister(t, db, dec4)
		ctx := context.Background()
		rk := r.newRisk(t, "legacy-erp", true)
		pendingRisk := r.newRisk(t, "pending", true)
		a, err := r.client.CreateAcceptance(ctx, &riskv1.CreateAcceptanceRequest{Parent: rk.GetName(), AcceptanceId: "q1",
			Acceptance: &riskv1.Acceptance{Justification: "Until the migration.", ExpiryDate: day(2027, 1, 31)}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.approver.ApproveAcceptance(ctx, &riskv1.ApproveAcceptanceRequest{Name: a.GetName()}); err != nil {
			t.Fatal(err)
		}
		p, err := r.client.CreateAcceptance(ctx, &riskv1.CreateAcceptanceRequest{Parent: pendingRisk.GetName(), AcceptanceId: "q1",
			Acceptance: &riskv1.Acceptance{Justification: "Never decided.", ExpiryDate: day(2027, 1, 31)}})
		if err != nil {
			t.Fatal(err)
		}

		r.clock.Set(midnight(2027, 1, 31).Add(23 * time.Hour))
		if got, _ := r.client.GetAcceptance(ctx, &riskv1.GetAcceptanceRequest{Name: a.GetName()}); got.GetState() != riskv1.Acceptance_APPROVED {
			t.Errorf("acceptance on its expiry date = %v, want APPROVED", got.GetState())
		}
		// Too late to approve the pending one: its expiry date is today.
		_, err = r.approver.ApproveAcceptance(ctx, &riskv1.ApproveAcceptanceRequest{Name: p.GetName()})
		r.AssertStatus(t, err, codes.FailedPrecondition, "ACCEPTANCE_EXPIRY_PASSED")

		r.clock.Set(midnight(2027, 2, 1))
		testkit.Eventually(t, 10*time.Second, func() bool { return countEvents(t, r.db, ".acceptance.expired", a.GetName()) > 0 })
		ev := outbox(t, r.db, ".acceptance.expired", a.GetName(), func() *riskv1.AcceptanceExpired { return &riskv1.AcceptanceExpired{} })
		if len(ev) != 1 || ev[0].GetAcceptance().GetState() != riskv1.Acceptance_EXPIRED || ev[0].GetExpiryDate().GetDay() != 31 ||
			!ev[0].GetDueTime().AsTime().Equal(midnight(2027, 2, 1)) || ev[0].GetVersion() != 3 {
			t.Errorf("acceptance.expired = %v", ev)
		}
		got, err := r.client.GetAcceptance(ctx, &riskv1.GetAcceptanceRequest{Name: a.GetName()})
		if err != nil || got.GetState() != riskv1.Acceptance_EXPIRED {
			t.Errorf("after its expiry = %v, %v", got, err)
		}
		// Once expired, the risk can be accepted again.
		if _, err := r.client.CreateAcceptance(ctx, &riskv1.CreateAcceptanceRequest{Parent: rk.GetName(),
			Acceptance: &riskv1.Acceptance{Justification: "Another quarter.", ExpiryDate: day(2027, 4, 30)}}); err != nil {
			t.Errorf("a new acceptance after the expiry: %v", err)
		}
		if n := countEvents(t, r.db, ".acceptance.expired", p.GetName()); n != 0 {
			t.Errorf("the pending acceptance expired %d times", n)
		}
	})
}
