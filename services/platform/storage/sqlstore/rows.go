package sqlstore

import (
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
)

// NullDate stores a date as TEXT 'YYYY-MM-DD', which sorts and compares as the date does on both
// engines and needs no time zone; the zero date as NULL.
func NullDate(d civil.Date) sql.NullString {
	if d.IsZero() {
		return sql.NullString{}
	}
	return sql.NullString{String: d.String(), Valid: true}
}

// DateOf reads a date stored by NullDate (or as TEXT NOT NULL); NULL and "" are the zero date.
func DateOf(s sql.NullString) (civil.Date, error) {
	if !s.Valid || s.String == "" {
		return civil.Date{}, nil
	}
	d, err := civil.ParseDate(s.String)
	if err != nil {
		return civil.Date{}, fmt.Errorf("stored date %q: %w", s.String, err)
	}
	return d, nil
}

// JSONList stores a list, read and written whole, as a JSON array in TEXT; nil as "[]".
func JSONList[T any](v []T) (string, error) {
	if v == nil {
		v = []T{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// ListOf reads a list stored by JSONList; an empty array is nil.
func ListOf[T any](s string) ([]T, error) {
	var v []T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("stored list %q: %w", s, err)
	}
	if len(v) == 0 {
		return nil, nil
	}
	return v, nil
}
