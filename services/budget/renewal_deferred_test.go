package budget_test

import (
	"context"
	"fmt"
	"path"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/server"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// The renewal of these tests: contract crm, charged to the FY2027 line saas of cost centre it,
// renews for 2027-02-01 to 2028-01-31 at 365.00 USD for 365 days — 59 days (59.00) in FY2027
// (April 2026 to March 2027) and 306 days (306.00) in FY2028, expected from 2027-04-01.
const (
	crm         = "vendors/acme/contracts/crm"
	crmSaas     = "budgets/it-2027/lines/saas"
	crmNextPart = 30_600
)

// renewalEnv is the budget service reading a feed of vendors events, with the FY2027 budget
// it-2027 approved and crm activated on its line saas and renewed onto FY2028 (stream sequences
// 1 and 2), the renewal acknowledged.
type renewalEnv struct {
	*spendEnv
	feed *testkit.Feed
}

// startRenewal starts the service and the feed; before, if not nil, runs before the renewal
// is published (to prepare FY2028's budget); opts are the server's further options.
func startRenewal(t *testing.T, db testenv.Database, before func(e *renewalEnv), opts ...server.Option) *renewalEnv {
	t.Helper()
	f := testkit.StartFeed(t, db, "vendors")
	e := &renewalEnv{spendEnv: startConsuming(t, db, f, opts...), feed: f}
	seedApprovedBudget(t, e.spendEnv, "it", "it-2027", "USD", domain.PolicyBlock, fixtureLine{id: "saas", planned: 1_000_000})
	if before != nil {
		before(e)
	}
	f.Publish(t, crm, 4, activated(crm, crmSaas, "", 60_000, day(2026, 8, 1), day(2027, 1, 31)))
	f.Publish(t, crm, 8, crmRenewal(8))
	testkit.WaitAcknowledged(t, f.JetStream, f.Stream(), "budget_vendors-contracts", 2)
	// The renewal was applied, not left failing, retried or dead-lettered.
	if got := testkit.Column[string](t, e.db, `SELECT outcome FROM consumer_inbox WHERE consumer = 'vendors-contracts' AND aggregate_version = 8`); fmt.Sprint(got) != "[APPLIED]" {
		t.Fatalf("the renewal's inbox outcome = %v; want [APPLIED]", got)
	}
	if n := testkit.Column[int64](t, e.db, `SELECT COUNT(*) FROM consumer_dead_letters`); n[0] != 0 {
		t.Fatalf("%d dead letters; want none", n[0])
	}
	if cs := contractCommitments(t, e.spendEnv, crmSaas, crm); len(cs) != 2 || minorOf(cs[1].GetConvertedAmount()) != 5_900 {
		t.Fatalf("%s's commitments on %s = %v; want the activation's and the renewal's 59.00", crm, crmSaas, cs)
	}
	return e
}

// crmRenewal is crm's renewal event, of version.
func crmRenewal(version int64) *vendorsv1.ContractAutoRenewed {
	return &vendorsv1.ContractAutoRenewed{Contract: contractPB(crm, crmSaas), BudgetLine: crmSaas,
		PreviousEndDate: day(2027, 1, 31), TermStartDate: day(2027, 2, 1), TermEndDate: day(2028, 1, 31),
		TermValue: usd(36_500), Version: version}
}

// createFY2028 creates the FY2028 budget of cost centre it, budgetID, in USD and in DRAFT with
// lines of the IDs, 10,000.00 planned on each.
func createFY2028(t *testing.T, e *renewalEnv, budgetID string, lines ...string) *budgetv1.Budget {
	t.Helper()
	return createFY2028In(t, e, budgetID, "USD", lines...)
}

// createFY2028In is createFY2028 in currency.
func createFY2028In(t *testing.T, e *renewalEnv, budgetID, currency string, lines ...string) *budgetv1.Budget {
	t.Helper()
	ctx := context.Background()
	b, err := e.client.CreateBudget(ctx, &budgetv1.CreateBudgetRequest{BudgetId: budgetID, Budget: &budgetv1.Budget{
		CostCenter: "costCenters/it", FiscalYear: 2028, CurrencyCode: currency, DisplayName: "IT 2028",
		Owner: "owner@example.com", OverspendPolicy: budgetv1.Budget_BLOCK}})
	if err != nil {
		t.Fatal(err)
	}
	addLines(t, e, b.GetName(), lines...)
	return b
}

// addLines adds lines of the IDs, 10,000.00 planned on each, to the draft budget named name.
func addLines(t *testing.T, e *renewalEnv, name string, lines ...string) {
	t.Helper()
	for _, id := range lines {
		if _, err := e.client.CreateBudgetLine(context.Background(), &budgetv1.CreateBudgetLineRequest{Parent: name, BudgetLineId: id,
			BudgetLine: &budgetv1.BudgetLine{DisplayName: id, Category: budgetv1.BudgetLine_SOFTWARE,
				ExpenseType: budgetv1.BudgetLine_OPEX, PlannedAmount: cents(1_000_000, "")}}); err != nil {
			t.Fatalf("create line %s of %s: %v", id, name, err)
		}
	}
}

// approveWithoutSaas creates FY2028's budget it-2028 with a line other but none saas and
// approves it: crm's FY2028 part and invoices wait for a revision that adds saas
// (reviseWithLine).
func approveWithoutSaas(t *testing.T, e *renewalEnv) {
	t.Helper()
	submitAndApprove(t, e, createFY2028(t, e, "it-2028", "other").GetName())
}

// reviseWithLine revises the budget named from into the revision budgets/{to}, adds it a line
// of the ID and approves it.
func reviseWithLine(t *testing.T, e *renewalEnv, from, to, line string) {
	t.Helper()
	if _, err := e.client.ReviseBudget(context.Background(), &budgetv1.ReviseBudgetRequest{Name: from, BudgetId: to}); err != nil {
		t.Fatal(err)
	}
	addLines(t, e, "budgets/"+to, line)
	submitAndApprove(t, e, "budgets/"+to)
}

// submitAndApprove submits the budget named name as the test principal and approves it as the
// approver; the approval's answer must be the budget as stored.
func submitAndApprove(t *testing.T, e *renewalEnv, name string) {
	t.Helper()
	ctx := context.Background()
	if _, err := e.client.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: name}); err != nil {
		t.Fatalf("submit %s: %v", name, err)
	}
	out, err := e.approver.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: name})
	if err != nil {
		t.Fatalf("approve %s: %v", name, err)
	}
	got, err := e.client.GetBudget(ctx, &budgetv1.GetBudgetRequest{Name: name})
	if err != nil {
		t.Fatal(err)
	}
	if out.GetEtag() != got.GetEtag() || got.GetState() != budgetv1.Budget_APPROVED {
		t.Errorf("approve %s answered etag %s; stored: %s, %s", name, out.GetEtag(), got.GetEtag(), got.GetState())
	}
}

