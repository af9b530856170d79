package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// Errors of incidents.
var (
	ErrIncidentNotFound          = fault.New(fault.NotFound, "INCIDENT_NOT_FOUND", "incident not found")
	ErrIncidentExists            = fault.New(fault.AlreadyExists, "INCIDENT_ALREADY_EXISTS", "an incident with this ID already exists")
	ErrIncidentInvalidTransition = fault.New(fault.FailedPrecondition, "INVALID_STATE_TRANSITION",
		"the transition is not allowed in the incident's current state")
	ErrIncidentClosed = fault.New(fault.FailedPrecondition, "INCIDENT_CLOSED",
		"the incident is CLOSED; only its cost and budget line can change")
	ErrPostmortemNotPublished = fault.New(fault.FailedPrecondition, "POSTMORTEM_NOT_PUBLISHED",
		"closing a SEV1 or SEV2 incident requires its postmortem to be PUBLISHED")
	ErrSeverityUnchanged = fault.New(fault.InvalidArgument, "SEVERITY_UNCHANGED",
		"the incident already has this severity").OnField("severity", "")
	ErrBreachImpactHasClocks = fault.New(fault.FailedPrecondition, "BREACH_IMPACT_HAS_CLOCKS",
		"the incident's breach impact has notification clocks; it keeps a breach type")
)

// IncidentType is the kind of an incident; its values are those of the API's Incident.Type.
type IncidentType int32

// The types of incident.
const (
	IncidentOutage         IncidentType = 1
	IncidentDegradation    IncidentType = 2
	IncidentSecurityBreach IncidentType = 3
	IncidentDataLoss       IncidentType = 4
	IncidentVendorFailure  IncidentType = 5
)

// Breach reports whether an incident of the type has a breach impact.
func (t IncidentType) Breach() bool { return t == IncidentSecurityBreach || t == IncidentDataLoss }

// Severity is how bad an incident is, SEV1 (1) the worst; its values are those of the API's
// Incident.Severity.
type Severity int32

// The severities.
const (
	SEV1 Severity = 1
	SEV2 Severity = 2
	SEV3 Severity = 3
	SEV4 Severity = 4
)

// String is the severity's API name.
func (s Severity) String() string {
	if s >= SEV1 && s <= SEV4 {
		return fmt.Sprintf("SEV%d", int32(s))
	}
	return fmt.Sprintf("Severity(%d)", int32(s))
}

// IncidentState is where an incident stands; its values are those of the API's Incident.State.
type IncidentState int32

// The states of an incident, in the order it goes through them.
const (
	IncidentDeclared     IncidentState = 1
	IncidentAcknowledged IncidentState = 2
	IncidentMitigated    IncidentState = 3
	IncidentResolved     IncidentState = 4
	IncidentClosed       IncidentState = 5
)

// String is the state's API name.
func (s IncidentState) String() string {
	switch s {
	case IncidentDeclared:
		return "DECLARED"
	case IncidentAcknowledged:
		return "ACKNOWLEDGED"
	case IncidentMitigated:
		return "MITIGATED"
	case IncidentResolved:
		return "RESOLVED"
	case IncidentClosed:
		return "CLOSED"
	}
	return fmt.Sprintf("IncidentState(%d)", int32(s))
}

// BackdateGrace is how far before the call a step's time may be without counting as backdated:
// a client's clock and the time it takes to type are no reason to ask for one.
const BackdateGrace = 5 * time.Minute

// Roles are the people who handle an incident: people of the talent service (people/…), checked
// with it when named (RolePeople), or free names.
type Roles struct {
	Commander          string
	CommunicationsLead string
	Scribe             string
	Responders         []string
}

// Incident is an unplanned interruption, degradation, breach or loss of data, handled from its
// declaration to its closing.
type Incident struct {
	ID               string
	Title            string
	Summary          string
	Type             IncidentType
	Severity         Severity
	State            IncidentState
	Roles            Roles
	AffectedServices []string
	Vendor           string
	VendorContract   string
	LinkedRisks      []string
	// Cost is what the incident cost; the zero Amount (no currency) while unknown.
	Cost       money.Amount
	BudgetLine string
	// The times of the steps, each no earlier than the one before; zero until the step.
	DetectTime, DeclareTime, AcknowledgeTime, MitigateTime, ResolveTime, CloseTime time.Time
	Declarer                                                                       string
	CreateTime, UpdateTime                                                         time.Time
	// Version counts the changes of the incident; it starts at 1 and orders its events.
	Version int64
}

