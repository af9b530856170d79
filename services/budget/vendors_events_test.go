package budget_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	moneypb "google.golang.org/genproto/googleapis/type/money"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/server"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// startConsuming runs the budget service of the spend tests (FY2027 from April, today
// 2026-09-15, a clock that does not move) reading the feed's NATS server, with short retry
// delays; opts are the server's further options, e.g. its IDs.
func startConsuming(t *testing.T, db testenv.Database, f *testkit.Feed, opts ...server.Option) *spendEnv {
	t.Helper()
	e := startService(t, db, budget.Configured(budget.Settings{FiscalYearStartMonth: 4}, opts...),
		testkit.WithNATS(f.NATS), testkit.WithHostOptions(func(o *host.Options) {
			// The server and the scheduler (holds' expiry) both stand at spendNow.
			o.Clock = clock.NewFake(spendNow)
			o.Consumers.BackoffInitial, o.Consumers.BackoffMax = 50*time.Millisecond, 200*time.Millisecond
		}))
	sdb := e.DB(t)
	return &spendEnv{env: e, approver: clientAs(t, e, "apiKeys/approver", "budget.read", "budget.approve"), db: sdb, store: store.New(sdb, nil)}
}

func usd(minor int64) *moneypb.Money { return cents(minor, "USD") }

func contractPB(name, line string) *vendorsv1.Contract {
	return &vendorsv1.Contract{Name: name, State: vendorsv1.Contract_ACTIVE, BudgetLine: line}
}

func activated(contract, line, hold string, value int64, from, to *date.Date) *vendorsv1.ContractActivated {
	return &vendorsv1.ContractActivated{Contract: contractPB(contract, line), Hold: hold, BudgetLine: line,
		CommittedValue: usd(value), ServiceStartDate: from, ServiceEndDate: to, Version: 4}
}

func invoice(contract, line, id string, minor int64, on *date.Date) *vendorsv1.InvoiceRecorded {
	return &vendorsv1.InvoiceRecorded{Contract: contract, BudgetLine: line, Vendor: "vendors/acme", Version: 1,
		Invoice: &vendorsv1.Invoice{Name: contract + "/invoices/" + id, InvoiceNumber: "INV-" + id, Amount: usd(minor), InvoiceDate: on}}
}

// contractCommitments lists the commitments of a contract on a line.
func contractCommitments(t *testing.T, e *spendEnv, line, contract string) []*budgetv1.Commitment {
	t.Helper()
	r, err := e.client.ListCommitments(context.Background(), &budgetv1.ListCommitmentsRequest{Parent: line,
		Filter: fmt.Sprintf("source_reference = %q", contract), OrderBy: "expected_date"})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetCommitments()
}

