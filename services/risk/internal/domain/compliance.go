package domain

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Errors of frameworks, controls and control tests.
var (
	ErrFrameworkNotFound       = fault.New(fault.NotFound, "FRAMEWORK_NOT_FOUND", "framework not found")
	ErrFrameworkNotInCatalogue = fault.New(fault.NotFound, "FRAMEWORK_NOT_IN_CATALOGUE",
		"the service's catalogue has no framework with this ID")
	ErrRequirementNotFound = fault.New(fault.NotFound, "REQUIREMENT_NOT_FOUND", "requirement not found")
	ErrControlNotFound     = fault.New(fault.NotFound, "CONTROL_NOT_FOUND", "control not found")
	ErrControlExists       = fault.New(fault.AlreadyExists, "CONTROL_ALREADY_EXISTS", "a control with this ID already exists")
	ErrControlTestNotFound = fault.New(fault.NotFound, "CONTROL_TEST_NOT_FOUND", "control test not found")
	ErrControlTestExists   = fault.New(fault.AlreadyExists, "CONTROL_TEST_ALREADY_EXISTS",
		"a test with this ID already exists for the control")
)

// Framework is a set of requirements imported from the service's catalogue.
type Framework struct {
	ID          string
	Title       string
	Publisher   string
	Edition     string
	Description string
	// RequirementCount is how many requirements the framework has (read, never written).
	RequirementCount int32
	CreateTime       time.Time
	UpdateTime       time.Time
	Version          int64
}

// FrameworkName returns the resource name of the framework id.
func FrameworkName(id string) string { return FrameworkPattern.Format(id) }

// Name is the framework's resource name, frameworks/{framework}.
func (f *Framework) Name() string { return FrameworkName(f.ID) }

// Requirement is one item of a framework: an identifier and a short title, at a position.
type Requirement struct {
	FrameworkID string
	ID          string
	Identifier  string
	Title       string
	Position    int32
}

// RequirementName returns the resource name of requirement id of framework frameworkID.
func RequirementName(frameworkID, id string) string {
	return RequirementPattern.Format(frameworkID, id)
}

// Name is the requirement's resource name, frameworks/{framework}/requirements/{requirement}.
func (r *Requirement) Name() string { return RequirementName(r.FrameworkID, r.ID) }

var notIDChars = regexp.MustCompile(`[^a-z0-9]+`)

// RequirementID is the resource ID of a requirement with the identifier: lower case, each run of
// other characters a `-` ("A.5.1" → "a-5-1").
func RequirementID(identifier string) string {
	return strings.Trim(notIDChars.ReplaceAllString(strings.ToLower(identifier), "-"), "-")
}

// ControlType is what a control does about a risk; its values are those of the API's
// ControlType.
type ControlType int32

// The types of a control.
const (
	ControlPreventive ControlType = 1
	ControlDetective  ControlType = 2
	ControlCorrective ControlType = 3
)

// TestFrequency is how often a control is tested; its values are those of the API's
// TestFrequency.
type TestFrequency int32

// The test frequencies.
const (
	Monthly      TestFrequency = 1
	Quarterly    TestFrequency = 2
	SemiAnnually TestFrequency = 3
	Annually     TestFrequency = 4
)

// Months is the number of months between two tests.
func (f TestFrequency) Months() int {
	switch f {
	case Monthly:
		return 1
	case Quarterly:
		return 3
	case SemiAnnually:
		return 6
	case Annually:
		return 12
	}
	return 0
}

// TestResult is the result of a control test; its values are those of the API's
// ControlTestResult, 0 for a control not tested yet.
type TestResult int32

// The results of a control test.
const (
	Untested           TestResult = 0
	Effective          TestResult = 1
	PartiallyEffective TestResult = 2
	Ineffective        TestResult = 3
)

// String is the result's API name.
func (r TestResult) String() string {
	switch r {
	case Effective:
		return "EFFECTIVE"
	case PartiallyEffective:
		return "PARTIALLY_EFFECTIVE"
	case Ineffective:
		return "INEFFECTIVE"
	}
	return "CONTROL_TEST_RESULT_UNSPECIFIED"
}

// Limits of control fields, shared with the API's validation rules.
const (
	maxControlTitle        = 200
	maxControlDescription  = 10000
	maxControlOwner        = 256
	maxControlRequirements = 200
	maxControlRisks        = 50
	maxTestNotes           = 10000
	maxEvidenceLinks       = 20
)