// IncidentName returns the resource name of incident id.
func IncidentName(id string) string { return IncidentPattern.Format(id) }

// Name is the incident's resource name, incidents/{incident}.
func (i *Incident) Name() string { return IncidentName(i.ID) }

// HasCost reports whether the incident's cost is known.
func (i *Incident) HasCost() bool { return i.Cost.Currency != "" }

// IncidentFields are the client-writable fields of an incident.
type IncidentFields struct {
	Title            string
	Summary          string
	Type             IncidentType
	Severity         Severity
	Roles            Roles
	AffectedServices []string
	Vendor           string
	VendorContract   string
	LinkedRisks      []string
	Cost             money.Amount
	BudgetLine       string
	DetectTime       time.Time
}

// The client-writable fields of an incident, by their API paths. Severity is set on creation
// only; afterwards it changes through ChangeSeverity.
const (
	IncidentFieldTitle              = "title"
	IncidentFieldSummary            = "summary"
	IncidentFieldType               = "type"
	IncidentFieldRoles              = "roles"
	IncidentFieldCommander          = "roles.commander"
	IncidentFieldCommunicationsLead = "roles.communications_lead"
	IncidentFieldScribe             = "roles.scribe"
	IncidentFieldResponders         = "roles.responders"
	IncidentFieldAffectedServices   = "affected_services"
	IncidentFieldVendor             = "vendor"
	IncidentFieldVendorContract     = "vendor_contract"
	IncidentFieldLinkedRisks        = "linked_risks"
	IncidentFieldCost               = "cost"
	IncidentFieldBudgetLine         = "budget_line"
	IncidentFieldDetectTime         = "detect_time"
)

// IncidentWritableFields lists the fields an update may change, each role on its own.
var IncidentWritableFields = []string{IncidentFieldTitle, IncidentFieldSummary, IncidentFieldType,
	IncidentFieldCommander, IncidentFieldCommunicationsLead, IncidentFieldScribe, IncidentFieldResponders,
	IncidentFieldAffectedServices, IncidentFieldVendor, IncidentFieldVendorContract, IncidentFieldLinkedRisks,
	IncidentFieldCost, IncidentFieldBudgetLine, IncidentFieldDetectTime}

// expandRoles replaces "roles" in paths by each role's path.
func expandRoles(paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == IncidentFieldRoles {
			out = append(out, IncidentFieldCommander, IncidentFieldCommunicationsLead, IncidentFieldScribe, IncidentFieldResponders)
			continue
		}
		out = append(out, p)
	}
	return out
}

// A Step is a change of an incident that the timeline records: who made it, when it happened
// (backdated or not) and why.
type Step struct {
	// Author is who makes the change.
	Author string
	// Time is when the change happened; the time of the call when zero.
	Time time.Time
	// Reason says why; it is required when Time is backdated.
	Reason string
}

// stepTime resolves s's time at now: never in the future, never before floor, and backdated (more
// than BackdateGrace before now) only with a reason. field names the time in the request.
func (s Step) stepTime(field string, floor, now time.Time) (time.Time, error) {
	t := s.Time
	if t.IsZero() {
		t = now
	}
	t = t.UTC().Truncate(time.Microsecond)
	var vs fault.Violations
	switch {
	case t.After(now):
		vs.Add(field, "TIME_IN_FUTURE", field+" may not be in the future")
	case !floor.IsZero() && t.Before(floor):
		vs.Add(field, "TIME_OUT_OF_ORDER", fmt.Sprintf("%s may not be before %s", field, floor.Format(time.RFC3339Nano)))
	}
	if now.Sub(t) > BackdateGrace && strings.TrimSpace(s.Reason) == "" {
		vs.Add("reason", "BACKDATE_REASON_REQUIRED", field+" is backdated; say why in reason")
	}
	tooLong(&vs, "reason", s.Reason, maxReason)
	return t, vs.Err()
}

