package briefing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestConsumerKilledMidStream kills the briefing's consumers in the middle of a stream — in the
// middle of an event's transaction — and starts them again: every actual is counted exactly
// once, none lost, none twice.
func TestConsumerKilledMidStream(t *testing.T) {
	t.Parallel()
	const actuals = 2000
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := testkit.Migrated(t, d, Service())
		ns := testenv.NATSServer(t)
		_, js := testenv.Connect(t, ns.URL)

		// One budget and 2,000 actuals of 1 to 2,000 units spread over the first three periods.
		h := newHistory()
		h.costCenter("infra", 1000000, 0)
		var want [3]int64
		for i := 1; i <= actuals; i++ {
			name := fmt.Sprintf("budgets/infra-fy2027/lines/run/actuals/k%d", i)
			p := i % 3
			h.add(name, &budgetv1.ActualRecorded{Actual: &budgetv1.Actual{Name: name, Amount: eur(int64(i)),
				ConvertedAmount: eur(int64(i)), BookingDate: day(2027, p+1, 1), Period: fmt.Sprintf("FY2027-P%02d", p+1)}})
			want[p] += int64(i) * 100
		}
		h.publish(t, js, ns.SubjectPrefix, 0, len(h.events))
		total := h.count("budget")

		// The first instance dies inside the transaction of its 700th event: its context is
		// cancelled there and its connection closed, with up to a pull batch delivered and not
		// acknowledged.
		ctx1, kill := context.WithCancel(context.Background())
		var calls atomic.Int64
		first := run(t, ctx1, db, ns, func(h consumer.Handler) consumer.Handler {
			return func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
				if calls.Add(1) == 700 {
					kill()
					<-ctx.Done()
					return ctx.Err()
				}
				return h(ctx, tx, ev)
			}
		})
		first.Wait()
		if applied := appliedCount(t, db); applied >= total || applied < 600 {
			t.Fatalf("%d of %d events applied when the consumer died; want it to die mid-stream", applied, total)
		}

		// The second instance takes over the durable: the events the first held come back after
		// the ack wait.
		ctx2, stop := context.WithCancel(context.Background())
		second := run(t, ctx2, db, ns, nil)
		defer func() { stop(); second.Wait() }()
		testkit.Eventually(t, 2*time.Minute, func() error {
			n, err := second.Pending(context.Background(), "budget")
			if err != nil {
				return err
			}
			if applied := appliedCount(t, db); n != 0 || applied != total {
				return fmt.Errorf("%d of %d applied, %d pending", applied, total, n)
			}
			return nil
		})
		got := testkit.Column[int64](t, db, `SELECT amount_minor FROM briefing_actuals WHERE budget = 'budgets/infra-fy2027' ORDER BY period`)
		if len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
			t.Errorf("actuals per period %v; want %v", got, want)
		}
		if n := testkit.Column[int64](t, db, `SELECT COUNT(*) FROM consumer_inbox WHERE consumer = 'budget'`)[0]; n != total {
			t.Errorf("%d events in the inbox; want %d", n, total)
		}
	})
}

// run starts the briefing's consumers on db, on a connection of their own, until ctx ends; wrap,
// when set, wraps each handler.
func run(t *testing.T, ctx context.Context, db *sqldb.DB, ns testenv.NATS, wrap func(consumer.Handler) consumer.Handler) *consumer.Runtime {
	t.Helper()
	nc, js := testenv.Connect(t, ns.URL)
	specs := Consumers()
	if wrap != nil {
		for i := range specs {
			specs[i].Handler = wrap(specs[i].Handler)
		}
	}
	rt, err := consumer.New(db, js, specs, consumer.Options{
		Service: Domain, Prefix: ns.SubjectPrefix, Logger: slog.New(slog.DiscardHandler),
		Settings: consumer.Settings{AckWait: 2 * time.Second, BackoffInitial: 100 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Killed with its connection: what it held unacknowledged is the server's to deliver again.
	context.AfterFunc(ctx, func() { nc.Close() })
	return rt
}

func appliedCount(t *testing.T, db *sqldb.DB) int64 {
	t.Helper()
	var n int64
	err := db.QueryRowContext(context.Background(), `SELECT applied_count FROM briefing_streams WHERE domain = 'budget'`).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		t.Fatal(err)
	}
	return n
}
