package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

var quiet = slog.New(slog.DiscardHandler)

// open opens d for the duration of the test.
func open(t *testing.T, d testenv.Database) *DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := Open(ctx, d.DSN, Options{Schema: d.Schema, Logger: quiet})
	if err != nil {
		t.Fatalf("Open(%s): %v", d.Engine, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// forEachEngine runs fn against SQLite and, when available, PostgreSQL.
func forEachEngine(t *testing.T, fn func(t *testing.T, d testenv.Database, db *DB)) {
	t.Helper()
	for _, d := range testenv.Databases(t) {
		t.Run(d.Engine, func(t *testing.T) { fn(t, d, open(t, d)) })
	}
}

func TestOpenEngine(t *testing.T) {
	forEachEngine(t, func(t *testing.T, d testenv.Database, db *DB) {
		if got := string(db.Engine()); got != d.Engine {
			t.Fatalf("Engine() = %q, want %q", got, d.Engine)
		}
	})
}

func TestOpenRejects(t *testing.T) {
	tests := []struct {
		name   string
		dsn    string
		opts   Options
		secret string // must not appear in the error
	}{
		{name: "unsupported scheme", dsn: "mysql://app:hunter2@db.example.com/budget", secret: "hunter2"},
		{name: "bare path", dsn: "/var/lib/budget.db"},
		{name: "empty", dsn: ""},
		{name: "sqlite without path", dsn: "sqlite:"},
		{name: "invalid schema", dsn: "postgres://app:hunter2@127.0.0.1:1/db", opts: Options{Schema: "Bad-Schema"}, secret: "hunter2"},
		{name: "unreachable postgres", dsn: "postgres://app:hunter2@127.0.0.1:1/db?connect_timeout=2", secret: "hunter2"},
		{name: "unreachable postgres with schema", dsn: "postgresql://app:hunter2@127.0.0.1:1/db?connect_timeout=2",
			opts: Options{Schema: "budget"}, secret: "hunter2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Logger = quiet
			db, err := Open(context.Background(), tt.dsn, tt.opts)
			if err == nil {
				_ = db.Close()
				t.Fatalf("Open(%q) succeeded, want an error", tt.dsn)
			}
			if tt.secret != "" && strings.Contains(err.Error(), tt.secret) {
				t.Fatalf("Open error reveals the password: %v", err)
			}
		})
	}
}

func TestOpenSQLiteCreatesFolders(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "c")
	path := filepath.Join(dir, "budget.db")
	db, err := Open(context.Background(), "sqlite:"+path, Options{Logger: quiet})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if db.Engine() != SQLite {
		t.Fatalf("Engine() = %q, want sqlite", db.Engine())
	}
	if _, err := db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database file: %v", err)
	}
	// The pragmas of the DSN are in effect.
	var fk int
	if err := db.QueryRow("PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("PRAGMA foreign_keys = %d, %v; want 1", fk, err)
	}
	var mode string
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("PRAGMA journal_mode = %q, %v; want wal", mode, err)
	}
}

// TestOpenSQLitePrivateFiles: a database file is created 0600, an existing one left 0644 by an
// earlier version is made 0600, and the -wal and -shm files SQLite makes beside it are 0600 too,
// under the test's ordinary umask (the binaries also set 077).
func TestOpenSQLitePrivateFiles(t *testing.T) {
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprintf("existing=%v", existing), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "budget.db")
			if existing {
				if err := os.WriteFile(path, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			db, err := Open(context.Background(), "sqlite:"+path, Options{Logger: quiet})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			t.Cleanup(func() { _ = db.Close() })
			if _, err := db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY)"); err != nil {
				t.Fatal(err)
			}
			for _, f := range []string{path, path + "-wal", path + "-shm"} {
				fi, err := os.Stat(f)
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				if got := fi.Mode().Perm(); got != 0o600 {
					t.Errorf("mode of %s = %#o; want 0600", filepath.Base(f), got)
				}
			}
		})
	}
}

func TestOpenSQLiteFolderIsAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), "sqlite:"+filepath.Join(file, "budget.db"), Options{Logger: quiet})
	if err == nil {
		_ = db.Close()
		t.Fatal("Open under a regular file succeeded")
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"postgres://app:hunter2@db:5432/budget", "postgres://app:xxxxx@db:5432/budget"},
		{"postgresql://app:hunter2@db/budget?sslmode=require", "postgresql://app:xxxxx@db/budget?sslmode=require"},
		{"postgres://app:p@ss:w0rd@db/budget", "postgres://app:xxxxx@db/budget"},
		{"postgres://app@db/budget", "postgres://app@db/budget"},
		{"postgres://db/budget", "postgres://db/budget"},
		{"postgres://db:5432/budget", "postgres://db:5432/budget"},
		{"postgres://app@db/budget?password=hunter2&sslmode=disable", "postgres://app@db/budget?password=xxxxx&sslmode=disable"},
		{"sqlite:./data/budget.db", "sqlite:./data/budget.db"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := redact(tt.dsn); got != tt.want {
			t.Errorf("redact(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
	}
}

const widgetsUp = `-- +goose Up
CREATE TABLE widgets (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
-- +goose Down
DROP TABLE widgets;
`

const constraintSchema = `-- +goose Up
CREATE TABLE parents (
	id INTEGER PRIMARY KEY,
	code TEXT NOT NULL,
	CONSTRAINT parents_code_key UNIQUE (code)
);
CREATE TABLE restricted_children (
	id INTEGER PRIMARY KEY,
	parent_id INTEGER NOT NULL REFERENCES parents (id) ON DELETE RESTRICT
);
CREATE TABLE children (
	id INTEGER PRIMARY KEY,
	parent_id INTEGER NOT NULL REFERENCES parents (id)
);
`

func TestConstraintErrors(t *testing.T) {
	forEachEngine(t, func(t *testing.T, d testenv.Database, db *DB) {
		ctx := context.Background()
		if err := db.Migrate(ctx, "test_version", fstest.MapFS{"00001_schema.sql": {Data: []byte(constraintSchema)}}); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			"INSERT INTO parents (id, code) VALUES (1, 'A')",
			"INSERT INTO parents (id, code) VALUES (2, 'B')",
			"INSERT INTO restricted_children (id, parent_id) VALUES (1, 1)",
			"INSERT INTO children (id, parent_id) VALUES (1, 2)",
		} {
			if _, err := db.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}

		uniqueName := map[string]map[string]string{
			testenv.EngineSQLite:   {"code": "parents.code", "pk": "parents.id"},
			testenv.EnginePostgres: {"code": "parents_code_key", "pk": "parents_pkey"},
		}[d.Engine]
		tests := []struct {
			name       string
			query      string
			wantUnique string // constraint name when a unique violation is expected
			wantFK     bool
		}{
			{name: "duplicate unique column", query: "INSERT INTO parents (id, code) VALUES (3, 'A')", wantUnique: uniqueName["code"]},
			{name: "duplicate primary key", query: "INSERT INTO parents (id, code) VALUES (1, 'C')", wantUnique: uniqueName["pk"]},
			{name: "update into a duplicate", query: "UPDATE parents SET code = 'A' WHERE id = 2", wantUnique: uniqueName["code"]},
			{name: "missing parent", query: "INSERT INTO children (id, parent_id) VALUES (2, 99)", wantFK: true},
			{name: "delete referenced parent", query: "DELETE FROM parents WHERE id = 2", wantFK: true},
			{name: "delete restricted parent", query: "DELETE FROM parents WHERE id = 1", wantFK: true},
			{name: "syntax error", query: "INSERT INTO nowhere VALUES (1)"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := db.Exec(tt.query)
				if err == nil {
					t.Fatalf("%s succeeded, want an error", tt.query)
				}
				// Stores wrap driver errors; classification must see through that.
				err = fmt.Errorf("store: %w", err)
				name, unique := UniqueViolation(err)
				if unique != (tt.wantUnique != "") || name != tt.wantUnique {
					t.Fatalf("UniqueViolation(%v) = %q, %v; want %q, %v", err, name, unique, tt.wantUnique, tt.wantUnique != "")
				}
				if got := IsForeignKeyViolation(err); got != tt.wantFK {
					t.Fatalf("IsForeignKeyViolation(%v) = %v, want %v", err, got, tt.wantFK)
				}
				if IsRetryable(err) {
					t.Fatalf("IsRetryable(%v) = true for a constraint error", err)
				}
			})
		}
	})
}

