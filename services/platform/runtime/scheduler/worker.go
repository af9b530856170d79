package scheduler

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/quarterdeck/quarterdeck/services/platform/internal/retry"
	"github.com/quarterdeck/quarterdeck/services/platform/internal/settings"
	"github.com/quarterdeck/quarterdeck/services/platform/internal/wait"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// Handler fires one due item of its kind. It runs in tx, the transaction that also marks the
// item fired, so that what it writes there — typically the event saying that the date arrived,
// through tx.Emit or tx.Record — commits with the mark or not at all.
//
// It returns nil once the date has had its effect, and also when the date no longer means
// anything (the resource is gone, the deadline was met): either way the item has fired and is
// never tried again. An error rolls tx back and the item is tried again after a backoff, up to
// Settings.MaxAttempts attempts; Permanent(err) gives up at once. Like everything run in
// sqldb.DB.InTx, a handler may run again after a serialization conflict, so it must have no
// effects outside tx.
type Handler func(ctx context.Context, tx *sqlstore.Tx, item Fired) error

// Fired is a due item as its handler sees it.
type Fired struct {
	Key, Kind, Resource string
	Payload             []byte
	// Due is when the item was due and FiredAt when it fires, by the worker's clock, in UTC.
	// FiredAt is later than Due by the worker's lag, or by as long as every replica was down;
	// the event a handler writes should carry both.
	Due, FiredAt time.Time
	// Attempt is 1 on the first attempt at firing the item, 2 on the first retry, and so on.
	Attempt int
}

// Settings are a service's scheduler settings. Zero values take the defaults.
type Settings struct {
	PollInterval   time.Duration `env:"SCHEDULER_POLL_INTERVAL" default:"2s" help:"how often the scheduler looks for items that other replicas scheduled, and how often a standby replica tries to take over"`
	BatchSize      int           `env:"SCHEDULER_BATCH_SIZE" default:"128" help:"due items the scheduler fires in one transaction, claimed and marked with one statement each"`
	MaxAttempts    int           `env:"SCHEDULER_MAX_ATTEMPTS" default:"20" help:"attempts at firing an item whose handler fails before the scheduler gives up on it"`
	BackoffInitial time.Duration `env:"SCHEDULER_BACKOFF_INITIAL" default:"1s" help:"wait before retrying an item whose handler failed; doubles with every attempt"`
	BackoffMax     time.Duration `env:"SCHEDULER_BACKOFF_MAX" default:"15m" help:"longest wait between two attempts at firing a failing item"`
}

// Default settings, also the zero-value fallbacks. With them the worker gives up on a failing item
// about two and a half hours after its first attempt (waits of 1 s doubling to 512 s, then nine of
// 15 minutes).
const (
	DefaultPollInterval   = 2 * time.Second
	DefaultBatchSize      = 128
	DefaultMaxAttempts    = 20
	DefaultBackoffInitial = time.Second
	DefaultBackoffMax     = 15 * time.Minute
)

func (s Settings) withDefaults() Settings {
	settings.Default(&s.PollInterval, DefaultPollInterval)
	settings.Default(&s.BatchSize, DefaultBatchSize)
	settings.Default(&s.MaxAttempts, DefaultMaxAttempts)
	settings.Default(&s.BackoffInitial, DefaultBackoffInitial)
	settings.Default(&s.BackoffMax, DefaultBackoffMax)
	s.BackoffMax = max(s.BackoffMax, s.BackoffInitial)
	return s
}

// Backoff returns the wait before the attempt that follows failed attempt n (from 1):
// BackoffInitial doubled n-1 times, at most BackoffMax.
func (s Settings) Backoff(n int) time.Duration {
	s = s.withDefaults()
	return retry.Backoff(s.BackoffInitial, s.BackoffMax, n)
}

// Permanent wraps a handler's error so that the worker gives up on the item at once instead of
// trying again.
func Permanent(err error) error { return retry.Permanent(err) }

// Options configures a Worker.
type Options struct {
	// Name is the service's domain: it labels the logs and the metrics and names the lease.
	// Required.
	Name     string
	Settings Settings
	// Clock is the time the worker fires by [clock.Real()]. Tests pass a *clock.Fake.
	Clock  clock.Clock
	Logger *slog.Logger
	// MeterProvider receives the worker's metrics (metrics.go) [the global provider].
	MeterProvider metric.MeterProvider
	// TracerProvider records a span per fired item, the parent of what its handler writes
	// [the global provider].
	TracerProvider trace.TracerProvider
}

