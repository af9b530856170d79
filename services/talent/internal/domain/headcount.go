package domain

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
)

// The patterns of headcount plans' and scenarios' names; a plan's ID is its fiscal year.
const (
	HeadcountPlanPattern     names.Pattern = "teams/{team}/headcountPlans/{headcount_plan}"
	HeadcountScenarioPattern names.Pattern = "teams/{team}/headcountPlans/{headcount_plan}/scenarios/{scenario}"
)

// Errors about headcount plans and scenarios. Compare with errors.Is.
var (
	ErrPlanNotFound     = fault.New(fault.NotFound, "HEADCOUNT_PLAN_NOT_FOUND", "headcount plan not found")
	ErrPlanExists       = fault.New(fault.AlreadyExists, "HEADCOUNT_PLAN_ALREADY_EXISTS", "the team already has a headcount plan for this fiscal year")
	ErrScenarioNotFound = fault.New(fault.NotFound, "HEADCOUNT_SCENARIO_NOT_FOUND", "headcount scenario not found")
	ErrScenarioExists   = fault.New(fault.AlreadyExists, "HEADCOUNT_SCENARIO_ALREADY_EXISTS", "a scenario with this ID already exists in the plan")
	ErrPlanTeamNotFound = fault.New(fault.NotFound, "TEAM_NOT_FOUND", "team not found")
)

// Quarters is the number of quarters of a fiscal year.
const Quarters = 4

// maxHeadcount bounds a quarter's planned headcount.
const maxHeadcount = 100000

// FiscalCalendar places fiscal years: each starts on the first day of StartMonth and is named
// after the calendar year in which it ends (with April, fiscal year 2027 runs from 2026-04-01
// to 2027-03-31), as budget's are.
type FiscalCalendar struct{ StartMonth time.Month }

// Quarter returns the first and last day of quarter q (1 to 4) of fiscal year fy.
func (c FiscalCalendar) Quarter(fy int32, q int) (civil.Date, civil.Date) {
	first := civil.Date{Year: int(fy), Month: c.StartMonth, Day: 1}
	if c.StartMonth != time.January {
		first.Year--
	}
	from := first.AddMonths(3 * (q - 1))
	return from, from.AddMonths(3).AddDays(-1)
}

// QuarterPlan is what a plan or scenario plans for one quarter: the headcount at its end and
// the quarter's cost.
type QuarterPlan struct {
	Headcount int32
	CostMinor int64
}

// HeadcountPlan is a team's planned headcount and cost per quarter of a fiscal year.
type HeadcountPlan struct {
	TeamID     string
	FiscalYear int32
	Currency   money.Currency
	Quarters   [Quarters]QuarterPlan
	// AdoptedScenario is the ID of the scenario adopted last, or empty.
	AdoptedScenario string
	CreateTime      time.Time
	UpdateTime      time.Time
	Version         int64
}

// Name is the plan's resource name.
func (p *HeadcountPlan) Name() string { return PlanName(p.TeamID, p.FiscalYear) }

// PlanName is the name of team's plan for fiscal year fy.
func PlanName(teamID string, fy int32) string {
	return HeadcountPlanPattern.Format(teamID, FiscalYearID(fy))
}

// FiscalYearID is a plan's ID, its fiscal year: "2027".
func FiscalYearID(fy int32) string { return fmt.Sprint(fy) }

// ParseFiscalYear is the fiscal year of a plan's ID ("2027"), or false.
func ParseFiscalYear(id string) (int32, bool) {
	var fy int32
	if len(id) != 4 {
		return 0, false
	}
	if _, err := fmt.Sscanf(id, "%04d", &fy); err != nil || fy < 2000 || fy > 2100 {
		return 0, false
	}
	return fy, true
}

