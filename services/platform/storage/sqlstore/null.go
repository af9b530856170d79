package sqlstore

import (
	"database/sql"
	"time"
)

// NullString maps "" to SQL NULL, for optional references such as a root's parent.
func NullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// NullTime maps the zero time, an event that has not happened, to SQL NULL.
func NullTime(t time.Time) sql.NullTime { return sql.NullTime{Time: t, Valid: !t.IsZero()} }

// NullInt64 maps 0 to SQL NULL.
func NullInt64(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: n != 0} }

// TimeOf returns a scanned nullable time in UTC, the zero time for NULL.
func TimeOf(t sql.NullTime) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}
