package testkit

import (
	"context"
	"io/fs"
	"log/slog"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// Migrations is one set of migrations under its own version table, as each platform package
// (outbox, audit, idempotency, consumer) and each service ships them.
type Migrations struct {
	// Table is the version table, e.g. audit.MigrationTable.
	Table string
	// Files returns the migrations for an engine, e.g. audit.Migrations.
	Files func(sqldb.Engine) fs.FS
}

// Open opens d for the test, closed when it ends, and applies sets in order: a store test's
// database with the tables it needs and no others.
func Open(t testing.TB, d testenv.Database, sets ...Migrations) *sqldb.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, d.DSN, sqldb.Options{Schema: d.Schema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open %s database: %v", d.Engine, err)
	}
	t.Cleanup(func() { db.Close() })
	for _, m := range sets {
		if err := db.Migrate(ctx, m.Table, m.Files(db.Engine())); err != nil {
			t.Fatalf("migrate %s: %v", m.Table, err)
		}
	}
	return db
}

// Migrated opens d for the test, closed when it ends, with the platform's migrations and svc's
// applied, as host.Start leaves a service's database: for the tests of a service's store.
func Migrated(t testing.TB, d testenv.Database, svc host.Service) *sqldb.DB {
	t.Helper()
	db, err := host.Migrate(context.Background(), svc, d.DSN, d.Schema, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("migrate %s on %s: %v", svc.Domain, d.Engine, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}
