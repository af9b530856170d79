package host_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"testing"
	"testing/fstest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestSchedulesFireOnTheHostsClock starts a service that declares a due item's handler: the host
// migrates the scheduler's table, gives the service its clock, and runs the worker on that clock,
// so that the item fires when the test moves the clock past its due time — not before — and its
// event, written by the handler through the outbox, reaches NATS saying when it was due and when
// it fired.
func TestSchedulesFireOnTheHostsClock(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		t0 := time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)
		fake := clock.NewFake(t0)
		var deps host.Deps
		// Domain "budget": the handler writes a budget event, which goes to the budget stream.
		svc := host.Service{
			Domain: "budget",
			Migrations: func(sqldb.Engine) fs.FS {
				return fstest.MapFS{"00001_notes.sql": {Data: []byte("-- +goose Up\nCREATE TABLE notes (id TEXT PRIMARY KEY);\n")}}
			},
			Register: func(_ grpc.ServiceRegistrar, d host.Deps) error {
				deps = d
				return nil
			},
			Schedules: func(host.Deps) map[string]scheduler.Handler {
				return map[string]scheduler.Handler{"review": func(ctx context.Context, tx *sqlstore.Tx, f scheduler.Fired) error {
					return tx.Emit(ctx, f.Resource, &budgetv1.BudgetForecastOverPlan{Budget: f.Resource, Cause: f.Key,
						EvaluationDueTime: timestamppb.New(f.Due), EvaluationTime: timestamppb.New(f.FiredAt), Version: 1})
				}}
			},
		}
		s := testkit.Start(t, d, svc, testkit.WithHostOptions(func(o *host.Options) {
			o.Clock = fake
			o.Scheduler = scheduler.Settings{PollInterval: 50 * time.Millisecond}
		}))
		if deps.Clock != fake {
			t.Fatalf("Deps.Clock = %v; want the clock of the host's options", deps.Clock)
		}

		due := t0.Add(time.Hour)
		ctx := context.Background()
		if err := deps.DB.InTx(ctx, func(tx *sql.Tx) error {
			return scheduler.Schedule(ctx, tx, scheduler.Item{Key: "budgets/b1:review", Kind: "review", Resource: "budgets/b1", Due: due})
		}); err != nil {
			t.Fatal(err)
		}
		// The worker has seen the item (woken by the commit) and sleeps until it is due.
		testkit.Eventually(t, 20*time.Second, func() error {
			if !slices.ContainsFunc(fake.Waits(), due.Equal) {
				return fmt.Errorf("the scheduler is not asleep until %v (waits: %v)", due, fake.Waits())
			}
			return nil
		})
		if st, err := scheduler.Get(ctx, deps.DB, "budgets/b1:review"); err != nil || !st.Fired.IsZero() {
			t.Fatalf("before its due time: %+v, %v; want the item unfired", st, err)
		}

		// Ninety seconds late, as after a short outage: the event says both times.
		fired := due.Add(90 * time.Second)
		fake.Set(fired)
		msgs := s.Events(t, 1)
		if got, want := msgs[0].Subject(), s.Subject("budget.forecast_over_plan"); got != want {
			t.Errorf("event subject %s; want %s", got, want)
		}
		var ev budgetv1.BudgetForecastOverPlan
		if err := protojson.Unmarshal(msgs[0].Data(), &ev); err != nil {
			t.Fatal(err)
		}
		if !ev.GetEvaluationDueTime().AsTime().Equal(due) || !ev.GetEvaluationTime().AsTime().Equal(fired) ||
			ev.GetBudget() != "budgets/b1" {
			t.Errorf("event %v; want budgets/b1 due at %v, fired at %v", &ev, due, fired)
		}
		if st, err := scheduler.Get(ctx, deps.DB, "budgets/b1:review"); err != nil || !st.Fired.Equal(fired) {
			t.Errorf("after its due time: %+v, %v; want the item fired at %v", st, err, fired)
		}
	})
}
