package sqlstore

import (
	"context"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// Dialect is what the two engines really say differently. Everything else a store writes once.
//
// SQLite needs no row or advisory locks: its writing transactions begin IMMEDIATE (see sqldb) and
// run one at a time, so what a lock would serialise is serial already.
type Dialect struct {
	engine sqldb.Engine
}

// DialectOf returns the dialect of engine.
func DialectOf(engine sqldb.Engine) Dialect { return Dialect{engine: engine} }

// Engine is the engine the dialect speaks for.
func (d Dialect) Engine() sqldb.Engine { return d.engine }

// ForUpdate returns query with a clause that keeps the rows it reads from changing until the
// transaction ends: " FOR UPDATE" on PostgreSQL, nothing on SQLite.
func (d Dialect) ForUpdate(query string) string {
	if d.engine == sqldb.Postgres {
		return query + " FOR UPDATE"
	}
	return query
}

// Lock takes a transaction-scoped lock named key, released at commit or rollback, so that the
// transactions taking it run one at a time (on PostgreSQL an advisory lock; nothing on SQLite).
// Use it for what no row stands for, such as the shape of a tree.
func (d Dialect) Lock(ctx context.Context, q Querier, key string) error {
	if d.engine != sqldb.Postgres {
		return nil
	}
	if _, err := q.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext($1))`, key); err != nil {
		return fmt.Errorf("lock %s: %w", key, err)
	}
	return nil
}

// EpochSeconds returns the SQL of the whole seconds since 1970-01-01 UTC of the timestamp
// column col (its fraction dropped), as an integer: for durations computed in a query, the
// difference of two of them.
func (d Dialect) EpochSeconds(col string) string {
	if d.engine == sqldb.Postgres {
		return "CAST(FLOOR(EXTRACT(EPOCH FROM " + col + ")) AS BIGINT)"
	}
	return "unixepoch(" + col + ")"
}

// YearMonth returns the SQL of the calendar month (UTC) of the timestamp column col, as the
// integer YYYYMM: for figures grouped by month in a query.
func (d Dialect) YearMonth(col string) string {
	if d.engine == sqldb.Postgres {
		return "CAST(TO_CHAR(" + col + " AT TIME ZONE 'UTC', 'YYYYMM') AS INTEGER)"
	}
	return "CAST(strftime('%Y%m', " + col + ") AS INTEGER)"
}
