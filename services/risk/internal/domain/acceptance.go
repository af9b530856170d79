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

// Errors of acceptances.
var (
	ErrAcceptanceNotFound = fault.New(fault.NotFound, "ACCEPTANCE_NOT_FOUND", "acceptance not found")
	ErrAcceptanceIDTaken  = fault.New(fault.AlreadyExists, "ACCEPTANCE_ALREADY_EXISTS", "an acceptance with this ID already exists for the risk")
	// ErrAcceptanceExists is the refusal of a second live acceptance of a risk.
	ErrAcceptanceExists = fault.New(fault.FailedPrecondition, "ACCEPTANCE_EXISTS",
		"the risk already has a PENDING or APPROVED acceptance; withdraw, reject or revoke it first")
	ErrAcceptanceInvalidTransition = fault.New(fault.FailedPrecondition, "INVALID_STATE_TRANSITION",
		"the transition is not allowed in the acceptance's current state")
	ErrApproverIsOwner = fault.New(fault.PermissionDenied, "APPROVER_IS_OWNER",
		"the risk's owner may not decide on its acceptance; another approver must")
	ErrRiskNotAssessed = fault.New(fault.FailedPrecondition, "RISK_NOT_ASSESSED",
		"the risk has no score yet: assess it before accepting it")
	ErrAcceptanceLapsed = fault.New(fault.FailedPrecondition, "ACCEPTANCE_EXPIRY_PASSED",
		"the acceptance's expiry date has passed; request a new acceptance")
)

// AcceptanceState is where an acceptance stands; its values are those of the API's
// Acceptance.State.
type AcceptanceState int32

// The states of an acceptance.
const (
	AcceptancePending   AcceptanceState = 1
	AcceptanceApproved  AcceptanceState = 2
	AcceptanceRejected  AcceptanceState = 3
	AcceptanceExpired   AcceptanceState = 4
	AcceptanceRevoked   AcceptanceState = 5
	AcceptanceWithdrawn AcceptanceState = 6
)

// Live reports whether the acceptance is PENDING or APPROVED: a risk has one at most.
func (s AcceptanceState) Live() bool { return s == AcceptancePending || s == AcceptanceApproved }

// String is the state's API name.
func (s AcceptanceState) String() string {
	switch s {
	case AcceptancePending:
		return "PENDING"
	case AcceptanceApproved:
		return "APPROVED"
	case AcceptanceRejected:
		return "REJECTED"
	case AcceptanceExpired:
		return "EXPIRED"
	case AcceptanceRevoked:
		return "REVOKED"
	case AcceptanceWithdrawn:
		return "WITHDRAWN"
	}
	return fmt.Sprintf("AcceptanceState(%d)", int32(s))
}

const maxJustification = 10000

// Acceptance is the decision to live with a risk as it is until an expiry date: requested with a
// justification, decided by an approver who is not the risk's owner.
type Acceptance struct {
	RiskID         string
	ID             string
	Justification  string
	ExpiryDate     civil.Date
	State          AcceptanceState
	Requester      string
	Approver       string
	DecisionReason string
	DecideTime     time.Time
	// AcceptedScore is the risk's residual score when the acceptance was requested.
	AcceptedScore int32
	CreateTime    time.Time
	UpdateTime    time.Time
	// Version counts the changes of the acceptance; it starts at 1 and orders its events.
	Version int64
}

// AcceptanceName returns the resource name of the acceptance id of risk riskID.
func AcceptanceName(riskID, id string) string { return AcceptancePattern.Format(riskID, id) }

// Name is the acceptance's resource name, risks/{risk}/acceptances/{acceptance}.
func (a *Acceptance) Name() string { return AcceptanceName(a.RiskID, a.ID) }

// ExpiresAt is when an approved acceptance expires: the start (UTC) of the day after its expiry
// date.
func (a *Acceptance) ExpiresAt() time.Time { return a.ExpiryDate.AddDays(1).Time() }