func TestClassifyOrdinaryErrors(t *testing.T) {
	for _, err := range []error{
		nil,
		errors.New("boom"),
		sql.ErrNoRows,
		context.Canceled,
		&pgconn.PgError{Code: "42P01"}, // undefined_table
	} {
		if _, ok := UniqueViolation(err); ok {
			t.Errorf("UniqueViolation(%v) = true", err)
		}
		if IsForeignKeyViolation(err) {
			t.Errorf("IsForeignKeyViolation(%v) = true", err)
		}
		if IsRetryable(err) {
			t.Errorf("IsRetryable(%v) = true", err)
		}
	}
}

func TestIsRetryablePostgresCodes(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"40001", true}, // serialization_failure
		{"40P01", true}, // deadlock_detected
		{"40002", false},
		{"23505", false},
	}
	for _, tt := range tests {
		err := fmt.Errorf("tx: %w", &pgconn.PgError{Code: tt.code})
		if got := IsRetryable(err); got != tt.want {
			t.Errorf("IsRetryable(SQLSTATE %s) = %v, want %v", tt.code, got, tt.want)
		}
	}
}

func TestIsRetryableSQLiteBusy(t *testing.T) {
	// Two raw connections without a busy timeout: the second writer fails at once with
	// SQLITE_BUSY instead of waiting.
	path := filepath.Join(t.TempDir(), "busy.db")
	rawOpen := func() *sql.DB {
		db, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	a, b := rawOpen(), rawOpen()
	if _, err := a.Exec("CREATE TABLE t (id INTEGER)"); err != nil {
		t.Fatal(err)
	}
	tx, err := a.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()

	_, err = b.Begin()
	if err == nil {
		t.Fatal("a second immediate transaction started while the first holds the write lock")
	}
	if !IsRetryable(fmt.Errorf("begin: %w", err)) {
		t.Fatalf("IsRetryable(%v) = false for a busy database", err)
	}
}

// TestAfterCommitOf checks that a hook registered for a kind of work runs after the commits of
// the transactions that left that work, once each, and after no other: not for a transaction
// that left none or another kind, not for one that rolled back, not for an attempt that was
// retried (only its committed retry counts).
func TestAfterCommitOf(t *testing.T) {
	forEachEngine(t, func(t *testing.T, _ testenv.Database, db *DB) {
		ctx := context.Background()
		var relay, sealer, every atomic.Int32
		db.AfterCommitOf("events", func() { relay.Add(1) })
		db.AfterCommitOf("records", func() { sealer.Add(1) })
		db.AfterCommit(func() { every.Add(1) })
		want := func(what string, r, s, e int32) {
			t.Helper()
			if relay.Load() != r || sealer.Load() != s || every.Load() != e {
				t.Fatalf("after %s: hooks of events, records and every commit ran %d, %d, %d times; want %d, %d, %d",
					what, relay.Load(), sealer.Load(), every.Load(), r, s, e)
			}
		}
		inTx := func(fn func(tx *sql.Tx) error) error { return db.InTx(ctx, fn) }

		if err := inTx(func(*sql.Tx) error { return nil }); err != nil {
			t.Fatal(err)
		}
		want("a transaction that left nothing", 0, 0, 1)

		if err := inTx(func(tx *sql.Tx) error {
			Left(tx, "events")
			Left(tx, "events") // twice: one wake-up all the same
			if relay.Load() != 0 {
				t.Error("a hook ran before the transaction committed")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		want("a transaction that left events", 1, 0, 2)

		if err := inTx(func(tx *sql.Tx) error { Left(tx, "events"); Left(tx, "records"); return nil }); err != nil {
			t.Fatal(err)
		}
		want("a transaction that left both", 2, 1, 3)

		errStop := errors.New("stop")
		if err := inTx(func(tx *sql.Tx) error { Left(tx, "records"); return errStop }); !errors.Is(err, errStop) {
			t.Fatalf("InTx = %v, want the error of fn", err)
		}
		want("a rollback", 2, 1, 3)

		attempts := 0
		if err := inTx(func(tx *sql.Tx) error {
			attempts++
			if attempts == 1 {
				Left(tx, "records") // the attempt that fails leaves records; the retry does not
				return &pgconn.PgError{Code: "40001"}
			}
			Left(tx, "events")
			return nil
		}); err != nil || attempts != 2 {
			t.Fatalf("InTx = %v after %d attempts, want success on the second", err, attempts)
		}
		want("a retried transaction", 3, 1, 4)

		// A transaction InTx did not begin runs no hooks; noting work on it does nothing.
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		Left(tx, "events")
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		want("a transaction of its own", 3, 1, 4)
	})
}

func TestInTx(t *testing.T) {
	forEachEngine(t, func(t *testing.T, _ testenv.Database, db *DB) {
		ctx := context.Background()
		if err := db.Migrate(ctx, "test_version", fstest.MapFS{"00001_widgets.sql": {Data: []byte(widgetsUp)}}); err != nil {
			t.Fatal(err)
		}
		count := func() int {
			t.Helper()
			var n int
			if err := db.QueryRow("SELECT count(*) FROM widgets").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}

		var hooks atomic.Int32
		var rowsAtHook atomic.Int32
		db.AfterCommit(func() {
			hooks.Add(1)
			// The hook runs after commit: another connection sees the data.
			var n int
			if err := db.QueryRowContext(ctx, "SELECT count(*) FROM widgets").Scan(&n); err == nil {
				rowsAtHook.Store(int32(n))
			}
		})
		var second atomic.Int32
		db.AfterCommit(func() { second.Add(1) })

		t.Run("commit", func(t *testing.T) {
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.Exec("INSERT INTO widgets (id, name) VALUES (1, 'a')"); err != nil {
					return err
				}
				if hooks.Load() != 0 {
					t.Error("AfterCommit hook ran before the transaction committed")
				}
				return nil
			})
			if err != nil {
				t.Fatalf("InTx: %v", err)
			}
			if got := count(); got != 1 {
				t.Fatalf("rows after commit = %d, want 1", got)
			}
			if hooks.Load() != 1 || second.Load() != 1 {
				t.Fatalf("hooks ran %d and %d times, want once each", hooks.Load(), second.Load())
			}
			if rowsAtHook.Load() != 1 {
				t.Fatalf("hook saw %d rows, want the committed row", rowsAtHook.Load())
			}
		})

		t.Run("rollback", func(t *testing.T) {
			errStop := errors.New("stop")
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.Exec("INSERT INTO widgets (id, name) VALUES (2, 'b')"); err != nil {
					return err
				}
				return fmt.Errorf("validate: %w", errStop)
			})
			if !errors.Is(err, errStop) {
				t.Fatalf("InTx = %v, want the error of fn", err)
			}
			if got := count(); got != 1 {
				t.Fatalf("rows after rollback = %d, want 1", got)
			}
			if hooks.Load() != 1 {
				t.Fatalf("hook ran %d times in all, want it not to run on rollback", hooks.Load())
			}
		})

		t.Run("failed statement rolls back", func(t *testing.T) {
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				if _, err := tx.Exec("INSERT INTO widgets (id, name) VALUES (3, 'c')"); err != nil {
					return err
				}
				_, err := tx.Exec("INSERT INTO widgets (id, name) VALUES (1, 'dup')")
				return err
			})
			if _, ok := UniqueViolation(err); !ok {
				t.Fatalf("InTx = %v, want the unique violation", err)
			}
			if fe := fault.As(err); fe == nil || !errors.Is(err, ErrAlreadyExists) || fe.Kind != fault.AlreadyExists {
				t.Errorf("InTx = %v, want ErrAlreadyExists (ALREADY_EXISTS)", err)
			}
			if got := count(); got != 1 {
				t.Fatalf("rows = %d, want 1", got)
			}
		})

		t.Run("retries conflicts", func(t *testing.T) {
			attempts := 0
			err := db.InTx(ctx, func(tx *sql.Tx) error {
				attempts++
				if _, err := tx.Exec("INSERT INTO widgets (id, name) VALUES (4, 'd')"); err != nil {
					return err
				}
				if attempts < 3 {
					return &pgconn.PgError{Code: "40001"}
				}
				return nil
			})
			if err != nil || attempts != 3 {
				t.Fatalf("InTx = %v after %d attempts, want success on the third", err, attempts)
			}
			if got := count(); got != 2 {
				t.Fatalf("rows = %d, want 2: the failed attempts must roll back", got)
			}
			if hooks.Load() != 2 {
				t.Fatalf("hook ran %d times in all, want once more for the retried commit", hooks.Load())
			}
		})

		t.Run("gives up after maxAttempts", func(t *testing.T) {
			attempts := 0
			conflict := &pgconn.PgError{Code: "40P01"}
			err := db.InTx(ctx, func(*sql.Tx) error { attempts++; return conflict })
			if !errors.Is(err, conflict) || attempts != maxAttempts {
				t.Fatalf("InTx = %v after %d attempts, want the conflict after %d", err, attempts, maxAttempts)
			}
			// Translated once: the client sees ABORTED; the log still has the driver's error.
			if fe := fault.As(err); fe == nil || !errors.Is(err, ErrConflict) || fe.Kind != fault.Aborted {
				t.Errorf("InTx = %v, want ErrConflict (ABORTED)", err)
			}
		})

		t.Run("does not retry a cancelled context", func(t *testing.T) {
			cctx, cancel := context.WithCancel(ctx)
			attempts := 0
			err := db.InTx(cctx, func(*sql.Tx) error {
				attempts++
				cancel()
				return &pgconn.PgError{Code: "40001"}
			})
			if err == nil || attempts != 1 {
				t.Fatalf("InTx = %v after %d attempts, want an error after 1", err, attempts)
			}
			if fault.As(err) != nil {
				t.Errorf("InTx = %v, want the error of a cancelled call untranslated", err)
			}
		})
	})
}

// TestCreateSchemaConcurrently: replicas that start together each create their schema, and
// PostgreSQL's IF NOT EXISTS does not hold against a concurrent creator; none may fail to start.
func TestCreateSchemaConcurrently(t *testing.T) {
	for _, d := range testenv.Databases(t) {
		if d.Schema == "" {
			continue // SQLite has no schemas
		}
		cfg, err := pgx.ParseConfig(d.DSN)
		if err != nil {
			t.Fatal(err)
		}
		for round := range 5 {
			schema := fmt.Sprintf("%s_c%d", d.Schema, round)
			t.Cleanup(func() {
				conn, err := pgx.ConnectConfig(context.Background(), cfg)
				if err == nil {
					_, _ = conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS "`+schema+`" CASCADE`)
					_ = conn.Close(context.Background())
				}
			})
			errs := make(chan error, 8)
			for range 8 {
				go func() { errs <- createSchema(context.Background(), cfg, schema) }()
			}
			for range 8 {
				if err := <-errs; err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
			}
		}
	}
}
