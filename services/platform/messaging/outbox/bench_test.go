package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// BenchmarkNATSMsg measures building the message the relay publishes for one outbox row.
func BenchmarkNATSMsg(b *testing.B) {
	m := outbox.Message{
		ID: "01a243b7-cc9a-77f5-96ad-3ae553a4b02d", Subject: "quarterdeck.budget.cost_center.created",
		Type: "quarterdeck.budget.v1.CostCenterCreated", Source: "/quarterdeck/budget",
		ResourceName: "costCenters/cc-1", AggregateVersion: 1, Time: time.Now().UTC(),
		Payload:     []byte(`{"costCenter":{"name":"costCenters/cc-1"}}`),
		TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = m.NATSMsg()
	}
}

// BenchmarkRelayDrain measures how fast the relay drains a backlog of 10,000 events of distinct
// resources on PostgreSQL (the test environment's server) into a NATS server of the test
// environment: each iteration writes the backlog with the relay stopped, then times the relay
// from its start until nothing is pending. Run it with -benchtime 3x or so.
func BenchmarkRelayDrain(b *testing.B) {
	const n = 10000
	d := testenv.Postgres(b)
	ns := testenv.NATSServer(b)
	_, js := testenv.Connect(b, ns.URL)
	db := testkit.Open(b, d, outbox.Migrations)
	ctx := context.Background()
	if _, err := events.EnsureStream(ctx, js, events.StreamConfig{Prefix: ns.SubjectPrefix}, "budget"); err != nil {
		b.Fatal(err)
	}
	stream := events.StreamName(ns.SubjectPrefix, "budget")
	f, err := outbox.NewFactory(ns.SubjectPrefix, nil)
	if err != nil {
		b.Fatal(err)
	}
	var total time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for start := 0; start < n; start += 1000 {
			if err := db.InTx(ctx, func(tx *sql.Tx) error {
				for j := start; j < start+1000; j++ {
					m, err := f.New(ctx, &budgetv1.CostCenterCreated{Version: 1}, fmt.Sprintf("costCenters/b%d-%d", i, j), 1)
					if err != nil {
						return err
					}
					if err := outbox.Insert(ctx, tx, m); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				b.Fatal(err)
			}
		}
		r := outbox.NewRelay(db, js, outbox.RelayOptions{Stream: stream, Name: "budget", Logger: quiet})
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		b.StartTimer()
		began := time.Now()
		go func() { done <- r.Run(rctx) }()
		for {
			pending, _, err := outbox.Pending(ctx, db)
			if err != nil {
				b.Fatal(err)
			}
			if pending == 0 {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		total += time.Since(began)
		b.StopTimer()
		cancel()
		if err := <-done; err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s")
}
