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

// Date is a civil date (no time zone), the kit's civil.Date.
type Date = civil.Date

// RiskState is where a risk stands in its lifecycle; its values are those of the API's
// Risk.State.
type RiskState int32

// The risk states.
const (
	RiskIdentified RiskState = 1
	RiskAssessed   RiskState = 2
	RiskTreating   RiskState = 3
	RiskMonitoring RiskState = 4
	RiskClosed     RiskState = 5
)

// String is the state's API name.
func (s RiskState) String() string {
	switch s {
	case RiskIdentified:
		return "IDENTIFIED"
	case RiskAssessed:
		return "ASSESSED"
	case RiskTreating:
		return "TREATING"
	case RiskMonitoring:
		return "MONITORING"
	case RiskClosed:
		return "CLOSED"
	}
	return fmt.Sprintf("RiskState(%d)", int32(s))
}

// The numbers of the API's Risk.Category and Risk.Treatment that the domain needs.
const (
	CategoryVendor = 4
	CategoryPeople = 7
	MaxCategory    = CategoryPeople
	MaxTreatment   = 4 // AVOID
)

// SourceTitle is the title the register gives the risk it keeps for a source: prefix and the
// source's name, cut to a title's length with an ellipsis when the name is too long for it (a
// display name may have as many characters as a title).
func SourceTitle(prefix, name string) string {
	title := prefix + name
	if utf8.RuneCountInString(title) <= maxTitle {
		return title
	}
	runes := []rune(title)
	return strings.TrimSpace(string(runes[:maxTitle-1])) + "…"
}

// Limits of risk fields, shared with the API's validation rules.
const (
	maxTitle       = 200
	maxDescription = 10000
	maxOwner       = 256
	maxPlan        = 10000
	maxLinks       = 50
)

// ServiceActor is the actor of the changes the service makes itself, reacting to another
// service's event.
const ServiceActor = "service:risk"

// Score is a likelihood and an impact on a matrix, with the level of their cell; the zero Score
// is "not scored".
type Score struct {
	Likelihood int32
	Impact     int32
	Level      Level
}

// Value is the score's number, likelihood × impact.
func (s Score) Value() int32 { return s.Likelihood * s.Impact }

// IsZero reports whether the score is unset.
func (s Score) IsZero() bool { return s == Score{} }

// Risk is an entry of the risk register. Category and Treatment hold the numbers of the API's
// enums.
type Risk struct {
	ID          string
	Title       string
	Description string
	Category    int32
	Owner       string

	Inherent      Score
	Residual      Score
	MatrixVersion int32

	Treatment     int32
	TreatmentPlan string

	State           RiskState
	StateReason     string
	StateChangeTime time.Time

	NextReviewDate Date
	LastReviewTime time.Time
	AboveAppetite  bool

	Vendors   []string // resource names: vendors/{vendor}
	Incidents []string // incidents/{incident}
	Controls  []string // controls/{control}

	Source     string
	Assessor   string
	AssessTime time.Time

	CreateTime time.Time
	UpdateTime time.Time
	// Version counts the changes of the risk; it starts at 1 and orders its events.
	Version int64
}

// RiskName returns the resource name of the risk with the ID.
func RiskName(id string) string { return RiskPattern.Format(id) }

// Name is the risk's resource name, risks/{risk}.
func (r *Risk) Name() string { return RiskName(r.ID) }

// Scored reports whether the risk has been assessed.
func (r *Risk) Scored() bool { return r.MatrixVersion != 0 }

// RiskFields are the client-writable fields of a risk.
type RiskFields struct {
	Title         string
	Description   string
	Category      int32
	Owner         string
	Treatment     int32
	TreatmentPlan string
	Vendors       []string
	Incidents     []string
	Controls      []string
}

// The client-writable fields of a risk, by their API names.
const (
	RiskFieldTitle         = "title"
	RiskFieldDescription   = "description"
	RiskFieldCategory      = "category"
	RiskFieldOwner         = "owner"
	RiskFieldTreatment     = "treatment"
	RiskFieldTreatmentPlan = "treatment_plan"
	RiskFieldVendors       = "vendors"
	RiskFieldIncidents     = "incidents"
	RiskFieldControls      = "controls"
)

// RiskWritableFields lists the fields an update may change.
var RiskWritableFields = []string{RiskFieldTitle, RiskFieldDescription, RiskFieldCategory, RiskFieldOwner,
	RiskFieldTreatment, RiskFieldTreatmentPlan, RiskFieldVendors, RiskFieldIncidents, RiskFieldControls}

