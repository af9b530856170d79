package domain

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Errors of policies and their versions.
var (
	ErrPolicyNotFound        = fault.New(fault.NotFound, "POLICY_NOT_FOUND", "policy not found")
	ErrPolicyExists          = fault.New(fault.AlreadyExists, "POLICY_ALREADY_EXISTS", "a policy with this ID already exists")
	ErrPolicyVersionNotFound = fault.New(fault.NotFound, "POLICY_VERSION_NOT_FOUND", "policy version not found")
)

// Limits of a policy's fields.
const (
	maxPolicyTitle         = 200
	maxPolicySummary       = 2000
	maxPolicyOwner         = 256
	maxPolicyTeams         = 100
	maxChangeSummary       = 2000
	maxDocumentURI         = 2048
	maxAcknowledgementDays = 365
	maxVersionPart         = 9999
	// DefaultAcknowledgementDays is how many days after a major version takes effect its
	// acknowledgements are due when the policy does not say.
	DefaultAcknowledgementDays = 30
)

// Policy is a rule communicated to personnel, acknowledged by the people of its teams or by
// everyone, with versions.
type Policy struct {
	ID      string
	Title   string
	Summary string
	Owner   string
	// Everyone is whether every person must acknowledge the policy; otherwise the people of
	// Teams (talent's teams, by name, sorted) must.
	Everyone bool
	Teams    []string
	// AcknowledgementDays is how many days after a major version takes effect its
	// acknowledgements are due.
	AcknowledgementDays int32
	// Major and Minor are the current version's number, 0.0 before the first version;
	// EffectiveDate and DocumentURI are the current version's.
	Major         int32
	Minor         int32
	EffectiveDate civil.Date
	DocumentURI   string
	CreateTime    time.Time
	UpdateTime    time.Time
	// Version counts the changes of the policy; it starts at 1 and orders its events.
	Version int64
}

// PolicyName returns the resource name of the policy id.
func PolicyName(id string) string { return PolicyPattern.Format(id) }

// Name is the policy's resource name, policies/{policy}.
func (p *Policy) Name() string { return PolicyName(p.ID) }

// CurrentVersion is the current version's number, major.minor; empty before the first version.
func (p *Policy) CurrentVersion() string {
	if p.Major == 0 {
		return ""
	}
	return VersionNumber(p.Major, p.Minor)
}

// VersionNumber is major.minor as written, e.g. "2.1".
func VersionNumber(major, minor int32) string { return fmt.Sprintf("%d.%d", major, minor) }

// PolicyFields are the client-writable fields of a policy.
type PolicyFields struct {
	Title               string
	Summary             string
	Owner               string
	Everyone            bool
	Teams               []string
	AcknowledgementDays int32
}

// The client-writable fields of a policy, by their API names.
const (
	PolicyFieldTitle               = "title"
	PolicyFieldSummary             = "summary"
	PolicyFieldOwner               = "owner"
	PolicyFieldEveryone            = "everyone"
	PolicyFieldTeams               = "teams"
	PolicyFieldAcknowledgementDays = "acknowledgement_days"
)

// PolicyWritableFields lists the fields an update may change.
var PolicyWritableFields = []string{PolicyFieldTitle, PolicyFieldSummary, PolicyFieldOwner, PolicyFieldEveryone,
	PolicyFieldTeams, PolicyFieldAcknowledgementDays}

// NewPolicy returns a policy created at now from f, checked against the invariants, without a
// version.
func NewPolicy(id string, f PolicyFields, now time.Time) (*Policy, error) {
	now = now.UTC().Truncate(time.Microsecond)
	p := &Policy{ID: id, CreateTime: now, UpdateTime: now, Version: 1}
	p.set(PolicyWritableFields, f)
	if err := p.validate(f.Teams); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Policy) set(paths []string, f PolicyFields) {
	for _, path := range paths {
		switch path {
		case PolicyFieldTitle:
			p.Title = strings.TrimSpace(f.Title)
		case PolicyFieldSummary:
			p.Summary = f.Summary
		case PolicyFieldOwner:
			p.Owner = strings.TrimSpace(f.Owner)
		case PolicyFieldEveryone:
			p.Everyone = f.Everyone
		case PolicyFieldTeams:
			p.Teams = slices.Clone(f.Teams)
			slices.Sort(p.Teams)
		case PolicyFieldAcknowledgementDays:
			p.AcknowledgementDays = f.AcknowledgementDays
			if p.AcknowledgementDays == 0 {
				p.AcknowledgementDays = DefaultAcknowledgementDays
			}
		}
	}
}