// NewAcceptance returns a PENDING acceptance of risk riskID, requested by requester at now for a
// risk whose residual score is score. The expiry date must be after today and at most maxDays
// away.
func NewAcceptance(riskID, id, justification string, expiry civil.Date, requester string, score int32, maxDays int, now time.Time) (*Acceptance, error) {
	now = now.UTC().Truncate(time.Microsecond)
	a := &Acceptance{RiskID: riskID, ID: id, Justification: strings.TrimSpace(justification), ExpiryDate: expiry,
		State: AcceptancePending, Requester: requester, AcceptedScore: score, CreateTime: now, UpdateTime: now, Version: 1}
	var vs fault.Violations
	if a.Justification == "" {
		vs.Add("acceptance.justification", "REQUIRED", "justification is required")
	}
	tooLong(&vs, "acceptance.justification", a.Justification, maxJustification)
	today := civil.DateOf(now)
	switch {
	case expiry.IsZero():
		vs.Add("acceptance.expiry_date", "REQUIRED", "expiry_date is required")
	case !expiry.Valid():
		vs.Add("acceptance.expiry_date", civil.ErrDateInvalid.Reason, "expiry_date is not a valid date")
	case !today.Before(expiry):
		vs.Add("acceptance.expiry_date", "EXPIRY_NOT_AFTER_TODAY", fmt.Sprintf("expiry_date must be after today (%s)", today))
	case today.AddDays(maxDays).Before(expiry):
		vs.Add("acceptance.expiry_date", "EXPIRY_TOO_FAR", fmt.Sprintf("expiry_date may be at most %d days away (%s)", maxDays, today.AddDays(maxDays)))
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	return a, nil
}

// decisionReason checks the reason of a decision; required says whether one must be given.
func decisionReason(reason string, required bool) (string, error) {
	reason = strings.TrimSpace(reason)
	if required && reason == "" {
		return "", fault.Field("reason", "REQUIRED", "reason is required")
	}
	if utf8.RuneCountInString(reason) > maxReason {
		return "", fault.Field("reason", "TOO_LONG", fmt.Sprintf("reason is longer than %d characters", maxReason))
	}
	return reason, nil
}

func (a *Acceptance) transition(to AcceptanceState, now time.Time, from ...AcceptanceState) error {
	if !slices.Contains(from, a.State) {
		return ErrAcceptanceInvalidTransition.With("name", a.Name()).With("state", a.State.String()).With("to", to.String())
	}
	a.State = to
	a.UpdateTime = now.UTC().Truncate(time.Microsecond)
	a.Version++
	return nil
}

// CheckDecider refuses a decision by the risk's owner.
func CheckDecider(decider, riskOwner string) error {
	if strings.EqualFold(strings.TrimSpace(decider), strings.TrimSpace(riskOwner)) {
		return ErrApproverIsOwner.With("approver", decider)
	}
	return nil
}

// Approve makes a PENDING acceptance APPROVED by approver, who may not be riskOwner, with an
// optional comment. An acceptance whose expiry date is not after today cannot be approved.
func (a *Acceptance) Approve(approver, riskOwner, comment string, now time.Time) error {
	if err := CheckDecider(approver, riskOwner); err != nil {
		return err
	}
	comment, err := decisionReason(comment, false)
	if err != nil {
		return err
	}
	if a.State == AcceptancePending && !civil.DateOf(now.UTC()).Before(a.ExpiryDate) {
		return ErrAcceptanceLapsed.With("name", a.Name()).With("expiry_date", a.ExpiryDate.String())
	}
	if err := a.transition(AcceptanceApproved, now, AcceptancePending); err != nil {
		return err
	}
	a.Approver, a.DecisionReason, a.DecideTime = approver, comment, a.UpdateTime
	return nil
}

// Reject makes a PENDING acceptance REJECTED by approver, who may not be riskOwner, for reason.
func (a *Acceptance) Reject(approver, riskOwner, reason string, now time.Time) error {
	if err := CheckDecider(approver, riskOwner); err != nil {
		return err
	}
	reason, err := decisionReason(reason, true)
	if err != nil {
		return err
	}
	if err := a.transition(AcceptanceRejected, now, AcceptancePending); err != nil {
		return err
	}
	a.Approver, a.DecisionReason, a.DecideTime = approver, reason, a.UpdateTime
	return nil
}

// Revoke makes an APPROVED acceptance REVOKED before its expiry, for reason. The approver of
// record stays the one who approved it.
func (a *Acceptance) Revoke(reason string, now time.Time) error {
	reason, err := decisionReason(reason, true)
	if err != nil {
		return err
	}
	if err := a.transition(AcceptanceRevoked, now, AcceptanceApproved); err != nil {
		return err
	}
	a.DecisionReason = reason
	return nil
}

// Withdraw makes a PENDING acceptance WITHDRAWN, for reason.
func (a *Acceptance) Withdraw(reason string, now time.Time) error {
	reason, err := decisionReason(reason, true)
	if err != nil {
		return err
	}
	if err := a.transition(AcceptanceWithdrawn, now, AcceptancePending); err != nil {
		return err
	}
	a.DecisionReason = reason
	return nil
}

// Expire makes an APPROVED acceptance EXPIRED at now; anything else is left as it is (false).
func (a *Acceptance) Expire(now time.Time) bool {
	return a.transition(AcceptanceExpired, now, AcceptanceApproved) == nil
}
