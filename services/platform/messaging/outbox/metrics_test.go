package outbox_test

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// readMetrics collects the relay's metrics for the "budget" service as name → value.
func readMetrics(t *testing.T, r *sdkmetric.ManualReader) map[string]float64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					if v, _ := p.Attributes.Value("service"); v.AsString() == "budget" {
						out[m.Name] += float64(p.Value)
					}
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					if v, _ := p.Attributes.Value("service"); v.AsString() == "budget" {
						out[m.Name] = float64(p.Value)
					}
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					if v, _ := p.Attributes.Value("service"); v.AsString() == "budget" {
						out[m.Name] = p.Value
					}
				}
			}
		}
	}
	return out
}

// waitMetrics polls the reader until ok accepts the metrics, failing after a deadline.
func waitMetrics(t *testing.T, r *sdkmetric.ManualReader, what string, ok func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		m := readMetrics(t, r)
		if ok(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed %s: %v", what, m)
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation
	}
}

// TestRelayMetrics checks the backlog, its age, the lease and the counters through a publish
// failure (no stream takes the subject yet) and the recovery once the stream exists.
func TestRelayMetrics(t *testing.T) {
	t.Parallel()
	for _, d := range testenv.Databases(t) {
		t.Run(d.Engine, func(t *testing.T) {
			t.Parallel()
			ns := testenv.NATSServer(t)
			db := openDB(t, d)
			_, js := testenv.Connect(t, ns.URL)
			write(t, db, ns.SubjectPrefix, 3, 3)

			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			stream := events.StreamName(ns.SubjectPrefix, "budget")
			r := outbox.NewRelay(db, js, outbox.RelayOptions{Stream: stream, Name: "budget",
				PollInterval: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Logger: quiet, MeterProvider: mp})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- r.Run(ctx) }()
			t.Cleanup(func() { cancel(); <-done })

			m := waitMetrics(t, reader, "a failing relay with a backlog", func(m map[string]float64) bool {
				return m[outbox.MetricPublishError] >= 1 && m[outbox.MetricLeaseHeld] == 1
			})
			if m[outbox.MetricPending] != 3 || m[outbox.MetricPublished] != 0 || m[outbox.MetricOldestAge] <= 0 {
				t.Errorf("while the stream is missing: %v; want pending 3, published 0, a positive age", m)
			}

			ensureStream(t, js, ns.SubjectPrefix)
			m = waitMetrics(t, reader, "the backlog published", func(m map[string]float64) bool {
				return m[outbox.MetricPending] == 0 // counted at the PubAck, marked just after
			})
			if m[outbox.MetricPublished] != 3 || m[outbox.MetricOldestAge] != 0 {
				t.Errorf("after publishing: %v; want published 3 and age 0", m)
			}

			sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer scancel()
			if err := r.Shutdown(sctx); err != nil {
				t.Fatal(err)
			}
			if _, ok := readMetrics(t, reader)[outbox.MetricPending]; ok {
				t.Error("a stopped relay still reports the backlog (its callback was not unregistered)")
			}
		})
	}
}
