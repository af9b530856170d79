package domain

import (
	"math/big"

	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// Figures are a line's, budget's or subtree's money for the fiscal year, in minor units of the
// budget currency. Variances are positive under plan; Available is planned − committed − actual
// − held, and the forecast leaves holds out. ConsumptionBP is (actual + committed + held) in
// basis points of planned, rounded down; ConsumptionKnown is false when planned is 0 and
// something was consumed (the ratio is infinite).
type Figures struct {
	Planned, Committed, Actual, Available, Variance int64
	PlannedYTD, ActualYTD, VarianceYTD              int64
	BurnRate, Forecast, ForecastVariance            int64
	ConsumptionBP                                   int64
	ConsumptionKnown                                bool
	Held                                            int64
}

// PeriodFigures are the figures of one fiscal period.
type PeriodFigures struct {
	Planned, Committed, Actual, Available, Variance int64
	Held                                            int64
}

// LineSpend is the spend of one line in one period, as the store sums it: converted actuals and
// the remaining amounts of open commitments, and what HELD holds hold.
type LineSpend struct {
	LineID         string
	Period         int
	ActualMinor    int64
	CommittedMinor int64
	HeldMinor      int64
}

// LineFigures are the figures of one line of a summary.
type LineFigures struct {
	LineID      string
	ExpenseType ExpenseType
	Figures     Figures
	Periods     [Periods]PeriodFigures
}

// Summary is the figures of a budget revision as of a date.
type Summary struct {
	AsOf    Date
	Elapsed int
	Lines   []LineFigures
	Total   Figures
	Periods [Periods]PeriodFigures
	Capex   Figures
	Opex    Figures
}

// base is what figures are derived from; sums of bases are exact, derived values are not.
type base struct {
	planned, committed, actual, plannedYTD, actualYTD, held int64
}

func (b base) add(o base) base {
	return base{b.planned + o.planned, b.committed + o.committed, b.actual + o.actual,
		b.plannedYTD + o.plannedYTD, b.actualYTD + o.actualYTD, b.held + o.held}
}

func (f Figures) base() base {
	return base{f.Planned, f.Committed, f.Actual, f.PlannedYTD, f.ActualYTD, f.Held}
}

// derive computes the figures of b with elapsed periods exactly per the design: burn rate =
// actual YTD / elapsed, forecast = actual YTD × 12 / elapsed + committed (one rounding, half to
// even; actual + committed before the year starts).
func derive(b base, elapsed int) Figures {
	f := Figures{
		Planned: b.planned, Committed: b.committed, Actual: b.actual, Held: b.held,
		Available: b.planned - b.committed - b.actual - b.held, Variance: b.planned - b.actual,
		PlannedYTD: b.plannedYTD, ActualYTD: b.actualYTD, VarianceYTD: b.plannedYTD - b.actualYTD,
	}
	if elapsed > 0 {
		f.BurnRate = money.DivRoundHalfEven(b.actualYTD, int64(elapsed))
		n := new(big.Int).Mul(big.NewInt(b.actualYTD), big.NewInt(Periods))
		run := money.RoundHalfEven(n, big.NewInt(int64(elapsed)))
		f.Forecast = money.Saturate(run.Add(run, big.NewInt(b.committed)))
	} else {
		f.Forecast = b.actual + b.committed
	}
	f.ForecastVariance = b.planned - f.Forecast
	f.ConsumptionBP, f.ConsumptionKnown = consumptionBP(b.actual+b.committed+b.held, b.planned)
	return f
}

// consumptionBP is consumption × 10000 / planned rounded down; unknown for planned 0 with
// consumption other than 0.
func consumptionBP(consumption, planned int64) (int64, bool) {
	if planned == 0 {
		return 0, consumption == 0
	}
	n := new(big.Int).Mul(big.NewInt(consumption), big.NewInt(10000))
	q, m := new(big.Int), new(big.Int)
	// Floor division (planned > 0 for a valid line; Euclidean = floor for a positive divisor).
	q.DivMod(n, big.NewInt(planned), m)
	return money.Saturate(q), true
}

// AddFigures adds two figures for a roll-up and derives burn rate, forecast and consumption of
// the sum with elapsed periods (the sum of forecasts is not the forecast of the sum).
func AddFigures(a, b Figures, elapsed int) Figures {
	return derive(a.base().add(b.base()), elapsed)
}

// Summarize computes the figures of a revision's lines from their plans and the chain's spend
// per line and period, as of today clamped into fiscal year fy. Spend of lines not in lines is
// ignored (it belongs to lines a later revision deleted). Budget totals and the CapEx and OpEx
// totals are derived from summed bases, so their rounding is their own.
func Summarize(cal Calendar, fy int32, today Date, lines []*Line, spend []LineSpend) Summary {
	s := Summary{AsOf: cal.AsOf(fy, today), Elapsed: cal.Elapsed(fy, today)}
	idx := make(map[string]int, len(lines))
	actual := make([][Periods]int64, len(lines))
	committed := make([][Periods]int64, len(lines))
	held := make([][Periods]int64, len(lines))
	extraActual := make([]int64, len(lines)) // spend of a period outside 1–12, if a store ever has one
	extraCommitted := make([]int64, len(lines))
	extraHeld := make([]int64, len(lines))
	for i, l := range lines {
		idx[l.ID] = i
	}
	for _, sp := range spend {
		i, ok := idx[sp.LineID]
		if !ok {
			continue
		}
		if sp.Period < 1 || sp.Period > Periods {
			extraActual[i] += sp.ActualMinor
			extraCommitted[i] += sp.CommittedMinor
			extraHeld[i] += sp.HeldMinor
			continue
		}
		actual[i][sp.Period-1] += sp.ActualMinor
		committed[i][sp.Period-1] += sp.CommittedMinor
		held[i][sp.Period-1] += sp.HeldMinor
	}
	var total, capex, opex base
	for i, l := range lines {
		planned := l.Phasing.Monthly()
		lf := LineFigures{LineID: l.ID, ExpenseType: l.ExpenseType}
		b := base{planned: l.PlannedMinor, actual: extraActual[i], committed: extraCommitted[i], held: extraHeld[i]}
		for p := range Periods {
			pf := PeriodFigures{Planned: planned[p], Committed: committed[i][p], Actual: actual[i][p], Held: held[i][p]}
			pf.Available = pf.Planned - pf.Committed - pf.Actual - pf.Held
			pf.Variance = pf.Planned - pf.Actual
			lf.Periods[p] = pf
			addPeriod(&s.Periods[p], pf)
			b.actual += pf.Actual
			b.committed += pf.Committed
			b.held += pf.Held
			if p < s.Elapsed {
				b.plannedYTD += pf.Planned
				b.actualYTD += pf.Actual
			}
		}
		lf.Figures = derive(b, s.Elapsed)
		s.Lines = append(s.Lines, lf)
		total = total.add(b)
		switch l.ExpenseType {
		case Capex:
			capex = capex.add(b)
		case Opex:
			opex = opex.add(b)
		}
	}
	s.Total, s.Capex, s.Opex = derive(total, s.Elapsed), derive(capex, s.Elapsed), derive(opex, s.Elapsed)
	return s
}

func addPeriod(dst *PeriodFigures, p PeriodFigures) {
	dst.Planned += p.Planned
	dst.Committed += p.Committed
	dst.Actual += p.Actual
	dst.Held += p.Held
	dst.Available += p.Available
	dst.Variance += p.Variance
}

// CumulativeAvailable is the funds check's period view: planned through period minus actual and
// committed booked and held through it.
func CumulativeAvailable(periods [Periods]PeriodFigures, period int) int64 {
	var s int64
	for p := 0; p < period && p < Periods; p++ {
		s += periods[p].Available
	}
	return s
}

// ConsumptionBasisPoints is consumption in basis points of planned, rounded down, for the alert
// events; 0 when nothing is planned.
func ConsumptionBasisPoints(consumption, planned int64) int64 {
	bp, _ := consumptionBP(consumption, planned)
	return bp
}

// FiguresOfPeriods derives the figures of a year from its 12 periods' planned, committed, actual
// and held amounts (their available and variance are ignored and recomputed), with elapsed
// periods to date. Roll-ups use it on per-period figures converted into another currency: the
// year's figures are derived from the converted periods, never summed from derived values.
func FiguresOfPeriods(periods [Periods]PeriodFigures, elapsed int) (Figures, [Periods]PeriodFigures) {
	var b base
	for p := range Periods {
		pf := &periods[p]
		pf.Available = pf.Planned - pf.Committed - pf.Actual - pf.Held
		pf.Variance = pf.Planned - pf.Actual
		b.planned += pf.Planned
		b.committed += pf.Committed
		b.held += pf.Held
		b.actual += pf.Actual
		if p < elapsed {
			b.plannedYTD += pf.Planned
			b.actualYTD += pf.Actual
		}
	}
	return derive(b, elapsed), periods
}
