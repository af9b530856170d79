package store

import (
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
)

// nullDate stores a date as 'YYYY-MM-DD', which sorts and compares as the date does; the zero
// date as NULL.
func nullDate(d domain.Date) sql.NullString {
	if d.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: d.String(), Valid: true}
}

// parseDate reads a date stored by nullDate (or as TEXT NOT NULL); NULL and "" are the zero date.
func parseDate(s sql.NullString) (domain.Date, error) {
	if !s.Valid || s.String == "" {
		return domain.Date{}, nil
	}
	d, err := civil.ParseDate(s.String)
	if err != nil {
		return domain.Date{}, fmt.Errorf("stored date %q: %w", s.String, err)
	}
	return d, nil
}

// jsonList stores a list as a JSON array; nil as "[]".
func jsonList[T any](v []T) (string, error) {
	if v == nil {
		v = []T{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// parseList reads a list stored by jsonList; an empty array is nil.
func parseList[T any](s string) ([]T, error) {
	var v []T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("stored list %q: %w", s, err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}
