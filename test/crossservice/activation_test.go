package crossservice_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	moneypb "google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/peer"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/vendors"
)

// today is the day both services' clock stands at: in FY2027 of budgets whose year starts in
// April (2026-04-01 to 2027-03-31). The clock does not move: no hold lapses during a test.
var today = time.Date(2026, 9, 15, 12, 0, 0, 0, time.UTC)

// stack is budget and vendors running side by side as in production: each on a database of its
// own, both on one NATS server, vendors calling budget at its address and budget consuming
// vendors' events.
type stack struct {
	budgetDB testenv.Database
	nats     testenv.NATS
	clock    *clock.Fake

	budget  *testkit.Service
	vendors *testkit.Service
	// b and v call as the test principal with every scope; bApprover and vApprover as a second
	// person, for four-eyes decisions.
	b, bApprover budgetv1.BudgetServiceClient
	v, vApprover vendorsv1.VendorsServiceClient
}

// startStack starts budget (FY2027 from April) on db and vendors on another database of db's
// engine.
func startStack(t *testing.T, db testenv.Database) *stack {
	t.Helper()
	s := &stack{budgetDB: db, nats: testenv.NATSServer(t), clock: clock.NewFake(today)}
	s.startBudget(t, "127.0.0.1:0", true)
	s.vendors = testkit.Start(t, testenv.Another(t, db), vendors.Service(), testkit.WithNATS(s.nats),
		testkit.WithHostOptions(func(o *host.Options) {
			o.Clock = s.clock
			o.Peers = map[string]string{"budget": s.budget.Addr}
		}))
	s.v = vendorsv1.NewVendorsServiceClient(s.vendors.Conn)
	s.vApprover = vendorsv1.NewVendorsServiceClient(s.vendors.ConnAs(t, "users/approver"))
	return s
}

// startBudget starts budget at addr on its database. Without consumers it serves its API only, as
// a replica whose consumers are down: the events it would consume wait in vendors' stream.
func (s *stack) startBudget(t *testing.T, addr string, consumers bool) {
	t.Helper()
	svc := budget.Configured(budget.Settings{FiscalYearStartMonth: 4})
	if !consumers {
		svc.Consumers = nil
	}
	s.budget = testkit.Start(t, s.budgetDB, svc, testkit.WithNATS(s.nats), testkit.WithHostOptions(func(o *host.Options) {
		o.GRPCAddr = addr
		o.Clock = s.clock
		o.Consumers.BackoffInitial, o.Consumers.BackoffMax = 50*time.Millisecond, 500*time.Millisecond
		// An event a consumer received and did not acknowledge is delivered again after AckWait:
		// kept well under the tests' 30 s waits for an effect, which the default (30 s) equals.
		o.Consumers.AckWait = 5 * time.Second
	}))
	s.b = budgetv1.NewBudgetServiceClient(s.budget.Conn)
	s.bApprover = budgetv1.NewBudgetServiceClient(s.budget.ConnAs(t, "users/approver"))
	if s.vendors != nil {
		// Vendors calls budget once it sees it back.
		health := healthpb.NewHealthClient(s.vendors.Conn)
		testkit.Eventually(t, 30*time.Second, func() error {
			r, err := health.Check(context.Background(), &healthpb.HealthCheckRequest{Service: peer.HealthName("budget")})
			if err != nil || r.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				return fmt.Errorf("vendors sees budget as %v, %v", r.GetStatus(), err)
			}
			return nil
		})
	}
}

// stopBudget stops the budget service.
func (s *stack) stopBudget(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := s.budget.Stop(ctx); err != nil {
		t.Fatalf("stop budget: %v", err)
	}
}

func usd(minor int64) *moneypb.Money {
	return &moneypb.Money{CurrencyCode: "USD", Units: minor / 100, Nanos: int32(minor%100) * 10_000_000}
}

func minorOf(m *moneypb.Money) int64 { return m.GetUnits()*100 + int64(m.GetNanos())/10_000_000 }

func day(y, m, d int32) *date.Date { return &date.Date{Year: y, Month: m, Day: d} }

