// Package store is how the vendors service persists its aggregates, on PostgreSQL and SQLite
// alike. Each statement is a const inside the method that runs it, written once in the SQL both
// engines speak; row locks go through the engine's sqlstore.Dialect, and each engine has its
// migrations under migrations/ (ADR 0002): 00001 vendors and attestations, 00002 contracts and
// invoices, 00003 assessment templates and assessments, 00004 evaluations.
package store

import (
	"context"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// Store reads the vendors service's data and opens transactions to change it; its reads lock
// nothing. It is a handle: copy it freely.
type Store struct {
	db *sqlstore.DB
}

// New returns the store on db, a database migrated with Migrations, writing the service's events
// through events.
func New(db *sqldb.DB, events *outbox.Factory) Store {
	return Store{db: sqlstore.New(db, events)}
}

// Within runs fn in one transaction: everything written through tx — the change, its events,
// its audit record and its request ID — commits together or not at all. fn may be run again
// after a serialization conflict, so it must have no other effects.
func (s Store) Within(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	return s.db.Within(ctx, func(ctx context.Context, t *sqlstore.Tx) error {
		return fn(ctx, Tx{Tx: t})
	})
}

// Tx changes the vendors service's data inside a transaction; it records changes, emits events
// and keeps request IDs through the embedded sqlstore.Tx.
type Tx struct {
	*sqlstore.Tx
}

// Wildcard as a parent's ID in a list (AIP-159: vendors/-/contracts/-) selects every parent.
const Wildcard = sqlstore.Wildcard
