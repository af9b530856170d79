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

// VendorState is the state of the relationship with a vendor; its values are those of the API's
// Vendor.State.
type VendorState int32

// The vendor states.
const (
	VendorProspect   VendorState = 1
	VendorOnboarding VendorState = 2
	VendorActive     VendorState = 3
	VendorSuspended  VendorState = 4
	VendorOffboarded VendorState = 5
)

// String is the state's API name.
func (s VendorState) String() string {
	switch s {
	case VendorProspect:
		return "PROSPECT"
	case VendorOnboarding:
		return "ONBOARDING"
	case VendorActive:
		return "ACTIVE"
	case VendorSuspended:
		return "SUSPENDED"
	case VendorOffboarded:
		return "OFFBOARDED"
	}
	return fmt.Sprintf("VendorState(%d)", int32(s))
}

// Limits of vendor fields, shared with the API's validation rules.
const (
	maxVendorDisplayName = 200
	maxLegalName         = 300
	maxDescription       = 2000
	maxOwner             = 256
	maxReason            = 2000
	maxCategory          = 7 // OTHER
	maxDataAccess        = 4 // RESTRICTED
)

// Contact is a person to contact at a vendor.
type Contact struct {
	DisplayName string `json:"display_name"`
	Email       string `json:"email,omitempty"`
	Phone       string `json:"phone,omitempty"`
	Role        string `json:"role,omitempty"`
}

// SubProcessor is a supplier of a vendor (a fourth party); VendorID is set when it is itself a
// vendor of the organisation.
type SubProcessor struct {
	VendorID    string `json:"vendor_id,omitempty"`
	DisplayName string `json:"display_name"`
	Service     string `json:"service,omitempty"`
	Country     string `json:"country,omitempty"`
	DataAccess  int32  `json:"data_access,omitempty"`
}

// Vendor is a third party the organisation buys from or considers buying from. Category and
// DataAccess hold the numbers of the API's enums.
type Vendor struct {
	ID            string
	DisplayName   string
	LegalName     string
	Category      int32
	Tier          int32
	DataAccess    int32
	Country       string
	Website       string
	Description   string
	Owner         string
	Contacts      []Contact
	ParentID      string // empty without a parent vendor
	SubProcessors []SubProcessor

	State           VendorState
	StateReason     string
	StateChangeTime time.Time

	// The latest completed assessment, kept by the assessments: its ID (empty before the first),
	// its risk rating (the API's RiskRating number) and the last day it is valid.
	LatestAssessmentID   string
	LatestRiskRating     int32
	AssessmentValidUntil Date

	CreateTime time.Time
	UpdateTime time.Time
	// Version counts the changes of the vendor; it starts at 1 and orders its events.
	Version int64
}

// VendorName returns the resource name of the vendor with the ID.
func VendorName(id string) string { return VendorPattern.Format(id) }

// Name is the vendor's resource name, vendors/{vendor}.
func (v *Vendor) Name() string { return VendorName(v.ID) }

// RiskRating is the rating of the latest assessment while it is valid on today, 0 (unrated)
// otherwise.
func (v *Vendor) RiskRating(today Date) int32 {
	if v.AssessmentValid(today) {
		return v.LatestRiskRating
	}
	return 0
}

// AssessmentValid reports whether the vendor has a completed assessment still valid on today.
func (v *Vendor) AssessmentValid(today Date) bool {
	return v.LatestAssessmentID != "" && !v.AssessmentValidUntil.IsZero() && !v.AssessmentValidUntil.Before(today)
}

// VendorFields are the client-writable fields of a vendor.
type VendorFields struct {
	DisplayName   string
	LegalName     string
	Category      int32
	Tier          int32
	DataAccess    int32
	Country       string
	Website       string
	Description   string
	Owner         string
	Contacts      []Contact
	ParentID      string
	SubProcessors []SubProcessor
}

// The client-writable fields of a vendor, by their API names.
const (
	VendorFieldDisplayName   = "display_name"
	VendorFieldLegalName     = "legal_name"
	VendorFieldCategory      = "category"
	VendorFieldTier          = "tier"
	VendorFieldDataAccess    = "data_access"
	VendorFieldCountry       = "country"
	VendorFieldWebsite       = "website"
	VendorFieldDescription   = "description"
	VendorFieldOwner         = "owner"
	VendorFieldContacts      = "contacts"
	VendorFieldParent        = "parent_vendor"
	VendorFieldSubProcessors = "sub_processors"
)

// VendorWritableFields lists the fields an update may change.
var VendorWritableFields = []string{VendorFieldDisplayName, VendorFieldLegalName, VendorFieldCategory,
	VendorFieldTier, VendorFieldDataAccess, VendorFieldCountry, VendorFieldWebsite, VendorFieldDescription,
	VendorFieldOwner, VendorFieldContacts, VendorFieldParent, VendorFieldSubProcessors}

