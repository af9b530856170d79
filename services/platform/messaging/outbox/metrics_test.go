package outbox_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// waitMetrics waits until ok accepts the relay's metrics for the "budget" service, failing after a
// deadline, and returns them.
func waitMetrics(t *testing.T, r *sdkmetric.ManualReader, what string, ok func(map[string]float64) bool) map[string]float64 {
	t.Helper()
	var m map[string]float64
	testkit.Eventually(t, 20*time.Second, func() error {
		if m = testkit.Metrics(t, r, "budget"); !ok(m) {
			return fmt.Errorf("metrics never showed %s: %v", what, m)
		}
		return nil
	})
	return m
}

// TestRelayMetrics checks the backlog, its age, the lease and the counters through a publish
// failure (no stream takes the subject yet) and the recovery once the stream exists.
func TestRelayMetrics(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		e := newEnv(t, d)
		write(t, e.db, e.prefix, 3, 3)

		reader := sdkmetric.NewManualReader()
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
		t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		r := runRelayWith(t, e.db, e.js, outbox.RelayOptions{Stream: e.stream,
			PollInterval: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, MeterProvider: mp})

		m := waitMetrics(t, reader, "a failing relay with a backlog", func(m map[string]float64) bool {
			return m[outbox.MetricPublishError] >= 1 && m[outbox.MetricLeaseHeld] == 1
		})
		if m[outbox.MetricPending] != 3 || m[outbox.MetricPublished] != 0 || m[outbox.MetricOldestAge] <= 0 {
			t.Errorf("while the stream is missing: %v; want pending 3, published 0, a positive age", m)
		}

		ensureStream(t, e.js, e.prefix)
		m = waitMetrics(t, reader, "the backlog published", func(m map[string]float64) bool {
			return m[outbox.MetricPending] == 0 // counted at the PubAck, marked just after
		})
		if m[outbox.MetricPublished] != 3 || m[outbox.MetricOldestAge] != 0 {
			t.Errorf("after publishing: %v; want published 3 and age 0", m)
		}

		if err := r.stop(); err != nil {
			t.Fatal(err)
		}
		if _, ok := testkit.Metrics(t, reader, "budget")[outbox.MetricPending]; ok {
			t.Error("a stopped relay still reports the backlog (its callback was not unregistered)")
		}
	})
}
