package server

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
)

// chainOf returns the chain ID of the budget revision id. It is read before the transaction (it
// never changes), so that the chain row is the first lock the transaction takes: every figures
// change locks chain before budget, and the other order could deadlock with one. (Reading
// through the store inside a transaction could also wait forever for SQLite's one connection.)
func (s *Server) chainOf(ctx context.Context, id string) (string, error) {
	b, err := s.store.GetBudget(ctx, id)
	if err != nil {
		return "", fault.Named(err, domain.BudgetName(id))
	}
	return b.ChainID, nil
}

// lockBudget locks chain chainID and returns it with its budget revision id (see chainOf).
func (s *Server) lockBudget(ctx context.Context, tx store.Tx, chainID, id string) (*domain.Chain, *domain.Budget, error) {
	chain, err := tx.LockChain(ctx, chainID)
	if err != nil {
		return nil, nil, fault.Named(err, domain.BudgetName(id))
	}
	b, err := tx.GetBudget(ctx, id)
	if err != nil {
		return nil, nil, fault.Named(err, domain.BudgetName(id))
	}
	if b.ChainID != chainID {
		return nil, nil, fmt.Errorf("budget %s moved from chain %s to %s", id, chainID, b.ChainID)
	}
	return chain, b, nil
}

// spendOn is where a call records spend: line lineID of the budget revision in force, with the
// figures of its chain, which is locked.
type spendOn struct {
	budget  *domain.Budget
	figures *figuresChange
	lineID  string
	id      string // the ID of the new actual or commitment
}

// recordOn runs record once per request ID, for spend on the line named parent. The chain is
// read before the transaction (chainOf) and the new item's ID chosen, so that a retried
// transaction records the same item.
func recordOn[R idempotency.Request, P proto.Message](ctx context.Context, s *Server, req R, method, parent string,
	record func(ctx context.Context, tx store.Tx, req R, on spendOn) (P, error)) (P, error) {
	var zero P
	var budgetID, lineID string
	if !domain.LinePattern.ScanResource(parent, &budgetID, &lineID) {
		return zero, domain.LinePattern.Invalid("parent")
	}
	chainID, err := s.chainOf(ctx, budgetID)
	if err != nil {
		return zero, err
	}
	id := s.newID()
	return idempotency.InTx(ctx, s.store.Within, method, req, func(ctx context.Context, tx store.Tx) (P, error) {
		chain, b, err := s.lockBudget(ctx, tx, chainID, budgetID)
		if err != nil {
			return zero, err
		}
		if err := b.CheckSpendable(); err != nil {
			return zero, err
		}
		fc, err := s.beginFigures(ctx, tx, chain)
		if err != nil {
			return zero, err
		}
		if _, err := fc.line(lineID); err != nil {
			return zero, err
		}
		return record(ctx, tx, req, spendOn{budget: b, figures: fc, lineID: lineID, id: id})
	})
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

// getRecorded answers the Get of an item recorded under a budget revision (an actual, a
// commitment, a transfer): r, read with err, converted with revision budgetID, the one in its
// name, for the revision's currency and fiscal year. A NOT_FOUND error names name.
func getRecorded[R, P any](ctx context.Context, s *Server, name, budgetID string, r R, err error, toProto func(R, *domain.Budget) P) (P, error) {
	var zero P
	if err != nil {
		return zero, fault.Named(err, name)
	}
	b, err := s.store.GetBudget(ctx, budgetID)
	if err != nil {
		return zero, err
	}
	return toProto(r, b), nil
}

// lineChildren returns the fetch of a list of a line's actuals or commitments (list), from the
// list's parent "budgets/{budget}/lines/{line}", where either ID may be the wildcard "-"
// (store.Wildcard). A parent of another form fails the fetch with INVALID_NAME.
func lineChildren[R any](parent string, list func(ctx context.Context, budgetID, lineID string, q *listing.Query) ([]R, error)) func(context.Context, *listing.Query) ([]R, error) {
	var budgetID, lineID string
	ok := domain.LinePattern.Scan(parent, &budgetID, &lineID)
	return func(ctx context.Context, q *listing.Query) ([]R, error) {
		if !ok {
			return nil, domain.LinePattern.Invalid("parent")
		}
		return list(ctx, budgetID, lineID, q)
	}
}

// costCenterChildren is lineChildren for a list whose parent is "costCenters/{cost_center}" (the
// deferred commitments and actuals), the ID possibly the wildcard "-".
func costCenterChildren[R any](parent string, list func(ctx context.Context, costCenterID string, q *listing.Query) ([]R, error)) func(context.Context, *listing.Query) ([]R, error) {
	var costCenterID string
	ok := domain.CostCenterPattern.Scan(parent, &costCenterID)
	return func(ctx context.Context, q *listing.Query) ([]R, error) {
		if !ok {
			return nil, domain.CostCenterPattern.Invalid("parent")
		}
		return list(ctx, costCenterID, q)
	}
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
	return c.getIn(ctx, c.s.store, id)
}

// getIn reads through r: a transaction that has locked the budgets' chain reads its own.
func (c *budgetCache) getIn(ctx context.Context, r interface {
	GetBudget(ctx context.Context, id string) (*domain.Budget, error)
}, id string) (*domain.Budget, error) {
	if b, ok := c.budgets[id]; ok {
		return b, nil
	}
	b, err := r.GetBudget(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.budgets == nil {
		c.budgets = map[string]*domain.Budget{}
	}
	c.budgets[id] = b
	return b, nil
}
