package domain

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Errors of postmortems and their action items.
var (
	ErrPostmortemNotEditable = fault.New(fault.FailedPrecondition, "POSTMORTEM_NOT_EDITABLE",
		"only a DRAFT postmortem can be edited")
	ErrPostmortemInvalidTransition = fault.New(fault.FailedPrecondition, "INVALID_STATE_TRANSITION",
		"the transition is not allowed in the postmortem's current state")
	ErrPostmortemIncomplete = fault.New(fault.FailedPrecondition, "POSTMORTEM_INCOMPLETE",
		"a postmortem needs a summary, the impact and the root causes to be submitted")
	ErrIncidentNotResolved = fault.New(fault.FailedPrecondition, "INCIDENT_NOT_RESOLVED",
		"a postmortem is published once its incident is RESOLVED or CLOSED")
	ErrActionItemNotFound = fault.New(fault.NotFound, "ACTION_ITEM_NOT_FOUND", "action item not found")
	ErrActionItemExists   = fault.New(fault.AlreadyExists, "ACTION_ITEM_ALREADY_EXISTS",
		"an action item with this ID already exists for the postmortem")
	ErrActionItemFinal = fault.New(fault.FailedPrecondition, "ACTION_ITEM_FINAL",
		"the action item is DONE or CANCELLED and cannot change")
)

// PostmortemState is where a postmortem stands; its values are those of the API's
// Postmortem.State.
type PostmortemState int32

// The states of a postmortem.
const (
	PostmortemDraft     PostmortemState = 1
	PostmortemInReview  PostmortemState = 2
	PostmortemPublished PostmortemState = 3
)

// String is the state's API name.
func (s PostmortemState) String() string {
	switch s {
	case PostmortemDraft:
		return "DRAFT"
	case PostmortemInReview:
		return "IN_REVIEW"
	case PostmortemPublished:
		return "PUBLISHED"
	}
	return fmt.Sprintf("PostmortemState(%d)", int32(s))
}

// Postmortem is the blameless review of an incident, a singleton of every incident: an empty
// DRAFT (Version 0, not stored) until first written.
type Postmortem struct {
	IncidentID                                                     string
	State                                                          PostmortemState
	Summary, Impact, RootCauses, ContributingFactors, WhatWentWell string
	Lessons, Recommendations                                       string
	StateReason, Author, Publisher                                 string
	SubmitTime, PublishTime, UpdateTime                            time.Time
	// Version counts the changes; 0 for the empty DRAFT never written.
	Version int64
}

// PostmortemName returns the resource name of the postmortem of incident id.
func PostmortemName(id string) string { return PostmortemPattern.Format(id) }

// Name is the postmortem's resource name, incidents/{incident}/postmortem.
func (p *Postmortem) Name() string { return PostmortemName(p.IncidentID) }

// NewPostmortem is the empty DRAFT of incident id.
func NewPostmortem(id string) *Postmortem { return &Postmortem{IncidentID: id, State: PostmortemDraft} }

// PostmortemFields are the client-writable fields of a postmortem, by their API paths.
type PostmortemFields map[string]string

// PostmortemWritableFields lists the fields an update may change.
var PostmortemWritableFields = []string{"summary", "impact", "root_causes", "contributing_factors", "what_went_well",
	"lessons", "recommendations"}

func (p *Postmortem) field(path string) *string {
	switch path {
	case "summary":
		return &p.Summary
	case "impact":
		return &p.Impact
	case "root_causes":
		return &p.RootCauses
	case "contributing_factors":
		return &p.ContributingFactors
	case "what_went_well":
		return &p.WhatWentWell
	case "lessons":
		return &p.Lessons
	case "recommendations":
		return &p.Recommendations
	}
	return nil
}

// maxPostmortemText is the longest a postmortem's text may be.
const maxPostmortemText = 20000

