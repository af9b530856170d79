package domain

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// Quarter is a calendar quarter, 1 (January to March) to 4 (October to December).
type Quarter struct {
	Year    int
	Quarter int
}

// ParseQuarter reads a quarter written YYYY-Qn, e.g. 2026-Q4.
func ParseQuarter(s string) (Quarter, error) {
	if len(s) != 7 || s[4:6] != "-Q" || s[6] < '1' || s[6] > '4' {
		return Quarter{}, fmt.Errorf("quarter %q is not YYYY-Qn with n 1 to 4", s)
	}
	y, err := strconv.Atoi(s[:4])
	if err != nil || s[0] == '-' || s[0] == '+' {
		return Quarter{}, fmt.Errorf("quarter %q is not YYYY-Qn with n 1 to 4", s)
	}
	return Quarter{Year: y, Quarter: int(s[6] - '0')}, nil
}

// QuarterOf is the quarter of the date.
func QuarterOf(d Date) Quarter { return Quarter{Year: d.Year, Quarter: (int(d.Month)-1)/3 + 1} }

// String writes the quarter as YYYY-Qn.
func (q Quarter) String() string { return fmt.Sprintf("%04d-Q%d", q.Year, q.Quarter) }

// First is the quarter's first day.
func (q Quarter) First() Date { return Date{Year: q.Year, Month: time.Month(3*q.Quarter - 2), Day: 1} }

// Last is the quarter's last day.
func (q Quarter) Last() Date { return civil.DateOf(q.Next().First().Time().AddDate(0, 0, -1)) }

// Next is the quarter after q.
func (q Quarter) Next() Quarter {
	if q.Quarter == 4 {
		return Quarter{Year: q.Year + 1, Quarter: 1}
	}
	return Quarter{Year: q.Year, Quarter: q.Quarter + 1}
}

// Prev is the quarter before q.
func (q Quarter) Prev() Quarter {
	if q.Quarter == 1 {
		return Quarter{Year: q.Year - 1, Quarter: 4}
	}
	return Quarter{Year: q.Year, Quarter: q.Quarter - 1}
}

// Compare orders quarters in time: -1 when q is before o, 0 when equal, +1 after.
func (q Quarter) Compare(o Quarter) int {
	return cmp.Or(cmp.Compare(q.Year, o.Year), cmp.Compare(q.Quarter, o.Quarter))
}

// ScorecardName returns the resource name of the vendor's scorecard of quarter q.
func ScorecardName(vendorID string, q Quarter) string {
	return ScorecardPattern.Format(vendorID, q.String())
}

// ScorecardQuarters is the range of quarters a vendor has scorecards for: from the quarter it was
// created in (created) to the current one (today's), newest first.
func ScorecardQuarters(created time.Time, today Date) []Quarter {
	first, cur := QuarterOf(civil.DateOf(created.UTC())), QuarterOf(today)
	var out []Quarter
	for q := cur; q.Compare(first) >= 0; q = q.Prev() {
		out = append(out, q)
	}
	return out
}

// AttestationsStatus is the worst status among a vendor's attestations on a day; its values are
// those of the API's Scorecard.AttestationStatus.
type AttestationsStatus int32

// The statuses of a vendor's attestations, from the best to the worst; NONE is a vendor without
// any.
const (
	AttestationsValid    AttestationsStatus = 1
	AttestationsExpiring AttestationsStatus = 2
	AttestationsExpired  AttestationsStatus = 3
	AttestationsNone     AttestationsStatus = 4
)

// String is the status's API name.
func (s AttestationsStatus) String() string {
	switch s {
	case AttestationsValid:
		return "VALID"
	case AttestationsExpiring:
		return "EXPIRING"
	case AttestationsExpired:
		return "EXPIRED"
	case AttestationsNone:
		return "NONE"
	}
	return fmt.Sprintf("AttestationsStatus(%d)", int32(s))
}