// Worker fires a service's due items. Replicas of a service elect one active worker through
// sqldb's lease, as the outbox relay does; the others stand by and take over when its
// connection ends. See the package documentation for what it guarantees.
type Worker struct {
	db       *sqlstore.DB
	handlers map[string]Handler
	name     string
	set      Settings
	clock    clock.Clock
	log      *slog.Logger
	tracer   trace.Tracer
	mp       metric.MeterProvider

	wake     chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
	done     chan struct{}
	leased   atomic.Bool // read by Leading and the lease_held gauge
	metrics  *workerMetrics
}

// The worker's pacing. minInterval spaces passes woken by commits, so that a burst of commits
// (each of which calls Notify, the worker's own included) costs one pass, not one per commit.
const (
	minInterval = 10 * time.Millisecond
	minBackoff  = 100 * time.Millisecond
	maxBackoff  = 10 * time.Second
	// maxErrorLength bounds the last error kept with an item.
	maxErrorLength = 2000
	leaseKind      = "quarterdeck-scheduler"
)

// NewWorker returns the worker that fires the items of db with handlers, by kind.
func NewWorker(db *sqlstore.DB, handlers map[string]Handler, opts Options) (*Worker, error) {
	if opts.Name == "" {
		return nil, errors.New("scheduler: the worker needs a name (the service's domain)")
	}
	for kind, h := range handlers {
		if kind == "" || h == nil {
			return nil, fmt.Errorf("scheduler %s: a handler needs a kind and a function (kind %q)", opts.Name, kind)
		}
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real()
	}
	settings.Logger(&opts.Logger)
	if opts.MeterProvider == nil {
		opts.MeterProvider = otel.GetMeterProvider()
	}
	if opts.TracerProvider == nil {
		opts.TracerProvider = otel.GetTracerProvider()
	}
	return &Worker{
		db:       db,
		handlers: maps.Clone(handlers),
		name:     opts.Name,
		set:      opts.Settings.withDefaults(),
		clock:    opts.Clock,
		log:      opts.Logger.With("component", "scheduler", "scheduler", opts.Name),
		tracer:   opts.TracerProvider.Tracer("github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"),
		mp:       opts.MeterProvider,
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}, nil
}

// Notify wakes the worker because a transaction committed, which may have scheduled an item due
// before the one it waits for. It never blocks.
func (w *Worker) Notify() { wait.Wake(w.wake) }

// Leading reports whether this replica's worker holds the lease and fires the items.
func (w *Worker) Leading() bool { return w.leased.Load() }

// Run fires due items until ctx is cancelled or Shutdown is called, and returns nil then. A
// cancelled ctx rolls back the transaction in flight; its items fire on the next pass, here or
// on another replica.
func (w *Worker) Run(ctx context.Context) error {
	defer close(w.done)
	m, err := newWorkerMetrics(w)
	if err != nil {
		w.log.Warn("scheduler runs without metrics", "error", err)
	}
	w.metrics = m
	defer m.close()
	for {
		l, ok := w.acquire(ctx)
		if !ok {
			return nil
		}
		w.leased.Store(true)
		w.lead(ctx, l)
		w.leased.Store(false)
		l.Release()
		if ctx.Err() != nil || w.stopping() {
			return nil
		}
	}
}

// Shutdown asks Run to return once the transaction in flight has committed, and waits until it
// has or ctx is done; the caller cancels Run's context afterwards in either case. Items that are
// due stay in the table for the next worker: unlike the outbox, the scheduler has nothing to
// hand over before a stop. Stop it before the outbox relay, so that the relay publishes the
// events of the last items it fired.
func (w *Worker) Shutdown(ctx context.Context) error {
	w.stopOnce.Do(func() { close(w.stop) })
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("scheduler %s: stop: %w", w.name, ctx.Err())
	}
}

func (w *Worker) stopping() bool { return wait.Closed(w.stop) }

