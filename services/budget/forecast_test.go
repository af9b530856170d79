package budget_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestForecastOverPlanOnTheCalendar approves a budget and records spend whose run rate is under
// plan, then only moves the clock: when a period starts, the actuals booked ahead for it join the
// run rate, and the daily evaluation publishes budget.forecast_over_plan — once per crossing,
// saying when the evaluation was due and when it ran — without any call to the API.
//
// FY2027 runs from January; the plan is 120,000.00 EUR. Actuals of 1,000.00 booked on 5 January,
// 25,000.00 on 15 February and 15,000.00 on 10 April are recorded in January. The forecast is
// actual to date ÷ elapsed periods × 12:
//
//	January   1,000 × 12 / 1  =  12,000   under
//	February 26,000 × 12 / 2  = 156,000   over: fires
//	March    26,000 × 12 / 3  = 104,000   under: re-armed silently
//	April    41,000 × 12 / 4  = 123,000   over: fires again
func TestForecastOverPlanOnTheCalendar(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		ctx := context.Background()
		fake := clock.NewFake(time.Date(2027, 1, 10, 9, 0, 0, 0, time.UTC))
		e := startService(t, db, budget.Configured(budget.Settings{FiscalYearStartMonth: 1}),
			testkit.WithHostOptions(func(o *host.Options) {
				o.Clock = fake
				o.Scheduler = scheduler.Settings{PollInterval: 50 * time.Millisecond}
			}))
		sdb := e.DB(t)
		se := &spendEnv{env: e, approver: clientAs(t, e, "apiKeys/approver", "budget.read", "budget.approve"),
			db: sdb, store: store.New(sdb, nil)}
		const id, line = "ops-fy2027", "budgets/ops-fy2027/lines/run"
		seedApprovedBudget(t, se, "ops", id, "EUR", domain.PolicyWarn, fixtureLine{id: "run", planned: 12_000_000})

		// The approval armed the evaluation for the next day's start.
		jan11 := time.Date(2027, 1, 11, 0, 0, 0, 0, time.UTC)
		if st, err := se.store.ForecastCheck(ctx, id); err != nil || !st.Due.Equal(jan11) || st.Kind != store.ForecastCheckKind {
			t.Fatalf("forecast evaluation after the approval: %+v, %v; want one due at %v", st, err, jan11)
		}
		mustActual(t, se, line, 100_000, "EUR", day(2027, 1, 5), "", "")
		mustActual(t, se, line, 2_500_000, "EUR", day(2027, 2, 15), "", "")
		mustActual(t, se, line, 1_500_000, "EUR", day(2027, 4, 10), "", "")
		if n := outboxCount(t, se, ".budget.forecast_over_plan"); n != 0 {
			t.Fatalf("%d forecast_over_plan events after the spend; want none (forecast 12,000.00)", n)
		}

		// From here on only the clock moves. Late in January: the 11 January evaluation runs late,
		// finds the forecast under plan and arms the next day's.
		feb1 := time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC)
		fake.Set(time.Date(2027, 1, 31, 12, 0, 0, 0, time.UTC))
		waitAsleep(t, fake, feb1)
		if n := outboxCount(t, se, ".budget.forecast_over_plan"); n != 0 {
			t.Fatalf("%d forecast_over_plan events in January; want none", n)
		}

		// February: 156,000.00 over 120,000.00.
		fake.Set(feb1)
		ev := waitForecastEvent(t, e, 1)
		checkForecastEvent(t, ev, id, feb1, feb1, "2027-02-01", 15_600_000)

		// Later in February it stays over plan: the evaluations run and publish nothing.
		feb6 := time.Date(2027, 2, 6, 0, 0, 0, 0, time.UTC)
		fake.Set(feb6.Add(-12 * time.Hour))
		waitAsleep(t, fake, feb6)
		if n := outboxCount(t, se, ".budget.forecast_over_plan"); n != 1 {
			t.Fatalf("%d forecast_over_plan events after more days over plan; want still 1", n)
		}

		// March: 104,000.00, back under plan; the crossing state clears without an event.
		mar2 := time.Date(2027, 3, 2, 0, 0, 0, 0, time.UTC)
		fake.Set(time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC))
		waitAsleep(t, fake, mar2)
		if c, err := se.store.GetChain(ctx, id); err != nil || c.ForecastOverPlan {
			t.Fatalf("chain in March: %+v, %v; want the forecast no longer over plan", c, err)
		}
		if n := outboxCount(t, se, ".budget.forecast_over_plan"); n != 1 {
			t.Fatalf("%d forecast_over_plan events in March; want still 1", n)
		}

		// April: 123,000.00, over plan again: a second crossing, a second event. The 2 March
		// evaluation runs a month late, on 1 April at 06:00.
		apr1 := time.Date(2027, 4, 1, 6, 0, 0, 0, time.UTC)
		fake.Set(apr1)
		ev = waitForecastEvent(t, e, 2)
		checkForecastEvent(t, ev, id, mar2, apr1, "2027-04-01", 12_300_000)

		// Closing the budget cancels its evaluations.
		waitAsleep(t, fake, time.Date(2027, 4, 2, 0, 0, 0, 0, time.UTC))
		closeBudget(t, se, id)
		if st, err := se.store.ForecastCheck(ctx, id); !errors.Is(err, scheduler.ErrNotFound) {
			t.Errorf("forecast evaluation after the close: %+v, %v; want none", st, err)
		}
	})
}

