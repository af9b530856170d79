package main

import (
	"context"
	crand "crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"

	"github.com/quarterdeck/quarterdeck/test/internal/proc"
)

// env is everything one run owns.
type env struct {
	cfg     config
	log     *slog.Logger
	dir     string
	schema  string // PostgreSQL only
	db      *sqlstore.DB
	workers []*workerProc
	planned []time.Time // due time of item i
	sum     *summary
}

// workerProc is one worker process: this program re-executed as a scheduler worker.
type workerProc struct {
	proc.Child
	app    string // its connections' application_name on PostgreSQL
	starts int    // how many times it was started
}

func run(ctx context.Context, cfg config, log *slog.Logger) (sum *summary, err error) {
	start := time.Now()
	log = log.With("engine", cfg.Engine)
	e := &env{cfg: cfg, log: log, sum: &summary{Engine: cfg.Engine, Items: cfg.Items, Window: cfg.Window,
		Lead: cfg.Lead, PollInterval: cfg.PollInterval, BatchSize: cfg.BatchSize, RolledBack: -1}}
	sum = e.sum
	if e.dir, err = os.MkdirTemp("", "quarterdeck-schedproof-"); err != nil {
		return nil, err
	}
	sum.Dir = e.dir
	defer func() {
		e.teardown()
		sum.Elapsed = time.Since(start).Round(time.Millisecond)
		if err == nil && len(sum.Failures) > 0 {
			err = fmt.Errorf("%d check(s) failed", len(sum.Failures))
		}
		if err != nil {
			sum.Err = err.Error()
		}
		if err == nil && !cfg.Keep {
			os.RemoveAll(e.dir)
			sum.Dir = ""
		}
	}()

	if err := e.setup(ctx); err != nil {
		return sum, err
	}
	if err := e.schedule(ctx); err != nil {
		return sum, err
	}
	if err := e.watch(ctx); err != nil {
		return sum, err
	}
	// Stopped before the verification, so that nothing fires while it reads.
	for _, w := range e.workers {
		w.Stop(15 * time.Second)
	}
	return sum, e.verify(ctx)
}

func (e *env) setup(ctx context.Context) error {
	dsn := ""
	switch e.cfg.Engine {
	case enginePostgres:
		b := make([]byte, 6)
		_, _ = crand.Read(b)
		e.schema = "schedproof_" + hex.EncodeToString(b)
		dsn = e.cfg.DSN
	case engineSQLite:
		dsn = "sqlite:" + filepath.Join(e.dir, "proof.db")
	}
	db, err := sqldb.Open(ctx, dsn, sqldb.Options{Schema: e.schema, Logger: e.log})
	if err != nil {
		return err
	}
	e.db = sqlstore.New(db, nil)
	if err := db.MigrateSets(ctx, scheduler.Migrations); err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, effectsTable[e.cfg.Engine]); err != nil {
		return fmt.Errorf("create the effects table: %w", err)
	}

	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("locate this program to run the workers: %w", err)
	}
	n := 1 // a SQLite file belongs to one process
	if e.cfg.Engine == enginePostgres {
		n = e.cfg.Replicas
	}
	for i := range n {
		w := &workerProc{}
		w.Name, w.Bin, w.Log = fmt.Sprintf("worker-%d", i), self, filepath.Join(e.dir, fmt.Sprintf("worker-%d.log", i))
		wdsn := dsn
		if e.cfg.Engine == enginePostgres {
			w.app = fmt.Sprintf("%s_w%d", e.schema, i)
			if wdsn, err = withApplicationName(dsn, w.app); err != nil {
				return err
			}
		}
		w.Env = []string{roleEnv + "=worker", dbDSNEnv + "=" + wdsn, dbSchemaEnv + "=" + e.schema,
			nameEnv + "=" + w.Name, pollEnv + "=" + e.cfg.PollInterval.String(),
			batchEnv + "=" + strconv.Itoa(e.cfg.BatchSize)}
		e.workers = append(e.workers, w)
		if err := e.start(ctx, w); err != nil {
			return err
		}
	}
	if e.cfg.Engine == enginePostgres {
		if _, err := e.waitLeader(ctx, nil, 30*time.Second); err != nil {
			return err
		}
	}
	e.sum.Workers = n
	e.log.Info("set up", "dir", e.dir, "schema", e.schema, "workers", n)
	return nil
}

