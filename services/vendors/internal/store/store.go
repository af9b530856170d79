// Package store is how the vendors service persists its aggregates, on PostgreSQL and SQLite
// alike. Each statement is a const inside the method that runs it, written once in the SQL both
// engines speak; row locks go through the engine's sqlstore.Dialect, and each engine has its
// migrations under migrations/ (ADR 0002): 00001 vendors and attestations, 00002 contracts and
// invoices, 00003 assessment templates and assessments, 00004 evaluations.
package store

import (
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// Store reads the vendors service's data and opens transactions to change it; its reads lock
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

// Tx changes the vendors service's data inside a transaction. Its reads of a single aggregate
// (GetVendor, …) keep the row from changing until the transaction ends; it records changes,
// emits events and keeps request IDs through the embedded sqlstore.Tx.
type Tx struct {
	*sqlstore.Tx
	reader
}

// Join returns the vendors service's view of t, a transaction opened elsewhere: the scheduler's
// worker runs the handler of a due item in a transaction of its own.
func Join(t *sqlstore.Tx) Tx { return Tx{Tx: t, reader: reader{t.Reads()}} }

// reader holds the reads Store and Tx share, each written once (sqlstore.Reader).
type reader struct{ sqlstore.Reader }

// Wildcard as a parent's ID in a list (AIP-159: vendors/-/contracts/-) selects every parent.
const Wildcard = sqlstore.Wildcard
