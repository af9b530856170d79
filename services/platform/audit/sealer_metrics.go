package audit

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metric names, as OpenTelemetry instruments. The Prometheus exporter at /metrics turns the dots
// into underscores (quarterdeck_audit_unsealed) and appends _total to counters and _seconds to
// durations.
const (
	MetricUnsealed          = "quarterdeck.audit.unsealed"            // gauge: committed records not yet sealed
	MetricOldestUnsealedAge = "quarterdeck.audit.oldest_unsealed_age" // gauge, seconds: age of the oldest unsealed record
	MetricSealed            = "quarterdeck.audit.sealed"              // counter: records this replica sealed
	MetricSealerLeaseHeld   = "quarterdeck.audit.sealer.lease_held"   // gauge 0/1: this replica's sealer is the active one
	meterName               = "github.com/quarterdeck/quarterdeck/services/platform/audit"
	observeTimeout          = 2 * time.Second
)

// sealerMetrics are one sealer's instruments. Every replica reports the backlog it sees (they
// share the table, so the figures agree); only the lease holder counts seals.
type sealerMetrics struct {
	attrs         metric.MeasurementOption
	sealedRecords metric.Int64Counter
	reg           metric.Registration
}

// newSealerMetrics registers s's instruments on its meter provider. The backlog gauges run two
// queries on the partial index audit_records_unsealed per scrape, whatever the table's size.
func newSealerMetrics(s *Sealer) (*sealerMetrics, error) {
	mp := s.opts.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(meterName)
	sm := &sealerMetrics{attrs: metric.WithAttributes(attribute.String("service", s.opts.Name))}
	var err error
	if sm.sealedRecords, err = m.Int64Counter(MetricSealed, metric.WithUnit("{record}"),
		metric.WithDescription("Audit records this replica's sealer added to the hash chain.")); err != nil {
		return nil, fmt.Errorf("audit metrics: %w", err)
	}
	sm.sealedRecords.Add(context.Background(), 0, sm.attrs)
	unsealed, err := m.Int64ObservableGauge(MetricUnsealed, metric.WithUnit("{record}"),
		metric.WithDescription("Audit records committed and not yet sealed into the hash chain."))
	if err != nil {
		return nil, fmt.Errorf("audit metrics: %w", err)
	}
	age, err := m.Float64ObservableGauge(MetricOldestUnsealedAge, metric.WithUnit("s"),
		metric.WithDescription("Age of the oldest unsealed audit record (0 when none is waiting)."))
	if err != nil {
		return nil, fmt.Errorf("audit metrics: %w", err)
	}
	lease, err := m.Int64ObservableGauge(MetricSealerLeaseHeld,
		metric.WithDescription("1 while this replica's audit sealer is the active one, else 0."))
	if err != nil {
		return nil, fmt.Errorf("audit metrics: %w", err)
	}
	sm.reg, err = m.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		held := int64(0)
		if s.leased.Load() {
			held = 1
		}
		o.ObserveInt64(lease, held, sm.attrs)
		ctx, cancel := context.WithTimeout(ctx, observeTimeout)
		defer cancel()
		n, oldest, err := Unsealed(ctx, s.db)
		if err != nil {
			return err // the gauges are left out of this scrape rather than reported as 0
		}
		o.ObserveInt64(unsealed, n, sm.attrs)
		a := 0.0
		if n > 0 {
			a = max(time.Since(oldest).Seconds(), 0)
		}
		o.ObserveFloat64(age, a, sm.attrs)
		return nil
	}, unsealed, age, lease)
	if err != nil {
		return nil, fmt.Errorf("audit metrics: %w", err)
	}
	return sm, nil
}

func (sm *sealerMetrics) close() {
	if sm != nil && sm.reg != nil {
		_ = sm.reg.Unregister()
	}
}

func (sm *sealerMetrics) sealed(ctx context.Context, n int) {
	if sm != nil && n > 0 {
		sm.sealedRecords.Add(ctx, int64(n), sm.attrs)
	}
}
