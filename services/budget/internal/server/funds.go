package server

import (
	"cmp"
	"context"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// CheckFunds implements budgetv1.BudgetServiceServer. It only reads, outside any transaction:
// the answer is advice as of the moment of the call, and a caller that commits money goes
// through RecordCommitment, which checks again under the chain's lock.
func (s *Server) CheckFunds(ctx context.Context, req *budgetv1.CheckFundsRequest) (*budgetv1.CheckFundsResponse, error) {
	var budgetID, lineID string
	if !domain.LinePattern.ScanResource(req.GetLine(), &budgetID, &lineID) {
		return nil, domain.LinePattern.Invalid("line")
	}
	b, err := s.store.GetBudget(ctx, budgetID)
	if err != nil {
		return nil, fault.Named(err, domain.BudgetName(budgetID))
	}
	l, err := s.store.GetLine(ctx, budgetID, lineID)
	if err != nil {
		return nil, fault.Named(err, req.GetLine())
	}
	amount, err := money.FromProtoField(req.GetAmount(), b.Currency, "amount")
	if err != nil {
		return nil, err
	}
	// Zero or less spends nothing: there is no question to answer, as for a commitment.
	if amount.Minor <= 0 {
		return nil, fault.Field("amount", "AMOUNT_NOT_POSITIVE", "amount must be positive")
	}
	today := civil.DateOf(s.now().UTC())
	date := civil.FromProto(req.GetDate())
	if date.IsZero() {
		date = today
	}
	cal := b.Calendar()
	period, err := cal.CheckDate(b.FiscalYear, date, "date")
	if err != nil {
		return nil, err
	}
	rate, err := rateFor(ctx, s.store, amount, date, b.Currency)
	if err != nil {
		return nil, err
	}
	converted, use, err := domain.ConvertAt(amount, date, b.Currency, rate)
	if err != nil {
		return nil, fault.OnField(err, "amount")
	}
	spend, err := s.store.PeriodSpend(ctx, b.ChainID)
	if err != nil {
		return nil, err
	}
	sum, err := domain.Summarize(cal, b.FiscalYear, today, []*domain.Line{l}, spend)
	if err != nil {
		return nil, err
	}
	available := sum.Lines[0].Figures.Available
	decision, reason := domain.DecideFunds(b, available, converted)
	var c money.Calc
	after := c.Sub(available, converted)
	periodAvailable, err := domain.CumulativeAvailable(sum.Lines[0].Periods, period)
	if err := cmp.Or(err, c.Err()); err != nil {
		return nil, err
	}
	return &budgetv1.CheckFundsResponse{
		Decision:        budgetv1.CheckFundsResponse_Decision(decision),
		Reason:          reason,
		ConvertedAmount: moneyPB(converted, b.Currency),
		Rate:            rateUsePB(use),
		Period:          periodPB(cal, b.FiscalYear, period),
		Available:       moneyPB(available, b.Currency),
		AvailableAfter:  moneyPB(after, b.Currency),
		PeriodAvailable: moneyPB(periodAvailable, b.Currency),
		OverspendPolicy: budgetv1.Budget_OverspendPolicy(b.Policy),
		Budget:          b.Name(),
	}, nil
}
