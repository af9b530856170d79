package budget_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// The invoices of these tests are crm's (renewal_deferred_test.go), dated in FY2028 (from
// 2027-04-01), charged to its FY2027 line saas; nextSaas is the line FY2028's budget books them
// on.
const (
	nextSaas    = "budgets/it-2028/lines/saas"
	crmInvoices = crm + "/invoices/"
)

// publishInvoice publishes crm's invoice id of minor cents (negative: a credit note) dated on,
// at stream sequence seq, waits until the invoices' consumer has acknowledged it and checks that
// it was applied: neither left failing nor dead-lettered.
func publishInvoice(t *testing.T, e *renewalEnv, seq uint64, id string, minor int64, on *date.Date) {
	t.Helper()
	e.feed.Publish(t, crmInvoices+id, 1, invoice(crm, crmSaas, id, minor, on))
	testkit.WaitAcknowledged(t, e.feed.JetStream, e.feed.Stream(), "budget_vendors-invoices", seq)
	if got := testkit.Column[string](t, e.db, `SELECT outcome FROM consumer_inbox WHERE consumer = 'vendors-invoices' AND resource_name = $1`,
		crmInvoices+id); fmt.Sprint(got) != "[APPLIED]" {
		t.Fatalf("invoice %s's inbox outcome = %v; want [APPLIED]", id, got)
	}
	if n := testkit.Column[int64](t, e.db, `SELECT COUNT(*) FROM consumer_dead_letters`); n[0] != 0 {
		t.Fatalf("%d dead letters; want none", n[0])
	}
}

// deferredInvoices describes the invoices deferred for crm, as ListDeferredActuals lists them
// across cost centres: cost centre, fiscal year, line ID, amount, booking date and invoice ID.
func deferredInvoices(t *testing.T, e *renewalEnv) []string {
	t.Helper()
	resp, err := e.client.ListDeferredActuals(context.Background(), &budgetv1.ListDeferredActualsRequest{
		Parent: "costCenters/-", Filter: fmt.Sprintf("contract = %q", crm), OrderBy: "external_reference"})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range resp.GetDeferredActuals() {
		parts := strings.Split(d.GetName(), "/")
		if len(parts) != 4 || parts[2] != "deferredActuals" || d.GetContract() != crm || d.GetCreateTime() == nil ||
			!strings.HasPrefix(d.GetExternalReference(), crmInvoices) || !strings.HasPrefix(d.GetDescription(), "Invoice INV-") {
			t.Errorf("deferred actual %v: want an invoice of %s, named under its cost centre", d, crm)
		}
		b := d.GetBookingDate()
		out = append(out, fmt.Sprintf("%s %d %s %d %s %04d-%02d-%02d %s", parts[1], d.GetFiscalYear(), d.GetBudgetLineId(),
			minorOf(d.GetAmount()), d.GetAmount().GetCurrencyCode(), b.GetYear(), b.GetMonth(), b.GetDay(),
			strings.TrimPrefix(d.GetExternalReference(), crmInvoices)))
	}
	return out
}

// invoicesBooked are the actuals booked from crm's invoices on every line, by invoice ID.
func invoicesBooked(t *testing.T, e *renewalEnv) map[string][]*budgetv1.Actual {
	t.Helper()
	out := map[string][]*budgetv1.Actual{}
	for ref, as := range invoiceActuals(t, e.spendEnv, "budgets/-/lines/-") {
		out[strings.TrimPrefix(ref, crmInvoices)] = as
	}
	return out
}

