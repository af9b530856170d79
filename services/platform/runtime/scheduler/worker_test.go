package scheduler_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestFiresWhenDue checks that nothing fires before its due time, that an item fires once its
// time comes with its due and fire times, and only once.
func TestFiresWhenDue(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := openStore(t, d)
		c := clock.NewFake(t0)
		early, due := t0.Add(59*time.Minute), t0.Add(time.Hour)
		schedule(t, db, item("early", early), item("a", due))
		h := &handlers{worker: "w"}
		start(t, db, h.all(), options(c))

		// The worker has looked at t0 and sleeps until the first due time.
		waitAsleepUntil(t, c, early)
		if n := len(effects(t, db)); n != 0 || fired(t, db, "early") || fired(t, db, "a") {
			t.Fatalf("at t0: %d effects; want nothing fired", n)
		}

		// A second before a's due time: early fires, a does not.
		c.Set(due.Add(-time.Second))
		waitFor(t, "early fired", func() bool { return fired(t, db, "early") })
		waitAsleepUntil(t, c, due)
		if fired(t, db, "a") {
			t.Fatal("a fired a second early")
		}

		c.Set(due)
		waitFor(t, "a fired", func() bool { return fired(t, db, "a") })
		want := map[string]effect{
			"early": {key: "early", worker: "w", due: early, fired: due.Add(-time.Second), attempt: 1},
			"a":     {key: "a", worker: "w", due: due, fired: due, attempt: 1},
		}
		got := effects(t, db)
		if len(got) != 2 {
			t.Fatalf("effects %+v, want one per item", got)
		}
		for _, e := range got {
			if w := want[e.key]; !e.due.Equal(w.due) || !e.fired.Equal(w.fired) || e.attempt != w.attempt {
				t.Errorf("handler saw %+v, want %+v", e, w)
			}
		}
		if st := get(t, db, "a"); !st.Fired.Equal(due) || st.Attempts != 1 {
			t.Errorf("a: %+v, want fired at %v after one attempt", st, due)
		}

		// Later passes, with the clock moved on, leave it fired once.
		schedule(t, db, item("b", due.Add(time.Hour)))
		c.Set(due.Add(30 * time.Minute))
		waitAsleepUntil(t, c, due.Add(time.Hour))
		if n, ev := effectCounts(t, db)["a"], outboxEvents(t, db); n != 1 || ev != 2 {
			t.Errorf("a has %d effects and the outbox %d events; want 1 and 2", n, ev)
		}
	})
}

// TestHandlerErrorRollsBack checks that a failing handler leaves no effect and no event, that
// the item is retried after a backoff with its attempts and error recorded, and that the items
// due before and after it, fired in the same transaction, fire meanwhile with nothing blamed on
// them.
func TestHandlerErrorRollsBack(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := openStore(t, d)
		c := clock.NewFake(t0)
		badDue := t0.Add(-2 * time.Minute)
		schedule(t, db, item("before", t0.Add(-3*time.Minute)), item("bad", badDue), item("after", t0.Add(-time.Minute)))
		h := &handlers{worker: "w"}
		h.setFail(func(f scheduler.Fired) error {
			if f.Key == "bad" && f.Attempt < 3 {
				return fmt.Errorf("attempt %d: boom", f.Attempt)
			}
			return nil
		})
		start(t, db, h.all(), options(c)) // the three items share one transaction

		waitFor(t, "before and after fired", func() bool { return fired(t, db, "before") && fired(t, db, "after") })
		for _, key := range []string{"before", "after"} {
			if st := get(t, db, key); st.Attempts != 1 || st.LastError != "" || !st.Fired.Equal(t0) {
				t.Errorf("%s: %+v; want fired at t0 on its first attempt", key, st)
			}
		}
		waitFor(t, "bad's first attempt recorded", func() bool { return get(t, db, "bad").Attempts == 1 })
		st := get(t, db, "bad")
		if !st.Fired.IsZero() || !strings.Contains(st.LastError, "attempt 1: boom") || !st.Next.Equal(t0.Add(time.Second)) {
			t.Errorf("after one failure: %+v; want unfired, the error, a retry at t0+1s", st)
		}
		if n, ev := effectCounts(t, db)["bad"], outboxEvents(t, db); n != 0 || ev != 2 {
			t.Errorf("bad has %d effects and the outbox %d events; want 0 and 2 (before's and after's)", n, ev)
		}

		// The retries double the wait: 1 s, then 2 s.
		waitAsleepUntil(t, c, t0.Add(time.Second))
		c.Advance(time.Second)
		waitFor(t, "bad's second attempt recorded", func() bool { return get(t, db, "bad").Attempts == 2 })
		if st := get(t, db, "bad"); !st.Next.Equal(t0.Add(3*time.Second)) || !strings.Contains(st.LastError, "attempt 2") {
			t.Errorf("after two failures: %+v; want a retry at t0+3s", st)
		}
		waitAsleepUntil(t, c, t0.Add(3*time.Second))
		c.Advance(2 * time.Second)
		waitFor(t, "bad fired", func() bool { return fired(t, db, "bad") })
		if st := get(t, db, "bad"); st.Attempts != 3 || st.LastError != "" {
			t.Errorf("fired: %+v; want 3 attempts and no error", st)
		}
		for _, e := range effects(t, db) {
			if e.key == "bad" && (e.attempt != 3 || !e.due.Equal(badDue) || !e.fired.Equal(t0.Add(3*time.Second))) {
				t.Errorf("bad's handler saw %+v; want attempt 3, due t0-2m, fired t0+3s", e)
			}
		}
		if n, ev := effectCounts(t, db), outboxEvents(t, db); n["bad"] != 1 || n["before"] != 1 || n["after"] != 1 || ev != 3 {
			t.Errorf("effects %v and %d events; want one of each", n, ev)
		}
	})
}

