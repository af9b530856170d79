package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Errors of continuity plans and their exercises.
var (
	ErrPlanNotFound = fault.New(fault.NotFound, "CONTINUITY_PLAN_NOT_FOUND", "continuity plan not found")
	ErrPlanExists   = fault.New(fault.AlreadyExists, "CONTINUITY_PLAN_ALREADY_EXISTS",
		"a continuity plan with this ID already exists")
	ErrServiceCovered = fault.New(fault.AlreadyExists, "SERVICE_ALREADY_COVERED",
		"another continuity plan covers this service")
	ErrExerciseNotFound = fault.New(fault.NotFound, "CONTINUITY_EXERCISE_NOT_FOUND", "continuity exercise not found")
	ErrExerciseExists   = fault.New(fault.AlreadyExists, "CONTINUITY_EXERCISE_ALREADY_EXISTS",
		"an exercise with this ID already exists for the plan")
)

// Limits of continuity plan and exercise fields, shared with the API's validation rules.
const (
	maxPlanTitle        = 200
	maxPlanDescription  = 10000
	maxPlanService      = 100
	maxPlanOwner        = 256
	maxPlanDependencies = 50
	maxObjective        = 90 * 24 * time.Hour
	maxCadenceMonths    = 36
	maxCadenceDays      = 1095
	maxFindings         = 20
	maxExerciseNotes    = 10000
	// FindingDueDays is how long after the day an exercise is recorded a finding without a due
	// date is due.
	FindingDueDays = 30
)

// Unset is the value of an objective a request did not give, refused as required.
const Unset time.Duration = -1 << 63

// Cadence is how often a plan must be exercised: every Months months or every Days days, one
// of them set.
type Cadence struct {
	Months int32 `json:"months,omitempty"`
	Days   int32 `json:"days,omitempty"`
}

// After is the day the cadence after d.
func (c Cadence) After(d civil.Date) civil.Date {
	if c.Months > 0 {
		return d.AddMonths(int(c.Months))
	}
	return d.AddDays(int(c.Days))
}

// ContinuityPlan is how the organisation recovers one business service, with its objectives,
// dependencies, owner and exercise cadence.
type ContinuityPlan struct {
	ID                  string
	Title               string
	Description         string
	Service             string
	RTO                 time.Duration
	RPO                 time.Duration
	VendorDependencies  []string
	ServiceDependencies []string
	Risk                string
	Owner               string
	Cadence             Cadence
	// LastExercise is the ID of the latest exercise by date, and LastExerciseDate its date; empty
	// before the first.
	LastExercise     string
	LastExerciseDate civil.Date
	NextExerciseDate civil.Date
	CreateTime       time.Time
	UpdateTime       time.Time
	// Version counts the changes of the plan; it starts at 1 and orders its events.
	Version int64
}

// PlanName returns the resource name of the plan id.
func PlanName(id string) string { return ContinuityPlanPattern.Format(id) }

// Name is the plan's resource name, continuityPlans/{continuity_plan}.
func (p *ContinuityPlan) Name() string { return PlanName(p.ID) }

// LastExerciseName is the resource name of the latest exercise, or empty.
func (p *ContinuityPlan) LastExerciseName() string {
	if p.LastExercise == "" {
		return ""
	}
	return ExerciseName(p.ID, p.LastExercise)
}

// ExerciseOverdue reports whether the plan's next exercise date is before today.
func (p *ContinuityPlan) ExerciseOverdue(today civil.Date) bool {
	return p.NextExerciseDate.Before(today)
}

// OverdueAt is when the plan falls overdue: the start (UTC) of the day after its next exercise's
// date.
func (p *ContinuityPlan) OverdueAt() time.Time { return p.NextExerciseDate.AddDays(1).Time() }