// WorstAttestation is the worst of the statuses of a vendor's attestations (each VALID, EXPIRING
// or EXPIRED); NONE without any.
func WorstAttestation(statuses []AttestationsStatus) AttestationsStatus {
	if len(statuses) == 0 {
		return AttestationsNone
	}
	return slices.Max(statuses)
}

// ScorecardWeights are the weights of a scorecard's components, from the service's settings.
type ScorecardWeights struct {
	Assessment, Attestations, Spend, Incidents, SLA int32
}

// ScorecardInputs are what a vendor's scorecard of a quarter is computed from.
type ScorecardInputs struct {
	// Spend is the sum of the invoices dated in the quarter, one amount per currency.
	Spend []money.Amount
	// ContractValue is the quarter's share of the contracts in force in it, one amount per
	// currency.
	ContractValue []money.Amount
	// RiskRating is the vendor's risk rating on the quarter's reference day; unspecified without
	// a valid assessment.
	RiskRating RiskRating
	// Attestations is the worst status of the vendor's attestations on the reference day.
	Attestations AttestationsStatus
	// IncidentCount and SLABreachCount are the incidents and SLA breaches attributed to the
	// vendor in the quarter, and Incidents what they count.
	IncidentCount, SLABreachCount int32
	Incidents                     IncidentFigures
}

// SpendRatio is spend in percent of contract value in one currency.
type SpendRatio struct {
	Currency money.Currency
	Percent  int32
}

// ScorecardComponent is one criterion of a scorecard and the points it earned.
type ScorecardComponent struct {
	Criterion        string
	Weight           int32
	ValueDescription string
	Points           int32
	MaxPoints        int32
}

// The criteria of a scorecard, in the order the scorecard lists them.
const (
	CriterionAssessment   = "assessment"
	CriterionAttestations = "attestations"
	CriterionSpend        = "spend"
	CriterionIncidents    = "incidents"
	CriterionSLA          = "sla"
)

// Scorecard rates a vendor over one calendar quarter. It is derived from the vendor's data when
// read, never stored.
type Scorecard struct {
	VendorID string
	Quarter  Quarter
	ScorecardInputs
	SpendRatios []SpendRatio
	// Score is 100 × Σ points / Σ max points, rounded half to even.
	Score      int32
	Components []ScorecardComponent
}

// Name is the scorecard's resource name, vendors/{vendor}/scorecards/{YYYY-Qn}.
func (s *Scorecard) Name() string { return ScorecardName(s.VendorID, s.Quarter) }

// share is weight × num / den in points, rounded half to even.
func share(weight, num, den int32) int32 {
	return int32(money.DivRoundHalfEven(int64(weight)*int64(num), int64(den)))
}

