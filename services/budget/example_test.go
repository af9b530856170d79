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
	"google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/server"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestWorkedExample is the example of docs/budget.md, call by call, with every figure of the
// summary asserted: a cost centre with two lines phased monthly, actuals in two currencies, a
// commitment partly fulfilled by an actual, a transfer, on a fiscal year starting in April, read
// on 2026-09-15. When this test changes, the document changes with it.
func TestWorkedExample(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		today := time.Date(2026, 9, 15, 12, 0, 0, 0, time.UTC)
		e := startService(t, db, budget.Configured(budget.Settings{FiscalYearStartMonth: 4},
			server.WithClock(func() time.Time { return today })))
		workedExample(t, e, "")
	})
}

// TestWorkedExampleAsOf reads the same figures weeks later, by asking for them as of 2026-09-15:
// the guide's figures reproduce on any day.
func TestWorkedExampleAsOf(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		today := time.Date(2026, 9, 15, 12, 0, 0, 0, time.UTC)
		var mu sync.Mutex
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return today }
		e := startService(t, db, budget.Configured(budget.Settings{FiscalYearStartMonth: 4}, server.WithClock(clock)))
		workedExample(t, e, "2026-09-15", func() {
			mu.Lock()
			defer mu.Unlock()
			today = time.Date(2026, 11, 3, 9, 0, 0, 0, time.UTC) // eight periods have started
		})
		// Without as_of the figures are today's.
		s, err := e.client.GetBudgetSummary(context.Background(), &budgetv1.GetBudgetSummaryRequest{Name: "budgets/infra-fy2027/summary"})
		if err != nil || s.GetElapsedPeriods() != 8 || dateString(s.GetAsOf()) != "2026-11-03" {
			t.Errorf("summary without as_of: elapsed %d as of %s, %v; want 8 on 2026-11-03", s.GetElapsedPeriods(), dateString(s.GetAsOf()), err)
		}
		_, err = e.client.GetBudgetSummary(context.Background(), &budgetv1.GetBudgetSummaryRequest{Name: "budgets/infra-fy2027/summary", AsOf: "2026-02-30"})
		wantStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", "as_of")
	})
}