// deferredOf describes the commitments deferred for contract, as ListDeferredCommitments lists
// them across cost centres: cost centre, fiscal year, line ID, the term's value and dates.
func deferredOf(t *testing.T, e *renewalEnv, contract string) []string {
	t.Helper()
	resp, err := e.client.ListDeferredCommitments(context.Background(), &budgetv1.ListDeferredCommitmentsRequest{
		Parent: "costCenters/-", Filter: fmt.Sprintf("source_reference = %q", contract)})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range resp.GetDeferredCommitments() {
		parts := strings.Split(d.GetName(), "/")
		if len(parts) != 4 || parts[2] != "deferredCommitments" || d.GetSource() != budgetv1.Commitment_CONTRACT ||
			d.GetSourceReference() != contract || d.GetCreateTime() == nil ||
			!strings.HasPrefix(d.GetDescription(), "Contract "+contract+", renewal term ") {
			t.Errorf("deferred commitment %v: want a CONTRACT part of %s, named under its cost centre", d, contract)
		}
		date := func(v interface {
			GetYear() int32
			GetMonth() int32
			GetDay() int32
		}) string {
			return fmt.Sprintf("%04d-%02d-%02d", v.GetYear(), v.GetMonth(), v.GetDay())
		}
		out = append(out, fmt.Sprintf("%s %d %s %d %s %s %s", parts[1], d.GetFiscalYear(), d.GetBudgetLineId(),
			minorOf(d.GetTermValue()), d.GetTermValue().GetCurrencyCode(), date(d.GetServiceStartDate()), date(d.GetServiceEndDate())))
	}
	return out
}

// recordedOn counts the commitment.recorded events in the outbox of commitments on the line named
// line.
func recordedOn(t *testing.T, e *renewalEnv, line string) int64 {
	t.Helper()
	return testkit.Column[int64](t, e.db, `SELECT COUNT(*) FROM outbox WHERE subject LIKE '%.commitment.recorded' AND resource_name LIKE $1`,
		line+"/commitments/%")[0]
}

