package sqldb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"hash/fnv"
	"time"
)

// Lease is the right of one replica among those sharing a database to do a job that must run in
// one place at a time, such as publishing a service's outbox in order. On PostgreSQL it is a
// session-level advisory lock held on a dedicated connection: when the holder's process dies, its
// connection ends and another replica can take the lease. That connection is not one of the
// pool's (Options.MaxOpenConns), which the holder's work needs in full. A SQLite file belongs to
// one process, so there the lease is always granted.
type Lease struct {
	conn *sql.Conn // nil on SQLite
	key  int64
}

// TryLease tries once to take the lease kind/name in the database's schema. Advisory locks are
// per database, so the key includes the schema: deployments (or tests) sharing one database each
// elect their own holder. It returns false when another replica holds the lease.
func (db *DB) TryLease(ctx context.Context, kind, name string) (*Lease, bool, error) {
	if db.engine != Postgres {
		return &Lease{}, true, nil
	}
	conn, err := db.leases.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("lease %s/%s: %w", kind, name, err)
	}
	var schema string
	if err := conn.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("lease %s/%s: %w", kind, name, err)
	}
	h := fnv.New64a()
	h.Write([]byte(kind + "/" + schema + "/" + name))
	key := int64(h.Sum64() >> 1)
	var ok bool
	if err := conn.QueryRowContext(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil {
		conn.Close()
		return nil, false, fmt.Errorf("lease %s/%s: %w", kind, name, err)
	}
	if !ok {
		conn.Close()
		return nil, false, nil
	}
	return &Lease{conn: conn, key: key}, true, nil
}

// Check fails once the lease may have passed to another replica: its connection is gone.
func (l *Lease) Check(ctx context.Context) error {
	if l.conn == nil {
		return nil
	}
	return l.conn.PingContext(ctx)
}

// Release gives the lease up. Its connection is closed rather than kept for another lease: an
// unlock that failed leaves no session behind still holding the lock.
func (l *Lease) Release() {
	if l.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, _ = l.conn.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, l.key)
	_ = l.conn.Raw(func(any) error { return driver.ErrBadConn }) // discards the connection
	l.conn.Close()
}