// TestGivesUp checks that the worker gives up on an item after MaxAttempts attempts, or at once
// for a permanent error, and that Retry arms it again.
func TestGivesUp(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := openStore(t, d)
		c := clock.NewFake(t0)
		schedule(t, db, item("flaky", t0), item("broken", t0))
		h := &handlers{worker: "w"}
		h.setFail(func(f scheduler.Fired) error {
			if f.Key == "broken" {
				return scheduler.Permanent(errors.New("no such contract"))
			}
			return errors.New("boom")
		})
		opts := options(c)
		opts.Settings.MaxAttempts = 2
		r := start(t, db, h.all(), opts)

		waitFor(t, "broken given up", func() bool { return !get(t, db, "broken").Failed.IsZero() })
		if st := get(t, db, "broken"); st.Attempts != 1 || !strings.Contains(st.LastError, "no such contract") {
			t.Errorf("broken: %+v; want given up after one attempt", st)
		}
		waitAsleepUntil(t, c, t0.Add(time.Second))
		c.Advance(time.Second)
		waitFor(t, "flaky given up", func() bool { return !get(t, db, "flaky").Failed.IsZero() })
		if st := get(t, db, "flaky"); st.Attempts != 2 || !st.Failed.Equal(t0.Add(time.Second)) || !st.Fired.IsZero() {
			t.Errorf("flaky: %+v; want given up at t0+1s after two attempts", st)
		}
		if n, err := scheduler.Failed(context.Background(), db); err != nil || n != 2 {
			t.Errorf("Failed = %d, %v; want 2", n, err)
		}

		h.setFail(nil)
		commit(t, db, func(ctx context.Context, tx *sql.Tx) error { return scheduler.Retry(ctx, tx, "flaky") })
		r.w.Notify()
		waitFor(t, "flaky fired after Retry", func() bool { return fired(t, db, "flaky") })
		if n := effectCounts(t, db); n["flaky"] != 1 || n["broken"] != 0 {
			t.Errorf("effects %v; want flaky's only", n)
		}
	})
}

// TestFiresOnStartInDueOrder checks that items that came due while no worker ran fire when one
// starts, oldest first, each saying when it was due and when it fired.
func TestFiresOnStartInDueOrder(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := openStore(t, d)
		now := t0.Add(24 * time.Hour)
		c := clock.NewFake(now)
		var (
			items []scheduler.Item
			want  []string
		)
		for _, m := range rand.Perm(40) {
			items = append(items, item(fmt.Sprintf("i%02d", m), now.Add(-time.Duration(m+1)*7*time.Minute)))
		}
		for m := 39; m >= 0; m-- {
			want = append(want, fmt.Sprintf("i%02d", m))
		}
		items = append(items, item("future", now.Add(time.Minute)))
		schedule(t, db, items...)

		var (
			mu    sync.Mutex
			order []string
		)
		h := &handlers{worker: "w"}
		hs := map[string]scheduler.Handler{"review": func(ctx context.Context, tx *sqlstore.Tx, f scheduler.Fired) error {
			if err := h.fire(ctx, tx, f); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			order = append(order, f.Key)
			return nil
		}}
		opts := options(c)
		opts.Settings.BatchSize = 3
		start(t, db, hs, opts)
		waitAsleepUntil(t, c, now.Add(time.Minute))

		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(order, want) {
			t.Errorf("fired in the order %v, want %v", order, want)
		}
		for _, e := range effects(t, db) {
			var m int
			fmt.Sscanf(e.key, "i%02d", &m)
			if wantDue := now.Add(-time.Duration(m+1) * 7 * time.Minute); !e.due.Equal(wantDue) || !e.fired.Equal(now) {
				t.Errorf("%s: due %v, fired %v; want due %v, fired %v", e.key, e.due, e.fired, wantDue, now)
			}
		}
		if fired(t, db, "future") {
			t.Error("an item due in a minute fired")
		}
	})
}