// NewHeadcountPlan returns a plan created at now, checked against the invariants.
func NewHeadcountPlan(teamID string, fy int32, currency money.Currency, quarters [Quarters]QuarterPlan, now time.Time) (*HeadcountPlan, error) {
	now = now.UTC().Truncate(time.Microsecond)
	p := &HeadcountPlan{TeamID: teamID, FiscalYear: fy, Currency: currency, Quarters: quarters,
		CreateTime: now, UpdateTime: now, Version: 1}
	var vs fault.Violations
	if fy < 2000 || fy > 2100 {
		vs.Add("fiscal_year", "OUT_OF_RANGE", "fiscal_year is 2000 to 2100")
	}
	if !currency.Supported() {
		vs.Add("headcount_plan.currency_code", "CURRENCY_UNSUPPORTED", "the currency is not supported")
	}
	vs = append(vs, checkQuarters("headcount_plan.quarters", quarters)...)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	return p, nil
}

// SetQuarters replaces the plan's quarters at now and reports whether they changed.
func (p *HeadcountPlan) SetQuarters(quarters [Quarters]QuarterPlan, now time.Time) (bool, error) {
	if err := checkQuarters("headcount_plan.quarters", quarters).Err(); err != nil {
		return false, err
	}
	if quarters == p.Quarters {
		return false, nil
	}
	p.Quarters = quarters
	p.touch(now)
	return true, nil
}

func (p *HeadcountPlan) touch(now time.Time) {
	p.UpdateTime = now.UTC().Truncate(time.Microsecond)
	p.Version++
}

// Adopt makes scenario s's quarters the plan's at now, and marks s adopted.
func (p *HeadcountPlan) Adopt(s *HeadcountScenario, now time.Time) {
	p.Quarters, p.AdoptedScenario = s.Quarters, s.ID
	p.touch(now)
	s.AdoptTime = now.UTC().Truncate(time.Microsecond)
	s.touch(now)
}

// checkQuarters reports quarters with a negative or too large headcount, or a negative cost.
func checkQuarters(field string, qs [Quarters]QuarterPlan) fault.Violations {
	var vs fault.Violations
	for i, q := range qs {
		f := fmt.Sprintf("%s[%d]", field, i)
		if q.Headcount < 0 || q.Headcount > maxHeadcount {
			vs.Add(f+".planned_headcount", "OUT_OF_RANGE", "planned_headcount is 0 to 100000")
		}
		if q.CostMinor < 0 {
			vs.Add(f+".planned_cost", "AMOUNT_NEGATIVE", "planned_cost cannot be negative")
		}
	}
	return vs
}

// HeadcountScenario is a what-if copy of a plan with changes.
type HeadcountScenario struct {
	TeamID      string
	FiscalYear  int32
	ID          string
	DisplayName string
	Description string
	Quarters    [Quarters]QuarterPlan
	AdoptTime   time.Time // zero until adopted
	CreateTime  time.Time
	UpdateTime  time.Time
	Version     int64
}

// The client-writable fields of a scenario, by their API names.
const (
	FieldScenarioDisplayName = "display_name"
	FieldScenarioDescription = "description"
	FieldScenarioQuarters    = "quarters"
)

// ScenarioWritableFields lists the fields an update of a scenario may change.
var ScenarioWritableFields = []string{FieldScenarioDisplayName, FieldScenarioDescription, FieldScenarioQuarters}

// Name is the scenario's resource name.
func (s *HeadcountScenario) Name() string {
	return HeadcountScenarioPattern.Format(s.TeamID, FiscalYearID(s.FiscalYear), s.ID)
}

// Plan is the name of the scenario's plan.
func (s *HeadcountScenario) Plan() string { return PlanName(s.TeamID, s.FiscalYear) }