// Apply sets the fields named in paths to their values in f, as author at now, and reports which
// changed. Only a DRAFT can be edited.
func (p *Postmortem) Apply(paths []string, f PostmortemFields, author string, now time.Time) ([]string, error) {
	if p.State != PostmortemDraft {
		return nil, ErrPostmortemNotEditable.With("name", p.Name()).With("state", p.State.String())
	}
	var (
		vs      fault.Violations
		changed []string
	)
	next := *p
	for _, path := range PostmortemWritableFields {
		if !slices.Contains(paths, path) {
			continue
		}
		v := f[path]
		vs.LimitText("postmortem."+path, v, maxPostmortemText)
		if dst := next.field(path); *dst != v {
			*dst = v
			changed = append(changed, path)
		}
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	if len(changed) == 0 {
		return nil, nil
	}
	next.Author, next.UpdateTime = author, now.UTC().Truncate(time.Microsecond)
	next.Version++
	*p = next
	return changed, nil
}

func (p *Postmortem) transition(to PostmortemState, now time.Time, from PostmortemState) error {
	if p.State != from {
		return ErrPostmortemInvalidTransition.With("name", p.Name()).With("state", p.State.String()).With("to", to.String())
	}
	p.State = to
	p.UpdateTime = now.UTC().Truncate(time.Microsecond)
	p.Version++
	return nil
}

// Submit sends a DRAFT for review; it needs a summary, the impact and the root causes.
func (p *Postmortem) Submit(now time.Time) error {
	if p.State == PostmortemDraft {
		err := ErrPostmortemIncomplete.With("name", p.Name())
		missing := false
		for _, f := range []struct{ path, v string }{{"summary", p.Summary}, {"impact", p.Impact}, {"root_causes", p.RootCauses}} {
			if strings.TrimSpace(f.v) == "" {
				err, missing = err.OnField("postmortem."+f.path, f.path+" is empty"), true
			}
		}
		if missing {
			return err
		}
	}
	if err := p.transition(PostmortemInReview, now, PostmortemDraft); err != nil {
		return err
	}
	p.StateReason, p.SubmitTime = "", p.UpdateTime
	return nil
}

// RequestChanges sends an IN_REVIEW postmortem back to DRAFT, saying what is to change.
func (p *Postmortem) RequestChanges(reason string, now time.Time) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return fault.Field("reason", "REQUIRED", "reason is required")
	}
	if utf8Len(reason) > maxReason {
		return fault.Field("reason", "TOO_LONG", fmt.Sprintf("reason is longer than %d characters", maxReason))
	}
	if err := p.transition(PostmortemDraft, now, PostmortemInReview); err != nil {
		return err
	}
	p.StateReason = reason
	return nil
}

// Publish publishes an IN_REVIEW postmortem of incident i, which must be RESOLVED or CLOSED, by
// publisher.
func (p *Postmortem) Publish(i *Incident, publisher string, now time.Time) error {
	if p.State == PostmortemInReview && i.State < IncidentResolved {
		return ErrIncidentNotResolved.With("name", p.Name()).With("incident_state", i.State.String())
	}
	if err := p.transition(PostmortemPublished, now, PostmortemInReview); err != nil {
		return err
	}
	p.Publisher, p.PublishTime = publisher, p.UpdateTime
	return nil
}

// ActionItemState is where an action item stands; its values are those of the API's
// ActionItem.State.
type ActionItemState int32

// The states of an action item.
const (
	ActionItemOpen      ActionItemState = 1
	ActionItemDone      ActionItemState = 2
	ActionItemCancelled ActionItemState = 3
)

// String is the state's API name.
func (s ActionItemState) String() string {
	switch s {
	case ActionItemOpen:
		return "OPEN"
	case ActionItemDone:
		return "DONE"
	case ActionItemCancelled:
		return "CANCELLED"
	}
	return fmt.Sprintf("ActionItemState(%d)", int32(s))
}

// ActionItem is follow-up work a postmortem calls for. Still OPEN after its due date, it is
// overdue.
type ActionItem struct {
	IncidentID   string
	ID           string
	Title        string
	Description  string
	Owner        string
	DueDate      civil.Date
	TrackerURL   string
	State        ActionItemState
	StateReason  string
	CompleteTime time.Time
	CreateTime   time.Time
	UpdateTime   time.Time
	// Version counts the changes of the item; it starts at 1 and orders its events.
	Version int64
}

// ActionItemName returns the resource name of item id of the postmortem of incident incidentID.
func ActionItemName(incidentID, id string) string { return ActionItemPattern.Format(incidentID, id) }

// Name is the item's resource name, incidents/{incident}/postmortem/actionItems/{action_item}.
func (a *ActionItem) Name() string { return ActionItemName(a.IncidentID, a.ID) }

// Open reports whether the item is still to be done.
func (a *ActionItem) Open() bool { return a.State == ActionItemOpen }

// Overdue reports whether the item is past its due date on today and still OPEN.
func (a *ActionItem) Overdue(today civil.Date) bool { return a.Open() && a.DueDate.Before(today) }

// OverdueAt is when the item falls overdue: the start (UTC) of the day after its due date.
func (a *ActionItem) OverdueAt() time.Time { return a.DueDate.AddDays(1).Time() }

// ActionItemFields are the client-writable fields of an action item.
type ActionItemFields struct {
	Title, Description, Owner string
	DueDate                   civil.Date
	TrackerURL                string
}

// ActionItemWritableFields lists the fields an update may change.
var ActionItemWritableFields = []string{"title", "description", "owner", "due_date", "tracker_url"}