// acquire blocks until this replica's worker holds the lease; false when it was stopped first.
func (w *Worker) acquire(ctx context.Context) (*sqldb.Lease, bool) {
	logged := false
	for {
		l, ok, err := w.db.TryLease(ctx, leaseKind, w.name)
		switch {
		case err != nil:
			w.log.Warn("scheduler lease", "error", err)
		case ok:
			if w.db.Engine() == sqldb.Postgres {
				w.log.Info("active scheduler")
			}
			return l, true
		case !logged:
			w.log.Info("another replica's scheduler is active; standing by")
			logged = true
		}
		if !wait.For(ctx, w.set.PollInterval, w.stop) || w.stopping() {
			return nil, false
		}
	}
}

// lead fires due items while this worker holds the lease l.
func (w *Worker) lead(ctx context.Context, l *sqldb.Lease) {
	backoff := minBackoff
	for {
		started := time.Now()
		next, err := w.pass(ctx)
		if ctx.Err() != nil || w.stopping() {
			return
		}
		if err != nil {
			w.log.Warn("scheduler pass failed; retrying", "error", err, "retry_in", backoff)
			if !wait.For(ctx, backoff, w.stop) {
				return
			}
			backoff = min(backoff*2, maxBackoff)
		} else {
			backoff = minBackoff
			if !w.idle(ctx, next) {
				return
			}
			// Woken soon after the last pass: let more commits gather for the next one.
			if !wait.For(ctx, minInterval-time.Since(started), w.stop) {
				return
			}
		}
		if w.stopping() {
			return
		}
		if err := l.Check(ctx); err != nil {
			w.log.Warn("scheduler lost its lease", "error", err)
			return
		}
	}
}

// idle waits until next (zero: no item is scheduled), a Notify, the poll interval (for items
// that other replicas scheduled) or a stop; false when the worker must return.
func (w *Worker) idle(ctx context.Context, next time.Time) bool {
	poll := time.NewTimer(w.set.PollInterval)
	defer poll.Stop()
	var due <-chan struct{}
	if !next.IsZero() {
		c, release := w.clock.At(next)
		defer release()
		due = c
	}
	select {
	case <-ctx.Done():
		return false
	case <-w.stop:
		return false
	case <-w.wake:
	case <-poll.C:
	case <-due:
	}
	return true
}

// candidate is an item that was due when the pass read it.
type candidate struct {
	key string
	due time.Time
}

// pass fires every item due by the worker's clock, in the order of next_at (the due time, or the
// retry time of an item that failed), BatchSize items per transaction, and returns when the next
// unfired item is due (zero when none is). It returns early, with no error, when the worker is
// stopping.
func (w *Worker) pass(ctx context.Context) (time.Time, error) {
	limit := max(256, w.set.BatchSize)
	for {
		due, err := w.due(ctx, limit)
		if err != nil {
			return time.Time{}, err
		}
		for rest := due; len(rest) > 0; {
			if ctx.Err() != nil || w.stopping() {
				return time.Time{}, nil
			}
			n := min(len(rest), w.set.BatchSize)
			if err := w.fire(ctx, rest[:n]); err != nil {
				return time.Time{}, err
			}
			rest = rest[n:]
		}
		if len(due) < limit {
			return w.next(ctx)
		}
	}
}

// due reads up to limit items to fire now, in order. The transactions that fire them read each
// again, locked, so an item fired, moved or cancelled since is skipped there.
func (w *Worker) due(ctx context.Context, limit int) ([]candidate, error) {
	const q = `SELECT item_key, due_at FROM scheduled_items
		WHERE fired_at IS NULL AND failed_at IS NULL AND next_at <= $1
		ORDER BY next_at, item_key LIMIT $2`
	return sqlstore.All(ctx, w.db, "due items", func(s sqlstore.Scanner) (candidate, error) {
		var c candidate
		err := s.Scan(&c.key, &c.due)
		c.due = c.due.UTC() // bound again later: SQLite compares the text
		return c, err
	}, q, storedTime(w.clock.Now()), limit)
}

// next returns when the next unfired item is due, or zero when none is.
func (w *Worker) next(ctx context.Context) (time.Time, error) {
	const q = `SELECT next_at FROM scheduled_items WHERE fired_at IS NULL AND failed_at IS NULL
		ORDER BY next_at LIMIT 1`
	var t time.Time
	if err := w.db.QueryRowContext(ctx, q).Scan(&t); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return time.Time{}, nil
		}
		return time.Time{}, fmt.Errorf("next due item: %w", err)
	}
	return t, nil
}

