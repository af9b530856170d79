package sqldb_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// TestPlatformMigrationsAgree keeps the platform's own tables alike on both engines.
func TestPlatformMigrationsAgree(t *testing.T) {
	t.Parallel()
	for name, migrations := range map[string]sqldb.MigrationSet{
		"outbox": outbox.Migrations, "idempotency": idempotency.Migrations, "audit": audit.Migrations, "consumer": consumer.Migrations,
	} {
		diffs, err := migrations.Drift()
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range diffs {
			t.Errorf("%s: %s", name, d)
		}
	}
}

// TestMigrationDrift: what the engines may spell differently is no drift; a column, a file or a
// statement in one engine only is.
func TestMigrationDrift(t *testing.T) {
	t.Parallel()
	const pg = `-- +goose Up
-- Amounts are BIGINT minor units.
CREATE TABLE things (
    seq    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code   TEXT        NOT NULL CONSTRAINT things_code_key UNIQUE,
    amount BIGINT      NOT NULL,
    data   BYTEA,
    at     TIMESTAMPTZ NOT NULL
);
-- +goose Down
DROP TABLE things;
`
	const lite = `-- +goose Up
CREATE TABLE things (
    seq    INTEGER   PRIMARY KEY AUTOINCREMENT,
    code   TEXT      NOT NULL UNIQUE,
    amount INTEGER   NOT NULL,
    data   BLOB,
    at     TIMESTAMP NOT NULL
);

-- +goose Down
DROP TABLE things;
`
	drift := func(pg, lite fstest.MapFS) []string {
		t.Helper()
		diffs, err := sqldb.MigrationDrift(pg, lite)
		if err != nil {
			t.Fatal(err)
		}
		return diffs
	}
	file := func(s string) fstest.MapFS { return fstest.MapFS{"00001_things.sql": {Data: []byte(s)}} }
	if d := drift(file(pg), file(lite)); len(d) != 0 {
		t.Errorf("equivalent migrations drift: %v", d)
	}
	// A change the engines make differently, marked so in both: PostgreSQL in place, SQLite by
	// rebuilding the table.
	inPlace := "-- +goose Up\n" + sqldb.EngineSpecific + " SQLite rebuilds the table.\nALTER TABLE things ADD CONSTRAINT things_fk FOREIGN KEY (code) REFERENCES codes (code);\n"
	rebuilt := "-- +goose Up\n  " + sqldb.EngineSpecific + " SQLite rebuilds the table.\nCREATE TABLE things_next (code TEXT REFERENCES codes (code));\nDROP TABLE things;\n"
	if d := drift(fstest.MapFS{"00002_fk.sql": {Data: []byte(inPlace)}}, fstest.MapFS{"00002_fk.sql": {Data: []byte(rebuilt)}}); len(d) != 0 {
		t.Errorf("an engine-specific pair drifts: %v", d)
	}
	for name, tt := range map[string]struct {
		pg, lite fstest.MapFS
		want     string
	}{
		"a column in one engine": {file(pg), file(strings.Replace(lite, "data   BLOB,", "data BLOB, note TEXT,", 1)),
			"00001_things.sql: statement 1 (CREATE TABLE things(seq INTEGER PRIMARY …) differs"},
		"another type": {file(strings.Replace(pg, "amount BIGINT", "amount TEXT", 1)), file(lite), "differs"},
		"a statement in one engine": {file(pg), file(lite + "CREATE INDEX things_at_idx ON things (at);"),
			"statement 3 only in sqlite"},
		"a file in one engine": {fstest.MapFS{"00001_things.sql": {Data: []byte(pg)}, "00002_more.sql": {Data: []byte("SELECT 1;")}},
			file(lite), "00002_more.sql: only in postgres"},
		"an engine-specific mark in one engine": {file(strings.Replace(pg, "-- Amounts", sqldb.EngineSpecific+" x\n-- Amounts", 1)),
			file(lite), "marked engine-specific in one engine only"},
	} {
		if d := drift(tt.pg, tt.lite); len(d) != 1 || !strings.Contains(d[0], tt.want) {
			t.Errorf("%s: drift = %q, want one containing %q", name, d, tt.want)
		}
	}
}
