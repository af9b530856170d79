// Package store is how the budget service persists its aggregates, on PostgreSQL and SQLite
// alike. Each statement is a const inside the method that runs it, written once in the SQL both
// engines speak; row locks and advisory locks go through the engine's sqlstore.Dialect, and each
// engine has its migrations under migrations/ (ADR 0002). The contract suite in this package's
// tests runs against both engines.
package store

import (
	"context"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// Store reads the budget service's data and opens transactions to change it; its reads lock
// nothing. It is a handle: copy it freely.
type Store struct {
	sqlstore.Store[Tx]
	reader
}

// New returns the store on db, a database migrated with Migrations, writing the service's events
// through events.
func New(db *sqldb.DB, events *outbox.Factory) Store {
	s := sqlstore.NewStore(sqlstore.New(db, events), Join)
	return Store{Store: s, reader: reader{s.Reads()}}
}

// Tx changes the budget service's data inside a transaction. Its reads of a single aggregate
// (GetCostCenter, GetBudget, …) keep the row from changing until the transaction ends; it
// records changes, emits events and keeps request IDs through the embedded sqlstore.Tx.
type Tx struct {
	*sqlstore.Tx
	reader
}

// Reader is what the store and a transaction read alike: the inputs of figures and roll-ups,
// documented on Store. In a transaction they see its own writes.
type Reader interface {
	FindRate(ctx context.Context, month domain.Month, source, target domain.Currency) (*domain.ExchangeRate, error)
	LineBalances(ctx context.Context, chainID string) ([]*domain.LineBalance, error)
	Spend(ctx context.Context, chainID string) ([]domain.LineSpend, error)
	PeriodSpend(ctx context.Context, chainID string) ([]domain.LineSpend, error)
	RatesUsed(ctx context.Context, chainID string) ([]domain.RateUse, error)
	Subtree(ctx context.Context, costCenterID string) ([]*domain.CostCenter, error)
	BudgetsInForce(ctx context.Context, costCenterIDs []string, fiscalYear int32) ([]*domain.Budget, error)
}

// reader holds the reads Store and Tx share, each written once (sqlstore.Reader).
type reader struct{ sqlstore.Reader }

// LineSpend is the spend of one line in one fiscal period, in minor units of the budget
// currency: the converted actuals and the remaining amount of the open commitments.
type LineSpend = domain.LineSpend

// Wildcard as a parent's ID in a list (AIP-159: budgets/-/lines/-) selects every parent.
const Wildcard = sqlstore.Wildcard

var (
	_ Reader = Store{}
	_ Reader = Tx{}
)