// fire fires batch in one transaction. When that fails — one handler's error rolls back the
// whole transaction — it fires the items one per transaction instead, so that only the failing
// item waits for a retry while the others fire now, still in order.
func (w *Worker) fire(ctx context.Context, batch []candidate) error {
	err := w.fireTx(ctx, batch)
	if err == nil || ctx.Err() != nil {
		return err
	}
	if len(batch) > 1 {
		for i := range batch {
			if err := w.fire(ctx, batch[i:i+1]); err != nil {
				return err
			}
		}
		return nil
	}
	return w.failed(ctx, batch[0], err)
}

// fireTx fires the items of batch that are still due in one transaction: it claims them with one
// statement, calls their handlers in next_at order and marks them fired with one statement. A
// handler that changes scheduled items (Schedule, Cancel, …) finds the items fired before it
// marked, and the worker claims the items it has yet to fire again after it, so that each item
// fires and is marked as if it had been read just before its handler and marked just after.
func (w *Worker) fireTx(ctx context.Context, batch []candidate) error {
	var lags []time.Duration
	err := w.db.Within(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
		lags = lags[:0] // the transaction may run again after a conflict
		now := storedTime(w.clock.Now())
		items, err := w.claim(ctx, tx, batch, now)
		if err != nil {
			return err
		}
		// Every attempt starts with a fresh state: the handlers' cache (TxCache), the items
		// fired and not yet marked.
		txs := &txState{cache: map[any]any{}}
		txs.mark = func(ctx context.Context) error {
			err := w.mark(ctx, tx, txs.unmarked, now)
			txs.unmarked = txs.unmarked[:0]
			return err
		}
		ctx = context.WithValue(ctx, txStateKey{}, txs)
		for len(items) > 0 {
			st := items[0]
			items = items[1:]
			if st.Kind != txs.kind {
				if err := txs.flush(ctx); err != nil {
					return err
				}
				txs.kind = st.Kind
			}
			if err := w.fireOne(ctx, tx, st, now); err != nil {
				return err
			}
			txs.unmarked = append(txs.unmarked, st)
			lags = append(lags, now.Sub(st.Due))
			if txs.changed && len(items) > 0 {
				rest := make([]candidate, len(items))
				for n, it := range items {
					rest[n] = candidate{key: it.Key, due: it.Due}
				}
				if items, err = w.claim(ctx, tx, rest, now); err != nil {
					return err
				}
			}
			txs.changed = false
		}
		if err := txs.flush(ctx); err != nil {
			return err
		}
		return txs.mark(ctx)
	})
	if err == nil {
		w.metrics.fired(ctx, lags)
	}
	return err
}

