package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestHandlersChangeItemsOfTheirTransaction fires six items in one transaction whose handlers
// change items of the same transaction, before and after their own: an item cancelled or moved
// by an earlier handler does not fire, and an item fired earlier in the transaction stays fired
// when a later handler declares its date again or cancels it, as when each item is read just
// before its handler and marked just after.
func TestHandlersChangeItemsOfTheirTransaction(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := openStore(t, d)
		c := clock.NewFake(t0)
		due, later := t0.Add(-time.Minute), t0.Add(time.Hour)
		// Due together, they fire in key order.
		schedule(t, db, item("a", due), item("b", due), item("c", due), item("d", due), item("e", due), item("f", due))
		h := &handlers{worker: "w"}
		var (
			mu    sync.Mutex
			order []string
		)
		change := map[string]func(ctx context.Context, tx *sqlstore.Tx) error{
			"a": func(ctx context.Context, tx *sqlstore.Tx) error {
				if err := scheduler.Cancel(ctx, tx, "b"); err != nil {
					return err
				}
				return scheduler.Schedule(ctx, tx, item("c", later))
			},
			"d": func(ctx context.Context, tx *sqlstore.Tx) error { return scheduler.Schedule(ctx, tx, item("a", due)) },
			"e": func(ctx context.Context, tx *sqlstore.Tx) error { return scheduler.Cancel(ctx, tx, "a") },
		}
		hs := map[string]scheduler.Handler{"review": func(ctx context.Context, tx *sqlstore.Tx, f scheduler.Fired) error {
			if err := h.fire(ctx, tx, f); err != nil {
				return err
			}
			mu.Lock()
			order = append(order, f.Key)
			mu.Unlock()
			if fn := change[f.Key]; fn != nil {
				return fn(ctx, tx)
			}
			return nil
		}}
		start(t, db, hs, options(c))

		waitAsleepUntil(t, c, later)
		mu.Lock()
		got := slices.Clone(order)
		mu.Unlock()
		if want := []string{"a", "d", "e", "f"}; !slices.Equal(got, want) {
			t.Errorf("fired %v, want %v", got, want)
		}
		for _, key := range []string{"a", "d", "e", "f"} {
			if st := get(t, db, key); !st.Fired.Equal(t0) || st.Attempts != 1 {
				t.Errorf("%s: %+v; want fired at t0 after one attempt", key, st)
			}
		}
		if _, err := scheduler.Get(context.Background(), db, "b"); !errors.Is(err, scheduler.ErrNotFound) {
			t.Errorf("b: %v; want it cancelled", err)
		}
		if st := get(t, db, "c"); !st.Fired.IsZero() || !st.Due.Equal(later) {
			t.Errorf("c: %+v; want armed for %v", st, later)
		}

		c.Set(later)
		waitFor(t, "c fired", func() bool { return fired(t, db, "c") })
		if n := effectCounts(t, db); n["a"] != 1 || n["b"] != 0 || n["c"] != 1 || len(n) != 5 {
			t.Errorf("effects %v; want one for a, c, d, e and f", n)
		}
	})
}

// TestTxCache checks that the handlers of one transaction share TxCache, and that every attempt
// at a transaction starts with an empty one: after a failure, the items fired one at a time see
// nothing of what the failed transaction kept.
func TestTxCache(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := openStore(t, d)
		c := clock.NewFake(t0)
		schedule(t, db, item("x1", t0.Add(-3*time.Minute)), item("bad", t0.Add(-2*time.Minute)), item("x2", t0.Add(-time.Minute)),
			item("y1", t0.Add(time.Minute)), item("y2", t0.Add(time.Minute)))
		type key struct{}
		var (
			mu   sync.Mutex
			seen []string
		)
		h := &handlers{worker: "w"}
		hs := map[string]scheduler.Handler{"review": func(ctx context.Context, tx *sqlstore.Tx, f scheduler.Fired) error {
			if err := h.fire(ctx, tx, f); err != nil {
				return err
			}
			cache := scheduler.TxCache(ctx)
			prev, _ := cache[key{}].(string)
			cache[key{}] = f.Key
			mu.Lock()
			seen = append(seen, f.Key+"<"+prev)
			mu.Unlock()
			if f.Key == "bad" {
				return scheduler.Permanent(errors.New("boom"))
			}
			return nil
		}}
		start(t, db, hs, options(c))
		waitFor(t, "bad given up", func() bool { return !get(t, db, "bad").Failed.IsZero() })
		waitAsleepUntil(t, c, t0.Add(time.Minute))
		c.Set(t0.Add(time.Minute))
		waitFor(t, "y1 and y2 fired", func() bool { return fired(t, db, "y1") && fired(t, db, "y2") })

		mu.Lock()
		defer mu.Unlock()
		// x1, bad and x2 share a transaction, which bad fails: they fire again one to a
		// transaction; y1 and y2 share the next one.
		want := []string{"x1<", "bad<x1", "x1<", "bad<", "x2<", "y1<", "y2<y1"}
		if !slices.Equal(seen, want) {
			t.Errorf("the handlers saw %v, want %v", seen, want)
		}
		cache := scheduler.TxCache(context.Background())
		cache[key{}] = "outside"
		if n := len(scheduler.TxCache(context.Background())); n != 0 {
			t.Errorf("outside a transaction of the worker, TxCache keeps %d values", n)
		}
	})
}

