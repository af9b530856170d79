// Package sqlstore is what a service's store is written with: the query, scan and exec helpers
// every statement goes through, the null helpers, the engine Dialect for the few things the two
// engines say differently, Tx — a transaction that records a change's event and audit record
// together (Record) and its request ID (Requests) — and Store and Reader, the part of a service's
// store that is the same in every service.
//
// A store holds its SQL next to the Go that runs it, as a const inside the method, written once
// in the SQL both engines speak ($N placeholders, CAST, ON CONFLICT, RETURNING); only row locks
// and advisory locks go through the Dialect (ADR 0002).
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// Querier is what the helpers need of a *sql.DB, a *sql.Tx or a Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Scanner is a *sql.Row or *sql.Rows.
type Scanner interface{ Scan(dest ...any) error }

// ErrConcurrentUpdate is returned by Exec when a write that must change one row changed none:
// the row is gone or its version moved on. With the row locks stores take this does not happen;
// it guards against a store used without them.
var ErrConcurrentUpdate = errors.New("row changed concurrently")

// Wildcard as a parent's ID in a list (AIP-159: budgets/-/lines/-) selects every parent.
const Wildcard = "-"

// Get runs query, which selects at most one row, and scans it with scan. No row is notFound,
// returned as it is; any other failure is wrapped with what.
func Get[T any](ctx context.Context, q Querier, what string, notFound error, scan func(Scanner) (T, error), query string, args ...any) (T, error) {
	v, err := scan(q.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		var zero T
		return zero, notFound
	}
	if err != nil {
		var zero T
		return zero, fmt.Errorf("get %s: %w", what, sqldb.Figure(err))
	}
	return v, nil
}

// All runs query and scans every row with scan.
func All[T any](ctx context.Context, q Querier, what string, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", what, sqldb.Figure(err))
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", what, sqldb.Figure(err))
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query %s: %w", what, sqldb.Figure(err))
	}
	return out, nil
}

// Parent is a condition a list adds to a client's filter, Column = Value: the resource's parent.
// A Value of Wildcard adds nothing. Column comes from the service's code, never from a request.
type Parent struct {
	Column string
	Value  string
}

// List completes selectFrom, a SELECT without conditions, with the parents' conditions and lq's
// condition, order and limit, runs it and scans every row. The parents' arguments follow lq's,
// so lq's placeholders keep their numbers.
func List[T any](ctx context.Context, q Querier, what string, scan func(Scanner) (T, error), selectFrom string, lq *listing.Query, parents ...Parent) ([]T, error) {
	from := func(int) (string, []any) { return selectFrom, nil }
	return ListFrom(ctx, q, what, scan, from, lq, parents...)
}

// From is a SELECT without conditions whose FROM needs arguments of its own: a derived table of
// what a request lists (the people a policy's campaign asks, with their acknowledgement of its
// current version). It numbers its placeholders from first and returns their arguments.
type From func(first int) (selectFrom string, args []any)

// ListFrom is List on a From: its arguments follow lq's and the parents', so that every
// placeholder keeps its number.
func ListFrom[T any](ctx context.Context, q Querier, what string, scan func(Scanner) (T, error), from From, lq *listing.Query, parents ...Parent) ([]T, error) {
	var conds []string
	if lq.Where != "" {
		conds = append(conds, lq.Where)
	}
	args := slices.Clone(lq.Args)
	for _, p := range parents {
		if p.Value == Wildcard {
			continue
		}
		args = append(args, p.Value)
		conds = append(conds, fmt.Sprintf("%s = $%d", p.Column, len(args)))
	}
	query, fromArgs := from(len(args) + 1)
	args = append(args, fromArgs...)
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	args = append(args, lq.Limit)
	query += fmt.Sprintf(" ORDER BY %s LIMIT $%d", lq.OrderBy, len(args))
	return All(ctx, q, what, scan, query, args...)
}

// Exec runs a write that must change exactly one row: none is ErrConcurrentUpdate. A driver
// error goes through mapErr (nil: returned as it is), which turns constraint violations into
// the domain errors they mean.
func Exec(ctx context.Context, q Querier, mapErr func(error) error, query string, args ...any) error {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		if mapErr != nil {
			return mapErr(err)
		}
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return ErrConcurrentUpdate
	}
	return nil
}

// Value runs query, which returns one row of one column, and scans it into a T.
func Value[T any](ctx context.Context, q Querier, what, query string, args ...any) (T, error) {
	var v T
	if err := q.QueryRowContext(ctx, query, args...).Scan(&v); err != nil {
		return v, fmt.Errorf("%s: %w", what, sqldb.Figure(err))
	}
	return v, nil
}

// Exists runs query, a SELECT EXISTS (…), and returns its answer.
func Exists(ctx context.Context, q Querier, what, query string, args ...any) (bool, error) {
	return Value[bool](ctx, q, what, query, args...)
}

// Strings runs query, which returns one text column, and returns its values.
func Strings(ctx context.Context, q Querier, what, query string, args ...any) ([]string, error) {
	return All(ctx, q, what, func(s Scanner) (string, error) {
		var v string
		err := s.Scan(&v)
		return v, err
	}, query, args...)
}

// Placeholders returns n placeholders from $first on, "$first, …, $(first+n-1)": an IN list of
// n arguments that follow first-1 others.
func Placeholders(first, n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", first+i)
	}
	return b.String()
}
