package scheduler

import (
	"context"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/metric"

	"github.com/quarterdeck/quarterdeck/services/platform/internal/queuegauge"
)

// Metric names, as OpenTelemetry instruments. The Prometheus exporter at /metrics turns the dots
// into underscores (quarterdeck_scheduler_due_items) and appends _total to counters and _seconds
// to durations.
const (
	MetricDueItems      = "quarterdeck.scheduler.due_items"      // gauge: items due by the worker's clock and not fired
	MetricOldestLag     = "quarterdeck.scheduler.oldest_lag"     // gauge, seconds: how long the oldest of them has been due
	MetricLeaseHeld     = "quarterdeck.scheduler.lease_held"     // gauge 0/1: this replica's worker is the active one
	MetricFailedItems   = "quarterdeck.scheduler.failed_items"   // gauge: items the worker gave up on
	MetricFired         = "quarterdeck.scheduler.fired"          // counter: items this replica's worker fired
	MetricHandlerErrors = "quarterdeck.scheduler.handler_errors" // counter: failed attempts (retried until given up)
	MetricFireLag       = "quarterdeck.scheduler.fire_lag"       // histogram, seconds: fire time − due time of each fired item
	meterName           = "github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
)

// lagBuckets are the fire_lag histogram's bounds, in seconds: from a worker keeping up (tens of
// milliseconds) to one that was down for an hour.
var lagBuckets = []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600}

// workerMetrics are one worker's instruments: the set every elected worker has and the fire lag.
type workerMetrics struct {
	*queuegauge.Set
	lag metric.Float64Histogram
}

// newWorkerMetrics registers w's instruments on its meter provider. Every replica reports the
// backlog it sees (they share the table, so the figures agree); only the lease holder counts
// fired items. A scrape runs two queries on the partial index scheduled_items_due and one on
// scheduled_items_failed, whatever the number of fired items the table keeps.
func newWorkerMetrics(w *Worker) (*workerMetrics, error) {
	// queuegauge ages the oldest item by the system clock; the backlog is due by the worker's,
	// so the oldest due time is shifted by their difference (none on the real clock).
	set, err := queuegauge.Register(w.mp, meterName, w.name, queuegauge.Gauges{
		Pending:              MetricDueItems,
		PendingDescription:   "Scheduled items that are due and have not fired (items given up on excluded).",
		Unit:                 "{item}",
		OldestAge:            MetricOldestLag,
		OldestAgeDescription: "How long the oldest due, unfired scheduled item has been due (0 when none is).",
		LeaseHeld:            MetricLeaseHeld,
		LeaseHeldDescription: "1 while this replica's scheduler is the active one, else 0.",
	}, func(ctx context.Context) (int64, time.Time, error) {
		now := w.clock.Now()
		n, oldest, err := Due(ctx, w.db, now)
		return n, oldest.Add(time.Since(now)), err
	}, w.leased.Load,
		queuegauge.Instrument{Name: MetricFired, Unit: "{item}",
			Description: "Scheduled items this replica's worker fired."},
		queuegauge.Instrument{Name: MetricHandlerErrors, Unit: "{error}",
			Description: "Failed attempts at firing a scheduled item (each is retried until the worker gives up)."})
	if err != nil {
		return nil, fmt.Errorf("scheduler metrics: %w", err)
	}
	wm := &workerMetrics{Set: set}
	if wm.lag, err = set.Meter.Float64Histogram(MetricFireLag, metric.WithUnit("s"),
		metric.WithDescription("Time from a scheduled item's due time to its firing."),
		metric.WithExplicitBucketBoundaries(lagBuckets...)); err != nil {
		set.Close()
		return nil, fmt.Errorf("scheduler metrics: %w", err)
	}
	failed, err := queuegauge.Count(set.Meter, queuegauge.Instrument{Name: MetricFailedItems, Unit: "{item}",
		Description: "Scheduled items the worker gave up on after their last attempt; scheduler.Retry arms one again."},
		set.Attrs, func(ctx context.Context) (int64, error) { return Failed(ctx, w.db) })
	if err != nil {
		set.Close()
		return nil, fmt.Errorf("scheduler metrics: %w", err)
	}
	set.Keep(failed)
	return wm, nil
}

func (wm *workerMetrics) close() {
	if wm != nil {
		wm.Close()
	}
}

// fired counts items whose transaction committed, with their lags.
func (wm *workerMetrics) fired(ctx context.Context, lags []time.Duration) {
	if wm == nil || len(lags) == 0 {
		return
	}
	wm.Add(ctx, MetricFired, int64(len(lags)))
	for _, l := range lags {
		wm.lag.Record(ctx, max(l.Seconds(), 0), wm.Attrs)
	}
}

func (wm *workerMetrics) handlerError(ctx context.Context) {
	if wm != nil {
		wm.Add(ctx, MetricHandlerErrors, 1)
	}
}
