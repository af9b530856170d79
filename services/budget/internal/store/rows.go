package store

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
)

// formatDate stores a date as 'YYYY-MM-DD', which sorts and compares as the date does.
func formatDate(d domain.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
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

// parseMonth reads a month stored as 'YYYY-MM' (domain.Month's String).
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
	return []any{u.RateID, u.Month.String(), string(u.Source), string(u.Target), u.Value}
}
