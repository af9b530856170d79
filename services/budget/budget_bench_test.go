package budget_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// benchSeq makes codes unique across the runs of a benchmark, which share a database.
var benchSeq atomic.Int64

// BenchmarkCreateCostCenter measures a create through the gRPC client and the full interceptor
// chain: validation, one transaction with the row and its outbox event, and the relay publishing
// to JetStream in the background. It runs with GOMAXPROCS×-p goroutines (-cpu sets the client
// concurrency).
func BenchmarkCreateCostCenter(b *testing.B) {
	for _, db := range testenv.Databases(b) {
		b.Run(db.Engine, func(b *testing.B) {
			e := start(b, db)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					i := benchSeq.Add(1)
					_, err := e.client.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{
						CostCenter: &budgetv1.CostCenter{DisplayName: "Bench", Code: fmt.Sprintf("B-%d", i)},
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGetCostCenter measures a read by name through the gRPC client and the interceptors.
func BenchmarkGetCostCenter(b *testing.B) {
	for _, db := range testenv.Databases(b) {
		b.Run(db.Engine, func(b *testing.B) {
			e := start(b, db)
			cc, err := e.client.CreateCostCenter(context.Background(), &budgetv1.CreateCostCenterRequest{
				CostCenter: &budgetv1.CostCenter{DisplayName: "Bench", Code: fmt.Sprintf("B-%d", benchSeq.Add(1))},
			})
			if err != nil {
				b.Fatal(err)
			}
			req := &budgetv1.GetCostCenterRequest{Name: cc.GetName()}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := e.client.GetCostCenter(context.Background(), req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// approvedBudget creates a cost centre and an approved EUR budget with lines, each planned at
// 1,000,000.00 for the fiscal year of today, for benchmarks of spend.
func approvedBudget(b *testing.B, e *env, lines int) (budget string, lineNames []string) {
	b.Helper()
	ctx := context.Background()
	n := benchSeq.Add(1)
	cc, err := e.client.CreateCostCenter(ctx, &budgetv1.CreateCostCenterRequest{
		CostCenter: &budgetv1.CostCenter{DisplayName: "Bench", Code: fmt.Sprintf("B-%d", n)}})
	if err != nil {
		b.Fatal(err)
	}
	bu, err := e.client.CreateBudget(ctx, &budgetv1.CreateBudgetRequest{Budget: &budgetv1.Budget{CostCenter: cc.GetName(),
		FiscalYear: int32(time.Now().UTC().Year()), CurrencyCode: "EUR", DisplayName: "Bench"}})
	if err != nil {
		b.Fatal(err)
	}
	for i := range lines {
		l, err := e.client.CreateBudgetLine(ctx, &budgetv1.CreateBudgetLineRequest{Parent: bu.GetName(), BudgetLine: &budgetv1.BudgetLine{
			DisplayName: fmt.Sprintf("Line %d", i), Category: budgetv1.BudgetLine_CLOUD, ExpenseType: budgetv1.BudgetLine_OPEX,
			PlannedAmount: whole("", 1_000_000)}})
		if err != nil {
			b.Fatal(err)
		}
		lineNames = append(lineNames, l.GetName())
	}
	if _, err := e.client.SubmitBudget(ctx, &budgetv1.SubmitBudgetRequest{Name: bu.GetName()}); err != nil {
		b.Fatal(err)
	}
	if _, err := clientAs(b, e, "apiKeys/approver").ApproveBudget(ctx, &budgetv1.ApproveBudgetRequest{Name: bu.GetName()}); err != nil {
		b.Fatal(err)
	}
	return bu.GetName(), lineNames
}

// BenchmarkRecordActual measures recording an actual: the budget's lock, the actual, the line's
// and period's balances, the alert evaluation (the budget's forecast from its 12 × lines period
// balances), the event and the audit record, in one transaction. All goroutines spend on one
// budget of 10 lines, so they queue on its lock: this is the throughput of one budget.
func BenchmarkRecordActual(b *testing.B) {
	for _, db := range testenv.Databases(b) {
		b.Run(db.Engine, func(b *testing.B) {
			e := start(b, db)
			_, lines := approvedBudget(b, e, 10)
			today := time.Now().UTC()
			var seq atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					line := lines[seq.Add(1)%int64(len(lines))]
					_, err := e.client.RecordActual(ctx, &budgetv1.RecordActualRequest{Parent: line, Actual: &budgetv1.Actual{
						Amount: whole("EUR", 1), BookingDate: day(int32(today.Year()), int32(today.Month()), int32(today.Day()))}})
					if err != nil {
						_, vs := rpc.Details(err)
						b.Error(err, vs)
						return
					}
				}
			})
		})
	}
}

// BenchmarkGetBudgetSummary measures the full summary of a budget of 10 lines with 1,000 actuals:
// the figures come from the period balances, not from the actuals.
func BenchmarkGetBudgetSummary(b *testing.B) {
	for _, db := range testenv.Databases(b) {
		b.Run(db.Engine, func(b *testing.B) {
			e := start(b, db)
			budget, lines := approvedBudget(b, e, 10)
			ctx := context.Background()
			today := time.Now().UTC()
			for i := range 1000 {
				if _, err := e.client.RecordActual(ctx, &budgetv1.RecordActualRequest{Parent: lines[i%len(lines)], Actual: &budgetv1.Actual{
					Amount: whole("EUR", 1), BookingDate: day(int32(today.Year()), int32(today.Month()), int32(today.Day()))}}); err != nil {
					b.Fatal(err)
				}
			}
			req := &budgetv1.GetBudgetSummaryRequest{Name: budget + "/summary"}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := e.client.GetBudgetSummary(ctx, req); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
