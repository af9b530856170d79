package storesqlite_test

import (
	"testing"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store/storesqlite"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store/storetest"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

func TestContract(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) (store.Store, *sqldb.DB) {
		db := storetest.OpenDB(t, testenv.SQLite(t), storesqlite.Migrations())
		return storesqlite.New(db), db
	})
}