// invoiceActuals lists the actuals recorded from invoices on a line, by external reference.
func invoiceActuals(t *testing.T, e *spendEnv, line string) map[string][]*budgetv1.Actual {
	t.Helper()
	r, err := e.client.ListActuals(context.Background(), &budgetv1.ListActualsRequest{Parent: line, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]*budgetv1.Actual{}
	for _, a := range r.GetActuals() {
		out[a.GetExternalReference()] = append(out[a.GetExternalReference()], a)
	}
	return out
}

// lineFigures is the summary figures of a line.
func figuresOf(t *testing.T, e *spendEnv, budgetID, line string) *budgetv1.Figures {
	t.Helper()
	for _, l := range summary(t, e, budgetID).GetLines() {
		if l.GetLine() == line {
			return l.GetFigures()
		}
	}
	t.Fatalf("no line %s in the summary of %s", line, budgetID)
	return nil
}

// TestVendorsEvents feeds budget the vendors events of two contracts' lives, an invoice before
// its contract's activation and copies of events, and checks the commitments, actuals and
// figures they leave, on every engine.
func TestVendorsEvents(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		f := testkit.StartFeed(t, db, "vendors")
		e := startConsuming(t, db, f)
		seedApprovedBudget(t, e, "it", "b-vend", "USD", domain.PolicyWarn, fixtureLine{id: "saas", planned: 10_000_000}, fixtureLine{id: "other", planned: 10_000_000})
		seedApprovedBudget(t, e, "ops", "b-block", "USD", domain.PolicyBlock, fixtureLine{id: "tight", planned: 100_000})
		const (
			saas  = "budgets/b-vend/lines/saas"
			other = "budgets/b-vend/lines/other"
			tight = "budgets/b-block/lines/tight"
			c1    = "vendors/acme/contracts/c-1"
			c2    = "vendors/acme/contracts/c-2"
			c3    = "vendors/acme/contracts/c-3"
		)

		// An invoice whose contract's activation has not been applied yet is retried, not
		// dropped: it is applied after the activation, consuming its commitment.
		f.Publish(t, c1+"/invoices/i-1", 1, invoice(c1, saas, "i-1", 100_000, day(2026, 10, 5)))
		testkit.Eventually(t, 30*time.Second, func() error {
			info, err := f.JetStream.Consumer(context.Background(), f.Stream(), "budget_vendors-invoices")
			if err != nil {
				return err
			}
			if st, err := info.Info(context.Background()); err != nil || st.Delivered.Consumer < 2 {
				return fmt.Errorf("invoice i-1 not delivered twice yet (%v)", err)
			}
			return nil
		})
		if n := len(invoiceActuals(t, e, saas)[c1+"/invoices/i-1"]); n != 0 {
			t.Fatalf("invoice i-1 was applied before its contract's activation: %d actuals", n)
		}
		f.Publish(t, c1, 4, activated(c1, saas, "", 1_200_000, day(2026, 10, 1), day(2027, 3, 31)))
		testkit.Eventually(t, 30*time.Second, func() error {
			if n := len(invoiceActuals(t, e, saas)[c1+"/invoices/i-1"]); n != 1 {
				return fmt.Errorf("%d actuals of invoice i-1", n)
			}
			return nil
		})
		cs := contractCommitments(t, e, saas, c1)
		if len(cs) != 1 {
			t.Fatalf("c-1 has %d commitments; want 1", len(cs))
		}
		c := cs[0]
		if c.GetSource() != budgetv1.Commitment_CONTRACT || minorOf(c.GetConvertedAmount()) != 1_200_000 ||
			minorOf(c.GetRemainingAmount()) != 1_100_000 || c.GetCreator() == "" {
			t.Errorf("c-1's commitment = %v; want CONTRACT, 12000.00 of which 11000.00 remain", c)
		}
		a := invoiceActuals(t, e, saas)[c1+"/invoices/i-1"][0]
		if a.GetSource() != budgetv1.Actual_VENDOR_INVOICE || minorOf(a.GetConvertedAmount()) != 100_000 ||
			a.GetCommitment() != c.GetName() || minorOf(a.GetReleasedCommitmentAmount()) != 100_000 ||
			a.GetBookingDate().GetMonth() != 10 || a.GetBookingDate().GetDay() != 5 {
			t.Errorf("invoice i-1's actual = %v; want VENDOR_INVOICE 1000.00 on 2026-10-05, consuming %s", a, c.GetName())
		}

		// Copies: the same two events again (same ce-id), and a new event of the same
		// activation: nothing doubles. Each consumer (contracts, invoices) applies its events in
		// stream order, so the effects of the later invoices (and, below, of c-2's events) show
		// that the copies were handled.
		f.Redeliver(t, 2)
		f.Publish(t, c1, 4, activated(c1, saas, "", 1_200_000, day(2026, 10, 1), day(2027, 3, 31)))
		f.Publish(t, c1+"/invoices/i-2", 1, invoice(c1, saas, "i-2", 250_000, day(2026, 11, 5)))
		f.Publish(t, c1+"/invoices/i-3", 1, invoice(c1, saas, "i-3", -50_000, day(2026, 11, 20)))
		testkit.Eventually(t, 30*time.Second, func() error {
			if n := len(invoiceActuals(t, e, saas)[c1+"/invoices/i-3"]); n != 1 {
				return fmt.Errorf("%d actuals of credit note i-3", n)
			}
			return nil
		})
		acts := invoiceActuals(t, e, saas)
		if len(acts[c1+"/invoices/i-1"]) != 1 || len(acts[c1+"/invoices/i-2"]) != 1 || len(contractCommitments(t, e, saas, c1)) != 1 {
			t.Fatalf("after the copies: actuals %v, commitments %v; want one each", acts, contractCommitments(t, e, saas, c1))
		}
		// The credit note corrects the invoice it fits in and gives nothing back to the
		// commitment, as any correction.
		if cn := acts[c1+"/invoices/i-3"][0]; cn.GetCorrects() != acts[c1+"/invoices/i-2"][0].GetName() || minorOf(cn.GetConvertedAmount()) != -50_000 {
			t.Errorf("credit note's actual = %v; want −500.00 correcting %s", cn, acts[c1+"/invoices/i-2"][0].GetName())
		}
		fig := figuresOf(t, e, "b-vend", saas)
		if minorOf(fig.GetCommitted()) != 850_000 || minorOf(fig.GetActual()) != 300_000 {
			t.Errorf("saas: committed %d, actual %d; want 850000, 300000", minorOf(fig.GetCommitted()), minorOf(fig.GetActual()))
		}

		// A short contract renews within the fiscal year: a second commitment for the new term.
		// A renewal after the fiscal year commits nothing on this year's line.
		f.Publish(t, c2, 4, activated(c2, saas, "", 300_000, day(2026, 6, 1), day(2026, 8, 31)))
		f.Publish(t, c2, 8, &vendorsv1.ContractAutoRenewed{Contract: contractPB(c2, saas), BudgetLine: saas,
			PreviousEndDate: day(2026, 8, 31), TermStartDate: day(2026, 9, 1), TermEndDate: day(2026, 11, 30),
			TermValue: usd(330_000), Version: 8})
		f.Publish(t, c2, 9, &vendorsv1.ContractAutoRenewed{Contract: contractPB(c2, saas), BudgetLine: saas,
			PreviousEndDate: day(2027, 3, 31), TermStartDate: day(2027, 4, 1), TermEndDate: day(2027, 6, 30),
			TermValue: usd(330_000), Version: 9})
		// Termination of c-1 releases what remains; expiry of c-2 releases both its terms.
		f.Publish(t, c1, 7, &vendorsv1.ContractTerminated{Contract: contractPB(c1, saas), BudgetLine: saas,
			EffectiveDate: day(2026, 12, 31), Version: 7})
		f.Publish(t, c2, 10, &vendorsv1.ContractExpired{Contract: contractPB(c2, saas), BudgetLine: saas,
			EffectiveDate: day(2026, 11, 30), Version: 10})
		testkit.Eventually(t, 30*time.Second, func() error {
			if fig := figuresOf(t, e, "b-vend", saas); minorOf(fig.GetCommitted()) != 0 {
				return fmt.Errorf("saas still has %d committed", minorOf(fig.GetCommitted()))
			}
			return nil
		})
		c2s := contractCommitments(t, e, saas, c2)
		if len(c2s) != 2 || minorOf(c2s[0].GetConvertedAmount()) != 300_000 || minorOf(c2s[1].GetConvertedAmount()) != 330_000 {
			t.Fatalf("c-2's commitments = %v; want 3000.00 and the renewal's 3300.00", c2s)
		}
		c1s := contractCommitments(t, e, saas, c1)
		if len(c1s) != 1 {
			t.Fatalf("c-1 has %d commitments after the copies of its activation; want 1", len(c1s))
		}
		for _, c := range append(c2s, c1s...) {
			if c.GetState() != budgetv1.Commitment_RELEASED || minorOf(c.GetRemainingAmount()) != 0 {
				t.Errorf("%s = %v; want RELEASED, nothing remaining", c.GetName(), c)
			}
		}
		if got := minorOf(figuresOf(t, e, "b-vend", saas).GetActual()); got != 300_000 {
			t.Errorf("saas actual = %d; want 300000", got)
		}

		// On a BLOCK line the commitment of a contract whose hold is gone is recorded all the
		// same, over the line, and line.overspent says so.
		f.Publish(t, c3, 4, activated(c3, tight, "budgets/b-block/lines/tight/holds/gone", 150_000, day(2026, 10, 1), day(2026, 12, 31)))
		testkit.Eventually(t, 30*time.Second, func() error {
			if n := len(contractCommitments(t, e, tight, c3)); n != 1 {
				return fmt.Errorf("c-3 has %d commitments", n)
			}
			return nil
		})
		if fig := figuresOf(t, e, "b-block", tight); minorOf(fig.GetAvailable()) != -50_000 {
			t.Errorf("tight available = %d; want -50000", minorOf(fig.GetAvailable()))
		}
		if n := outboxCount(t, e, ".line.overspent"); n != 1 {
			t.Errorf("%d line.overspent events; want 1", n)
		}
		// Every change went out with its event: 4 commitments recorded (c-4's comes later), 3 released by the ends
		// and 2 consumed by invoices, 3 actuals.
		for suffix, want := range map[string]int{".commitment.recorded": 4, ".commitment.released": 5, ".actual.recorded": 3} {
			if n := outboxCount(t, e, suffix); n != want {
				t.Errorf("%d %s events; want %d", n, suffix[1:], want)
			}
		}
		// A later event of a contract in force that comes before its activation (the
		// activation failed once) waits for it, instead of making it older than the last event
		// applied, which the consumer would skip.
		c4 := "vendors/acme/contracts/c-4"
		f.Publish(t, c4, 5, &vendorsv1.ContractNoticeWindowOpened{Contract: contractPB(c4, other), Version: 5})
		f.Publish(t, c4, 4, activated(c4, other, "", 40_000, day(2026, 10, 1), day(2026, 12, 31)))
		testkit.Eventually(t, 30*time.Second, func() error {
			if n := len(contractCommitments(t, e, other, c4)); n != 1 {
				return fmt.Errorf("c-4 has %d commitments", n)
			}
			return nil
		})
		// The activation of a contract whose hold is HELD converts the hold: the held money
		// becomes committed, and the commitment names the hold.
		c5 := "vendors/acme/contracts/c-5"
		h, err := e.client.PlaceHold(context.Background(), &budgetv1.PlaceHoldRequest{Parent: other, Hold: &budgetv1.Hold{
			Amount: usd(100_000), ServiceStartDate: day(2026, 10, 1), ServiceEndDate: day(2026, 12, 31),
			Source: budgetv1.Commitment_CONTRACT, SourceReference: c5}})
		if err != nil {
			t.Fatal(err)
		}
		if fig := figuresOf(t, e, "b-vend", other); minorOf(fig.GetHeld()) != 100_000 {
			t.Fatalf("other: held %d; want 100000", minorOf(fig.GetHeld()))
		}
		f.Publish(t, c5, 4, activated(c5, other, h.GetName(), 100_000, day(2026, 10, 1), day(2026, 12, 31)))
		testkit.Eventually(t, 30*time.Second, func() error {
			if n := len(contractCommitments(t, e, other, c5)); n != 1 {
				return fmt.Errorf("c-5 has %d commitments", n)
			}
			return nil
		})
		if c := contractCommitments(t, e, other, c5)[0]; c.GetHold() != h.GetName() || minorOf(c.GetRemainingAmount()) != 100_000 {
			t.Errorf("c-5's commitment = %v; want 1000.00 from %s", c, h.GetName())
		}
		fig = figuresOf(t, e, "b-vend", other)
		if minorOf(fig.GetHeld()) != 0 || minorOf(fig.GetCommitted()) != 140_000 {
			t.Errorf("other: held %d, committed %d; want 0, 140000", minorOf(fig.GetHeld()), minorOf(fig.GetCommitted()))
		}
		if n := testkit.Column[int](t, e.db, `SELECT COUNT(*) FROM consumer_dead_letters`)[0]; n != 0 {
			t.Errorf("%d dead letters; want 0", n)
		}

		// An invoice that can never be booked on the line (dated before its fiscal year) becomes
		// a dead letter at once, for an operator, instead of being retried. (One dated in a
		// later fiscal year is deferred to that year's budget: invoice_deferred_test.go.)
		f.Publish(t, c5+"/invoices/early", 1, invoice(c5, other, "early", 10_000, day(2026, 3, 1)))
		testkit.Eventually(t, 30*time.Second, func() error {
			got := testkit.Column[string](t, e.db, `SELECT consumer || ' ' || attempts FROM consumer_dead_letters`)
			if len(got) != 1 || got[0] != "vendors-invoices 1" {
				return fmt.Errorf("dead letters %q; want the early invoice's, after 1 attempt", got)
			}
			return nil
		})
	})
}