// approvedBudget creates an approved FY2027 USD budget with one line of planned minor units and
// returns the line's name.
func (s *stack) approvedBudget(t *testing.T, id string, policy budgetv1.Budget_OverspendPolicy, planned int64) string {
	t.Helper()
	ctx := context.Background()
	if _, err := s.b.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{CostCenterId: "cc-" + id,
		CostCenter: &budgetv1.CostCenter{DisplayName: "CC " + id, Code: "CC-" + strings.ToUpper(id), Owner: "cio@example.com"}}); err != nil {
		t.Fatal(err)
	}
	b, err := s.b.CreateBudget(ctx, &budgetv1.CreateBudgetRequest{BudgetId: id, Budget: &budgetv1.Budget{
		CostCenter: "costCenters/cc-" + id, FiscalYear: 2027, CurrencyCode: "USD", DisplayName: id,
		Owner: "owner@example.com", OverspendPolicy: policy}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.b.CreateBudgetLine(ctx, &budgetv1.CreateBudgetLineRequest{Parent: b.GetName(), BudgetLineId: "software",
		BudgetLine: &budgetv1.BudgetLine{DisplayName: "Software", Category: budgetv1.BudgetLine_SOFTWARE,
			ExpenseType: budgetv1.BudgetLine_OPEX, PlannedAmount: usd(planned)}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.b.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: b.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.bApprover.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()}); err != nil {
		t.Fatal(err)
	}
	return l.GetName()
}

// activeVendor creates a tier-3 vendor and brings it to ACTIVE (no assessment needed).
func (s *stack) activeVendor(t *testing.T, id string) string {
	t.Helper()
	ctx := context.Background()
	v, err := s.v.CreateVendor(ctx, &vendorsv1.CreateVendorRequest{VendorId: id, Vendor: &vendorsv1.Vendor{
		DisplayName: id, LegalName: id + " Ltd", Category: vendorsv1.Vendor_SAAS, Tier: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.v.StartVendorOnboarding(ctx, &vendorsv1.StartVendorOnboardingRequest{Name: v.GetName()}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.vApprover.ActivateVendor(ctx, &vendorsv1.ActivateVendorRequest{Name: v.GetName()}); err != nil {
		t.Fatal(err)
	}
	return v.GetName()
}

// submittedContract creates a contract of total minor units over 2026-10-01 to 2027-03-31 (inside
// FY2027) on line, and submits it.
func (s *stack) submittedContract(t *testing.T, vendor, id, line string, total int64) string {
	t.Helper()
	return s.submit(t, vendor, id, &vendorsv1.Contract{Title: "Contract " + id, TotalValue: usd(total), AnnualValue: usd(total * 2),
		StartDate: day(2026, 10, 1), EndDate: day(2027, 3, 31), BudgetLine: line})
}

// submit creates the contract and submits it.
func (s *stack) submit(t *testing.T, vendor, id string, contract *vendorsv1.Contract) string {
	t.Helper()
	ctx := context.Background()
	c, err := s.v.CreateContract(ctx, &vendorsv1.CreateContractRequest{Parent: vendor, ContractId: id, Contract: contract})
	if err != nil {
		t.Fatalf("create contract %s: %v", id, err)
	}
	if _, err := s.v.SubmitContract(ctx, &vendorsv1.SubmitContractRequest{Name: c.GetName()}); err != nil {
		t.Fatalf("submit %s: %v", c.GetName(), err)
	}
	return c.GetName()
}

// lineFigures is the summary figures of the line of budget id.
func (s *stack) lineFigures(t *testing.T, budgetID string) *budgetv1.Figures {
	t.Helper()
	sum, err := s.b.GetBudgetSummary(context.Background(), &budgetv1.GetBudgetSummaryRequest{Name: "budgets/" + budgetID + "/summary"})
	if err != nil {
		t.Fatal(err)
	}
	return sum.GetLines()[0].GetFigures()
}

// commitmentsOf lists the commitments of contract on line.
func (s *stack) commitmentsOf(t *testing.T, line, contract string) []*budgetv1.Commitment {
	t.Helper()
	r, err := s.b.ListCommitments(context.Background(), &budgetv1.ListCommitmentsRequest{Parent: line,
		Filter: fmt.Sprintf("source_reference = %q", contract)})
	if err != nil {
		t.Fatal(err)
	}
	return r.GetCommitments()
}

// TestContractLifecycleInBudget drives a contract through vendors' API and follows it in budget's:
// the approval holds the contract's value, the activation event turns the hold into the
// commitment, an invoice becomes an actual that consumes the commitment, and the termination
// releases what remains.
func TestContractLifecycleInBudget(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		s := startStack(t, db)
		ctx := context.Background()
		line := s.approvedBudget(t, "it-2027", budgetv1.Budget_WARN, 10_000_000)
		vendor := s.activeVendor(t, "acme")
		contract := s.submittedContract(t, vendor, "crm", line, 1_200_000)

		approved, err := s.vApprover.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: contract})
		if err != nil {
			t.Fatalf("approve: %v", err)
		}
		if approved.GetState() != vendorsv1.Contract_ACTIVE || approved.GetHold() == "" {
			t.Fatalf("approved contract = %v; want ACTIVE with its hold", approved)
		}
		testkit.Eventually(t, 30*time.Second, func() error {
			if f := s.lineFigures(t, "it-2027"); minorOf(f.GetCommitted()) != 1_200_000 || minorOf(f.GetHeld()) != 0 {
				return fmt.Errorf("line: committed %d, held %d", minorOf(f.GetCommitted()), minorOf(f.GetHeld()))
			}
			return nil
		})
		cs := s.commitmentsOf(t, line, contract)
		if len(cs) != 1 || cs[0].GetHold() != approved.GetHold() || cs[0].GetSource() != budgetv1.Commitment_CONTRACT {
			t.Fatalf("commitments of %s = %v; want one, CONTRACT, from %s", contract, cs, approved.GetHold())
		}

		inv, err := s.v.RecordInvoice(ctx, &vendorsv1.RecordInvoiceRequest{Parent: contract, Invoice: &vendorsv1.Invoice{
			InvoiceNumber: "INV-1", Amount: usd(300_000), InvoiceDate: day(2026, 10, 31)}})
		if err != nil {
			t.Fatalf("record invoice: %v", err)
		}
		testkit.Eventually(t, 30*time.Second, func() error {
			if f := s.lineFigures(t, "it-2027"); minorOf(f.GetActual()) != 300_000 || minorOf(f.GetCommitted()) != 900_000 {
				return fmt.Errorf("line: actual %d, committed %d", minorOf(f.GetActual()), minorOf(f.GetCommitted()))
			}
			return nil
		})
		as, err := s.b.ListActuals(ctx, &budgetv1.ListActualsRequest{Parent: line})
		if err != nil {
			t.Fatal(err)
		}
		if len(as.GetActuals()) != 1 || as.GetActuals()[0].GetExternalReference() != inv.GetName() ||
			as.GetActuals()[0].GetSource() != budgetv1.Actual_VENDOR_INVOICE || as.GetActuals()[0].GetCommitment() != cs[0].GetName() {
			t.Fatalf("actuals = %v; want the invoice's, VENDOR_INVOICE, consuming %s", as.GetActuals(), cs[0].GetName())
		}

		if _, err := s.v.TerminateContract(ctx, &vendorsv1.TerminateContractRequest{Name: contract,
			Reason: "replaced", EffectiveDate: day(2026, 12, 31)}); err != nil {
			t.Fatalf("terminate: %v", err)
		}
		testkit.Eventually(t, 30*time.Second, func() error {
			if f := s.lineFigures(t, "it-2027"); minorOf(f.GetCommitted()) != 0 || minorOf(f.GetActual()) != 300_000 {
				return fmt.Errorf("line: committed %d, actual %d", minorOf(f.GetCommitted()), minorOf(f.GetActual()))
			}
			return nil
		})
		if c := s.commitmentsOf(t, line, contract)[0]; c.GetState() != budgetv1.Commitment_RELEASED {
			t.Errorf("commitment after the termination = %v; want RELEASED", c)
		}
	})
}

// TestRenewalAndExpiryInBudget lets the calendar end two contracts' first terms: vendors'
// scheduler renews the auto-renewing one, and budget commits the new term; it expires the other,
// and budget releases its commitment.
func TestRenewalAndExpiryInBudget(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		s := startStack(t, db)
		ctx := context.Background()
		line := s.approvedBudget(t, "cal-2027", budgetv1.Budget_WARN, 10_000_000)
		vendor := s.activeVendor(t, "umbrella")
		renewing := s.submit(t, vendor, "support", &vendorsv1.Contract{Title: "Support", TotalValue: usd(300_000),
			AnnualValue: usd(1_200_000), StartDate: day(2026, 10, 1), EndDate: day(2026, 12, 31), BudgetLine: line,
			AutoRenew: true, RenewalTermMonths: 3})
		ending := s.submit(t, vendor, "audit", &vendorsv1.Contract{Title: "Audit", TotalValue: usd(100_000),
			AnnualValue: usd(400_000), StartDate: day(2026, 10, 1), EndDate: day(2026, 12, 31), BudgetLine: line})
		for _, c := range []string{renewing, ending} {
			if _, err := s.vApprover.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: c}); err != nil {
				t.Fatalf("approve %s: %v", c, err)
			}
		}
		testkit.Eventually(t, 30*time.Second, func() error {
			if f := s.lineFigures(t, "cal-2027"); minorOf(f.GetCommitted()) != 400_000 {
				return fmt.Errorf("line: committed %d", minorOf(f.GetCommitted()))
			}
			return nil
		})

		// The first terms end on 2026-12-31: the next day, the renewal and the expiry.
		s.clock.Set(time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC))
		testkit.Eventually(t, 30*time.Second, func() error {
			if n := len(s.commitmentsOf(t, line, renewing)); n != 2 {
				return fmt.Errorf("%s has %d commitments", renewing, n)
			}
			if c := s.commitmentsOf(t, line, ending); len(c) != 1 || c[0].GetState() != budgetv1.Commitment_RELEASED {
				return fmt.Errorf("%s's commitments: %v", ending, c)
			}
			return nil
		})
		// 12,000.00 a year for 3 months; the first term's commitment stays (no invoice yet).
		var renewal *budgetv1.Commitment
		for _, c := range s.commitmentsOf(t, line, renewing) {
			if c.GetExpectedDate().GetYear() == 2027 {
				renewal = c
			}
		}
		if renewal == nil || minorOf(renewal.GetConvertedAmount()) != 300_000 || renewal.GetExpectedDate().GetMonth() != 1 {
			t.Fatalf("renewal's commitment = %v; want 3000.00 expected 2027-01-01", renewal)
		}
		if f := s.lineFigures(t, "cal-2027"); minorOf(f.GetCommitted()) != 600_000 {
			t.Errorf("line: committed %d; want 600000", minorOf(f.GetCommitted()))
		}
	})
}