// NewIncident declares incident id from f: DECLARED at step's time (the time of the call unless
// backdated), with the timeline entries of its declaration and of the roles it starts with.
func NewIncident(id string, f IncidentFields, step Step, now time.Time) (*Incident, []*TimelineEntry, error) {
	now = now.UTC().Truncate(time.Microsecond)
	i := &Incident{ID: id, State: IncidentDeclared, Declarer: step.Author, CreateTime: now, UpdateTime: now, Version: 1,
		Type: f.Type, Severity: f.Severity}
	i.set(IncidentWritableFields, f)
	declare, err := step.stepTime("declare_time", time.Time{}, now)
	if err != nil {
		return nil, nil, err
	}
	i.DeclareTime = declare
	if i.DetectTime.IsZero() {
		i.DetectTime = declare
	}
	if err := i.validate(now); err != nil {
		return nil, nil, err
	}
	entries := []*TimelineEntry{{Kind: TimelineStateChange, OccurTime: declare, ToState: IncidentDeclared,
		Text: fmt.Sprintf("Declared %s %s: %s", i.Severity, typeWords(i.Type), i.Title), Reason: strings.TrimSpace(step.Reason)}}
	entries = append(entries, roleChanges(Roles{}, i.Roles, declare)...)
	i.stamp(entries, step.Author, now)
	return i, entries, nil
}

// typeWords is a type as a timeline tells it.
func typeWords(t IncidentType) string {
	switch t {
	case IncidentOutage:
		return "outage"
	case IncidentDegradation:
		return "degradation"
	case IncidentSecurityBreach:
		return "security breach"
	case IncidentDataLoss:
		return "data loss"
	case IncidentVendorFailure:
		return "vendor failure"
	}
	return "incident"
}

// stamp sets the incident, author and write time of new entries.
func (i *Incident) stamp(entries []*TimelineEntry, author string, now time.Time) {
	for _, e := range entries {
		e.IncidentID, e.Author, e.CreateTime = i.ID, author, now
	}
}

func (i *Incident) set(paths []string, f IncidentFields) {
	for _, p := range paths {
		switch p {
		case IncidentFieldTitle:
			i.Title = strings.TrimSpace(f.Title)
		case IncidentFieldSummary:
			i.Summary = f.Summary
		case IncidentFieldType:
			i.Type = f.Type
		case IncidentFieldCommander:
			i.Roles.Commander = strings.TrimSpace(f.Roles.Commander)
		case IncidentFieldCommunicationsLead:
			i.Roles.CommunicationsLead = strings.TrimSpace(f.Roles.CommunicationsLead)
		case IncidentFieldScribe:
			i.Roles.Scribe = strings.TrimSpace(f.Roles.Scribe)
		case IncidentFieldResponders:
			i.Roles.Responders = trimAll(f.Roles.Responders)
		case IncidentFieldAffectedServices:
			i.AffectedServices = trimAll(f.AffectedServices)
		case IncidentFieldVendor:
			i.Vendor = f.Vendor
		case IncidentFieldVendorContract:
			i.VendorContract = f.VendorContract
		case IncidentFieldLinkedRisks:
			i.LinkedRisks = slices.Clone(f.LinkedRisks)
		case IncidentFieldCost:
			i.Cost = f.Cost
		case IncidentFieldBudgetLine:
			i.BudgetLine = f.BudgetLine
		case IncidentFieldDetectTime:
			if !f.DetectTime.IsZero() {
				i.DetectTime = f.DetectTime.UTC().Truncate(time.Microsecond)
			}
		}
	}
}

