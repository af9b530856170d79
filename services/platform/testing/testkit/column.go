package testkit

import (
	"context"
	"database/sql"
	"testing"
)

// Querier runs queries: a *sqldb.DB, a *sql.DB or a *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Column runs query on db and returns the first column of its rows in order, scanned as T:
// what a test reads back from a table beside the API. An error fails the test.
func Column[T any](t testing.TB, db Querier, query string, args ...any) []T {
	t.Helper()
	return Rows(t, db, func(r *sql.Rows) (T, error) {
		var v T
		err := r.Scan(&v)
		return v, err
	}, query, args...)
}

// Rows runs query on db and returns its rows in order, each read by scan. An error fails the
// test.
func Rows[T any](t testing.TB, db Querier, scan func(*sql.Rows) (T, error), query string, args ...any) []T {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}