// Control is something the organisation does to meet requirements and reduce risks, tested at a
// frequency.
type Control struct {
	ID          string
	Title       string
	Description string
	Owner       string
	Type        ControlType
	Frequency   TestFrequency
	// Requirements are the names of the requirements the control satisfies, in the order given.
	Requirements []string
	// Risks are the names of the risks the control mitigates: the risks whose controls name it,
	// by name.
	Risks []string
	// LastResult and LastTestDate are those of the latest test by test date.
	LastResult   TestResult
	LastTestDate civil.Date
	NextTestDate civil.Date
	CreateTime   time.Time
	UpdateTime   time.Time
	// Version counts the changes of the control; it starts at 1 and orders its events.
	Version int64
}

// ControlName returns the resource name of the control id.
func ControlName(id string) string { return ControlPattern.Format(id) }

// Name is the control's resource name, controls/{control}.
func (c *Control) Name() string { return ControlName(c.ID) }

// TestDue reports whether the control's next test is due on or before today.
func (c *Control) TestDue(today civil.Date) bool { return !today.Before(c.NextTestDate) }

// TestDueAt is when the control falls due for a test: the start (UTC) of its next test's date.
func (c *Control) TestDueAt() time.Time { return c.NextTestDate.Time() }

// planTest sets the next test's date: the frequency after the latest test, or after the day the
// control was created before its first test.
func (c *Control) planTest() {
	from := c.LastTestDate
	if from.IsZero() {
		from = civil.DateOf(c.CreateTime)
	}
	c.NextTestDate = from.AddMonths(c.Frequency.Months())
}

// Frameworks returns the IDs of the frameworks of the control's requirements, each once, sorted.
func (c *Control) Frameworks() []string {
	var ids []string
	for _, r := range c.Requirements {
		var f, id string
		if RequirementPattern.Scan(r, &f, &id) && !slices.Contains(ids, f) {
			ids = append(ids, f)
		}
	}
	slices.Sort(ids)
	return ids
}

// ControlFields are the client-writable fields of a control.
type ControlFields struct {
	Title        string
	Description  string
	Owner        string
	Type         ControlType
	Frequency    TestFrequency
	Requirements []string
	Risks        []string
}

// The client-writable fields of a control, by their API names.
const (
	ControlFieldTitle        = "title"
	ControlFieldDescription  = "description"
	ControlFieldOwner        = "owner"
	ControlFieldType         = "type"
	ControlFieldFrequency    = "test_frequency"
	ControlFieldRequirements = "requirements"
	ControlFieldRisks        = "risks"
)

// ControlWritableFields lists the fields an update may change.
var ControlWritableFields = []string{ControlFieldTitle, ControlFieldDescription, ControlFieldOwner, ControlFieldType,
	ControlFieldFrequency, ControlFieldRequirements, ControlFieldRisks}

// NewControl returns a control created at now from f, checked against the invariants, with its
// first test due its frequency after today.
func NewControl(id string, f ControlFields, now time.Time) (*Control, error) {
	now = now.UTC().Truncate(time.Microsecond)
	c := &Control{ID: id, CreateTime: now, UpdateTime: now, Version: 1}
	c.set(ControlWritableFields, f)
	if err := c.validate(); err != nil {
		return nil, err
	}
	c.planTest()
	return c, nil
}

func (c *Control) set(paths []string, f ControlFields) {
	for _, p := range paths {
		switch p {
		case ControlFieldTitle:
			c.Title = strings.TrimSpace(f.Title)
		case ControlFieldDescription:
			c.Description = f.Description
		case ControlFieldOwner:
			c.Owner = strings.TrimSpace(f.Owner)
		case ControlFieldType:
			c.Type = f.Type
		case ControlFieldFrequency:
			c.Frequency = f.Frequency
		case ControlFieldRequirements:
			c.Requirements = slices.Clone(f.Requirements)
		case ControlFieldRisks:
			c.Risks = slices.Clone(f.Risks)
			slices.Sort(c.Risks)
		}
	}
}