// TestRecurring checks that a handler that schedules its own item again leaves it armed for the
// new date, on which it fires again.
func TestRecurring(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := openStore(t, d)
		c := clock.NewFake(t0)
		h := &handlers{worker: "w"}
		daily := func(ctx context.Context, tx *sqlstore.Tx, f scheduler.Fired) error {
			if err := h.fire(ctx, tx, f); err != nil {
				return err
			}
			return scheduler.Schedule(ctx, tx, scheduler.Item{Key: f.Key, Kind: f.Kind, Resource: f.Resource,
				Due: f.Due.Add(24 * time.Hour)})
		}
		schedule(t, db, scheduler.Item{Key: "budgets/b1:evaluate", Kind: "evaluate", Resource: "budgets/b1", Due: t0})
		start(t, db, map[string]scheduler.Handler{"evaluate": daily}, options(c))

		waitAsleepUntil(t, c, t0.Add(24*time.Hour))
		if st := get(t, db, "budgets/b1:evaluate"); !st.Fired.IsZero() || !st.Due.Equal(t0.Add(24*time.Hour)) {
			t.Errorf("after the first evaluation: %+v; want armed for the next day", st)
		}
		c.Advance(24 * time.Hour)
		waitAsleepUntil(t, c, t0.Add(48*time.Hour))
		got := effects(t, db)
		if len(got) != 2 || !got[0].due.Equal(t0) || !got[1].due.Equal(t0.Add(24*time.Hour)) {
			t.Errorf("effects %+v; want the evaluations due at t0 and t0+24h", got)
		}
	})
}

// TestConcurrentWorkersFireOnce runs two workers that both lead (different names, so different
// leases: what two replicas do when one has lost its lease without noticing yet) over the same
// items: each fires once, because a worker reads the item locked and skips it once fired.
func TestConcurrentWorkersFireOnce(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, d testenv.Database) {
		dbA, dbB := openStore(t, d), openStore(t, d)
		c := clock.NewFake(t0)
		const n = 300
		var items []scheduler.Item
		for i := range n {
			items = append(items, item(fmt.Sprintf("i%03d", i), t0.Add(-time.Duration(i%17)*time.Second)))
		}
		schedule(t, dbA, items...)
		optsA, optsB := options(c), options(c)
		optsB.Name = "budget_b"
		optsA.Settings.BatchSize, optsB.Settings.BatchSize = 4, 4
		start(t, dbA, (&handlers{worker: "a"}).all(), optsA)
		start(t, dbB, (&handlers{worker: "b"}).all(), optsB)

		waitFor(t, "every item fired", func() bool {
			left, _, err := scheduler.Due(context.Background(), dbA, t0)
			return err == nil && left == 0
		})
		counts := effectCounts(t, dbA)
		for _, it := range items {
			if counts[it.Key] != 1 {
				t.Errorf("%s has %d effects, want 1", it.Key, counts[it.Key])
			}
		}
		if ev := outboxEvents(t, dbA); ev != n {
			t.Errorf("%d events, want %d", ev, n)
		}
	})
}

// TestStandbyTakesOver checks, on PostgreSQL, that of two workers of one service only the lease
// holder fires, and that the other takes over once the first stops.
func TestStandbyTakesOver(t *testing.T) {
	t.Parallel()
	d := testenv.Postgres(t)
	dbA, dbB := openStore(t, d), openStore(t, d)
	c := clock.NewFake(t0)
	a := start(t, dbA, (&handlers{worker: "a"}).all(), options(c))
	waitFor(t, "a leading", a.w.Leading)
	b := start(t, dbB, (&handlers{worker: "b"}).all(), options(c))

	schedule(t, dbA, item("one", t0.Add(time.Minute)), item("two", t0.Add(2*time.Minute)))
	c.Set(t0.Add(time.Minute))
	waitFor(t, "one fired", func() bool { return fired(t, dbA, "one") })
	if b.w.Leading() {
		t.Error("both workers lead")
	}

	a.stop()
	waitFor(t, "b leading", b.w.Leading)
	c.Set(t0.Add(2 * time.Minute))
	waitFor(t, "two fired", func() bool { return fired(t, dbA, "two") })
	got := effects(t, dbA)
	byKey := map[string]string{}
	for _, e := range got {
		byKey[e.key] = e.worker
	}
	if len(got) != 2 || byKey["one"] != "a" || byKey["two"] != "b" {
		t.Errorf("effects %+v; want one by a, two by b", got)
	}
}