// NewHeadcountScenario returns a scenario of plan p created at now with the given fields;
// quarters nil copies the plan's.
func NewHeadcountScenario(p *HeadcountPlan, id, displayName, description string, quarters *[Quarters]QuarterPlan, now time.Time) (*HeadcountScenario, error) {
	now = now.UTC().Truncate(time.Microsecond)
	s := &HeadcountScenario{TeamID: p.TeamID, FiscalYear: p.FiscalYear, ID: id, DisplayName: strings.TrimSpace(displayName),
		Description: description, Quarters: p.Quarters, CreateTime: now, UpdateTime: now, Version: 1}
	if quarters != nil {
		s.Quarters = *quarters
	}
	if err := s.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// Validate checks the invariants of a scenario.
func (s *HeadcountScenario) Validate() error {
	var vs fault.Violations
	vs.RequireText("headcount_scenario.display_name", s.DisplayName, maxDisplayName)
	vs.LimitText("headcount_scenario.description", s.Description, maxDescription)
	vs = append(vs, checkQuarters("headcount_scenario.quarters", s.Quarters)...)
	return vs.Err()
}

// Apply sets the fields named in paths at now and reports which changed; the scenario must
// still satisfy its invariants, or it is left untouched.
func (s *HeadcountScenario) Apply(paths []string, displayName, description string, quarters [Quarters]QuarterPlan, now time.Time) ([]string, error) {
	next := *s
	for _, p := range paths {
		switch p {
		case FieldScenarioDisplayName:
			next.DisplayName = strings.TrimSpace(displayName)
		case FieldScenarioDescription:
			next.Description = description
		case FieldScenarioQuarters:
			next.Quarters = quarters
		}
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	changed := changedFields(paths, ScenarioWritableFields, func(f string) bool {
		switch f {
		case FieldScenarioDisplayName:
			return next.DisplayName != s.DisplayName
		case FieldScenarioDescription:
			return next.Description != s.Description
		case FieldScenarioQuarters:
			return next.Quarters != s.Quarters
		}
		return false
	})
	if len(changed) == 0 {
		return nil, nil
	}
	next.touch(now)
	*s = next
	return changed, nil
}

func (s *HeadcountScenario) touch(now time.Time) {
	s.UpdateTime = now.UTC().Truncate(time.Microsecond)
	s.Version++
}

// Staff is what a plan's actuals count of a person: the days employed and the loaded annual
// cost (zero Currency when unknown).
type Staff struct {
	Start, End civil.Date // End zero while employed
	AnnualCost money.Amount
}

// Opening is what a plan's actuals count of an open position (OPEN or OFFER).
type Opening struct {
	TargetStart civil.Date
}

// QuarterActual is a quarter's actual figures: the people employed on its last day, their
// loaded cost for the quarter (CostKnown false when a person's cost is unknown or in another
// currency than the plan's), and the open positions expected to start by its end.
type QuarterActual struct {
	Headcount     int32
	CostMinor     int64
	CostKnown     bool
	OpenPositions int32
}

// Actuals computes quarter by quarter, as known today, the people of a team (staff) employed
// on each quarter's last day with their cost for the days of the quarter they are employed
// (annual cost × days / days of the fiscal year, rounded half to even), and the open positions
// whose target start falls on or before the quarter's end.
func (p *HeadcountPlan) Actuals(cal FiscalCalendar, staff []Staff, openings []Opening) [Quarters]QuarterActual {
	var out [Quarters]QuarterActual
	yearFirst, _ := cal.Quarter(p.FiscalYear, 1)
	_, yearLast := cal.Quarter(p.FiscalYear, Quarters)
	yearDays := daysBetween(yearFirst, yearLast)
	for q := range Quarters {
		first, last := cal.Quarter(p.FiscalYear, q+1)
		a := QuarterActual{CostKnown: true}
		var (
			sum int64
			err error
		)
		for _, s := range staff {
			if !last.Before(s.Start) && (s.End.IsZero() || !s.End.Before(last)) {
				a.Headcount++
			}
			from, to := first, last
			if from.Before(s.Start) {
				from = s.Start
			}
			if !s.End.IsZero() && s.End.Before(to) {
				to = s.End
			}
			if to.Before(from) {
				continue
			}
			if s.AnnualCost.Currency != p.Currency {
				a.CostKnown = false
				continue
			}
			part := money.Saturate(money.RoundHalfEven(new(big.Int).Mul(big.NewInt(s.AnnualCost.Minor), big.NewInt(daysBetween(from, to))), big.NewInt(yearDays)))
			if sum, err = money.AddMinor(sum, part); err != nil {
				a.CostKnown = false // beyond any real payroll: shown as unknown
			}
		}
		if a.CostKnown {
			a.CostMinor = sum
		}
		for _, o := range openings {
			if !last.Before(o.TargetStart) {
				a.OpenPositions++
			}
		}
		out[q] = a
	}
	return out
}

// daysBetween is the number of days from a to b, both included.
func daysBetween(a, b civil.Date) int64 {
	return int64(b.Time().Sub(a.Time())/(24*time.Hour)) + 1
}
