package storetest

import (
	"reflect"
	"strings"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
)

// CheckQueries fails t when a statement of q is empty: an engine that left one out would fail
// only when the method that runs it is called.
func CheckQueries(t testing.TB, q *store.Queries) {
	t.Helper()
	if missing := MissingQueries(q); len(missing) > 0 {
		t.Errorf("queries without a statement: %s", strings.Join(missing, ", "))
	}
}

// MissingQueries returns the names of q's empty statements, in field order.
func MissingQueries(q *store.Queries) []string {
	var missing []string
	v := reflect.ValueOf(q).Elem()
	for i := range v.NumField() {
		if strings.TrimSpace(v.Field(i).String()) == "" {
			missing = append(missing, v.Type().Field(i).Name)
		}
	}
	return missing
}
