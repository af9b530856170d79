package server

import (
	"time"

	moneypb "google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/protobuf/types/known/timestamppb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
)

// The domain's enums number their values as the API's do, so they convert by a cast; a test
// keeps them in step.

// optionalTime is t as a Timestamp; nil for the zero time (a step not taken yet).
func optionalTime(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func budgetToProto(b *domain.Budget) *budgetv1.Budget {
	first, _ := b.Calendar().Bounds(b.FiscalYear)
	pb := &budgetv1.Budget{
		Name:                b.Name(),
		CostCenter:          domain.CostCenterName(b.CostCenterID),
		FiscalYear:          b.FiscalYear,
		CurrencyCode:        string(b.Currency),
		DisplayName:         b.DisplayName,
		Owner:               b.Owner,
		Description:         b.Description,
		OverspendPolicy:     budgetv1.Budget_OverspendPolicy(b.Policy),
		State:               budgetv1.Budget_State(b.State),
		Revision:            b.Revision,
		FiscalYearStartDate: civil.ToProto(first),
		PlannedAmount:       moneyPB(b.PlannedMinor, b.Currency),
		Submitter:           b.Submitter,
		SubmitTime:          optionalTime(b.SubmitTime),
		Decider:             b.Decider,
		DecisionTime:        optionalTime(b.DecisionTime),
		DecisionReason:      b.DecisionReason,
		Closer:              b.Closer,
		CloseTime:           optionalTime(b.CloseTime),
		CreateTime:          timestamppb.New(b.CreateTime),
		UpdateTime:          timestamppb.New(b.UpdateTime),
		Etag:                etag.Of(b.Name(), b.Version),
	}
	if b.PreviousID != "" {
		pb.PreviousRevision = domain.BudgetName(b.PreviousID)
	}
	if b.SupersededByID != "" {
		pb.SupersededBy = domain.BudgetName(b.SupersededByID)
	}
	return pb
}

// lineToProto is a line with its spend figures from bal (nil: nothing spent), in cur (the budget's
// currency).
func (s *Server) lineToProto(l *domain.Line, bal *domain.LineBalance, cur domain.Currency) *budgetv1.BudgetLine {
	var actual, committed, held int64
	if bal != nil {
		actual, committed, held = bal.ActualMinor, bal.CommittedMinor, bal.HeldMinor
	}
	return &budgetv1.BudgetLine{
		Name:              l.Name(),
		DisplayName:       l.DisplayName,
		Category:          budgetv1.BudgetLine_Category(l.Category),
		ExpenseType:       budgetv1.BudgetLine_ExpenseType(l.ExpenseType),
		PlannedAmount:     moneyPB(l.PlannedMinor, cur),
		Phasing:           phasingPB(l.Phasing, cur),
		ThresholdPercents: append([]int32(nil), l.Thresholds...),
		Tag:               l.Tag,
		Description:       l.Description,
		ActualAmount:      moneyPB(actual, cur),
		CommittedAmount:   moneyPB(committed, cur),
		AvailableAmount:   moneyPB(l.PlannedMinor-committed-actual-held, cur),
		HeldAmount:        moneyPB(held, cur),
		CreateTime:        timestamppb.New(l.CreateTime),
		UpdateTime:        timestamppb.New(l.UpdateTime),
		Etag:              etag.Of(l.Name(), l.Version),
	}
}

func phasingPB(p domain.Phasing, cur domain.Currency) *budgetv1.Phasing {
	pb := &budgetv1.Phasing{Granularity: budgetv1.Phasing_Granularity(p.Granularity)}
	for _, a := range p.Amounts {
		pb.Amounts = append(pb.Amounts, moneyPB(a, cur))
	}
	return pb
}

// phasingFromPB converts a request's phasing into minor units of the budget currency cur; nil
// when the request has none. Errors name field (e.g. "budget_line.phasing").
func phasingFromPB(pb *budgetv1.Phasing, cur domain.Currency, field string) (*domain.Phasing, error) {
	if pb == nil {
		return nil, nil
	}
	p := &domain.Phasing{Granularity: domain.Granularity(pb.GetGranularity())}
	for _, m := range pb.GetAmounts() {
		minor, err := budgetMinor(m, cur, field+".amounts")
		if err != nil {
			return nil, err
		}
		p.Amounts = append(p.Amounts, minor)
	}
	return p, nil
}

// budgetMinor converts money that must be in the budget's currency cur (an empty code means
// cur) into minor units.
func budgetMinor(m *moneypb.Money, cur domain.Currency, field string) (int64, error) {
	return domain.BudgetAmount(m.GetUnits(), m.GetNanos(), m.GetCurrencyCode(), cur, field)
}
