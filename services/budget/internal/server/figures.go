package server

import (
	"context"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// figuresChange is one change of a budget's figures inside a transaction: spend recorded or
// released, planned money moved, a revision brought into force — or a day passed, for the daily
// forecast evaluation (CheckForecast), which changes nothing but the date. It is the only way
// the service changes figures, so that every such change raises exactly the alerts it crosses:
//
//  1. beginFigures, with the budget's chain locked (store.Tx.LockChain), snapshots each line's
//     planned amount and consumption (actual + committed + held) and the chain's forecast state;
//  2. the caller changes spend (addSpend, addHeld) and plans (setPlan, switchTo);
//  3. finish writes the touched lines and balances, compares each line before and after, and
//     emits line.threshold_crossed, line.overspent and budget.forecast_over_plan for each
//     crossing, each event with its own, higher version of its resource.
//
// The chain lock serialises every figures change of one budget, so "before" is exactly the state
// the previous change left: concurrent changes cannot both see themselves cross a threshold, nor
// both miss it.
type figuresChange struct {
	s      *Server
	tx     store.Tx
	chain  *domain.Chain
	budget *domain.Budget // the revision in force
	lines  map[string]*domain.Line
	// before is each line's state at the start; plan and spend changes do not touch it.
	before map[string]lineState
	// balances are the chain's line balances, loaded when first touched.
	balances map[string]*domain.LineBalance
	// spent and planChanged name the lines whose spend or plan changed.
	spent       map[string]bool
	planChanged map[string][]string // line ID → changed fields
	budgetDirty bool
	// evaluationDue and evaluated are when the daily forecast evaluation that makes this change
	// (CheckForecast) was due and when it fired; zero for a change made by a call.
	evaluationDue, evaluated time.Time
}

// lineState is what a line's alerts depend on.
type lineState struct{ planned, consumed int64 }

// beginFigures starts a change of the figures of the budget in force of chain, which the caller
// has locked. It fails with the budget's spendability error when no revision is in force.
func (s *Server) beginFigures(ctx context.Context, tx store.Tx, chain *domain.Chain) (*figuresChange, error) {
	if chain.InForceID == "" {
		return nil, domain.ErrBudgetNotApproved
	}
	b, err := tx.GetBudget(ctx, chain.InForceID)
	if err != nil {
		return nil, fmt.Errorf("budget in force of chain %s: %w", chain.ID, err)
	}
	fc := &figuresChange{s: s, tx: tx, chain: chain, budget: b, balances: map[string]*domain.LineBalance{},
		spent: map[string]bool{}, planChanged: map[string][]string{}}
	if err := fc.loadLines(ctx, b.ID); err != nil {
		return nil, err
	}
	bals, err := tx.LineBalances(ctx, chain.ID)
	if err != nil {
		return nil, err
	}
	for _, bal := range bals {
		fc.balances[bal.LineID] = bal
	}
	fc.before = map[string]lineState{}
	for id, l := range fc.lines {
		consumed, err := fc.consumed(id)
		if err != nil {
			return nil, err
		}
		fc.before[id] = lineState{planned: l.PlannedMinor, consumed: consumed}
	}
	return fc, nil
}

func (fc *figuresChange) loadLines(ctx context.Context, budgetID string) error {
	ls, err := fc.tx.Lines(ctx, budgetID)
	if err != nil {
		return fmt.Errorf("lines of budget %s: %w", budgetID, err)
	}
	fc.lines = make(map[string]*domain.Line, len(ls))
	for _, l := range ls {
		fc.lines[l.ID] = l
	}
	return nil
}

// consumed is the line's actual + committed + held; an overflow is FIGURE_OUT_OF_RANGE.
func (fc *figuresChange) consumed(lineID string) (int64, error) {
	if b := fc.balances[lineID]; b != nil {
		return b.Consumed()
	}
	return 0, nil
}

// line returns the line of the budget in force, or domain.ErrLineNotFound.
func (fc *figuresChange) line(id string) (*domain.Line, error) {
	l := fc.lines[id]
	if l == nil {
		return nil, domain.ErrLineNotFound.With("name", domain.LineName(fc.budget.ID, id))
	}
	return l, nil
}

// balance returns the line's balance (available = planned − committed − actual − held).
func (fc *figuresChange) balance(lineID string) *domain.LineBalance {
	b := fc.balances[lineID]
	if b == nil {
		b = &domain.LineBalance{ChainID: fc.chain.ID, LineID: lineID}
		fc.balances[lineID] = b
	}
	return b
}

// available is the line's available amount now: planned − committed − actual − held; an
// overflow is FIGURE_OUT_OF_RANGE.
func (fc *figuresChange) available(lineID string) (int64, error) {
	b := fc.balance(lineID)
	planned := int64(0)
	if l := fc.lines[lineID]; l != nil {
		planned = l.PlannedMinor
	}
	return b.Available(planned)
}

// overAvailable says whether the line's available amount is below zero.
func (fc *figuresChange) overAvailable(lineID string) (bool, error) {
	a, err := fc.available(lineID)
	return a < 0, err
}

// addHeld adds money held by a hold (negative to take it away) to a line in a period.
func (fc *figuresChange) addHeld(ctx context.Context, lineID string, period int, held int64) error {
	if held == 0 {
		return nil
	}
	b := fc.balance(lineID)
	var err error
	if b.HeldMinor, err = money.AddMinor(b.HeldMinor, held); err != nil {
		return err
	}
	fc.spent[lineID] = true
	return fc.tx.AddPeriodSpend(ctx, fc.chain.ID, store.LineSpend{LineID: lineID, Period: period, HeldMinor: held})
}

// addSpend adds actual and committed money (negative to take away) to a line in a period.
func (fc *figuresChange) addSpend(ctx context.Context, lineID string, period int, actual, committed int64) error {
	if actual == 0 && committed == 0 {
		return nil
	}
	b := fc.balance(lineID)
	var err error
	if b.ActualMinor, err = money.AddMinor(b.ActualMinor, actual); err != nil {
		return err
	}
	if b.CommittedMinor, err = money.AddMinor(b.CommittedMinor, committed); err != nil {
		return err
	}
	fc.spent[lineID] = true
	return fc.tx.AddPeriodSpend(ctx, fc.chain.ID, store.LineSpend{LineID: lineID, Period: period,
		ActualMinor: actual, CommittedMinor: committed})
}

// setPlan records that a line's plan (planned amount and phasing) was changed in place, by a
// transfer; finish writes it and publishes line.updated.
func (fc *figuresChange) setPlan(l *domain.Line, fields ...string) {
	fc.lines[l.ID] = l
	for _, f := range fields {
		if !slices.Contains(fc.planChanged[l.ID], f) {
			fc.planChanged[l.ID] = append(fc.planChanged[l.ID], f)
		}
	}
	fc.budgetDirty = true
}

// switchTo brings revision b into force in place of the current one (an approval of a revision):
// alerts compare the old revision's lines with b's.
func (fc *figuresChange) switchTo(ctx context.Context, b *domain.Budget) error {
	fc.budget = b
	return fc.loadLines(ctx, b.ID)
}

// finish writes what changed and emits the alerts the change crossed. cause is the resource name
// of what changed the figures.
func (fc *figuresChange) finish(ctx context.Context, cause string) error {
	now := fc.s.now().UTC()
	ids := make([]string, 0, len(fc.lines))
	for id := range fc.lines {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for id := range fc.spent {
		if err := fc.tx.PutLineBalance(ctx, fc.balance(id)); err != nil {
			return fmt.Errorf("balance of line %s: %w", id, err)
		}
	}
	cur := fc.budget.Currency
	for _, id := range ids {
		l := fc.lines[id]
		prev := l.Version
		consumedNow, err := fc.consumed(id)
		if err != nil {
			return err
		}
		if _, err := fc.balance(id).Available(l.PlannedMinor); err != nil {
			return err // the line's available amount would be a figure out of range
		}
		before, after := fc.before[id], lineState{planned: l.PlannedMinor, consumed: consumedNow}
		changed := fc.planChanged[id]
		crossed := domain.ThresholdCrossings(l.Thresholds, before.planned, before.consumed, after.planned, after.consumed)
		overspent := domain.Overspent(before.planned, before.consumed, after.planned, after.consumed)
		if !fc.spent[id] && len(changed) == 0 && len(crossed) == 0 && !overspent {
			continue
		}
		// The line changed (its spend figures are part of it): one version for the change, one
		// more for each event about it.
		l.Version++
		l.UpdateTime = now
		if len(changed) > 0 {
			l.Version++
			if err := fc.tx.Emit(ctx, l.Name(), &budgetv1.BudgetLineUpdated{
				Line: fc.s.lineToProto(l, fc.balance(id), cur), ChangedFields: &fieldmaskpb.FieldMask{Paths: changed},
				Version: l.Version,
			}); err != nil {
				return err
			}
		}
		consumed := moneyPB(after.consumed, cur)
		for _, t := range crossed {
			l.Version++
			if err := fc.tx.Emit(ctx, l.Name(), &budgetv1.LineThresholdCrossed{
				Line: l.Name(), ThresholdPercent: t, Planned: moneyPB(after.planned, cur), Consumed: consumed,
				ConsumptionBasisPoints: basisPoints(after.consumed, after.planned), Cause: cause, Version: l.Version,
			}); err != nil {
				return err
			}
		}
		if overspent {
			available, err := money.SubMinor(after.planned, after.consumed)
			if err != nil {
				return money.Figure(err)
			}
			l.Version++
			if err := fc.tx.Emit(ctx, l.Name(), &budgetv1.LineOverspent{
				Line: l.Name(), Planned: moneyPB(after.planned, cur), Consumed: consumed,
				Available: moneyPB(available, cur), Cause: cause, Version: l.Version,
			}); err != nil {
				return err
			}
		}
		if err := fc.tx.UpdateLine(ctx, l, prev); err != nil {
			return fmt.Errorf("update line %s: %w", l.Name(), err)
		}
	}
	return fc.finishBudget(ctx, cause, now)
}

// finishBudget updates the budget's planned total and evaluates its forecast alert.
func (fc *figuresChange) finishBudget(ctx context.Context, cause string, now time.Time) error {
	b := fc.budget
	prev := b.Version
	if fc.budgetDirty {
		var c money.Calc
		var planned int64
		for _, l := range fc.lines {
			planned = c.Add(planned, l.PlannedMinor)
		}
		if err := c.Err(); err != nil {
			return err
		}
		if planned != b.PlannedMinor {
			b.PlannedMinor = planned
			b.Version++
			b.UpdateTime = now
		}
	}
	spend, err := fc.tx.PeriodSpend(ctx, fc.chain.ID)
	if err != nil {
		return err
	}
	lines := make([]*domain.Line, 0, len(fc.lines))
	for _, l := range fc.lines {
		lines = append(lines, l)
	}
	today := civil.DateOf(now)
	sum, err := domain.Summarize(b.Calendar(), b.FiscalYear, today, lines, spend)
	if err != nil {
		return err
	}
	over, fire := domain.ForecastAlert(fc.chain.ForecastOverPlan, sum.Total.Forecast, sum.Total.Planned)
	if fire {
		b.Version++
		b.UpdateTime = now
		ev := &budgetv1.BudgetForecastOverPlan{
			Budget: b.Name(), Planned: moneyPB(sum.Total.Planned, b.Currency), Forecast: moneyPB(sum.Total.Forecast, b.Currency),
			AsOf: civil.ToProto(sum.AsOf), Cause: cause, Version: b.Version,
		}
		if !fc.evaluated.IsZero() {
			ev.EvaluationDueTime, ev.EvaluationTime = timestamppb.New(fc.evaluationDue), timestamppb.New(fc.evaluated)
		}
		if err := fc.tx.Emit(ctx, b.Name(), ev); err != nil {
			return err
		}
	}
	if b.Version != prev {
		if err := fc.tx.UpdateBudget(ctx, b, prev); err != nil {
			return fmt.Errorf("update budget %s: %w", b.Name(), err)
		}
	}
	if over != fc.chain.ForecastOverPlan {
		prevChain := fc.chain.Version
		fc.chain.ForecastOverPlan = over
		fc.chain.Version++
		if err := fc.tx.UpdateChain(ctx, fc.chain, prevChain); err != nil {
			return fmt.Errorf("update chain %s: %w", fc.chain.ID, err)
		}
	}
	return nil
}

// basisPoints is consumed in basis points of planned, rounded down; 0 when nothing is planned.
func basisPoints(consumed, planned int64) int64 {
	return domain.ConsumptionBasisPoints(consumed, planned)
}