// claim reads the items of batch again, locked, in one statement, and returns those still due at
// now in next_at order. It leaves out an item cancelled since the pass read it, fired by a worker
// that still thought it held the lease, given up, or moved to a later date.
//
// The statement selects by key alone, and the state is checked here: with the state's conditions
// in it, PostgreSQL may walk the partial index of unfired items in next_at order instead of
// looking the keys up — every item due, and the index entries of those fired since, for each
// batch — and with a burst of items written since its last ANALYZE it does.
func (w *Worker) claim(ctx context.Context, tx *sqlstore.Tx, batch []candidate, now time.Time) ([]State, error) {
	args := make([]any, 0, len(batch))
	for _, c := range batch {
		args = append(args, c.key)
	}
	q := selectState + ` WHERE item_key IN (` + sqlstore.Placeholders(1, len(batch)) + `)`
	locked, err := sqlstore.All(ctx, tx, "due items", scanState, tx.Dialect.ForUpdate(q), args...)
	if err != nil {
		return nil, fmt.Errorf("claim %d due items: %w", len(batch), err)
	}
	items := slices.DeleteFunc(locked, func(st State) bool {
		return !st.Fired.IsZero() || !st.Failed.IsZero() || st.Next.After(now)
	})
	slices.SortFunc(items, func(a, b State) int {
		if c := a.Next.Compare(b.Next); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return items, nil
}

// fireOne calls the handler of st, an item claimed in tx, with it fired at now.
func (w *Worker) fireOne(ctx context.Context, tx *sqlstore.Tx, st State, now time.Time) error {
	h, ok := w.handlers[st.Kind]
	if !ok {
		// Retried rather than given up: during a rolling deployment the new version may schedule
		// a kind that only its own replicas can fire.
		return fmt.Errorf("fire %s: no handler for kind %q", st.Key, st.Kind)
	}
	f := Fired{Key: st.Key, Kind: st.Kind, Resource: st.Resource, Payload: st.Payload,
		Due: st.Due, FiredAt: now, Attempt: st.Attempts + 1}
	if err := w.call(ctx, tx, h, f); err != nil {
		return fmt.Errorf("fire %s (%s): %w", st.Key, st.Kind, err)
	}
	return nil
}

// mark marks the items fired in tx, with one statement. The due time guards each item's mark: a
// handler that scheduled its own item again for another time (a recurring evaluation) leaves it
// armed for that time.
//
// The statement finds the rows by key alone, as claim does, and checks each one's due time with a
// CASE on its key. It has no condition on fired_at: the rows have been locked since claim found
// them unfired, and nothing in the transaction marks them but this. With that condition, or with
// the items as a chain of "key AND due" terms, PostgreSQL may instead walk a partial index of the
// unfired items and test each against every term: with 10,000 items due at once, 14 ms a
// statement, more than half of the time it took to fire them.
func (w *Worker) mark(ctx context.Context, tx *sqlstore.Tx, items []State, now time.Time) error {
	if len(items) == 0 {
		return nil
	}
	var b strings.Builder
	args := make([]any, 0, 2+2*len(items))
	args = append(args, now, storedTime(time.Now()))
	for _, st := range items {
		args = append(args, st.Key, st.Due)
	}
	b.WriteString(`UPDATE scheduled_items SET fired_at = $1, attempts = attempts + 1, last_error = '',
		updated_at = $2 WHERE item_key IN (`)
	for n := range items {
		if n > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", 3+2*n)
	}
	b.WriteString(") AND CASE item_key")
	for n := range items {
		fmt.Fprintf(&b, " WHEN $%d THEN due_at = $%d", 3+2*n, 4+2*n)
	}
	b.WriteString(" END")
	if _, err := tx.ExecContext(ctx, b.String(), args...); err != nil {
		return fmt.Errorf("mark %d items fired: %w", len(items), err)
	}
	return nil
}

// txState is what the handlers of one attempt at a worker's transaction share, in their context.
type txState struct {
	cache map[any]any
	// unmarked are the items fired in the transaction and not yet marked; mark marks them.
	unmarked []State
	mark     func(ctx context.Context) error
	// changed is set when a handler changed scheduled items (beforeChange).
	changed bool
	// kind is the kind of the item whose handler ran last; deferred are the writes its handlers
	// deferred (Defer), by key, in the order they were first deferred.
	kind     string
	deferred []deferred
}

type deferred struct {
	key   any
	write func(ctx context.Context) error
}

// flush runs the deferred writes, in order, and forgets them.
func (s *txState) flush(ctx context.Context) error {
	for len(s.deferred) > 0 {
		d := s.deferred[0]
		s.deferred = s.deferred[1:]
		if err := d.write(ctx); err != nil {
			return err
		}
	}
	return nil
}

type txStateKey struct{}

// beforeChange runs before a change of scheduled items. In a handler of the worker, it marks the
// items that fired before the handler in its transaction, as the worker would have marked them
// had it fired them one at a time, and notes the change: the worker claims the items it has yet
// to fire in the transaction again, once the handler returns.
func beforeChange(ctx context.Context) error {
	s, ok := ctx.Value(txStateKey{}).(*txState)
	if !ok {
		return nil
	}
	s.changed = true
	return s.mark(ctx)
}

// TxCache returns the values that the handlers of the items fired in one transaction share, by
// keys of their choosing (an unexported type of the handler's package, as for context values).
// A handler firing several items about one resource may keep there what it read of the resource,
// locked, in the first item's call, and find it in the next ones rather than read it again. What
// it keeps must be the state the transaction holds: once it writes the resource, the value it
// wrote. The worker starts every attempt at a transaction — again after a conflict, or one item
// to a transaction after a failure — with an empty cache, so nothing kept there outlives the
// transaction's writes. Outside the worker's transactions the cache is empty and keeps nothing.
func TxCache(ctx context.Context) map[any]any {
	if s, ok := ctx.Value(txStateKey{}).(*txState); ok {
		return s.cache
	}
	return map[any]any{}
}

// Defer lets the handlers of several items about one resource write it once: write, a write in
// the handler's transaction, runs before the handler of an item of another kind is called in
// that transaction, and before its items are marked fired, rather than now. Deferring again under
// a key already waiting keeps the first write: it must write what the resource holds when it
// runs (say, the state kept in TxCache), not what it held when deferred. Handlers of one kind
// can thus move a resource's version on in TxCache, item after item, and store it once; a
// handler of another kind, which would read the resource from the database, finds it written. A
// write that fails fails the transaction, as the handler's own error would. Outside the
// worker's transactions write runs at once.
func Defer(ctx context.Context, key any, write func(ctx context.Context) error) error {
	s, ok := ctx.Value(txStateKey{}).(*txState)
	if !ok {
		return write(ctx)
	}
	for _, d := range s.deferred {
		if d.key == key {
			return nil
		}
	}
	s.deferred = append(s.deferred, deferred{key: key, write: write})
	return nil
}

// call runs h in a span of its own, turning a panic into the item's error.
func (w *Worker) call(ctx context.Context, tx *sqlstore.Tx, h Handler, f Fired) (err error) {
	ctx, span := w.tracer.Start(ctx, "scheduler fire "+f.Kind, trace.WithAttributes(
		attribute.String("quarterdeck.scheduler.key", f.Key),
		attribute.String("quarterdeck.scheduler.kind", f.Kind),
		attribute.String("quarterdeck.resource.name", f.Resource),
		attribute.Int("quarterdeck.scheduler.attempt", f.Attempt),
	))
	defer span.End()
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("scheduler handler panicked", "key", f.Key, "kind", f.Kind, "panic", r,
				"stack", string(debug.Stack()))
			err = fmt.Errorf("handler panicked: %v", r)
		}
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, "handler failed")
		}
	}()
	return h(ctx, tx, f)
}

