package storesqlite

import (
	"testing"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/store/storetest"
)

func TestQueriesComplete(t *testing.T) {
	t.Parallel()
	storetest.CheckQueries(t, queries)
}
