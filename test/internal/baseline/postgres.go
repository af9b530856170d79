package baseline

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// rowTablePostgres is shaped like the budget service's cost_centers table, with the payload
// column standing in for its remaining columns; the unique code and the parent index cost what
// theirs do.
const rowTablePostgres = `CREATE TABLE baseline_rows (
    id           TEXT        PRIMARY KEY,
    display_name TEXT        NOT NULL,
    code         TEXT        NOT NULL UNIQUE,
    parent       TEXT,
    payload      TEXT        NOT NULL,
    create_time  TIMESTAMPTZ NOT NULL,
    update_time  TIMESTAMPTZ NOT NULL,
    etag         TEXT        NOT NULL,
    version      BIGINT      NOT NULL
);
CREATE INDEX baseline_rows_parent_idx ON baseline_rows (parent);`

// insertRowSQL and insertOutboxSQL are the statements of one create; insertOutboxSQL is the
// outbox package's own insert.
const (
	insertRowSQL = `INSERT INTO baseline_rows (id, display_name, code, parent, payload,
	create_time, update_time, etag, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	insertOutboxSQL = `INSERT INTO outbox (event_id, subject, event_type, source, resource_name,
	aggregate_version, event_time, payload, traceparent, tracestate)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
)

// The event every baseline create writes and every JetStream baseline publishes.
const (
	eventType   = "quarterdeck.baseline.v1.RowCreated"
	eventSource = "/quarterdeck/baseline"
)

// Postgres measures PostgreSQL transactions that insert a row and its outbox row and commit, from
// o.Clients clients on a pgx pool of as many connections, at the server's default durability
// (synchronous_commit as configured, as the services run). The tables live in a fresh schema
// load_baseline_<random>, dropped at the end also when the run fails; the outbox table is created
// from the outbox package's PostgreSQL migrations, so it has the real columns and indexes.
func Postgres(ctx context.Context, dsn string, o Options) (res Result, err error) {
	o, err = o.withDefaults()
	if err != nil {
		return Result{}, err
	}
	r, err := newRun(o)
	if err != nil {
		return Result{}, err
	}
	suffix, err := randomHex(8)
	if err != nil {
		return Result{}, err
	}
	schema := "load_baseline_" + suffix
	name := fmt.Sprintf("PostgreSQL insert + outbox insert, %d clients", o.Clients)

	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return Result{}, fmt.Errorf("postgres baseline: parse DSN: %w", err)
	}
	admin, err := pgx.ConnectConfig(ctx, cfg.ConnConfig.Copy())
	if err != nil {
		return Result{}, fmt.Errorf("postgres baseline: connect: %w", err)
	}
	defer func() {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		admin.Close(cctx)
	}()
	// The schema name is ours and safe to quote as it is.
	if _, err := admin.Exec(ctx, `CREATE SCHEMA "`+schema+`"`); err != nil {
		return Result{}, fmt.Errorf("postgres baseline: create schema %s: %w", schema, err)
	}
	// From here on the schema exists and must go, whatever happens.
	defer func() {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if _, derr := admin.Exec(cctx, `DROP SCHEMA "`+schema+`" CASCADE`); derr != nil && err == nil {
			err = fmt.Errorf("postgres baseline: drop schema %s: %w", schema, derr)
		}
	}()
	if err := createPostgresTables(ctx, admin, schema); err != nil {
		return Result{}, err
	}

	cfg.MaxConns = int32(o.Clients)
	cfg.MinConns = int32(o.Clients)
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return Result{}, fmt.Errorf("postgres baseline: open pool: %w", err)
	}
	defer pool.Close()
	if err := warmPool(ctx, pool, o.Clients); err != nil {
		return Result{}, err
	}

	res, err = closedLoop(ctx, name, o, func(ctx context.Context, client, seq int) error {
		return pgCreate(ctx, pool, r, client, seq)
	})
	res.Scratch = schema
	return res, err
}

// warmPool opens all n connections of pool before the clock starts, so that connection setup is
// not counted as operation latency.
func warmPool(ctx context.Context, pool *pgxpool.Pool, n int) error {
	conns := make([]*pgxpool.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Release()
		}
	}()
	for range n {
		c, err := pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("postgres baseline: connect: %w", err)
		}
		conns = append(conns, c)
	}
	return nil
}

// createPostgresTables creates the row table and the outbox table in schema.
func createPostgresTables(ctx context.Context, conn *pgx.Conn, schema string) error {
	up, err := migrationsUp(outbox.Migrations.For(sqldb.Postgres))
	if err != nil {
		return fmt.Errorf("postgres baseline: %w", err)
	}
	ddl := `SET search_path TO "` + schema + `";` + rowTablePostgres + "\n" + up
	// Without arguments pgx sends the text as one simple query, which may hold many statements.
	if _, err := conn.Exec(ctx, ddl); err != nil {
		return fmt.Errorf("postgres baseline: create tables in %s: %w", schema, err)
	}
	return nil
}

// pgCreate is one create: a transaction inserting the row and its event.
func pgCreate(ctx context.Context, pool *pgxpool.Pool, r run, client, seq int) (err error) {
	id := r.id(client, seq)
	now := time.Now().UTC().Truncate(time.Microsecond)
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if _, err = tx.Exec(ctx, insertRowSQL, id, "Baseline "+id, "code-"+id, nil, string(r.payload),
		now, now, `"1"`, int64(1)); err != nil {
		return fmt.Errorf("insert row %s: %w", id, err)
	}
	if _, err = tx.Exec(ctx, insertOutboxSQL, id, r.subject(), eventType, eventSource,
		"rows/"+id, int64(1), now, r.payload, "", ""); err != nil {
		return fmt.Errorf("insert outbox row %s: %w", id, err)
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit %s: %w", id, err)
	}
	return nil
}

// prefix is the run's event subject prefix, which keeps its stream apart from any other.
func (r run) prefix() string { return "load_baseline_" + r.tag }

// subject is the NATS subject the run's events are stored under and published on.
func (r run) subject() string { return r.prefix() + ".baseline.row.created" }

// migrationsUp returns the Up sections of the goose SQL migrations at the root of fsys, in file
// order, as one script.
func migrationsUp(fsys fs.FS) (string, error) {
	files, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return "", fmt.Errorf("list migrations: %w", err)
	}
	var b strings.Builder
	for _, f := range files {
		text, err := fs.ReadFile(fsys, f)
		if err != nil {
			return "", fmt.Errorf("read migration %s: %w", f, err)
		}
		_, up, ok := strings.Cut(string(text), "-- +goose Up")
		if !ok {
			return "", fmt.Errorf("migration %s has no Up section", f)
		}
		up, _, _ = strings.Cut(up, "-- +goose Down")
		b.WriteString(up)
		b.WriteString("\n")
	}
	return b.String(), nil
}