// checkInvoiceBooked checks that crm's invoice i-1, 100.00 USD dated 2027-05-10, was booked once
// on line of budgetID, by the system, consuming commitment (none when empty) by 100.00.
func checkInvoiceBooked(t *testing.T, e *renewalEnv, budgetID, line, commitment string) {
	t.Helper()
	booked := invoicesBooked(t, e)
	if len(booked) != 1 || len(booked["i-1"]) != 1 {
		t.Fatalf("invoices of %s booked: %v; want i-1, once", crm, booked)
	}
	a := booked["i-1"][0]
	released := int64(10_000)
	if commitment == "" {
		released = 0
	}
	if !strings.HasPrefix(a.GetName(), line+"/actuals/") || a.GetSource() != budgetv1.Actual_VENDOR_INVOICE ||
		a.GetExternalReference() != crmInvoices+"i-1" || minorOf(a.GetAmount()) != 10_000 || minorOf(a.GetConvertedAmount()) != 10_000 ||
		a.GetBookingDate().GetYear() != 2027 || a.GetBookingDate().GetMonth() != 5 || a.GetBookingDate().GetDay() != 10 ||
		a.GetCommitment() != commitment || minorOf(a.GetReleasedCommitmentAmount()) != released || a.GetCreator() != "system" ||
		a.GetDescription() != "Invoice INV-i-1 of "+crm {
		t.Errorf("invoice i-1's actual = %v; want VENDOR_INVOICE 100.00 on %s dated 2027-05-10 by system, consuming %q", a, line, commitment)
	}
	if fig := figuresOf(t, e.spendEnv, budgetID, line); minorOf(fig.GetActual()) != 10_000 {
		t.Errorf("%s: actual %d; want 10000", line, minorOf(fig.GetActual()))
	}
	if n := testkit.Column[int64](t, e.db, `SELECT COUNT(*) FROM outbox WHERE subject LIKE '%.actual.recorded'`)[0]; n != 1 {
		t.Errorf("%d actual.recorded events; want 1", n)
	}
	if d := deferredInvoices(t, e); len(d) != 0 {
		t.Errorf("invoices still deferred for %s after they were booked: %v", crm, d)
	}
}

// checkInvoiceDeferred checks that crm's invoice i-1 is deferred to FY2028's saas and that
// nothing of it is booked.
func checkInvoiceDeferred(t *testing.T, e *renewalEnv) {
	t.Helper()
	if d := fmt.Sprint(deferredInvoices(t, e)); d != "[it 2028 saas 10000 USD 2027-05-10 i-1]" {
		t.Fatalf("invoices deferred for %s: %s; want i-1, for FY2028's saas", crm, d)
	}
	if booked := invoicesBooked(t, e); len(booked) != 0 {
		t.Fatalf("invoices of %s booked before FY2028's budget can take them: %v", crm, booked)
	}
	if fig := figuresOf(t, e.spendEnv, "it-2027", crmSaas); minorOf(fig.GetActual()) != 0 {
		t.Errorf("%s: actual %d; want 0", crmSaas, minorOf(fig.GetActual()))
	}
}

// wantLogged checks that the service has logged a record holding each of parts: what it did
// behind its calls reaches the logger of its host.
func wantLogged(t *testing.T, e *env, parts ...string) {
	t.Helper()
	for _, rec := range e.Logged() {
		if !slices.ContainsFunc(parts, func(p string) bool { return !strings.Contains(rec, p) }) {
			return
		}
	}
	t.Errorf("budget logged no record with %q; it logged:\n%s", parts, strings.Join(e.Logged(), "\n"))
}

// renewalPart is the commitment the approval of FY2028's budget recorded for crm's renewal on
// nextSaas.
func renewalPart(t *testing.T, e *renewalEnv) *budgetv1.Commitment {
	t.Helper()
	cs := contractCommitments(t, e.spendEnv, nextSaas, crm)
	if len(cs) != 1 {
		t.Fatalf("%s has %d commitments on %s; want the renewal's FY2028 part", crm, len(cs), nextSaas)
	}
	return cs[0]
}

