package testkit

import (
	"context"
	"log/slog"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// Open opens d for the test, closed when it ends, and applies sets in order: a store test's
// database with the tables it needs and no others, e.g. Open(t, d, audit.Migrations).
func Open(t testing.TB, d testenv.Database, sets ...sqldb.MigrationSet) *sqldb.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqldb.Open(ctx, d.DSN, sqldb.Options{Schema: d.Schema, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatalf("open %s database: %v", d.Engine, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.MigrateSets(ctx, sets...); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}

// Timestamp is the column type of a time on db's engine, for a test's own tables: TIMESTAMPTZ on
// PostgreSQL, TIMESTAMP on SQLite (which the SQLite driver reads back as a time).
func Timestamp(db *sqldb.DB) string {
	if db.Engine() == sqldb.SQLite {
		return "TIMESTAMP"
	}
	return "TIMESTAMPTZ"
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