// checkNextPart checks crm's FY2028 part recorded on line, the only commitment of crm there,
// with its one commitment.recorded event.
func checkNextPart(t *testing.T, e *renewalEnv, budgetID, line string) {
	t.Helper()
	cs := contractCommitments(t, e.spendEnv, line, crm)
	if len(cs) != 1 {
		t.Fatalf("%s has %d commitments on %s; want the renewal's FY2028 part", crm, len(cs), line)
	}
	c := cs[0]
	if minorOf(c.GetConvertedAmount()) != crmNextPart || minorOf(c.GetAmount()) != crmNextPart || c.GetAmount().GetCurrencyCode() != "USD" ||
		c.GetExpectedDate().GetYear() != 2027 || c.GetExpectedDate().GetMonth() != 4 || c.GetExpectedDate().GetDay() != 1 ||
		c.GetSource() != budgetv1.Commitment_CONTRACT || c.GetSourceReference() != crm || c.GetState() != budgetv1.Commitment_OPEN ||
		c.GetDescription() != "Contract "+crm+", renewal term 2027-02-01 to 2028-01-31" {
		t.Errorf("%s's commitment on %s = %v; want OPEN CONTRACT 306.00 USD expected 2027-04-01", crm, line, c)
	}
	if fig := figuresOf(t, e.spendEnv, budgetID, line); minorOf(fig.GetCommitted()) != crmNextPart {
		t.Errorf("%s: committed %d; want %d", line, minorOf(fig.GetCommitted()), crmNextPart)
	}
	if n := recordedOn(t, e, line); n != 1 {
		t.Errorf("%d commitment.recorded events on %s; want 1", n, line)
	}
	if d := deferredOf(t, e, crm); len(d) != 0 {
		t.Errorf("commitments still deferred for %s after they were recorded: %v", crm, d)
	}
}

// TestRenewalDeferredUntilNextYearsBudget: a renewal whose term reaches FY2028 before the cost
// centre has a budget for it records FY2027's part and defers FY2028's; the first approval of
// FY2028's budget records it on its line of the same ID, and neither a copy of the renewal nor
// a later revision's approval records it again.
func TestRenewalDeferredUntilNextYearsBudget(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		e := startRenewal(t, db, nil)
		ctx := context.Background()
		const nextSaas = "budgets/it-2028/lines/saas"
		if d := fmt.Sprint(deferredOf(t, e, crm)); d != "[it 2028 saas 36500 USD 2027-02-01 2028-01-31]" {
			t.Fatalf("deferred for %s: %s; want FY2028's part of the 365.00 USD term on saas", crm, d)
		}
		// A finance team preparing FY2028 lists what waits for its budget.
		for filter, want := range map[string]int{`fiscal_year = 2028`: 1, `fiscal_year = 2029`: 0, `budget_line_id = "saas"`: 1,
			`term_value.currency_code = "EUR"`: 0} {
			resp, err := e.client.ListDeferredCommitments(ctx, &budgetv1.ListDeferredCommitmentsRequest{Parent: "costCenters/it", Filter: filter})
			if err != nil || len(resp.GetDeferredCommitments()) != want {
				t.Errorf("deferred commitments of costCenters/it, %s = %v, %v; want %d", filter, resp, err, want)
			}
		}
		if resp, err := e.client.ListDeferredCommitments(ctx, &budgetv1.ListDeferredCommitmentsRequest{Parent: "costCenters/hr"}); err != nil ||
			len(resp.GetDeferredCommitments()) != 0 {
			t.Errorf("deferred commitments of costCenters/hr = %v, %v; want none", resp, err)
		}
		_, err := e.client.ListDeferredCommitments(ctx, &budgetv1.ListDeferredCommitmentsRequest{Parent: "costCenters/it", Filter: "colour = 1"})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "filter:FILTER_UNKNOWN_FIELD")

		b := createFY2028(t, e, "it-2028", "saas", "other")
		if cs := contractCommitments(t, e.spendEnv, nextSaas, crm); len(cs) != 0 {
			t.Fatalf("%s has commitments on draft %s: %v", crm, nextSaas, cs)
		}
		submitAndApprove(t, e, b.GetName())
		checkNextPart(t, e, "it-2028", nextSaas)

		// Copies of the activation and renewal (the inbox drops them), and the renewal again
		// past the inbox with a higher version: nothing changes.
		e.feed.Redeliver(t, 2)
		e.feed.Publish(t, crm, 9, crmRenewal(9))
		testkit.WaitAcknowledged(t, e.feed.JetStream, e.feed.Stream(), "budget_vendors-contracts", 5)
		checkNextPart(t, e, "it-2028", nextSaas)
		if cs := contractCommitments(t, e.spendEnv, crmSaas, crm); len(cs) != 2 {
			t.Errorf("%s has %d commitments on %s after copies of its renewal; want 2", crm, len(cs), crmSaas)
		}

		// A revision's approval finds nothing deferred any more.
		if _, err := e.client.ReviseBudget(ctx, &budgetv1.ReviseBudgetRequest{Name: b.GetName(), BudgetId: "it-2028-r2"}); err != nil {
			t.Fatal(err)
		}
		submitAndApprove(t, e, "budgets/it-2028-r2")
		if n := len(contractCommitments(t, e.spendEnv, "budgets/-/lines/saas", crm)); n != 3 {
			t.Errorf("%s has %d commitments on saas lines after a revision of it-2028; want 3", crm, n)
		}
		if fig := figuresOf(t, e.spendEnv, "it-2028-r2", "budgets/it-2028-r2/lines/saas"); minorOf(fig.GetCommitted()) != crmNextPart {
			t.Errorf("it-2028-r2 saas: committed %d; want %d", minorOf(fig.GetCommitted()), crmNextPart)
		}
	})
}