// TestInvoiceDeferredUntilNextYearsBudget: an invoice dated in FY2028 before the cost centre has
// a budget for it is applied and deferred, not dead-lettered; the first approval of FY2028's
// budget books it on its line saas, consuming the renewal's part that the same approval records;
// neither copies of the invoice nor a later revision's approval book it again.
func TestInvoiceDeferredUntilNextYearsBudget(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startRenewal(t, db, nil)
		ctx := context.Background()
		publishInvoice(t, e, 3, "i-1", 10_000, day(2027, 5, 10))
		checkInvoiceDeferred(t, e)
		wantLogged(t, e.env, `msg="invoice deferred to a later budget"`, "invoice="+crmInvoices+"i-1", "fiscal_year=2028")
		for filter, want := range map[string]int{`fiscal_year = 2028`: 1, `fiscal_year = 2029`: 0, `budget_line_id = "saas"`: 1,
			`booking_date >= "2027-05-01"`: 1, `amount.currency_code = "EUR"`: 0, `external_reference = "` + crmInvoices + `i-1"`: 1} {
			resp, err := e.client.ListDeferredActuals(ctx, &budgetv1.ListDeferredActualsRequest{Parent: "costCenters/it", Filter: filter})
			if err != nil || len(resp.GetDeferredActuals()) != want {
				t.Errorf("deferred actuals of costCenters/it, %s = %v, %v; want %d", filter, resp, err, want)
			}
		}
		_, err := e.client.ListDeferredActuals(ctx, &budgetv1.ListDeferredActualsRequest{Parent: "costCenters/it", Filter: "colour = 1"})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "filter:FILTER_UNKNOWN_FIELD")

		// A copy of the invoice past the inbox (a new event of it) keeps one deferred invoice.
		e.feed.Publish(t, crmInvoices+"i-1", 2, invoice(crm, crmSaas, "i-1", 10_000, day(2027, 5, 10)))
		testkit.WaitAcknowledged(t, e.feed.JetStream, e.feed.Stream(), "budget_vendors-invoices", 4)
		checkInvoiceDeferred(t, e)

		b := createFY2028(t, e, "it-2028", "saas", "other")
		submitAndApprove(t, e, b.GetName())
		part := renewalPart(t, e)
		checkInvoiceBooked(t, e, "it-2028", nextSaas, part.GetName())
		wantLogged(t, e.env, `msg="deferred invoice booked"`, "invoice="+crmInvoices+"i-1")
		if minorOf(part.GetRemainingAmount()) != crmNextPart-10_000 {
			t.Errorf("the renewal's part on %s = %v; want %d remaining", nextSaas, part, crmNextPart-10_000)
		}
		if fig := figuresOf(t, e.spendEnv, "it-2028", nextSaas); minorOf(fig.GetCommitted()) != crmNextPart-10_000 {
			t.Errorf("%s: committed %d; want %d", nextSaas, minorOf(fig.GetCommitted()), crmNextPart-10_000)
		}

		// Copies (the inbox drops them) and a new event of the invoice: nothing changes; nor
		// does a revision's approval.
		e.feed.Redeliver(t, 4)
		e.feed.Publish(t, crmInvoices+"i-1", 3, invoice(crm, crmSaas, "i-1", 10_000, day(2027, 5, 10)))
		testkit.WaitAcknowledged(t, e.feed.JetStream, e.feed.Stream(), "budget_vendors-invoices", 9)
		checkInvoiceBooked(t, e, "it-2028", nextSaas, part.GetName())
		if _, err := e.client.ReviseBudget(ctx, &budgetv1.ReviseBudgetRequest{Name: b.GetName(), BudgetId: "it-2028-r2"}); err != nil {
			t.Fatal(err)
		}
		submitAndApprove(t, e, "budgets/it-2028-r2")
		if booked := invoicesBooked(t, e); len(booked) != 1 || len(booked["i-1"]) != 1 {
			t.Errorf("invoices of %s booked after a revision of it-2028: %v; want i-1, once", crm, booked)
		}
		if fig := figuresOf(t, e.spendEnv, "it-2028-r2", "budgets/it-2028-r2/lines/saas"); minorOf(fig.GetActual()) != 10_000 {
			t.Errorf("it-2028-r2 saas: actual %d; want 10000", minorOf(fig.GetActual()))
		}
	})
}