// NewRisk returns an IDENTIFIED, unscored risk created at now from fields, checked against the
// invariants. Its review date is still to be planned (PlanReview).
func NewRisk(id string, f RiskFields, now time.Time) (*Risk, error) {
	now = now.UTC().Truncate(time.Microsecond)
	r := &Risk{ID: id, State: RiskIdentified, StateChangeTime: now, CreateTime: now, UpdateTime: now, Version: 1}
	r.set(RiskWritableFields, f)
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Risk) set(paths []string, f RiskFields) {
	for _, p := range paths {
		switch p {
		case RiskFieldTitle:
			r.Title = strings.TrimSpace(f.Title)
		case RiskFieldDescription:
			r.Description = f.Description
		case RiskFieldCategory:
			r.Category = f.Category
		case RiskFieldOwner:
			r.Owner = strings.TrimSpace(f.Owner)
		case RiskFieldTreatment:
			r.Treatment = f.Treatment
		case RiskFieldTreatmentPlan:
			r.TreatmentPlan = f.TreatmentPlan
		case RiskFieldVendors:
			r.Vendors = slices.Clone(f.Vendors)
		case RiskFieldIncidents:
			r.Incidents = slices.Clone(f.Incidents)
		case RiskFieldControls:
			r.Controls = slices.Clone(f.Controls)
		}
	}
}

// Validate checks the invariants of a risk. Every broken rule is reported, each as a violation
// of its field.
func (r *Risk) Validate() error {
	var vs fault.Violations
	vs.RequireText(RiskFieldTitle, r.Title, maxTitle)
	vs.LimitText(RiskFieldDescription, r.Description, maxDescription)
	if r.Category <= 0 || r.Category > MaxCategory {
		vs.Add(RiskFieldCategory, "REQUIRED", "category is required")
	}
	vs.RequireText(RiskFieldOwner, r.Owner, maxOwner)
	if r.Treatment < 0 || r.Treatment > MaxTreatment {
		vs.Add(RiskFieldTreatment, "OUT_OF_RANGE", "treatment is not a defined value")
	}
	vs.LimitText(RiskFieldTreatmentPlan, r.TreatmentPlan, maxPlan)
	for _, l := range []struct {
		field   string
		names   []string
		pattern string
	}{{RiskFieldVendors, r.Vendors, "vendors/"}, {RiskFieldIncidents, r.Incidents, "incidents/"}, {RiskFieldControls, r.Controls, "controls/"}} {
		if len(l.names) > maxLinks {
			vs.Add(l.field, "TOO_MANY", fmt.Sprintf("at most %d %s", maxLinks, l.field))
		}
		seen := map[string]bool{}
		for i, n := range l.names {
			if seen[n] {
				vs.Add(fmt.Sprintf("%s[%d]", l.field, i), "DUPLICATE", "the name is given twice")
			}
			seen[n] = true
		}
	}
	return vs.Err()
}

// Apply sets the fields named in paths to their values in f at time now and reports which of
// them changed. A CLOSED risk cannot change. When something changed the version is incremented;
// the risk must still satisfy its invariants, or it is left untouched.
func (r *Risk) Apply(paths []string, f RiskFields, now time.Time) (changed []string, err error) {
	if r.State == RiskClosed {
		return nil, ErrRiskClosed.With("name", r.Name())
	}
	next := *r
	next.set(paths, f)
	if err := next.Validate(); err != nil {
		return nil, err
	}
	for _, p := range RiskWritableFields {
		if slices.Contains(paths, p) && next.differs(r, p) {
			changed = append(changed, p)
		}
	}
	if len(changed) == 0 {
		return nil, nil
	}
	next.Touch(now)
	*r = next
	return changed, nil
}

func (r *Risk) differs(o *Risk, field string) bool {
	switch field {
	case RiskFieldTitle:
		return r.Title != o.Title
	case RiskFieldDescription:
		return r.Description != o.Description
	case RiskFieldCategory:
		return r.Category != o.Category
	case RiskFieldOwner:
		return r.Owner != o.Owner
	case RiskFieldTreatment:
		return r.Treatment != o.Treatment
	case RiskFieldTreatmentPlan:
		return r.TreatmentPlan != o.TreatmentPlan
	case RiskFieldVendors:
		return !slices.Equal(r.Vendors, o.Vendors)
	case RiskFieldIncidents:
		return !slices.Equal(r.Incidents, o.Incidents)
	case RiskFieldControls:
		return !slices.Equal(r.Controls, o.Controls)
	}
	return false
}

// Touch counts a change of the risk at now: its version moves and its update time is now.
func (r *Risk) Touch(now time.Time) {
	r.Version++
	r.UpdateTime = now.UTC().Truncate(time.Microsecond)
}

func (r *Risk) enter(s RiskState, reason string, now time.Time) {
	r.State, r.StateReason = s, reason
	r.Touch(now)
	r.StateChangeTime = r.UpdateTime
}

