// Package sqldb opens a service's database from a DSN — a PostgreSQL URL in production, a SQLite
// file in standalone mode — applies its embedded migrations and runs transactions. Both engines are
// reached through database/sql so stores can share helpers; query bodies stay per engine.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver (pure Go, no cgo)

	"github.com/quarterdeck/quarterdeck/services/platform/storage/datadir"
)

// Engine names a database engine.
type Engine string

// The supported engines.
const (
	Postgres Engine = "postgres"
	SQLite   Engine = "sqlite"
)

// Options tunes Open.
type Options struct {
	// Schema is the PostgreSQL schema that holds the service's tables; it is created when missing
	// and becomes the connection's search_path. Ignored for SQLite, where each service has its own
	// file.
	Schema string
	// MaxOpenConns bounds the PostgreSQL connection pool (default 16).
	MaxOpenConns int
	// Logger receives migration progress (default slog.Default()).
	Logger *slog.Logger
	// SeparateCommits makes every SQLite transaction commit on its own instead of in a group
	// with the transactions that arrive while one runs (group.go): what SQLite does for one
	// transaction at a time, which the load harness's baseline measures. Ignored for PostgreSQL,
	// which commits every transaction on its own.
	SeparateCommits bool
}

// DB is an open database of one service.
type DB struct {
	*sql.DB
	engine Engine
	schema string
	logger *slog.Logger

	// group runs the transactions as group commits (SQLite unless SeparateCommits), else nil.
	group *grouper
	// leases holds the connections of the leases (TryLease) on PostgreSQL, apart from the pool
	// the queries use, so that a held lease never takes one of MaxOpenConns; nil on SQLite.
	leases *sql.DB

	mu          sync.Mutex
	afterCommit []hook
}

var schemaPattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// Open connects to the database named by dsn: "sqlite:<path>" (the file and its folder are created
// when missing) or "postgres://…"/"postgresql://…". It checks the connection before returning.
func Open(ctx context.Context, dsn string, opts Options) (*DB, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	var (
		db, leases *sql.DB
		engine     Engine
		err        error
	)
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		engine = SQLite
		db, err = openSQLite(strings.TrimPrefix(dsn, "sqlite:"), opts.Logger)
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		engine = Postgres
		db, leases, err = openPostgres(ctx, dsn, opts)
	default:
		return nil, fmt.Errorf("unsupported database URL %q: want sqlite:<file> or postgres://…", redact(dsn))
	}
	if err != nil {
		return nil, err
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		if leases != nil {
			leases.Close()
		}
		return nil, fmt.Errorf("connect to %s: %w", redact(dsn), err)
	}
	out := &DB{DB: db, engine: engine, schema: opts.Schema, logger: opts.Logger, leases: leases}
	if engine == SQLite && !opts.SeparateCommits {
		out.group = &grouper{db: db, waitLimit: defaultWaitLimit}
	}
	return out, nil
}

func openSQLite(path string, log *slog.Logger) (*sql.DB, error) {
	if path == "" {
		return nil, errors.New("sqlite DSN needs a file path, e.g. sqlite:./data/budget.db")
	}
	// The database is made (or tightened to) 0600 before SQLite opens it: SQLite gives the -wal
	// and -shm files it creates the database's permissions, so they are private too.
	if err := datadir.SecureFile(path, log, "-wal", "-shm", "-journal"); err != nil {
		return nil, fmt.Errorf("database file: %w", err)
	}
	// WAL lets readers proceed during a write; immediate transactions take the write lock at BEGIN
	// so two writers queue on busy_timeout instead of failing on lock upgrade; foreign keys are off
	// by default in SQLite; temporary files, the sub-journals of the group commits' savepoints
	// among them, are kept in memory instead of being written to disk.
	q := "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(FULL)&_pragma=temp_store(MEMORY)&_txlock=immediate&_time_format=sqlite"
	conn, err := newCachingConnector("file:" + path + q)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	db := sql.OpenDB(conn)
	// One writer at a time is SQLite's model; a small pool keeps readers concurrent.
	db.SetMaxOpenConns(4)
	return db, nil
}

