package baseline

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// rowTableSQLite is rowTablePostgres in SQLite's types, as the budget service's SQLite store
// declares cost_centers.
const rowTableSQLite = `CREATE TABLE baseline_rows (
    id           TEXT      PRIMARY KEY,
    display_name TEXT      NOT NULL,
    code         TEXT      NOT NULL UNIQUE,
    parent       TEXT,
    payload      TEXT      NOT NULL,
    create_time  TIMESTAMP NOT NULL,
    update_time  TIMESTAMP NOT NULL,
    etag         TEXT      NOT NULL,
    version      INTEGER   NOT NULL
);
CREATE INDEX baseline_rows_parent_idx ON baseline_rows (parent);`

// SQLite measures SQLite transactions that insert a row and its outbox row and commit, from
// o.Clients clients, in a new database file in a fresh folder under dir (the system's temporary
// folder when dir is empty), removed at the end.
//
// The database is opened with sqldb.Open and written with sqldb.DB.InTx, as the services open and
// write theirs, so it runs with the same settings: journal_mode(WAL), synchronous(FULL),
// busy_timeout(10000), foreign_keys(1), temp_store(MEMORY), immediate transactions
// (_txlock=immediate) and a pool of 4 connections, of which one writes at a time. One setting
// differs: SeparateCommits. The baseline is what SQLite does for a transaction per create, each
// with a commit of its own; the services' group commits, several creates to a commit, are part
// of what the platform is measured on against it. The outbox table is created by the outbox
// package's own SQLite migrations and written by outbox.Insert.
func SQLite(ctx context.Context, dir string, o Options) (res Result, err error) {
	o, err = o.withDefaults()
	if err != nil {
		return Result{}, err
	}
	r, err := newRun(o)
	if err != nil {
		return Result{}, err
	}
	name := fmt.Sprintf("SQLite insert + outbox insert, %d clients", o.Clients)

	folder, err := os.MkdirTemp(dir, "load-baseline-")
	if err != nil {
		return Result{}, fmt.Errorf("sqlite baseline: create folder: %w", err)
	}
	defer func() {
		if rerr := os.RemoveAll(folder); rerr != nil && err == nil {
			err = fmt.Errorf("sqlite baseline: remove %s: %w", folder, rerr)
		}
	}()
	file := filepath.Join(folder, "baseline.db")
	db, err := sqldb.Open(ctx, "sqlite:"+file, sqldb.Options{Logger: slog.New(slog.DiscardHandler), SeparateCommits: true})
	if err != nil {
		return Result{}, fmt.Errorf("sqlite baseline: %w", err)
	}
	defer func() {
		if cerr := db.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("sqlite baseline: close: %w", cerr)
		}
	}()
	if err := db.MigrateSets(ctx, outbox.Migrations); err != nil {
		return Result{}, fmt.Errorf("sqlite baseline: %w", err)
	}
	if _, err := db.ExecContext(ctx, rowTableSQLite); err != nil {
		return Result{}, fmt.Errorf("sqlite baseline: create row table: %w", err)
	}

	res, err = closedLoop(ctx, name, o, func(ctx context.Context, client, seq int) error {
		return sqliteCreate(ctx, db, r, client, seq)
	})
	res.Scratch = file
	return res, err
}

// sqliteCreate is one create: a transaction inserting the row and its event.
func sqliteCreate(ctx context.Context, db *sqldb.DB, r run, client, seq int) error {
	id := r.id(client, seq)
	now := time.Now().UTC().Truncate(time.Microsecond)
	return db.InTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertRowSQL, id, "Baseline "+id, "code-"+id, nil,
			string(r.payload), now, now, `"1"`, int64(1)); err != nil {
			return fmt.Errorf("insert row %s: %w", id, err)
		}
		return outbox.Insert(ctx, tx, outbox.Message{
			ID:               id,
			Subject:          r.subject(),
			Type:             eventType,
			Source:           eventSource,
			ResourceName:     "rows/" + id,
			AggregateVersion: 1,
			Time:             now,
			Payload:          r.payload,
		})
	})
}