// TestInvoiceDeferredWhileNextYearIsCreated: FY2028's budget is created, submitted and approved
// while the invoice that found no budget for FY2028 is being deferred, before its transaction
// commits. The approval must not miss it: the creation waits for that transaction (laterChain),
// so the approval books the invoice. PostgreSQL only, as SQLite runs one writing transaction at
// a time.
func TestInvoiceDeferredWhileNextYearIsCreated(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		if db.Engine != testenv.EnginePostgres {
			t.Skip("needs PostgreSQL (QUARTERDECK_TEST_POSTGRES_DSN): SQLite runs one writing transaction at a time, so none waits beside another")
		}
		e := startRenewal(t, db, nil)
		approveWhileDeferring(t, e, "deferred_actuals", func() {
			e.feed.Publish(t, crmInvoices+"i-1", 1, invoice(crm, crmSaas, "i-1", 10_000, day(2027, 5, 10)))
		})
		testkit.WaitAcknowledged(t, e.feed.JetStream, e.feed.Stream(), "budget_vendors-invoices", 3)
		checkInvoiceBooked(t, e, "it-2028", nextSaas, renewalPart(t, e).GetName())
	})
}

// TestInvoiceDeferredWhileNextYearIsDraft: FY2028's budget is a draft when the invoice arrives:
// the invoice is applied at once (it neither fails nor waits), and the approval books it.
func TestInvoiceDeferredWhileNextYearIsDraft(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		var b *budgetv1.Budget
		e := startRenewal(t, db, func(e *renewalEnv) { b = createFY2028(t, e, "it-2028", "saas") })
		publishInvoice(t, e, 3, "i-1", 10_000, day(2027, 5, 10))
		checkInvoiceDeferred(t, e)
		submitAndApprove(t, e, b.GetName())
		checkInvoiceBooked(t, e, "it-2028", nextSaas, renewalPart(t, e).GetName())
	})
}

// TestInvoiceDeferredForMissingLine: FY2028's budget is approved without a line saas: the
// invoice stays deferred through an approval that still lacks the line and is booked when a
// revision that adds it is approved.
func TestInvoiceDeferredForMissingLine(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startRenewal(t, db, func(e *renewalEnv) { approveWithoutSaas(t, e) })
		publishInvoice(t, e, 3, "i-1", 10_000, day(2027, 5, 10))
		checkInvoiceDeferred(t, e)
		reviseWithLine(t, e, "budgets/it-2028", "it-2028-r2", "saas")
		cs := contractCommitments(t, e.spendEnv, "budgets/it-2028-r2/lines/saas", crm)
		if len(cs) != 1 {
			t.Fatalf("%s has %d commitments on it-2028-r2's saas; want the renewal's part", crm, len(cs))
		}
		checkInvoiceBooked(t, e, "it-2028-r2", "budgets/it-2028-r2/lines/saas", cs[0].GetName())
	})
}

// TestInvoiceDeferredKeptWhenContractEnds: the contract is terminated before FY2028's budget is
// approved: its deferred renewal part is dropped, but its deferred invoice — money spent — is
// kept and booked by the approval, consuming nothing; a later credit note corrects it.
func TestInvoiceDeferredKeptWhenContractEnds(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		var b *budgetv1.Budget
		e := startRenewal(t, db, func(e *renewalEnv) { b = createFY2028(t, e, "it-2028", "saas") })
		publishInvoice(t, e, 3, "i-1", 10_000, day(2027, 5, 10))
		e.feed.Publish(t, crm, 10, &vendorsv1.ContractTerminated{Contract: contractPB(crm, crmSaas), BudgetLine: crmSaas,
			EffectiveDate: day(2026, 12, 31), Version: 10})
		testkit.WaitAcknowledged(t, e.feed.JetStream, e.feed.Stream(), "budget_vendors-contracts", 4)
		testkit.Eventually(t, 30*time.Second, func() error {
			if d := deferredOf(t, e, crm); len(d) != 0 {
				return fmt.Errorf("commitments still deferred for %s after its termination: %v", crm, d)
			}
			return nil
		})
		checkInvoiceDeferred(t, e)
		submitAndApprove(t, e, b.GetName())
		if cs := contractCommitments(t, e.spendEnv, nextSaas, crm); len(cs) != 0 {
			t.Errorf("the approval recorded %s's renewal after its termination: %v", crm, cs)
		}
		checkInvoiceBooked(t, e, "it-2028", nextSaas, "")
		if fig := figuresOf(t, e.spendEnv, "it-2028", nextSaas); minorOf(fig.GetCommitted()) != 0 {
			t.Errorf("%s: committed %d; want 0", nextSaas, minorOf(fig.GetCommitted()))
		}

		// A credit note of that invoice, which consumed no commitment, corrects it.
		publishInvoice(t, e, 5, "i-2", -4_000, day(2027, 6, 1))
		booked := invoicesBooked(t, e)
		if cn := booked["i-2"]; len(cn) != 1 || cn[0].GetCorrects() != booked["i-1"][0].GetName() || minorOf(cn[0].GetConvertedAmount()) != -4_000 {
			t.Errorf("credit note i-2's actuals = %v; want one, −40.00, correcting %s", cn, booked["i-1"][0].GetName())
		}
		if fig := figuresOf(t, e.spendEnv, "it-2028", nextSaas); minorOf(fig.GetActual()) != 6_000 {
			t.Errorf("%s: actual %d; want 6000", nextSaas, minorOf(fig.GetActual()))
		}
	})
}

