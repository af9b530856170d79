package store

import (
	"context"
	"fmt"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// The timeline is append-only: AppendTimeline is the only statement that writes it. There is no
// update and no delete of an entry, here or anywhere in the service.

// timelineColumns are the columns every timeline query selects, in scanTimelineEntry's order.
const timelineColumns = `incident_id, seq, kind, occur_time, text, author, reason, from_state, to_state,
	from_severity, to_severity, role, from_person, to_person, notification_clock, create_time`

func scanTimelineEntry(s sqlstore.Scanner) (*domain.TimelineEntry, error) {
	var e domain.TimelineEntry
	err := s.Scan(&e.IncidentID, &e.Seq, &e.Kind, &e.OccurTime, &e.Text, &e.Author, &e.Reason, &e.FromState, &e.ToState,
		&e.FromSeverity, &e.ToSeverity, &e.Role, &e.FromPerson, &e.ToPerson, &e.NotificationClock, &e.CreateTime)
	if err != nil {
		return nil, err
	}
	e.OccurTime, e.CreateTime = e.OccurTime.UTC(), e.CreateTime.UTC()
	return &e, nil
}

// TimelineTable is what ListTimelineEntries can filter by. The order is always the timeline's:
// by occur time, then by the order of writing.
var TimelineTable = listing.NewTable("name", []listing.Field[*domain.TimelineEntry]{
	{Path: "name", Column: "seq", Type: filter.Int, Value: func(v any) (any, error) {
		var incident, id string
		if !domain.TimelineEntryPattern.Scan(v.(string), &incident, &id) {
			return nil, fmt.Errorf("name must be a name %s", domain.TimelineEntryPattern)
		}
		var seq int64
		if _, err := fmt.Sscan(id, &seq); err != nil {
			return nil, fmt.Errorf("name must be a name %s", domain.TimelineEntryPattern)
		}
		return seq, nil
	}, Get: func(e *domain.TimelineEntry) any { return e.Seq }},
	{Path: "kind", Column: "kind", Type: filter.Enum, Enum: listing.EnumNumbers(riskv1.TimelineEntry_KIND_UNSPECIFIED.Descriptor())},
	{Path: "author", Column: "author", Type: filter.String, Get: func(e *domain.TimelineEntry) any { return e.Author }},
	{Path: "occur_time", Column: "occur_time", Type: filter.Timestamp, Get: func(e *domain.TimelineEntry) any { return e.OccurTime }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(e *domain.TimelineEntry) any { return e.CreateTime }},
})

// TimelineOrder is the order of every timeline list.
const TimelineOrder = "occur_time, name"

// AppendTimeline adds entries to the end of their incidents' timelines, numbering each. The
// incident's row must be locked in the transaction (GetIncident in a Tx), which orders the
// numbers.
func (t Tx) AppendTimeline(ctx context.Context, entries ...*domain.TimelineEntry) error {
	for _, e := range entries {
		seq, err := sqlstore.Value[int64](ctx, t, "timeline of incident "+e.IncidentID,
			`SELECT COALESCE(MAX(seq), 0) + 1 FROM incident_timeline WHERE incident_id = $1`, e.IncidentID)
		if err != nil {
			return err
		}
		e.Seq = seq
		q := `INSERT INTO incident_timeline (` + timelineColumns + `) VALUES (` + sqlstore.Placeholders(1, 16) + `)`
		if err := sqlstore.Exec(ctx, t, nil, q, e.IncidentID, e.Seq, e.Kind, e.OccurTime, e.Text, e.Author, e.Reason,
			e.FromState, e.ToState, e.FromSeverity, e.ToSeverity, e.Role, e.FromPerson, e.ToPerson, e.NotificationClock,
			e.CreateTime); err != nil {
			return fmt.Errorf("append to the timeline of incident %s: %w", e.IncidentID, err)
		}
	}
	return nil
}

// GetTimelineEntry returns the seq-th entry of incident incidentID, or
// domain.ErrTimelineEntryNotFound.
func (r reader) GetTimelineEntry(ctx context.Context, incidentID string, seq int64) (*domain.TimelineEntry, error) {
	const q = `SELECT ` + timelineColumns + ` FROM incident_timeline WHERE incident_id = $1 AND seq = $2`
	return sqlstore.Get(ctx, r.Q, "timeline entry", domain.ErrTimelineEntryNotFound, scanTimelineEntry, q, incidentID, seq)
}

// ListTimeline returns the entries of incident incidentID that lq selects, in lq's order.
func (s Store) ListTimeline(ctx context.Context, incidentID string, lq *listing.Query) ([]*domain.TimelineEntry, error) {
	const q = `SELECT ` + timelineColumns + ` FROM incident_timeline`
	return sqlstore.List(ctx, s.Q, "timeline entries", scanTimelineEntry, q, lq, sqlstore.Parent{Column: "incident_id", Value: incidentID})
}