// workedExample runs the example; asOf, when set, is asked for with the figures, after
// beforeFigures (which may move the clock) has run.
func workedExample(t *testing.T, e *env, asOf string, beforeFigures ...func()) {
	ctx := context.Background()
	owner, approver := e.client, clientAs(t, e, "apiKeys/approver")
	must := func(err error, what string) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// 1. A cost centre and its budget.
	_, err := owner.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{CostCenterId: "infra",
		CostCenter: &budgetv1.CostCenter{DisplayName: "Infrastructure", Code: "CC-100", Owner: "cio@example.com"}})
	must(err, "create cost centre")
	b, err := owner.CreateBudget(ctx, &budgetv1.CreateBudgetRequest{BudgetId: "infra-fy2027", Budget: &budgetv1.Budget{
		CostCenter: "costCenters/infra", FiscalYear: 2027, CurrencyCode: "EUR", DisplayName: "Infrastructure FY2027",
		OverspendPolicy: budgetv1.Budget_WARN}})
	must(err, "create budget")
	if b.GetState() != budgetv1.Budget_DRAFT || b.GetRevision() != 1 || dateString(b.GetFiscalYearStartDate()) != "2026-04-01" {
		t.Fatalf("new budget = %v", b)
	}

	// 2. Two lines, phased monthly.
	_, err = owner.CreateBudgetLine(ctx, &budgetv1.CreateBudgetLineRequest{Parent: b.GetName(), BudgetLineId: "cloud",
		BudgetLine: &budgetv1.BudgetLine{DisplayName: "Public cloud", Category: budgetv1.BudgetLine_CLOUD,
			ExpenseType: budgetv1.BudgetLine_OPEX, PlannedAmount: whole("", 120000)}})
	must(err, "create line cloud")
	servers := make([]*money.Money, 12)
	for i := range servers {
		servers[i] = whole("", 0)
	}
	servers[2], servers[8] = whole("", 30000), whole("", 30000)
	_, err = owner.CreateBudgetLine(ctx, &budgetv1.CreateBudgetLineRequest{Parent: b.GetName(), BudgetLineId: "servers",
		BudgetLine: &budgetv1.BudgetLine{DisplayName: "Servers", Category: budgetv1.BudgetLine_HARDWARE,
			ExpenseType: budgetv1.BudgetLine_CAPEX, PlannedAmount: whole("", 60000),
			Phasing: &budgetv1.Phasing{Granularity: budgetv1.Phasing_MONTHLY, Amounts: servers}}})
	must(err, "create line servers")

	// 3. Submit, then approve as the other person.
	b, err = owner.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: b.GetName()})
	must(err, "submit")
	b, err = approver.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName(), Etag: b.GetEtag()})
	must(err, "approve")
	if b.GetState() != budgetv1.Budget_APPROVED || b.GetDecider() != "apiKeys/approver" || amountString(b.GetPlannedAmount()) != "180000.00" {
		t.Fatalf("approved budget = %v", b)
	}

	// 4. Exchange rates for the months with foreign spend.
	for _, r := range []struct{ month, rate string }{{"2026-05", "0.92"}, {"2026-07", "0.9"}} {
		_, err := owner.CreateExchangeRate(ctx, &budgetv1.CreateExchangeRateRequest{ExchangeRate: &budgetv1.ExchangeRate{
			Month: r.month, SourceCurrencyCode: "USD", TargetCurrencyCode: "EUR", Rate: r.rate}})
		must(err, "create rate "+r.month)
	}

	// 5. Spend: three cloud invoices, one in dollars; a purchase order for servers, partly
	// fulfilled by a dollar invoice.
	cloud, serversLine := b.GetName()+"/lines/cloud", b.GetName()+"/lines/servers"
	record := func(line string, amount *money.Money, day *date.Date, commitment string) *budgetv1.Actual {
		t.Helper()
		a, err := owner.RecordActual(ctx, &budgetv1.RecordActualRequest{Parent: line, Actual: &budgetv1.Actual{
			Amount: amount, BookingDate: day, Source: budgetv1.Actual_VENDOR_INVOICE, Commitment: commitment}})
		must(err, "record actual on "+line)
		return a
	}
	record(cloud, whole("EUR", 9500), day(2026, 4, 30), "")
	usd := record(cloud, whole("USD", 11000), day(2026, 5, 31), "")
	if amountString(usd.GetConvertedAmount()) != "10120.00" || usd.GetRate().GetExchangeRate() != "exchangeRates/2026-05-usd-eur" ||
		usd.GetRate().GetRate() != "0.92" || usd.GetPeriod() != "FY2027-P02" {
		t.Errorf("dollar actual = %v", usd)
	}
	record(cloud, whole("EUR", 10000), day(2026, 6, 30), "")
	po, err := owner.RecordCommitment(ctx, &budgetv1.RecordCommitmentRequest{Parent: serversLine, Commitment: &budgetv1.Commitment{
		Amount: whole("EUR", 45000), ExpectedDate: day(2026, 7, 15), Source: budgetv1.Commitment_PURCHASE_ORDER,
		SourceReference: "po-4711"}})
	must(err, "record commitment")
	invoice := record(serversLine, whole("USD", 31000), day(2026, 7, 10), po.GetName())
	if amountString(invoice.GetConvertedAmount()) != "27900.00" || amountString(invoice.GetReleasedCommitmentAmount()) != "27900.00" {
		t.Errorf("invoice against the purchase order = %v", invoice)
	}
	po, err = owner.GetCommitment(ctx, &budgetv1.GetCommitmentRequest{Name: po.GetName()})
	must(err, "get commitment")
	if amountString(po.GetRemainingAmount()) != "17100.00" || po.GetState() != budgetv1.Commitment_OPEN {
		t.Errorf("commitment after the invoice = %v", po)
	}

	// 6. A transfer of 5,000.00 from servers to cloud from September, approved by the other person.
	tr, err := owner.CreateTransfer(ctx, &budgetv1.CreateTransferRequest{Parent: b.GetName(), Transfer: &budgetv1.Transfer{
		SourceLine: serversLine, TargetLine: cloud, Amount: whole("", 5000), EffectiveDate: day(2026, 9, 1),
		Reason: "Cloud migration ahead of plan"}})
	must(err, "request transfer")
	tr, err = approver.ApproveTransfer(ctx, &budgetv1.ApproveTransferRequest{Name: tr.GetName()})
	must(err, "approve transfer")
	if tr.GetState() != budgetv1.Transfer_APPROVED || tr.GetPeriod() != "FY2027-P06" {
		t.Errorf("approved transfer = %v", tr)
	}
	sl, err := owner.GetBudgetLine(ctx, &budgetv1.GetBudgetLineRequest{Name: serversLine})
	must(err, "get servers")
	var phased []string
	for _, m := range sl.GetPhasing().GetAmounts() {
		phased = append(phased, amountString(m))
	}
	if amountString(sl.GetPlannedAmount()) != "55000.00" || phased[8] != "25000.00" || phased[2] != "30000.00" {
		t.Errorf("servers after the transfer: planned %s, phasing %v", amountString(sl.GetPlannedAmount()), phased)
	}

	// 7. Burn and forecast on 2026-09-15: six periods have started.
	for _, f := range beforeFigures {
		f()
	}
	s, err := owner.GetBudgetSummary(ctx, &budgetv1.GetBudgetSummaryRequest{Name: b.GetName() + "/summary", AsOf: asOf})
	must(err, "summary")
	if s.GetElapsedPeriods() != 6 || dateString(s.GetAsOf()) != "2026-09-15" || s.GetCurrencyCode() != "EUR" {
		t.Errorf("summary as of %s, elapsed %d, currency %s", dateString(s.GetAsOf()), s.GetElapsedPeriods(), s.GetCurrencyCode())
	}
	want := figureTable{
		"cloud": {planned: "125000.00", committed: "0.00", actual: "29620.00", available: "95380.00", variance: "95380.00",
			plannedToDate: "65000.00", actualToDate: "29620.00", varianceToDate: "35380.00", burnRate: "4936.67",
			forecast: "59240.00", forecastVariance: "65760.00", bp: 2369},
		"servers": {planned: "55000.00", committed: "17100.00", actual: "27900.00", available: "10000.00", variance: "27100.00",
			plannedToDate: "30000.00", actualToDate: "27900.00", varianceToDate: "2100.00", burnRate: "4650.00",
			forecast: "72900.00", forecastVariance: "-17900.00", bp: 8181},
		"budget": {planned: "180000.00", committed: "17100.00", actual: "57520.00", available: "105380.00", variance: "122480.00",
			plannedToDate: "95000.00", actualToDate: "57520.00", varianceToDate: "37480.00", burnRate: "9586.67",
			forecast: "132140.00", forecastVariance: "47860.00", bp: 4145},
	}
	if len(s.GetLines()) != 2 || s.GetLines()[0].GetLine() != cloud || s.GetLines()[1].GetLine() != serversLine {
		t.Fatalf("summary lines = %v", s.GetLines())
	}
	want.check(t, "cloud", s.GetLines()[0].GetFigures())
	want.check(t, "servers", s.GetLines()[1].GetFigures())
	want.check(t, "budget", s.GetTotal())
	want.check(t, "servers", s.GetCapex())
	want.check(t, "cloud", s.GetOpex())
	periods := s.GetPeriods()
	for _, p := range []struct {
		n                                 int
		label, planned, committed, actual string
	}{
		{1, "FY2027-P01", "10000.00", "0.00", "9500.00"},
		{2, "FY2027-P02", "10000.00", "0.00", "10120.00"},
		{3, "FY2027-P03", "40000.00", "0.00", "10000.00"},
		{4, "FY2027-P04", "10000.00", "17100.00", "27900.00"},
		{6, "FY2027-P06", "15000.00", "0.00", "0.00"},
		{9, "FY2027-P09", "35000.00", "0.00", "0.00"},
	} {
		got := periods[p.n-1]
		if got.GetPeriod().GetLabel() != p.label || amountString(got.GetPlanned()) != p.planned || amountString(got.GetCommitted()) != p.committed ||
			amountString(got.GetActual()) != p.actual {
			t.Errorf("period %d = %s planned %s committed %s actual %s; want %v", p.n, got.GetPeriod().GetLabel(),
				amountString(got.GetPlanned()), amountString(got.GetCommitted()), amountString(got.GetActual()), p)
		}
	}
	var rates []string
	for _, r := range s.GetRatesUsed() {
		rates = append(rates, r.GetMonth()+" "+r.GetSourceCurrencyCode()+"→"+r.GetTargetCurrencyCode()+" "+r.GetRate())
	}
	if !slices.Equal(rates, []string{"2026-05 USD→EUR 0.92", "2026-07 USD→EUR 0.9"}) {
		t.Errorf("rates used = %v", rates)
	}

	// The roll-up of the cost centre holds the same totals.
	r, err := owner.GetCostCenterRollup(ctx, &budgetv1.GetCostCenterRollupRequest{Name: "costCenters/infra/rollups/2027", AsOf: asOf})
	must(err, "roll-up")
	want.check(t, "budget", r.GetTotal())
	if !slices.Equal(r.GetBudgets(), []string{b.GetName()}) || r.GetCurrencyCode() != "EUR" {
		t.Errorf("roll-up budgets %v in %s", r.GetBudgets(), r.GetCurrencyCode())
	}

	// A funds check on servers: 10,000.00 is available.
	for _, c := range []struct {
		units    int64
		decision budgetv1.CheckFundsResponse_Decision
		reason   string
	}{{5000, budgetv1.CheckFundsResponse_ALLOW, "WITHIN_AVAILABLE"}, {12000, budgetv1.CheckFundsResponse_WARN, "EXCEEDS_AVAILABLE"}} {
		f, err := owner.CheckFunds(ctx, &budgetv1.CheckFundsRequest{Line: serversLine, Amount: whole("EUR", c.units), Date: day(2026, 10, 1)})
		must(err, "check funds")
		if f.GetDecision() != c.decision || f.GetReason() != c.reason || amountString(f.GetAvailable()) != "10000.00" {
			t.Errorf("check %d = %v", c.units, f)
		}
	}

	// 8. Every step published its events, in order.
	wantSubjects := []string{"cost_center.created", "budget.created", "line.created", "line.created", "budget.submitted",
		"budget.approved", "exchange_rate.created", "exchange_rate.created", "actual.recorded", "actual.recorded",
		"actual.recorded", "commitment.recorded", "actual.recorded", "commitment.released", "transfer.requested",
		"line.updated", "line.updated", "line.threshold_crossed", "transfer.approved"}
	var got []string
	var crossed *budgetv1.LineThresholdCrossed
	for _, m := range e.Events(t, len(wantSubjects)) {
		subject := m.Subject()
		got = append(got, subject[strings.Index(subject, ".budget.")+len(".budget."):])
		if strings.HasSuffix(subject, ".line.threshold_crossed") {
			crossed = &budgetv1.LineThresholdCrossed{}
			if err := protojson.Unmarshal(m.Data(), crossed); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !slices.Equal(got, wantSubjects) {
		t.Errorf("events:\n got %v\nwant %v", got, wantSubjects)
	}
	if crossed == nil || crossed.GetLine() != serversLine || crossed.GetThresholdPercent() != 80 ||
		crossed.GetCause() != tr.GetName() || crossed.GetConsumptionBasisPoints() != 8181 {
		t.Errorf("threshold event = %v", crossed)
	}
}

// figures are the expected figures of a line or budget, amounts as decimal strings.
type figures struct {
	planned, committed, actual, available, variance string
	plannedToDate, actualToDate, varianceToDate     string
	burnRate, forecast, forecastVariance            string
	bp                                              int64
}

type figureTable map[string]figures

func (w figureTable) check(t *testing.T, name string, f *budgetv1.Figures) {
	t.Helper()
	want := w[name]
	got := figures{amountString(f.GetPlanned()), amountString(f.GetCommitted()), amountString(f.GetActual()), amountString(f.GetAvailable()), amountString(f.GetVariance()),
		amountString(f.GetPlannedToDate()), amountString(f.GetActualToDate()), amountString(f.GetVarianceToDate()),
		amountString(f.GetBurnRate()), amountString(f.GetForecast()), amountString(f.GetForecastVariance()), f.GetConsumptionBasisPoints()}
	if got != want {
		t.Errorf("%s figures:\n got %+v\nwant %+v", name, got, want)
	}
}

// whole is a whole amount; an empty currency means the budget's.
func whole(currency string, u int64) *money.Money {
	return &money.Money{CurrencyCode: currency, Units: u}
}

func dateString(d *date.Date) string {
	return fmt.Sprintf("%04d-%02d-%02d", d.GetYear(), d.GetMonth(), d.GetDay())
}

// amountString formats a two-decimal amount as units.cents, e.g. -17900.00.
func amountString(m *money.Money) string {
	u, n := m.GetUnits(), m.GetNanos()
	sign := ""
	if u < 0 || n < 0 {
		sign, u, n = "-", -u, -n
	}
	return fmt.Sprintf("%s%d.%02d", sign, u, n/10_000_000)
}
