package budget_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/testenv"
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
