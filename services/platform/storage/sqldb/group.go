package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Group commit (SQLite).
//
// SQLite has one writer at a time, and in WAL mode with synchronous(FULL) every commit appends
// the pages it changed to the log and syncs it. Commits of concurrent requests each wrote the
// same tail pages of their tables and indexes again and synced once more; a request waiting
// for the lock slept in SQLite's busy handler meanwhile, however soon the lock came free.
//
// A grouper runs the transactions of one database that arrive while one is running as one
// SQLite transaction: each in a savepoint of its own, so that one that fails leaves the others'
// writes in place, and all committed by one COMMIT, which is when each of them returns. A
// transaction's function still runs in its caller's goroutine, one at a time, and sees what
// the earlier members of its group wrote, as it would have after their commits. Nothing is
// acknowledged before the COMMIT that makes it durable.

// maxGroup bounds the transactions of one group, and so how long the last of them waits for
// the others to run.
const maxGroup = 64

// errGroupFailed marks a transaction whose group failed before its COMMIT (a statement of the
// group's own failed: an error that rolled back SQLite's whole transaction, say) while its own
// function had succeeded or had not run: none of the group committed, and running it again is
// safe. IsRetryable reports it.
var errGroupFailed = errors.New("the transaction's group commit failed")

// grouper runs the transactions of one SQLite database as groups.
type grouper struct {
	db        *sql.DB
	waitLimit time.Duration // how long a transaction waits for its group (defaultWaitLimit)
	groups    atomic.Int64  // groups begun

	mu      sync.Mutex
	queue   []*member
	running bool // a goroutine runs groups until the queue is empty
}

// member is one transaction waiting for, or taking, its turn in a group.
type member struct {
	ctx  context.Context
	left *leftWork
	turn chan *sql.Tx // the group's transaction, when the member's turn comes
	ran  chan error   // what the member's function returned
	done chan error   // the outcome: nil once its group committed
}

// defaultWaitLimit bounds how long a transaction waits for its group, as busy_timeout bounds a
// wait for the write lock.
const defaultWaitLimit = 10 * time.Second

// errGroupWait is the error of a transaction that waited for its group for its wait limit: the
// database stayed busy, and IsRetryable reports it as it reports SQLITE_BUSY.
var errGroupWait = errors.New("the database stayed busy")

// groupCtx marks the context of a group's BEGIN: the connection then shields the statements of
// the transaction from their callers' cancellation (cachingConn.BeginTx).
type groupCtx struct{}

// inTx runs fn as a member of a group transaction and returns the work it left once the group
// committed.
func (g *grouper) inTx(ctx context.Context, fn func(*sql.Tx) error) (*leftWork, error) {
	m := &member{ctx: ctx, left: &leftWork{}, turn: make(chan *sql.Tx, 1), ran: make(chan error, 1),
		done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, m)
	start := !g.running
	g.running = true
	g.mu.Unlock()
	if start {
		go g.run()
	}
	tx, err := g.wait(ctx, m)
	if err != nil {
		return nil, err
	}
	finished := false
	defer func() {
		// fn panicked (or ended its goroutine): the group rolls back to its savepoint and goes
		// on without it before the panic goes on up this goroutine's stack.
		if !finished {
			m.ran <- errors.New("the transaction's function did not return")
			<-m.done
		}
	}()
	err = fn(tx)
	finished = true
	m.ran <- err
	if err = <-m.done; err != nil {
		return nil, err
	}
	return m.left, nil
}

// wait returns the group's transaction once it is m's turn. A member that leaves the queue
// before a group takes it (its caller gave up, or it waited too long) does not run; once a
// group has taken it, it waits for its turn, since the group waits for it.
func (g *grouper) wait(ctx context.Context, m *member) (*sql.Tx, error) {
	limit := time.NewTimer(g.waitLimit)
	defer limit.Stop()
	select {
	case tx := <-m.turn:
		return tx, nil
	case err := <-m.done: // the group failed before the member's turn
		return nil, err
	case <-ctx.Done():
		if g.leave(m) {
			return nil, ctx.Err()
		}
	case <-limit.C:
		// As a writer waits in SQLite's busy handler for busy_timeout at most: a transaction
		// that waits for another one of its own group would otherwise wait for ever.
		if g.leave(m) {
			return nil, fmt.Errorf("%w: no turn to write within %v", errGroupWait, g.waitLimit)
		}
	}
	select {
	case tx := <-m.turn:
		return tx, nil
	case err := <-m.done:
		return nil, err
	}
}

// leave takes m out of the queue, unless a group has taken it already.
func (g *grouper) leave(m *member) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	i := slices.Index(g.queue, m)
	if i < 0 {
		return false
	}
	g.queue = slices.Delete(g.queue, i, i+1)
	return true
}

// run commits groups of the queue's transactions until the queue is empty.
func (g *grouper) run() {
	for {
		g.mu.Lock()
		n := min(len(g.queue), maxGroup)
		if n == 0 {
			g.running = false
			g.queue = nil
			g.mu.Unlock()
			return
		}
		group := make([]*member, n)
		copy(group, g.queue)
		g.queue = g.queue[n:]
		g.mu.Unlock()
		g.commit(group)
	}
}

// Statements of the group's own. A savepoint's name is reused: each is released before the next.
const (
	savepoint  = `SAVEPOINT member`
	release    = `RELEASE member`
	rollbackTo = `ROLLBACK TO member`
)

// commit runs one group: every member's function in a savepoint of its own, then one COMMIT.
func (g *grouper) commit(group []*member) {
	g.groups.Add(1)
	ctx := context.WithValue(context.Background(), groupCtx{}, true)
	tx, err := g.db.BeginTx(ctx, nil)
	if err != nil {
		for _, m := range group {
			m.done <- fmt.Errorf("begin: %w", err)
		}
		return
	}
	// fail ends the group after one of its own statements failed: it rolls back, and the
	// members that had succeeded or not yet run learn that they may run again.
	var ok []*member
	fail := func(cause error, notRun []*member) {
		openTxs.Delete(tx)
		_ = tx.Rollback()
		for _, m := range append(ok, notRun...) {
			m.done <- fmt.Errorf("%w: %w", errGroupFailed, cause)
		}
	}
	for i, m := range group {
		if err := m.ctx.Err(); err != nil {
			m.done <- err
			continue
		}
		if _, err := tx.ExecContext(ctx, savepoint); err != nil {
			fail(err, group[i:])
			return
		}
		openTxs.Store(tx, m.left)
		m.turn <- tx
		if ferr := <-m.ran; ferr != nil {
			if _, err := tx.ExecContext(ctx, rollbackTo); err != nil {
				m.done <- ferr
				fail(err, group[i+1:])
				return
			}
			if _, err := tx.ExecContext(ctx, release); err != nil {
				m.done <- ferr
				fail(err, group[i+1:])
				return
			}
			m.done <- ferr
			continue
		}
		if _, err := tx.ExecContext(ctx, release); err != nil {
			fail(err, group[i:])
			return
		}
		ok = append(ok, m)
	}
	openTxs.Delete(tx)
	if len(ok) == 0 {
		_ = tx.Rollback()
		return
	}
	if err := tx.Commit(); err != nil {
		// Not errGroupFailed: a transaction whose COMMIT failed is not run again, in a group or
		// not (only one that was busy, which IsRetryable tells).
		err = fmt.Errorf("commit: %w", err)
		for _, m := range ok {
			m.done <- err
		}
		return
	}
	for _, m := range ok {
		m.done <- nil
	}
}