// NewActionItem returns an OPEN item of the postmortem of incident incidentID created at now
// from f. Its due date may not be before today.
func NewActionItem(incidentID, id string, f ActionItemFields, now time.Time) (*ActionItem, error) {
	now = now.UTC().Truncate(time.Microsecond)
	a := &ActionItem{IncidentID: incidentID, ID: id, State: ActionItemOpen, CreateTime: now, UpdateTime: now, Version: 1}
	a.set(ActionItemWritableFields, f)
	if err := a.validate(civil.DateOf(now), true); err != nil {
		return nil, err
	}
	return a, nil
}

func (a *ActionItem) set(paths []string, f ActionItemFields) {
	for _, p := range paths {
		switch p {
		case "title":
			a.Title = strings.TrimSpace(f.Title)
		case "description":
			a.Description = f.Description
		case "owner":
			a.Owner = strings.TrimSpace(f.Owner)
		case "due_date":
			a.DueDate = f.DueDate
		case "tracker_url":
			a.TrackerURL = strings.TrimSpace(f.TrackerURL)
		}
	}
}

// validate checks the invariants, each broken rule a violation of its field in the request
// (action_item.*); a due date before today only when it is being set (checkDue).
func (a *ActionItem) validate(today civil.Date, checkDue bool) error {
	var vs fault.Violations
	const prefix = "action_item."
	vs.RequireText(prefix+"title", a.Title, 200)
	vs.LimitText(prefix+"description", a.Description, 10000)
	vs.RequireText(prefix+"owner", a.Owner, 256)
	switch {
	case a.DueDate.IsZero():
		vs.Add(prefix+"due_date", "REQUIRED", "due_date is required")
	case !a.DueDate.Valid():
		vs.Add(prefix+"due_date", civil.ErrDateInvalid.Reason, "due_date is not a valid date")
	case checkDue && a.DueDate.Before(today):
		vs.Add(prefix+"due_date", "DUE_DATE_IN_PAST", fmt.Sprintf("due_date may not be before today (%s)", today))
	}
	if a.TrackerURL != "" {
		if u, err := url.Parse(a.TrackerURL); err != nil || u.Scheme == "" || u.Host == "" {
			vs.Add(prefix+"tracker_url", "URL_INVALID", "tracker_url must be an absolute URL")
		}
	}
	return vs.Err()
}

// Apply sets the fields named in paths to their values in f at now and reports which changed.
// Only an OPEN item can change.
func (a *ActionItem) Apply(paths []string, f ActionItemFields, now time.Time) ([]string, error) {
	if !a.Open() {
		return nil, ErrActionItemFinal.With("name", a.Name()).With("state", a.State.String())
	}
	next := *a
	next.set(paths, f)
	var changed []string
	for _, p := range ActionItemWritableFields {
		if !slices.Contains(paths, p) {
			continue
		}
		if p == "due_date" && next.DueDate != a.DueDate || p != "due_date" && next.text(p) != a.text(p) {
			changed = append(changed, p)
		}
	}
	if err := next.validate(civil.DateOf(now.UTC()), slices.Contains(changed, "due_date")); err != nil {
		return nil, err
	}
	if len(changed) == 0 {
		return nil, nil
	}
	next.Version++
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	*a = next
	return changed, nil
}

func (a *ActionItem) text(path string) string {
	switch path {
	case "title":
		return a.Title
	case "description":
		return a.Description
	case "owner":
		return a.Owner
	case "tracker_url":
		return a.TrackerURL
	}
	return ""
}

// Complete makes an OPEN item DONE.
func (a *ActionItem) Complete(now time.Time) error {
	if !a.Open() {
		return ErrActionItemFinal.With("name", a.Name()).With("state", a.State.String())
	}
	a.State, a.UpdateTime = ActionItemDone, now.UTC().Truncate(time.Microsecond)
	a.CompleteTime = a.UpdateTime
	a.Version++
	return nil
}

// Cancel makes an OPEN item CANCELLED, for reason.
func (a *ActionItem) Cancel(reason string, now time.Time) error {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return fault.Field("reason", "REQUIRED", "reason is required")
	}
	if utf8Len(reason) > maxReason {
		return fault.Field("reason", "TOO_LONG", fmt.Sprintf("reason is longer than %d characters", maxReason))
	}
	if !a.Open() {
		return ErrActionItemFinal.With("name", a.Name()).With("state", a.State.String())
	}
	a.State, a.StateReason, a.UpdateTime = ActionItemCancelled, reason, now.UTC().Truncate(time.Microsecond)
	a.Version++
	return nil
}

// MarkOverdue records that the item fell overdue: its version moves on, so that the event
// saying so is ordered after every earlier one about the item.
func (a *ActionItem) MarkOverdue() { a.Version++ }