// NewScorecard computes the vendor's scorecard of quarter q from in, with the weights w:
//
//   - assessment: LOW earns 4/4 of its weight, MEDIUM 3/4, HIGH 1/4, CRITICAL or no valid
//     assessment 0;
//   - attestations: VALID 1, EXPIRING 1/2, EXPIRED or NONE 0;
//   - spend: the highest spend ratio of any currency up to 100 % earns the full weight, above
//     100 % and up to 110 % half, above 110 % none; no spend earns the full weight, spend in a
//     currency without contract value none;
//   - incidents and sla: the full weight without an incident (a breach) in the quarter, none
//     with one or more.
//
// Points are rounded half to even; the score is 100 × Σ points / Σ weights, rounded half to even.
func NewScorecard(vendorID string, q Quarter, in ScorecardInputs, w ScorecardWeights) *Scorecard {
	s := &Scorecard{VendorID: vendorID, Quarter: q, ScorecardInputs: in}
	s.SpendRatios = spendRatios(in.Spend, in.ContractValue)

	add := func(criterion string, weight int32, desc string, num, den int32) {
		s.Components = append(s.Components, ScorecardComponent{Criterion: criterion, Weight: weight,
			ValueDescription: desc, Points: share(weight, num, den), MaxPoints: weight})
	}
	switch in.RiskRating {
	case RiskLow:
		add(CriterionAssessment, w.Assessment, "risk rating LOW", 4, 4)
	case RiskMedium:
		add(CriterionAssessment, w.Assessment, "risk rating MEDIUM", 3, 4)
	case RiskHigh:
		add(CriterionAssessment, w.Assessment, "risk rating HIGH", 1, 4)
	case RiskCritical:
		add(CriterionAssessment, w.Assessment, "risk rating CRITICAL", 0, 4)
	default:
		add(CriterionAssessment, w.Assessment, "no valid assessment", 0, 4)
	}
	switch in.Attestations {
	case AttestationsValid:
		add(CriterionAttestations, w.Attestations, "attestations VALID", 1, 1)
	case AttestationsExpiring:
		add(CriterionAttestations, w.Attestations, "attestations EXPIRING", 1, 2)
	case AttestationsExpired:
		add(CriterionAttestations, w.Attestations, "attestations EXPIRED", 0, 1)
	default:
		add(CriterionAttestations, w.Attestations, "no attestation", 0, 1)
	}
	desc, num, den := spendShare(in.Spend, s.SpendRatios)
	add(CriterionSpend, w.Spend, desc, num, den)
	if in.IncidentCount == 0 {
		add(CriterionIncidents, w.Incidents, "0 incidents", 1, 1)
	} else {
		add(CriterionIncidents, w.Incidents, plural(in.IncidentCount, "incident"), 0, 1)
	}
	if in.SLABreachCount == 0 {
		add(CriterionSLA, w.SLA, "0 SLA breaches", 1, 1)
	} else {
		add(CriterionSLA, w.SLA, plural(in.SLABreachCount, "SLA breach"), 0, 1)
	}

	var points, max int32
	for _, c := range s.Components {
		points += c.Points
		max += c.MaxPoints
	}
	if max > 0 {
		s.Score = share(100, points, max)
	}
	return s
}

