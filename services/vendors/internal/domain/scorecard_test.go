package domain

import (
	"slices"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

func TestParseQuarter(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Quarter{"2026-Q4": {2026, 4}, "2027-Q1": {2027, 1}, "0999-Q2": {999, 2}} {
		if q, err := ParseQuarter(in); err != nil || q != want || q.String() != in {
			t.Errorf("ParseQuarter(%q) = %v, %v; want %v and back", in, q, err, want)
		}
	}
	for _, bad := range []string{"", "2026-Q0", "2026-Q5", "2026Q4", "2026-q4", "26-Q4", "+026-Q4", "2026-Q44"} {
		if q, err := ParseQuarter(bad); err == nil {
			t.Errorf("ParseQuarter(%q) = %v; want an error", bad, q)
		}
	}
	q := Quarter{2026, 4}
	if q.First() != d(2026, 10, 1) || q.Last() != d(2026, 12, 31) || q.Next() != (Quarter{2027, 1}) || q.Prev() != (Quarter{2026, 3}) {
		t.Errorf("2026-Q4: first %v last %v next %v prev %v", q.First(), q.Last(), q.Next(), q.Prev())
	}
	if l := (Quarter{2028, 1}).Last(); l != d(2028, 3, 31) {
		t.Errorf("2028-Q1 ends %v", l)
	}
	if QuarterOf(d(2027, 3, 31)) != (Quarter{2027, 1}) || QuarterOf(d(2027, 4, 1)) != (Quarter{2027, 2}) {
		t.Error("QuarterOf the edges of a quarter")
	}
	got := ScorecardQuarters(time.Date(2026, 11, 30, 23, 0, 0, 0, time.UTC), d(2027, 4, 1))
	if want := []Quarter{{2027, 2}, {2027, 1}, {2026, 4}}; !slices.Equal(got, want) {
		t.Errorf("ScorecardQuarters = %v; want %v, newest first", got, want)
	}
	if ScorecardDay(Quarter{2027, 1}, d(2027, 2, 10)) != d(2027, 2, 10) || ScorecardDay(Quarter{2026, 4}, d(2027, 2, 10)) != d(2026, 12, 31) {
		t.Error("ScorecardDay: today in the current quarter, the last day of a past one")
	}
}

func eurs(minor int64) money.Amount { return money.Amount{Minor: minor, Currency: "EUR"} }

var weights = ScorecardWeights{Assessment: 30, Attestations: 20, Spend: 20, Incidents: 15, SLA: 15}

func TestScorecardArithmetic(t *testing.T) {
	t.Parallel()
	usd := func(minor int64) money.Amount { return money.Amount{Minor: minor, Currency: "USD"} }
	for _, c := range []struct {
		name   string
		in     ScorecardInputs
		w      ScorecardWeights
		points []int32 // assessment, attestations, spend, incidents, sla
		score  int32
		spend  string
		ratios []SpendRatio
	}{
		{name: "nothing known: incidents and SLA only", in: ScorecardInputs{Attestations: AttestationsNone},
			points: []int32{0, 0, 20, 15, 15}, score: 50, spend: "no spend"},
		{name: "LOW, VALID, on budget", in: ScorecardInputs{RiskRating: RiskLow, Attestations: AttestationsValid,
			Spend: []money.Amount{eurs(300_000)}, ContractValue: []money.Amount{eurs(300_000)}},
			points: []int32{30, 20, 20, 15, 15}, score: 100, spend: "spend 100% of contract value (EUR)",
			ratios: []SpendRatio{{"EUR", 100}}},
		{name: "MEDIUM, EXPIRING, 105 %", in: ScorecardInputs{RiskRating: RiskMedium, Attestations: AttestationsExpiring,
			Spend: []money.Amount{eurs(315_000)}, ContractValue: []money.Amount{eurs(300_000)}},
			// 30 × 3/4 = 22.5 → 22 (half to even); 20 × 1/2 = 10; spend half: 10.
			points: []int32{22, 10, 10, 15, 15}, score: 72, spend: "spend 105% of contract value (EUR)",
			ratios: []SpendRatio{{"EUR", 105}}},
		{name: "HIGH, EXPIRED, 111 % in one currency", in: ScorecardInputs{RiskRating: RiskHigh, Attestations: AttestationsExpired,
			Spend:         []money.Amount{eurs(100_000), usd(111_000)},
			ContractValue: []money.Amount{eurs(300_000), usd(100_000)}},
			// 30 × 1/4 = 7.5 → 8 (half to even); the highest ratio decides.
			points: []int32{8, 0, 0, 15, 15}, score: 38, spend: "spend 111% of contract value (USD)",
			ratios: []SpendRatio{{"EUR", 33}, {"USD", 111}}},
		{name: "CRITICAL, spend without contract value", in: ScorecardInputs{RiskRating: RiskCritical, Attestations: AttestationsValid,
			Spend: []money.Amount{usd(5_000)}, ContractValue: []money.Amount{eurs(300_000)}},
			points: []int32{0, 20, 0, 15, 15}, score: 50, spend: "spend without contract value (USD)",
			ratios: []SpendRatio{{"EUR", 0}}},
		{name: "110 % is still half; score rounds half to even", in: ScorecardInputs{Attestations: AttestationsNone,
			Spend: []money.Amount{eurs(110)}, ContractValue: []money.Amount{eurs(100)}},
			w: ScorecardWeights{Assessment: 1, Spend: 3}, points: []int32{0, 0, 2, 0, 0}, score: 50,
			spend: "spend 110% of contract value (EUR)", ratios: []SpendRatio{{"EUR", 110}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := c.w
			if w == (ScorecardWeights{}) {
				w = weights
			}
			s := NewScorecard("acme", Quarter{2027, 1}, c.in, w)
			var points []int32
			var criteria []string
			for _, comp := range s.Components {
				points = append(points, comp.Points)
				criteria = append(criteria, comp.Criterion)
				if comp.MaxPoints != comp.Weight || comp.Points < 0 || comp.Points > comp.MaxPoints {
					t.Errorf("%s: %+v; want 0 ≤ points ≤ max = weight", comp.Criterion, comp)
				}
			}
			if want := []string{"assessment", "attestations", "spend", "incidents", "sla"}; !slices.Equal(criteria, want) {
				t.Errorf("criteria %v; want %v", criteria, want)
			}
			if !slices.Equal(points, c.points) || s.Score != c.score {
				t.Errorf("points %v score %d; want %v score %d", points, s.Score, c.points, c.score)
			}
			if s.Components[2].ValueDescription != c.spend {
				t.Errorf("spend described %q; want %q", s.Components[2].ValueDescription, c.spend)
			}
			if !slices.Equal(s.SpendRatios, c.ratios) {
				t.Errorf("ratios %v; want %v", s.SpendRatios, c.ratios)
			}
			if s.Name() != "vendors/acme/scorecards/2027-Q1" {
				t.Errorf("name %s", s.Name())
			}
		})
	}
}

func TestQuarterSources(t *testing.T) {
	t.Parallel()
	q := Quarter{2027, 1}
	totals := []InvoiceMonthTotal{
		{civil.Month{Year: 2026, Month: 12}, eurs(1)},
		{civil.Month{Year: 2027, Month: 1}, eurs(100)},
		{civil.Month{Year: 2027, Month: 3}, money.Amount{Minor: 7, Currency: "CHF"}},
		{civil.Month{Year: 2027, Month: 3}, eurs(50)},
		{civil.Month{Year: 2027, Month: 4}, eurs(1000)},
	}
	if got, want := QuarterSpend(totals, q), []money.Amount{{Minor: 7, Currency: "CHF"}, eurs(150)}; !slices.Equal(got, want) {
		t.Errorf("QuarterSpend = %v; want %v, by currency", got, want)
	}

	contract := func(state ContractState, start, end Date, annual int64) *Contract {
		return &Contract{State: state, StartDate: start, EndDate: end, AnnualValue: eurs(annual)}
	}
	terminated := contract(ContractTerminated, d(2026, 1, 1), d(2027, 12, 31), 4_000_002)
	terminated.TerminationEffectiveDate = d(2027, 1, 1)
	for _, c := range []struct {
		name string
		c    *Contract
		want bool
	}{
		{"active", contract(ContractActive, d(2027, 1, 1), d(2027, 12, 31), 1), true},
		{"renewed", contract(ContractRenewed, d(2025, 1, 1), d(2027, 12, 31), 1), true},
		{"starts after the quarter", contract(ContractActive, d(2027, 4, 1), d(2027, 12, 31), 1), false},
		{"draft", contract(ContractDraft, d(2027, 1, 1), d(2027, 12, 31), 1), false},
		{"pending", contract(ContractPendingApproval, d(2027, 1, 1), d(2027, 12, 31), 1), false},
		{"expired in the quarter", contract(ContractExpired, d(2026, 1, 1), d(2027, 1, 1), 1), true},
		{"expired before", contract(ContractExpired, d(2026, 1, 1), d(2026, 12, 31), 1), false},
		{"terminated on its first day", terminated, true},
	} {
		if got := ContractInForce(c.c, q); got != c.want {
			t.Errorf("%s: in force in %v = %t; want %t", c.name, q, got, c.want)
		}
	}
	// A quarter of each annual value, rounded half to even: 4 000 002 / 4 = 1 000 000.5 → 1 000 000,
	// 10 / 4 = 2.5 → 2, 6 / 4 = 1.5 → 2.
	cs := []*Contract{terminated, contract(ContractActive, d(2027, 1, 1), d(2027, 12, 31), 10),
		contract(ContractActive, d(2027, 1, 1), d(2027, 12, 31), 6), contract(ContractDraft, d(2027, 1, 1), d(2027, 12, 31), 400)}
	if got, want := QuarterContractValue(cs, q), []money.Amount{eurs(1_000_004)}; !slices.Equal(got, want) {
		t.Errorf("QuarterContractValue = %v; want %v", got, want)
	}
}

func TestRatingOn(t *testing.T) {
	t.Parallel()
	completed := func(at time.Time, until Date, r RiskRating) *Assessment {
		return &Assessment{State: AssessmentCompleted, CompleteTime: at, ValidUntil: until, RiskRating: r}
	}
	as := []*Assessment{
		completed(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC), d(2027, 2, 28), RiskHigh),
		completed(time.Date(2026, 11, 5, 10, 0, 0, 0, time.UTC), d(2026, 12, 15), RiskLow),
		{State: AssessmentCancelled, RiskRating: RiskCritical},
	}
	for _, c := range []struct {
		day  Date
		want RiskRating
	}{
		{d(2026, 2, 28), RiskUnspecified}, // before the first completion
		{d(2026, 3, 1), RiskHigh},         // completed that day
		{d(2026, 11, 5), RiskLow},         // the latest completed
		{d(2026, 12, 31), RiskHigh},       // the latest lapsed: the earlier one is still valid
		{d(2027, 3, 1), RiskUnspecified},  // none valid
	} {
		if got := RatingOn(as, c.day); got != c.want {
			t.Errorf("RatingOn(%v) = %d; want %d", c.day, got, c.want)
		}
	}
	if WorstAttestation(nil) != AttestationsNone ||
		WorstAttestation([]AttestationsStatus{AttestationsValid, AttestationsExpiring}) != AttestationsExpiring ||
		WorstAttestation([]AttestationsStatus{AttestationsExpired, AttestationsValid}) != AttestationsExpired {
		t.Error("WorstAttestation")
	}
}