// validate checks the invariants, every broken rule as a violation of its field in the request
// (control.*).
func (c *Control) validate() error {
	var vs fault.Violations
	const prefix = "control."
	if c.Title == "" {
		vs.Add(prefix+ControlFieldTitle, "REQUIRED", "title is required")
	}
	if c.Owner == "" {
		vs.Add(prefix+ControlFieldOwner, "REQUIRED", "owner is required")
	}
	if c.Type < ControlPreventive || c.Type > ControlCorrective {
		vs.Add(prefix+ControlFieldType, "REQUIRED", "type is required: PREVENTIVE, DETECTIVE or CORRECTIVE")
	}
	if c.Frequency.Months() == 0 {
		vs.Add(prefix+ControlFieldFrequency, "REQUIRED", "test_frequency is required")
	}
	tooLong(&vs, prefix+ControlFieldTitle, c.Title, maxControlTitle)
	tooLong(&vs, prefix+ControlFieldDescription, c.Description, maxControlDescription)
	tooLong(&vs, prefix+ControlFieldOwner, c.Owner, maxControlOwner)
	for _, l := range []struct {
		field string
		names []string
		max   int
		p     interface{ Match(string) bool }
	}{{ControlFieldRequirements, c.Requirements, maxControlRequirements, RequirementPattern},
		{ControlFieldRisks, c.Risks, maxControlRisks, RiskPattern}} {
		if len(l.names) > l.max {
			vs.Add(prefix+l.field, "TOO_MANY", fmt.Sprintf("%s has more than %d names", l.field, l.max))
		}
		for i, n := range l.names {
			if !l.p.Match(n) {
				vs.Add(fmt.Sprintf("%s%s[%d]", prefix, l.field, i), "INVALID_NAME", fmt.Sprintf("%q is not a valid name", n))
			} else if slices.Index(l.names, n) != i {
				vs.Add(fmt.Sprintf("%s%s[%d]", prefix, l.field, i), "DUPLICATE", fmt.Sprintf("%q is named twice", n))
			}
		}
	}
	return vs.Err()
}

// Apply sets the fields named in paths to their values in f at time now and reports which of
// them changed. A new frequency moves the next test's date. When something changed the version
// is incremented; the control must still satisfy its invariants, or it is left untouched.
func (c *Control) Apply(paths []string, f ControlFields, now time.Time) (changed []string, err error) {
	next := *c
	next.set(paths, f)
	for _, p := range ControlWritableFields {
		if slices.Contains(paths, p) && next.differs(c, p) {
			changed = append(changed, p)
		}
	}
	if err := next.validate(); err != nil {
		return nil, err
	}
	if len(changed) == 0 {
		return nil, nil
	}
	next.planTest()
	next.Version++
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	*c = next
	return changed, nil
}

func (c *Control) differs(o *Control, field string) bool {
	switch field {
	case ControlFieldTitle:
		return c.Title != o.Title
	case ControlFieldDescription:
		return c.Description != o.Description
	case ControlFieldOwner:
		return c.Owner != o.Owner
	case ControlFieldType:
		return c.Type != o.Type
	case ControlFieldFrequency:
		return c.Frequency != o.Frequency
	case ControlFieldRequirements:
		return !slices.Equal(c.Requirements, o.Requirements)
	case ControlFieldRisks:
		return !slices.Equal(c.Risks, o.Risks)
	}
	return false
}

// Record takes test t into the control at now: a test dated on or after the latest becomes the
// latest, sets the last result and moves the next test's date. It reports whether t is the
// latest; either way the control's version moves, as a test is a change of the control.
func (c *Control) Record(t *ControlTest, now time.Time) (latest bool) {
	if c.LastTestDate.IsZero() || !t.Date.Before(c.LastTestDate) {
		c.LastResult, c.LastTestDate = t.Result, t.Date
		c.planTest()
		latest = true
	}
	c.Version++
	c.UpdateTime = now.UTC().Truncate(time.Microsecond)
	return latest
}

// ControlTest is the record of one test of a control; never changed.
type ControlTest struct {
	ControlID     string
	ID            string
	Date          civil.Date
	Result        TestResult
	EvidenceLinks []string
	Notes         string
	Tester        string
	// RaisedRisks are the risks whose residual likelihood the test raised.
	RaisedRisks []string
	CreateTime  time.Time
}

// ControlTestName returns the resource name of test id of control controlID.
func ControlTestName(controlID, id string) string { return ControlTestPattern.Format(controlID, id) }