// TestVendorsRenewalOntoNextYear renews a contract charged to an FY2027 line for a term that
// runs into FY2028: budget commits the term's FY2027 days on the contract's line and its FY2028
// days on the line of the same ID in the cost centre's FY2028 budget, where an invoice dated in
// FY2028 is booked too; a contract whose line that budget lacks gets only its FY2027 part; the
// contract's expiry releases both years.
func TestVendorsRenewalOntoNextYear(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		f := testkit.StartFeed(t, db, "vendors")
		e := startConsuming(t, db, f)
		ctx := context.Background()
		seedApprovedBudget(t, e, "it", "it-2027", "USD", domain.PolicyBlock, fixtureLine{id: "saas", planned: 1_000_000},
			fixtureLine{id: "other", planned: 1_000_000})
		next, err := e.client.CreateBudget(ctx, &budgetv1.CreateBudgetRequest{BudgetId: "it-2028", Budget: &budgetv1.Budget{
			CostCenter: "costCenters/it", FiscalYear: 2028, CurrencyCode: "USD", DisplayName: "IT 2028",
			Owner: "owner@example.com", OverspendPolicy: budgetv1.Budget_BLOCK}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.CreateBudgetLine(ctx, &budgetv1.CreateBudgetLineRequest{Parent: next.GetName(), BudgetLineId: "saas",
			BudgetLine: &budgetv1.BudgetLine{DisplayName: "saas", Category: budgetv1.BudgetLine_SOFTWARE,
				ExpenseType: budgetv1.BudgetLine_OPEX, PlannedAmount: usd(1_000_000)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: next.GetName()}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.approver.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: next.GetName()}); err != nil {
			t.Fatal(err)
		}
		const (
			saas     = "budgets/it-2027/lines/saas"
			other    = "budgets/it-2027/lines/other"
			nextSaas = "budgets/it-2028/lines/saas"
			c1       = "vendors/acme/contracts/crm"
			c2       = "vendors/acme/contracts/backup"
		)
		// FY2027 is April 2026 to March 2027. The renewal term 2027-02-01 to 2028-01-31, 365.00
		// USD for 365 days, has 59 days in FY2027 (59.00) and 306 in FY2028 (306.00).
		renewal := func(c, line string) *vendorsv1.ContractAutoRenewed {
			return &vendorsv1.ContractAutoRenewed{Contract: contractPB(c, line), BudgetLine: line,
				PreviousEndDate: day(2027, 1, 31), TermStartDate: day(2027, 2, 1), TermEndDate: day(2028, 1, 31),
				TermValue: usd(36_500), Version: 8}
		}
		f.Publish(t, c1, 4, activated(c1, saas, "", 60_000, day(2026, 8, 1), day(2027, 1, 31)))
		f.Publish(t, c2, 4, activated(c2, other, "", 60_000, day(2026, 8, 1), day(2027, 1, 31)))
		f.Publish(t, c1, 8, renewal(c1, saas))
		f.Publish(t, c2, 8, renewal(c2, other))
		testkit.Eventually(t, 30*time.Second, func() error {
			if n := len(contractCommitments(t, e, other, c2)); n != 2 {
				return fmt.Errorf("%s has %d commitments on %s", c2, n, other)
			}
			if n := len(contractCommitments(t, e, nextSaas, c1)); n != 1 {
				return fmt.Errorf("%s has %d commitments on %s", c1, n, nextSaas)
			}
			return nil
		})
		this := contractCommitments(t, e, saas, c1)
		if len(this) != 2 || minorOf(this[0].GetConvertedAmount()) != 60_000 || minorOf(this[1].GetConvertedAmount()) != 5_900 ||
			this[1].GetExpectedDate().GetMonth() != 2 {
			t.Errorf("%s's commitments on %s = %v; want 600.00, then the renewal's 59.00 expected in February 2027", c1, saas, this)
		}
		n := contractCommitments(t, e, nextSaas, c1)[0]
		if minorOf(n.GetConvertedAmount()) != 30_600 || n.GetExpectedDate().GetYear() != 2027 || n.GetExpectedDate().GetMonth() != 4 ||
			n.GetSource() != budgetv1.Commitment_CONTRACT {
			t.Errorf("%s's commitment on %s = %v; want CONTRACT 306.00 expected 2027-04-01", c1, nextSaas, n)
		}
		if fig := figuresOf(t, e, "it-2028", nextSaas); minorOf(fig.GetCommitted()) != 30_600 || minorOf(fig.GetAvailable()) != 1_000_000-30_600 {
			t.Errorf("%s: committed %d, available %d; want 30600, 969400", nextSaas, minorOf(fig.GetCommitted()), minorOf(fig.GetAvailable()))
		}
		if c2s := contractCommitments(t, e, other, c2); minorOf(c2s[1].GetConvertedAmount()) != 5_900 {
			t.Errorf("%s's renewal on %s = %v; want 59.00 (FY2028 has no line other)", c2, other, c2s[1])
		}

		// An invoice dated in FY2028 is booked on FY2028's line, consuming the renewal's
		// commitment there.
		f.Publish(t, c1+"/invoices/i-1", 1, invoice(c1, saas, "i-1", 10_000, day(2027, 5, 10)))
		testkit.Eventually(t, 30*time.Second, func() error {
			if n := len(invoiceActuals(t, e, nextSaas)[c1+"/invoices/i-1"]); n != 1 {
				return fmt.Errorf("%d actuals of invoice i-1 on %s", n, nextSaas)
			}
			return nil
		})
		if a := invoiceActuals(t, e, nextSaas)[c1+"/invoices/i-1"][0]; minorOf(a.GetConvertedAmount()) != 10_000 ||
			a.GetCommitment() != n.GetName() || minorOf(a.GetReleasedCommitmentAmount()) != 10_000 {
			t.Errorf("invoice i-1's actual = %v; want 100.00 consuming %s", a, n.GetName())
		}
		if fig := figuresOf(t, e, "it-2028", nextSaas); minorOf(fig.GetCommitted()) != 20_600 || minorOf(fig.GetActual()) != 10_000 {
			t.Errorf("%s: committed %d, actual %d; want 20600, 10000", nextSaas, minorOf(fig.GetCommitted()), minorOf(fig.GetActual()))
		}
		if n := len(invoiceActuals(t, e, saas)); n != 0 {
			t.Errorf("%s has %d invoice actuals; want none", saas, n)
		}

		// A copy of the renewal changes nothing; the expiry releases both years.
		f.Redeliver(t, 3)
		f.Publish(t, c1, 10, &vendorsv1.ContractExpired{Contract: contractPB(c1, saas), BudgetLine: saas,
			EffectiveDate: day(2028, 1, 31), Version: 10})
		testkit.Eventually(t, 30*time.Second, func() error {
			if fig := figuresOf(t, e, "it-2028", nextSaas); minorOf(fig.GetCommitted()) != 0 {
				return fmt.Errorf("%s still has %d committed", nextSaas, minorOf(fig.GetCommitted()))
			}
			return nil
		})
		if fig := figuresOf(t, e, "it-2027", saas); minorOf(fig.GetCommitted()) != 0 {
			t.Errorf("%s: committed %d after the expiry; want 0", saas, minorOf(fig.GetCommitted()))
		}
		if cs := contractCommitments(t, e, nextSaas, c1); len(cs) != 1 || cs[0].GetState() != budgetv1.Commitment_RELEASED {
			t.Errorf("%s's commitments on %s after the expiry = %v; want one, RELEASED", c1, nextSaas, cs)
		}
		if cs := contractCommitments(t, e, saas, c1); len(cs) != 2 {
			t.Errorf("%s has %d commitments on %s after a copy of its renewal; want 2", c1, len(cs), saas)
		}
	})
}

