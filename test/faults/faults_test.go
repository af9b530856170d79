package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/test/internal/proc"
)

// TestMain lets the test binary double as the embedded NATS server the run kills, as the
// program does.
func TestMain(m *testing.M) { proc.TestMain(m, roleEnv, runRole) }

// TestFaultsReduced is the fault proof at CI size: 1,000 creates and 100 updates while the relay
// holder, the NATS server and the consumer process are each killed with SIGKILL three times and
// the consumer is paused once past its ack wait; every event must then have exactly one effect.
// It runs with the relays publishing every event alone, and with their backlogs in atomic
// batches.
func TestFaultsReduced(t *testing.T) {
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		t.Skip(dsnEnv + " is not set: the fault proof needs a PostgreSQL server to create its schema in")
	}
	if testing.Short() {
		t.Skip("skipped with -short: the fault proof takes about a minute; make test and CI run it")
	}
	for _, atomic := range []bool{false, true} {
		t.Run(map[bool]string{false: "one by one", true: "atomic batches"}[atomic], func(t *testing.T) { faultsReduced(t, dsn, atomic) })
	}
}

// faultsReduced runs the reduced proof, the replicas' relays publishing backlogs in atomic
// batches or every event alone.
func faultsReduced(t *testing.T, dsn string, atomic bool) {
	cfg := config{DSN: dsn, Replicas: 2, Creates: 1000, Workers: 8, RelayKills: 2, NATSKills: 2,
		Updates: 2, UpdateAggs: 50, Downtime: time.Second, NATSDowntime: 6 * time.Second, DrainTimeout: 2 * time.Minute,
		ConsumerKills: 2, ConsumerPauses: 1, ConsumerAckWait: 2 * time.Second, ConsumerWork: 5 * time.Millisecond, CatchUpTimeout: 2 * time.Minute,
		AtomicBatches: atomic}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
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
	if sum.Missing != 0 || sum.Duplicates != 0 || sum.OutOfOrder != 0 || sum.LostCommits != 0 || len(sum.Failures) != 0 {
		t.Fatalf("the run found violations: %v", sum.Failures)
	}
	if sum.Rows != cfg.Creates || sum.StreamMessages != cfg.Creates+cfg.Updates*cfg.UpdateAggs {
		t.Fatalf("%d rows and %d messages; want %d and %d", sum.Rows, sum.StreamMessages, cfg.Creates, cfg.Creates+cfg.Updates*cfg.UpdateAggs)
	}
	if sum.RelayKills != 3 || sum.NATSKills != 3 || sum.ConsumerKills != 3 || sum.ConsumerPauses != 1 {
		t.Fatalf("kills: relay %d, NATS %d, consumer %d, consumer pauses %d; want 3, 3, 3 and 1",
			sum.RelayKills, sum.NATSKills, sum.ConsumerKills, sum.ConsumerPauses)
	}
	events := cfg.Creates + cfg.Updates*cfg.UpdateAggs
	if sum.Effects+sum.Stale != events || sum.EffectRows != sum.Effects || sum.EffectDuplicates != 0 ||
		sum.EffectsMissing != 0 || sum.EffectOrphans != 0 {
		t.Fatalf("consumer: %d events with an effect, %d stale, %d effect rows, %d duplicates, %d missing, %d orphans; want %d events each applied once",
			sum.Effects, sum.Stale, sum.EffectRows, sum.EffectDuplicates, sum.EffectsMissing, sum.EffectOrphans, events)
	}
	// A NATS outage leaves hundreds of events waiting: the relay's first read after it is a
	// backlog, which goes out in batches exactly when the streams take them.
	if atomic != (sum.Batched > 0) {
		t.Fatalf("%d of %d messages went out in atomic batches; want some exactly when the streams take them (%v)", sum.Batched, sum.StreamMessages, atomic)
	}
}

func TestPlanInterleaves(t *testing.T) {
	got := plan(3, 1, 2, 1)
	want := []action{killRelay, killNATS, killConsumer, pauseConsumer, killRelay, killConsumer, killRelay}
	if len(got) != len(want) {
		t.Fatalf("plan(3, 1, 2, 1) = %v, want %v", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("plan(3, 1, 2, 1) = %v, want %v", got, want)
		}
	}
}

// TestGateHoldsCallsUntilTheFault checks that a call past a fault's threshold waits for the kill.
func TestGateHoldsCallsUntilTheFault(t *testing.T) {
	g := newGate(2, 90) // faults at calls 30 and 60
	if err := g.wait(context.Background(), 29); err != nil {
		t.Fatalf("call 29 before any fault: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := g.wait(ctx, 30); err == nil {
		t.Fatal("call 30 went ahead before the first fault")
	}
	close(g.fired[0])
	if err := g.wait(context.Background(), 59); err != nil {
		t.Fatalf("call 59 after the first fault: %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := g.wait(ctx2, 60); err == nil {
		t.Fatal("call 60 went ahead before the second fault")
	}
}