func trimAll(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// validate checks the invariants, every broken rule as a violation of its field in the request
// (incident.*), and the order of the step times.
func (i *Incident) validate(now time.Time) error {
	var vs fault.Violations
	const prefix = "incident."
	vs.RequireText(prefix+IncidentFieldTitle, i.Title, 200)
	vs.LimitText(prefix+IncidentFieldSummary, i.Summary, 10000)
	if i.Type < IncidentOutage || i.Type > IncidentVendorFailure {
		vs.Add(prefix+IncidentFieldType, "REQUIRED", "type is required")
	}
	if i.Severity < SEV1 || i.Severity > SEV4 {
		vs.Add(prefix+"severity", "REQUIRED", "severity is required")
	}
	for _, r := range []struct{ field, name string }{
		{IncidentFieldCommander, i.Roles.Commander}, {IncidentFieldCommunicationsLead, i.Roles.CommunicationsLead},
		{IncidentFieldScribe, i.Roles.Scribe},
	} {
		vs.LimitText(prefix+r.field, r.name, 256)
	}
	if i.VendorContract != "" && (i.Vendor == "" || !strings.HasPrefix(i.VendorContract, i.Vendor+"/contracts/")) {
		vs.Add(prefix+IncidentFieldVendorContract, "VENDOR_CONTRACT_MISMATCH", "vendor_contract must be a contract of the incident's vendor")
	}
	if i.HasCost() && i.Cost.Minor < 0 {
		vs.Add(prefix+IncidentFieldCost, "NEGATIVE_AMOUNT", "cost may not be negative")
	}
	switch {
	case i.DetectTime.After(now):
		vs.Add(prefix+IncidentFieldDetectTime, "TIME_IN_FUTURE", "detect_time may not be in the future")
	case i.DetectTime.After(i.DeclareTime):
		vs.Add(prefix+IncidentFieldDetectTime, "TIME_OUT_OF_ORDER", "detect_time may not be after declare_time")
	}
	return vs.Err()
}

// CheckOrder reports whether the incident's step times are in order: detect ≤ declare ≤
// acknowledge ≤ mitigate ≤ resolve ≤ close, each set only once its state is reached.
func (i *Incident) CheckOrder() error {
	steps := []struct {
		name  string
		t     time.Time
		state IncidentState
	}{
		{"detect_time", i.DetectTime, IncidentDeclared}, {"declare_time", i.DeclareTime, IncidentDeclared},
		{"acknowledge_time", i.AcknowledgeTime, IncidentAcknowledged}, {"mitigate_time", i.MitigateTime, IncidentMitigated},
		{"resolve_time", i.ResolveTime, IncidentResolved}, {"close_time", i.CloseTime, IncidentClosed},
	}
	var prev time.Time
	for _, s := range steps {
		if (i.State >= s.state) != !s.t.IsZero() {
			return fmt.Errorf("incident %s is %s but %s is %v", i.ID, i.State, s.name, s.t)
		}
		if s.t.IsZero() {
			continue
		}
		if s.t.Before(prev) {
			return fmt.Errorf("incident %s: %s %v is before the step before it (%v)", i.ID, s.name, s.t, prev)
		}
		prev = s.t
	}
	return nil
}

// Apply sets the fields named in paths to their values in f, as step's author at now, and
// reports which of them changed with the timeline entries of the changed roles and detect time
// (which needs step's reason). A CLOSED incident takes only its cost and budget line. When
// something changed the version is incremented; the incident must still satisfy its invariants,
// or it is left untouched.
func (i *Incident) Apply(paths []string, f IncidentFields, step Step, now time.Time) (changed []string, entries []*TimelineEntry, err error) {
	now = now.UTC().Truncate(time.Microsecond)
	paths = expandRoles(paths)
	if i.State == IncidentClosed {
		for _, p := range paths {
			if p != IncidentFieldCost && p != IncidentFieldBudgetLine {
				return nil, nil, ErrIncidentClosed.With("name", i.Name()).With("field", p)
			}
		}
	}
	next := *i
	next.set(paths, f)
	for _, p := range IncidentWritableFields {
		if slices.Contains(paths, p) && next.differs(i, p) {
			changed = append(changed, p)
		}
	}
	if err := next.validate(now); err != nil {
		return nil, nil, err
	}
	if len(changed) == 0 {
		return nil, nil, nil
	}
	entries = roleChanges(i.Roles, next.Roles, now)
	for _, e := range entries {
		e.Reason = strings.TrimSpace(step.Reason)
	}
	if slices.Contains(changed, IncidentFieldDetectTime) {
		reason := strings.TrimSpace(step.Reason)
		if reason == "" {
			return nil, nil, fault.Field("reason", "REASON_REQUIRED", "a changed detect_time needs a reason")
		}
		if utf8Len(reason) > maxReason {
			return nil, nil, fault.Field("reason", "TOO_LONG", fmt.Sprintf("reason is longer than %d characters", maxReason))
		}
		entries = append(entries, &TimelineEntry{Kind: TimelineDetectTimeChange, OccurTime: now, Reason: reason,
			Text: fmt.Sprintf("Detect time corrected from %s to %s", i.DetectTime.Format(time.RFC3339), next.DetectTime.Format(time.RFC3339))})
	}
	next.Version++
	next.UpdateTime = now
	*i = next
	i.stamp(entries, step.Author, now)
	return changed, entries, nil
}

func (i *Incident) differs(o *Incident, field string) bool {
	switch field {
	case IncidentFieldTitle:
		return i.Title != o.Title
	case IncidentFieldSummary:
		return i.Summary != o.Summary
	case IncidentFieldType:
		return i.Type != o.Type
	case IncidentFieldCommander:
		return i.Roles.Commander != o.Roles.Commander
	case IncidentFieldCommunicationsLead:
		return i.Roles.CommunicationsLead != o.Roles.CommunicationsLead
	case IncidentFieldScribe:
		return i.Roles.Scribe != o.Roles.Scribe
	case IncidentFieldResponders:
		return !slices.Equal(i.Roles.Responders, o.Roles.Responders)
	case IncidentFieldAffectedServices:
		return !slices.Equal(i.AffectedServices, o.AffectedServices)
	case IncidentFieldVendor:
		return i.Vendor != o.Vendor
	case IncidentFieldVendorContract:
		return i.VendorContract != o.VendorContract
	case IncidentFieldLinkedRisks:
		return !slices.Equal(i.LinkedRisks, o.LinkedRisks)
	case IncidentFieldCost:
		return i.Cost != o.Cost
	case IncidentFieldBudgetLine:
		return i.BudgetLine != o.BudgetLine
	case IncidentFieldDetectTime:
		return !i.DetectTime.Equal(o.DetectTime)
	}
	return false
}

// roleChanges are the timeline entries of the changes from roles a to b at t: one per role whose
// holder changed, one per responder who joined or left.
func roleChanges(a, b Roles, t time.Time) []*TimelineEntry {
	var out []*TimelineEntry
	for _, r := range []struct{ role, from, to string }{
		{"commander", a.Commander, b.Commander},
		{"communications_lead", a.CommunicationsLead, b.CommunicationsLead},
		{"scribe", a.Scribe, b.Scribe},
	} {
		if r.from == r.to {
			continue
		}
		text := fmt.Sprintf("%s: %s", roleWords(r.role), r.to)
		switch {
		case r.to == "":
			text = fmt.Sprintf("%s %s stood down", roleWords(r.role), r.from)
		case r.from != "":
			text = fmt.Sprintf("%s: %s took over from %s", roleWords(r.role), r.to, r.from)
		}
		out = append(out, &TimelineEntry{Kind: TimelineRoleChange, OccurTime: t, Role: r.role, FromPerson: r.from, ToPerson: r.to, Text: text})
	}
	for _, p := range b.Responders {
		if !slices.Contains(a.Responders, p) {
			out = append(out, &TimelineEntry{Kind: TimelineRoleChange, OccurTime: t, Role: "responders", ToPerson: p,
				Text: "Responder joined: " + p})
		}
	}
	for _, p := range a.Responders {
		if !slices.Contains(b.Responders, p) {
			out = append(out, &TimelineEntry{Kind: TimelineRoleChange, OccurTime: t, Role: "responders", FromPerson: p,
				Text: "Responder left: " + p})
		}
	}
	return out
}

func roleWords(role string) string {
	switch role {
	case "commander":
		return "Incident commander"
	case "communications_lead":
		return "Communications lead"
	case "scribe":
		return "Scribe"
	}
	return role
}

// advance moves the incident from from to to at step's time, which may not be before the time of
// the step before (floor) and is kept in *at, and returns the timeline entry of the change.
func (i *Incident) advance(from, to IncidentState, field string, floor time.Time, at *time.Time, step Step, now time.Time) (*TimelineEntry, error) {
	now = now.UTC().Truncate(time.Microsecond)
	if i.State != from {
		return nil, ErrIncidentInvalidTransition.With("name", i.Name()).With("state", i.State.String()).With("to", to.String())
	}
	t, err := step.stepTime(field, floor, now)
	if err != nil {
		return nil, err
	}
	e := &TimelineEntry{Kind: TimelineStateChange, OccurTime: t, FromState: from, ToState: to, Reason: strings.TrimSpace(step.Reason),
		Text: fmt.Sprintf("%s → %s", from, to)}
	*at = t
	i.State = to
	i.UpdateTime = now
	i.Version++
	i.stamp([]*TimelineEntry{e}, step.Author, now)
	return e, nil
}

// Acknowledge moves a DECLARED incident to ACKNOWLEDGED.
func (i *Incident) Acknowledge(step Step, now time.Time) (*TimelineEntry, error) {
	return i.advance(IncidentDeclared, IncidentAcknowledged, "acknowledge_time", i.DeclareTime, &i.AcknowledgeTime, step, now)
}

// Mitigate moves an ACKNOWLEDGED incident to MITIGATED.
func (i *Incident) Mitigate(step Step, now time.Time) (*TimelineEntry, error) {
	return i.advance(IncidentAcknowledged, IncidentMitigated, "mitigate_time", i.AcknowledgeTime, &i.MitigateTime, step, now)
}

// Resolve moves a MITIGATED incident to RESOLVED.
func (i *Incident) Resolve(step Step, now time.Time) (*TimelineEntry, error) {
	return i.advance(IncidentMitigated, IncidentResolved, "resolve_time", i.MitigateTime, &i.ResolveTime, step, now)
}

// NeedsPublishedPostmortem reports whether closing the incident needs its postmortem PUBLISHED:
// a SEV1 or SEV2 incident's does.
func (i *Incident) NeedsPublishedPostmortem() bool { return i.Severity == SEV1 || i.Severity == SEV2 }

// Close moves a RESOLVED incident to CLOSED; published tells whether its postmortem is PUBLISHED,
// which a SEV1 or SEV2 incident needs.
func (i *Incident) Close(published bool, step Step, now time.Time) (*TimelineEntry, error) {
	if i.State == IncidentResolved && i.NeedsPublishedPostmortem() && !published {
		return nil, ErrPostmortemNotPublished.With("name", i.Name()).With("severity", i.Severity.String())
	}
	return i.advance(IncidentResolved, IncidentClosed, "close_time", i.ResolveTime, &i.CloseTime, step, now)
}

// ChangeSeverity sets the severity of an incident that is not CLOSED, for step's reason, and
// returns the timeline entry of the change.
func (i *Incident) ChangeSeverity(to Severity, step Step, now time.Time) (*TimelineEntry, error) {
	now = now.UTC().Truncate(time.Microsecond)
	reason := strings.TrimSpace(step.Reason)
	if reason == "" {
		return nil, fault.Field("reason", "REQUIRED", "reason is required")
	}
	if utf8Len(reason) > maxReason {
		return nil, fault.Field("reason", "TOO_LONG", fmt.Sprintf("reason is longer than %d characters", maxReason))
	}
	if to < SEV1 || to > SEV4 {
		return nil, fault.Field("severity", "REQUIRED", "severity is required")
	}
	if i.State == IncidentClosed {
		return nil, ErrIncidentClosed.With("name", i.Name())
	}
	if to == i.Severity {
		return nil, ErrSeverityUnchanged.With("name", i.Name()).With("severity", to.String())
	}
	verb := "raised"
	if to > i.Severity {
		verb = "lowered"
	}
	e := &TimelineEntry{Kind: TimelineSeverityChange, OccurTime: now, FromSeverity: i.Severity, ToSeverity: to, Reason: reason,
		Text: fmt.Sprintf("Severity %s from %s to %s", verb, i.Severity, to)}
	i.Severity = to
	i.UpdateTime = now
	i.Version++
	i.stamp([]*TimelineEntry{e}, step.Author, now)
	return e, nil
}

// Touch moves the version on for a change of the incident's parts (a note, its breach impact),
// so that the event saying so is ordered after every earlier one about the incident.
func (i *Incident) Touch(now time.Time) {
	i.UpdateTime = now.UTC().Truncate(time.Microsecond)
	i.Version++
}