// plural is n things: "1 incident", "2 SLA breaches".
func plural(n int32, thing string) string {
	switch {
	case n == 1:
		return "1 " + thing
	case strings.HasSuffix(thing, "ch"):
		return fmt.Sprintf("%d %ses", n, thing)
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// spendRatios is 100 × spend / contract value, rounded half to even, for each currency with a
// contract value; spend absent in a currency counts as 0.
func spendRatios(spend, value []money.Amount) []SpendRatio {
	var out []SpendRatio
	for _, v := range value {
		if v.Minor <= 0 {
			continue
		}
		var minor int64
		if i := slices.IndexFunc(spend, func(a money.Amount) bool { return a.Currency == v.Currency }); i >= 0 {
			minor = spend[i].Minor
		}
		out = append(out, SpendRatio{Currency: v.Currency, Percent: int32(money.DivRoundHalfEven(100*minor, v.Minor))})
	}
	return out
}

// spendShare is the spend component's description and fraction of its weight.
func spendShare(spend []money.Amount, ratios []SpendRatio) (desc string, num, den int32) {
	spent := false
	for _, a := range spend {
		if a.Minor <= 0 {
			continue
		}
		spent = true
		if !slices.ContainsFunc(ratios, func(r SpendRatio) bool { return r.Currency == a.Currency }) {
			return fmt.Sprintf("spend without contract value (%s)", a.Currency), 0, 1
		}
	}
	if !spent {
		return "no spend", 1, 1
	}
	top := slices.MaxFunc(ratios, func(a, b SpendRatio) int { return cmp.Compare(a.Percent, b.Percent) })
	desc = fmt.Sprintf("spend %d%% of contract value (%s)", top.Percent, top.Currency)
	switch {
	case top.Percent <= 100:
		return desc, 1, 1
	case top.Percent <= 110:
		return desc, 1, 2
	}
	return desc, 0, 1
}

// InvoiceMonthTotal is the sum of a vendor's invoices dated in one month, in one currency.
type InvoiceMonthTotal struct {
	Month  civil.Month
	Amount money.Amount
}

// QuarterSpend sums the month totals of quarter q by currency, ordered by currency code.
func QuarterSpend(totals []InvoiceMonthTotal, q Quarter) []money.Amount {
	return sumByCurrency(func(yield func(money.Amount) bool) {
		for _, t := range totals {
			if QuarterOf(Date{Year: t.Month.Year, Month: t.Month.Month, Day: 1}) == q && !yield(t.Amount) {
				return
			}
		}
	})
}

// ContractInForce reports whether the contract was in force on at least one day of quarter q:
// it started by the quarter's last day and is ACTIVE or RENEWED, or was TERMINATED or EXPIRED on
// or after the quarter's first day (its termination's effective date, or its end date).
func ContractInForce(c *Contract, q Quarter) bool {
	if !c.State.InForce() && !c.State.Ended() {
		return false
	}
	start := c.StartDate
	if start.IsZero() && !c.ActivateTime.IsZero() {
		start = civil.DateOf(c.ActivateTime.UTC())
	}
	if start.IsZero() || q.Last().Before(start) {
		return false
	}
	switch c.State {
	case ContractTerminated:
		end := c.TerminationEffectiveDate
		if end.IsZero() {
			end = civil.DateOf(c.TerminateTime.UTC())
		}
		return !end.Before(q.First())
	case ContractExpired:
		return !c.EndDate.Before(q.First())
	}
	return true
}

// QuarterContractValue is the value of the contracts in force in quarter q: each one's annual
// value / 4, rounded half to even, summed by currency and ordered by currency code. Contracts
// without an annual value add nothing.
func QuarterContractValue(contracts []*Contract, q Quarter) []money.Amount {
	return sumByCurrency(func(yield func(money.Amount) bool) {
		for _, c := range contracts {
			if c.AnnualValue.Currency == "" || !ContractInForce(c, q) {
				continue
			}
			if !yield(money.Amount{Minor: money.DivRoundHalfEven(c.AnnualValue.Minor, 4), Currency: c.AnnualValue.Currency}) {
				return
			}
		}
	})
}

// sumByCurrency sums amounts by currency, ordered by currency code; a sum beyond the int64
// range saturates (no real vendor gets there).
func sumByCurrency(amounts func(yield func(money.Amount) bool)) []money.Amount {
	sums := map[money.Currency]int64{}
	for a := range amounts {
		s, err := money.AddMinor(sums[a.Currency], a.Minor)
		if err != nil {
			s = sums[a.Currency]
		}
		sums[a.Currency] = s
	}
	out := make([]money.Amount, 0, len(sums))
	for c, m := range sums {
		out = append(out, money.Amount{Minor: m, Currency: c})
	}
	slices.SortFunc(out, func(a, b money.Amount) int { return cmp.Compare(a.Currency, b.Currency) })
	return out
}

// RatingOn is a vendor's risk rating on day from its assessments: that of the latest assessment
// completed by then and still valid then; RiskUnspecified without one.
func RatingOn(assessments []*Assessment, day Date) RiskRating {
	var latest *Assessment
	for _, a := range assessments {
		if a.State != AssessmentCompleted || a.CompleteTime.IsZero() || day.Before(civil.DateOf(a.CompleteTime.UTC())) ||
			a.ValidUntil.Before(day) {
			continue
		}
		if latest == nil || a.CompleteTime.After(latest.CompleteTime) {
			latest = a
		}
	}
	if latest == nil {
		return RiskUnspecified
	}
	return latest.RiskRating
}

// ScorecardDay is the day a scorecard of quarter q reads ratings and statuses on: the quarter's
// last day, or today for the current quarter.
func ScorecardDay(q Quarter, today Date) Date {
	if q == QuarterOf(today) {
		return today
	}
	return q.Last()
}