// waitAsleep waits until the service's scheduler has done what was due and sleeps until due.
func waitAsleep(t *testing.T, c *clock.Fake, due time.Time) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() error {
		if !slices.ContainsFunc(c.Waits(), due.Equal) {
			return fmt.Errorf("the scheduler is not asleep until %v (waits: %v)", due, c.Waits())
		}
		return nil
	})
}

// waitForecastEvent waits until e's stream holds n budget.forecast_over_plan events and returns
// the last.
func waitForecastEvent(t *testing.T, e *env, n int) *budgetv1.BudgetForecastOverPlan {
	t.Helper()
	ctx := context.Background()
	subject := e.Subject("budget.forecast_over_plan")
	var last *jetstream.RawStreamMsg
	testkit.Eventually(t, 30*time.Second, func() error {
		stream, err := e.JetStream.Stream(ctx, e.Stream())
		if err != nil {
			return err
		}
		info, err := stream.Info(ctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			return err
		}
		if got := info.State.Subjects[subject]; got != uint64(n) {
			return fmt.Errorf("%d forecast_over_plan events on NATS; want %d", got, n)
		}
		last, err = stream.GetLastMsgForSubject(ctx, subject)
		return err
	})
	var ev budgetv1.BudgetForecastOverPlan
	if err := protojson.Unmarshal(last.Data, &ev); err != nil {
		t.Fatal(err)
	}
	return &ev
}

// checkForecastEvent checks a forecast_over_plan event of the daily evaluation of budget id.
func checkForecastEvent(t *testing.T, ev *budgetv1.BudgetForecastOverPlan, id string, due, ran time.Time, asOf string, forecast int64) {
	t.Helper()
	name := "budgets/" + id
	if ev.GetBudget() != name || ev.GetCause() != name || dateString(ev.GetAsOf()) != asOf ||
		minorOf(ev.GetPlanned()) != 12_000_000 || minorOf(ev.GetForecast()) != forecast {
		t.Errorf("event %v; want %s, caused by itself, as of %s, planned 120000.00, forecast %d minor units", ev, name, asOf, forecast)
	}
	if !ev.GetEvaluationDueTime().AsTime().Equal(due) || !ev.GetEvaluationTime().AsTime().Equal(ran) {
		t.Errorf("event due %v, evaluated %v; want %v and %v", ev.GetEvaluationDueTime().AsTime(),
			ev.GetEvaluationTime().AsTime(), due, ran)
	}
}
