package scheduler_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// setState puts key in a state the worker would leave it in: fired at fired, or failed attempts
// with a retry at next, or given up at failed (zero times leave a column NULL or as it is).
func setState(t *testing.T, db *sqlstore.DB, key string, fired, next, failed time.Time, attempts int) {
	t.Helper()
	lastError := ""
	if fired.IsZero() && attempts > 0 {
		lastError = "boom"
	}
	commit(t, db, func(ctx context.Context, tx *sql.Tx) error {
		const q = `UPDATE scheduled_items SET fired_at = $2, failed_at = $3, attempts = $4, last_error = $5
			WHERE item_key = $1`
		if _, err := tx.ExecContext(ctx, q, key, sqlstore.NullTime(fired), sqlstore.NullTime(failed), attempts,
			lastError); err != nil || next.IsZero() {
			return err
		}
		_, err := tx.ExecContext(ctx, `UPDATE scheduled_items SET next_at = $2 WHERE item_key = $1`, key, next)
		return err
	})
}

// TestSchedule checks that items are declared, moved and cancelled in the caller's transaction,
// and what declaring a date again does in each state of an item.
func TestSchedule(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := openStore(t, d)
		ctx := context.Background()
		// The nanoseconds are dropped: both engines keep microseconds.
		due := time.Date(2027, 3, 1, 10, 0, 0, 123456789, time.FixedZone("CET", 3600))
		stored := due.UTC().Truncate(time.Microsecond)

		rollback := errors.New("the change failed")
		err := db.Within(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
			if err := scheduler.Schedule(ctx, tx, item("a", due)); err != nil {
				return err
			}
			return rollback
		})
		if !errors.Is(err, rollback) {
			t.Fatalf("Within = %v, want the change's error", err)
		}
		if _, err := scheduler.Get(ctx, db, "a"); !errors.Is(err, scheduler.ErrNotFound) {
			t.Fatalf("after a rollback Get = %v, want ErrNotFound", err)
		}

		schedule(t, db, scheduler.Item{Key: "a", Kind: "review", Resource: "costCenters/a", Due: due, Payload: []byte("v1")})
		st := get(t, db, "a")
		if !st.Due.Equal(stored) || st.Due.Location() != time.UTC || !st.Next.Equal(stored) || !st.Fired.IsZero() ||
			!st.Failed.IsZero() || st.Attempts != 0 || st.LastError != "" || st.Kind != "review" ||
			st.Resource != "costCenters/a" || !bytes.Equal(st.Payload, []byte("v1")) || st.Created.IsZero() {
			t.Fatalf("scheduled: %+v, want armed for %v with payload v1", st, stored)
		}

		// Moved before it fired, in a transaction that rolls back: unchanged.
		_ = db.Within(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
			if err := scheduler.Schedule(ctx, tx, item("a", due.Add(time.Hour))); err != nil {
				return err
			}
			return rollback
		})
		if st := get(t, db, "a"); !st.Due.Equal(stored) {
			t.Fatalf("a rolled-back move changed the due time to %v", st.Due)
		}
		// Cancelled in a transaction that rolls back: still there.
		_ = db.Within(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
			if err := scheduler.Cancel(ctx, tx, "a"); err != nil {
				return err
			}
			return rollback
		})
		get(t, db, "a")

		// Cancelled: gone.
		commit(t, db, func(ctx context.Context, tx *sql.Tx) error { return scheduler.Cancel(ctx, tx, "a") })
		if _, err := scheduler.Get(ctx, db, "a"); !errors.Is(err, scheduler.ErrNotFound) {
			t.Fatalf("after Cancel Get = %v, want ErrNotFound", err)
		}
		// Cancelling what is not there does nothing.
		commit(t, db, func(ctx context.Context, tx *sql.Tx) error { return scheduler.Cancel(ctx, tx, "a") })
	})
}

