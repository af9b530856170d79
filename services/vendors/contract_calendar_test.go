package vendors_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// midnight is the start (UTC) of a day.
func midnight(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// TestContractCalendar moves the clock through a contract's dates: the notice window opens and
// the cancel-by date passes (each once, at the start of its day), the term ends and an
// auto-renewing contract renews into a new term with its next cycle of dates, one that does not
// renew expires, and a terminated contract's dates never fire.
func TestContractCalendar(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startContracts(t, db, dec4)
		ctx := context.Background()

		renewing := e.mustActive(t, "renewing", cloudContract())
		fixed := cloudContract()
		fixed.AutoRenew, fixed.RenewalTermMonths, fixed.EndDate = false, 0, day(2027, 6, 30)
		expiring := e.mustActive(t, "fixed", fixed)
		ended := e.mustActive(t, "ended", cloudContract())
		long := cloudContract()
		long.AutoRenew, long.RenewalTermMonths, long.EndDate = false, 0, day(2029, 1, 31)
		later := e.mustActive(t, "later", long)
		if _, err := e.client.TerminateContract(ctx, &vendorsv1.TerminateContractRequest{Name: ended.GetName(), Reason: "replaced"}); err != nil {
			t.Fatal(err)
		}
		name := renewing.GetName()
		count := func(event, resource string) func() int {
			return func() int { return outboxOf(t, e.db, event, resource) }
		}
		waitFor := func(event, resource string, want int) {
			t.Helper()
			testkit.Eventually(t, 10*time.Second, func() bool { return count(event, resource)() >= want })
			if n := count(event, resource)(); n != want {
				t.Fatalf("%s events of %s = %d, want %d", event, resource, n, want)
			}
		}

		// The day the fixed-term contract's end passes: it expires at the start of 2027-07-01.
		e.clock.Set(midnight(2027, 7, 1))
		waitFor(".contract.expired", expiring.GetName(), 1)
		exp := events(t, e.db, ".contract.expired", func() *vendorsv1.ContractExpired { return &vendorsv1.ContractExpired{} })
		if len(exp) != 1 || dateString(exp[0].GetEffectiveDate()) != "2027-06-30" || !exp[0].GetDueTime().AsTime().Equal(midnight(2027, 7, 1)) ||
			exp[0].GetContract().GetState() != vendorsv1.Contract_EXPIRED || exp[0].GetBudgetLine() != "budgets/it-2027/lines/cloud" {
			t.Errorf("contract.expired = %v", exp)
		}
		if got := e.get(t, expiring.GetName()); got.GetState() != vendorsv1.Contract_EXPIRED {
			t.Errorf("fixed-term contract after its end = %v", got.GetState())
		}

		// The notice window opens on 2027-07-04 (cancel-by 2027-09-02 − 60 days).
		e.clock.Set(midnight(2027, 7, 4))
		waitFor(".contract.notice_window_opened", name, 1)
		nw := events(t, e.db, ".contract.notice_window_opened", func() *vendorsv1.ContractNoticeWindowOpened { return &vendorsv1.ContractNoticeWindowOpened{} })
		if len(nw) != 1 || !nw[0].GetDueTime().AsTime().Equal(midnight(2027, 7, 4)) || dateString(nw[0].GetCancelByDate()) != "2027-09-02" {
			t.Errorf("notice_window_opened = %v; want one, due at the start of 2027-07-04", nw)
		}

		// The day after cancel-by, the contract is still ACTIVE: the deadline was missed.
		e.clock.Set(midnight(2027, 9, 3))
		waitFor(".contract.cancel_by_missed", name, 1)
		cm := events(t, e.db, ".contract.cancel_by_missed", func() *vendorsv1.ContractCancelByMissed { return &vendorsv1.ContractCancelByMissed{} })
		if len(cm) != 1 || !cm[0].GetDueTime().AsTime().Equal(midnight(2027, 9, 3)) || dateString(cm[0].GetCancelByDate()) != "2027-09-02" {
			t.Errorf("cancel_by_missed = %v; want one, due at the start of 2027-09-03", cm)
		}

		// The day after the end: renewed for 12 months, 2028-01-01 to 2028-12-31, worth a year.
		e.clock.Set(midnight(2028, 1, 1))
		waitFor(".contract.auto_renewed", name, 1)
		ar := events(t, e.db, ".contract.auto_renewed", func() *vendorsv1.ContractAutoRenewed { return &vendorsv1.ContractAutoRenewed{} })
		if len(ar) != 1 || dateString(ar[0].GetPreviousEndDate()) != "2027-12-31" || dateString(ar[0].GetTermStartDate()) != "2028-01-01" ||
			dateString(ar[0].GetTermEndDate()) != "2028-12-31" || minor(ar[0].GetTermValue()) != 1_200_000 ||
			ar[0].GetBudgetLine() != "budgets/it-2027/lines/cloud" || !ar[0].GetDueTime().AsTime().Equal(midnight(2028, 1, 1)) {
			t.Errorf("auto_renewed = %v; want the 2028 term worth 12 000.00 EUR", ar)
		}
		got := e.get(t, name)
		if got.GetState() != vendorsv1.Contract_RENEWED || got.GetRenewalCount() != 1 || dateString(got.GetEndDate()) != "2028-12-31" ||
			dateString(got.GetStartDate()) != "2027-01-01" || dateString(got.GetCancelByDate()) != "2028-09-02" ||
			dateString(got.GetNoticeWindowOpenDate()) != "2028-07-04" {
			t.Errorf("renewed contract = %v; want RENEWED to 2028-12-31, cancel-by 2028-09-02", got)
		}
		// The terminated contract's dates all passed by now, and fired nothing.
		for _, ev := range []string{".contract.notice_window_opened", ".contract.cancel_by_missed", ".contract.auto_renewed", ".contract.expired"} {
			if n := count(ev, ended.GetName())(); n != 0 {
				t.Errorf("%s of the terminated contract = %d", ev, n)
			}
		}
		// Each date fired once: the first cycle's reminders did not fire again.
		for _, ev := range []string{".contract.notice_window_opened", ".contract.cancel_by_missed"} {
			if n := count(ev, name)(); n != 1 {
				t.Errorf("%s of the renewed contract = %d before its second cycle, want 1", ev, n)
			}
		}

		// The next cycle: the notice window of the new term opens on 2028-07-04.
		e.clock.Set(midnight(2028, 7, 4))
		waitFor(".contract.notice_window_opened", name, 2)
		// Terminated during its second term: its end never comes.
		if _, err := e.client.TerminateContract(ctx, &vendorsv1.TerminateContractRequest{Name: name, Reason: "done", EffectiveDate: day(2028, 8, 31)}); err != nil {
			t.Fatal(err)
		}
		e.clock.Set(midnight(2029, 2, 1))
		waitFor(".contract.expired", later.GetName(), 1)
		for _, ev := range []string{".contract.cancel_by_missed", ".contract.auto_renewed"} {
			want := 1
			if n := count(ev, name)(); n != want {
				t.Errorf("%s of the contract terminated in its second term = %d, want %d", ev, n, want)
			}
		}
	})
}

