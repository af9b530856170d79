package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
)

// cacheOf returns the statement cache of one connection of db, held for the test.
func cacheOf(t *testing.T, db *DB) (*sql.Conn, func() int) {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn, func() int {
		n := -1
		if err := conn.Raw(func(dc any) error {
			c, ok := dc.(*cachingConn)
			if !ok {
				return fmt.Errorf("connection is %T, not cached", dc)
			}
			c.mu.Lock()
			defer c.mu.Unlock()
			n = len(c.stmts)
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

// TestSQLiteStatementCache checks that SQLite connections reuse their statements and stay
// correct where reuse could go wrong: a statement used again while its rows are read, a
// statement that failed, a schema change and a cache that overflows while a statement is held.
func TestSQLiteStatementCache(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "cache.db"), Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, cached := cacheOf(t, db)
	if _, err := conn.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	const insert = `INSERT INTO t (id, v) VALUES ($1, $2)`
	before := cached()
	for i := 1; i <= 5; i++ {
		if _, err := conn.ExecContext(ctx, insert, i, fmt.Sprint("v", i)); err != nil {
			t.Fatal(err)
		}
	}
	if got := cached(); got != before+1 {
		t.Errorf("%d statements cached after one insert run 5 times (%d before); want one more", got, before)
	}

	// A failed statement is reset, and its next run binds its own arguments.
	if _, err := conn.ExecContext(ctx, insert, 1, "again"); !isUnique(err) {
		t.Errorf("duplicate insert: %v; want a unique violation", err)
	}
	if _, err := conn.ExecContext(ctx, insert, 6, "v6"); err != nil {
		t.Fatalf("insert after a failed run of the same statement: %v", err)
	}

	// The same query inside a loop over its own rows.
	const byID = `SELECT v FROM t WHERE id >= $1 ORDER BY id`
	rows, err := conn.QueryContext(ctx, byID, 1)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for rows.Next() {
		n++
		var outer, inner string
		if err := rows.Scan(&outer); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRowContext(ctx, byID, n).Scan(&inner); err != nil {
			t.Fatalf("the query again while its rows are read: %v", err)
		}
		if want := fmt.Sprint("v", n); outer != want || inner != want {
			t.Errorf("row %d: outer %q, inner %q; want %q for both", n, outer, inner, want)
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if n != 6 {
		t.Errorf("outer query read %d rows; want 6", n)
	}

	// A schema change under a cached statement.
	const all = `SELECT * FROM t WHERE id = 1`
	if _, err := conn.ExecContext(ctx, `ALTER TABLE t ADD COLUMN w TEXT NOT NULL DEFAULT 'w'`); err != nil {
		t.Fatal(err)
	}
	r, err := conn.QueryContext(ctx, all)
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := r.Columns()
	r.Close()
	if len(cols) != 3 {
		t.Errorf("columns after ALTER TABLE: %v; want id, v, w", cols)
	}

	// An overflow while a statement is held: the held one survives and is closed after use.
	held, err := conn.QueryContext(ctx, byID, 1)
	if err != nil {
		t.Fatal(err)
	}
	for i := range stmtCacheSize + 10 {
		var got int
		if err := conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT %d`, i)).Scan(&got); err != nil || got != i {
			t.Fatalf("SELECT %d = %d, %v", i, got, err)
		}
	}
	if got := cached(); got > stmtCacheSize {
		t.Errorf("%d statements cached; want at most %d", got, stmtCacheSize)
	}
	n = 0
	for held.Next() {
		n++
	}
	if err := held.Close(); err != nil || n != 6 {
		t.Errorf("held query read %d rows (close: %v); want 6", n, err)
	}
	var v string
	if err := conn.QueryRowContext(ctx, byID, 6).Scan(&v); err != nil || v != "v6" {
		t.Errorf("query after the overflow = %q, %v; want v6", v, err)
	}
}

func isUnique(err error) bool {
	_, ok := UniqueViolation(err)
	return ok
}
