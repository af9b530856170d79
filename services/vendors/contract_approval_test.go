package vendors_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestApproveContract follows ADR 0010 against a real budget service: the approval holds the
// contract's total value on its line, commits the contract ACTIVE with contract.activated naming
// the hold, finds the same hold when retried, and changes nothing when budget refuses or is down.
func TestApproveContract(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startContracts(t, db, dec4)
		ctx := context.Background()

		// Success: ACTIVE on a HELD hold of the total value for the term.
		c := e.pending(t, "cloud", cloudContract())
		rid := newRequestID()
		act, err := e.approver.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: c.GetName(), RequestId: rid, Etag: c.GetEtag()})
		if err != nil || act.GetState() != vendorsv1.Contract_ACTIVE || act.GetApprover() != "apiKeys/approver" || act.GetHold() == "" {
			t.Fatalf("approve = %v, %v", act, err)
		}
		hold, err := e.budgetClient.GetHold(ctx, &budgetv1.GetHoldRequest{Name: act.GetHold()})
		if err != nil {
			t.Fatal(err)
		}
		// FY2027 runs from April 2026 to March 2027: 90 of the term's 365 days fall in it.
		if hold.GetState() != budgetv1.Hold_HELD || !strings.HasPrefix(hold.GetName(), "budgets/it-2027/lines/cloud/holds/") ||
			minor(hold.GetAmount()) != 1_200_000 || minor(hold.GetHeldAmount()) != 295_890 ||
			dateString(hold.GetServiceStartDate()) != "2027-01-01" || dateString(hold.GetServiceEndDate()) != "2027-12-31" ||
			hold.GetSource() != budgetv1.Commitment_CONTRACT || hold.GetSourceReference() != c.GetName() ||
			hold.GetDescription() != "Acme Cloud 2027" || hold.GetCreator() != "apiKeys/approver" ||
			!hold.GetExpireTime().AsTime().Equal(dec4.Add(15*time.Minute)) {
			t.Errorf("hold = %v; want 12 000.00 EUR held for the 2027 term by the approver, expiring in 15 minutes", hold)
		}
		activated := events(t, e.db, ".contract.activated", func() *vendorsv1.ContractActivated { return &vendorsv1.ContractActivated{} })
		if len(activated) != 1 || activated[0].GetHold() != hold.GetName() || activated[0].GetBudgetLine() != "budgets/it-2027/lines/cloud" ||
			minor(activated[0].GetCommittedValue()) != 1_200_000 || activated[0].GetCommittedValue().GetCurrencyCode() != "EUR" ||
			dateString(activated[0].GetServiceStartDate()) != "2027-01-01" || dateString(activated[0].GetServiceEndDate()) != "2027-12-31" ||
			activated[0].GetContract().GetHold() != hold.GetName() || activated[0].GetContract().GetState() != vendorsv1.Contract_ACTIVE {
			t.Errorf("contract.activated = %v; want the hold and the money in clear", activated)
		}

		// The retry of the same approval answers the same and places no second hold.
		again, err := e.approver.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: c.GetName(), RequestId: rid, Etag: c.GetEtag()})
		if err != nil || again.GetHold() != act.GetHold() || again.GetEtag() != act.GetEtag() {
			t.Errorf("retried approval = %v, %v; want the first answer", again, err)
		}
		if holds := e.holdsOf(t, c.GetName()); len(holds) != 1 {
			t.Errorf("holds after a retry = %v; want one", holds)
		}
		if n := outboxCount(t, e.db, ".contract.activated"); n != 1 {
			t.Errorf("contract.activated after a retry = %d, want 1", n)
		}
		// Approving again with another request is a refused transition, before budget is called.
		_, err = e.approver.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: c.GetName(), RequestId: newRequestID()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "INVALID_STATE_TRANSITION")
		if holds := e.holdsOf(t, c.GetName()); len(holds) != 1 {
			t.Errorf("holds after a refused approval = %d; want one", len(holds))
		}

		// BLOCK refusal: budget's reason and figures reach the client; nothing changes.
		tinyContract := cloudContract()
		tinyContract.BudgetLine = "budgets/it-2027/lines/tiny"
		tiny := e.pending(t, "tiny", tinyContract)
		_, err = e.approver.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: tiny.GetName(), RequestId: newRequestID()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "PEER_REFUSED")
		info, _ := rpc.Details(err)
		md := info.GetMetadata()
		if md["peer"] != "budget" || md["peer_reason"] != "INSUFFICIENT_FUNDS" || md["line"] != "budgets/it-2027/lines/tiny" ||
			md["available"] == "" || md["requested"] == "" || !strings.Contains(err.Error(), "exceeds") {
			t.Errorf("refusal = %v, metadata %v; want budget's INSUFFICIENT_FUNDS naming the line and the amounts", err, md)
		}
		if got := e.get(t, tiny.GetName()); got.GetState() != vendorsv1.Contract_PENDING_APPROVAL || got.GetHold() != "" || got.GetEtag() != tiny.GetEtag() {
			t.Errorf("refused contract = %v; want it unchanged", got)
		}
		if n := outboxOf(t, e.db, ".contract.activated", tiny.GetName()); n != 0 {
			t.Errorf("contract.activated of the refused contract = %d", n)
		}
		if holds := e.holdsOf(t, tiny.GetName()); len(holds) != 0 {
			t.Errorf("holds of the refused contract = %v", holds)
		}

		// A caller without budget.spend cannot commit the money.
		noSpend := vendorsv1.NewVendorsServiceClient(e.ConnAs(t, "apiKeys/no-spend", "vendors.read", "vendors.approve"))
		_, err = noSpend.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: tiny.GetName(), RequestId: newRequestID()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "PEER_REFUSED")
		if info, _ := rpc.Details(err); info.GetMetadata()["peer_code"] != "PERMISSION_DENIED" {
			t.Errorf("approval without budget.spend = %v; want budget's PERMISSION_DENIED", err)
		}

		// A vendor that is not ACTIVE: refused before budget is called.
		susp := e.pending(t, "susp", cloudContract())
		if _, err := e.client.SuspendVendor(ctx, &vendorsv1.SuspendVendorRequest{Name: "vendors/acme", Reason: "audit"}); err != nil {
			t.Fatal(err)
		}
		_, err = e.approver.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: susp.GetName(), RequestId: newRequestID()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "VENDOR_NOT_ACTIVE")
		if holds := e.holdsOf(t, susp.GetName()); len(holds) != 0 {
			t.Errorf("holds for a suspended vendor's contract = %v", holds)
		}
		if _, err := e.client.ReinstateVendor(ctx, &vendorsv1.ReinstateVendorRequest{Name: "vendors/acme", Reason: "done"}); err != nil {
			t.Fatal(err)
		}

		// Budget down: UNAVAILABLE, retryable; the contract is unchanged.
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := e.budget.Stop(stopCtx); err != nil {
			t.Fatal(err)
		}
		_, err = e.approver.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: susp.GetName(), RequestId: newRequestID()})
		e.AssertStatus(t, err, codes.Unavailable, "PEER_UNAVAILABLE")
		if got := e.get(t, susp.GetName()); got.GetState() != vendorsv1.Contract_PENDING_APPROVAL || got.GetHold() != "" || got.GetEtag() != susp.GetEtag() {
			t.Errorf("contract after budget was down = %v; want it unchanged", got)
		}
		if n := outboxCount(t, e.db, ".contract.activated"); n != 1 {
			t.Errorf("contract.activated = %d, want only the first", n)
		}
	})
}

