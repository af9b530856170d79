package store

import (
	"context"
	"time"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// ForecastCheckKind is the kind of the due item of a budget's daily forecast evaluation, the
// scheduler handler's key.
const ForecastCheckKind = "forecast_check"

// forecastCheckKey names the due item of the daily forecast evaluation of chain: one per chain,
// whichever of its revisions is in force.
func forecastCheckKey(chainID string) string { return domain.BudgetName(chainID) + ":forecast" }

// ScheduleForecastCheck arms the daily forecast evaluation of chain for due, in place of the date
// it had. Its resource is the chain's first revision, budgets/{chain}.
func (t Tx) ScheduleForecastCheck(ctx context.Context, chainID string, due time.Time) error {
	return scheduler.Schedule(ctx, t, scheduler.Item{Key: forecastCheckKey(chainID), Kind: ForecastCheckKind,
		Resource: domain.BudgetName(chainID), Due: due})
}

// CancelForecastCheck removes the pending forecast evaluation of chain, if it has one.
func (t Tx) CancelForecastCheck(ctx context.Context, chainID string) error {
	return scheduler.Cancel(ctx, t, forecastCheckKey(chainID))
}

// ForecastCheck returns the state of the forecast evaluation of chain, or scheduler.ErrNotFound.
func (r reader) ForecastCheck(ctx context.Context, chainID string) (scheduler.State, error) {
	return scheduler.Get(ctx, r.Q, forecastCheckKey(chainID))
}

// Join returns the budget service's view of t, a transaction opened elsewhere: the scheduler's
// worker runs the handler of a due item in a transaction of its own.
func Join(t *sqlstore.Tx) Tx { return Tx{Tx: t, reader: reader{t.Reads()}} }
