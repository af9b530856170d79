package sqldb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

const combineSchema = `-- +goose Up
CREATE TABLE numbered (seq INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE tallies (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
`

// postgresCombineSchema numbers rows as the outbox and the audit trail do.
const postgresCombineSchema = `-- +goose Up
CREATE TABLE numbered (seq BIGSERIAL PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE tallies (id INTEGER PRIMARY KEY, n INTEGER NOT NULL);
`

// ExecAll writes every statement, rows numbered in the order of their VALUES and statements,
// also past the bounds of one combined statement; a failing statement fails the call.
func TestExecAll(t *testing.T) {
	forEachEngine(t, func(t *testing.T, d testenv.Database, db *DB) {
		ctx := context.Background()
		schema := combineSchema
		if d.Engine == testenv.EnginePostgres {
			schema = postgresCombineSchema
		}
		for i := range 10 {
			schema += fmt.Sprintf("CREATE TABLE marks%d (id INTEGER PRIMARY KEY);\n", i)
		}
		if err := db.Migrate(ctx, "test_version", fstest.MapFS{"00001_schema.sql": {Data: []byte(schema)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(`INSERT INTO tallies (id, n) VALUES (1, 0), (2, 0)`); err != nil {
			t.Fatal(err)
		}
		insert := func(names ...string) Statement {
			s := Statement{Table: "numbered", Query: "INSERT INTO numbered (name) VALUES "}
			for i, n := range names {
				if i > 0 {
					s.Query += ", "
				}
				s.Query += fmt.Sprintf("($%d)", i+1)
				s.Args = append(s.Args, n)
			}
			return s
		}
		bump := func(id, by int) Statement {
			return Statement{Table: "tallies", Query: `UPDATE tallies SET n = n + $2 WHERE id = $1`, Args: []any{id, by}}
		}
		// Statements of one table, which must not share a combined statement, and more of
		// different tables than one combined statement holds.
		stmts := []Statement{insert("a", "b", "c"), bump(1, 5), insert("d")}
		for i := range 8 {
			stmts = append(stmts, insert(fmt.Sprintf("e%d", i)))
		}
		for i := range 10 {
			table := fmt.Sprintf("marks%d", i)
			stmts = append(stmts, Statement{Table: table, Query: "INSERT INTO " + table + " (id) VALUES ($1)", Args: []any{i}})
		}
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return ExecAll(ctx, tx, db.Engine(), stmts...) }); err != nil {
			t.Fatal(err)
		}
		names := column[string](t, db, `SELECT name FROM numbered ORDER BY seq`)
		if got, want := strings.Join(names, " "), "a b c d e0 e1 e2 e3 e4 e5 e6 e7"; got != want {
			t.Errorf("rows in sequence order: %s, want %s", got, want)
		}
		var n int
		if err := db.QueryRowContext(ctx, `SELECT n FROM tallies WHERE id = 1`).Scan(&n); err != nil || n != 5 {
			t.Errorf("tally 1 = %d (%v), want 5", n, err)
		}
		for i := range 10 {
			if err := db.QueryRowContext(ctx, fmt.Sprintf("SELECT id FROM marks%d", i)).Scan(&n); err != nil || n != i {
				t.Errorf("marks%d holds %d (%v), want %d", i, n, err, i)
			}
		}

		// A duplicate name in the second statement: nothing of the transaction remains.
		err := db.InTx(ctx, func(tx *sql.Tx) error {
			return ExecAll(ctx, tx, db.Engine(), bump(2, 1), insert("a"), insert("f"))
		})
		if err == nil {
			t.Fatal("ExecAll with a duplicate row succeeded")
		}
		if err := db.QueryRowContext(ctx, `SELECT n FROM tallies WHERE id = 2`).Scan(&n); err != nil || n != 0 {
			t.Errorf("tally 2 = %d (%v) after the failed transaction, want 0", n, err)
		}
	})
}

// combine numbers each part's placeholders on from the previous parts', multi-digit ones too.
func TestCombine(t *testing.T) {
	args := func(n int) []any { return make([]any, n) }
	q, all := combine([]Statement{
		{Query: `INSERT INTO a (x, y) VALUES ($1, $2)`, Args: args(2)},
		{Query: `UPDATE b SET x = $2 WHERE id = $1`, Args: args(2)},
		{Query: `INSERT INTO c VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, Args: args(10)},
	}, 14)
	want := `WITH w1 AS (INSERT INTO a (x, y) VALUES ($1, $2)), w2 AS (UPDATE b SET x = $4 WHERE id = $3) ` +
		`INSERT INTO c VALUES ($5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
	if q != want {
		t.Errorf("combined:\n%s\nwant:\n%s", q, want)
	}
	if len(all) != 14 {
		t.Errorf("%d arguments, want 14", len(all))
	}
}

// Inserts splits rows into statements of n's binary digits, largest first, rows in order.
func TestInserts(t *testing.T) {
	in := NewInserts("t", "(a, b)", 2)
	stmts, err := in.Statements(131, func(args []any, i int) ([]any, error) { return append(args, i, -i), nil })
	if err != nil {
		t.Fatal(err)
	}
	var rows []int
	for _, s := range stmts {
		if s.Table != "t" || strings.Count(s.Query, "(") != 1+len(s.Args)/2 {
			t.Fatalf("statement %q of table %q for %d arguments", s.Query, s.Table, len(s.Args))
		}
		rows = append(rows, len(s.Args)/2)
		for j := 0; j < len(s.Args); j += 2 {
			if s.Args[j+1] != -s.Args[j].(int) {
				t.Fatalf("row arguments %v, %v", s.Args[j], s.Args[j+1])
			}
		}
	}
	if fmt.Sprint(rows) != "[128 2 1]" {
		t.Errorf("rows per statement %v, want [128 2 1]", rows)
	}
	if stmts[1].Query != "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4)" || stmts[1].Args[0] != 128 || stmts[2].Args[0] != 130 {
		t.Errorf("second statement %q %v, third %v", stmts[1].Query, stmts[1].Args, stmts[2].Args)
	}
	if _, err := in.Statements(3, func(args []any, i int) ([]any, error) { return nil, fmt.Errorf("row %d", i) }); err == nil {
		t.Error("a row's error was not returned")
	}
}
