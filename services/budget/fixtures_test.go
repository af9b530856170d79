package budget_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/server"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// spendEnv is a running budget service with an April fiscal year and a clock fixed at
// 2026-09-15 (FY2027, six periods started), a client calling as another subject for four-eyes
// decisions, and the service's store for checks against the records (fixtures go through the API).
type spendEnv struct {
	*env
	approver budgetv1.BudgetServiceClient
	db       *sqldb.DB
	store    store.Store
}

var spendNow = time.Date(2026, 9, 15, 12, 0, 0, 0, time.UTC)

func startSpend(t *testing.T, db testenv.Database) *spendEnv {
	t.Helper()
	e := startService(t, db, budget.Configured(budget.Settings{FiscalYearStartMonth: 4},
		server.WithClock(func() time.Time { return spendNow })))
	// The store, opened beside the service, observes the records; fixtures go through the API.
	sdb := e.DB(t)
	return &spendEnv{env: e, approver: clientAs(t, e, "apiKeys/approver", "budget.read", "budget.approve"), db: sdb, store: store.New(sdb, nil)}
}

// forEachSpendDatabase runs fn against SQLite and, when available, PostgreSQL.
func forEachSpendDatabase(t *testing.T, fn func(t *testing.T, e *spendEnv)) {
	t.Helper()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) { fn(t, startSpend(t, db)) })
}

// fixtureLine is a line of seedApprovedBudget: planned minor units, phased evenly unless
// phasing (monthly minor units) is given.
type fixtureLine struct {
	id      string
	planned int64
	capex   bool
	phasing []int64
}

// seedDraftBudget creates an FY2027 budget with lines through the API, for the cost centre
// ccID (created here when missing), and leaves it in DRAFT.
func seedDraftBudget(t *testing.T, e *spendEnv, ccID, budgetID, currency string, policy domain.Policy, lines ...fixtureLine) *budgetv1.Budget {
	t.Helper()
	ctx := context.Background()
	if _, err := e.client.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: "costCenters/" + ccID}); err != nil {
		if status.Code(err) != codes.NotFound {
			t.Fatal(err)
		}
		create(t, e.env, ccID, "CC "+ccID, "CC-"+strings.ToUpper(ccID), "")
	}
	pbPolicy := budgetv1.Budget_WARN
	if policy == domain.PolicyBlock {
		pbPolicy = budgetv1.Budget_BLOCK
	}
	b, err := e.client.CreateBudget(ctx, &budgetv1.CreateBudgetRequest{BudgetId: budgetID, Budget: &budgetv1.Budget{
		CostCenter: "costCenters/" + ccID, FiscalYear: 2027, CurrencyCode: currency, DisplayName: budgetID,
		Owner: "owner@example.com", OverspendPolicy: pbPolicy,
	}})
	if err != nil {
		t.Fatalf("create budget %s: %v", budgetID, err)
	}
	for _, fl := range lines {
		l := &budgetv1.BudgetLine{DisplayName: fl.id, Category: budgetv1.BudgetLine_CLOUD,
			ExpenseType: budgetv1.BudgetLine_OPEX, PlannedAmount: cents(fl.planned, "")}
		if fl.capex {
			l.ExpenseType, l.Category = budgetv1.BudgetLine_CAPEX, budgetv1.BudgetLine_HARDWARE
		}
		if fl.phasing != nil {
			l.Phasing = &budgetv1.Phasing{Granularity: budgetv1.Phasing_MONTHLY}
			for _, m := range fl.phasing {
				l.Phasing.Amounts = append(l.Phasing.Amounts, cents(m, ""))
			}
		}
		if _, err := e.client.CreateBudgetLine(ctx, &budgetv1.CreateBudgetLineRequest{
			Parent: b.GetName(), BudgetLineId: fl.id, BudgetLine: l}); err != nil {
			t.Fatalf("create line %s of %s: %v", fl.id, budgetID, err)
		}
	}
	return b
}

// seedApprovedBudget creates an FY2027 budget with lines through the API (see seedDraftBudget),
// submits it as the test principal and approves it as the approver, so that it is in force.
func seedApprovedBudget(t *testing.T, e *spendEnv, ccID, budgetID, currency string, policy domain.Policy, lines ...fixtureLine) {
	t.Helper()
	ctx := context.Background()
	b := seedDraftBudget(t, e, ccID, budgetID, currency, policy, lines...)
	if _, err := e.client.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: b.GetName()}); err != nil {
		t.Fatalf("submit %s: %v", b.GetName(), err)
	}
	if _, err := e.approver.ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: b.GetName()}); err != nil {
		t.Fatalf("approve %s: %v", b.GetName(), err)
	}
}

// seedRate creates an exchange rate through the API.
func seedRate(t *testing.T, e *spendEnv, month, src, dst, value string) {
	t.Helper()
	if _, err := e.client.CreateExchangeRate(context.Background(), &budgetv1.CreateExchangeRateRequest{ExchangeRate: &budgetv1.ExchangeRate{
		Month: month, SourceCurrencyCode: src, TargetCurrencyCode: dst, Rate: value,
	}}); err != nil {
		t.Fatalf("create rate %s %s→%s: %v", month, src, dst, err)
	}
}

// closeBudget closes an approved budget as the approver.
func closeBudget(t *testing.T, e *spendEnv, budgetID string) {
	t.Helper()
	if _, err := e.approver.CloseBudget(context.Background(), &budgetv1.CloseBudgetRequest{Name: "budgets/" + budgetID}); err != nil {
		t.Fatalf("close %s: %v", budgetID, err)
	}
}

// outboxCount counts the events in the outbox whose subject ends with suffix (e.g.
// ".line.threshold_crossed").
func outboxCount(t *testing.T, e *spendEnv, suffix string) int {
	t.Helper()
	var n int
	if err := e.db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM outbox WHERE subject LIKE $1`, "%"+suffix).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