// validate checks the invariants, every broken rule as a violation of its field in the request
// (policy.*); teams is the list of teams as the request gave it, for the index of each.
func (p *Policy) validate(teams []string) error {
	var vs fault.Violations
	const prefix = "policy."
	if p.Title == "" {
		vs.Add(prefix+"title", "REQUIRED", "title is required")
	}
	if p.Owner == "" {
		vs.Add(prefix+"owner", "REQUIRED", "owner is required")
	}
	tooLong(&vs, prefix+"title", p.Title, maxPolicyTitle)
	tooLong(&vs, prefix+"summary", p.Summary, maxPolicySummary)
	tooLong(&vs, prefix+"owner", p.Owner, maxPolicyOwner)
	switch {
	case !p.Everyone && len(p.Teams) == 0:
		vs.Add(prefix+"teams", "AUDIENCE_REQUIRED", "who must acknowledge the policy is required: set everyone or name teams")
	case p.Everyone && len(p.Teams) > 0:
		vs.Add(prefix+"teams", "AUDIENCE_AMBIGUOUS", "set everyone or name teams, not both")
	case len(p.Teams) > maxPolicyTeams:
		vs.Add(prefix+"teams", "TOO_MANY", fmt.Sprintf("teams has more than %d names", maxPolicyTeams))
	}
	for i, n := range teams {
		if !TeamPattern.Match(n) {
			vs.Add(fmt.Sprintf("%steams[%d]", prefix, i), "INVALID_NAME", fmt.Sprintf("%q is not a team's name, teams/{team}", n))
		} else if slices.Index(teams, n) != i {
			vs.Add(fmt.Sprintf("%steams[%d]", prefix, i), "DUPLICATE", fmt.Sprintf("%q is named twice", n))
		}
	}
	if p.AcknowledgementDays < 1 || p.AcknowledgementDays > maxAcknowledgementDays {
		vs.Add(prefix+"acknowledgement_days", "OUT_OF_RANGE", fmt.Sprintf("acknowledgement_days must be 1 to %d", maxAcknowledgementDays))
	}
	return vs.Err()
}

// Apply sets the fields named in paths to their values in f at time now and reports which of
// them changed. When something changed the version is incremented; the policy must still
// satisfy its invariants, or it is left untouched. A new acknowledgement_days counts from the
// next major version: the due date of the current one stays.
func (p *Policy) Apply(paths []string, f PolicyFields, now time.Time) (changed []string, err error) {
	next := *p
	next.set(paths, f)
	var teams []string
	if slices.Contains(paths, PolicyFieldTeams) {
		teams = f.Teams
	}
	if err := next.validate(teams); err != nil {
		return nil, err
	}
	for _, path := range PolicyWritableFields {
		if slices.Contains(paths, path) && next.differs(p, path) {
			changed = append(changed, path)
		}
	}
	if len(changed) == 0 {
		return nil, nil
	}
	next.Version++
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	*p = next
	return changed, nil
}

func (p *Policy) differs(o *Policy, field string) bool {
	switch field {
	case PolicyFieldTitle:
		return p.Title != o.Title
	case PolicyFieldSummary:
		return p.Summary != o.Summary
	case PolicyFieldOwner:
		return p.Owner != o.Owner
	case PolicyFieldEveryone:
		return p.Everyone != o.Everyone
	case PolicyFieldTeams:
		return !slices.Equal(p.Teams, o.Teams)
	case PolicyFieldAcknowledgementDays:
		return p.AcknowledgementDays != o.AcknowledgementDays
	}
	return false
}

// PolicyChange is the kind of change a new version makes; its values are those of the API's
// PolicyChange.
type PolicyChange int32

