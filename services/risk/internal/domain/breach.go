package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Errors of breach impacts.
var (
	ErrBreachImpactNotFound = fault.New(fault.NotFound, "BREACH_IMPACT_NOT_FOUND",
		"the incident has no breach impact: only a SECURITY_BREACH or DATA_LOSS incident has one")
	ErrClockNotified = fault.New(fault.FailedPrecondition, "CLOCK_NOTIFIED",
		"the notification of this clock was recorded; the clock cannot change any more")
	ErrClockNotFound = fault.New(fault.NotFound, "NOTIFICATION_CLOCK_NOT_FOUND", "the breach impact has no clock with this id")
)

// ClockRegime is the regulation a notification clock follows; its values are those of the API's
// NotificationClock.Regime.
type ClockRegime int32

// The regimes.
const (
	RegimeGDPR             ClockRegime = 1
	RegimeNIS2EarlyWarning ClockRegime = 2
	RegimeNIS2Notification ClockRegime = 3
	RegimeCustom           ClockRegime = 4
)

// Deadline is the regime's deadline from awareness; 0 for CUSTOM, whose clocks give their own.
func (r ClockRegime) Deadline() time.Duration {
	switch r {
	case RegimeGDPR, RegimeNIS2Notification:
		return 72 * time.Hour
	case RegimeNIS2EarlyWarning:
		return 24 * time.Hour
	}
	return 0
}

// The bounds of a CUSTOM clock's deadline.
const (
	MinCustomDeadline = time.Hour
	MaxCustomDeadline = 90 * 24 * time.Hour
)

// ClockState is where a clock stands; its values are those of the API's NotificationClock.State.
type ClockState int32

// The states of a clock.
const (
	ClockRunning  ClockState = 1
	ClockDueSoon  ClockState = 2
	ClockOverdue  ClockState = 3
	ClockNotified ClockState = 4
)

// NotificationClock is a deadline by which someone must be notified of a breach, counted from
// the awareness of it. It is stored as JSON in its breach impact's row.
type NotificationClock struct {
	ID         string        `json:"id"`
	Regime     ClockRegime   `json:"regime"`
	Recipient  string        `json:"recipient,omitempty"`
	Deadline   time.Duration `json:"deadline"`
	WarnBefore time.Duration `json:"warnBefore"`
	NotifyTime time.Time     `json:"notifyTime,omitzero"`
	Reference  string        `json:"reference,omitempty"`
}

// Notified reports whether the clock's notification was recorded.
func (c *NotificationClock) Notified() bool { return !c.NotifyTime.IsZero() }

// DueTime is when the notification is due on a clock started at start.
func (c *NotificationClock) DueTime(start time.Time) time.Time { return start.Add(c.Deadline) }

// WarnTime is when the clock started at start is due soon.
func (c *NotificationClock) WarnTime(start time.Time) time.Time {
	return c.DueTime(start).Add(-c.WarnBefore)
}

// Late reports whether the notification was recorded after the clock started at start was due.
func (c *NotificationClock) Late(start time.Time) bool {
	return c.Notified() && c.NotifyTime.After(c.DueTime(start))
}

// State is where the clock started at start stands at now.
func (c *NotificationClock) State(start, now time.Time) ClockState {
	switch {
	case c.Notified():
		return ClockNotified
	case !now.Before(c.DueTime(start)):
		return ClockOverdue
	case !now.Before(c.WarnTime(start)):
		return ClockDueSoon
	}
	return ClockRunning
}

// BreachImpact says what a breach touched and by when whom must be told. It is a singleton of a
// SECURITY_BREACH or DATA_LOSS incident.
type BreachImpact struct {
	IncidentID        string
	Description       string
	AffectedSubjects  int64
	AffectedRecords   int64
	DataCategories    []int32
	Jurisdictions     []string
	RegulatorRequired bool
	SubjectRequired   bool
	// AwarenessTime starts every clock: the incident's declare time until changed.
	AwarenessTime time.Time
	Clocks        []NotificationClock
	// UpdateTime is zero until the breach impact is first changed.
	UpdateTime time.Time
	Version    int64
}

// BreachImpactName returns the resource name of the breach impact of incident id.
func BreachImpactName(id string) string { return BreachImpactPattern.Format(id) }

// Name is the breach impact's resource name, incidents/{incident}/breachImpact.
func (b *BreachImpact) Name() string { return BreachImpactName(b.IncidentID) }

// Clock returns the clock with the id, or nil.
func (b *BreachImpact) Clock(id string) *NotificationClock {
	for n := range b.Clocks {
		if b.Clocks[n].ID == id {
			return &b.Clocks[n]
		}
	}
	return nil
}

// NewBreachImpact is the empty breach impact of incident i, aware since its declaration.
func NewBreachImpact(i *Incident) *BreachImpact {
	return &BreachImpact{IncidentID: i.ID, AwarenessTime: i.DeclareTime, Version: 1}
}