// NewVendor returns a PROSPECT vendor created at now from fields, checked against the
// invariants. An unset data access is NONE.
func NewVendor(id string, f VendorFields, now time.Time) (*Vendor, error) {
	now = now.UTC().Truncate(time.Microsecond)
	v := &Vendor{ID: id, State: VendorProspect, StateChangeTime: now, CreateTime: now, UpdateTime: now, Version: 1}
	v.set(VendorWritableFields, f)
	if err := v.Validate(); err != nil {
		return nil, err
	}
	return v, nil
}

func (v *Vendor) set(paths []string, f VendorFields) {
	for _, p := range paths {
		switch p {
		case VendorFieldDisplayName:
			v.DisplayName = strings.TrimSpace(f.DisplayName)
		case VendorFieldLegalName:
			v.LegalName = strings.TrimSpace(f.LegalName)
		case VendorFieldCategory:
			v.Category = f.Category
		case VendorFieldTier:
			v.Tier = f.Tier
		case VendorFieldDataAccess:
			v.DataAccess = f.DataAccess
			if v.DataAccess == 0 {
				v.DataAccess = 1 // NONE
			}
		case VendorFieldCountry:
			v.Country = f.Country
		case VendorFieldWebsite:
			v.Website = f.Website
		case VendorFieldDescription:
			v.Description = f.Description
		case VendorFieldOwner:
			v.Owner = strings.TrimSpace(f.Owner)
		case VendorFieldContacts:
			v.Contacts = slices.Clone(f.Contacts)
		case VendorFieldParent:
			v.ParentID = f.ParentID
		case VendorFieldSubProcessors:
			v.SubProcessors = slices.Clone(f.SubProcessors)
			for i := range v.SubProcessors {
				if v.SubProcessors[i].DataAccess == 0 {
					v.SubProcessors[i].DataAccess = 1 // NONE
				}
			}
		}
	}
}

// Validate checks the invariants of a vendor that need no other vendor to decide. Every broken
// rule is reported, each as a violation of its field.
func (v *Vendor) Validate() error {
	var vs fault.Violations
	vs.RequireText(VendorFieldDisplayName, v.DisplayName, maxVendorDisplayName)
	vs.RequireText(VendorFieldLegalName, v.LegalName, maxLegalName)
	if v.Category <= 0 || v.Category > maxCategory {
		vs.Add(VendorFieldCategory, "REQUIRED", "category is required")
	}
	switch {
	case v.Tier == 0:
		vs.Add(VendorFieldTier, "REQUIRED", "tier is required")
	case v.Tier < 1 || v.Tier > 4:
		vs.Add(VendorFieldTier, "OUT_OF_RANGE", "tier must be 1 to 4")
	}
	if v.DataAccess < 0 || v.DataAccess > maxDataAccess {
		vs.Add(VendorFieldDataAccess, "OUT_OF_RANGE", "data_access is not a defined value")
	}
	vs.LimitText(VendorFieldDescription, v.Description, maxDescription)
	vs.LimitText(VendorFieldOwner, v.Owner, maxOwner)
	for i, c := range v.Contacts {
		if strings.TrimSpace(c.DisplayName) == "" {
			vs.Add(fmt.Sprintf("%s[%d].display_name", VendorFieldContacts, i), "REQUIRED", "display_name is required")
		}
	}
	seen := map[string]bool{}
	for i, sp := range v.SubProcessors {
		field := fmt.Sprintf("%s[%d]", VendorFieldSubProcessors, i)
		if strings.TrimSpace(sp.DisplayName) == "" {
			vs.Add(field+".display_name", "REQUIRED", "display_name is required")
		}
		if sp.VendorID == "" {
			continue
		}
		if sp.VendorID == v.ID {
			vs.Add(field+".vendor", ErrSubProcessorSelf.Reason, ErrSubProcessorSelf.Message)
		} else if seen[sp.VendorID] {
			vs.Add(field+".vendor", "DUPLICATE", "the vendor is listed twice as a sub-processor")
		}
		seen[sp.VendorID] = true
	}
	if err := vs.Err(); err != nil {
		return err
	}
	if v.ParentID != "" && v.ParentID == v.ID {
		return ErrParentVendorCycle
	}
	return nil
}

// SubProcessorVendorIDs are the IDs of the sub-processors that are vendors, in order.
func (v *Vendor) SubProcessorVendorIDs() []string {
	var ids []string
	for _, sp := range v.SubProcessors {
		if sp.VendorID != "" {
			ids = append(ids, sp.VendorID)
		}
	}
	return ids
}

// Apply sets the fields named in paths to their values in f at time now and reports which of
// them changed. An OFFBOARDED vendor cannot change. When something changed the version is
// incremented; the vendor must still satisfy its invariants, or it is left untouched.
func (v *Vendor) Apply(paths []string, f VendorFields, now time.Time) (changed []string, err error) {
	if v.State == VendorOffboarded {
		return nil, ErrVendorOffboarded.With("name", v.Name())
	}
	next := *v
	next.set(paths, f)
	if err := next.Validate(); err != nil {
		return nil, err
	}
	for _, p := range VendorWritableFields {
		if slices.Contains(paths, p) && next.differs(v, p) {
			changed = append(changed, p)
		}
	}
	if len(changed) == 0 {
		return nil, nil
	}
	next.Version++
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	*v = next
	return changed, nil
}