// The kinds of change of a version.
const (
	MajorChange PolicyChange = 1
	MinorChange PolicyChange = 2
)

// PolicyVersion is one published version of a policy; never changed.
type PolicyVersion struct {
	PolicyID      string
	Major         int32
	Minor         int32
	DocumentURI   string
	EffectiveDate civil.Date
	ChangeSummary string
	// AcknowledgementDueDate is the day acknowledgements of the version's major version are due.
	AcknowledgementDueDate civil.Date
	Publisher              string
	CreateTime             time.Time
}

// PolicyVersionID is the resource ID of version major.minor, the number with a `-` for the dot.
func PolicyVersionID(major, minor int32) string { return fmt.Sprintf("%d-%d", major, minor) }

// ParsePolicyVersionID is the number of the version with the resource ID id; ok is false when
// id is not one.
func ParsePolicyVersionID(id string) (major, minor int32, ok bool) {
	a, b, found := strings.Cut(id, "-")
	ma, err1 := strconv.ParseInt(a, 10, 32)
	mi, err2 := strconv.ParseInt(b, 10, 32)
	if !found || err1 != nil || err2 != nil || ma < 1 || mi < 0 || PolicyVersionID(int32(ma), int32(mi)) != id {
		return 0, 0, false
	}
	return int32(ma), int32(mi), true
}

// PolicyVersionName returns the resource name of version major.minor of policy policyID.
func PolicyVersionName(policyID string, major, minor int32) string {
	return PolicyVersionPattern.Format(policyID, PolicyVersionID(major, minor))
}

// Name is the version's resource name, policies/{policy}/versions/{version}.
func (v *PolicyVersion) Name() string { return PolicyVersionName(v.PolicyID, v.Major, v.Minor) }

// Number is the version's number, major.minor.
func (v *PolicyVersion) Number() string { return VersionNumber(v.Major, v.Minor) }

// RequiresAcknowledgement reports whether the version must be acknowledged again: a major
// version (x.0) does.
func (v *PolicyVersion) RequiresAcknowledgement() bool { return v.Minor == 0 }

// Publish numbers version v of the policy after its current one by change, checks it, and makes
// it the policy's current version at now: the first version is 1.0 whatever change says; after
// it change is required, and the effective date may not be before the current version's. The
// acknowledgements of a major version are due the policy's acknowledgement days after it takes
// effect; a minor version keeps its major version's due date, from the major version given.
func (p *Policy) Publish(v *PolicyVersion, change PolicyChange, major *PolicyVersion, publisher string, now time.Time) error {
	now = now.UTC().Truncate(time.Microsecond)
	v.PolicyID, v.Publisher, v.CreateTime = p.ID, publisher, now
	var vs fault.Violations
	const prefix = "policy_version."
	switch {
	case p.Major == 0:
		v.Major, v.Minor = 1, 0
	case change == MajorChange:
		v.Major, v.Minor = p.Major+1, 0
	case change == MinorChange:
		v.Major, v.Minor = p.Major, p.Minor+1
	default:
		vs.Add(prefix+"change", "REQUIRED", fmt.Sprintf("change is required after the first version: MAJOR (%d.0) or MINOR (%d.%d)",
			p.Major+1, p.Major, p.Minor+1))
	}
	if v.Major > maxVersionPart || v.Minor > maxVersionPart {
		vs.Add(prefix+"change", "TOO_MANY_VERSIONS", fmt.Sprintf("a version's major and minor parts are at most %d", maxVersionPart))
	}
	if v.DocumentURI == "" {
		vs.Add(prefix+"document_uri", "REQUIRED", "document_uri is required")
	}
	tooLong(&vs, prefix+"document_uri", v.DocumentURI, maxDocumentURI)
	tooLong(&vs, prefix+"change_summary", v.ChangeSummary, maxChangeSummary)
	switch {
	case v.EffectiveDate.IsZero():
		vs.Add(prefix+"effective_date", "REQUIRED", "effective_date is required")
	case !v.EffectiveDate.Valid():
		vs.Add(prefix+"effective_date", civil.ErrDateInvalid.Reason, "effective_date is not a valid date")
	case v.EffectiveDate.Before(p.EffectiveDate):
		vs.Add(prefix+"effective_date", "EFFECTIVE_DATE_BEFORE_PREVIOUS",
			fmt.Sprintf("effective_date may not be before the current version %s's, %s", p.CurrentVersion(), p.EffectiveDate))
	}
	if err := vs.Err(); err != nil {
		return err
	}
	if v.RequiresAcknowledgement() || major == nil {
		v.AcknowledgementDueDate = v.EffectiveDate.AddDays(int(p.AcknowledgementDays))
	} else {
		v.AcknowledgementDueDate = major.AcknowledgementDueDate
	}
	p.Major, p.Minor, p.EffectiveDate, p.DocumentURI = v.Major, v.Minor, v.EffectiveDate, v.DocumentURI
	p.Version++
	p.UpdateTime = now
	return nil
}

