package scheduler_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

var quiet = slog.New(slog.DiscardHandler)

// t0 is where the tests' fake clocks start.
var t0 = time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)

// forEachDatabase runs f on SQLite and, when available, on PostgreSQL.
func forEachDatabase(t *testing.T, f func(t *testing.T, d testenv.Database)) {
	t.Helper()
	for _, d := range testenv.Databases(t) {
		t.Run(d.Engine, func(t *testing.T) { f(t, d) })
	}
}

// openStore opens d with the outbox and the scheduler's tables, and effects: one row per item
// a test handler fired, written in the handler's transaction.
func openStore(t testing.TB, d testenv.Database) *sqlstore.DB {
	t.Helper()
	return openStoreAs(t, d, "")
}

// openStoreAs opens d as openStore does; on PostgreSQL its connections carry application as
// their application_name, so that a test can cut them.
func openStoreAs(t testing.TB, d testenv.Database, application string) *sqlstore.DB {
	t.Helper()
	ctx := context.Background()
	dsn := d.DSN
	if application != "" && d.Engine == testenv.EnginePostgres {
		dsn += "&application_name=" + application
	}
	db, err := sqldb.Open(ctx, dsn, sqldb.Options{Schema: d.Schema, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.MigrateSets(ctx, outbox.Migrations, scheduler.Migrations); err != nil {
		t.Fatal(err)
	}
	const effects = `CREATE TABLE IF NOT EXISTS effects (item_key TEXT NOT NULL, worker TEXT NOT NULL,
		due TEXT NOT NULL, fired TEXT NOT NULL, attempt INTEGER NOT NULL)`
	if _, err := db.ExecContext(ctx, effects); err != nil {
		t.Fatal(err)
	}
	f, err := outbox.NewFactory(events.DefaultPrefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	return sqlstore.New(db, f)
}

// schedule commits items in one transaction.
func schedule(t testing.TB, db *sqlstore.DB, items ...scheduler.Item) {
	t.Helper()
	err := db.Within(context.Background(), func(ctx context.Context, tx *sqlstore.Tx) error {
		for _, it := range items {
			if err := scheduler.Schedule(ctx, tx, it); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func item(key string, due time.Time) scheduler.Item {
	return scheduler.Item{Key: key, Kind: "review", Resource: "costCenters/" + key, Due: due}
}

// get returns the state of key, failing the test when it is missing.
func get(t testing.TB, db *sqlstore.DB, key string) scheduler.State {
	t.Helper()
	st, err := scheduler.Get(context.Background(), db, key)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return st
}

// effect is one row of effects.
type effect struct {
	key, worker string
	due, fired  time.Time
	attempt     int
}

// effects returns the effects table in the order the handlers wrote it.
func effects(t testing.TB, db *sqlstore.DB) []effect {
	t.Helper()
	rows, err := sqlstore.All(context.Background(), db, "effects", func(s sqlstore.Scanner) (effect, error) {
		var (
			e          effect
			due, fired string
		)
		if err := s.Scan(&e.key, &e.worker, &due, &fired, &e.attempt); err != nil {
			return e, err
		}
		var err error
		if e.due, err = time.Parse(time.RFC3339Nano, due); err != nil {
			return e, err
		}
		e.fired, err = time.Parse(time.RFC3339Nano, fired)
		return e, err
	}, `SELECT item_key, worker, due, fired, attempt FROM effects`)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// effectCounts counts the effects per key.
func effectCounts(t testing.TB, db *sqlstore.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, e := range effects(t, db) {
		out[e.key]++
	}
	return out
}

// outboxEvents counts the events in the outbox.
func outboxEvents(t testing.TB, db *sqlstore.DB) int {
	t.Helper()
	n, err := sqlstore.Value[int](context.Background(), db, "outbox rows", `SELECT COUNT(*) FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// handlers is what a test's items do when they fire: each writes an effect row and an event
// in its transaction. fail makes the attempts of a key fail, by returning the error it gives
// (nil: the attempt succeeds) after the effect and the event were written, so that a rollback
// shows.
type handlers struct {
	worker string
	mu     sync.Mutex
	fail   func(f scheduler.Fired) error
}

func (h *handlers) setFail(fail func(f scheduler.Fired) error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.fail = fail
}

func (h *handlers) fire(ctx context.Context, tx *sqlstore.Tx, f scheduler.Fired) error {
	const ins = `INSERT INTO effects (item_key, worker, due, fired, attempt) VALUES ($1, $2, $3, $4, $5)`
	if _, err := tx.ExecContext(ctx, ins, f.Key, h.worker, f.Due.Format(time.RFC3339Nano),
		f.FiredAt.Format(time.RFC3339Nano), f.Attempt); err != nil {
		return err
	}
	if err := tx.Emit(ctx, f.Resource, &budgetv1.CostCenterCreated{Version: 1}); err != nil {
		return err
	}
	h.mu.Lock()
	fail := h.fail
	h.mu.Unlock()
	if fail != nil {
		return fail(f)
	}
	return nil
}

func (h *handlers) all() map[string]scheduler.Handler {
	return map[string]scheduler.Handler{"review": h.fire}
}

// running is a worker run by a test.
type running struct {
	w      *scheduler.Worker
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// options are the tests' worker options: the fake clock, a short poll interval.
func options(c clock.Clock) scheduler.Options {
	return scheduler.Options{Name: "budget", Clock: c, Logger: quiet,
		Settings: scheduler.Settings{PollInterval: 50 * time.Millisecond}}
}

// start runs a worker until the test ends.
func start(t testing.TB, db *sqlstore.DB, hs map[string]scheduler.Handler, opts scheduler.Options) *running {
	t.Helper()
	w, err := scheduler.NewWorker(db, hs, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{w: w, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- w.Run(ctx) }()
	t.Cleanup(r.stop)
	return r
}

// stop shuts the worker down; it may be called more than once.
func (r *running) stop() {
	r.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.w.Shutdown(ctx)
		r.cancel()
		<-r.done
	})
}

// waitFor waits until cond holds, failing the test after 20 s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	waitWithin(t, 20*time.Second, what, cond)
}

// waitWithin waits until cond holds, failing the test after timeout with what it waited for.
func waitWithin(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, timeout, func() error {
		if cond() {
			return nil
		}
		return errors.New(what)
	})
}

// waitAsleepUntil waits until the worker has looked at the table and gone to sleep until due.
func waitAsleepUntil(t testing.TB, c *clock.Fake, due time.Time) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the worker asleep until %v (waits: %v)", due, c.Waits()), func() bool {
		return slices.ContainsFunc(c.Waits(), due.Equal)
	})
}

// fired reports whether key has fired.
func fired(t testing.TB, db *sqlstore.DB, key string) bool {
	t.Helper()
	st, err := scheduler.Get(context.Background(), db, key)
	if errors.Is(err, scheduler.ErrNotFound) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return !st.Fired.IsZero()
}

// commit runs fn in a transaction of db and commits it.
func commit(t testing.TB, db *sqlstore.DB, fn func(ctx context.Context, tx *sql.Tx) error) {
	t.Helper()
	if err := db.InTx(context.Background(), func(tx *sql.Tx) error { return fn(context.Background(), tx) }); err != nil {
		t.Fatal(err)
	}
}