// TestActivationSurvivesBudgetDown is the durability proof of the cross-service pattern
// (docs/services.md): the contract is approved — the hold placed, the contract and its event
// committed — while budget's consumers are down, and budget is stopped before it reads the
// event. The event waits in vendors' stream; when budget is back, its commitment appears exactly
// once and nothing is lost. Budget is then stopped again while the contract is invoiced and
// terminated: once it is back, the invoice is its actual and the rest of the commitment is
// released.
//
// So that budget cannot consume the event between the approval and its stop, the budget that
// answers the approval's hold is a replica without consumers on the same database and address;
// it is stopped once the approval returns, and budget then starts again with its consumers.
func TestActivationSurvivesBudgetDown(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		s := startStack(t, db)
		ctx := context.Background()
		line := s.approvedBudget(t, "ops-2027", budgetv1.Budget_BLOCK, 5_000_000)
		vendor := s.activeVendor(t, "globex")
		contract := s.submittedContract(t, vendor, "hosting", line, 2_000_000)

		addr := s.budget.Addr
		s.stopBudget(t)
		s.startBudget(t, addr, false)
		approved, err := s.vApprover.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: contract})
		if err != nil {
			t.Fatalf("approve: %v", err)
		}
		s.stopBudget(t)

		// Budget is down, holding the contract's value and without its commitment; vendors has
		// committed the contract and published its event.
		bdb := s.budget.DB(t)
		if n := testkit.Column[int](t, bdb, `SELECT COUNT(*) FROM commitments`)[0]; n != 0 {
			t.Fatalf("budget recorded %d commitments before it could read the event", n)
		}
		if held := testkit.Column[int](t, bdb, `SELECT COUNT(*) FROM holds WHERE state = 1`)[0]; held != 1 {
			t.Fatalf("%d holds HELD while budget is down; want the approval's", held)
		}
		got, err := s.v.GetContract(ctx, &vendorsv1.GetContractRequest{Name: contract})
		if err != nil || got.GetState() != vendorsv1.Contract_ACTIVE {
			t.Fatalf("contract while budget is down = %v, %v; want ACTIVE", got, err)
		}
		testkit.Eventually(t, 30*time.Second, func() error {
			info, err := s.vendors.JetStream.Stream(ctx, s.vendors.Stream())
			if err != nil {
				return err
			}
			st, err := info.Info(ctx)
			if err != nil {
				return err
			}
			if st.State.Msgs == 0 {
				return fmt.Errorf("vendors' stream is empty")
			}
			return nil
		})

		// Budget comes back: the held value becomes the commitment, once.
		s.startBudget(t, addr, true)
		testkit.Eventually(t, 30*time.Second, func() error {
			if f := s.lineFigures(t, "ops-2027"); minorOf(f.GetCommitted()) != 2_000_000 || minorOf(f.GetHeld()) != 0 {
				return fmt.Errorf("line: committed %d, held %d", minorOf(f.GetCommitted()), minorOf(f.GetHeld()))
			}
			return nil
		})
		cs := s.commitmentsOf(t, line, contract)
		if len(cs) != 1 || cs[0].GetHold() != approved.GetHold() || minorOf(cs[0].GetRemainingAmount()) != 2_000_000 {
			t.Fatalf("commitments of %s = %v; want exactly one of 20000.00 from %s", contract, cs, approved.GetHold())
		}
		h, err := s.b.GetHold(ctx, &budgetv1.GetHoldRequest{Name: approved.GetHold()})
		if err != nil || h.GetState() != budgetv1.Hold_CONVERTED || h.GetCommitment() != cs[0].GetName() {
			t.Fatalf("hold = %v, %v; want CONVERTED into %s", h, err, cs[0].GetName())
		}

		// Another restart delivers nothing twice.
		s.stopBudget(t)
		s.startBudget(t, addr, true)
		if n := len(s.commitmentsOf(t, line, contract)); n != 1 {
			t.Fatalf("%d commitments after a second restart; want 1", n)
		}
		if f := s.lineFigures(t, "ops-2027"); minorOf(f.GetCommitted()) != 2_000_000 {
			t.Fatalf("committed %d after a second restart; want 2000000", minorOf(f.GetCommitted()))
		}

		// Budget stops again; meanwhile the contract is invoiced and terminated. Neither calls
		// budget: their events wait in vendors' stream, and budget applies them once it is back —
		// the invoice as an actual that consumes the commitment, the termination releasing the
		// rest.
		s.stopBudget(t)
		inv, err := s.v.RecordInvoice(ctx, &vendorsv1.RecordInvoiceRequest{Parent: contract, Invoice: &vendorsv1.Invoice{
			InvoiceNumber: "INV-1", Amount: usd(500_000), InvoiceDate: day(2026, 10, 31)}})
		if err != nil {
			t.Fatalf("record invoice while budget is down: %v", err)
		}
		if _, err := s.v.TerminateContract(ctx, &vendorsv1.TerminateContractRequest{Name: contract,
			Reason: "replaced", EffectiveDate: day(2026, 12, 31)}); err != nil {
			t.Fatalf("terminate while budget is down: %v", err)
		}
		s.startBudget(t, addr, true)
		testkit.Eventually(t, 30*time.Second, func() error {
			if f := s.lineFigures(t, "ops-2027"); minorOf(f.GetActual()) != 500_000 || minorOf(f.GetCommitted()) != 0 {
				return fmt.Errorf("line: actual %d, committed %d", minorOf(f.GetActual()), minorOf(f.GetCommitted()))
			}
			return nil
		})
		as, err := s.b.ListActuals(ctx, &budgetv1.ListActualsRequest{Parent: line})
		if err != nil {
			t.Fatal(err)
		}
		if len(as.GetActuals()) != 1 || as.GetActuals()[0].GetExternalReference() != inv.GetName() ||
			as.GetActuals()[0].GetCommitment() != cs[0].GetName() {
			t.Fatalf("actuals = %v; want one, the invoice's, consuming %s", as.GetActuals(), cs[0].GetName())
		}
		if c := s.commitmentsOf(t, line, contract); len(c) != 1 || c[0].GetState() != budgetv1.Commitment_RELEASED {
			t.Fatalf("commitments of %s after the termination = %v; want the one, RELEASED", contract, c)
		}
	})
}