// planExercise sets the next exercise's date: the cadence after the latest exercise, or after
// the day the plan was created before its first.
func (p *ContinuityPlan) planExercise() {
	from := p.LastExerciseDate
	if from.IsZero() {
		from = civil.DateOf(p.CreateTime)
	}
	p.NextExerciseDate = p.Cadence.After(from)
}

// PlanFields are the client-writable fields of a continuity plan.
type PlanFields struct {
	Title               string
	Description         string
	Service             string
	RTO                 time.Duration
	RPO                 time.Duration
	VendorDependencies  []string
	ServiceDependencies []string
	Risk                string
	Owner               string
	Cadence             Cadence
}

// The client-writable fields of a continuity plan, by their API names.
const (
	PlanFieldTitle               = "title"
	PlanFieldDescription         = "description"
	PlanFieldService             = "service"
	PlanFieldRTO                 = "recovery_time_objective"
	PlanFieldRPO                 = "recovery_point_objective"
	PlanFieldVendorDependencies  = "vendor_dependencies"
	PlanFieldServiceDependencies = "service_dependencies"
	PlanFieldRisk                = "risk"
	PlanFieldOwner               = "owner"
	PlanFieldCadence             = "exercise_cadence"
)

// PlanWritableFields lists the fields an update may change.
var PlanWritableFields = []string{PlanFieldTitle, PlanFieldDescription, PlanFieldService, PlanFieldRTO, PlanFieldRPO,
	PlanFieldVendorDependencies, PlanFieldServiceDependencies, PlanFieldRisk, PlanFieldOwner, PlanFieldCadence}

// NewContinuityPlan returns a plan created at now from f, checked against the invariants, with
// its first exercise due its cadence after today.
func NewContinuityPlan(id string, f PlanFields, now time.Time) (*ContinuityPlan, error) {
	now = now.UTC().Truncate(time.Microsecond)
	p := &ContinuityPlan{ID: id, CreateTime: now, UpdateTime: now, Version: 1}
	p.set(PlanWritableFields, f)
	if err := p.validate(); err != nil {
		return nil, err
	}
	p.planExercise()
	return p, nil
}

func (p *ContinuityPlan) set(paths []string, f PlanFields) {
	for _, path := range paths {
		switch path {
		case PlanFieldTitle:
			p.Title = strings.TrimSpace(f.Title)
		case PlanFieldDescription:
			p.Description = f.Description
		case PlanFieldService:
			p.Service = strings.TrimSpace(f.Service)
		case PlanFieldRTO:
			p.RTO = f.RTO
		case PlanFieldRPO:
			p.RPO = f.RPO
		case PlanFieldVendorDependencies:
			p.VendorDependencies = slices.Clone(f.VendorDependencies)
		case PlanFieldServiceDependencies:
			p.ServiceDependencies = trimAll(f.ServiceDependencies)
		case PlanFieldRisk:
			p.Risk = f.Risk
		case PlanFieldOwner:
			p.Owner = strings.TrimSpace(f.Owner)
		case PlanFieldCadence:
			p.Cadence = f.Cadence
		}
	}
}