// openPostgres opens the pool of the queries, of at most opts.MaxOpenConns connections, and the
// leases' connections (one per lease held, one kept idle for a standby's next try).
func openPostgres(ctx context.Context, dsn string, opts Options) (db, leases *sql.DB, _ error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, nil, fmt.Errorf("parse database URL %s: %w", redact(dsn), err)
	}
	if opts.Schema != "" {
		if !schemaPattern.MatchString(opts.Schema) {
			return nil, nil, fmt.Errorf("invalid schema name %q", opts.Schema)
		}
		if err := createSchema(ctx, cfg, opts.Schema); err != nil {
			return nil, nil, err
		}
		cfg.RuntimeParams["search_path"] = opts.Schema
	}
	db = stdlib.OpenDB(*cfg)
	n := opts.MaxOpenConns
	if n <= 0 {
		n = 16
	}
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(5 * time.Minute)
	leases = stdlib.OpenDB(*cfg)
	leases.SetMaxIdleConns(1)
	leases.SetConnMaxIdleTime(5 * time.Minute)
	return db, leases, nil
}

func createSchema(ctx context.Context, cfg *pgx.ConnConfig, schema string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redact(cfg.ConnString()), err)
	}
	defer conn.Close(ctx)
	// The schema name was checked against schemaPattern, so quoting it is enough.
	if _, err := conn.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS "`+schema+`"`); err != nil {
		// IF NOT EXISTS does not hold against a concurrent creator: a replica starting at the
		// same moment can create the schema between the check and the insert, which then fails
		// on the catalogue's unique index. The schema exists, which is all that is asked.
		var pg *pgconn.PgError
		if errors.As(err, &pg) && pg.Code == "23505" {
			return nil
		}
		return fmt.Errorf("create schema %s: %w", schema, err)
	}
	return nil
}

// Close closes the database: its pool, and the leases' connections once their leases are released.
func (db *DB) Close() error {
	err := db.DB.Close()
	if db.leases != nil {
		err = errors.Join(err, db.leases.Close())
	}
	return err
}

// Engine reports which engine the database runs on.
func (db *DB) Engine() Engine { return db.engine }

// Migrate applies the migrations in fsys (goose SQL files at its root) that are not applied yet.
// table names the version table, so that the platform's and the service's migrations keep
// separate histories in one schema. On PostgreSQL an advisory lock keeps concurrent replicas from
// migrating at the same time.
func (db *DB) Migrate(ctx context.Context, table string, fsys fs.FS) error {
	dialect := goose.DialectSQLite3
	var opts []goose.ProviderOption
	opts = append(opts, goose.WithTableName(table), goose.WithDisableGlobalRegistry(true))
	if db.engine == Postgres {
		dialect = goose.DialectPostgres
		h := fnv.New64a()
		h.Write([]byte(db.schema + "." + table))
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(int64(h.Sum64() >> 1)))
		if err != nil {
			return fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.DB, fsys, opts...)
	if err != nil {
		return fmt.Errorf("load migrations for %s: %w", table, err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("apply migrations for %s: %w", table, err)
	}
	for _, r := range results {
		db.logger.InfoContext(ctx, "migration applied", "table", table, "version", r.Source.Version,
			"file", r.Source.Path, "duration", r.Duration)
	}
	return nil
}

// MigrationSet is one package's migrations under their own version table, so that the platform's
// packages and each service keep separate histories in one schema. A package embeds its folder
// and declares its set once:
//
//	//go:embed migrations
//	var migrations embed.FS
//
//	var Migrations = sqldb.MigrationSet{Table: "quarterdeck_audit_migrations", Files: migrations}
type MigrationSet struct {
	// Table is the goose version table.
	Table string
	// Files holds one folder of goose SQL files per engine under migrations/ (migrations/postgres,
	// migrations/sqlite).
	Files fs.FS
}

// For returns the set's migrations for engine.
func (s MigrationSet) For(engine Engine) fs.FS { return EngineMigrations(s.Files, engine) }

// Drift compares the set's PostgreSQL and SQLite migrations with MigrationDrift.
func (s MigrationSet) Drift() ([]string, error) {
	return MigrationDrift(s.For(Postgres), s.For(SQLite))
}

// MigrateSets applies sets in order with Migrate, each for the database's engine under its own
// version table.
func (db *DB) MigrateSets(ctx context.Context, sets ...MigrationSet) error {
	for _, s := range sets {
		if err := db.Migrate(ctx, s.Table, s.For(db.engine)); err != nil {
			return err
		}
	}
	return nil
}

// AfterCommit registers fn to run after every transaction that InTx commits.
func (db *DB) AfterCommit(fn func()) { db.AfterCommitOf("", fn) }

// AfterCommitOf registers fn to run after every transaction that InTx commits and that left work
// of the kind (Left), or after every one for the empty kind. The outbox relay, the audit sealer
// and the scheduler use it to wake up as soon as their work is durable instead of waiting for
// their next poll, and only then: a transaction that wrote no event does not cost the relay a
// pass (a read of the outbox) of its own.
func (db *DB) AfterCommitOf(kind string, fn func()) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.afterCommit = append(db.afterCommit, hook{kind: kind, fn: fn})
}

type hook struct {
	kind string
	fn   func()
}

// openTxs holds the work left by each transaction InTx runs, until it ends.
var openTxs sync.Map // *sql.Tx -> *leftWork

// leftWork is the kinds of work one transaction left.
type leftWork struct {
	mu    sync.Mutex
	kinds []string
}

func (w *leftWork) has(kind string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Contains(w.kinds, kind)
}

// Left notes that tx wrote work of the kind for a background loop (the outbox's rows, say), so
// that the hooks registered for the kind (AfterCommitOf) run once it commits. It does nothing
// for a transaction InTx did not begin: such a transaction runs no hooks.
func Left(tx *sql.Tx, kind string) {
	v, ok := openTxs.Load(tx)
	if !ok {
		return
	}
	w := v.(*leftWork)
	w.mu.Lock()
	defer w.mu.Unlock()
	if !slices.Contains(w.kinds, kind) {
		w.kinds = append(w.kinds, kind)
	}
}

// maxAttempts bounds how often InTx retries a transaction that lost a serialization conflict.
const maxAttempts = 5

// InTx runs fn in a transaction and commits it when fn returns nil. A transaction that fails with a
// serialization failure or deadlock (PostgreSQL) or a busy database (SQLite) is retried from the
// start, so fn must not have effects outside tx.
//
// On SQLite, transactions that arrive while one runs commit together (group.go): fn runs in a
// savepoint of its own, sees what the transactions before it in its group wrote, and InTx
// returns once the group's COMMIT made fn's writes durable. fn must not wait for another
// transaction of the same database: it would wait for its own group to end (and fail after the
// wait limit, as it would after SQLite's busy timeout).
//
// Driver errors that reach the end untranslated are translated here, once for every store: a
// conflict that outlasted the retries becomes ErrConflict (ABORTED), a unique violation
// ErrAlreadyExists (ALREADY_EXISTS). Both still wrap the driver's error for the logs.
func (db *DB) InTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return translate(ctx, db.retry(ctx, fn))
}

func (db *DB) retry(ctx context.Context, fn func(tx *sql.Tx) error) error {
	var err error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		var left *leftWork
		left, err = db.inTx(ctx, fn)
		if err == nil {
			db.mu.Lock()
			hooks := db.afterCommit
			db.mu.Unlock()
			for _, h := range hooks {
				if h.kind == "" || left.has(h.kind) {
					h.fn()
				}
			}
			return nil
		}
		if !IsRetryable(err) || ctx.Err() != nil {
			return err
		}
		// Back off a little, more with every attempt, so that conflicting writers spread out.
		select {
		case <-time.After(time.Duration(attempt*attempt) * 5 * time.Millisecond):
		case <-ctx.Done():
			return err
		}
	}
	return err
}

// inTx runs fn in one transaction and returns the work it left once it committed.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) (_ *leftWork, err error) {
	if db.group != nil {
		return db.group.inTx(ctx, fn)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("begin: %w", err)
	}
	left := &leftWork{}
	openTxs.Store(tx, left)
	defer func() {
		openTxs.Delete(tx)
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return nil, err
	}
	if err = tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit: %w", err)
	}
	return left, nil
}

// ExecContext runs a statement outside a transaction, as sql.DB's does. On SQLite with group
// commits it runs as a transaction of its own (InTx), so that it queues for the write lock with
// the others: waiting in SQLite's busy handler instead, it would rarely find the lock free
// between one group and the next.
func (db *DB) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if db.group == nil {
		return db.DB.ExecContext(ctx, query, args...)
	}
	var res sql.Result
	err := db.retry(ctx, func(tx *sql.Tx) error {
		var err error
		res, err = tx.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// redact hides the password of a URL-shaped DSN, in its user info or as a password parameter,
// for error messages and logs.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" || u.Opaque != "" {
		return dsn
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// EngineMigrations returns the migrations for engine from fsys, a tree that holds one folder per
// engine under migrations/ (migrations/postgres, migrations/sqlite), as the platform's packages
// embed them.
func EngineMigrations(fsys fs.FS, engine Engine) fs.FS {
	sub, err := fs.Sub(fsys, "migrations/"+string(engine))
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}
