package domain

import (
	"testing"
	"time"
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
	s := Summarize(cal, 2027, date(2027, 3, 10), lines, spend)
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
	if c := CumulativeAvailable(s.Lines[0].Periods, 3); c != 30000-30001-5000 {
		t.Errorf("cumulative available = %d", c)
	}

	// Before the year: forecast is actual + committed; after it: elapsed 12.
	before := Summarize(cal, 2027, date(2026, 12, 31), lines, spend)
	if before.Elapsed != 0 || before.Lines[0].Figures.BurnRate != 0 || before.Lines[0].Figures.Forecast != 55001 || before.AsOf != date(2027, 1, 1) {
		t.Errorf("before the year: %+v", before.Lines[0].Figures)
	}
	after := Summarize(cal, 2027, date(2028, 2, 1), lines, spend)
	if after.Elapsed != 12 || after.Lines[0].Figures.Forecast != 55001 || after.Lines[0].Figures.PlannedYTD != 120000 {
		t.Errorf("after the year: %+v", after.Lines[0].Figures)
	}
}

func TestForecastRoundsHalfToEven(t *testing.T) {
	lines := []*Line{{ID: "a", ExpenseType: Opex, PlannedMinor: 0, Phasing: EvenPhasing(0)}}
	// Elapsed 8 (August): 1 × 12 / 8 = 1.5 → 2; burn 1 / 8 = 0.125 → 0.
	f := Summarize(Calendar{}, 2027, date(2027, 8, 1), lines, []LineSpend{{LineID: "a", Period: 1, ActualMinor: 1}}).Lines[0].Figures
	if f.Forecast != 2 || f.BurnRate != 0 {
		t.Errorf("forecast %d burn %d", f.Forecast, f.BurnRate)
	}
	// A refund-heavy year: -1 × 12 / 8 = -1.5 → -2.
	f = Summarize(Calendar{}, 2027, date(2027, 8, 1), lines, []LineSpend{{LineID: "a", Period: 1, ActualMinor: -1}}).Lines[0].Figures
	if f.Forecast != -2 {
		t.Errorf("negative forecast %d", f.Forecast)
	}
}

func TestAddFigures(t *testing.T) {
	a := Figures{Planned: 100, Actual: 10, ActualYTD: 10, PlannedYTD: 25}
	b := Figures{Planned: 300, Actual: 11, Committed: 5, ActualYTD: 11, PlannedYTD: 75}
	s := AddFigures(a, b, 3)
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
	s := Summarize(cal, 2027, date(2027, 1, 20), lines, spend)
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
	if got, _ := FiguresOfPeriods(s.Lines[0].Periods, s.Elapsed); got != f {
		t.Errorf("figures of periods = %+v, want %+v", got, f)
	}
	if got := CumulativeAvailable(s.Lines[0].Periods, 4); got != 40000-10000-5000-20000 {
		t.Errorf("cumulative available through P04 = %d", got)
	}
}