// TestTakeOverAfterConnectionLoss checks, on PostgreSQL, a leader that dies while firing an
// item: its connections end (as when its process is killed) with the transaction open, the
// standby takes the lease over and fires the item, and the first worker's transaction, which can
// no longer commit, leaves no second effect.
func TestTakeOverAfterConnectionLoss(t *testing.T) {
	t.Parallel()
	d := testenv.Postgres(t)
	appA := "scheduler_a_" + d.Schema
	dbA, dbB := openStoreAs(t, d, appA), openStore(t, d)
	c := clock.NewFake(t0)
	hA := &handlers{worker: "a"}
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hA.setFail(func(f scheduler.Fired) error {
		once.Do(func() { close(entered) })
		<-release
		return nil
	})
	a := start(t, dbA, hA.all(), options(c))
	waitFor(t, "a leading", a.w.Leading)
	b := start(t, dbB, (&handlers{worker: "b"}).all(), options(c))

	schedule(t, dbB, item("x", t0))
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("a's handler never ran")
	}
	// a is inside its handler, x locked. Its process "dies": every connection of it ends.
	var cut int
	if err := dbB.QueryRowContext(context.Background(),
		`SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, appA).Scan(&cut); err != nil || cut == 0 {
		t.Fatalf("cut a's connections: %d, %v", cut, err)
	}
	waitFor(t, "b leading", b.w.Leading)
	waitFor(t, "x fired", func() bool { return fired(t, dbB, "x") })
	close(release) // a's handler returns; its transaction cannot commit
	a.stop()

	got := effects(t, dbB)
	if len(got) != 1 || got[0].worker != "b" {
		t.Errorf("effects %+v; want x fired once, by b", got)
	}
	if ev := outboxEvents(t, dbB); ev != 1 {
		t.Errorf("%d events, want 1", ev)
	}
}

// TestHandlerPanic checks that a handler's panic is the item's failure, not the worker's end.
func TestHandlerPanic(t *testing.T) {
	t.Parallel()
	db := openStore(t, testenv.SQLite(t))
	c := clock.NewFake(t0)
	h := &handlers{worker: "w"}
	h.setFail(func(f scheduler.Fired) error {
		if f.Key == "panics" {
			panic("nil map")
		}
		return nil
	})
	schedule(t, db, item("panics", t0), item("fine", t0))
	start(t, db, h.all(), options(c))
	waitFor(t, "fine fired", func() bool { return fired(t, db, "fine") })
	waitFor(t, "the panic recorded", func() bool { return get(t, db, "panics").Attempts == 1 })
	if st := get(t, db, "panics"); !strings.Contains(st.LastError, "nil map") || !st.Fired.IsZero() {
		t.Errorf("panics: %+v; want unfired with the panic as its error", st)
	}
}

// TestUnknownKind checks that an item whose kind has no handler here is retried, not fired.
func TestUnknownKind(t *testing.T) {
	t.Parallel()
	db := openStore(t, testenv.SQLite(t))
	c := clock.NewFake(t0)
	schedule(t, db, scheduler.Item{Key: "k", Kind: "from_the_next_version", Resource: "budgets/b1", Due: t0})
	start(t, db, (&handlers{worker: "w"}).all(), options(c))
	waitFor(t, "the failure recorded", func() bool { return get(t, db, "k").Attempts == 1 })
	if st := get(t, db, "k"); !strings.Contains(st.LastError, `no handler for kind "from_the_next_version"`) ||
		!st.Failed.IsZero() || !st.Next.Equal(t0.Add(time.Second)) {
		t.Errorf("%+v; want a retry in a second", st)
	}
}

// TestNewWorkerRefusesBadOptions checks NewWorker's checks.
func TestNewWorkerRefusesBadOptions(t *testing.T) {
	t.Parallel()
	db := openStore(t, testenv.SQLite(t))
	ok := func(context.Context, *sqlstore.Tx, scheduler.Fired) error { return nil }
	for name, c := range map[string]struct {
		hs   map[string]scheduler.Handler
		opts scheduler.Options
	}{
		"no name":    {map[string]scheduler.Handler{"k": ok}, scheduler.Options{}},
		"empty kind": {map[string]scheduler.Handler{"": ok}, scheduler.Options{Name: "budget"}},
		"nil":        {map[string]scheduler.Handler{"k": nil}, scheduler.Options{Name: "budget"}},
	} {
		if _, err := scheduler.NewWorker(db, c.hs, c.opts); err == nil {
			t.Errorf("%s: NewWorker accepted it", name)
		}
	}
}

// TestBackoff checks the retry waits.
func TestBackoff(t *testing.T) {
	t.Parallel()
	s := scheduler.Settings{BackoffInitial: time.Second, BackoffMax: 10 * time.Second}
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 40: 10 * time.Second} {
		if got := s.Backoff(n); got != want {
			t.Errorf("Backoff(%d) = %v, want %v", n, got, want)
		}
	}
}
