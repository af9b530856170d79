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
	db *sqlstore.DB
	reader
}

// New returns the store on db, a database migrated with Migrations, writing the service's events
// through events.
func New(db *sqldb.DB, events *outbox.Factory) Store {
	sdb := sqlstore.New(db, events)
	return Store{db: sdb, reader: reader{q: sdb, lock: noLock}}
}

// Within runs fn in one transaction: everything written through tx — the change, its events,
// its audit record and its request ID — commits together or not at all. fn may be run again
// after a serialization conflict, so it must have no other effects.
func (s Store) Within(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	return s.db.Within(ctx, func(ctx context.Context, t *sqlstore.Tx) error {
		return fn(ctx, Tx{Tx: t, reader: reader{q: t, lock: t.Dialect.ForUpdate}})
	})
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

// reader holds the reads Store and Tx share. lock completes a query that reads one aggregate so
// that it keeps the row: nothing outside a transaction, the dialect's FOR UPDATE inside one.
type reader struct {
	q    sqlstore.Querier
	lock func(query string) string
}

func noLock(query string) string { return query }

// LineSpend is the spend of one line in one fiscal period, in minor units of the budget
// currency: the converted actuals and the remaining amount of the open commitments.
type LineSpend = domain.LineSpend

// Wildcard as a parent's ID in a list (AIP-159: budgets/-/lines/-) selects every parent.
const Wildcard = sqlstore.Wildcard

var (
	_ Reader = Store{}
	_ Reader = Tx{}
)