// ErrPolicyTeamNotFound refuses a policy's team the talent service does not know.
var ErrPolicyTeamNotFound = fault.New(fault.InvalidArgument, "TEAM_NOT_FOUND", "the policy names a team the talent service does not know")

// ErrPolicyNotPublished refuses an acknowledgement of a policy without a version.
var ErrPolicyNotPublished = fault.New(fault.FailedPrecondition, "POLICY_NOT_PUBLISHED",
	"the policy has no version to acknowledge yet")

// PolicyAcknowledgement is a person's acknowledgement of a policy's major version, at one of its
// minor versions.
type PolicyAcknowledgement struct {
	PolicyID string
	// PersonID is the person's ID in talent, people/{person}.
	PersonID        string
	Major           int32
	Minor           int32
	Recorder        string
	AcknowledgeTime time.Time
}

// Person is the name of the person, people/{person}.
func (a *PolicyAcknowledgement) Person() string { return PersonPattern.Format(a.PersonID) }

// VersionName is the name of the version acknowledged.
func (a *PolicyAcknowledgement) VersionName() string {
	return PolicyVersionName(a.PolicyID, a.Major, a.Minor)
}

// Member is a person of talent as the service knows them from talent's events: their display
// name, their team and whether they are still there.
type Member struct {
	PersonID    string
	DisplayName string
	Team        string
	Active      bool
	// Version is the version of the talent event that told it.
	Version int64
}

// CampaignEntry is one person who must acknowledge a policy: their team, and their
// acknowledgement of its current major version, nil when pending.
type CampaignEntry struct {
	PersonID        string
	DisplayName     string
	Team            string
	Acknowledgement *PolicyAcknowledgement
	// Overdue is whether the person is pending after the due date, as a list of the campaign's
	// people on a day reads it (Campaign.Overdue says it of a whole campaign).
	Overdue bool
}

// AcknowledgedVersion is the version the person acknowledged, "" when pending.
func (e CampaignEntry) AcknowledgedVersion() string {
	if e.Acknowledgement == nil {
		return ""
	}
	return VersionNumber(e.Acknowledgement.Major, e.Acknowledgement.Minor)
}

// Campaign is where the acknowledgement of a policy's current major version stands on a day.
type Campaign struct {
	Policy  *Policy
	DueDate civil.Date
	Today   civil.Date
	People  []CampaignEntry
}

// Overdue reports whether the day is after the due date: who has not acknowledged is overdue.
func (c *Campaign) Overdue() bool { return c.DueDate.Before(c.Today) }

// Counts are how many people must acknowledge, have, have not and are overdue.
func (c *Campaign) Counts() (required, acknowledged, pending, overdue int32) {
	for _, e := range c.People {
		required++
		if e.Acknowledgement != nil {
			acknowledged++
		}
	}
	pending, overdue = c.Pending(required, acknowledged)
	return required, acknowledged, pending, overdue
}

// Pending is how many of the people of a campaign read without them have not acknowledged, and
// how many of those are overdue, when required must acknowledge and acknowledged have.
func (c *Campaign) Pending(required, acknowledged int32) (pending, overdue int32) {
	pending = required - acknowledged
	if c.Overdue() {
		overdue = pending
	}
	return pending, overdue
}
