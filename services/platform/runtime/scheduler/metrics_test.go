package scheduler_test

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestMetrics checks the backlog gauges (by the worker's clock), the lease, the items given up,
// the counters and the lag histogram through failures, fires and a stop.
func TestMetrics(t *testing.T) {
	t.Parallel()
	forEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := openStore(t, d)
		c := clock.NewFake(t0)
		schedule(t, db, item("old", t0.Add(-10*time.Minute)), item("new", t0.Add(-5*time.Minute)),
			item("doomed", t0.Add(-time.Minute)), item("later", t0.Add(time.Hour)))
		h := &handlers{worker: "w"}
		h.setFail(func(f scheduler.Fired) error {
			if f.Key == "doomed" {
				return scheduler.Permanent(errors.New("gone"))
			}
			return errors.New("not yet")
		})
		mp, reader := testkit.MeterProvider(t)
		opts := options(c)
		opts.MeterProvider = mp
		r := start(t, db, h.all(), opts)

		// One collection is no snapshot: its gauges query the table before its counters are read,
		// so a commit in between shows in the counters only. Hence waiting for the settled state.
		m := testkit.WaitMetrics(t, reader, "budget", "three failed attempts, one item given up, two due", func(m map[string]float64) bool {
			return m[scheduler.MetricHandlerErrors] == 3 && m[scheduler.MetricFailedItems] == 1 &&
				m[scheduler.MetricDueItems] == 2 && m[scheduler.MetricLeaseHeld] == 1
		})
		// The oldest due ten minutes ago by the fake clock; doomed is counted apart.
		if math.Abs(m[scheduler.MetricOldestLag]-600) > 1 || m[scheduler.MetricFired] != 0 {
			t.Errorf("while failing: %v; want oldest lag 600 s, none fired", m)
		}

		h.setFail(nil)
		waitAsleepUntil(t, c, t0.Add(time.Second))
		c.Advance(time.Second)
		m = testkit.WaitMetrics(t, reader, "budget", "two items fired, none due", func(m map[string]float64) bool {
			return m[scheduler.MetricFired] == 2 && m[scheduler.MetricDueItems] == 0
		})
		if m[scheduler.MetricOldestLag] != 0 || m[scheduler.MetricFireLag] != 2 || m[scheduler.MetricFailedItems] != 1 {
			t.Errorf("after firing: %v; want lag 0, two lags recorded, one given up", m)
		}

		c.Set(t0.Add(time.Hour))
		m = testkit.WaitMetrics(t, reader, "budget", "later fired", func(m map[string]float64) bool { return m[scheduler.MetricFired] == 3 })
		if m[scheduler.MetricFireLag] != 3 {
			t.Errorf("after later fired: %v; want three lags", m)
		}

		r.stop()
		m = testkit.Metrics(t, reader, "budget")
		if _, ok := m[scheduler.MetricDueItems]; ok {
			t.Errorf("a stopped worker still reports its backlog: %v", m)
		}
		if _, ok := m[scheduler.MetricFailedItems]; ok {
			t.Errorf("a stopped worker still reports the items given up: %v", m)
		}
	})
}
