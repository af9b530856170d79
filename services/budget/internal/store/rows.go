package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
)

// Wildcard in a parent ID of a list (AIP-159: budgets/-/lines/-) selects every parent.
const Wildcard = "-"

// Placeholders returns "$1, $2, …, $n", the VALUES of an insert of n columns.
func Placeholders(n int) string {
	ps := make([]string, n)
	for i := range ps {
		ps[i] = "$" + strconv.Itoa(i+1)
	}
	return strings.Join(ps, ", ")
}

// Cond is a condition a list adds to a client's filter, Column = Value: a parent. A Value of
// Wildcard adds nothing. Column comes from the service's code, never from a request.
type Cond struct {
	Column string
	Value  string
}

// get runs query, which selects one row, and scans it; no row is notFound.
func get[T any](ctx context.Context, q Querier, what string, notFound error, scan func(Scanner) (T, error), query string, args ...any) (T, error) {
	v, err := scan(q.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		var zero T
		return zero, notFound
	}
	if err != nil {
		var zero T
		return zero, fmt.Errorf("get %s: %w", what, err)
	}
	return v, nil
}

// all runs query and scans every row.
func all[T any](ctx context.Context, q Querier, what string, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("scan %s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("query %s: %w", what, err)
	}
	return out, nil
}

// list completes selectFrom, a query without conditions, with the parent conditions and lq's
// condition, order and limit, and runs it. The parents' arguments follow lq's, so lq's
// placeholders keep their numbers.
func list[T any](ctx context.Context, q Querier, what string, scan func(Scanner) (T, error), selectFrom string, parents []Cond, lq *listing.Query) ([]T, error) {
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
	query := selectFrom
	if len(conds) > 0 {
		query += " WHERE " + strings.Join(conds, " AND ")
	}
	args = append(args, lq.Limit)
	query += fmt.Sprintf(" ORDER BY %s LIMIT $%d", lq.OrderBy, len(args))
	return all(ctx, q, what, scan, query, args...)
}

// exec runs a write that must change exactly one row: none means the row is gone or its version
// moved on.
func exec(ctx context.Context, q Querier, mapErr func(error) error, query string, args ...any) error {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return mapErr(err)
	}
	return oneRow(res)
}

// nullTime maps the zero time, an event that has not happened, to SQL NULL.
func nullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: !t.IsZero()} }

func timeOf(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

// formatDate stores a date as 'YYYY-MM-DD', which sorts and compares as the date does.
func formatDate(d domain.Date) string {
	if d == (domain.Date{}) {
		return ""
	}
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

func parseDate(s string) (domain.Date, error) {
	if s == "" {
		return domain.Date{}, nil
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return domain.Date{}, fmt.Errorf("stored date %q: %w", s, err)
	}
	return domain.Date{Year: t.Year(), Month: t.Month(), Day: t.Day()}, nil
}

// FormatMonth stores a month as 'YYYY-MM'.
func FormatMonth(m domain.Month) string { return fmt.Sprintf("%04d-%02d", m.Year, m.Month) }

func parseMonth(s string) (domain.Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil {
		return domain.Month{}, fmt.Errorf("stored month %q: %w", s, err)
	}
	return domain.Month{Year: t.Year(), Month: t.Month()}, nil
}

// jsonInts stores a list of integers (phasing amounts, thresholds) as a JSON array; nil as "[]".
func jsonInts[T int64 | int32](v []T) string {
	if v == nil {
		v = []T{}
	}
	b, _ := json.Marshal(v) // integers always marshal
	return string(b)
}

func parseInts[T int64 | int32](s string) ([]T, error) {
	var v []T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("stored list %q: %w", s, err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}

// rateColumns are the five nullable columns of a RateUse, all NULL for none.
type rateColumns struct{ id, month, source, target, value sql.NullString }

func (r *rateColumns) dest() []any { return []any{&r.id, &r.month, &r.source, &r.target, &r.value} }

func (r *rateColumns) use() (*domain.RateUse, error) {
	if !r.id.Valid {
		return nil, nil
	}
	m, err := parseMonth(r.month.String)
	if err != nil {
		return nil, err
	}
	return &domain.RateUse{RateID: r.id.String, Month: m, Source: domain.Currency(r.source.String),
		Target: domain.Currency(r.target.String), Value: r.value.String}, nil
}

func rateArgs(u *domain.RateUse) []any {
	if u == nil {
		return []any{nil, nil, nil, nil, nil}
	}
	return []any{u.RateID, FormatMonth(u.Month), string(u.Source), string(u.Target), u.Value}
}

// idFrom returns a filter Value that converts a resource name to the ID in it: the segment after
// the last "/" once the name matches collection/…, checked by parse.
func idFrom(field, pattern string, parse func(string) (string, bool)) func(any) (any, error) {
	return func(v any) (any, error) {
		id, ok := parse(v.(string))
		if !ok {
			return nil, fmt.Errorf("%s must be a name %s", field, pattern)
		}
		return id, nil
	}
}

// segments splits name into the IDs of the collections it alternates with, e.g.
// "budgets/b/lines/l" with ("budgets", "lines") gives [b l].
func segments(name string, collections ...string) ([]string, bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 2*len(collections) {
		return nil, false
	}
	ids := make([]string, len(collections))
	for i, c := range collections {
		if parts[2*i] != c || parts[2*i+1] == "" {
			return nil, false
		}
		ids[i] = parts[2*i+1]
	}
	return ids, true
}

func lastID(collections ...string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		ids, ok := segments(name, collections...)
		if !ok {
			return "", false
		}
		return ids[len(ids)-1], true
	}
}

// checkName returns a filter Value that accepts only names of the pattern, compared as stored
// by a Column that concatenates them.
func checkName(field, pattern string, collections ...string) func(any) (any, error) {
	return func(v any) (any, error) {
		if _, ok := segments(v.(string), collections...); !ok {
			return nil, fmt.Errorf("%s must be a name %s", field, pattern)
		}
		return v, nil
	}
}