// TestRenewalDeferredWhileNextYearIsDraft: FY2028's budget exists but is a draft when the
// renewal arrives: the renewal is applied at once (it neither fails nor waits), and the approval
// records FY2028's part.
func TestRenewalDeferredWhileNextYearIsDraft(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		var b *budgetv1.Budget
		e := startRenewal(t, db, func(e *renewalEnv) { b = createFY2028(t, e, "it-2028", "saas") })
		const nextSaas = "budgets/it-2028/lines/saas"
		if d := len(deferredOf(t, e, crm)); d != 1 {
			t.Fatalf("%d commitments deferred for %s; want FY2028's part", d, crm)
		}
		if cs := contractCommitments(t, e.spendEnv, nextSaas, crm); len(cs) != 0 {
			t.Fatalf("%s has commitments on draft %s: %v", crm, nextSaas, cs)
		}
		submitAndApprove(t, e, b.GetName())
		checkNextPart(t, e, "it-2028", nextSaas)
	})
}

// TestRenewalDeferredWhileNextYearIsCreated: FY2028's budget is created, submitted and approved
// while the renewal that found no budget for FY2028 is deferring its part, before it commits.
// The approval must not miss the part: the creation waits for the renewal to commit
// (laterChain), so the approval records it. PostgreSQL only, as SQLite runs one writing
// transaction at a time.
func TestRenewalDeferredWhileNextYearIsCreated(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		if db.Engine != testenv.EnginePostgres {
			t.Skip("needs PostgreSQL (QUARTERDECK_TEST_POSTGRES_DSN): SQLite runs one writing transaction at a time, so none waits beside another")
		}
		f := testkit.StartFeed(t, db, "vendors")
		e := &renewalEnv{spendEnv: startConsuming(t, db, f), feed: f}
		seedApprovedBudget(t, e.spendEnv, "it", "it-2027", "USD", domain.PolicyBlock, fixtureLine{id: "saas", planned: 1_000_000})
		approveWhileDeferring(t, e, "deferred_commitments", func() {
			f.Publish(t, crm, 4, activated(crm, crmSaas, "", 60_000, day(2026, 8, 1), day(2027, 1, 31)))
			f.Publish(t, crm, 8, crmRenewal(8))
		})
		testkit.WaitAcknowledged(t, f.JetStream, f.Stream(), "budget_vendors-contracts", 2)
		checkNextPart(t, e, "it-2028", "budgets/it-2028/lines/saas")
	})
}