// TestContractEventsBeforeActivationAreIgnored: the events of a contract not yet in force —
// created, submitted, rejected — are acknowledged unread by the contracts' consumer (no inbox
// row), and the activation that follows them is applied.
func TestContractEventsBeforeActivationAreIgnored(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		f := testkit.StartFeed(t, db, "vendors")
		e := startConsuming(t, db, f)
		seedApprovedBudget(t, e, "it", "b-early", "USD", domain.PolicyWarn, fixtureLine{id: "saas", planned: 10_000_000})
		const (
			saas = "budgets/b-early/lines/saas"
			c1   = "vendors/acme/contracts/c-early"
		)
		draft := func(state vendorsv1.Contract_State) *vendorsv1.Contract {
			return &vendorsv1.Contract{Name: c1, State: state, BudgetLine: saas}
		}
		f.Publish(t, c1, 1, &vendorsv1.ContractCreated{Contract: draft(vendorsv1.Contract_DRAFT), Version: 1})
		f.Publish(t, c1, 2, &vendorsv1.ContractSubmitted{Contract: draft(vendorsv1.Contract_PENDING_APPROVAL), Version: 2})
		f.Publish(t, c1, 3, &vendorsv1.ContractRejected{Contract: draft(vendorsv1.Contract_DRAFT), Version: 3})
		f.Publish(t, c1, 4, activated(c1, saas, "", 1_200_000, day(2026, 10, 1), day(2027, 3, 31)))
		testkit.Eventually(t, 30*time.Second, func() error {
			if n := len(contractCommitments(t, e, saas, c1)); n != 1 {
				return fmt.Errorf("%d commitments of %s", n, c1)
			}
			return nil
		})
		testkit.WaitAcknowledged(t, f.JetStream, f.Stream(), "budget_vendors-contracts", 4)
		if got := testkit.Column[int64](t, e.db, `SELECT aggregate_version FROM consumer_inbox WHERE consumer = 'vendors-contracts' ORDER BY aggregate_version`); fmt.Sprint(got) != "[4]" {
			t.Errorf("the contracts' consumer kept the events of versions %v; want [4], the activation alone", got)
		}
	})
}