// TestScheduleAgain checks what declaring an item again does, by the item's state and whether
// the due time changes.
func TestScheduleAgain(t *testing.T) {
	t.Parallel()
	due, later := t0.Add(time.Hour), t0.Add(2*time.Hour)
	firedAt, retryAt := t0.Add(time.Hour+time.Second), t0.Add(time.Hour+time.Minute)
	cases := []struct {
		name        string
		setup       func(t *testing.T, db *sqlstore.DB, key string)
		again       time.Time
		check       func(t *testing.T, st scheduler.State)
		payloadKept bool
	}{
		{
			name: "armed, new date: moved", again: later,
			check: func(t *testing.T, st scheduler.State) {
				if !st.Due.Equal(later) || !st.Next.Equal(later) || !st.Fired.IsZero() {
					t.Errorf("%+v: want armed for %v", st, later)
				}
			},
		},
		{
			name: "retrying, same date: keeps its retry state", again: due,
			setup: func(t *testing.T, db *sqlstore.DB, key string) {
				setState(t, db, key, time.Time{}, retryAt, time.Time{}, 2)
			},
			check: func(t *testing.T, st scheduler.State) {
				if st.Attempts != 2 || st.LastError != "boom" || !st.Next.Equal(retryAt) || !st.Due.Equal(due) {
					t.Errorf("%+v: want 2 attempts, the error and the retry at %v kept", st, retryAt)
				}
			},
		},
		{
			name: "retrying, new date: a fresh start", again: later,
			setup: func(t *testing.T, db *sqlstore.DB, key string) {
				setState(t, db, key, time.Time{}, retryAt, time.Time{}, 2)
			},
			check: func(t *testing.T, st scheduler.State) {
				if st.Attempts != 0 || st.LastError != "" || !st.Next.Equal(later) || !st.Due.Equal(later) {
					t.Errorf("%+v: want no attempts, no error, armed for %v", st, later)
				}
			},
		},
		{
			name: "given up, same date: stays given up", again: due,
			setup: func(t *testing.T, db *sqlstore.DB, key string) {
				setState(t, db, key, time.Time{}, time.Time{}, retryAt, 20)
			},
			check: func(t *testing.T, st scheduler.State) {
				if !st.Failed.Equal(retryAt) || st.Attempts != 20 {
					t.Errorf("%+v: want still given up", st)
				}
			},
		},
		{
			name: "given up, new date: armed again", again: later,
			setup: func(t *testing.T, db *sqlstore.DB, key string) {
				setState(t, db, key, time.Time{}, time.Time{}, retryAt, 20)
			},
			check: func(t *testing.T, st scheduler.State) {
				if !st.Failed.IsZero() || st.Attempts != 0 || !st.Next.Equal(later) {
					t.Errorf("%+v: want armed for %v", st, later)
				}
			},
		},
		{
			name: "fired, same date: stays fired", again: due, payloadKept: true,
			setup: func(t *testing.T, db *sqlstore.DB, key string) {
				setState(t, db, key, firedAt, time.Time{}, time.Time{}, 1)
			},
			check: func(t *testing.T, st scheduler.State) {
				if !st.Fired.Equal(firedAt) || !st.Due.Equal(due) || st.Attempts != 1 {
					t.Errorf("%+v: want fired at %v, unchanged", st, firedAt)
				}
			},
		},
		{
			name: "fired, new date: armed again", again: later,
			setup: func(t *testing.T, db *sqlstore.DB, key string) {
				setState(t, db, key, firedAt, time.Time{}, time.Time{}, 1)
			},
			check: func(t *testing.T, st scheduler.State) {
				if !st.Fired.IsZero() || !st.Due.Equal(later) || !st.Next.Equal(later) || st.Attempts != 0 {
					t.Errorf("%+v: want armed again for %v", st, later)
				}
			},
		},
	}
	forEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := openStore(t, d)
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				key := strings.ReplaceAll(c.name, " ", "_")
				schedule(t, db, scheduler.Item{Key: key, Kind: "review", Resource: "costCenters/x", Due: due, Payload: []byte("v1")})
				if c.setup != nil {
					c.setup(t, db, key)
				}
				schedule(t, db, scheduler.Item{Key: key, Kind: "review", Resource: "costCenters/x", Due: c.again, Payload: []byte("v2")})
				st := get(t, db, key)
				c.check(t, st)
				want := "v2"
				if c.payloadKept {
					want = "v1"
				}
				if string(st.Payload) != want {
					t.Errorf("payload %q, want %q", st.Payload, want)
				}
			})
		}
	})
}

// TestCancelResource checks that a resource's unfired items go and everything else stays.
func TestCancelResource(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := openStore(t, d)
		ctx := context.Background()
		in := func(key, resource string) scheduler.Item {
			return scheduler.Item{Key: key, Kind: "review", Resource: resource, Due: t0}
		}
		schedule(t, db, in("c1:notice", "contracts/c1"), in("c1:renewal", "contracts/c1"),
			in("c1:expiry", "contracts/c1"), in("c2:notice", "contracts/c2"))
		setState(t, db, "c1:expiry", t0, time.Time{}, time.Time{}, 1)
		commit(t, db, func(ctx context.Context, tx *sql.Tx) error {
			return scheduler.CancelResource(ctx, tx, "contracts/c1")
		})
		for key, want := range map[string]bool{"c1:notice": false, "c1:renewal": false, "c1:expiry": true, "c2:notice": true} {
			_, err := scheduler.Get(ctx, db, key)
			if got := err == nil; got != want {
				t.Errorf("%s kept: %v (%v), want %v", key, got, err, want)
			}
		}
		// Cancel leaves a fired item too.
		commit(t, db, func(ctx context.Context, tx *sql.Tx) error { return scheduler.Cancel(ctx, tx, "c1:expiry") })
		get(t, db, "c1:expiry")
	})
}