// TestApproveContractHoldExpiring: an approval whose hold would lapse within a minute of the
// commit is refused, and the hold released at once.
func TestApproveContractHoldExpiring(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		// Vendors' clock runs 14.5 minutes ahead of budget's: the 15-minute hold has 30 s left.
		e := startContractsOn(t, db, clock.NewFake(dec4), clock.NewFake(dec4.Add(14*time.Minute+30*time.Second)))
		ctx := context.Background()
		c := e.pending(t, "cloud", cloudContract())
		_, err := e.approver.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: c.GetName(), RequestId: newRequestID()})
		e.AssertStatus(t, err, codes.FailedPrecondition, "HOLD_EXPIRING")
		if got := e.get(t, c.GetName()); got.GetState() != vendorsv1.Contract_PENDING_APPROVAL || got.GetHold() != "" {
			t.Errorf("contract = %v; want it pending", got)
		}
		holds := e.holdsOf(t, c.GetName())
		if len(holds) != 1 || holds[0].GetState() != budgetv1.Hold_RELEASED {
			t.Errorf("holds = %v; want the one placed, released", holds)
		}
		if n := outboxCount(t, e.db, ".contract.activated"); n != 0 {
			t.Errorf("contract.activated = %d, want none", n)
		}
	})
}

// TestConcurrentApprovals: concurrent approvals never commit more than a BLOCK line has, and
// approvals racing for one contract activate it once, releasing the holds they did not use.
func TestConcurrentApprovals(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startContracts(t, db, dec4)
		ctx := context.Background()

		// 20 contracts of 10 000.00 EUR for January to March 2027, all inside FY2027, against a
		// line of 100 000.00 EUR: ten fit.
		names := make([]string, 20)
		for i := range names {
			c := cloudContract()
			c.TotalValue, c.AnnualValue, c.EndDate, c.AutoRenew, c.RenewalTermMonths = eur(1_000_000), eur(4_000_000), day(2027, 3, 31), false, 0
			names[i] = e.pending(t, fmt.Sprintf("c%02d", i), c).GetName()
		}
		var active atomic.Int32
		testkit.Concurrently(t, len(names), func(i int) error {
			_, err := e.approver.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: names[i], RequestId: newRequestID()})
			if err == nil {
				active.Add(1)
				return nil
			}
			if info, _ := rpc.Details(err); status.Code(err) == codes.FailedPrecondition && info.GetMetadata()["peer_reason"] == "INSUFFICIENT_FUNDS" {
				return nil
			}
			return err
		})
		if active.Load() != 10 {
			t.Errorf("%d of 20 approvals succeeded; want the 10 the line can hold", active.Load())
		}
		line, err := e.budgetClient.GetBudgetLine(ctx, &budgetv1.GetBudgetLineRequest{Name: "budgets/it-2027/lines/cloud"})
		if err != nil || minor(line.GetHeldAmount()) != 10_000_000 || minor(line.GetAvailableAmount()) != 0 {
			t.Errorf("line = %v, %v; want 100 000.00 held and nothing available", line, err)
		}
		if n := outboxCount(t, e.db, ".contract.activated"); n != 10 {
			t.Errorf("contract.activated = %d, want 10", n)
		}

		// Eight approvers of one contract: one activates it, the other holds are released.
		budgetLine := "budgets/it-2027/lines/tiny"
		one := cloudContract()
		one.TotalValue, one.AnnualValue, one.EndDate, one.BudgetLine, one.AutoRenew, one.RenewalTermMonths = eur(100), eur(400), day(2027, 3, 31), budgetLine, false, 0
		name := e.pending(t, "one", one).GetName()
		var won atomic.Int32
		testkit.Concurrently(t, 8, func(i int) error {
			_, err := e.approver.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: name, RequestId: newRequestID()})
			switch {
			case err == nil:
				won.Add(1)
				return nil
			case status.Code(err) == codes.FailedPrecondition || status.Code(err) == codes.Aborted:
				return nil
			}
			return err
		})
		got := e.get(t, name)
		if won.Load() != 1 || got.GetState() != vendorsv1.Contract_ACTIVE {
			t.Fatalf("%d approvals won; contract %v", won.Load(), got)
		}
		held := 0
		for _, h := range e.holdsOf(t, name) {
			switch h.GetState() {
			case budgetv1.Hold_HELD:
				held++
				if h.GetName() != got.GetHold() {
					t.Errorf("held %s; the contract names %s", h.GetName(), got.GetHold())
				}
			case budgetv1.Hold_RELEASED:
			default:
				t.Errorf("hold %v; want HELD or RELEASED", h)
			}
		}
		if held != 1 {
			t.Errorf("%d holds HELD for the contract; want the one it names", held)
		}
	})
}