// TestInvoiceDeferredCreditNotes: credit notes dated in FY2028 before its budget can take them
// are deferred like invoices; the approval books the invoices first, then the credit notes,
// each correcting the invoice it fits in. A credit note that fits none stays deferred, listed,
// and does not hold up the approval.
func TestInvoiceDeferredCreditNotes(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		var b *budgetv1.Budget
		e := startRenewal(t, db, func(e *renewalEnv) { b = createFY2028(t, e, "it-2028", "saas") })
		publishInvoice(t, e, 3, "i-1", 10_000, day(2027, 5, 10))
		publishInvoice(t, e, 4, "i-2", -4_000, day(2027, 6, 1))
		publishInvoice(t, e, 5, "i-3", -50_000, day(2027, 6, 2))
		if d := fmt.Sprint(deferredInvoices(t, e)); d != "[it 2028 saas 10000 USD 2027-05-10 i-1 it 2028 saas -4000 USD 2027-06-01 i-2 "+
			"it 2028 saas -50000 USD 2027-06-02 i-3]" {
			t.Fatalf("invoices deferred for %s: %s; want i-1, i-2 and i-3", crm, d)
		}
		submitAndApprove(t, e, b.GetName())
		booked := invoicesBooked(t, e)
		if len(booked) != 2 || len(booked["i-1"]) != 1 || len(booked["i-2"]) != 1 {
			t.Fatalf("invoices of %s booked: %v; want i-1 and the credit note i-2", crm, booked)
		}
		if cn := booked["i-2"][0]; cn.GetCorrects() != booked["i-1"][0].GetName() || minorOf(cn.GetConvertedAmount()) != -4_000 ||
			!strings.HasPrefix(cn.GetName(), nextSaas+"/actuals/") || cn.GetSource() != budgetv1.Actual_VENDOR_INVOICE {
			t.Errorf("credit note i-2's actual = %v; want −40.00 on %s correcting %s", cn, nextSaas, booked["i-1"][0].GetName())
		}
		if fig := figuresOf(t, e.spendEnv, "it-2028", nextSaas); minorOf(fig.GetActual()) != 6_000 {
			t.Errorf("%s: actual %d; want 6000", nextSaas, minorOf(fig.GetActual()))
		}
		if d := fmt.Sprint(deferredInvoices(t, e)); d != "[it 2028 saas -50000 USD 2027-06-02 i-3]" {
			t.Errorf("invoices deferred for %s after the approval: %s; want the credit note i-3, which fits no invoice", crm, d)
		}
	})
}

