package sqlstore

import "context"

// Store is the part of a service's store that is the same in every service: it opens the
// service's transactions, each as the service's own transaction type T. A service's Store embeds
// it next to the type its reads are methods of, and its Tx embeds *Tx next to the same type:
//
//	type Store struct {
//		sqlstore.Store[Tx]
//		reader
//	}
//
//	type Tx struct {
//		*sqlstore.Tx
//		reader
//	}
//
//	type reader struct{ sqlstore.Reader }
type Store[T any] struct {
	db   *DB
	join func(*Tx) T
}

// NewStore returns the store on db whose transactions join makes into Ts: the service's Join,
// which wraps a transaction opened elsewhere too.
func NewStore[T any](db *DB, join func(*Tx) T) Store[T] { return Store[T]{db: db, join: join} }

// Within runs fn in one transaction (DB.Within): everything written through tx — the change, its
// events, its audit record and its request ID — commits together or not at all. fn may be run
// again after a serialization conflict, so it must have no other effects.
func (s Store[T]) Within(ctx context.Context, fn func(ctx context.Context, tx T) error) error {
	return s.db.Within(ctx, func(ctx context.Context, t *Tx) error {
		return fn(ctx, s.join(t))
	})
}

// Reads returns the Reader of the store's reads, outside any transaction.
func (s Store[T]) Reads() Reader { return Reader{Q: s.db, Dialect: s.db.Dialect} }

// Reads returns the Reader of the reads in t.
func (t *Tx) Reads() Reader { return Reader{Q: t, Dialect: t.Dialect, inTx: true} }

// Reader is what a service's reads run on, so that each is written once for the store and for a
// transaction: the service defines them on a type that embeds a Reader and embeds that type in
// both its Store and its Tx.
type Reader struct {
	// Q runs the reads: the database outside a transaction, the transaction inside one.
	Q Querier
	// Dialect is the engine's.
	Dialect Dialect
	inTx    bool
}

// ForUpdate completes query, which reads one aggregate, so that it keeps the row: in a
// transaction the dialect's ForUpdate, until the transaction ends; outside one nothing, query as
// it is.
func (r Reader) ForUpdate(query string) string {
	if r.inTx {
		return r.Dialect.ForUpdate(query)
	}
	return query
}