// validate checks the invariants, every broken rule as a violation of its field in the request
// (continuity_plan.*).
func (p *ContinuityPlan) validate() error {
	var vs fault.Violations
	const prefix = "continuity_plan."
	if p.Title == "" {
		vs.Add(prefix+PlanFieldTitle, "REQUIRED", "title is required")
	}
	if p.Service == "" {
		vs.Add(prefix+PlanFieldService, "REQUIRED", "service is required")
	}
	if p.Owner == "" {
		vs.Add(prefix+PlanFieldOwner, "REQUIRED", "owner is required")
	}
	tooLong(&vs, prefix+PlanFieldTitle, p.Title, maxPlanTitle)
	tooLong(&vs, prefix+PlanFieldDescription, p.Description, maxPlanDescription)
	tooLong(&vs, prefix+PlanFieldService, p.Service, maxPlanService)
	tooLong(&vs, prefix+PlanFieldOwner, p.Owner, maxPlanOwner)
	switch {
	case p.RTO == Unset:
		vs.Add(prefix+PlanFieldRTO, "REQUIRED", "recovery_time_objective is required")
	case p.RTO <= 0:
		vs.Add(prefix+PlanFieldRTO, "OUT_OF_RANGE", "recovery_time_objective must be more than 0")
	case p.RTO > maxObjective:
		vs.Add(prefix+PlanFieldRTO, "OUT_OF_RANGE", "recovery_time_objective may be at most 90 days")
	}
	switch {
	case p.RPO == Unset:
		vs.Add(prefix+PlanFieldRPO, "REQUIRED", "recovery_point_objective is required (0 for no loss of data)")
	case p.RPO < 0:
		vs.Add(prefix+PlanFieldRPO, "OUT_OF_RANGE", "recovery_point_objective may not be negative")
	case p.RPO > maxObjective:
		vs.Add(prefix+PlanFieldRPO, "OUT_OF_RANGE", "recovery_point_objective may be at most 90 days")
	}
	c := p.Cadence
	switch {
	case c.Months == 0 && c.Days == 0:
		vs.Add(prefix+PlanFieldCadence, "REQUIRED", "exercise_cadence is required: months or days")
	case c.Months != 0 && c.Days != 0:
		vs.Add(prefix+PlanFieldCadence, "CADENCE_AMBIGUOUS", "exercise_cadence takes months or days, not both")
	case c.Months < 0 || c.Months > maxCadenceMonths:
		vs.Add(prefix+PlanFieldCadence+".months", "OUT_OF_RANGE", fmt.Sprintf("months must be 1 to %d", maxCadenceMonths))
	case c.Days < 0 || c.Days > maxCadenceDays:
		vs.Add(prefix+PlanFieldCadence+".days", "OUT_OF_RANGE", fmt.Sprintf("days must be 1 to %d", maxCadenceDays))
	}
	if p.Risk != "" && !RiskPattern.Match(p.Risk) {
		vs.Add(prefix+PlanFieldRisk, "INVALID_NAME", fmt.Sprintf("%q is not a risk's name", p.Risk))
	}
	for _, l := range []struct {
		field string
		names []string
		check func(string) bool
	}{{PlanFieldVendorDependencies, p.VendorDependencies, VendorPattern.Match},
		{PlanFieldServiceDependencies, p.ServiceDependencies, func(s string) bool { return utf8.RuneCountInString(s) <= maxPlanService }}} {
		if len(l.names) > maxPlanDependencies {
			vs.Add(prefix+l.field, "TOO_MANY", fmt.Sprintf("%s has more than %d entries", l.field, maxPlanDependencies))
		}
		for i, n := range l.names {
			field := fmt.Sprintf("%s%s[%d]", prefix, l.field, i)
			switch {
			case !l.check(n):
				vs.Add(field, "INVALID_NAME", fmt.Sprintf("%q is not valid here", n))
			case slices.Index(l.names, n) != i:
				vs.Add(field, "DUPLICATE", fmt.Sprintf("%q is named twice", n))
			case l.field == PlanFieldServiceDependencies && n == p.Service:
				vs.Add(field, "SELF_DEPENDENCY", "a service does not depend on itself")
			}
		}
	}
	return vs.Err()
}

// Apply sets the fields named in paths to their values in f at time now and reports which of
// them changed. A new cadence moves the next exercise's date. When something changed the version
// is incremented; the plan must still satisfy its invariants, or it is left untouched.
func (p *ContinuityPlan) Apply(paths []string, f PlanFields, now time.Time) (changed []string, err error) {
	next := *p
	next.set(paths, f)
	for _, path := range PlanWritableFields {
		if slices.Contains(paths, path) && next.differs(p, path) {
			changed = append(changed, path)
		}
	}
	if err := next.validate(); err != nil {
		return nil, err
	}
	if len(changed) == 0 {
		return nil, nil
	}
	next.planExercise()
	next.Version++
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	*p = next
	return changed, nil
}