// TestInvoiceDeferredNeedsRateAtApproval: FY2028's budget is in EUR and no USD → EUR rate is set
// for May 2027, the invoice's month: the approval fails with EXCHANGE_RATE_MISSING and leaves
// the invoice deferred; once the rate is set, it succeeds and books the invoice converted.
func TestInvoiceDeferredNeedsRateAtApproval(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		e := startRenewal(t, db, nil)
		publishInvoice(t, e, 3, "i-1", 10_000, day(2027, 5, 10))
		b := createFY2028In(t, e, "it-2028", "EUR", "saas")
		seedRate(t, e.spendEnv, "2027-04", "USD", "EUR", "0.9") // the renewal part's month
		if _, err := e.client.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: b.GetName()}); err != nil {
			t.Fatal(err)
		}
		_, err := e.approver.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "EXCHANGE_RATE_MISSING")
		checkInvoiceDeferred(t, e)
		if d := len(deferredOf(t, e, crm)); d != 1 {
			t.Fatalf("%d commitments deferred for %s after a failed approval; want 1", d, crm)
		}
		seedRate(t, e.spendEnv, "2027-05", "USD", "EUR", "0.8")
		if _, err := e.approver.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()}); err != nil {
			t.Fatal(err)
		}
		booked := invoicesBooked(t, e)
		if len(booked["i-1"]) != 1 || minorOf(booked["i-1"][0].GetConvertedAmount()) != 8_000 ||
			booked["i-1"][0].GetConvertedAmount().GetCurrencyCode() != "EUR" {
			t.Errorf("invoices of %s booked: %v; want i-1's 100.00 USD converted to 80.00 EUR", crm, booked)
		}
		if d := deferredInvoices(t, e); len(d) != 0 {
			t.Errorf("invoices still deferred for %s: %v", crm, d)
		}
	})
}

// actualDeletion deletes deferred invoices.
var actualDeletion = deferredDeletion[*budgetv1.DeferredActualDeleted]{
	method: budgetv1.BudgetService_DeleteDeferredActual_FullMethodName,
	del: func(ctx context.Context, c budgetv1.BudgetServiceClient, name string) error {
		_, err := c.DeleteDeferredActual(ctx, &budgetv1.DeleteDeferredActualRequest{Name: name})
		return err
	},
	event:    ".deferred_actual.deleted",
	newEvent: func() *budgetv1.DeferredActualDeleted { return &budgetv1.DeferredActualDeleted{} },
	item:     func(m *budgetv1.DeferredActualDeleted) proto.Message { return m.GetDeferredActual() },
	notFound: "DEFERRED_ACTUAL_NOT_FOUND",
}

// deferredActualsOf lists the actuals deferred to cost centre it.
func deferredActualsOf(t *testing.T, e *renewalEnv) []*budgetv1.DeferredActual {
	t.Helper()
	resp, err := e.client.ListDeferredActuals(context.Background(), &budgetv1.ListDeferredActualsRequest{Parent: "costCenters/it",
		OrderBy: "external_reference"})
	if err != nil {
		t.Fatal(err)
	}
	return resp.GetDeferredActuals()
}

// TestInvoiceDeferredDeleted: FY2028's budget is approved without a line saas, so crm's invoice
// i-1, dated in FY2028, waits for a revision that adds it. An operator books it by hand on the
// line other and deletes the deferred invoice (deleteDeferred): it is no longer listed, a later
// event of the invoice does not defer it again, and the revision's approval books nothing for it
// — the money is spent once.
func TestInvoiceDeferredDeleted(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startRenewal(t, db, func(e *renewalEnv) { approveWithoutSaas(t, e) })
		publishInvoice(t, e, 3, "i-1", 10_000, day(2027, 5, 10))
		checkInvoiceDeferred(t, e)
		const other = "budgets/it-2028/lines/other"
		byHand, err := e.client.RecordActual(context.Background(), &budgetv1.RecordActualRequest{Parent: other, Actual: &budgetv1.Actual{
			Amount: usd(10_000), BookingDate: day(2027, 5, 10), Source: budgetv1.Actual_VENDOR_INVOICE,
			ExternalReference: crmInvoices + "i-1", Description: "Invoice INV-i-1 of " + crm + ", by hand"}})
		if err != nil {
			t.Fatal(err)
		}
		deferred := deferredActualsOf(t, e)

		actualDeletion.deleteDeferred(t, e, deferred[0])
		if d := deferredInvoices(t, e); len(d) != 0 {
			t.Errorf("invoices still deferred for %s after the deletion: %v", crm, d)
		}
		// A later event of the invoice, past the inbox: the deleted invoice stays deleted.
		e.feed.Publish(t, crmInvoices+"i-1", 2, invoice(crm, crmSaas, "i-1", 10_000, day(2027, 5, 10)))
		testkit.WaitAcknowledged(t, e.feed.JetStream, e.feed.Stream(), "budget_vendors-invoices", 4)
		if got := testkit.Column[string](t, e.db, `SELECT outcome FROM consumer_inbox WHERE consumer = 'vendors-invoices' AND aggregate_version = 2`); fmt.Sprint(got) != "[APPLIED]" {
			t.Fatalf("the invoice's new event: inbox outcome %v; want [APPLIED]", got)
		}
		if d := deferredInvoices(t, e); len(d) != 0 {
			t.Errorf("invoices deferred for %s after a new event of i-1: %v; want none, it was deleted", crm, d)
		}

		reviseWithLine(t, e, "budgets/it-2028", "it-2028-r2", "saas")
		if booked := invoicesBooked(t, e); len(booked) != 1 || len(booked["i-1"]) != 1 || !proto.Equal(booked["i-1"][0], byHand) {
			t.Errorf("invoices of %s booked: %v; want i-1 once, by hand on %s", crm, booked, other)
		}
		if n := outboxCount(t, e.spendEnv, ".actual.recorded"); n != 1 {
			t.Errorf("%d actual.recorded events; want the one booked by hand", n)
		}
		for line, want := range map[string]int64{"budgets/it-2028-r2/lines/saas": 0, "budgets/it-2028-r2/lines/other": 10_000} {
			if fig := figuresOf(t, e.spendEnv, "it-2028-r2", line); minorOf(fig.GetActual()) != want {
				t.Errorf("%s: actual %d; want %d", line, minorOf(fig.GetActual()), want)
			}
		}
	})
}

