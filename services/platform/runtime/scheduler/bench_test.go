package scheduler_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// BenchmarkBurst fires 10,000 items due at the same instant on the real clock, by the number of
// items per transaction, and reports the rate and the lag (fire time − due time) of the items.
// Each handler writes a row and an outbox event, as a service's would.
//
//	go test -run '^$' -bench Burst -benchtime 1x ./runtime/scheduler/
func BenchmarkBurst(b *testing.B) {
	for _, batch := range []int{1, 16, 64, 128, 256} {
		for _, engine := range []string{testenv.EngineSQLite, testenv.EnginePostgres} {
			b.Run(fmt.Sprintf("%s/batch=%d", engine, batch), func(b *testing.B) {
				for range b.N {
					drain(b, database(b, engine), batch, 10_000, 0)
				}
			})
		}
	}
}

// BenchmarkSpread fires 10,000 items due evenly over a minute (the proof's load) and reports
// their lag.
//
//	go test -run '^$' -bench Spread -benchtime 1x ./runtime/scheduler/
func BenchmarkSpread(b *testing.B) {
	for _, batch := range []int{1, scheduler.DefaultBatchSize} {
		for _, engine := range []string{testenv.EngineSQLite, testenv.EnginePostgres} {
			b.Run(fmt.Sprintf("%s/batch=%d", engine, batch), func(b *testing.B) {
				for range b.N {
					drain(b, database(b, engine), batch, 10_000, time.Minute)
				}
			})
		}
	}
}

func database(b *testing.B, engine string) testenv.Database {
	if engine == testenv.EngineSQLite {
		return testenv.SQLite(b)
	}
	return testenv.Postgres(b)
}

// drain schedules n items due from a few seconds from now over spread, runs a worker with batch
// items per transaction until all fired, and reports the rate from the first due time to the
// last fire, and the lag percentiles.
func drain(b *testing.B, d testenv.Database, batch, n int, spread time.Duration) {
	b.StopTimer()
	db := openStore(b, d)
	first := time.Now().Add(3 * time.Second).UTC()
	items := make([]scheduler.Item, n)
	for i := range items {
		due := first
		if spread > 0 {
			due = first.Add(spread * time.Duration(i) / time.Duration(n))
		}
		items[i] = item(fmt.Sprintf("i%05d", i), due)
	}
	for chunk := range slices.Chunk(items, 500) {
		schedule(b, db, chunk...)
	}
	if time.Now().After(first) {
		b.Fatal("scheduling took longer than the head start")
	}
	w, err := scheduler.NewWorker(db, (&handlers{worker: "w"}).all(), scheduler.Options{Name: "budget", Logger: quiet,
		Settings: scheduler.Settings{BatchSize: batch}})
	if err != nil {
		b.Fatal(err)
	}
	db.AfterCommitOf(scheduler.Work, w.Notify) // as the host wires it
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	defer func() { cancel(); <-done }()

	b.StartTimer()
	waitWithin(b, spread+time.Minute, "every item fired", func() bool {
		left, err := sqlstore.Value[int](context.Background(), db, "unfired", `SELECT COUNT(*) FROM scheduled_items WHERE fired_at IS NULL`)
		return err == nil && left == 0
	})
	b.StopTimer()

	type times struct{ due, fired time.Time }
	rows, err := sqlstore.All(context.Background(), db, "items", func(s sqlstore.Scanner) (times, error) {
		var t times
		err := s.Scan(&t.due, &t.fired)
		return t, err
	}, `SELECT due_at, fired_at FROM scheduled_items`)
	if err != nil {
		b.Fatal(err)
	}
	lags := make([]time.Duration, 0, len(rows))
	var last time.Time
	for _, r := range rows {
		if r.fired.Before(r.due) {
			b.Fatalf("an item fired early: due %v, fired %v", r.due, r.fired)
		}
		lags = append(lags, r.fired.Sub(r.due))
		if r.fired.After(last) {
			last = r.fired
		}
	}
	if got := outboxEvents(b, db); got != n {
		b.Fatalf("%d events for %d items", got, n)
	}
	slices.Sort(lags)
	pct := func(p float64) float64 { return float64(lags[int(p*float64(len(lags)-1))].Milliseconds()) }
	b.ReportMetric(float64(n)/last.Sub(first).Seconds(), "items/s")
	b.ReportMetric(pct(0.5), "lag_p50_ms")
	b.ReportMetric(pct(0.99), "lag_p99_ms")
	b.ReportMetric(pct(1), "lag_max_ms")
}
