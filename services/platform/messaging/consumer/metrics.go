package consumer

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
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
	var (
		in  = instruments{service: attribute.String("service", r.opts.Service)}
		err error
	)
	if in.events, err = m.Int64Counter("quarterdeck.consumer.events",
		metric.WithDescription("Events handled by a consumer, by outcome: applied, duplicate (already in the inbox), stale (skipped: older than the applied version), failed (to be retried), dead_lettered."),
		metric.WithUnit("{event}")); err != nil {
		return nil, fmt.Errorf("consumer metrics: %w", err)
	}
	if in.redeliveries, err = m.Int64Counter("quarterdeck.consumer.redeliveries",
		metric.WithDescription("Deliveries of an event that had been delivered before (after a failure, a crash or an expired ack wait)."),
		metric.WithUnit("{event}")); err != nil {
		return nil, fmt.Errorf("consumer metrics: %w", err)
	}
	pending, err := m.Int64ObservableGauge("quarterdeck.consumer.pending",
		metric.WithDescription("Events in the stream that the consumer has not been delivered yet (its lag)."),
		metric.WithUnit("{event}"))
	if err != nil {
		return nil, fmt.Errorf("consumer metrics: %w", err)
	}
	ackPending, err := m.Int64ObservableGauge("quarterdeck.consumer.ack_pending",
		metric.WithDescription("Events delivered to the consumer and not acknowledged yet."),
		metric.WithUnit("{event}"))
	if err != nil {
		return nil, fmt.Errorf("consumer metrics: %w", err)
	}
	redelivered, err := m.Int64ObservableGauge("quarterdeck.consumer.redelivered",
		metric.WithDescription("Unacknowledged events that have been delivered more than once."),
		metric.WithUnit("{event}"))
	if err != nil {
		return nil, fmt.Errorf("consumer metrics: %w", err)
	}
	dead, err := m.Int64ObservableGauge("quarterdeck.consumer.dead_letters_pending",
		metric.WithDescription("Dead letters waiting for an operator (state PENDING)."),
		metric.WithUnit("{event}"))
	if err != nil {
		return nil, fmt.Errorf("consumer metrics: %w", err)
	}
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
	if m.reg != nil {
		_ = m.reg.Unregister()
	}
}
