package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// A budget's run-rate forecast moves with the calendar as well as with its figures: when a
// period starts, the actuals booked for it join the run rate and the elapsed periods grow by one.
// So that budget.forecast_over_plan does not wait for the next change of the figures, every
// approved budget has a daily evaluation of its forecast alert, a due item of its chain
// (store.ScheduleForecastCheck): armed by the first approval for the next day, armed again by
// each evaluation for the day after, until the fiscal year ends, and cancelled when the budget
// closes. A revision's approval arms the same item, which then evaluates the new plan.

// putInForce makes the approved b its chain's revision in force and arms the chain's daily
// forecast evaluation on b's plan.
func putInForce(ctx context.Context, tx store.Tx, chain *domain.Chain, b *domain.Budget, now time.Time) error {
	prev := chain.Version
	chain.Approved(b.ID)
	if err := tx.UpdateChain(ctx, chain, prev); err != nil {
		return err
	}
	return scheduleForecastCheck(ctx, tx, b, now)
}

// scheduleForecastCheck arms the daily forecast evaluation of b's chain for the next day start
// after now within b's fiscal year (domain.NextForecastEvaluation). After the year it leaves the
// item alone: its last evaluation has run, or runs once more and stops.
func scheduleForecastCheck(ctx context.Context, tx store.Tx, b *domain.Budget, now time.Time) error {
	next, ok := domain.NextForecastEvaluation(b.Calendar(), b.FiscalYear, now)
	if !ok {
		return nil
	}
	if err := tx.ScheduleForecastCheck(ctx, b.ChainID, next); err != nil {
		return fmt.Errorf("schedule the forecast evaluation of %s: %w", b.Name(), err)
	}
	return nil
}

// CheckForecast is the scheduler.Handler of store.ForecastCheckKind: the daily evaluation of the
// forecast alert of the budget chain that item is about. In the worker's transaction it locks
// the chain, as every change of its figures does, and evaluates the alert exactly as they do
// (figuresChange.finish, with nothing changed): budget.forecast_over_plan fires once per
// crossing, with the evaluation's due and fire times, and the chain's flag clears silently when
// the forecast falls back under plan. Then it arms the next day's evaluation.
//
// The date is the server's clock's, as for every other figure: the host's clock, which the
// worker fires by too.
func (s *Server) CheckForecast(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	chainID, ok := domain.BudgetPattern.Last(item.Resource)
	if !ok {
		return scheduler.Permanent(fmt.Errorf("forecast evaluation of %q: not a budget name", item.Resource))
	}
	tx := store.Join(t)
	chain, err := tx.LockChain(ctx, chainID)
	if errors.Is(err, domain.ErrBudgetNotFound) {
		return nil // deleted since: nothing to evaluate
	}
	if err != nil {
		return err
	}
	if chain.InForceID == "" {
		return nil
	}
	fc, err := s.beginFigures(ctx, tx, chain)
	if err != nil {
		return err
	}
	if fc.budget.State != domain.StateApproved {
		return nil // closed: no more spend, no more evaluations
	}
	fc.evaluationDue, fc.evaluated = item.Due, item.FiredAt
	if err := fc.finish(ctx, fc.budget.Name()); err != nil {
		return err
	}
	return scheduleForecastCheck(ctx, tx, fc.budget, s.now())
}
