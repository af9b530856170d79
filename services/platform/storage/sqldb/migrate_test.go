package sqldb_test

import (
	"context"
	"testing"
	"testing/fstest"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// widgets is a first migration: a table with one row of data worth keeping.
const widgets = "-- +goose Up\nCREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n-- +goose Down\nDROP TABLE widgets;\n"

// appliedVersions returns the versions recorded in a goose version table.
func appliedVersions(t *testing.T, db *sqldb.DB, table string) []int64 {
	t.Helper()
	return testkit.Column[int64](t, db, "SELECT version_id FROM "+table+" WHERE version_id > 0 ORDER BY version_id")
}

func TestMigrate(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := testkit.Open(t, d)
		ctx := context.Background()
		fsys := fstest.MapFS{"00001_widgets.sql": {Data: []byte(widgets)}}

		if err := db.Migrate(ctx, "test_version", fsys); err != nil {
			t.Fatalf("first Migrate: %v", err)
		}
		if _, err := db.Exec("INSERT INTO widgets (id, name) VALUES (1, 'a')"); err != nil {
			t.Fatalf("migrated table is unusable: %v", err)
		}
		// CREATE TABLE would fail if the migration ran again.
		if err := db.Migrate(ctx, "test_version", fsys); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if got := appliedVersions(t, db, "test_version"); len(got) != 1 || got[0] != 1 {
			t.Fatalf("applied versions = %v, want [1]", got)
		}

		// A new file is applied alone; the data of the first survives.
		fsys["00002_widgets_color.sql"] = &fstest.MapFile{Data: []byte(`-- +goose Up
ALTER TABLE widgets ADD COLUMN color TEXT NOT NULL DEFAULT 'red';
-- +goose Down
ALTER TABLE widgets DROP COLUMN color;
`)}
		if err := db.Migrate(ctx, "test_version", fsys); err != nil {
			t.Fatalf("Migrate with a new file: %v", err)
		}
		if got := appliedVersions(t, db, "test_version"); len(got) != 2 || got[1] != 2 {
			t.Fatalf("applied versions = %v, want [1 2]", got)
		}
		var color string
		if err := db.QueryRow("SELECT color FROM widgets WHERE id = 1").Scan(&color); err != nil || color != "red" {
			t.Fatalf("color of the existing row = %q, %v; want red", color, err)
		}

		// Another version table keeps its own history in the same database.
		other := fstest.MapFS{"00001_gadgets.sql": {Data: []byte("-- +goose Up\nCREATE TABLE gadgets (id INTEGER PRIMARY KEY);\n")}}
		if err := db.Migrate(ctx, "other_version", other); err != nil {
			t.Fatalf("Migrate into another version table: %v", err)
		}
		if got := appliedVersions(t, db, "other_version"); len(got) != 1 || got[0] != 1 {
			t.Fatalf("other table versions = %v, want [1]", got)
		}
	})
}

func TestMigrateFailure(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := testkit.Open(t, d)
		bad := fstest.MapFS{"00001_bad.sql": {Data: []byte("-- +goose Up\nCREATE TABLE (;\n")}}
		if err := db.Migrate(context.Background(), "bad_version", bad); err == nil {
			t.Fatal("Migrate applied a broken migration")
		}
		noGoose := fstest.MapFS{"nonsense.sql": {Data: []byte("SELECT 1;")}}
		if err := db.Migrate(context.Background(), "nonsense_version", noGoose); err == nil {
			t.Fatal("Migrate accepted a file that is not a numbered goose migration")
		}
	})
}