func (p *ContinuityPlan) differs(o *ContinuityPlan, field string) bool {
	switch field {
	case PlanFieldTitle:
		return p.Title != o.Title
	case PlanFieldDescription:
		return p.Description != o.Description
	case PlanFieldService:
		return p.Service != o.Service
	case PlanFieldRTO:
		return p.RTO != o.RTO
	case PlanFieldRPO:
		return p.RPO != o.RPO
	case PlanFieldVendorDependencies:
		return !slices.Equal(p.VendorDependencies, o.VendorDependencies)
	case PlanFieldServiceDependencies:
		return !slices.Equal(p.ServiceDependencies, o.ServiceDependencies)
	case PlanFieldRisk:
		return p.Risk != o.Risk
	case PlanFieldOwner:
		return p.Owner != o.Owner
	case PlanFieldCadence:
		return p.Cadence != o.Cadence
	}
	return false
}

// Record takes exercise e into the plan at now, measuring it against the plan's objectives: an
// exercise dated on or after the latest becomes the latest and moves the next exercise's date.
// Either way the plan's version moves, as an exercise is a change of the plan.
func (p *ContinuityPlan) Record(e *ContinuityExercise, now time.Time) {
	e.RTO, e.RPO = p.RTO, p.RPO
	e.RTOResult, e.RPOResult = measure(e.AchievedRTO, p.RTO), measure(e.AchievedRPO, p.RPO)
	if p.LastExerciseDate.IsZero() || !e.Date.Before(p.LastExerciseDate) {
		p.LastExercise, p.LastExerciseDate = e.ID, e.Date
		p.planExercise()
	}
	p.Version++
	p.UpdateTime = now.UTC().Truncate(time.Microsecond)
}

// ExerciseKind is the kind of a continuity exercise; its values are those of the API's
// ExerciseKind.
type ExerciseKind int32

// The kinds of exercise.
const (
	Tabletop  ExerciseKind = 1
	Failover  ExerciseKind = 2
	Unplanned ExerciseKind = 3
)

// TargetResult is whether an exercise met a target; its values are those of the API's
// TargetResult.
type TargetResult int32

// The results of a target.
const (
	TargetMet         TargetResult = 1
	TargetMissed      TargetResult = 2
	TargetNotMeasured TargetResult = 3
)

// measure compares an achieved value, nil when not measured, with its objective.
func measure(achieved *time.Duration, objective time.Duration) TargetResult {
	switch {
	case achieved == nil:
		return TargetNotMeasured
	case *achieved > objective:
		return TargetMissed
	}
	return TargetMet
}

// Finding is something an exercise found to fix; Action names the mitigation action it became.
type Finding struct {
	Title       string     `json:"title"`
	Description string     `json:"description,omitempty"`
	Owner       string     `json:"owner"`
	DueDate     civil.Date `json:"dueDate"`
	Action      string     `json:"action,omitempty"`
}

// ContinuityExercise is the record of one exercise of a plan; never changed.
type ContinuityExercise struct {
	PlanID      string
	ID          string
	Kind        ExerciseKind
	Date        civil.Date
	AchievedRTO *time.Duration
	AchievedRPO *time.Duration
	// RTO and RPO are the plan's objectives when the exercise was recorded, and RTOResult and
	// RPOResult the measures against them (ContinuityPlan.Record sets them).
	RTO       time.Duration
	RPO       time.Duration
	RTOResult TargetResult
	RPOResult TargetResult
	Findings  []Finding
	Notes     string
	// Incident names the OUTAGE incident an UNPLANNED exercise records, or is empty.
	Incident   string
	Recorder   string
	CreateTime time.Time
}

// ExerciseName returns the resource name of exercise id of plan planID.
func ExerciseName(planID, id string) string { return ContinuityExercisePattern.Format(planID, id) }