// withApplicationName returns dsn with the connection parameter application_name set to app.
func withApplicationName(dsn, app string) (string, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "", fmt.Errorf("parse the PostgreSQL URL: %w", err)
	}
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// start starts w and waits until its worker runs: on PostgreSQL, until it has connected, so it
// holds the lease or stands by.
func (e *env) start(ctx context.Context, w *workerProc) error {
	if err := w.Start(); err != nil {
		return err
	}
	w.starts++
	deadline := time.Now().Add(time.Minute)
	for {
		b, _ := os.ReadFile(w.Log)
		running := strings.Count(string(b), "worker started") >= w.starts
		if running && e.cfg.Engine == enginePostgres {
			apps, err := e.connected(ctx)
			if err != nil {
				return err
			}
			running = apps[w.app]
		}
		if running {
			return nil
		}
		if !w.Running() {
			return fmt.Errorf("%s exited at start; see %s", w.Name, w.Log)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not start within a minute; see %s", w.Name, w.Log)
		}
		if !sleepCtx(ctx, 20*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// connected returns the application names of the workers' PostgreSQL sessions.
func (e *env) connected(ctx context.Context) (map[string]bool, error) {
	apps, err := sqlstore.Strings(ctx, e.db, "worker sessions",
		`SELECT DISTINCT application_name FROM pg_stat_activity WHERE application_name LIKE $1`, e.schema+"_w%")
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, a := range apps {
		out[a] = true
	}
	return out, nil
}

// leader returns the worker whose session holds the scheduler's lease (a PostgreSQL advisory
// lock), or nil when none does.
func (e *env) leader(ctx context.Context) (*workerProc, error) {
	apps, err := sqlstore.Strings(ctx, e.db, "lease holder", `SELECT a.application_name
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.locktype = 'advisory' AND l.granted AND a.application_name LIKE $1`, e.schema+"_w%")
	if err != nil {
		return nil, err
	}
	for _, w := range e.workers {
		for _, a := range apps {
			if a == w.app && w.Running() {
				return w, nil
			}
		}
	}
	return nil, nil
}

// waitLeader waits until a running worker other than not holds the lease.
func (e *env) waitLeader(ctx context.Context, not *workerProc, timeout time.Duration) (*workerProc, error) {
	deadline := time.Now().Add(timeout)
	for {
		w, err := e.leader(ctx)
		if err != nil {
			return nil, err
		}
		if w != nil && w != not {
			return w, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no worker took the scheduler's lease within %s", timeout)
		}
		if !sleepCtx(ctx, 5*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
}

// inTransaction reports whether w is in the middle of a firing transaction on PostgreSQL: one
// of its sessions holds the lock that an insert into the effects table takes, until it commits
// or rolls back. (The lease's own session is idle.)
func (e *env) inTransaction(ctx context.Context, w *workerProc) (bool, error) {
	return sqlstore.Exists(ctx, e.db, "open transactions", `SELECT EXISTS (SELECT 1
		FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE a.application_name = $1 AND l.locktype = 'relation' AND l.granted
			AND l.mode = 'RowExclusiveLock' AND l.relation = $2::regclass)`, w.app, e.schema+".proof_effects")
}

func itemKey(i int) string { return fmt.Sprintf("proof/%05d", i) }

// schedule declares the items with scheduler.Schedule, ScheduleTx to a transaction, due evenly
// over the window from Lead after now. It fails when that takes longer than Lead.
func (e *env) schedule(ctx context.Context) error {
	began := time.Now()
	first := began.Add(e.cfg.Lead).UTC().Truncate(time.Microsecond)
	e.planned = make([]time.Time, e.cfg.Items)
	for i := range e.planned {
		e.planned[i] = first.Add(e.cfg.Window * time.Duration(i) / time.Duration(e.cfg.Items)).Truncate(time.Microsecond)
	}
	for lo := 0; lo < e.cfg.Items; lo += e.cfg.ScheduleTx {
		hi := min(lo+e.cfg.ScheduleTx, e.cfg.Items)
		err := e.db.Within(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
			for i := lo; i < hi; i++ {
				if err := scheduler.Schedule(ctx, tx, scheduler.Item{Key: itemKey(i), Kind: itemKind,
					Resource: fmt.Sprintf("proofItems/%05d", i), Due: e.planned[i]}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("schedule items %d–%d: %w", lo, hi-1, err)
		}
	}
	e.sum.Scheduled = e.cfg.Items
	e.sum.ScheduleTxs = (e.cfg.Items + e.cfg.ScheduleTx - 1) / e.cfg.ScheduleTx
	e.sum.ScheduleTook = time.Since(began).Round(time.Millisecond)
	if time.Now().After(first) {
		return fmt.Errorf("scheduling took %s, longer than the %s lead: the first items were due before they were all declared; raise -lead",
			e.sum.ScheduleTook, e.cfg.Lead)
	}
	e.log.Info("scheduled", "items", e.cfg.Items, "took", e.sum.ScheduleTook, "first_due", first, "window", e.cfg.Window)
	return nil
}

// fired counts the items that have fired, by the scheduler's table.
func (e *env) fired(ctx context.Context) (int, error) {
	n, err := sqlstore.Value[int](ctx, e.db, "unfired items",
		`SELECT COUNT(*) FROM scheduled_items WHERE fired_at IS NULL AND failed_at IS NULL`)
	return e.cfg.Items - n, err
}

// watch kills the active worker soon after (j+1)/(Kills+1) of the items have fired, for each j, and then
// waits until every item has fired (or the catch-up time has passed).
func (e *env) watch(ctx context.Context) error {
	deadline := e.planned[len(e.planned)-1].Add(e.cfg.CatchUp)
	for j := range e.cfg.Kills {
		threshold := (j + 1) * e.cfg.Items / (e.cfg.Kills + 1)
		for {
			n, err := e.fired(ctx)
			if err != nil {
				return err
			}
			if n >= threshold {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("only %d items fired by %s after the last due time; kill %d was due at %d", n, e.cfg.CatchUp, j+1, threshold)
			}
			if !sleepCtx(ctx, 5*time.Millisecond) {
				return ctx.Err()
			}
		}
		// A random moment within a poll interval: the standby's next attempt at the lease is then
		// anywhere from 0 to a poll interval away, as after a real crash, rather than in a phase
		// that the run's fixed timings would set. At most a quarter of the time between two kills,
		// so that a short run still kills with items left to fire.
		if !sleepCtx(ctx, rand.N(min(e.cfg.PollInterval, e.cfg.Window/time.Duration(4*(e.cfg.Kills+1)))+1)) {
			return ctx.Err()
		}
		if err := e.kill(ctx); err != nil {
			return err
		}
	}
	for {
		n, err := e.fired(ctx)
		if err != nil {
			return err
		}
		if n == e.cfg.Items {
			return nil
		}
		if time.Now().After(deadline) {
			e.sum.fail("%d items had not fired %s after the last due time", e.cfg.Items-n, e.cfg.CatchUp)
			return nil // verify reports which
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			return ctx.Err()
		}
	}
}

// kill sends SIGKILL to the active worker — on PostgreSQL the lease holder, as soon as it is seen
// with a firing transaction that has written effects (waiting up to 2 s for one) — leaves it down
// for Downtime and restarts it.
func (e *env) kill(ctx context.Context) error {
	k := killReport{TxOpen: "n/a"}
	victim := e.workers[0]
	if e.cfg.Engine == enginePostgres {
		var err error
		if victim, err = e.waitLeader(ctx, nil, 30*time.Second); err != nil {
			return err
		}
		k.TxOpen = "no"
		for until := time.Now().Add(2 * time.Second); time.Now().Before(until); {
			open, err := e.inTransaction(ctx, victim)
			if err != nil {
				return err
			}
			if open {
				k.TxOpen = "yes"
				break
			}
		}
	}
	if n, err := e.fired(ctx); err != nil {
		return err
	} else if n == e.cfg.Items {
		return fmt.Errorf("every item had fired before kill %d; lengthen -window", len(e.sum.Kills)+1)
	}
	k.Victim, k.Worker = victim.Name, fmt.Sprintf("%s/%d", victim.Name, victim.Pid())
	k.At = time.Now()
	victim.Kill()
	e.log.Info("kill -9 worker", "worker", k.Worker, "transaction_open", k.TxOpen)
	var err error
	if k.FiredBefore, err = e.fired(ctx); err != nil {
		return err
	}
	if e.cfg.Engine == enginePostgres {
		w, err := e.waitLeader(ctx, victim, 30*time.Second+e.cfg.PollInterval)
		if err != nil {
			return err
		}
		k.LeaseTo, k.LeaseAfter = w.Name, time.Since(k.At)
	}
	e.sum.Kills = append(e.sum.Kills, k)
	if !sleepCtx(ctx, time.Until(k.At.Add(e.cfg.Downtime))) {
		return ctx.Err()
	}
	return e.start(ctx, victim)
}

// teardown stops the workers, drops the schema (unless -keep) and closes the database.
func (e *env) teardown() {
	for _, w := range e.workers {
		w.Stop(15 * time.Second)
	}
	if e.db == nil {
		return
	}
	if e.schema != "" && !e.cfg.Keep {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		if _, err := e.db.ExecContext(ctx, `DROP SCHEMA IF EXISTS "`+e.schema+`" CASCADE`); err != nil {
			e.log.Error("drop schema", "schema", e.schema, "error", err)
		}
		cancel()
	}
	e.db.Close()
}

// sleepCtx sleeps for d; false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// readItems reads the scheduler's table and the handler's effects.
func (e *env) readItems(ctx context.Context) ([]itemRow, []effectRow, error) {
	items, err := sqlstore.All(ctx, e.db, "scheduled items", func(s sqlstore.Scanner) (itemRow, error) {
		var (
			r             itemRow
			due           time.Time
			fired, failed sql.NullTime
		)
		err := s.Scan(&r.Key, &due, &fired, &failed, &r.Attempts)
		r.Due, r.Fired, r.Failed = due.UTC(), sqlstore.TimeOf(fired).UTC(), failed.Valid
		return r, err
	}, `SELECT item_key, due_at, fired_at, failed_at, attempts FROM scheduled_items`)
	if err != nil {
		return nil, nil, err
	}
	effects, err := sqlstore.All(ctx, e.db, "effects", func(s sqlstore.Scanner) (effectRow, error) {
		var r effectRow
		err := s.Scan(&r.ID, &r.Key, &r.Worker, &r.DueUS, &r.FiredUS, &r.HandlerUS, &r.Attempt)
		return r, err
	}, `SELECT id, item_key, worker, due_us, fired_us, handler_us, attempt FROM proof_effects ORDER BY id`)
	if err != nil {
		return nil, nil, err
	}
	return items, effects, nil
}

func (e *env) verify(ctx context.Context) error {
	items, effects, err := e.readItems(ctx)
	if err != nil {
		return err
	}
	if len(e.sum.Kills) != e.cfg.Kills {
		e.sum.fail("performed %d kills, planned %d", len(e.sum.Kills), e.cfg.Kills)
	}
	planned := make(map[string]time.Time, len(e.planned))
	for i, due := range e.planned {
		planned[itemKey(i)] = due
	}
	check(e.sum, planned, items, effects, e.cfg.Engine == enginePostgres)
	if errors.Is(ctx.Err(), context.Canceled) {
		return ctx.Err()
	}
	return nil
}