// TestContractNoticeWindowMoves: changing notice_window_days of a contract in force moves its
// reminder in the same transaction; the old date fires nothing.
func TestContractNoticeWindowMoves(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startContracts(t, db, dec4)
		c := e.mustActive(t, "moved", cloudContract())
		up, err := e.client.UpdateContract(context.Background(), &vendorsv1.UpdateContractRequest{
			Contract:   &vendorsv1.Contract{Name: c.GetName(), NoticeWindowDays: 10},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"notice_window_days"}}})
		if err != nil || dateString(up.GetNoticeWindowOpenDate()) != "2027-08-23" || up.GetState() != vendorsv1.Contract_ACTIVE {
			t.Fatalf("update the window of an active contract = %v, %v; want it opening 2027-08-23", up, err)
		}
		e.clock.Set(midnight(2027, 8, 23))
		testkit.Eventually(t, 10*time.Second, func() bool { return outboxOf(t, e.db, ".contract.notice_window_opened", c.GetName()) > 0 })
		nw := events(t, e.db, ".contract.notice_window_opened", func() *vendorsv1.ContractNoticeWindowOpened { return &vendorsv1.ContractNoticeWindowOpened{} })
		if len(nw) != 1 || !nw[0].GetDueTime().AsTime().Equal(midnight(2027, 8, 23)) {
			t.Fatalf("notice_window_opened = %v; want one, due 2027-08-23, none at the old 2027-07-04", nw)
		}
		// The event has a version of its own: a consumer of the contract's events that applied
		// the update would skip an event that reused its version.
		ups := events(t, e.db, ".contract.updated", func() *vendorsv1.ContractUpdated { return &vendorsv1.ContractUpdated{} })
		if len(ups) == 0 || nw[0].GetVersion() <= ups[len(ups)-1].GetVersion() {
			t.Errorf("notice_window_opened has version %d, the update before it %v; want a newer one", nw[0].GetVersion(), ups)
		}

		// A window may open a year ahead, in a leap year too: 366 days, not more.
		up, err = e.client.UpdateContract(context.Background(), &vendorsv1.UpdateContractRequest{
			Contract:   &vendorsv1.Contract{Name: c.GetName(), NoticeWindowDays: 366},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"notice_window_days"}}})
		if err != nil || up.GetNoticeWindowDays() != 366 {
			t.Errorf("a window of 366 days = %v, %v", up, err)
		}
		_, err = e.client.UpdateContract(context.Background(), &vendorsv1.UpdateContractRequest{
			Contract:   &vendorsv1.Contract{Name: c.GetName(), NoticeWindowDays: 367},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"notice_window_days"}}})
		e.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "contract.notice_window_days")
	})
}
