package audit

import (
	"context"
	"fmt"
	"time"

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

// newSealerMetrics registers s's instruments on its meter provider. Every replica reports the
// backlog it sees (they share the table, so the figures agree); only the lease holder counts
// seals. The backlog gauges run two queries on the partial index audit_records_unsealed per
// scrape, whatever the table's size.
func newSealerMetrics(s *Sealer) (*queuegauge.Set, error) {
	m, err := queuegauge.Register(s.opts.MeterProvider, meterName, s.opts.Name, queuegauge.Gauges{
		Pending:              MetricUnsealed,
		PendingDescription:   "Audit records committed and not yet sealed into the hash chain.",
		Unit:                 "{record}",
		OldestAge:            MetricOldestUnsealedAge,
		OldestAgeDescription: "Age of the oldest unsealed audit record (0 when none is waiting).",
		LeaseHeld:            MetricSealerLeaseHeld,
		LeaseHeldDescription: "1 while this replica's audit sealer is the active one, else 0.",
	}, func(ctx context.Context) (int64, time.Time, error) { return Unsealed(ctx, s.db) }, s.loop.Leased,
		queuegauge.Instrument{Name: MetricSealed, Unit: "{record}",
			Description: "Audit records this replica's sealer added to the hash chain."})
	if err != nil {
		return nil, fmt.Errorf("audit metrics: %w", err)
	}
	return m, nil
}
