package domain

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Errors of timelines.
var (
	ErrTimelineEntryNotFound = fault.New(fault.NotFound, "TIMELINE_ENTRY_NOT_FOUND", "timeline entry not found")
)

// TimelineKind is what a timeline entry records; its values are those of the API's
// TimelineEntry.Kind.
type TimelineKind int32

// The kinds of timeline entries.
const (
	TimelineNote             TimelineKind = 1
	TimelineStateChange      TimelineKind = 2
	TimelineSeverityChange   TimelineKind = 3
	TimelineRoleChange       TimelineKind = 4
	TimelineDetectTimeChange TimelineKind = 5
	TimelineNotification     TimelineKind = 6
)

// TimelineEntry is one line of an incident's timeline. Entries are written once and never
// changed or deleted: the store has no statement that would.
type TimelineEntry struct {
	IncidentID string
	// Seq numbers the incident's entries in the order they were written, from 1.
	Seq       int64
	Kind      TimelineKind
	OccurTime time.Time
	Text      string
	Author    string
	Reason    string
	// The details of a change, by kind.
	FromState, ToState       IncidentState
	FromSeverity, ToSeverity Severity
	Role                     string
	FromPerson, ToPerson     string
	NotificationClock        string
	CreateTime               time.Time
}

// TimelineEntryID is the ID of the seq-th entry, zero-padded so that names sort in the order of
// writing.
func TimelineEntryID(seq int64) string { return fmt.Sprintf("%08d", seq) }

// TimelineEntryName returns the resource name of the seq-th entry of incident incidentID.
func TimelineEntryName(incidentID string, seq int64) string {
	return TimelineEntryPattern.Format(incidentID, TimelineEntryID(seq))
}

// Name is the entry's resource name, incidents/{incident}/timelineEntries/{timeline_entry}.
func (e *TimelineEntry) Name() string { return TimelineEntryName(e.IncidentID, e.Seq) }

// maxNote is the longest a note may be.
const maxNote = 10000

// NewNote is a note on incident i by author, written at now about occur (the time of the call
// when zero): never in the future, never before the incident's detect time.
func NewNote(i *Incident, text string, occur time.Time, author string, now time.Time) (*TimelineEntry, error) {
	now = now.UTC().Truncate(time.Microsecond)
	if occur.IsZero() {
		occur = now
	}
	occur = occur.UTC().Truncate(time.Microsecond)
	var vs fault.Violations
	vs.RequireText("timeline_entry.text", strings.TrimSpace(text), maxNote)
	switch {
	case occur.After(now):
		vs.Add("timeline_entry.occur_time", "TIME_IN_FUTURE", "occur_time may not be in the future")
	case occur.Before(i.DetectTime):
		vs.Add("timeline_entry.occur_time", "TIME_OUT_OF_ORDER", "occur_time may not be before the incident's detect_time")
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	return &TimelineEntry{IncidentID: i.ID, Kind: TimelineNote, OccurTime: occur, Text: strings.TrimSpace(text),
		Author: author, CreateTime: now}, nil
}

func utf8Len(s string) int { return utf8.RuneCountInString(s) }