// approveWhileDeferring creates FY2028's budget it-2028 with a line saas, submits and approves
// it while the transaction applying an event that publish publishes has found no budget for
// FY2028 and is deferring what the event brings for it, before it commits: table, the table it
// defers it to, is locked against writes until the approval is done or the creation waits for
// that transaction; reads of it, the approval's, go on.
func approveWhileDeferring(t *testing.T, e *renewalEnv, table string, publish func()) {
	t.Helper()
	ctx := context.Background()
	lock, err := e.DB(t).BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.ExecContext(ctx, `LOCK TABLE `+table+` IN SHARE MODE`); err != nil {
		t.Fatal(err)
	}
	publish()
	var deferring int64 // the backend of the transaction waiting to defer
	testkit.Eventually(t, 30*time.Second, func() error {
		pids := testkit.Column[int64](t, e.db, `SELECT l.pid FROM pg_locks l
			JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE NOT l.granted AND c.relname = $1 AND n.nspname = current_schema()`, table)
		if len(pids) != 1 {
			return fmt.Errorf("%d transactions wait to write %s; want one", len(pids), table)
		}
		deferring = pids[0]
		return nil
	})

	const next = "budgets/it-2028"
	approved := make(chan error, 1)
	go func() {
		approved <- func() error {
			if _, err := e.client.CreateBudget(ctx, &budgetv1.CreateBudgetRequest{BudgetId: "it-2028", Budget: &budgetv1.Budget{
				CostCenter: "costCenters/it", FiscalYear: 2028, CurrencyCode: "USD", DisplayName: "IT 2028",
				Owner: "owner@example.com", OverspendPolicy: budgetv1.Budget_BLOCK}}); err != nil {
				return fmt.Errorf("create: %w", err)
			}
			if _, err := e.client.CreateBudgetLine(ctx, &budgetv1.CreateBudgetLineRequest{Parent: next, BudgetLineId: "saas",
				BudgetLine: &budgetv1.BudgetLine{DisplayName: "saas", Category: budgetv1.BudgetLine_SOFTWARE,
					ExpenseType: budgetv1.BudgetLine_OPEX, PlannedAmount: cents(1_000_000, "")}}); err != nil {
				return fmt.Errorf("create line: %w", err)
			}
			if _, err := e.client.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: next}); err != nil {
				return fmt.Errorf("submit: %w", err)
			}
			_, err := e.approver.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: next})
			return err
		}()
	}()
	// Until the budget is approved or its creation waits for the deferring transaction.
	done := false
	testkit.Eventually(t, 30*time.Second, func() error {
		select {
		case err := <-approved:
			if err != nil {
				t.Fatalf("FY2028's budget: %v", err)
			}
			done = true
			return nil
		default:
		}
		if n := testkit.Column[int64](t, e.db, `SELECT COUNT(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))`,
			deferring)[0]; n == 0 {
			return fmt.Errorf("FY2028's budget is neither approved nor waiting for the deferring transaction")
		}
		return nil
	})
	if err := lock.Rollback(); err != nil {
		t.Fatal(err)
	}
	if !done {
		if err := <-approved; err != nil {
			t.Fatalf("FY2028's budget: %v", err)
		}
	}
}

// TestRenewalDeferredForMissingLine: FY2028's budget is approved without a line saas: the part
// is deferred, stays deferred through an approval that still lacks the line, and is recorded
// when a revision that adds the line is approved.
func TestRenewalDeferredForMissingLine(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		e := startRenewal(t, db, func(e *renewalEnv) { approveWithoutSaas(t, e) })
		if d := len(deferredOf(t, e, crm)); d != 1 {
			t.Fatalf("%d commitments deferred for %s; want FY2028's part", d, crm)
		}
		// A revision without the line keeps it deferred.
		if _, err := e.client.ReviseBudget(ctx, &budgetv1.ReviseBudgetRequest{Name: "budgets/it-2028", BudgetId: "it-2028-r2"}); err != nil {
			t.Fatal(err)
		}
		submitAndApprove(t, e, "budgets/it-2028-r2")
		if d := len(deferredOf(t, e, crm)); d != 1 {
			t.Fatalf("%d commitments deferred for %s after a revision without saas; want 1", d, crm)
		}
		// The revision that adds it records it.
		reviseWithLine(t, e, "budgets/it-2028-r2", "it-2028-r3", "saas")
		checkNextPart(t, e, "it-2028-r3", "budgets/it-2028-r3/lines/saas")
	})
}

// TestRenewalDeferredDroppedWhenContractEnds: the contract is terminated before FY2028's budget
// is approved: its deferred part is dropped, and the approval records nothing for it.
func TestRenewalDeferredDroppedWhenContractEnds(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		var b *budgetv1.Budget
		e := startRenewal(t, db, func(e *renewalEnv) { b = createFY2028(t, e, "it-2028", "saas") })
		if d := len(deferredOf(t, e, crm)); d != 1 {
			t.Fatalf("%d commitments deferred for %s; want FY2028's part", d, crm)
		}
		e.feed.Publish(t, crm, 10, &vendorsv1.ContractTerminated{Contract: contractPB(crm, crmSaas), BudgetLine: crmSaas,
			EffectiveDate: day(2026, 12, 31), Version: 10})
		testkit.WaitAcknowledged(t, e.feed.JetStream, e.feed.Stream(), "budget_vendors-contracts", 3)
		testkit.Eventually(t, 30*time.Second, func() error {
			if fig := figuresOf(t, e.spendEnv, "it-2027", crmSaas); minorOf(fig.GetCommitted()) != 0 {
				return fmt.Errorf("%s still has %d committed", crmSaas, minorOf(fig.GetCommitted()))
			}
			return nil
		})
		if d := deferredOf(t, e, crm); len(d) != 0 {
			t.Errorf("commitments still deferred for %s after its termination: %v", crm, d)
		}
		submitAndApprove(t, e, b.GetName())
		if cs := contractCommitments(t, e.spendEnv, "budgets/it-2028/lines/saas", crm); len(cs) != 0 {
			t.Errorf("the approval recorded %s's renewal after its termination: %v", crm, cs)
		}
		if n := recordedOn(t, e, "budgets/it-2028/lines/saas"); n != 0 {
			t.Errorf("%d commitment.recorded events on it-2028's saas; want none", n)
		}
	})
}

