package consumer

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/quarterdeck/quarterdeck/services/platform/internal/queuegauge"
)

// instruments are the runtime's metrics. Exposed in Prometheus format by the telemetry package's
// /metrics as quarterdeck_consumer_events_total, quarterdeck_consumer_redeliveries_total,
// quarterdeck_consumer_pending, quarterdeck_consumer_ack_pending,
// quarterdeck_consumer_redelivered and quarterdeck_consumer_dead_letters_pending.
type instruments struct {
	events       metric.Int64Counter
	redeliveries metric.Int64Counter
	reg          metric.Registration
	service      attribute.KeyValue
}

func newInstruments(r *Runtime) (*instruments, error) {
	m := r.opts.MeterProvider.Meter("github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer")
	in := instruments{service: attribute.String("service", r.opts.Service)}
	cs, err := queuegauge.Counters(m, nil,
		queuegauge.Instrument{Name: "quarterdeck.consumer.events", Unit: "{event}",
			Description: "Events handled by a consumer, by outcome: applied, duplicate (already in the inbox), stale (skipped: older than the applied version), failed (to be retried), dead_lettered."},
		queuegauge.Instrument{Name: "quarterdeck.consumer.redeliveries", Unit: "{event}",
			Description: "Deliveries of an event that had been delivered before (after a failure, a crash or an expired ack wait)."})
	if err != nil {
		return nil, fmt.Errorf("consumer metrics: %w", err)
	}
	in.events, in.redeliveries = cs[0], cs[1]
	gs, err := queuegauge.Observables(m,
		queuegauge.Instrument{Name: "quarterdeck.consumer.pending", Unit: "{event}",
			Description: "Events in the stream that the consumer has not been delivered yet (its lag)."},
		queuegauge.Instrument{Name: "quarterdeck.consumer.ack_pending", Unit: "{event}",
			Description: "Events delivered to the consumer and not acknowledged yet."},
		queuegauge.Instrument{Name: "quarterdeck.consumer.redelivered", Unit: "{event}",
			Description: "Unacknowledged events that have been delivered more than once."},
		queuegauge.Instrument{Name: "quarterdeck.consumer.dead_letters_pending", Unit: "{event}",
			Description: "Dead letters waiting for an operator (state PENDING)."})
	if err != nil {
		return nil, fmt.Errorf("consumer metrics: %w", err)
	}
	pending, ackPending, redelivered, dead := gs[0], gs[1], gs[2], gs[3]
	if len(r.order) == 0 {
		return &in, nil
	}
	in.reg, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		for _, rn := range r.order {
			attrs := metric.WithAttributes(r.attrs(rn)...)
			if c := rn.info(); c != nil {
				// A failed lookup (NATS unreachable) leaves the series out of this scrape rather
				// than reporting a made-up zero.
				if info, err := c.Info(ctx); err == nil {
					o.ObserveInt64(pending, int64(info.NumPending), attrs)
					o.ObserveInt64(ackPending, int64(info.NumAckPending), attrs)
					o.ObserveInt64(redelivered, int64(info.NumRedelivered), attrs)
				}
			}
			var n int64
			if err := r.db.QueryRowContext(ctx,
				`SELECT COUNT(*) FROM consumer_dead_letters WHERE consumer = $1 AND state = 'PENDING'`,
				rn.spec.Name).Scan(&n); err == nil {
				o.ObserveInt64(dead, n, attrs)
			}
		}
		return nil
	}, pending, ackPending, redelivered, dead)
	if err != nil {
		return nil, fmt.Errorf("consumer metrics: %w", err)
	}
	return &in, nil
}

func (r *Runtime) attrs(rn *runner) []attribute.KeyValue {
	return []attribute.KeyValue{attribute.String("service", r.opts.Service), attribute.String("consumer", rn.spec.Name)}
}

func (m *instruments) outcome(ctx context.Context, rn *runner, outcome string) {
	m.events.Add(ctx, 1, metric.WithAttributes(m.service, attribute.String("consumer", rn.spec.Name), attribute.String("outcome", outcome)))
}

func (m *instruments) redelivery(ctx context.Context, rn *runner) {
	m.redeliveries.Add(ctx, 1, metric.WithAttributes(m.service, attribute.String("consumer", rn.spec.Name)))
}

// close stops the observations, which read the database and NATS.
func (m *instruments) close() {
	queuegauge.Unregister(m.reg)
}
