package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/test/internal/proc"
)

// TestMain lets the test binary double as the worker processes the run kills, as the program
// does.
func TestMain(m *testing.M) { proc.TestMain(m, roleEnv, runRole) }

// TestSchedulerProofReduced is the scheduler proof at CI size: 1,000 items due over 10 s, the
// active worker killed with SIGKILL after a third and after two thirds of them fired — on
// PostgreSQL (when QUARTERDECK_TEST_POSTGRES_DSN is set) the standby replica takes over, on
// SQLite the single worker is restarted. Every item must fire exactly once, none early, in due
// order. It asserts no latency: the lag is logged.
func TestSchedulerProofReduced(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: the scheduler proof takes about 20 s; make test and CI run it")
	}
	engines := []string{engineSQLite}
	if os.Getenv(dsnEnv) != "" {
		engines = append(engines, enginePostgres)
	} else {
		t.Log(dsnEnv + " is not set: the proof runs on SQLite only")
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			cfg := config{Engine: engine, DSN: os.Getenv(dsnEnv), Replicas: 2, Items: 1000, Window: 10 * time.Second,
				Lead: 5 * time.Second, ScheduleTx: 100, Kills: 2, Downtime: time.Second,
				PollInterval: scheduler.DefaultPollInterval, BatchSize: scheduler.DefaultBatchSize, CatchUp: time.Minute}
			if err := cfg.validate(); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
			defer cancel()
			sum, err := run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if sum != nil {
				var b strings.Builder
				sum.print(&b)
				t.Log("\n" + b.String())
			}
			if err != nil {
				t.Fatal(err)
			}
			if sum.Fired != cfg.Items || sum.Effects != cfg.Items || sum.Missing != 0 || sum.Duplicates != 0 ||
				sum.Early != 0 || sum.OutOfOrder != 0 || sum.Mismatched != 0 || sum.Orphans != 0 || len(sum.Failures) != 0 {
				t.Fatalf("%d items fired, %d effects, %d missing, %d duplicates, %d early, %d out of order, %d mismatched, %d orphans; want %d fired once each: %v",
					sum.Fired, sum.Effects, sum.Missing, sum.Duplicates, sum.Early, sum.OutOfOrder, sum.Mismatched, sum.Orphans, cfg.Items, sum.Failures)
			}
			if len(sum.Kills) != cfg.Kills {
				t.Fatalf("%d kills, want %d", len(sum.Kills), cfg.Kills)
			}
			for i, k := range sum.Kills {
				if k.FirstBy == "" || k.FirstBy == k.Worker {
					t.Errorf("kill %d of %s: no other worker fired afterwards", i+1, k.Worker)
				}
				if engine == enginePostgres && (k.LeaseTo == "" || k.LeaseTo == k.Victim) {
					t.Errorf("kill %d of %s: the lease went to %q", i+1, k.Victim, k.LeaseTo)
				}
			}
		})
	}
}
