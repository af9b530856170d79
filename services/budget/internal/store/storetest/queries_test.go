package storetest_test

import (
	"reflect"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store/storetest"
)

func TestMissingQueries(t *testing.T) {
	t.Parallel()
	missing := storetest.MissingQueries(&store.Queries{LockChain: "SELECT 1", Spend: " "})
	if n := reflect.TypeFor[store.Queries]().NumField(); len(missing) != n-1 {
		t.Fatalf("MissingQueries reports %d of %d fields missing, want all but LockChain: %v", len(missing), n, missing)
	}
	for _, name := range missing {
		if name == "LockChain" {
			t.Fatalf("MissingQueries reports LockChain, which is set")
		}
	}
}