// TestRetry checks that Retry arms a given-up item again and refuses fired or unknown ones.
func TestRetry(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := openStore(t, d)
		ctx := context.Background()
		schedule(t, db, item("gave_up", t0), item("fired", t0))
		setState(t, db, "gave_up", time.Time{}, t0.Add(time.Hour), t0.Add(time.Hour), 20)
		setState(t, db, "fired", t0, time.Time{}, time.Time{}, 1)
		if n, err := scheduler.Failed(ctx, db); err != nil || n != 1 {
			t.Fatalf("Failed = %d, %v; want 1", n, err)
		}
		commit(t, db, func(ctx context.Context, tx *sql.Tx) error { return scheduler.Retry(ctx, tx, "gave_up") })
		if st := get(t, db, "gave_up"); !st.Failed.IsZero() || st.Attempts != 0 || st.LastError != "" || !st.Next.Equal(t0) {
			t.Errorf("after Retry: %+v, want armed for its due time", st)
		}
		for _, key := range []string{"fired", "missing"} {
			if err := scheduler.Retry(ctx, db, key); !errors.Is(err, scheduler.ErrNotFound) {
				t.Errorf("Retry(%s) = %v, want ErrNotFound", key, err)
			}
		}
	})
}

// TestDue checks the backlog that the metrics report: due, unfired, not given up.
func TestDue(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := openStore(t, d)
		ctx := context.Background()
		schedule(t, db, item("old", t0.Add(-time.Hour)), item("recent", t0.Add(-time.Minute)),
			item("now", t0), item("future", t0.Add(time.Microsecond)), item("fired", t0.Add(-2*time.Hour)),
			item("given_up", t0.Add(-3*time.Hour)))
		setState(t, db, "fired", t0, time.Time{}, time.Time{}, 1)
		setState(t, db, "given_up", time.Time{}, time.Time{}, t0, 20)
		n, oldest, err := scheduler.Due(ctx, db, t0)
		if err != nil || n != 3 || !oldest.Equal(t0.Add(-time.Hour)) {
			t.Errorf("Due(t0) = %d, %v, %v; want 3 items, the oldest due at %v", n, oldest, err, t0.Add(-time.Hour))
		}
		if n, oldest, err := scheduler.Due(ctx, db, t0.Add(-2*time.Hour)); err != nil || n != 0 || !oldest.IsZero() {
			t.Errorf("Due(t0-2h) = %d, %v, %v; want none", n, oldest, err)
		}
	})
}

// TestScheduleRefusesInvalidItems checks the limits of an item.
func TestScheduleRefusesInvalidItems(t *testing.T) {
	t.Parallel()
	db := openStore(t, testenv.SQLite(t))
	ok := item("k", t0)
	for name, mutate := range map[string]func(*scheduler.Item){
		"no key":       func(it *scheduler.Item) { it.Key = "" },
		"long key":     func(it *scheduler.Item) { it.Key = strings.Repeat("k", scheduler.MaxKeyLength+1) },
		"no kind":      func(it *scheduler.Item) { it.Kind = "" },
		"no resource":  func(it *scheduler.Item) { it.Resource = "" },
		"no due time":  func(it *scheduler.Item) { it.Due = time.Time{} },
		"long payload": func(it *scheduler.Item) { it.Payload = make([]byte, scheduler.MaxPayload+1) },
	} {
		it := ok
		mutate(&it)
		if err := scheduler.Schedule(context.Background(), db, it); err == nil {
			t.Errorf("%s: Schedule accepted %+v", name, it)
		}
	}
}

// TestScheduleWakesTheWorker checks that a transaction that scheduled an item wakes the worker
// when it commits (scheduler.Work), whether Schedule was given the *sql.Tx, the *sqlstore.Tx or
// a service's transaction built on it, and so does one that retried an item; and that one that
// only cancelled an item, or rolled back, does not.
func TestScheduleWakesTheWorker(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := openStore(t, d)
		ctx := context.Background()
		var woken atomic.Int32
		db.AfterCommitOf(scheduler.Work, func() { woken.Add(1) })
		want := func(what string, n int32) {
			t.Helper()
			if got := woken.Load(); got != n {
				t.Fatalf("after %s the worker was woken %d times; want %d", what, got, n)
			}
		}
		// serviceTx is how a service's store builds its transactions on the kit's.
		type serviceTx struct{ *sqlstore.Tx }

		due := t0.Add(time.Hour)
		if err := db.InTx(ctx, func(tx *sql.Tx) error { return scheduler.Schedule(ctx, tx, item("a", due)) }); err != nil {
			t.Fatal(err)
		}
		want("scheduling with the *sql.Tx", 1)
		schedule(t, db, item("b", due))
		want("scheduling with the *sqlstore.Tx", 2)
		if err := db.Within(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
			return scheduler.Schedule(ctx, serviceTx{tx}, item("c", due))
		}); err != nil {
			t.Fatal(err)
		}
		want("scheduling with a service's transaction", 3)
		if err := db.Within(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
			return scheduler.Cancel(ctx, tx, "a")
		}); err != nil {
			t.Fatal(err)
		}
		want("a cancellation", 3)
		if err := db.Within(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
			return scheduler.Retry(ctx, tx, "b")
		}); err != nil {
			t.Fatal(err)
		}
		want("a retry", 4)
		rollback := errors.New("the change failed")
		if err := db.Within(ctx, func(ctx context.Context, tx *sqlstore.Tx) error {
			if err := scheduler.Schedule(ctx, tx, item("d", due)); err != nil {
				return err
			}
			return rollback
		}); !errors.Is(err, rollback) {
			t.Fatalf("Within = %v, want the change's error", err)
		}
		want("a rollback", 4)
	})
}