// TestInvoiceDeferredDeleteRacesApproval deletes deferred invoices while the approval that books
// them runs: each ends booked once, its deletion NOT_FOUND, or deleted and not booked — never
// both, never neither.
func TestInvoiceDeferredDeleteRacesApproval(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		var b *budgetv1.Budget
		e := startRenewal(t, db, func(e *renewalEnv) { b = createFY2028(t, e, "it-2028", "saas") })
		const invoices = 6
		for i := range invoices {
			publishInvoice(t, e, uint64(3+i), fmt.Sprint("i-", i), 1_000, day(2027, 5, 10))
		}
		deferred := deferredActualsOf(t, e)
		if len(deferred) != invoices {
			t.Fatalf("%d invoices deferred; want %d", len(deferred), invoices)
		}
		if _, err := e.client.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: b.GetName()}); err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		var approval error
		deletions := make([]error, invoices)
		wg.Go(func() {
			<-start
			_, approval = e.approver.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()})
		})
		for i, d := range deferred {
			wg.Go(func() {
				<-start
				deletions[i] = actualDeletion.del(ctx, e.client, d.GetName())
			})
		}
		close(start)
		wg.Wait()
		if approval != nil {
			t.Fatalf("the approval failed: %v", approval)
		}
		booked, deleted := invoicesBooked(t, e), 0
		for i, d := range deferred {
			id := strings.TrimPrefix(d.GetExternalReference(), crmInvoices)
			switch err := deletions[i]; {
			case err == nil:
				deleted++
				if len(booked[id]) != 0 {
					t.Errorf("invoice %s was deleted and booked: %v", id, booked[id])
				}
			case status.Code(err) == codes.NotFound:
				if len(booked[id]) != 1 {
					t.Errorf("invoice %s: deletion NOT_FOUND, booked %d times; want once", id, len(booked[id]))
				}
			default:
				t.Errorf("delete invoice %s: %v", id, err)
			}
		}
		if n := outboxCount(t, e.spendEnv, ".deferred_actual.deleted"); n != deleted {
			t.Errorf("%d deferred_actual.deleted events; want %d", n, deleted)
		}
		if fig := figuresOf(t, e.spendEnv, "it-2028", nextSaas); minorOf(fig.GetActual()) != int64(1_000*(invoices-deleted)) {
			t.Errorf("%s: actual %d; want %d", nextSaas, minorOf(fig.GetActual()), 1_000*(invoices-deleted))
		}
		if d := deferredInvoices(t, e); len(d) != 0 {
			t.Errorf("invoices still deferred: %v", d)
		}
		t.Logf("%d of %d invoices deleted before the approval booked them", deleted, invoices)
	})
}