// Pair is a likelihood and an impact as an assessment gives them.
type Pair struct {
	Likelihood, Impact int32
}

// Assessment is a scoring of a risk: what an :assess call, or the service reacting to another
// service's event, gives. A nil pair keeps the score as it is (re-levelled on the matrix).
type Assessment struct {
	Inherent *Pair
	Residual *Pair
	Actor    string
	Reason   string
	// Cause names what caused an automatic change (e.g. incidents/{incident}); "" for a person's
	// assessment.
	Cause string
}

// ScoreChange is one entry of a risk's score history.
type ScoreChange struct {
	RiskID            string
	Seq               int64
	Actor             string
	Time              time.Time
	Reason            string
	Cause             string
	FromInherent      Score
	ToInherent        Score
	FromResidual      Score
	ToResidual        Score
	FromMatrixVersion int32
	ToMatrixVersion   int32
}

// ScoreChangeID is the ID of the seq-th score change of a risk: zero-padded so that IDs sort in
// the order of the changes.
func ScoreChangeID(seq int64) string { return fmt.Sprintf("%08d", seq) }

// Name is the score change's resource name, risks/{risk}/scoreChanges/{score_change}.
func (c *ScoreChange) Name() string { return ScoreChangePattern.Format(c.RiskID, ScoreChangeID(c.Seq)) }

// Assess scores the risk on the matrix m at now: an IDENTIFIED risk becomes ASSESSED, any other
// but CLOSED keeps its state. It returns the risk's state before, and the score change when a
// score or the matrix version changed (its Seq is for the store to set), nil otherwise.
func (r *Risk) Assess(m *Matrix, a Assessment, now time.Time) (RiskState, *ScoreChange, error) {
	prevState := r.State
	if r.State == RiskClosed {
		return prevState, nil, ErrRiskClosed.With("name", r.Name())
	}
	var vs fault.Violations
	if a.Inherent == nil && !r.Scored() {
		vs.Add("inherent", "REQUIRED", "the first assessment needs the inherent likelihood and impact")
	}
	pair := func(field string, given *Pair, current Score) Score {
		p := Pair{current.Likelihood, current.Impact}
		if given != nil {
			p = *given
		}
		if given == nil && current.IsZero() {
			return Score{}
		}
		if p.Likelihood < 1 || int(p.Likelihood) > len(m.Likelihood) {
			vs.Add(field+".likelihood", "OUT_OF_RANGE", fmt.Sprintf("likelihood must be 1 to %d on the risk matrix (version %d)", len(m.Likelihood), m.Version))
		}
		if p.Impact < 1 || int(p.Impact) > len(m.Impact) {
			vs.Add(field+".impact", "OUT_OF_RANGE", fmt.Sprintf("impact must be 1 to %d on the risk matrix (version %d)", len(m.Impact), m.Version))
		}
		lvl, _ := m.Level(p.Likelihood, p.Impact)
		return Score{Likelihood: p.Likelihood, Impact: p.Impact, Level: lvl}
	}
	inherent := pair("inherent", a.Inherent, r.Inherent)
	residual := pair("residual", a.Residual, r.Residual)
	vs.LimitText("reason", a.Reason, maxReason)
	if err := vs.Err(); err != nil {
		return prevState, nil, err
	}
	if residual.IsZero() {
		residual = inherent // the first assessment without a residual score
	}
	if residual.Value() > inherent.Value() {
		return prevState, nil, ErrResidualAboveInherent
	}
	now = now.UTC().Truncate(time.Microsecond)
	var change *ScoreChange
	if inherent != r.Inherent || residual != r.Residual || m.Version != r.MatrixVersion {
		change = &ScoreChange{RiskID: r.ID, Actor: a.Actor, Time: now, Reason: a.Reason, Cause: a.Cause,
			FromInherent: r.Inherent, ToInherent: inherent, FromResidual: r.Residual, ToResidual: residual,
			FromMatrixVersion: r.MatrixVersion, ToMatrixVersion: m.Version}
	}
	r.Inherent, r.Residual, r.MatrixVersion = inherent, residual, m.Version
	if a.Cause == "" {
		// A person's assessment; a reaction to another service's event is neither an
		// assessment nor a review: "re-assessed since the incident" must mean a person did.
		r.Assessor, r.AssessTime, r.LastReviewTime = a.Actor, now, now
	}
	if r.State == RiskIdentified {
		r.enter(RiskAssessed, "", now)
	} else {
		r.Touch(now)
	}
	return prevState, change, nil
}

// Review records a review at now that leaves the scores as they are. A CLOSED risk is not
// reviewed.
func (r *Risk) Review(now time.Time) error {
	if r.State == RiskClosed {
		return ErrRiskClosed.With("name", r.Name())
	}
	r.Touch(now)
	r.LastReviewTime = r.UpdateTime
	return nil
}