// TestRenewalDeferredNeedsRateAtApproval: FY2028's budget is in EUR, and no USD → EUR rate is
// set for April 2027, the first month of the deferred part: the approval fails with
// EXCHANGE_RATE_MISSING and leaves the part deferred; once the rate is set, it succeeds and
// records the part converted.
func TestRenewalDeferredNeedsRateAtApproval(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		e := startRenewal(t, db, nil)
		b := createFY2028In(t, e, "it-2028", "EUR", "saas")
		if _, err := e.client.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: b.GetName()}); err != nil {
			t.Fatal(err)
		}
		_, err := e.approver.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()})
		wantStatus(t, err, codes.FailedPrecondition, "EXCHANGE_RATE_MISSING")
		if d := len(deferredOf(t, e, crm)); d != 1 {
			t.Fatalf("%d commitments deferred for %s after a failed approval; want 1", d, crm)
		}
		seedRate(t, e.spendEnv, "2027-04", "USD", "EUR", "0.9")
		if _, err := e.approver.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()}); err != nil {
			t.Fatal(err)
		}
		cs := contractCommitments(t, e.spendEnv, "budgets/it-2028/lines/saas", crm)
		if len(cs) != 1 || minorOf(cs[0].GetAmount()) != crmNextPart || minorOf(cs[0].GetConvertedAmount()) != 27_540 ||
			cs[0].GetConvertedAmount().GetCurrencyCode() != "EUR" {
			t.Errorf("%s's commitments on it-2028's saas = %v; want 306.00 USD converted to 275.40 EUR", crm, cs)
		}
		if d := deferredOf(t, e, crm); len(d) != 0 {
			t.Errorf("commitments still deferred for %s: %v", crm, d)
		}
	})
}

// deferredEvent is the event of a deferred item's deletion.
type deferredEvent interface {
	proto.Message
	GetVersion() int64
}

// deferredDeletion is how a test deletes one kind of deferred item through the API (see
// deleteDeferred): del calls the method, event ends the subject of its event, item reads the
// deleted item out of one, and notFound is the reason of its NOT_FOUND.
type deferredDeletion[M deferredEvent] struct {
	method   string
	del      func(ctx context.Context, c budgetv1.BudgetServiceClient, name string) error
	event    string
	newEvent func() M
	item     func(M) proto.Message
	notFound string
}

// commitmentDeletion deletes deferred renewal parts.
var commitmentDeletion = deferredDeletion[*budgetv1.DeferredCommitmentDeleted]{
	method: budgetv1.BudgetService_DeleteDeferredCommitment_FullMethodName,
	del: func(ctx context.Context, c budgetv1.BudgetServiceClient, name string) error {
		_, err := c.DeleteDeferredCommitment(ctx, &budgetv1.DeleteDeferredCommitmentRequest{Name: name})
		return err
	},
	event:    ".deferred_commitment.deleted",
	newEvent: func() *budgetv1.DeferredCommitmentDeleted { return &budgetv1.DeferredCommitmentDeleted{} },
	item:     func(m *budgetv1.DeferredCommitmentDeleted) proto.Message { return m.GetDeferredCommitment() },
	notFound: "DEFERRED_COMMITMENT_NOT_FOUND",
}

