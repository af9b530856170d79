package sqldb

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"
	"sync"

	"modernc.org/sqlite"
)

// stmtCacheSize bounds the statements one SQLite connection keeps prepared. The services run a
// few dozen distinct statements; text built per call (an IN list of varying length) would
// otherwise grow the cache without bound, so a full cache is emptied and starts over.
const stmtCacheSize = 256

// cachingConnector opens SQLite connections that keep their statements prepared. database/sql
// prepares, runs and finalizes every statement anew when it is not prepared explicitly; on
// SQLite, parsing and planning the SQL then costs as much CPU as running it.
type cachingConnector struct{ base driver.Connector }

// newCachingConnector returns a connector for the SQLite DSN whose connections cache statements.
func newCachingConnector(dsn string) (driver.Connector, error) {
	base, err := sqlite.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("sqlite DSN: %w", err)
	}
	return cachingConnector{base: base}, nil
}

// Connect implements driver.Connector.
func (c cachingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.base.Connect(ctx)
	if err != nil {
		return nil, err
	}
	cc := &cachingConn{conn: conn, stmts: map[string]*cachedStmt{}}
	// Every connection of the driver implements these (its documentation promises them to
	// wrappers); one that did not would lose its context handling silently, so refuse it.
	var ok bool
	if cc.begin, ok = conn.(driver.ConnBeginTx); !ok {
		return nil, closeOnError(conn, "BeginTx")
	}
	if cc.prep, ok = conn.(driver.ConnPrepareContext); !ok {
		return nil, closeOnError(conn, "PrepareContext")
	}
	if cc.ping, ok = conn.(driver.Pinger); !ok {
		return nil, closeOnError(conn, "Ping")
	}
	if cc.reset, ok = conn.(driver.SessionResetter); !ok {
		return nil, closeOnError(conn, "ResetSession")
	}
	if cc.valid, ok = conn.(driver.Validator); !ok {
		return nil, closeOnError(conn, "IsValid")
	}
	return cc, nil
}

func closeOnError(conn driver.Conn, method string) error {
	return errors.Join(fmt.Errorf("sqlite connection %T lacks %s", conn, method), conn.Close())
}

// Driver implements driver.Connector.
func (c cachingConnector) Driver() driver.Driver { return c.base.Driver() }

// cachingConn is a SQLite connection that runs the statements of ExecContext and QueryContext
// through prepared statements kept by SQL text. database/sql uses a connection from one
// goroutine at a time; the mutex covers a Rows closed by its context's watcher.
type cachingConn struct {
	conn  driver.Conn
	begin driver.ConnBeginTx
	prep  driver.ConnPrepareContext
	ping  driver.Pinger
	reset driver.SessionResetter
	valid driver.Validator

	mu    sync.Mutex
	stmts map[string]*cachedStmt

	// shielded is set while the connection runs a group commit's transaction: its statements
	// then run to their end when their caller's context ends. The driver would interrupt a
	// statement instead, and SQLite rolls back the whole transaction when a write is
	// interrupted in one, the group's other members with it. The caller still gets its
	// context's error from database/sql at its next statement.
	shielded bool
}

// cachedStmt is a prepared statement, whether a Rows still reads from it and whether the cache
// holds it. An open Rows holds its statement, so a second use of the same text meanwhile (a
// query inside a loop over its own rows) gets a statement of its own, closed after use.
type cachedStmt struct {
	stmt    driver.Stmt
	busy    bool
	inCache bool
}

// Unwrap returns the driver's connection, for the driver's functions that need it.
func (c *cachingConn) Unwrap() driver.Conn { return c.conn }

// acquire returns a statement for query: the cached one when it is free, else a new one, which
// is cached unless another use holds that text. release must be called when it is done.
func (c *cachingConn) acquire(ctx context.Context, query string) (*cachedStmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	held, ok := c.stmts[query]
	if ok && !held.busy {
		held.busy = true
		return held, nil
	}
	st, err := c.prep.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s := &cachedStmt{stmt: st, busy: true}
	if ok {
		return s, nil
	}
	if len(c.stmts) >= stmtCacheSize {
		c.clearLocked()
	}
	s.inCache = true
	c.stmts[query] = s
	return s, nil
}

// release frees s for the next use, or closes it when the cache does not hold it.
func (c *cachingConn) release(s *cachedStmt) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !s.inCache {
		return s.stmt.Close()
	}
	s.busy = false
	return nil
}

