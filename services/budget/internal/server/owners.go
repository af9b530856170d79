package server

import (
	"context"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/ownership"
)

// Owners returns the owner of the cost centre or budget name names or belongs to (a line, a
// transfer or a hold is its budget's), for the ownership check of writes (ADR 0014). A missing
// resource is its NOT_FOUND.
func (s *Server) Owners(ctx context.Context, name string) ([]string, error) {
	if cc, ok := ownership.Ancestor(name, "costCenters"); ok {
		c, err := s.GetCostCenter(ctx, &budgetv1.GetCostCenterRequest{Name: cc})
		if err != nil {
			return nil, err
		}
		return []string{c.GetOwner()}, nil
	}
	b, _ := ownership.Ancestor(name, "budgets")
	got, err := s.GetBudget(ctx, &budgetv1.GetBudgetRequest{Name: b})
	if err != nil {
		return nil, err
	}
	return []string{got.GetOwner()}, nil
}