// deleteDeferred deletes want, an item deferred to cost centre it, as the test principal, after
// the refusals around it, and checks what the deletion leaves. A caller holding budget.write but
// not budget.spend is refused (PERMISSION_DENIED, MISSING_SCOPE); so is a malformed name, with a
// violation on name; the item's ID under another cost centre is NOT_FOUND, naming it. The
// deletion publishes its event, with the item as it was, and is audited; deleting it again is
// NOT_FOUND.
func (d deferredDeletion[M]) deleteDeferred(t *testing.T, e *renewalEnv, want interface {
	proto.Message
	GetName() string
}) {
	t.Helper()
	ctx := context.Background()
	name := want.GetName()
	wantNotFound := func(name string) {
		t.Helper()
		err := d.del(ctx, e.client, name)
		wantStatus(t, err, codes.NotFound, d.notFound)
		if info, _ := rpc.Details(err); info.GetMetadata()["name"] != name {
			t.Errorf("NOT_FOUND of %s: ErrorInfo metadata %v; want its name", name, info.GetMetadata())
		}
	}
	writer := clientAs(t, e.env, "apiKeys/writer", "budget.read", "budget.write")
	wantStatus(t, d.del(ctx, writer, name), codes.PermissionDenied, "MISSING_SCOPE")
	wantStatus(t, d.del(ctx, e.client, strings.Replace(name, "costCenters/it/", "costCenters/-/", 1)),
		codes.InvalidArgument, "INVALID_ARGUMENT", "name:STRING_PATTERN")
	wantNotFound(strings.Replace(name, "costCenters/it/", "costCenters/hr/", 1))
	if n := outboxCount(t, e.spendEnv, d.event); n != 0 {
		t.Fatalf("%d %s events after refused deletions; want none", n, d.event)
	}

	if err := d.del(ctx, e.client, name); err != nil {
		t.Fatalf("delete %s: %v", name, err)
	}
	wantNotFound(name)
	evs := outboxEvents(t, e.spendEnv, d.event, d.newEvent)
	if len(evs) != 1 || !proto.Equal(d.item(evs[0]), want) || evs[0].GetVersion() != 2 {
		t.Errorf("%s events = %v; want one, version 2, of %v", d.event, evs, want)
	}
	if got := testkit.Column[string](t, e.db, `SELECT resource_name FROM outbox WHERE subject LIKE $1`, "%"+d.event); fmt.Sprint(got) != "["+name+"]" {
		t.Errorf("%s events are about %v; want %s", d.event, got, name)
	}
	testkit.Eventually(t, 20*time.Second, func() error {
		resp, err := operationsv1.NewOperationsServiceClient(e.Conn).ListAuditRecords(ctx, &operationsv1.ListAuditRecordsRequest{
			Parent: "services/budget", Filter: fmt.Sprintf("resource = %q", name)})
		if err != nil {
			t.Fatal(err)
		}
		rs := resp.GetAuditRecords()
		if len(rs) != 1 || rs[0].GetAction() != "DELETE" || rs[0].GetMethod() != d.method {
			return fmt.Errorf("audit records of %s: %v; want its deletion", name, rs)
		}
		return nil
	})
}

// TestRenewalDeferredDeleted: FY2028's budget is approved without a line saas, so crm's FY2028
// part waits for a revision that adds it. An operator, who recorded the part by hand on the line
// other meanwhile, deletes the deferred part (deleteDeferred): it is no longer listed, a later
// event of the renewal does not defer it again, and the revision's approval records nothing for
// it — the money is committed once.
func TestRenewalDeferredDeleted(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		e := startRenewal(t, db, func(e *renewalEnv) { approveWithoutSaas(t, e) })
		resp, err := e.client.ListDeferredCommitments(ctx, &budgetv1.ListDeferredCommitmentsRequest{Parent: "costCenters/it"})
		if err != nil || len(resp.GetDeferredCommitments()) != 1 {
			t.Fatalf("deferred commitments of costCenters/it = %v, %v; want FY2028's part of %s", resp, err, crm)
		}
		part := resp.GetDeferredCommitments()[0]
		const other = "budgets/it-2028/lines/other"
		if _, err := e.client.RecordCommitment(ctx, &budgetv1.RecordCommitmentRequest{Parent: other, Commitment: &budgetv1.Commitment{
			Amount: usd(crmNextPart), ExpectedDate: day(2027, 4, 1), Source: budgetv1.Commitment_CONTRACT, SourceReference: crm,
			Description: "crm's renewal, FY2028, by hand"}}); err != nil {
			t.Fatal(err)
		}

		commitmentDeletion.deleteDeferred(t, e, part)
		if d := deferredOf(t, e, crm); len(d) != 0 {
			t.Errorf("commitments still deferred for %s after the deletion: %v", crm, d)
		}
		// A later event of the renewal, past the inbox: the deleted part stays deleted.
		e.feed.Publish(t, crm, 9, crmRenewal(9))
		testkit.WaitAcknowledged(t, e.feed.JetStream, e.feed.Stream(), "budget_vendors-contracts", 3)
		if got := testkit.Column[string](t, e.db, `SELECT outcome FROM consumer_inbox WHERE consumer = 'vendors-contracts' AND aggregate_version = 9`); fmt.Sprint(got) != "[APPLIED]" {
			t.Fatalf("the renewal's new event: inbox outcome %v; want [APPLIED]", got)
		}
		if d := deferredOf(t, e, crm); len(d) != 0 {
			t.Errorf("commitments deferred for %s after a new event of its renewal: %v; want none, the part was deleted", crm, d)
		}

		reviseWithLine(t, e, "budgets/it-2028", "it-2028-r2", "saas")
		const revised = "budgets/it-2028-r2/lines/saas"
		if cs := contractCommitments(t, e.spendEnv, revised, crm); len(cs) != 0 {
			t.Errorf("the approval recorded the deleted part of %s on %s: %v", crm, revised, cs)
		}
		if n := recordedOn(t, e, revised); n != 0 {
			t.Errorf("%d commitment.recorded events on %s; want none", n, revised)
		}
		for line, want := range map[string]int64{revised: 0, "budgets/it-2028-r2/lines/other": crmNextPart} {
			if fig := figuresOf(t, e.spendEnv, "it-2028-r2", line); minorOf(fig.GetCommitted()) != want {
				t.Errorf("%s: committed %d; want %d", line, minorOf(fig.GetCommitted()), want)
			}
		}
	})
}