// Name is the exercise's resource name, continuityPlans/{continuity_plan}/exercises/{exercise}.
func (e *ContinuityExercise) Name() string { return ExerciseName(e.PlanID, e.ID) }

// Missed reports whether the exercise missed its recovery time or point objective.
func (e *ContinuityExercise) Missed() bool {
	return e.RTOResult == TargetMissed || e.RPOResult == TargetMissed
}

// NewContinuityExercise returns an exercise of plan planID recorded by recorder at now, checked:
// its kind set, its date valid and not after today, the achieved times its kind asks for given
// and in range, its findings complete (a finding without an owner is defaultOwner's, one without
// a due date due FindingDueDays after today).
func NewContinuityExercise(planID, id string, e ContinuityExercise, recorder, defaultOwner string, now time.Time) (*ContinuityExercise, error) {
	now = now.UTC().Truncate(time.Microsecond)
	e.PlanID, e.ID, e.Recorder, e.CreateTime = planID, id, recorder, now
	var vs fault.Violations
	const prefix = "continuity_exercise."
	today := civil.DateOf(now)
	if e.Kind < Tabletop || e.Kind > Unplanned {
		vs.Add(prefix+"kind", "REQUIRED", "kind is required: TABLETOP, FAILOVER or UNPLANNED")
	}
	switch {
	case e.Date.IsZero():
		vs.Add(prefix+"exercise_date", "REQUIRED", "exercise_date is required")
	case !e.Date.Valid():
		vs.Add(prefix+"exercise_date", civil.ErrDateInvalid.Reason, "exercise_date is not a valid date")
	case today.Before(e.Date):
		vs.Add(prefix+"exercise_date", "DATE_IN_FUTURE", fmt.Sprintf("exercise_date may not be after today (%s)", today))
	}
	for _, a := range []struct {
		field    string
		value    *time.Duration
		required bool
	}{{"achieved_recovery_time", e.AchievedRTO, e.Kind == Failover || e.Kind == Unplanned},
		{"achieved_recovery_point", e.AchievedRPO, e.Kind == Failover}} {
		switch {
		case a.value == nil && a.required:
			vs.Add(prefix+a.field, "REQUIRED", a.field+" is required for this kind of exercise")
		case a.value != nil && (*a.value < 0 || *a.value > maxObjective):
			vs.Add(prefix+a.field, "OUT_OF_RANGE", a.field+" must be 0 to 90 days")
		}
	}
	tooLong(&vs, prefix+"notes", e.Notes, maxExerciseNotes)
	if len(e.Findings) > maxFindings {
		vs.Add(prefix+"findings", "TOO_MANY", fmt.Sprintf("at most %d findings", maxFindings))
	}
	e.Findings = slices.Clone(e.Findings)
	for i := range e.Findings {
		f := &e.Findings[i]
		field := fmt.Sprintf("%sfindings[%d].", prefix, i)
		f.Title, f.Owner, f.Action = strings.TrimSpace(f.Title), strings.TrimSpace(f.Owner), ""
		if f.Owner == "" {
			f.Owner = defaultOwner
		}
		if f.Title == "" {
			vs.Add(field+"title", "REQUIRED", "title is required")
		}
		tooLong(&vs, field+"title", f.Title, maxActionTitle)
		tooLong(&vs, field+"description", f.Description, maxActionDescription)
		tooLong(&vs, field+"owner", f.Owner, maxActionOwner)
		switch {
		case f.DueDate.IsZero():
			f.DueDate = today.AddDays(FindingDueDays)
		case !f.DueDate.Valid():
			vs.Add(field+"due_date", civil.ErrDateInvalid.Reason, "due_date is not a valid date")
		case f.DueDate.Before(today):
			vs.Add(field+"due_date", "DUE_DATE_IN_PAST", fmt.Sprintf("due_date may not be before today (%s)", today))
		}
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	return &e, nil
}
