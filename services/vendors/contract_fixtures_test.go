package vendors_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/type/date"
	moneypb "google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/vendors"
)

// contractEnv is the vendors service with a real budget service as its peer, each on a database
// of its own, both on one fake clock (and their schedulers with it).
type contractEnv struct {
	*env
	// approver calls vendors as a second person with every scope, budget.spend included.
	approver vendorsv1.VendorsServiceClient
	budget   *testkit.Service
	// budgetClient calls budget as the test principal.
	budgetClient budgetv1.BudgetServiceClient
	clock        *clock.Fake
	db           *sqldb.DB
}

// startContracts starts budget (fiscal years from April: FY2027 is April 2026 to March 2027)
// and vendors calling it, at now, and seeds the approved BLOCK budget it-2027 with the lines
// cloud (100 000.00 EUR) and tiny (10.00 EUR), and the ACTIVE vendor acme.
func startContracts(t *testing.T, db testenv.Database, now time.Time) *contractEnv {
	t.Helper()
	fake := clock.NewFake(now)
	return startContractsOn(t, db, fake, fake)
}

// startContractsOn is startContracts with budget on budgetClock and vendors on vendorsClock.
func startContractsOn(t *testing.T, db testenv.Database, budgetClock, vendorsClock *clock.Fake) *contractEnv {
	t.Helper()
	return startContractsWith(t, db, budgetClock, vendorsClock, nil)
}

// startContractsWith is startContractsOn with both services on the NATS server shared, when
// given: budget then consumes the vendors events, as in production.
func startContractsWith(t *testing.T, db testenv.Database, budgetClock, vendorsClock *clock.Fake, shared *testenv.NATS) *contractEnv {
	t.Helper()
	return startContractsServing(t, db, vendors.Service(), budgetClock, vendorsClock, shared)
}

// startContractsServing is startContractsWith for vendors as svc describes it, e.g. with other
// settings.
func startContractsServing(t *testing.T, db testenv.Database, svc host.Service, budgetClock, vendorsClock *clock.Fake, shared *testenv.NATS) *contractEnv {
	t.Helper()
	var natsOpt []testkit.Option
	if shared != nil {
		natsOpt = append(natsOpt, testkit.WithNATS(*shared))
	}
	fake := vendorsClock
	on := func(c *clock.Fake) func(o *host.Options) {
		return func(o *host.Options) {
			o.Clock = c
			o.Scheduler = scheduler.Settings{PollInterval: 20 * time.Millisecond}
		}
	}
	b := testkit.Start(t, testenv.Another(t, db), budget.Configured(budget.Settings{FiscalYearStartMonth: 4}),
		append(natsOpt, testkit.WithHostOptions(func(o *host.Options) {
			on(budgetClock)(o)
			o.Consumers.BackoffInitial, o.Consumers.BackoffMax = 50*time.Millisecond, 200*time.Millisecond
		}))...)
	s := testkit.Start(t, db, svc, append(natsOpt, testkit.WithHostOptions(func(o *host.Options) {
		on(vendorsClock)(o)
		// Talent, asked under the owner write policy about the members of owner teams, is not
		// needed: no team owns here.
		o.Peers = map[string]string{"budget": b.Addr, "talent": "127.0.0.1:1"}
	}))...)
	e := &contractEnv{
		env:          &env{Service: s, client: vendorsv1.NewVendorsServiceClient(s.Conn)},
		approver:     vendorsv1.NewVendorsServiceClient(s.ConnAs(t, "apiKeys/approver")),
		budget:       b,
		budgetClient: budgetv1.NewBudgetServiceClient(b.Conn),
		clock:        fake,
		db:           s.DB(t),
	}
	e.seedBudget(t)
	e.seedVendor(t, "acme")
	return e
}

func (e *contractEnv) seedBudget(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	bc := e.budgetClient
	if _, err := bc.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{CostCenterId: "it",
		CostCenter: &budgetv1.CostCenter{DisplayName: "IT", Code: "IT", Owner: "cio@example.com"}}); err != nil {
		t.Fatal(err)
	}
	bud, err := bc.CreateBudget(ctx, &budgetv1.CreateBudgetRequest{BudgetId: "it-2027", Budget: &budgetv1.Budget{
		CostCenter: "costCenters/it", FiscalYear: 2027, CurrencyCode: "EUR", DisplayName: "IT 2027",
		Owner: "cio@example.com", OverspendPolicy: budgetv1.Budget_BLOCK}})
	if err != nil {
		t.Fatal(err)
	}
	for id, planned := range map[string]int64{"cloud": 10_000_000, "tiny": 1_000} {
		if _, err := bc.CreateBudgetLine(ctx, &budgetv1.CreateBudgetLineRequest{Parent: bud.GetName(), BudgetLineId: id,
			BudgetLine: &budgetv1.BudgetLine{DisplayName: id, Category: budgetv1.BudgetLine_CLOUD,
				ExpenseType: budgetv1.BudgetLine_OPEX, PlannedAmount: eur(planned)}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bc.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: bud.GetName()}); err != nil {
		t.Fatal(err)
	}
	approver := budgetv1.NewBudgetServiceClient(e.budget.ConnAs(t, "apiKeys/budget-approver"))
	if _, err := approver.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: bud.GetName()}); err != nil {
		t.Fatal(err)
	}
}