func (v *Vendor) differs(o *Vendor, field string) bool {
	switch field {
	case VendorFieldDisplayName:
		return v.DisplayName != o.DisplayName
	case VendorFieldLegalName:
		return v.LegalName != o.LegalName
	case VendorFieldCategory:
		return v.Category != o.Category
	case VendorFieldTier:
		return v.Tier != o.Tier
	case VendorFieldDataAccess:
		return v.DataAccess != o.DataAccess
	case VendorFieldCountry:
		return v.Country != o.Country
	case VendorFieldWebsite:
		return v.Website != o.Website
	case VendorFieldDescription:
		return v.Description != o.Description
	case VendorFieldOwner:
		return v.Owner != o.Owner
	case VendorFieldContacts:
		return !slices.Equal(v.Contacts, o.Contacts)
	case VendorFieldParent:
		return v.ParentID != o.ParentID
	case VendorFieldSubProcessors:
		return !slices.Equal(v.SubProcessors, o.SubProcessors)
	}
	return false
}

// CheckAncestry rejects a parent whose ancestry (the parent's own chain of ancestor IDs, nearest
// first) contains the vendor: the parent would be the vendor itself or one of its subsidiaries.
func (v *Vendor) CheckAncestry(parentAncestors []string) error {
	if v.ParentID == "" {
		return nil
	}
	if v.ParentID == v.ID || slices.Contains(parentAncestors, v.ID) {
		return ErrParentVendorCycle
	}
	return nil
}

// CheckDeletable refuses to delete a vendor that is not a PROSPECT: it is offboarded instead.
func (v *Vendor) CheckDeletable() error {
	if v.State != VendorProspect {
		return ErrVendorNotProspect.With("name", v.Name()).With("state", v.State.String())
	}
	return nil
}

// transition moves the vendor from one of from to state to at now, with reason.
func (v *Vendor) transition(to VendorState, reason string, now time.Time, from ...VendorState) error {
	if !slices.Contains(from, v.State) {
		return ErrVendorInvalidTransition.With("name", v.Name()).With("state", v.State.String()).With("target_state", to.String()).
			Withf("a %s vendor cannot become %s", v.State, to)
	}
	now = now.UTC().Truncate(time.Microsecond)
	v.State, v.StateReason, v.StateChangeTime, v.UpdateTime = to, strings.TrimSpace(reason), now, now
	v.Version++
	return nil
}

// StartOnboarding makes a PROSPECT vendor ONBOARDING.
func (v *Vendor) StartOnboarding(reason string, now time.Time) error {
	if err := checkReason(reason, false); err != nil {
		return err
	}
	return v.transition(VendorOnboarding, reason, now, VendorProspect)
}

// Activate makes an ONBOARDING vendor ACTIVE; tiers 1 and 2 need an assessment valid on today.
func (v *Vendor) Activate(reason string, today Date, now time.Time) error {
	if err := checkReason(reason, false); err != nil {
		return err
	}
	if v.State == VendorOnboarding && v.Tier <= 2 && !v.AssessmentValid(today) {
		e := ErrAssessmentRequired.With("name", v.Name()).With("tier", fmt.Sprint(v.Tier)).
			Withf("a vendor of tier %d needs a completed assessment that is still valid to become ACTIVE", v.Tier)
		if v.LatestAssessmentID != "" {
			e = e.With("assessment_valid_until", v.AssessmentValidUntil.String())
		}
		return e
	}
	return v.transition(VendorActive, reason, now, VendorOnboarding)
}

// Suspend makes an ACTIVE vendor SUSPENDED, for a reason.
func (v *Vendor) Suspend(reason string, now time.Time) error {
	if err := checkReason(reason, true); err != nil {
		return err
	}
	return v.transition(VendorSuspended, reason, now, VendorActive)
}

// Reinstate makes a SUSPENDED vendor ACTIVE again, for a reason.
func (v *Vendor) Reinstate(reason string, now time.Time) error {
	if err := checkReason(reason, true); err != nil {
		return err
	}
	return v.transition(VendorActive, reason, now, VendorSuspended)
}

// Offboard ends the relationship with a vendor in any state but OFFBOARDED, for a reason.
func (v *Vendor) Offboard(reason string, now time.Time) error {
	if err := checkReason(reason, true); err != nil {
		return err
	}
	return v.transition(VendorOffboarded, reason, now, VendorProspect, VendorOnboarding, VendorActive, VendorSuspended)
}

// checkReason checks the reason of a lifecycle call: required when required, at most 2000
// characters.
func checkReason(reason string, required bool) error {
	var vs fault.Violations
	reason = strings.TrimSpace(reason)
	if required && reason == "" {
		vs.Add("reason", "REQUIRED", "reason is required")
	}
	if utf8.RuneCountInString(reason) > maxReason {
		vs.Add("reason", "TOO_LONG", fmt.Sprintf("reason is longer than %d characters", maxReason))
	}
	return vs.Err()
}
