// Package store is how the risk service persists its aggregates, on PostgreSQL and SQLite alike.
// Each statement is a const inside the method that runs it, written once in the SQL both engines
// speak; row locks go through the engine's sqlstore.Dialect, and each engine has its migrations
// under migrations/ (ADR 0002): 00001 the register (matrix versions, appetite, risks, score
// history, mitigation actions, acceptances), …, 00007 compliance (frameworks and requirements,
// controls and their tests, posture snapshots).
package store

import (
	"context"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// Store reads the risk service's data and opens transactions to change it; its reads lock
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
		return fn(ctx, Join(t))
	})
}

// Tx changes the risk service's data inside a transaction. Its reads of a single aggregate
// (GetRisk, …) keep the row from changing until the transaction ends; it records changes, emits
// events and keeps request IDs through the embedded sqlstore.Tx.
type Tx struct {
	*sqlstore.Tx
	reader
}

// Join returns the risk service's view of t, a transaction opened elsewhere: the scheduler's
// worker and the consumers run their handlers in a transaction of their own.
func Join(t *sqlstore.Tx) Tx { return Tx{Tx: t, reader: reader{q: t, lock: t.Dialect.ForUpdate}} }

// reader holds the reads Store and Tx share. lock completes a query that reads one aggregate so
// that it keeps the row: nothing outside a transaction, the dialect's FOR UPDATE inside one.
type reader struct {
	q    sqlstore.Querier
	lock func(query string) string
}

func noLock(query string) string { return query }

// Wildcard as a parent's ID in a list (AIP-159: risks/-/actions/-) selects every parent.
const Wildcard = sqlstore.Wildcard
