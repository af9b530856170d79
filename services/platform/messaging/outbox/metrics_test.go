package outbox_test

import (
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestRelayMetrics checks the backlog, its age, the lease and the counters through a publish
// failure (no stream takes the subject yet) and the recovery once the stream exists.
func TestRelayMetrics(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		e := newEnv(t, d)
		write(t, e.db, e.prefix, 3, 3)

		mp, reader := testkit.MeterProvider(t)
		r := runRelayWith(t, e.db, e.js, outbox.RelayOptions{Stream: e.stream,
			PollInterval: 50 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, MeterProvider: mp})

		m := testkit.WaitMetrics(t, reader, "budget", "a failing relay with a backlog", func(m map[string]float64) bool {
			return m[outbox.MetricPublishError] >= 1 && m[outbox.MetricLeaseHeld] == 1
		})
		if m[outbox.MetricPending] != 3 || m[outbox.MetricPublished] != 0 || m[outbox.MetricOldestAge] <= 0 {
			t.Errorf("while the stream is missing: %v; want pending 3, published 0, a positive age", m)
		}

		ensureStream(t, e.js, e.prefix)
		m = testkit.WaitMetrics(t, reader, "budget", "the backlog published", func(m map[string]float64) bool {
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
