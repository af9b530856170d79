// Package leader runs the platform's leased batch loops (the outbox relay, the audit sealer): on
// PostgreSQL one replica leads through a sqldb.Lease and the others stand by, taking over when
// its connection ends. The leader runs passes over its backlog until one leaves it empty, then
// waits for a commit's wake-up or its poll interval; a failed pass is retried with a doubling
// backoff. A shutdown's drain runs passes until one finds nothing, then stops.
package leader

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/internal/wait"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// Config describes a loop. Durations and sizes are the caller's, defaults applied.
type Config struct {
	// What names the loop in its logs, e.g. "outbox relay".
	What string
	// Kind and Name are the lease's (sqldb.DB.TryLease).
	Kind, Name string
	// Pass runs one pass and returns how many items it handled; a full pass (BatchSize or more)
	// is followed by the next at once.
	Pass      func(ctx context.Context) (int, error)
	BatchSize int
	// Idle runs after a pass that was not full, before the loop waits (nil: nothing).
	Idle func(ctx context.Context)
	// Failed is the warning logged when a pass fails, e.g. "publish failed; retrying".
	Failed string
	// PollInterval is the longest wait between passes; a standby tries the lease every
	// StandbyPolls poll intervals.
	PollInterval time.Duration
	StandbyPolls int
	// MinInterval is the least time between the starts of two passes while work keeps arriving.
	MinInterval time.Duration
	// FirstBackoff is the first wait after a failed pass, doubled up to MaxBackoff.
	FirstBackoff, MaxBackoff time.Duration
	Logger                   *slog.Logger
}

// Loop is one leased batch loop.
type Loop struct {
	db     *sqldb.DB
	cfg    Config
	wake   chan struct{}
	drain  chan struct{}
	once   sync.Once
	done   chan struct{}
	leased atomic.Bool
}

// New returns the loop cfg describes on db.
func New(db *sqldb.DB, cfg Config) *Loop {
	return &Loop{db: db, cfg: cfg, wake: make(chan struct{}, 1), drain: make(chan struct{}),
		done: make(chan struct{})}
}

// Notify wakes the loop because new work was committed. It never blocks.
func (l *Loop) Notify() { wait.Wake(l.wake) }

// Leased reports whether the loop holds the lease now.
func (l *Loop) Leased() bool { return l.leased.Load() }

// Run runs passes while it leads, until ctx is cancelled or Shutdown has drained the backlog.
// It returns nil on a normal stop.
func (l *Loop) Run(ctx context.Context) error {
	defer close(l.done)
	for {
		lease, ok := l.acquire(ctx)
		if !ok {
			return nil // stopped while waiting to lead
		}
		l.leased.Store(true)
		l.lead(ctx, lease)
		l.leased.Store(false)
		lease.Release()
		if ctx.Err() != nil || l.draining() {
			return nil
		}
	}
}

// Shutdown asks Run to drain the backlog and return. It waits until Run has returned or ctx is
// done, then returns ctx's error; the caller cancels Run's context afterwards in either case.
func (l *Loop) Shutdown(ctx context.Context) error {
	l.once.Do(func() { close(l.drain) })
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Loop) draining() bool { return wait.Closed(l.drain) }

// lead runs passes while the loop holds the lease.
func (l *Loop) lead(ctx context.Context, lease *sqldb.Lease) {
	backoff := l.cfg.FirstBackoff
	poll := time.NewTimer(l.cfg.PollInterval)
	defer poll.Stop()
	for {
		started := time.Now()
		n, err := l.cfg.Pass(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// Also while draining: the drain keeps trying until its deadline cancels ctx.
			l.cfg.Logger.Warn(l.cfg.Failed, "error", err, "retry_in", backoff)
			if !l.sleep(ctx, backoff) {
				return
			}
			backoff = min(backoff*2, l.cfg.MaxBackoff)
			continue
		}
		backoff = l.cfg.FirstBackoff
		if n >= l.cfg.BatchSize {
			continue // more may be waiting
		}
		if l.draining() {
			// Work committed while this pass ran is not in it: the drain ends on an empty pass.
			if n == 0 {
				return
			}
			continue
		}
		if l.cfg.Idle != nil {
			l.cfg.Idle(ctx)
		}
		if !poll.Stop() {
			select {
			case <-poll.C:
			default:
			}
		}
		poll.Reset(l.cfg.PollInterval)
		select {
		case <-ctx.Done():
			return
		case <-l.drain:
		case <-l.wake:
		case <-poll.C:
		}
		if !l.draining() {
			// Woken soon after the last pass: let more commits gather for the next one.
			if !wait.For(ctx, l.cfg.MinInterval-time.Since(started), l.drain) {
				return
			}
		}
		if err := lease.Check(ctx); err != nil {
			l.cfg.Logger.Warn(l.cfg.What+" lost its lease", "error", err)
			return
		}
	}
}

// sleep waits for d, returning false when ctx ends first. A wake-up or a drain request cuts the
// wait short so that recovery and shutdown are prompt; once draining, only ctx and the timer do,
// so that retries keep their backoff.
func (l *Loop) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	drain := l.drain
	if l.draining() {
		drain = nil
	}
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-l.wake:
	case <-drain:
	}
	return true
}

// acquire blocks until this loop may lead, holding the lease (sqldb.Lease, always free on
// SQLite), and returns false when the loop stops first.
func (l *Loop) acquire(ctx context.Context) (*sqldb.Lease, bool) {
	logged := false
	for {
		lease, ok, err := l.db.TryLease(ctx, l.cfg.Kind, l.cfg.Name)
		switch {
		case err != nil:
			l.cfg.Logger.Warn(l.cfg.What+" lease", "error", err)
		case ok:
			if l.db.Engine() == sqldb.Postgres {
				l.cfg.Logger.Info("active " + l.cfg.What)
			}
			return lease, true
		case !logged:
			l.cfg.Logger.Info("another replica's " + l.cfg.What + " is active; standing by")
			logged = true
		}
		if !l.sleep(ctx, l.cfg.PollInterval*time.Duration(l.cfg.StandbyPolls)) || l.draining() {
			return nil, false
		}
	}
}
