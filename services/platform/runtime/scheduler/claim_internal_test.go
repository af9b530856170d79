package scheduler

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestClaimSkipsItemsChangedSinceThePass reads the due items as a pass does, changes some of them
// in other transactions before the transaction that fires them claims them, and gives that
// transaction the items in the reverse order: it fires the items still due, in next_at order,
// and leaves the others as the other transactions left them.
func TestClaimSkipsItemsChangedSinceThePass(t *testing.T) {
	t.Parallel()
	for _, d := range testenv.Databases(t) {
		t.Run(d.Engine, func(t *testing.T) {
			ctx := context.Background()
			quiet := slog.New(slog.DiscardHandler)
			raw, err := sqldb.Open(ctx, d.DSN, sqldb.Options{Schema: d.Schema, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { raw.Close() })
			if err := raw.MigrateSets(ctx, outbox.Migrations, Migrations); err != nil {
				t.Fatal(err)
			}
			f, err := outbox.NewFactory(events.DefaultPrefix, nil)
			if err != nil {
				t.Fatal(err)
			}
			db := sqlstore.New(raw, f)
			now := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
			within := func(fn func(ctx context.Context, tx *sqlstore.Tx) error) {
				t.Helper()
				if err := db.Within(ctx, fn); err != nil {
					t.Fatal(err)
				}
			}
			it := func(key string, due time.Time) Item {
				return Item{Key: key, Kind: "review", Resource: "costCenters/" + key, Due: due}
			}
			within(func(ctx context.Context, tx *sqlstore.Tx) error {
				for n, key := range []string{"a", "gone", "moved", "b", "fired", "failed", "c"} {
					if err := Schedule(ctx, tx, it(key, now.Add(-time.Duration(10-n)*time.Minute))); err != nil {
						return err
					}
				}
				return nil
			})

			var calls []string
			w, err := NewWorker(db, map[string]Handler{"review": func(ctx context.Context, tx *sqlstore.Tx, f Fired) error {
				calls = append(calls, f.Key)
				return nil
			}}, Options{Name: "budget", Clock: clock.NewFake(now), Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			batch, err := w.due(ctx, 256)
			if err != nil {
				t.Fatal(err)
			}
			if len(batch) != 7 {
				t.Fatalf("the pass read %d due items, want 7", len(batch))
			}

			within(func(ctx context.Context, tx *sqlstore.Tx) error {
				if err := Cancel(ctx, tx, "gone"); err != nil {
					return err
				}
				if err := Schedule(ctx, tx, it("moved", now.Add(time.Hour))); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, `UPDATE scheduled_items SET fired_at = $2, attempts = 1 WHERE item_key = $1`,
					"fired", now.Add(-time.Second)); err != nil {
					return err
				}
				_, err := tx.ExecContext(ctx, `UPDATE scheduled_items SET failed_at = $2, attempts = 20 WHERE item_key = $1`,
					"failed", now.Add(-time.Second))
				return err
			})
			slices.Reverse(batch)
			if err := w.fireTx(ctx, batch); err != nil {
				t.Fatal(err)
			}

			if want := []string{"a", "b", "c"}; !slices.Equal(calls, want) {
				t.Errorf("fired %v, want %v", calls, want)
			}
			for _, key := range []string{"a", "b", "c"} {
				if st, err := Get(ctx, db, key); err != nil || !st.Fired.Equal(now) || st.Attempts != 1 {
					t.Errorf("%s: %+v, %v; want fired at %v after one attempt", key, st, err, now)
				}
			}
			if _, err := Get(ctx, db, "gone"); err != ErrNotFound {
				t.Errorf("gone: %v, want ErrNotFound", err)
			}
			if st, err := Get(ctx, db, "moved"); err != nil || !st.Fired.IsZero() || st.Attempts != 0 || !st.Next.Equal(now.Add(time.Hour)) {
				t.Errorf("moved: %+v, %v; want armed for an hour later", st, err)
			}
			if st, err := Get(ctx, db, "fired"); err != nil || !st.Fired.Equal(now.Add(-time.Second)) || st.Attempts != 1 {
				t.Errorf("fired: %+v, %v; want as the other worker marked it", st, err)
			}
			if st, err := Get(ctx, db, "failed"); err != nil || !st.Fired.IsZero() || st.Attempts != 20 {
				t.Errorf("failed: %+v, %v; want given up, unfired", st, err)
			}
		})
	}
}
