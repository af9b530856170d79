package outbox

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/quarterdeck/quarterdeck/services/platform/internal/queuegauge"
)

// Metric names, as OpenTelemetry instruments. The Prometheus exporter at /metrics turns the dots
// into underscores and appends _total to counters and _seconds to durations.
const (
	MetricPending      = "quarterdeck.outbox.pending"            // gauge: unpublished rows
	MetricOldestAge    = "quarterdeck.outbox.oldest_pending_age" // gauge, seconds: age of the oldest unpublished row
	MetricPublished    = "quarterdeck.outbox.published"          // counter: events acknowledged by JetStream
	MetricPublishError = "quarterdeck.outbox.publish_errors"     // counter: failed publish attempts
	MetricLeaseHeld    = "quarterdeck.outbox.relay.lease_held"   // gauge 0/1: this replica's relay is the active one
	meterName          = "github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
)

// relayMetrics are one relay's instruments. Every replica reports the backlog it sees (they share
// the table, so the figures agree); only the lease holder counts publishes.
type relayMetrics struct {
	attrs     metric.MeasurementOption
	published metric.Int64Counter
	errors    metric.Int64Counter
	reg       metric.Registration
}

// newRelayMetrics registers r's instruments on its meter provider. The backlog gauges run two
// index-only queries on the partial index outbox_pending per scrape, whatever the table's size.
func newRelayMetrics(r *Relay) (*relayMetrics, error) {
	mp := r.opts.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(meterName)
	rm := &relayMetrics{attrs: metric.WithAttributes(attribute.String("service", r.opts.Name))}
	var err error
	if rm.published, err = m.Int64Counter(MetricPublished, metric.WithUnit("{event}"),
		metric.WithDescription("Events the outbox relay published and JetStream acknowledged.")); err != nil {
		return nil, fmt.Errorf("outbox metrics: %w", err)
	}
	if rm.errors, err = m.Int64Counter(MetricPublishError, metric.WithUnit("{error}"),
		metric.WithDescription("Failed outbox publish attempts (each is retried).")); err != nil {
		return nil, fmt.Errorf("outbox metrics: %w", err)
	}
	// Zero from the start, so rate() and alerts see the series before the first event.
	rm.published.Add(context.Background(), 0, rm.attrs)
	rm.errors.Add(context.Background(), 0, rm.attrs)
	rm.reg, err = queuegauge.Observe(m, queuegauge.Gauges{
		Pending:              MetricPending,
		PendingDescription:   "Events committed to the outbox and not yet acknowledged by JetStream.",
		Unit:                 "{event}",
		OldestAge:            MetricOldestAge,
		OldestAgeDescription: "Age of the oldest unpublished outbox event (0 when none is waiting).",
		LeaseHeld:            MetricLeaseHeld,
		LeaseHeldDescription: "1 while this replica's outbox relay is the active one, else 0.",
	}, rm.attrs, func(ctx context.Context) (int64, time.Time, error) { return Pending(ctx, r.db) }, r.loop.Leased)
	if err != nil {
		return nil, fmt.Errorf("outbox metrics: %w", err)
	}
	return rm, nil
}

func (rm *relayMetrics) close() {
	if rm != nil && rm.reg != nil {
		_ = rm.reg.Unregister()
	}
}

func (rm *relayMetrics) publishedOne(ctx context.Context) {
	if rm != nil {
		rm.published.Add(ctx, 1, rm.attrs)
	}
}

func (rm *relayMetrics) failed(ctx context.Context) {
	if rm != nil {
		rm.errors.Add(ctx, 1, rm.attrs)
	}
}