// TestConcurrentApprovalsNeverOverCommit approves twenty contracts at once, together worth twice
// a BLOCK line's plan: the approvals that succeed fit in the line, the others are refused by
// budget for insufficient funds, and once budget has consumed the activations the line is
// committed exactly by the approved contracts, never beyond its plan.
func TestConcurrentApprovalsNeverOverCommit(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		s := startStack(t, db)
		ctx := context.Background()
		const (
			planned = 1_000_000 // 10,000.00
			each    = 100_000   // 1,000.00: twenty make 20,000.00
			n       = 20
		)
		line := s.approvedBudget(t, "tight-2027", budgetv1.Budget_BLOCK, planned)
		vendor := s.activeVendor(t, "initech")
		contracts := make([]string, n)
		for i := range contracts {
			contracts[i] = s.submittedContract(t, vendor, fmt.Sprintf("c-%02d", i), line, each)
		}

		var (
			mu       sync.Mutex
			approved []string
			refused  int
		)
		testkit.Concurrently(t, n, func(i int) error {
			_, err := s.vApprover.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: contracts[i]})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				approved = append(approved, contracts[i])
				return nil
			}
			info, _ := rpc.Details(err)
			if status.Code(err) != codes.FailedPrecondition || info.GetMetadata()[peer.MetadataPeerReason] != "INSUFFICIENT_FUNDS" {
				return fmt.Errorf("approve %s: %v (%v); want success or FAILED_PRECONDITION from budget's INSUFFICIENT_FUNDS", contracts[i], err, info)
			}
			refused++
			return nil
		})
		t.Logf("%d approvals succeeded, %d were refused", len(approved), refused)
		if len(approved)*each > planned || len(approved)+refused != n || len(approved) == 0 {
			t.Fatalf("%d approved (%d), %d refused; want at most %d approved, the rest refused", len(approved), len(approved)*each, refused, planned/each)
		}
		testkit.Eventually(t, 30*time.Second, func() error {
			f := s.lineFigures(t, "tight-2027")
			if minorOf(f.GetCommitted()) != int64(len(approved))*each || minorOf(f.GetHeld()) != 0 {
				return fmt.Errorf("line: committed %d, held %d; want %d, 0", minorOf(f.GetCommitted()), minorOf(f.GetHeld()), len(approved)*each)
			}
			return nil
		})
		f := s.lineFigures(t, "tight-2027")
		if minorOf(f.GetCommitted()) > planned || minorOf(f.GetAvailable()) < 0 {
			t.Errorf("line: committed %d of %d planned, available %d; never beyond the plan", minorOf(f.GetCommitted()), planned, minorOf(f.GetAvailable()))
		}
		for _, c := range approved {
			if k := len(s.commitmentsOf(t, line, c)); k != 1 {
				t.Errorf("%s has %d commitments; want 1", c, k)
			}
		}
		for _, c := range contracts {
			got, err := s.v.GetContract(ctx, &vendorsv1.GetContractRequest{Name: c})
			if err != nil {
				t.Fatal(err)
			}
			ok := got.GetState() == vendorsv1.Contract_ACTIVE
			if ok != slices.Contains(approved, c) {
				t.Errorf("%s is %v; approved: %v", c, got.GetState(), slices.Contains(approved, c))
			}
		}
	})
}
