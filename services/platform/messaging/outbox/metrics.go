package outbox

import (
	"context"
	"fmt"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/internal/queuegauge"
)

// Metric names, as OpenTelemetry instruments. The Prometheus exporter at /metrics turns the dots
// into underscores and appends _total to counters and _seconds to durations.
const (
	MetricPending      = "quarterdeck.outbox.pending"              // gauge: unpublished rows
	MetricOldestAge    = "quarterdeck.outbox.oldest_pending_age"   // gauge, seconds: age of the oldest unpublished row
	MetricPublished    = "quarterdeck.outbox.published"            // counter: events acknowledged by JetStream
	MetricPublishError = "quarterdeck.outbox.publish_errors"       // counter: failed publish attempts
	MetricBatched      = "quarterdeck.outbox.published_in_batches" // counter: of MetricPublished, in atomic batches
	MetricBatchRefused = "quarterdeck.outbox.batches_refused"      // counter: atomic batches refused, their events then published one by one
	MetricLeaseHeld    = "quarterdeck.outbox.relay.lease_held"     // gauge 0/1: this replica's relay is the active one
	meterName          = "github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
)

// newRelayMetrics registers r's instruments on its meter provider. Every replica reports the
// backlog it sees (they share the table, so the figures agree); only the lease holder counts
// publishes. The backlog gauges run two index-only queries on the partial index outbox_pending per
// scrape, whatever the table's size.
func newRelayMetrics(r *Relay) (*queuegauge.Set, error) {
	m, err := queuegauge.Register(r.opts.MeterProvider, meterName, r.opts.Name, queuegauge.Gauges{
		Pending:              MetricPending,
		PendingDescription:   "Events committed to the outbox and not yet acknowledged by JetStream.",
		Unit:                 "{event}",
		OldestAge:            MetricOldestAge,
		OldestAgeDescription: "Age of the oldest unpublished outbox event (0 when none is waiting).",
		LeaseHeld:            MetricLeaseHeld,
		LeaseHeldDescription: "1 while this replica's outbox relay is the active one, else 0.",
	}, func(ctx context.Context) (int64, time.Time, error) { return Pending(ctx, r.db) }, r.loop.Leased,
		queuegauge.Instrument{Name: MetricPublished, Unit: "{event}",
			Description: "Events the outbox relay published and JetStream acknowledged."},
		queuegauge.Instrument{Name: MetricPublishError, Unit: "{error}",
			Description: "Failed outbox publish attempts (each is retried)."},
		queuegauge.Instrument{Name: MetricBatched, Unit: "{event}",
			Description: "Of the events published, those that went out in an atomic batch (a backlog, on a stream that takes them)."},
		queuegauge.Instrument{Name: MetricBatchRefused, Unit: "{batch}",
			Description: "Atomic batches JetStream refused whole (one held an event stored already, say); their events then went out one by one."})
	if err != nil {
		return nil, fmt.Errorf("outbox metrics: %w", err)
	}
	return m, nil
}
