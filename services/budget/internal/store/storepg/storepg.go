// Package storepg is the budget service's store on PostgreSQL. All that is its own is the SQL it
// says differently from the standard (queries.go) and its migrations; the methods are store's,
// shared with every engine.
package storepg

import (
	"embed"
	"io/fs"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Migrations returns the budget schema for PostgreSQL.
func Migrations() fs.FS {
	sub, _ := fs.Sub(migrations, "migrations")
	return sub
}

// New returns a store on db, which must be a migrated PostgreSQL database.
func New(db *sqldb.DB) store.Store { return store.NewSQL(db, queries) }
