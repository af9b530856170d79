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

// add returns b+o, its overflows kept by c.
func (b base) add(o base, c *money.Calc) base {
	return base{c.Add(b.planned, o.planned), c.Add(b.committed, o.committed), c.Add(b.actual, o.actual),
		c.Add(b.plannedYTD, o.plannedYTD), c.Add(b.actualYTD, o.actualYTD), c.Add(b.held, o.held)}
}

func (f Figures) base() base {
	return base{f.Planned, f.Committed, f.Actual, f.PlannedYTD, f.ActualYTD, f.Held}
}

// derive computes the figures of b with elapsed periods exactly per the design: burn rate =
// actual YTD / elapsed, forecast = actual YTD × 12 / elapsed + committed (one rounding, half to
// even; actual + committed before the year starts). A figure beyond the int64 range is an
// overflow of c, never a wrapped or clamped number.
func derive(b base, elapsed int, c *money.Calc) Figures {
	f := Figures{
		Planned: b.planned, Committed: b.committed, Actual: b.actual, Held: b.held,
		Available: c.Sub(c.Sub(c.Sub(b.planned, b.committed), b.actual), b.held), Variance: c.Sub(b.planned, b.actual),
		PlannedYTD: b.plannedYTD, ActualYTD: b.actualYTD, VarianceYTD: c.Sub(b.plannedYTD, b.actualYTD),
	}
	if elapsed > 0 {
		f.BurnRate = money.DivRoundHalfEven(b.actualYTD, int64(elapsed))
		n := new(big.Int).Mul(big.NewInt(b.actualYTD), big.NewInt(Periods))
		run := money.RoundHalfEven(n, big.NewInt(int64(elapsed)))
		f.Forecast = c.Int64(run.Add(run, big.NewInt(b.committed)))
	} else {
		f.Forecast = c.Add(b.actual, b.committed)
	}
	f.ForecastVariance = c.Sub(b.planned, f.Forecast)
	f.ConsumptionBP, f.ConsumptionKnown = consumptionBP(c.Sum(b.actual, b.committed, b.held), b.planned)
	return f
}

// consumptionBP is consumption × 10000 / planned rounded down; unknown for planned 0 with
// consumption other than 0. A ratio, not an amount: beyond the int64 range it is that range's
// end (a consumption of more than 10^14 % of the plan).
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
// the sum with elapsed periods (the sum of forecasts is not the forecast of the sum). A figure
// beyond the range of amounts is FIGURE_OUT_OF_RANGE.
func AddFigures(a, b Figures, elapsed int) (Figures, error) {
	var c money.Calc
	f := derive(a.base().add(b.base(), &c), elapsed, &c)
	return f, c.Err()
}

// Summarize computes the figures of a revision's lines from their plans and the chain's spend
// per line and period, as of today clamped into fiscal year fy. Spend of lines not in lines is
// ignored (it belongs to lines a later revision deleted). Budget totals and the CapEx and OpEx
// totals are derived from summed bases, so their rounding is their own. Every sum is checked: a
// figure beyond the range of amounts is FIGURE_OUT_OF_RANGE, and no summary is returned.
func Summarize(cal Calendar, fy int32, today Date, lines []*Line, spend []LineSpend) (Summary, error) {
	var c money.Calc
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
			extraActual[i] = c.Add(extraActual[i], sp.ActualMinor)
			extraCommitted[i] = c.Add(extraCommitted[i], sp.CommittedMinor)
			extraHeld[i] = c.Add(extraHeld[i], sp.HeldMinor)
			continue
		}
		p := sp.Period - 1
		actual[i][p] = c.Add(actual[i][p], sp.ActualMinor)
		committed[i][p] = c.Add(committed[i][p], sp.CommittedMinor)
		held[i][p] = c.Add(held[i][p], sp.HeldMinor)
	}
	var total, capex, opex base
	for i, l := range lines {
		planned := l.Phasing.Monthly()
		lf := LineFigures{LineID: l.ID, ExpenseType: l.ExpenseType}
		b := base{planned: l.PlannedMinor, actual: extraActual[i], committed: extraCommitted[i], held: extraHeld[i]}
		for p := range Periods {
			pf := PeriodFigures{Planned: planned[p], Committed: committed[i][p], Actual: actual[i][p], Held: held[i][p]}
			pf.Available = c.Sub(c.Sub(c.Sub(pf.Planned, pf.Committed), pf.Actual), pf.Held)
			pf.Variance = c.Sub(pf.Planned, pf.Actual)
			lf.Periods[p] = pf
			addPeriod(&s.Periods[p], pf, &c)
			b.actual = c.Add(b.actual, pf.Actual)
			b.committed = c.Add(b.committed, pf.Committed)
			b.held = c.Add(b.held, pf.Held)
			if p < s.Elapsed {
				b.plannedYTD = c.Add(b.plannedYTD, pf.Planned)
				b.actualYTD = c.Add(b.actualYTD, pf.Actual)
			}
		}
		lf.Figures = derive(b, s.Elapsed, &c)
		s.Lines = append(s.Lines, lf)
		total = total.add(b, &c)
		switch l.ExpenseType {
		case Capex:
			capex = capex.add(b, &c)
		case Opex:
			opex = opex.add(b, &c)
		}
	}
	s.Total, s.Capex, s.Opex = derive(total, s.Elapsed, &c), derive(capex, s.Elapsed, &c), derive(opex, s.Elapsed, &c)
	if err := c.Err(); err != nil {
		return Summary{}, err
	}
	return s, nil
}

func addPeriod(dst *PeriodFigures, p PeriodFigures, c *money.Calc) {
	dst.Planned = c.Add(dst.Planned, p.Planned)
	dst.Committed = c.Add(dst.Committed, p.Committed)
	dst.Actual = c.Add(dst.Actual, p.Actual)
	dst.Held = c.Add(dst.Held, p.Held)
	dst.Available = c.Add(dst.Available, p.Available)
	dst.Variance = c.Add(dst.Variance, p.Variance)
}

// CumulativeAvailable is the funds check's period view: planned through period minus actual and
// committed booked and held through it; FIGURE_OUT_OF_RANGE when it does not fit.
func CumulativeAvailable(periods [Periods]PeriodFigures, period int) (int64, error) {
	var c money.Calc
	var s int64
	for p := 0; p < period && p < Periods; p++ {
		s = c.Add(s, periods[p].Available)
	}
	return s, c.Err()
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
// year's figures are derived from the converted periods, never summed from derived values. A
// figure beyond the range of amounts is FIGURE_OUT_OF_RANGE.
func FiguresOfPeriods(periods [Periods]PeriodFigures, elapsed int) (Figures, [Periods]PeriodFigures, error) {
	var c money.Calc
	var b base
	for p := range Periods {
		pf := &periods[p]
		pf.Available = c.Sub(c.Sub(c.Sub(pf.Planned, pf.Committed), pf.Actual), pf.Held)
		pf.Variance = c.Sub(pf.Planned, pf.Actual)
		b.planned = c.Add(b.planned, pf.Planned)
		b.committed = c.Add(b.committed, pf.Committed)
		b.held = c.Add(b.held, pf.Held)
		b.actual = c.Add(b.actual, pf.Actual)
		if p < elapsed {
			b.plannedYTD = c.Add(b.plannedYTD, pf.Planned)
			b.actualYTD = c.Add(b.actualYTD, pf.Actual)
		}
	}
	f := derive(b, elapsed, &c)
	return f, periods, c.Err()
}
