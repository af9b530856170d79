package server

import (
	"fmt"

	moneypb "google.golang.org/genproto/googleapis/type/money"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// moneyPB is minor units of cur (a figure in the budget's currency) as google.type.Money.
func moneyPB(minor int64, cur domain.Currency) *moneypb.Money {
	return money.ToProto(money.Amount{Minor: minor, Currency: cur})
}

// rateUsePB is the rate behind a converted amount; nil when none was needed.
func rateUsePB(u *domain.RateUse) *budgetv1.RateUse {
	if u == nil {
		return nil
	}
	return &budgetv1.RateUse{
		ExchangeRate:       domain.ExchangeRatePattern.Format(u.RateID),
		Month:              u.Month.String(),
		SourceCurrencyCode: string(u.Source),
		TargetCurrencyCode: string(u.Target),
		Rate:               u.Value,
	}
}

// periodLabel names a fiscal period, e.g. FY2027-P03.
func periodLabel(fy int32, period int) string { return fmt.Sprintf("FY%04d-P%02d", fy, period) }

// periodPB describes period of fiscal year fy of cal.
func periodPB(cal domain.Calendar, fy int32, period int) *budgetv1.Period {
	m := cal.PeriodMonth(fy, period)
	first := domain.Date{Year: m.Year, Month: m.Month, Day: 1}
	last := civil.DateOf(first.Time().AddDate(0, 1, -1))
	return &budgetv1.Period{
		Label:      periodLabel(fy, period),
		FiscalYear: fy,
		Number:     int32(period),
		Quarter:    int32(domain.Quarter(period)),
		StartDate:  civil.ToProto(first),
		EndDate:    civil.ToProto(last),
	}
}

// figuresPB is figures in cur.
func figuresPB(f domain.Figures, cur domain.Currency) *budgetv1.Figures {
	pb := &budgetv1.Figures{
		Planned:          moneyPB(f.Planned, cur),
		Committed:        moneyPB(f.Committed, cur),
		Actual:           moneyPB(f.Actual, cur),
		Available:        moneyPB(f.Available, cur),
		Variance:         moneyPB(f.Variance, cur),
		PlannedToDate:    moneyPB(f.PlannedYTD, cur),
		ActualToDate:     moneyPB(f.ActualYTD, cur),
		VarianceToDate:   moneyPB(f.VarianceYTD, cur),
		BurnRate:         moneyPB(f.BurnRate, cur),
		Forecast:         moneyPB(f.Forecast, cur),
		ForecastVariance: moneyPB(f.ForecastVariance, cur),
		Held:             moneyPB(f.Held, cur),
	}
	if f.ConsumptionKnown {
		bp := f.ConsumptionBP
		pb.ConsumptionBasisPoints = &bp
	}
	return pb
}

// periodFiguresPB is the 12 periods' figures of fiscal year fy in cur.
func periodFiguresPB(ps [domain.Periods]domain.PeriodFigures, cal domain.Calendar, fy int32, cur domain.Currency) []*budgetv1.PeriodFigures {
	out := make([]*budgetv1.PeriodFigures, 0, len(ps))
	for i, p := range ps {
		out = append(out, &budgetv1.PeriodFigures{
			Period:    periodPB(cal, fy, i+1),
			Planned:   moneyPB(p.Planned, cur),
			Committed: moneyPB(p.Committed, cur),
			Actual:    moneyPB(p.Actual, cur),
			Available: moneyPB(p.Available, cur),
			Variance:  moneyPB(p.Variance, cur),
			Held:      moneyPB(p.Held, cur),
		})
	}
	return out
}
