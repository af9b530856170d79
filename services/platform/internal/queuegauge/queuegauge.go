// Package queuegauge exports the gauges of a queue in a service's database that one elected worker
// works off — the outbox that the relay publishes, the audit records that the sealer chains: how
// many items wait, how old the oldest is, and whether this replica's worker is the active one — and
// creates the counters and gauges that the platform's workers and consumers register alike.
package queuegauge

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/metric"
)

// observeTimeout bounds the query behind one scrape, so that a slow database delays /metrics by
// at most this much.
const observeTimeout = 2 * time.Second

// Gauges names and describes the three gauges of a backlog.
type Gauges struct {
	// Pending counts the waiting items, in Unit.
	Pending, PendingDescription string
	Unit                        string
	// OldestAge is the age in seconds of the oldest waiting item (0 when none waits).
	OldestAge, OldestAgeDescription string
	// LeaseHeld is 1 while this replica's worker holds the lease, else 0.
	LeaseHeld, LeaseHeldDescription string
}

// Observe registers the gauges of g on m. read counts the waiting items and returns the time of
// the oldest; leading reports whether this replica's worker holds the lease. A failing read
// leaves the backlog gauges out of that scrape rather than reporting 0. The caller unregisters
// the returned registration when the worker stops.
func Observe(m metric.Meter, g Gauges, attrs metric.MeasurementOption,
	read func(ctx context.Context) (n int64, oldest time.Time, err error), leading func() bool) (metric.Registration, error) {
	pending, err := m.Int64ObservableGauge(g.Pending, metric.WithUnit(g.Unit), metric.WithDescription(g.PendingDescription))
	if err != nil {
		return nil, err
	}
	age, err := m.Float64ObservableGauge(g.OldestAge, metric.WithUnit("s"), metric.WithDescription(g.OldestAgeDescription))
	if err != nil {
		return nil, err
	}
	lease, err := m.Int64ObservableGauge(g.LeaseHeld, metric.WithDescription(g.LeaseHeldDescription))
	if err != nil {
		return nil, err
	}
	return m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		held := int64(0)
		if leading() {
			held = 1
		}
		o.ObserveInt64(lease, held, attrs)
		ctx, cancel := context.WithTimeout(ctx, observeTimeout)
		defer cancel()
		n, oldest, err := read(ctx)
		if err != nil {
			return err
		}
		o.ObserveInt64(pending, n, attrs)
		a := 0.0
		if n > 0 {
			a = max(time.Since(oldest).Seconds(), 0)
		}
		o.ObserveFloat64(age, a, attrs)
		return nil
	}, pending, age, lease)
}