// Name is the test's resource name, controls/{control}/tests/{test}.
func (t *ControlTest) Name() string { return ControlTestName(t.ControlID, t.ID) }

// NewControlTest returns a test of control controlID recorded by tester at now, checked: its
// date is valid and not after today, its result set.
func NewControlTest(controlID, id string, t ControlTest, tester string, now time.Time) (*ControlTest, error) {
	now = now.UTC().Truncate(time.Microsecond)
	t.ControlID, t.ID, t.Tester, t.CreateTime, t.RaisedRisks = controlID, id, tester, now, nil
	var vs fault.Violations
	const prefix = "control_test."
	today := civil.DateOf(now)
	switch {
	case t.Date.IsZero():
		vs.Add(prefix+"test_date", "REQUIRED", "test_date is required")
	case !t.Date.Valid():
		vs.Add(prefix+"test_date", civil.ErrDateInvalid.Reason, "test_date is not a valid date")
	case today.Before(t.Date):
		vs.Add(prefix+"test_date", "DATE_IN_FUTURE", fmt.Sprintf("test_date may not be after today (%s)", today))
	}
	if t.Result < Effective || t.Result > Ineffective {
		vs.Add(prefix+"result", "REQUIRED", "result is required: EFFECTIVE, PARTIALLY_EFFECTIVE or INEFFECTIVE")
	}
	if len(t.EvidenceLinks) > maxEvidenceLinks {
		vs.Add(prefix+"evidence_links", "TOO_MANY", fmt.Sprintf("at most %d evidence links", maxEvidenceLinks))
	}
	tooLong(&vs, prefix+"notes", t.Notes, maxTestNotes)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	return &t, nil
}

// Coverage is how far a requirement is met; its values are those of the API's Coverage. Lower
// is better, so that the best of several controls is the least.
type Coverage int32

// The coverages of a requirement.
const (
	Covered    Coverage = 1
	Partial    Coverage = 2
	NotCovered Coverage = 3
)

// Posture is a framework's compliance posture: its requirements counted by coverage.
type Posture struct {
	FrameworkID      string
	RequirementCount int32
	Covered          int32
	Partial          int32
	NotCovered       int32
}

// CoveredPercent is the share of requirements covered in whole percent, rounded down; 0 for a
// framework without requirements.
func (p Posture) CoveredPercent() int32 {
	if p.RequirementCount == 0 {
		return 0
	}
	return p.Covered * 100 / p.RequirementCount
}

// Gap is a requirement that is not covered, with the controls that satisfy it.
type Gap struct {
	Requirement
	Coverage Coverage
	Controls []string
}

// PostureSnapshot is a framework's posture as it stood at the end of a day.
type PostureSnapshot struct {
	Posture
	Date civil.Date
}

// Name is the snapshot's resource name, frameworks/{framework}/postureSnapshots/{date}.
func (s *PostureSnapshot) Name() string {
	return PostureSnapshotPattern.Format(s.FrameworkID, s.Date.String())
}

// LinkControl adds the control named control to the risk's controls at now, and reports whether
// it was not there yet. A CLOSED risk takes no new control (ErrRiskClosed), nor does one that
// already lists as many as it may.
func (r *Risk) LinkControl(control string, now time.Time) (bool, error) {
	if slices.Contains(r.Controls, control) {
		return false, nil
	}
	if r.State == RiskClosed {
		return false, ErrRiskClosed.With("name", r.Name())
	}
	if len(r.Controls) >= maxLinks {
		return false, fault.New(fault.FailedPrecondition, "RISK_CONTROLS_FULL",
			fmt.Sprintf("the risk already lists %d controls", maxLinks)).With("name", r.Name())
	}
	r.Controls = append(slices.Clone(r.Controls), control)
	r.Touch(now)
	return true, nil
}

// UnlinkControl removes the control named control from the risk's controls at now, CLOSED risks
// too (a deleted control leaves no name behind), and reports whether it was there.
func (r *Risk) UnlinkControl(control string, now time.Time) bool {
	i := slices.Index(r.Controls, control)
	if i < 0 {
		return false
	}
	r.Controls = slices.Delete(slices.Clone(r.Controls), i, i+1)
	r.Touch(now)
	return true
}