// clearLocked forgets every cached statement and closes those not in use; the release of one in
// use closes it.
func (c *cachingConn) clearLocked() {
	for q, s := range c.stmts {
		s.inCache = false
		if !s.busy {
			_ = s.stmt.Close()
		}
		delete(c.stmts, q)
	}
}

// ExecContext implements driver.ExecerContext.
func (c *cachingConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if c.shielded {
		ctx = context.WithoutCancel(ctx)
	}
	s, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := s.stmt.(driver.StmtExecContext).ExecContext(ctx, args)
	if rerr := c.release(s); err == nil && rerr != nil {
		return nil, rerr
	}
	return res, err
}

// QueryContext implements driver.QueryerContext. The statement stays held until the rows close.
func (c *cachingConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if c.shielded {
		ctx = context.WithoutCancel(ctx)
	}
	s, err := c.acquire(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := s.stmt.(driver.StmtQueryContext).QueryContext(ctx, args)
	if err != nil {
		_ = c.release(s)
		return nil, err
	}
	return &cachedRows{Rows: rows, release: func() error { return c.release(s) }}, nil
}

// Prepare implements driver.Conn; explicitly prepared statements are the caller's to close.
func (c *cachingConn) Prepare(query string) (driver.Stmt, error) { return c.conn.Prepare(query) }

// PrepareContext implements driver.ConnPrepareContext.
func (c *cachingConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.prep.PrepareContext(ctx, query)
}

// Begin implements driver.Conn.
//
// Deprecated: database/sql calls BeginTx.
func (c *cachingConn) Begin() (driver.Tx, error) {
	return c.begin.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx implements driver.ConnBeginTx. A group commit's transaction (groupCtx) shields its
// statements from their callers' cancellation until it ends.
func (c *cachingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.begin.BeginTx(ctx, opts)
	if err != nil || ctx.Value(groupCtx{}) == nil {
		return tx, err
	}
	c.shielded = true
	return shieldedTx{Tx: tx, c: c}, nil
}

// shieldedTx is a group commit's transaction; its end ends the shield of its connection.
type shieldedTx struct {
	driver.Tx
	c *cachingConn
}

// Commit implements driver.Tx.
func (t shieldedTx) Commit() error {
	t.c.shielded = false
	return t.Tx.Commit()
}

// Rollback implements driver.Tx.
func (t shieldedTx) Rollback() error {
	t.c.shielded = false
	return t.Tx.Rollback()
}

// Ping implements driver.Pinger.
func (c *cachingConn) Ping(ctx context.Context) error { return c.ping.Ping(ctx) }

// ResetSession implements driver.SessionResetter.
func (c *cachingConn) ResetSession(ctx context.Context) error { return c.reset.ResetSession(ctx) }

// IsValid implements driver.Validator.
func (c *cachingConn) IsValid() bool { return c.valid.IsValid() }

// Close finalizes the cached statements and closes the connection.
func (c *cachingConn) Close() error {
	c.mu.Lock()
	var errs []error
	for q, s := range c.stmts {
		s.inCache = false
		if !s.busy { // a statement still read by a Rows is closed by the Rows
			errs = append(errs, s.stmt.Close())
		}
		delete(c.stmts, q)
	}
	c.mu.Unlock()
	return errors.Join(append(errs, c.conn.Close())...)
}

// cachedRows releases its statement when closed and passes the column type methods through.
type cachedRows struct {
	driver.Rows
	release func() error
	closed  bool
}

// Close implements driver.Rows.
func (r *cachedRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return errors.Join(r.Rows.Close(), r.release())
}

// ColumnTypeDatabaseTypeName implements driver.RowsColumnTypeDatabaseTypeName.
func (r *cachedRows) ColumnTypeDatabaseTypeName(i int) string {
	if t, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return t.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

// ColumnTypeLength implements driver.RowsColumnTypeLength.
func (r *cachedRows) ColumnTypeLength(i int) (int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return t.ColumnTypeLength(i)
	}
	return 0, false
}

// ColumnTypeNullable implements driver.RowsColumnTypeNullable.
func (r *cachedRows) ColumnTypeNullable(i int) (bool, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return t.ColumnTypeNullable(i)
	}
	return false, false
}

// ColumnTypePrecisionScale implements driver.RowsColumnTypePrecisionScale.
func (r *cachedRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if t, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return t.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

// ColumnTypeScanType implements driver.RowsColumnTypeScanType.
func (r *cachedRows) ColumnTypeScanType(i int) reflect.Type {
	if t, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return t.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}
