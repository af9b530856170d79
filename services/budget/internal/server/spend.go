package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
)

// chainOf returns the chain ID of the budget revision id. It is read before the transaction (it
// never changes), so that the chain row is the first lock the transaction takes: every figures
// change locks chain before budget, and the other order could deadlock with one. (Reading
// through the store inside a transaction could also wait forever for SQLite's one connection.)
func (s *Server) chainOf(ctx context.Context, id string) (string, error) {
	b, err := s.store.GetBudget(ctx, id)
	if err != nil {
		return "", budgetNotFound(err, domain.BudgetName(id))
	}
	return b.ChainID, nil
}

// lockBudget locks chain chainID and returns it with its budget revision id (see chainOf).
func (s *Server) lockBudget(ctx context.Context, tx store.Tx, chainID, id string) (*domain.Chain, *domain.Budget, error) {
	chain, err := tx.LockChain(ctx, chainID)
	if err != nil {
		return nil, nil, budgetNotFound(err, domain.BudgetName(id))
	}
	b, err := tx.GetBudget(ctx, id)
	if err != nil {
		return nil, nil, budgetNotFound(err, domain.BudgetName(id))
	}
	if b.ChainID != chainID {
		return nil, nil, fmt.Errorf("budget %s moved from chain %s to %s", id, chainID, b.ChainID)
	}
	return chain, b, nil
}

// rateFor returns the exchange rate that converts a, dated d, into the budget currency cur: nil
// when none is needed, when d is not a valid date (the domain reports that), or when there is
// none (the domain's conversion then fails with EXCHANGE_RATE_MISSING).
func rateFor(ctx context.Context, r store.Reader, a domain.Amount, d domain.Date, cur domain.Currency) (*domain.ExchangeRate, error) {
	key, ok := domain.NeededRate(a, d, cur)
	if !ok || !d.Valid() || !a.Currency.Supported() {
		return nil, nil
	}
	rate, err := r.FindRate(ctx, key.Month, key.Source, key.Target)
	if errors.Is(err, domain.ErrExchangeRateNotFound) {
		return nil, nil
	}
	return rate, err
}

// underBudget adapts toProto, which needs the budget revision an item was recorded under (for
// its currency and fiscal year), to list: each revision is read once a page, not once an item.
func underBudget[R, P any](ctx context.Context, s *Server, budgetOf func(R) string, toProto func(R, *domain.Budget) P) func(R) (P, error) {
	budgets := budgetCache{s: s}
	return func(r R) (P, error) {
		b, err := budgets.get(ctx, budgetOf(r))
		if err != nil {
			var zero P
			return zero, err
		}
		return toProto(r, b), nil
	}
}

// budgetCache reads each budget revision once, for lists whose items need their budget's
// currency and fiscal year.
type budgetCache struct {
	s       *Server
	budgets map[string]*domain.Budget
}

func (c *budgetCache) get(ctx context.Context, id string) (*domain.Budget, error) {
	if b, ok := c.budgets[id]; ok {
		return b, nil
	}
	b, err := c.s.store.GetBudget(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.budgets == nil {
		c.budgets = map[string]*domain.Budget{}
	}
	c.budgets[id] = b
	return b, nil
}
