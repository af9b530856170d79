package store_test

import (
	"testing"

	"github.com/quarterdeck/quarterdeck/services/talent/internal/store"
)

// TestMigrationsAgree keeps the engines' schemas from drifting: each migration has its twin in
// the other engine, saying the same but for type names, comments and constraint names.
func TestMigrationsAgree(t *testing.T) {
	t.Parallel()
	diffs, err := store.Migrations.Drift()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
}