// BreachFields are the client-writable fields of a breach impact.
type BreachFields struct {
	Description       string
	AffectedSubjects  int64
	AffectedRecords   int64
	DataCategories    []int32
	Jurisdictions     []string
	RegulatorRequired bool
	SubjectRequired   bool
	AwarenessTime     time.Time
	Clocks            []NotificationClock
}

// The client-writable fields of a breach impact, by their API paths.
const (
	BreachFieldDescription       = "description"
	BreachFieldAffectedSubjects  = "affected_subjects"
	BreachFieldAffectedRecords   = "affected_records"
	BreachFieldDataCategories    = "data_categories"
	BreachFieldJurisdictions     = "jurisdictions"
	BreachFieldRegulatorRequired = "regulator_notification_required"
	BreachFieldSubjectRequired   = "subject_notification_required"
	BreachFieldAwarenessTime     = "awareness_time"
	BreachFieldClocks            = "notification_clocks"
)

// BreachWritableFields lists the fields an update may change.
var BreachWritableFields = []string{BreachFieldDescription, BreachFieldAffectedSubjects, BreachFieldAffectedRecords,
	BreachFieldDataCategories, BreachFieldJurisdictions, BreachFieldRegulatorRequired, BreachFieldSubjectRequired,
	BreachFieldAwarenessTime, BreachFieldClocks}

// Apply sets the fields named in paths to their values in f at now, for incident i, and reports
// which changed. New clocks take their regime's deadline and a quarter of it as their warning;
// a clock whose notification was recorded keeps everything, and the awareness time cannot move
// once one was. The breach impact must still satisfy its invariants, or it is left untouched.
func (b *BreachImpact) Apply(i *Incident, paths []string, f BreachFields, now time.Time) ([]string, error) {
	now = now.UTC().Truncate(time.Microsecond)
	next := *b
	const prefix = "breach_impact."
	var vs fault.Violations
	for _, p := range paths {
		switch p {
		case BreachFieldDescription:
			next.Description = f.Description
		case BreachFieldAffectedSubjects:
			next.AffectedSubjects = f.AffectedSubjects
		case BreachFieldAffectedRecords:
			next.AffectedRecords = f.AffectedRecords
		case BreachFieldDataCategories:
			next.DataCategories = slices.Clone(f.DataCategories)
		case BreachFieldJurisdictions:
			next.Jurisdictions = slices.Clone(f.Jurisdictions)
		case BreachFieldRegulatorRequired:
			next.RegulatorRequired = f.RegulatorRequired
		case BreachFieldSubjectRequired:
			next.SubjectRequired = f.SubjectRequired
		case BreachFieldAwarenessTime:
			if f.AwarenessTime.IsZero() {
				next.AwarenessTime = i.DeclareTime
			} else {
				next.AwarenessTime = f.AwarenessTime.UTC().Truncate(time.Microsecond)
			}
		case BreachFieldClocks:
			clocks, err := b.nextClocks(f.Clocks, prefix+BreachFieldClocks)
			if err != nil {
				return nil, err
			}
			next.Clocks = clocks
		}
	}
	switch {
	case next.AwarenessTime.After(now):
		vs.Add(prefix+BreachFieldAwarenessTime, "TIME_IN_FUTURE", "awareness_time may not be in the future")
	case next.AwarenessTime.Before(i.DetectTime):
		vs.Add(prefix+BreachFieldAwarenessTime, "TIME_OUT_OF_ORDER", "awareness_time may not be before the incident's detect_time")
	}
	vs.LimitText(prefix+BreachFieldDescription, next.Description, 10000)
	if err := vs.Err(); err != nil {
		return nil, err
	}
	var changed []string
	for _, p := range BreachWritableFields {
		if slices.Contains(paths, p) && next.differs(b, p) {
			changed = append(changed, p)
		}
	}
	if slices.Contains(changed, BreachFieldAwarenessTime) {
		for _, c := range b.Clocks {
			if c.Notified() {
				return nil, ErrClockNotified.With("name", b.Name()).With("clock", c.ID).OnField(prefix+BreachFieldAwarenessTime,
					"the awareness time cannot move once a clock's notification was recorded")
			}
		}
	}
	if len(changed) == 0 {
		return nil, nil
	}
	next.Version++
	next.UpdateTime = now
	*b = next
	return changed, nil
}

