package consumer_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// gate holds the handler of one event until it is opened, so that the events published behind it
// wait in the consumer and are applied together.
type gate struct {
	id   string
	open chan struct{}
	once sync.Once
}

func newGate(t *testing.T, id string) *gate {
	g := &gate{id: id, open: make(chan struct{})}
	t.Cleanup(g.release)
	return g
}

func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

func (g *gate) wait(ctx context.Context, ev consumer.Event) error {
	if ev.ID != g.id {
		return nil
	}
	select {
	case <-g.open:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitDelivered waits until the consumer holds n events unacknowledged: every one of them has
// reached it.
func (e *env) waitDelivered(t *testing.T, n int) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() bool {
		i := e.consumerInfo(t)
		return i != nil && i.NumAckPending == n && i.NumPending == 0
	})
}

// waitReached waits until the consumer has been delivered the stream's first n events, whether it
// still holds them or has acknowledged some since: a partitioned consumer on PostgreSQL applies
// the events of the partitions that nothing holds back.
func (e *env) waitReached(t *testing.T, n uint64) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() bool {
		i := e.consumerInfo(t)
		return i != nil && i.Delivered.Stream >= n && i.NumPending == 0
	})
}

func (e *env) waitAllAcked(t *testing.T, n uint64) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() bool {
		i := e.consumerInfo(t)
		return i != nil && i.AckFloor.Stream == n && i.NumAckPending == 0
	})
}

// Events that wait behind a slow one are applied several to a transaction, still in stream order
// and each once: versions 2 to 12 of one resource, which a reordering would make stale.
func TestWaitingEventsShareATransaction(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, e *env) {
		first := newID(t)
		g := newGate(t, first)
		var (
			mu  sync.Mutex
			txs = map[*sql.Tx]int{} // transaction -> events applied in it
		)
		e.start(t, e.js, fast, func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
			if err := g.wait(ctx, ev); err != nil {
				return err
			}
			mu.Lock()
			txs[tx]++
			mu.Unlock()
			return recordEffect(ctx, tx, ev)
		})
		e.publish(t, e.event(first, "costCenters/a", 1))
		e.waitDelivered(t, 1)
		const n = 12
		for v := int64(2); v <= n; v++ {
			e.publish(t, e.event(newID(t), "costCenters/a", v))
		}
		e.waitDelivered(t, n)
		g.release()
		e.waitAllAcked(t, n)

		got := testkit.Column[int64](t, e.db, `SELECT version FROM effects ORDER BY seq`)
		if fmt.Sprint(got) != "[1 2 3 4 5 6 7 8 9 10 11 12]" {
			t.Fatalf("applied versions = %v, want 1 to 12 in order, each once", got)
		}
		var stale int
		if err := e.db.QueryRowContext(context.Background(),
			`SELECT COUNT(*) FROM consumer_inbox WHERE outcome <> 'APPLIED'`).Scan(&stale); err != nil {
			t.Fatal(err)
		}
		if stale != 0 {
			t.Fatalf("%d inbox rows not APPLIED, want none", stale)
		}
		mu.Lock()
		defer mu.Unlock()
		// The first event alone, the eleven behind it in fewer transactions than events.
		if len(txs) >= n {
			t.Fatalf("%d events applied in %d transactions, want several in one", n, len(txs))
		}
	})
}

// An event that fails among waiting events is retried and dead-lettered alone; the events around
// it are applied once each, and nothing of the failing handler's work remains.
func TestFailureInABatchLeavesTheOthersApplied(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, e *env) {
		first, bad := newID(t), newID(t)
		g := newGate(t, first)
		var (
			mu   sync.Mutex
			runs = map[string]int{}
		)
		rt, _ := e.start(t, e.js, fast, func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
			if err := g.wait(ctx, ev); err != nil {
				return err
			}
			mu.Lock()
			runs[ev.ID]++
			mu.Unlock()
			// Writes its effect before failing: the rollback must undo it, and the effects of
			// the events before it in the same transaction must be applied again.
			return recordEffectOrFail(ctx, tx, ev, bad)
		})
		e.publish(t, e.event(first, "costCenters/first", 1))
		e.waitDelivered(t, 1)
		want := []string{first}
		for i := range 6 {
			id := newID(t)
			if i == 3 {
				id = bad
			} else {
				want = append(want, id)
			}
			e.publish(t, e.event(id, fmt.Sprintf("costCenters/%d", i), 1))
		}
		e.waitDelivered(t, 7)
		g.release()
		// The failing event takes fast.MaxDeliver attempts, then becomes a dead letter.
		waitDeadLetter(t, rt, bad)
		e.waitAllAcked(t, 7)

		got := testkit.Column[string](t, e.db, `SELECT event_id FROM effects ORDER BY seq`)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("effects = %v, want %v (in stream order, each once, none of the failing event)", got, want)
		}
		var inbox int
		if err := e.db.QueryRowContext(context.Background(),
			`SELECT COUNT(*) FROM consumer_inbox WHERE event_id = $1`, bad).Scan(&inbox); err != nil {
			t.Fatal(err)
		}
		if inbox != 0 {
			t.Fatalf("the failing event has %d inbox rows, want none", inbox)
		}
		mu.Lock()
		defer mu.Unlock()
		if runs[bad] < fast.MaxDeliver {
			t.Fatalf("the failing event's handler ran %d times, want at least one per attempt (%d)", runs[bad], fast.MaxDeliver)
		}
	})
}
