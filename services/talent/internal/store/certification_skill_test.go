package store_test

import (
	"context"
	"database/sql"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/store"
)

// TestCertificationSkillKey: migration 00006 makes a certification's skill a foreign key of the
// taxonomy on both engines (PostgreSQL in place, SQLite by rebuilding the table). A certification
// that named a skill deleted before it keeps everything but that skill; the others are unchanged;
// from then on the key refuses a missing skill and the deletion of an evidenced one.
func TestCertificationSkillKey(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		ctx := context.Background()
		db, err := sqldb.Open(ctx, d.DSN, sqldb.Options{Schema: d.Schema, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		all := store.Migrations.For(db.Engine())
		if err := db.Migrate(ctx, store.Migrations.Table, before(t, all, "00006_")); err != nil {
			t.Fatal(err)
		}

		now := time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)
		exec := func(q string, args ...any) error {
			_, err := db.ExecContext(ctx, q, args...)
			return err
		}
		for _, q := range []string{
			`INSERT INTO teams (id, display_name, create_time, update_time, version) VALUES ('t', 'T', $1, $1, 1)`,
			`INSERT INTO people (id, display_name, team_id, employment_type, start_date, state, create_time, update_time, version)
				VALUES ('ada', 'Ada', 't', 1, '2024-01-01', 1, $1, $1, 1)`,
			`INSERT INTO skill_categories (id, display_name, create_time, update_time, version) VALUES ('c', 'C', $1, $1, 1)`,
			`INSERT INTO skills (id, display_name, category_id, create_time, update_time, version) VALUES ('go', 'Go', 'c', $1, $1, 1)`,
		} {
			if err := exec(q, now); err != nil {
				t.Fatal(err)
			}
		}
		const cert = `INSERT INTO certifications (person_id, id, display_name, issuer, obtain_date, expire_date, skill_id,
			create_time, update_time, version) VALUES ('ada', $1, $2, 'X', '2025-01-01', $3, $4, $5, $5, $6)`
		for _, c := range []struct {
			id     string
			expire any
			skill  any
			ver    int
		}{{"kept", "2027-01-01", "go", 3}, {"dangling", nil, "gone", 2}, {"none", nil, nil, 1}} {
			if err := exec(cert, c.id, "Cert "+c.id, c.expire, c.skill, now, c.ver); err != nil {
				t.Fatalf("certification %s before the key: %v", c.id, err)
			}
		}

		if err := db.Migrate(ctx, store.Migrations.Table, all); err != nil {
			t.Fatal(err)
		}
		rows, err := db.QueryContext(ctx, `SELECT id, display_name, expire_date, skill_id, version FROM certifications ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var id, name string
			var expire, skill sql.NullString
			var version int
			if err := rows.Scan(&id, &name, &expire, &skill, &version); err != nil {
				t.Fatal(err)
			}
			got = append(got, strings.Join([]string{id, name, expire.String, skill.String, strconv.Itoa(version)}, "|"))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		want := "dangling|Cert dangling|||2 kept|Cert kept|2027-01-01|go|3 none|Cert none|||1"
		if g := strings.Join(got, " "); g != want {
			t.Errorf("certifications after the migration:\n got %s\nwant %s", g, want)
		}

		if err := exec(`DELETE FROM skills WHERE id = 'go'`); !sqldb.IsForeignKeyViolation(err) {
			t.Errorf("delete an evidenced skill: %v; want a foreign-key violation", err)
		}
		if err := exec(cert, "new", "Cert new", nil, "gone", now, 1); !sqldb.IsForeignKeyViolation(err) {
			t.Errorf("a certification of a missing skill: %v; want a foreign-key violation", err)
		}
		if err := exec(`UPDATE certifications SET skill_id = NULL WHERE id = 'kept'`); err != nil {
			t.Fatal(err)
		}
		if err := exec(`DELETE FROM skills WHERE id = 'go'`); err != nil {
			t.Errorf("delete a skill no certification evidences: %v", err)
		}
	})
}

// before returns the migrations of fsys whose names sort before first.
func before(t *testing.T, fsys fs.FS, first string) fs.FS {
	t.Helper()
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		t.Fatal(err)
	}
	out := fstest.MapFS{}
	for _, n := range names {
		if n >= first {
			continue
		}
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = &fstest.MapFile{Data: b}
	}
	return out
}
