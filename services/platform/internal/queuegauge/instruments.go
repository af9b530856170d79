package queuegauge

import (
	"context"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Instrument names and describes one instrument.
type Instrument struct {
	Name, Unit, Description string
}

// Meter is mp's meter called name, or the global provider's when mp is nil.
func Meter(mp metric.MeterProvider, name string) metric.Meter {
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	return mp.Meter(name)
}

// Counters creates a counter on m for each of ins, in their order. With attrs, each counter starts
// at 0 under them, so that rate() and alerts see the series before the first event.
func Counters(m metric.Meter, attrs metric.MeasurementOption, ins ...Instrument) ([]metric.Int64Counter, error) {
	cs := make([]metric.Int64Counter, len(ins))
	for i, in := range ins {
		c, err := m.Int64Counter(in.Name, metric.WithUnit(in.Unit), metric.WithDescription(in.Description))
		if err != nil {
			return nil, err
		}
		cs[i] = c
	}
	if attrs != nil {
		for _, c := range cs {
			c.Add(context.Background(), 0, attrs)
		}
	}
	return cs, nil
}

// Observables creates an observable gauge on m for each of ins, in their order, for one callback to
// observe.
func Observables(m metric.Meter, ins ...Instrument) ([]metric.Int64ObservableGauge, error) {
	gs := make([]metric.Int64ObservableGauge, len(ins))
	for i, in := range ins {
		g, err := m.Int64ObservableGauge(in.Name, metric.WithUnit(in.Unit), metric.WithDescription(in.Description))
		if err != nil {
			return nil, err
		}
		gs[i] = g
	}
	return gs, nil
}

// Count registers the gauge in on m, observed under attrs from read at each scrape. A failing read
// leaves the gauge out of that scrape rather than reporting 0.
func Count(m metric.Meter, in Instrument, attrs metric.MeasurementOption, read func(ctx context.Context) (int64, error)) (metric.Registration, error) {
	gs, err := Observables(m, in)
	if err != nil {
		return nil, err
	}
	return m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		ctx, cancel := context.WithTimeout(ctx, observeTimeout)
		defer cancel()
		n, err := read(ctx)
		if err != nil {
			return err
		}
		o.ObserveInt64(gs[0], n, attrs)
		return nil
	}, gs[0])
}

// Unregister ends each of regs that is not nil.
func Unregister(regs ...metric.Registration) {
	for _, r := range regs {
		if r != nil {
			_ = r.Unregister()
		}
	}
}

// Set is the instruments of one elected worker, all under the attribute service: its counters,
// each started at 0, and the gauges of its backlog. Its methods do nothing on a nil Set, the
// worker's when its metrics could not be registered.
type Set struct {
	// Meter and Attrs are for the worker's own further instruments.
	Meter    metric.Meter
	Attrs    metric.MeasurementOption
	counters map[string]metric.Int64Counter
	regs     []metric.Registration
}

// Register creates on mp's meter called meterName (the global provider's when mp is nil) the
// counters and the backlog gauges g of the worker of service; read and leading are Observe's.
func Register(mp metric.MeterProvider, meterName, service string, g Gauges,
	read func(ctx context.Context) (n int64, oldest time.Time, err error), leading func() bool,
	counters ...Instrument) (*Set, error) {
	s := &Set{Meter: Meter(mp, meterName), Attrs: metric.WithAttributes(attribute.String("service", service)),
		counters: make(map[string]metric.Int64Counter, len(counters))}
	cs, err := Counters(s.Meter, s.Attrs, counters...)
	if err != nil {
		return nil, err
	}
	for i, in := range counters {
		s.counters[in.Name] = cs[i]
	}
	reg, err := Observe(s.Meter, g, s.Attrs, read, leading)
	if err != nil {
		return nil, err
	}
	s.Keep(reg)
	return s, nil
}

// Add adds n to the counter called name.
func (s *Set) Add(ctx context.Context, name string, n int64) {
	if s != nil {
		s.counters[name].Add(ctx, n, s.Attrs)
	}
}

// Keep has Close unregister reg too.
func (s *Set) Keep(reg metric.Registration) {
	s.regs = append(s.regs, reg)
}

// Close stops the observations, which read the database.
func (s *Set) Close() {
	if s != nil {
		Unregister(s.regs...)
	}
}
