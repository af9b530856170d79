package domain

import (
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

func date(y int, m time.Month, d int) civil.Date { return civil.Date{Year: y, Month: m, Day: d} }

func TestFiscalQuarters(t *testing.T) {
	for _, tc := range []struct {
		start       time.Month
		q           int
		first, last string
	}{
		{time.January, 1, "2027-01-01", "2027-03-31"},
		{time.January, 4, "2027-10-01", "2027-12-31"},
		{time.April, 1, "2026-04-01", "2026-06-30"},
		{time.April, 4, "2027-01-01", "2027-03-31"},
		{time.December, 2, "2027-03-01", "2027-05-31"},
	} {
		first, last := FiscalCalendar{StartMonth: tc.start}.Quarter(2027, tc.q)
		if first.String() != tc.first || last.String() != tc.last {
			t.Errorf("FY2027 from %s, Q%d = %s to %s; want %s to %s", tc.start, tc.q, first, last, tc.first, tc.last)
		}
	}
}

func TestPlanActuals(t *testing.T) {
	p, err := NewHeadcountPlan("platform", 2027, "USD", [Quarters]QuarterPlan{{3, 100}, {4, 100}, {5, 100}, {5, 100}}, t0)
	if err != nil {
		t.Fatal(err)
	}
	cal := FiscalCalendar{StartMonth: time.April} // Q1 2026-04-01 … Q4 2027-01-01–2027-03-31, 365 days
	usd := func(minor int64) money.Amount { return money.Amount{Minor: minor, Currency: "USD"} }
	staff := []Staff{
		{Start: date(2020, 1, 1), AnnualCost: usd(365_000)},                             // all year: 1,000 a day
		{Start: date(2026, 8, 1), End: date(2026, 11, 30), AnnualCost: usd(365_000)},    // Q2 from Aug 1 (61 days), Q3 to Nov 30 (61 days)
		{Start: date(2026, 12, 1), AnnualCost: money.Amount{Minor: 1, Currency: "EUR"}}, // Q3 on: cost in another currency
	}
	openings := []Opening{{TargetStart: date(2026, 9, 1)}, {TargetStart: date(2027, 2, 1)}}
	got := p.Actuals(cal, staff, openings)
	want := [Quarters]QuarterActual{
		{Headcount: 1, CostMinor: 91_000, CostKnown: true, OpenPositions: 0},
		{Headcount: 2, CostMinor: 92_000 + 61_000, CostKnown: true, OpenPositions: 1},
		{Headcount: 2, CostKnown: false, OpenPositions: 1}, // the second left on Nov 30, the third joined
		{Headcount: 2, CostKnown: false, OpenPositions: 2},
	}
	if got != want {
		t.Fatalf("actuals =\n%+v\nwant\n%+v", got, want)
	}
}

func TestScenarioAdoption(t *testing.T) {
	p, _ := NewHeadcountPlan("platform", 2027, "USD", [Quarters]QuarterPlan{{3, 100}, {4, 100}, {5, 100}, {5, 100}}, t0)
	s, err := NewHeadcountScenario(p, "lean", "Lean", "", nil, t0)
	if err != nil || s.Quarters != p.Quarters {
		t.Fatalf("a scenario without quarters copies the plan's: %v, %+v", err, s)
	}
	qs := p.Quarters
	qs[3].Headcount = 4
	if changed, err := s.Apply([]string{FieldScenarioQuarters}, "", "", qs, t0); err != nil || len(changed) != 1 {
		t.Fatalf("apply: %v, %v", changed, err)
	}
	bad := qs
	bad[0].Headcount = -1
	if _, err := s.Apply([]string{FieldScenarioQuarters}, "", "", bad, t0); violations(t, err)["headcount_scenario.quarters[0].planned_headcount"] != "OUT_OF_RANGE" {
		t.Fatalf("negative headcount: %v", err)
	}
	p.Adopt(s, t0.Add(time.Hour))
	if p.Quarters[3].Headcount != 4 || p.AdoptedScenario != "lean" || s.AdoptTime.IsZero() || p.Version != 2 {
		t.Fatalf("adopted: plan %+v, scenario %+v", p, s)
	}
}