// TestContractInBudget runs vendors and budget on one NATS server, so that budget consumes the
// vendors events: the approval's hold becomes the contract's commitment, an invoice becomes an
// actual that reduces it, and the termination releases what remains.
func TestContractInBudget(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		shared := testenv.NATSServer(t)
		fake := clock.NewFake(dec4)
		e := startContractsWith(t, db, fake, fake, &shared)
		ctx := context.Background()
		const lineName = "budgets/it-2027/lines/cloud"
		line := func() *budgetv1.BudgetLine {
			l, err := e.budgetClient.GetBudgetLine(ctx, &budgetv1.GetBudgetLineRequest{Name: lineName})
			if err != nil {
				t.Fatal(err)
			}
			return l
		}
		waitLine := func(ok func(l *budgetv1.BudgetLine) bool) {
			t.Helper()
			testkit.Eventually(t, 20*time.Second, func() bool { return ok(line()) })
		}

		c := e.mustActive(t, "cloud", cloudContract())
		// 90 of the term's 365 days fall in FY2027: 295 890 of 1 200 000 cents.
		waitLine(func(l *budgetv1.BudgetLine) bool {
			return minor(l.GetCommittedAmount()) == 295_890 && minor(l.GetHeldAmount()) == 0
		})
		hold, err := e.budgetClient.GetHold(ctx, &budgetv1.GetHoldRequest{Name: c.GetHold()})
		if err != nil || hold.GetState() != budgetv1.Hold_CONVERTED || hold.GetCommitment() == "" {
			t.Errorf("hold after contract.activated = %v, %v; want CONVERTED into the commitment", hold, err)
		}

		if _, err := e.client.RecordInvoice(ctx, &vendorsv1.RecordInvoiceRequest{Parent: c.GetName(), Invoice: &vendorsv1.Invoice{
			InvoiceNumber: "INV-1", Amount: eur(100_000), InvoiceDate: day(2027, 1, 31)}}); err != nil {
			t.Fatal(err)
		}
		waitLine(func(l *budgetv1.BudgetLine) bool {
			return minor(l.GetActualAmount()) == 100_000 && minor(l.GetCommittedAmount()) == 195_890
		})

		if _, err := e.client.TerminateContract(ctx, &vendorsv1.TerminateContractRequest{Name: c.GetName(), Reason: "replaced"}); err != nil {
			t.Fatal(err)
		}
		waitLine(func(l *budgetv1.BudgetLine) bool {
			return minor(l.GetCommittedAmount()) == 0 && minor(l.GetActualAmount()) == 100_000
		})
	})
}
