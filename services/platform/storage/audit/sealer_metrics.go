package audit

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
// into underscores (quarterdeck_audit_unsealed) and appends _total to counters and _seconds to
// durations.
const (
	MetricUnsealed          = "quarterdeck.audit.unsealed"            // gauge: committed records not yet sealed
	MetricOldestUnsealedAge = "quarterdeck.audit.oldest_unsealed_age" // gauge, seconds: age of the oldest unsealed record
	MetricSealed            = "quarterdeck.audit.sealed"              // counter: records this replica sealed
	MetricSealerLeaseHeld   = "quarterdeck.audit.sealer.lease_held"   // gauge 0/1: this replica's sealer is the active one
	meterName               = "github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
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
	sm.reg, err = queuegauge.Observe(m, queuegauge.Gauges{
		Pending:              MetricUnsealed,
		PendingDescription:   "Audit records committed and not yet sealed into the hash chain.",
		Unit:                 "{record}",
		OldestAge:            MetricOldestUnsealedAge,
		OldestAgeDescription: "Age of the oldest unsealed audit record (0 when none is waiting).",
		LeaseHeld:            MetricSealerLeaseHeld,
		LeaseHeldDescription: "1 while this replica's audit sealer is the active one, else 0.",
	}, sm.attrs, func(ctx context.Context) (int64, time.Time, error) { return Unsealed(ctx, s.db) }, s.loop.Leased)
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