// seedVendor creates the tier-3 vendor id and makes it ACTIVE.
func (e *contractEnv) seedVendor(t *testing.T, id string) {
	t.Helper()
	ctx := context.Background()
	name := "vendors/" + id
	if _, err := e.client.CreateVendor(ctx, &vendorsv1.CreateVendorRequest{VendorId: id, Vendor: acme("Acme "+id, 3)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.StartVendorOnboarding(ctx, &vendorsv1.StartVendorOnboardingRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.ActivateVendor(ctx, &vendorsv1.ActivateVendorRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
}

func eur(minor int64) *moneypb.Money {
	return &moneypb.Money{CurrencyCode: "EUR", Units: minor / 100, Nanos: int32(minor%100) * 10_000_000}
}

// minor is m in minor units (cents).
func minor(m *moneypb.Money) int64 { return m.GetUnits()*100 + int64(m.GetNanos())/10_000_000 }

func day(y, m, d int) *date.Date { return &date.Date{Year: int32(y), Month: int32(m), Day: int32(d)} }

func dateString(d *date.Date) string {
	if d == nil {
		return ""
	}
	return time.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay()), 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
}

// cloudContract is a complete auto-renewing contract of 12 000.00 EUR a year for 2027 on the
// line cloud: cancel-by 2027-09-02 (end − 90 days of notice − 30 of buffer), its notice window
// opening 60 days before (the service's default), 2027-07-04.
func cloudContract() *vendorsv1.Contract {
	return &vendorsv1.Contract{
		Title: "Acme Cloud 2027", Description: "Enterprise subscription",
		TotalValue: eur(1_200_000), AnnualValue: eur(1_200_000), BillingFrequency: vendorsv1.Contract_MONTHLY,
		StartDate: day(2027, 1, 1), EndDate: day(2027, 12, 31), AutoRenew: true, RenewalTermMonths: 12,
		NoticePeriodDays: 90, DecisionBufferDays: 30, BudgetLine: "budgets/it-2027/lines/cloud", Owner: "people/ada",
	}
}

func (e *contractEnv) mustContract(t *testing.T, vendor, id string, c *vendorsv1.Contract) *vendorsv1.Contract {
	t.Helper()
	out, err := e.client.CreateContract(context.Background(), &vendorsv1.CreateContractRequest{Parent: "vendors/" + vendor, ContractId: id, Contract: c})
	if err != nil {
		t.Fatalf("create contract %s: %v", id, err)
	}
	return out
}

// mustActive creates the contract, submits it as the test principal and approves it as the
// approver.
func (e *contractEnv) mustActive(t *testing.T, id string, c *vendorsv1.Contract) *vendorsv1.Contract {
	t.Helper()
	ctx := context.Background()
	name := e.mustContract(t, "acme", id, c).GetName()
	if _, err := e.client.SubmitContract(ctx, &vendorsv1.SubmitContractRequest{Name: name}); err != nil {
		t.Fatalf("submit %s: %v", name, err)
	}
	out, err := e.approver.ApproveContract(ctx, &vendorsv1.ApproveContractRequest{Name: name, RequestId: newRequestID()})
	if err != nil {
		t.Fatalf("approve %s: %v", name, err)
	}
	return out
}

func (e *contractEnv) get(t *testing.T, name string) *vendorsv1.Contract {
	t.Helper()
	c, err := e.client.GetContract(context.Background(), &vendorsv1.GetContractRequest{Name: name})
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return c
}

// events decodes the payloads of the vendors outbox events whose subject ends with suffix, in
// order.
func events[M proto.Message](t *testing.T, db *sqldb.DB, suffix string, newM func() M) []M {
	t.Helper()
	var out []M
	for _, payload := range testkit.Column[[]byte](t, db, `SELECT payload FROM outbox WHERE subject LIKE $1 ORDER BY seq`, "%"+suffix) {
		m := newM()
		if err := protojson.Unmarshal(payload, m); err != nil {
			t.Fatalf("event %s: %v", suffix, err)
		}
		out = append(out, m)
	}
	return out
}

func newRequestID() string { return uuid.NewString() }

// outboxOf counts the vendors outbox events about resource whose subject ends with suffix.
func outboxOf(t *testing.T, db *sqldb.DB, suffix, resource string) int {
	t.Helper()
	return testkit.Column[int](t, db, `SELECT COUNT(*) FROM outbox WHERE subject LIKE $1 AND resource_name = $2`, "%"+suffix, resource)[0]
}

// holdsOf lists the holds budget keeps for the contract named name, on any line.
func (e *contractEnv) holdsOf(t *testing.T, name string) []*budgetv1.Hold {
	t.Helper()
	res, err := e.budgetClient.ListHolds(context.Background(), &budgetv1.ListHoldsRequest{Parent: "budgets/-/lines/-",
		Filter: `source_reference = "` + name + `"`})
	if err != nil {
		t.Fatalf("list holds of %s: %v", name, err)
	}
	return res.GetHolds()
}

// pending creates the contract c as id and submits it.
func (e *contractEnv) pending(t *testing.T, id string, c *vendorsv1.Contract) *vendorsv1.Contract {
	t.Helper()
	name := e.mustContract(t, "acme", id, c).GetName()
	out, err := e.client.SubmitContract(context.Background(), &vendorsv1.SubmitContractRequest{Name: name})
	if err != nil {
		t.Fatalf("submit %s: %v", name, err)
	}
	return out
}