// handIDs is a server ID generator (server.WithIDs) whose next ID is the one set with next, when
// there is one, and a new random one otherwise: for a test that needs a server-assigned ID to be
// a given one.
type handIDs struct {
	mu   sync.Mutex
	next string
}

func (h *handIDs) newID() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	id := h.next
	h.next = ""
	if id == "" {
		id = names.NewID()
	}
	return id
}

// TestRenewalDeferredRecordedByHand: FY2028's budget is approved without a line saas, and a
// commitment of the deferred part's ID is recorded meanwhile (by RecordCommitment, here, on the
// line other; the test sets the ID the service assigns it). The approval of the revision that
// adds saas does not fail on the ID: it records no second commitment, and the deferred part is
// gone, as a deferred invoice booked already is.
func TestRenewalDeferredRecordedByHand(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		ids := &handIDs{}
		e := startRenewal(t, db, func(e *renewalEnv) { approveWithoutSaas(t, e) }, server.WithIDs(ids.newID))
		resp, err := e.client.ListDeferredCommitments(ctx, &budgetv1.ListDeferredCommitmentsRequest{Parent: "costCenters/it"})
		if err != nil || len(resp.GetDeferredCommitments()) != 1 {
			t.Fatalf("deferred commitments of costCenters/it = %v, %v; want FY2028's part of %s", resp, err, crm)
		}
		id := path.Base(resp.GetDeferredCommitments()[0].GetName())
		ids.mu.Lock()
		ids.next = id
		ids.mu.Unlock()
		const other = "budgets/it-2028/lines/other"
		byHand, err := e.client.RecordCommitment(ctx, &budgetv1.RecordCommitmentRequest{Parent: other, Commitment: &budgetv1.Commitment{
			Amount: usd(crmNextPart), ExpectedDate: day(2027, 4, 1), Source: budgetv1.Commitment_CONTRACT, SourceReference: crm,
			Description: "crm's renewal, FY2028, by hand"}})
		if err != nil || byHand.GetName() != other+"/commitments/"+id {
			t.Fatalf("record by hand = %v, %v; want %s/commitments/%s", byHand, err, other, id)
		}

		reviseWithLine(t, e, "budgets/it-2028", "it-2028-r2", "saas")
		const revised = "budgets/it-2028-r2/lines/saas"
		if cs := contractCommitments(t, e.spendEnv, revised, crm); len(cs) != 0 {
			t.Errorf("the approval recorded %s's part on %s again: %v", crm, revised, cs)
		}
		if n := testkit.Column[int64](t, e.db, `SELECT COUNT(*) FROM outbox WHERE subject LIKE '%.commitment.recorded' AND resource_name LIKE $1`,
			"%/commitments/"+id)[0]; n != 1 {
			t.Errorf("%d commitment.recorded events of %s; want the hand-recorded one", n, id)
		}
		got, err := e.client.GetCommitment(ctx, &budgetv1.GetCommitmentRequest{Name: byHand.GetName()})
		if err != nil || !proto.Equal(got, byHand) {
			t.Errorf("the hand-recorded commitment = %v, %v; want it unchanged, %v", got, err, byHand)
		}
		for line, want := range map[string]int64{revised: 0, "budgets/it-2028-r2/lines/other": crmNextPart} {
			if fig := figuresOf(t, e.spendEnv, "it-2028-r2", line); minorOf(fig.GetCommitted()) != want {
				t.Errorf("%s: committed %d; want %d", line, minorOf(fig.GetCommitted()), want)
			}
		}
		if d := deferredOf(t, e, crm); len(d) != 0 {
			t.Errorf("commitments still deferred for %s after the approval: %v", crm, d)
		}
	})
}