// PlanReview sets the next review date from the cadence, in days by level (index 0: not
// scored), counted from the last assessment or review, or from identification. A CLOSED risk
// has none.
func (r *Risk) PlanReview(cadence [5]int) {
	if r.State == RiskClosed {
		r.NextReviewDate = Date{}
		return
	}
	from := r.LastReviewTime
	if from.IsZero() {
		from = r.CreateTime
	}
	days := cadence[0]
	if r.Scored() && r.Residual.Level.Valid() {
		days = cadence[r.Residual.Level]
	}
	r.NextReviewDate = civil.DateOf(from.UTC()).AddDays(days)
}

// ReviewDueOn makes the risk due for review on day, when it is not due earlier already: what an
// expired or revoked acceptance does. A CLOSED risk is not reviewed. It reports whether the date
// moved; the caller saves the risk and declares its review (the store's ScheduleRiskReview).
func (r *Risk) ReviewDueOn(day Date, now time.Time) bool {
	if r.State == RiskClosed || (!r.NextReviewDate.IsZero() && !day.Before(r.NextReviewDate)) {
		return false
	}
	r.NextReviewDate = day
	r.Touch(now)
	return true
}

// StartTreatment moves an ASSESSED or MONITORING risk to TREATING at now, with the treatment and
// plan when given (0 and "" keep the risk's).
func (r *Risk) StartTreatment(treatment int32, plan string, now time.Time) error {
	if r.State != RiskAssessed && r.State != RiskMonitoring {
		return r.invalidTransition("TREATING")
	}
	if treatment != 0 {
		r.Treatment = treatment
	}
	if plan != "" {
		r.TreatmentPlan = plan
	}
	if r.Treatment == 0 {
		return ErrTreatmentRequired.With("name", r.Name())
	}
	r.enter(RiskTreating, "", now)
	return nil
}

// Monitor moves a TREATING risk to MONITORING at now.
func (r *Risk) Monitor(now time.Time) error {
	if r.State != RiskTreating {
		return r.invalidTransition("MONITORING")
	}
	r.enter(RiskMonitoring, "", now)
	return nil
}

// Close moves a risk in any state but CLOSED to CLOSED at now, with a reason; it returns the
// state it was in. A closed risk has no review date.
func (r *Risk) Close(reason string, now time.Time) (RiskState, error) {
	prev := r.State
	if r.State == RiskClosed {
		return prev, r.invalidTransition("CLOSED")
	}
	r.enter(RiskClosed, strings.TrimSpace(reason), now)
	r.NextReviewDate = Date{}
	return prev, nil
}

// Reopen moves a CLOSED risk back to ASSESSED (IDENTIFIED when never scored) at now, with a
// reason; it counts as a review, so the next review date counts from now.
func (r *Risk) Reopen(reason string, now time.Time) error {
	if r.State != RiskClosed {
		return r.invalidTransition("reopened")
	}
	s := RiskAssessed
	if !r.Scored() {
		s = RiskIdentified
	}
	r.enter(s, strings.TrimSpace(reason), now)
	r.LastReviewTime = r.UpdateTime
	return nil
}

// CheckDeletable reports whether the risk can be deleted: only while IDENTIFIED.
func (r *Risk) CheckDeletable() error {
	if r.State != RiskIdentified {
		return ErrRiskNotIdentified.With("name", r.Name()).With("state", r.State.String())
	}
	return nil
}

// RemeasureAppetite is MeasureAppetite after a change of the appetite, at now: when the flag
// changes the risk's version moves. It reports whether the flag changed and whether the risk
// crossed the appetite.
func (r *Risk) RemeasureAppetite(a *Appetite, now time.Time) (changed, crossed bool) {
	was := r.AboveAppetite
	crossed = r.MeasureAppetite(a)
	if r.AboveAppetite != was {
		r.Touch(now)
		return true, crossed
	}
	return false, false
}

// MeasureAppetite sets AboveAppetite as the appetite says for the risk's category and residual
// level, and reports whether the risk crossed it: it is above now and was not before. A CLOSED
// risk is never above appetite.
func (r *Risk) MeasureAppetite(a *Appetite) (crossed bool) {
	above := r.State != RiskClosed && a.Above(r.Category, r.Residual.Level)
	crossed = above && !r.AboveAppetite
	r.AboveAppetite = above
	return crossed
}

func (r *Risk) invalidTransition(to string) error {
	return ErrRiskInvalidTransition.Withf("the risk is %s; it cannot become %s", r.State, to).
		With("name", r.Name()).With("state", r.State.String())
}