// nextClocks checks the clocks an update gives and completes them: each once by id, the regime's
// deadline, a quarter of it as the warning by default; the notified ones kept as they are.
func (b *BreachImpact) nextClocks(given []NotificationClock, field string) ([]NotificationClock, error) {
	var (
		vs  fault.Violations
		out []NotificationClock
	)
	for n, c := range given {
		at := fmt.Sprintf("%s[%d]", field, n)
		c.ID, c.Recipient = strings.TrimSpace(c.ID), strings.TrimSpace(c.Recipient)
		c.NotifyTime, c.Reference = time.Time{}, ""
		if slices.ContainsFunc(out, func(o NotificationClock) bool { return o.ID == c.ID }) {
			vs.Add(at+".id", "DUPLICATE", "the clock id is given twice")
			continue
		}
		switch d := c.Regime.Deadline(); {
		case c.Regime < RegimeGDPR || c.Regime > RegimeCustom:
			vs.Add(at+".regime", "REQUIRED", "regime is required")
		case c.Regime == RegimeCustom && c.Deadline == 0:
			vs.Add(at+".deadline", "REQUIRED", "a CUSTOM clock needs a deadline")
		case c.Regime == RegimeCustom && (c.Deadline < MinCustomDeadline || c.Deadline > MaxCustomDeadline):
			vs.Add(at+".deadline", "DEADLINE_OUT_OF_RANGE", "a CUSTOM clock's deadline is 1 hour to 90 days")
		case c.Regime != RegimeCustom && c.Deadline != 0 && c.Deadline != d:
			vs.Add(at+".deadline", "REGIME_DEADLINE", fmt.Sprintf("the regime's deadline is %s", d))
		case c.Regime != RegimeCustom:
			c.Deadline = d
		}
		if c.WarnBefore == 0 {
			c.WarnBefore = c.Deadline / 4
		}
		if c.Deadline > 0 && (c.WarnBefore <= 0 || c.WarnBefore >= c.Deadline) {
			vs.Add(at+".warn_before", "WARN_BEFORE_OUT_OF_RANGE", "warn_before must be more than 0 and less than the deadline")
		}
		if old := b.Clock(c.ID); old != nil && old.Notified() {
			keep := *old
			if keep.Regime != c.Regime || keep.Deadline != c.Deadline || keep.WarnBefore != c.WarnBefore || keep.Recipient != c.Recipient {
				return nil, ErrClockNotified.With("name", b.Name()).With("clock", c.ID)
			}
			c = keep
		}
		out = append(out, c)
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	for _, c := range b.Clocks {
		if c.Notified() && !slices.ContainsFunc(out, func(o NotificationClock) bool { return o.ID == c.ID }) {
			return nil, ErrClockNotified.With("name", b.Name()).With("clock", c.ID)
		}
	}
	return out, nil
}

func (b *BreachImpact) differs(o *BreachImpact, field string) bool {
	switch field {
	case BreachFieldDescription:
		return b.Description != o.Description
	case BreachFieldAffectedSubjects:
		return b.AffectedSubjects != o.AffectedSubjects
	case BreachFieldAffectedRecords:
		return b.AffectedRecords != o.AffectedRecords
	case BreachFieldDataCategories:
		return !slices.Equal(b.DataCategories, o.DataCategories)
	case BreachFieldJurisdictions:
		return !slices.Equal(b.Jurisdictions, o.Jurisdictions)
	case BreachFieldRegulatorRequired:
		return b.RegulatorRequired != o.RegulatorRequired
	case BreachFieldSubjectRequired:
		return b.SubjectRequired != o.SubjectRequired
	case BreachFieldAwarenessTime:
		return !b.AwarenessTime.Equal(o.AwarenessTime)
	case BreachFieldClocks:
		return !slices.EqualFunc(b.Clocks, o.Clocks, func(x, y NotificationClock) bool { return x == y })
	}
	return false
}

// RecordNotification records that the notification of clock id was made at the given time (the
// time of the call when zero) under reference, by author: the clock stops. It returns the
// timeline entry that tells of it.
func (b *BreachImpact) RecordNotification(id string, at time.Time, reference, author string, now time.Time) (*TimelineEntry, error) {
	now = now.UTC().Truncate(time.Microsecond)
	c := b.Clock(id)
	if c == nil {
		return nil, ErrClockNotFound.With("name", b.Name()).With("clock", id).OnField("clock", "")
	}
	if c.Notified() {
		return nil, ErrClockNotified.With("name", b.Name()).With("clock", id)
	}
	if at.IsZero() {
		at = now
	}
	at = at.UTC().Truncate(time.Microsecond)
	switch {
	case at.After(now):
		return nil, fault.Field("notify_time", "TIME_IN_FUTURE", "notify_time may not be in the future")
	case at.Before(b.AwarenessTime):
		return nil, fault.Field("notify_time", "TIME_OUT_OF_ORDER", "notify_time may not be before the clock started")
	}
	c.NotifyTime, c.Reference = at, strings.TrimSpace(reference)
	b.Version++
	b.UpdateTime = now
	text := fmt.Sprintf("Notified %s (%s)", orDefault(c.Recipient, "the recipient"), c.ID)
	if c.Reference != "" {
		text += ", reference " + c.Reference
	}
	if c.Late(b.AwarenessTime) {
		text += ", after the deadline"
	}
	return &TimelineEntry{IncidentID: b.IncidentID, Kind: TimelineNotification, OccurTime: at, Text: text,
		NotificationClock: c.ID, Author: author, CreateTime: now}, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
