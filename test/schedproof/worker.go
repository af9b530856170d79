package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// The items the proof schedules: one kind, fired by the handler below.
const (
	itemKind    = "proof"
	serviceName = "schedproof" // names the worker's lease, as a service's domain would
)

// effectsTable is the handler's table: one row per firing, written in the transaction that marks
// the item fired. It has no unique key on the item, so that an item fired twice shows as two
// rows. Times are Unix microseconds: due and fired are what the worker told the handler
// (scheduler.Fired), handler is the system clock when the handler ran.
var effectsTable = map[string]string{
	enginePostgres: `CREATE TABLE proof_effects (
		id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
		item_key   TEXT    NOT NULL,
		worker     TEXT    NOT NULL,
		due_us     BIGINT  NOT NULL,
		fired_us   BIGINT  NOT NULL,
		handler_us BIGINT  NOT NULL,
		attempt    INTEGER NOT NULL)`,
	engineSQLite: `CREATE TABLE proof_effects (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		item_key   TEXT    NOT NULL,
		worker     TEXT    NOT NULL,
		due_us     INTEGER NOT NULL,
		fired_us   INTEGER NOT NULL,
		handler_us INTEGER NOT NULL,
		attempt    INTEGER NOT NULL)`,
}

// runWorker is the child-process role: a scheduler worker on the run's database, as a service's
// host runs it, until SIGTERM (it stops after the transaction in flight) or SIGKILL.
func runWorker() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))

	poll, err := time.ParseDuration(os.Getenv(pollEnv))
	if err != nil {
		return fmt.Errorf("%s: %w", pollEnv, err)
	}
	batch, err := strconv.Atoi(os.Getenv(batchEnv))
	if err != nil {
		return fmt.Errorf("%s: %w", batchEnv, err)
	}
	db, err := sqldb.Open(ctx, os.Getenv(dbDSNEnv), sqldb.Options{Schema: os.Getenv(dbSchemaEnv), MaxOpenConns: 4, Logger: log})
	if err != nil {
		return err
	}
	defer db.Close()
	store := sqlstore.New(db, nil) // the handler writes no event

	// The worker's name says which process fired an item: the replica and this start of it.
	worker := fmt.Sprintf("%s/%d", os.Getenv(nameEnv), os.Getpid())
	fire := func(ctx context.Context, tx *sqlstore.Tx, f scheduler.Fired) error {
		const ins = `INSERT INTO proof_effects (item_key, worker, due_us, fired_us, handler_us, attempt)
			VALUES ($1, $2, $3, $4, $5, $6)`
		_, err := tx.ExecContext(ctx, ins, f.Key, worker, f.Due.UnixMicro(), f.FiredAt.UnixMicro(),
			time.Now().UnixMicro(), f.Attempt)
		return err
	}
	w, err := scheduler.NewWorker(store, map[string]scheduler.Handler{itemKind: fire}, scheduler.Options{
		Name: serviceName, Logger: log,
		Settings: scheduler.Settings{PollInterval: poll, BatchSize: batch},
	})
	if err != nil {
		return err
	}
	db.AfterCommitOf(scheduler.Work, w.Notify) // as the host wires it
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	log.Info("worker started", "worker", worker)

	select {
	case <-ctx.Done():
	case err := <-done:
		cancel()
		return fmt.Errorf("worker returned: %v", err)
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	serr := w.Shutdown(sctx)
	cancel()
	if err := <-done; err != nil {
		return err
	}
	return serr
}
