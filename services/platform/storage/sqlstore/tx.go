package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// DB is a service's database as its store sees it: the handle, its dialect and the factory of
// the service's events.
type DB struct {
	*sqldb.DB
	Dialect Dialect
	events  *outbox.Factory
}

// New returns the store database on db, writing events through events.
func New(db *sqldb.DB, events *outbox.Factory) *DB {
	return &DB{DB: db, Dialect: DialectOf(db.Engine()), events: events}
}

// Within runs fn in one transaction (sqldb.DB.InTx): everything written through tx — the change,
// its events, its audit record and its request ID — commits together or not at all. fn may run
// again after a serialization conflict, so it must have no other effects.
func (db *DB) Within(ctx context.Context, fn func(ctx context.Context, tx *Tx) error) error {
	return db.InTx(ctx, func(t *sql.Tx) error { return db.Join(ctx, t, fn) })
}

// Join runs fn on t, a transaction its caller commits (a consumer's, whose inbox row commits
// with fn's effects), as Within runs fn on its own: the effects fn records are written when it
// returns, together.
func (db *DB) Join(ctx context.Context, t *sql.Tx, fn func(ctx context.Context, tx *Tx) error) error {
	tx := db.Tx(t)
	tx.buffered = true
	if err := fn(ctx, tx); err != nil {
		return err
	}
	return tx.flush(ctx)
}

// Tx returns t as a service transaction; a store whose own transaction type embeds Tx builds it
// with this inside db.InTx.
func (db *DB) Tx(t *sql.Tx) *Tx { return &Tx{Tx: t, Dialect: db.Dialect, events: db.events} }

// Tx is a service transaction. A service's store embeds it in its own transaction type, so that
// the four services write their effects the same way on both engines.
type Tx struct {
	*sql.Tx
	Dialect Dialect
	events  *outbox.Factory

	// buffered is set on the transactions of Within and Join, which write the events Emit took
	// (pending), the audit records Record took (records) and the writes Defer took (deferred)
	// when fn returns, before the commit, in one statement where the engine allows
	// (sqldb.ExecAll). A Tx built with DB.Tx around a transaction someone else commits writes
	// them at once.
	buffered bool
	pending  []outbox.Message
	records  []audit.Record
	deferred []sqldb.Statement
}

// Event is an event message that carries its aggregate's version.
type Event interface {
	proto.Message
	GetVersion() int64
}

// Change is what one call did to one resource: the audit record's action and the resource's
// states before and after (nil for a create or a delete), and the event that tells of it (nil
// when the change has none of its own).
type Change struct {
	// Request is the call's request: its request_id goes into the audit record.
	Request  proto.Message
	Action   string
	Resource string
	Before   proto.Message
	After    proto.Message
	Event    Event
}

// Record writes a change's effects in the transaction: its event into the outbox, then its audit
// record. Call it after the change's own writes: their row locks keep the records of one resource
// in the order of its changes (docs/audit.md).
func (t *Tx) Record(ctx context.Context, c Change) error {
	if c.Event != nil {
		if err := t.Emit(ctx, c.Resource, c.Event); err != nil {
			return err
		}
	}
	e, err := audit.NewEntry(ctx, c.Request, c.Action, c.Resource, c.Before, c.After)
	if err != nil {
		return err
	}
	if t.buffered {
		sqldb.Left(t.Tx, audit.Work)
		t.records = append(t.records, audit.Stamp(e))
		return nil
	}
	_, err = audit.Append(ctx, t.Tx, t.Dialect.Engine(), e)
	return err
}

// Emit writes events about the resource named resource into the outbox, without an audit record:
// for what follows from a recorded change (a threshold it crossed). Each event's version must be
// higher than that of every earlier event about the resource.
//
// In a transaction of Within the events are written when its fn returns, all the transaction's
// in their order and in as few statements as outbox.Insert takes (one for up to 128): the row
// locks of the changes they tell of are still held then, so a resource's events still take their
// sequence numbers in the order of its changes. Nothing in a transaction reads the outbox.
func (t *Tx) Emit(ctx context.Context, resource string, events ...Event) error {
	for _, ev := range events {
		m, err := t.events.New(ctx, ev, resource, ev.GetVersion())
		if err != nil {
			return fmt.Errorf("event for %s: %w", resource, err)
		}
		if t.buffered {
			t.pending = append(t.pending, m)
		} else if err := outbox.Insert(ctx, t.Tx, m); err != nil {
			return err
		}
	}
	return nil
}

// Defer has query, a write of table, run with args at the end of the transaction, with its
// events and audit records (see Within), or at once in a Tx of DB.Tx. It is for a write whose
// result nobody reads and that nothing later in the transaction reads back: a stored response
// (idempotency.Do). The rules of sqldb.ExecAll apply: a plain INSERT, UPDATE or DELETE.
func (t *Tx) Defer(ctx context.Context, table, query string, args ...any) error {
	if t.buffered {
		t.deferred = append(t.deferred, sqldb.Statement{Table: table, Query: query, Args: args})
		return nil
	}
	_, err := t.ExecContext(ctx, query, args...)
	return err
}

// flush writes the events Emit took into the outbox, the records Record took into the audit
// trail and the writes Defer took.
func (t *Tx) flush(ctx context.Context) error {
	if len(t.pending)+len(t.records)+len(t.deferred) == 0 {
		return nil
	}
	if len(t.pending) > 0 {
		sqldb.Left(t.Tx, outbox.Work)
	}
	stmts := outbox.Statements(t.pending...)
	records, err := audit.Statements(t.records...)
	if err != nil {
		return err
	}
	stmts = append(append(stmts, records...), t.deferred...)
	t.pending, t.records, t.deferred = nil, nil, nil
	if err := sqldb.ExecAll(ctx, t.Tx, t.Dialect.Engine(), stmts...); err != nil {
		return fmt.Errorf("write the transaction's events, audit records and response: %w", err)
	}
	return nil
}

// Requests records request IDs in the transaction, for idempotency.Do, which stores the
// response through Defer.
func (t *Tx) Requests() idempotency.Querier { return t }

// Left notes that the transaction wrote work of the kind for a background loop, which the
// hooks registered for the kind then learn of once it commits (sqldb.Left).
func (t *Tx) Left(kind string) { sqldb.Left(t.Tx, kind) }

// Result runs fn in a transaction opened by within (a store's Within) and returns fn's result
// once the transaction committed; on failure the zero T and the error. It is how a call that
// answers with what its transaction wrote gets that value out of the transaction.
func Result[T, Tx any](ctx context.Context, within func(context.Context, func(context.Context, Tx) error) error,
	fn func(ctx context.Context, tx Tx) (T, error)) (T, error) {
	var out T
	err := within(ctx, func(ctx context.Context, tx Tx) error {
		var err error
		out, err = fn(ctx, tx)
		return err
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return out, nil
}
