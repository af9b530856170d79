package domain

import (
	"errors"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

func TestSummarize(t *testing.T) {
	cal := Calendar{time.January}
	lines := []*Line{
		{ID: "a", ExpenseType: Opex, PlannedMinor: 120000, Phasing: EvenPhasing(120000)},
		{ID: "b", ExpenseType: Capex, PlannedMinor: 40000, Phasing: Phasing{Quarterly, []int64{10000, 10000, 10000, 10000}}},
		{ID: "z", ExpenseType: Opex, PlannedMinor: 0, Phasing: EvenPhasing(0)},
	}
	spend := []LineSpend{
		{LineID: "a", Period: 1, ActualMinor: 9000},
		{LineID: "a", Period: 2, ActualMinor: 11001},
		{LineID: "a", Period: 3, ActualMinor: 10000, CommittedMinor: 5000},
		{LineID: "a", Period: 6, CommittedMinor: 20000},
		{LineID: "b", Period: 2, ActualMinor: 30000},
		{LineID: "z", Period: 1, ActualMinor: 1},
		{LineID: "gone", Period: 1, ActualMinor: 999999}, // a line deleted by this revision
	}
	s := mustSummarize(t, cal, 2027, date(2027, 3, 10), lines, spend)
	if s.Elapsed != 3 || s.AsOf != date(2027, 3, 10) {
		t.Fatalf("elapsed %d as of %s", s.Elapsed, s.AsOf)
	}
	a := s.Lines[0].Figures
	want := Figures{
		Planned: 120000, Committed: 25000, Actual: 30001, Available: 64999, Variance: 89999,
		PlannedYTD: 30000, ActualYTD: 30001, VarianceYTD: -1,
		BurnRate:         10000,          // 30001 / 3 = 10000.33
		Forecast:         120004 + 25000, // 30001 × 12 / 3 = 120004
		ForecastVariance: 120000 - 145004,
		ConsumptionBP:    4583, // 55001 / 120000 = 0.458341…
		ConsumptionKnown: true,
	}
	if a != want {
		t.Errorf("line a = %+v\nwant     %+v", a, want)
	}
	if p := s.Lines[0].Periods[2]; p != (PeriodFigures{Planned: 10000, Committed: 5000, Actual: 10000, Available: -5000, Variance: 0}) {
		t.Errorf("line a P03 = %+v", p)
	}
	b := s.Lines[1]
	if b.Periods[1].Planned != 3333 || b.Periods[0].Planned != 3334 || b.Figures.PlannedYTD != 10000 || b.Figures.ConsumptionBP != 7500 {
		t.Errorf("line b = %+v", b)
	}
	if z := s.Lines[2].Figures; z.ConsumptionKnown || z.ConsumptionBP != 0 || z.Available != -1 {
		t.Errorf("line z = %+v", z)
	}
	if s.Total.Planned != 160000 || s.Total.Actual != 60002 || s.Total.Committed != 25000 || s.Total.ActualYTD != 60002 {
		t.Errorf("total = %+v", s.Total)
	}
	if s.Total.BurnRate != 20001 || s.Total.Forecast != 240008+25000 { // 60002/3 = 20000.67
		t.Errorf("total burn %d forecast %d", s.Total.BurnRate, s.Total.Forecast)
	}
	if s.Capex.Planned != 40000 || s.Capex.Actual != 30000 || s.Opex.Planned != 120000 || s.Opex.Actual != 30002 {
		t.Errorf("capex %+v opex %+v", s.Capex, s.Opex)
	}
	if s.Periods[1].Actual != 41001 || s.Periods[1].Planned != 10000+3333 {
		t.Errorf("total P02 = %+v", s.Periods[1])
	}
	if c, err := CumulativeAvailable(s.Lines[0].Periods, 3); err != nil || c != 30000-30001-5000 {
		t.Errorf("cumulative available = %d", c)
	}

	// Before the year: forecast is actual + committed; after it: elapsed 12.
	before := mustSummarize(t, cal, 2027, date(2026, 12, 31), lines, spend)
	if before.Elapsed != 0 || before.Lines[0].Figures.BurnRate != 0 || before.Lines[0].Figures.Forecast != 55001 || before.AsOf != date(2027, 1, 1) {
		t.Errorf("before the year: %+v", before.Lines[0].Figures)
	}
	after := mustSummarize(t, cal, 2027, date(2028, 2, 1), lines, spend)
	if after.Elapsed != 12 || after.Lines[0].Figures.Forecast != 55001 || after.Lines[0].Figures.PlannedYTD != 120000 {
		t.Errorf("after the year: %+v", after.Lines[0].Figures)
	}
}

func TestForecastRoundsHalfToEven(t *testing.T) {
	lines := []*Line{{ID: "a", ExpenseType: Opex, PlannedMinor: 0, Phasing: EvenPhasing(0)}}
	// Elapsed 8 (August): 1 × 12 / 8 = 1.5 → 2; burn 1 / 8 = 0.125 → 0.
	f := mustSummarize(t, Calendar{}, 2027, date(2027, 8, 1), lines, []LineSpend{{LineID: "a", Period: 1, ActualMinor: 1}}).Lines[0].Figures
	if f.Forecast != 2 || f.BurnRate != 0 {
		t.Errorf("forecast %d burn %d", f.Forecast, f.BurnRate)
	}
	// A refund-heavy year: -1 × 12 / 8 = -1.5 → -2.
	f = mustSummarize(t, Calendar{}, 2027, date(2027, 8, 1), lines, []LineSpend{{LineID: "a", Period: 1, ActualMinor: -1}}).Lines[0].Figures
	if f.Forecast != -2 {
		t.Errorf("negative forecast %d", f.Forecast)
	}
}

func TestAddFigures(t *testing.T) {
	a := Figures{Planned: 100, Actual: 10, ActualYTD: 10, PlannedYTD: 25}
	b := Figures{Planned: 300, Actual: 11, Committed: 5, ActualYTD: 11, PlannedYTD: 75}
	s, err := AddFigures(a, b, 3)
	if err != nil {
		t.Fatal(err)
	}
	want := Figures{Planned: 400, Committed: 5, Actual: 21, Available: 374, Variance: 379, PlannedYTD: 100, ActualYTD: 21,
		VarianceYTD: 79, BurnRate: 7, Forecast: 84 + 5, ForecastVariance: 400 - 89, ConsumptionBP: 650, ConsumptionKnown: true}
	if s != want {
		t.Errorf("AddFigures = %+v\nwant          %+v", s, want)
	}
}

// TestSummarizeHeld: held money reduces available and counts in consumption, never in the
// forecast; totals and period-based roll-ups carry it.
func TestSummarizeHeld(t *testing.T) {
	cal := Calendar{time.January}
	lines := []*Line{{ID: "a", ExpenseType: Opex, PlannedMinor: 120000, Phasing: EvenPhasing(120000)}}
	spend := []LineSpend{
		{LineID: "a", Period: 1, ActualMinor: 10000},
		{LineID: "a", Period: 4, CommittedMinor: 5000, HeldMinor: 20000},
	}
	s := mustSummarize(t, cal, 2027, date(2027, 1, 20), lines, spend)
	f := s.Lines[0].Figures
	if f.Held != 20000 || f.Available != 120000-10000-5000-20000 || f.Forecast != 10000*12+5000 || f.ConsumptionBP != 2916 {
		t.Errorf("line figures = %+v", f) // consumption 35000 / 120000 = 0.29166…
	}
	if p := s.Lines[0].Periods[3]; p.Held != 20000 || p.Available != 10000-5000-20000 {
		t.Errorf("P04 = %+v", p)
	}
	if s.Total != f || s.Periods[3].Held != 20000 {
		t.Errorf("total = %+v, P04 %+v", s.Total, s.Periods[3])
	}
	if got, _, err := FiguresOfPeriods(s.Lines[0].Periods, s.Elapsed); err != nil || got != f {
		t.Errorf("figures of periods = %+v, want %+v", got, f)
	}
	if got, err := CumulativeAvailable(s.Lines[0].Periods, 4); err != nil || got != 40000-10000-5000-20000 {
		t.Errorf("cumulative available through P04 = %d", got)
	}
}

func mustSummarize(t *testing.T, cal Calendar, fy int32, today Date, lines []*Line, spend []LineSpend) Summary {
	t.Helper()
	s, err := Summarize(cal, fy, today, lines, spend)
	if err != nil {
		t.Fatalf("Summarize: %v", err)
	}
	return s
}

// TestSummarizeOverflowIsAnError: two actuals of 92,233,720,368,547,758 EUR on two lines made
// the total −0.16 EUR; a total, a forecast or an available amount beyond the int64 range is
// FIGURE_OUT_OF_RANGE, never a wrapped or clamped number.
func TestSummarizeOverflowIsAnError(t *testing.T) {
	const big = 9_223_372_036_854_775_800 // 92,233,720,368,547,758.00 EUR
	cal := Calendar{time.January}
	two := []*Line{{ID: "a", PlannedMinor: 100, Phasing: EvenPhasing(100), ExpenseType: Opex},
		{ID: "b", PlannedMinor: 100, Phasing: EvenPhasing(100), ExpenseType: Opex}}
	for name, tc := range map[string]struct {
		lines []*Line
		spend []LineSpend
		today Date
	}{
		"total of two lines":     {two, []LineSpend{{LineID: "a", Period: 1, ActualMinor: big}, {LineID: "b", Period: 1, ActualMinor: big}}, date(2027, 12, 31)},
		"one line, two periods":  {two[:1], []LineSpend{{LineID: "a", Period: 1, ActualMinor: big}, {LineID: "a", Period: 2, ActualMinor: big}}, date(2027, 12, 31)},
		"forecast of one period": {two[:1], []LineSpend{{LineID: "a", Period: 1, ActualMinor: big / 4}}, date(2027, 1, 15)},
		"available":              {two[:1], []LineSpend{{LineID: "a", Period: 1, ActualMinor: -big, CommittedMinor: big, HeldMinor: big}}, date(2027, 12, 31)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := Summarize(cal, 2027, tc.today, tc.lines, tc.spend)
			if !errors.Is(err, money.ErrFigureOutOfRange) {
				t.Errorf("Summarize = %v; want FIGURE_OUT_OF_RANGE", err)
			}
		})
	}
	if _, _, err := FiguresOfPeriods([Periods]PeriodFigures{{Actual: big}, {Actual: big}}, 12); !errors.Is(err, money.ErrFigureOutOfRange) {
		t.Errorf("FiguresOfPeriods = %v; want FIGURE_OUT_OF_RANGE", err)
	}
	if _, err := AddFigures(Figures{Planned: big}, Figures{Planned: big}, 12); !errors.Is(err, money.ErrFigureOutOfRange) {
		t.Errorf("AddFigures = %v; want FIGURE_OUT_OF_RANGE", err)
	}
}
