package consumer_test

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestKilledAndPausedConsumer is the consumer's proof: while 10,000 events are published, one
// consumer instance is killed (its connection closed and its work abandoned mid-flight), and a
// later one pauses inside a transaction for three times its ack wait while a competing instance
// of the same durable receives the events whose ack wait expired. Every event must have exactly
// one effect.
func TestKilledAndPausedConsumer(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: publishes and consumes 10,000 events; make test and CI run it")
	}
	const total = 10000
	forEachDatabase(t, func(t *testing.T, e *env) {
		settings := consumer.Settings{MaxDeliver: 1000, AckWait: 2 * time.Second, BackoffInitial: 50 * time.Millisecond,
			BackoffMax: 200 * time.Millisecond, MaxAckPending: 32}
		mp, reader := testkit.MeterProvider(t)

		var applied atomic.Int64
		var paused atomic.Bool
		handler := func(pause bool) consumer.Handler {
			return func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
				if err := recordEffect(ctx, tx, ev); err != nil {
					return err
				}
				if pause && applied.Load() >= total/2 && paused.CompareAndSwap(false, true) {
					// The fault itself, not a wait for something: hold the transaction open
					// well past the ack wait, so JetStream hands the event to another instance.
					select {
					case <-time.After(3 * settings.AckWait):
					case <-ctx.Done():
						return ctx.Err()
					}
				}
				applied.Add(1)
				return nil
			}
		}
		instance := func(name string, h consumer.Handler) (*consumer.Runtime, *nats.Conn, context.CancelFunc) {
			nc, err := nats.Connect(e.nats.URL, nats.Name("consumer-proof-"+name))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(nc.Close)
			js, err := jetstream.New(nc)
			if err != nil {
				t.Fatal(err)
			}
			rt, kill := e.start(t, js, settings, h, func(o *consumer.Options) { o.MeterProvider = mp })
			return rt, nc, kill
		}

		published := make(chan error, 1)
		go func() { published <- publishMany(e, total) }()

		// Instance A is killed once it has applied a fifth of the events.
		a, ncA, killA := instance("a", handler(false))
		testkit.Eventually(t, 2*time.Minute, func() bool { return applied.Load() >= total/5 })
		killA()
		ncA.Close()
		a.Wait()

		// B pauses once, mid-transaction, past its ack wait; C competes for the same durable.
		instance("b", handler(true))
		instance("c", handler(false))
		if err := <-published; err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 8*time.Minute, func() bool {
			if effects(t, e.db).distinct < total {
				return false
			}
			i := e.consumerInfo(t)
			return i != nil && i.NumPending == 0 && i.NumAckPending == 0
		})
		if !paused.Load() {
			t.Fatal("instance b never paused")
		}
		c := effects(t, e.db)
		redeliveries, duplicates := sums(t, reader)
		t.Logf("%s: %d events, %d effects (%d distinct), %d redeliveries, %d duplicates absorbed by the inbox",
			e.db.Engine(), total, c.rows, c.distinct, redeliveries, duplicates)
		if c.rows != total || c.distinct != total {
			t.Fatalf("effects: %d rows for %d distinct events, want %d and %d (missing: %d, doubled: %d)",
				c.rows, c.distinct, total, total, total-c.distinct, c.rows-c.distinct)
		}
		if redeliveries == 0 {
			t.Fatal("no event was redelivered: the kill and the pause did not exercise recovery")
		}
	})
}

// publishMany publishes n events, each about its own resource, in asynchronous batches.
func publishMany(e *env, n int) error {
	const batch = 500
	for start := 0; start < n; start += batch {
		futures := make([]jetstream.PubAckFuture, 0, batch)
		for i := start; i < min(start+batch, n); i++ {
			f, err := e.js.PublishMsgAsync(e.event(fmt.Sprintf("proof-%05d", i), fmt.Sprintf("costCenters/p%d", i), 1))
			if err != nil {
				return err
			}
			futures = append(futures, f)
		}
		select {
		case <-e.js.PublishAsyncComplete():
		case <-time.After(time.Minute):
			return fmt.Errorf("publish batch at %d: no acknowledgement within a minute", start)
		}
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return fmt.Errorf("publish %s: %w", f.Msg().Header.Get("ce-id"), err)
			}
		}
	}
	return nil
}

// sums reads the redelivery counter and the duplicate outcome of the events counter.
func sums(t *testing.T, reader *sdkmetric.ManualReader) (redeliveries, duplicates int64) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				continue
			}
			for _, dp := range sum.DataPoints {
				switch m.Name {
				case "quarterdeck.consumer.redeliveries":
					redeliveries += dp.Value
				case "quarterdeck.consumer.events":
					if v, _ := dp.Attributes.Value(attribute.Key("outcome")); v.AsString() == "duplicate" {
						duplicates += dp.Value
					}
				}
			}
		}
	}
	return redeliveries, duplicates
}