// failed records a failed attempt at firing c in a transaction of its own: the attempt count,
// the error and when to try again, or that the worker gives up on the item.
func (w *Worker) failed(ctx context.Context, c candidate, cause error) error {
	now := storedTime(w.clock.Now())
	var (
		st       State
		recorded bool
		gaveUp   bool
		retryIn  time.Duration
	)
	err := w.db.InTx(ctx, func(tx *sql.Tx) error {
		recorded = false
		var err error
		// Only the schedule that failed: an item fired, cancelled or moved meanwhile keeps its
		// state.
		st, err = sqlstore.Get(ctx, tx, "scheduled item "+c.key, ErrNotFound, scanState,
			w.db.Dialect.ForUpdate(selectState+` WHERE item_key = $1 AND due_at = $2
				AND fired_at IS NULL AND failed_at IS NULL`), c.key, c.due)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		st.Attempts++
		gaveUp = st.Attempts >= w.set.MaxAttempts || retry.IsPermanent(cause)
		failedAt := sql.NullTime{}
		if gaveUp {
			failedAt = sql.NullTime{Time: now, Valid: true}
		} else {
			retryIn = w.set.Backoff(st.Attempts)
			st.Next = now.Add(retryIn)
		}
		const record = `UPDATE scheduled_items SET attempts = $2, last_error = $3, next_at = $4,
			failed_at = $5, updated_at = $6 WHERE item_key = $1`
		if _, err := tx.ExecContext(ctx, record, c.key, st.Attempts, errorText(cause), st.Next, failedAt,
			storedTime(time.Now())); err != nil {
			return err
		}
		recorded = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("record the failure of scheduled item %s (%v): %w", c.key, cause, err)
	}
	if !recorded {
		return nil
	}
	w.metrics.handlerError(ctx)
	if gaveUp {
		w.log.Error("scheduled item failed; giving up on it", "key", c.key, "kind", st.Kind,
			"resource", st.Resource, "due", st.Due, "attempts", st.Attempts, "error", cause)
		return nil
	}
	w.log.Warn("scheduled item failed; retrying", "key", c.key, "kind", st.Kind,
		"resource", st.Resource, "due", st.Due, "attempts", st.Attempts, "retry_in", retryIn, "error", cause)
	return nil
}

// errorText is err's text as an item keeps it: valid UTF-8 (PostgreSQL refuses anything else),
// at most maxErrorLength bytes.
func errorText(err error) string {
	s := strings.ToValidUTF8(err.Error(), "?")
	if len(s) <= maxErrorLength {
		return s
	}
	s = s[:maxErrorLength]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