// TestDeferredWrites checks that handlers of one kind can write a resource once for the items of
// a transaction (Defer): the write waits until a handler of another kind is called, which then
// reads it written, and until the end of the transaction; a second Defer under a waiting key
// adds no write. Outside the worker's transactions the write runs at once.
func TestDeferredWrites(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := openStore(t, d)
		ctx := context.Background()
		for _, q := range []string{`CREATE TABLE tallies (resource TEXT PRIMARY KEY, n INTEGER NOT NULL)`,
			`INSERT INTO tallies (resource, n) VALUES ('r', 0), ('s', 0)`} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		tally := func(ctx context.Context, tx *sqlstore.Tx, resource string) (int, error) {
			var n int
			err := tx.QueryRowContext(ctx, `SELECT n FROM tallies WHERE resource = $1`, resource).Scan(&n)
			return n, err
		}
		c := clock.NewFake(t0)
		at := func(key, kind, resource string, ago time.Duration) scheduler.Item {
			return scheduler.Item{Key: key, Kind: kind, Resource: resource, Due: t0.Add(-ago)}
		}
		schedule(t, db, at("a1", "count", "r", 5*time.Minute), at("a2", "count", "r", 4*time.Minute),
			at("b1", "read", "r", 3*time.Minute), at("a3", "count", "r", 2*time.Minute), at("s1", "count", "s", time.Minute))
		type key struct{ resource string }
		var (
			mu     sync.Mutex
			writes []string
			read   []int
		)
		hs := map[string]scheduler.Handler{
			"count": func(ctx context.Context, tx *sqlstore.Tx, f scheduler.Fired) error {
				cache := scheduler.TxCache(ctx)
				n, ok := cache[key{f.Resource}].(*int)
				if !ok {
					v, err := tally(ctx, tx, f.Resource)
					if err != nil {
						return err
					}
					n = &v
					cache[key{f.Resource}] = n
				}
				*n++
				return scheduler.Defer(ctx, key{f.Resource}, func(ctx context.Context) error {
					mu.Lock()
					writes = append(writes, fmt.Sprintf("%s=%d", f.Resource, *n))
					mu.Unlock()
					_, err := tx.ExecContext(ctx, `UPDATE tallies SET n = $2 WHERE resource = $1`, f.Resource, *n)
					return err
				})
			},
			"read": func(ctx context.Context, tx *sqlstore.Tx, f scheduler.Fired) error {
				n, err := tally(ctx, tx, f.Resource)
				mu.Lock()
				read = append(read, n)
				mu.Unlock()
				return err
			},
		}
		start(t, db, hs, options(c))
		waitFor(t, "every item fired", func() bool { return fired(t, db, "a3") && fired(t, db, "s1") })

		mu.Lock()
		defer mu.Unlock()
		if want := []int{2}; !slices.Equal(read, want) {
			t.Errorf("the handler of another kind read %v, want %v: the two counts before it written", read, want)
		}
		if want := []string{"r=2", "r=3", "s=1"}; !slices.Equal(writes, want) {
			t.Errorf("writes %v, want %v: one before the other kind's handler, one per resource at the end", writes, want)
		}
		if got := testkit.Column[int](t, db.DB, `SELECT n FROM tallies ORDER BY resource`); !slices.Equal(got, []int{3, 1}) {
			t.Errorf("tallies %v, want [3 1]", got)
		}

		ran := false
		if err := scheduler.Defer(ctx, key{"outside"}, func(context.Context) error { ran = true; return nil }); err != nil || !ran {
			t.Errorf("outside a transaction of the worker, Defer ran the write: %v (err %v); want at once", ran, err)
		}
	})
}
