package server

import (
	"context"
	"strconv"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// The timeline is append-only: the API has no update and no delete of an entry, and the store no
// statement that would change one. The service writes an entry with every change of an incident's
// state, severity and roles; CreateTimelineEntry adds notes.

// timelineToProto is e as the API shows it.
func timelineToProto(e *domain.TimelineEntry) *riskv1.TimelineEntry {
	return &riskv1.TimelineEntry{
		Name:              e.Name(),
		Kind:              riskv1.TimelineEntry_Kind(e.Kind),
		OccurTime:         timePB(e.OccurTime),
		Text:              e.Text,
		Author:            e.Author,
		Reason:            e.Reason,
		FromState:         riskv1.Incident_State(e.FromState),
		ToState:           riskv1.Incident_State(e.ToState),
		FromSeverity:      riskv1.Incident_Severity(e.FromSeverity),
		ToSeverity:        riskv1.Incident_Severity(e.ToSeverity),
		Role:              e.Role,
		FromPerson:        e.FromPerson,
		ToPerson:          e.ToPerson,
		NotificationClock: e.NotificationClock,
		CreateTime:        timePB(e.CreateTime),
	}
}

// CreateTimelineEntry implements riskv1.IncidentServiceServer: a note, on an incident in any
// state.
func (s *Incidents) CreateTimelineEntry(ctx context.Context, req *riskv1.CreateTimelineEntryRequest) (*riskv1.TimelineEntry, error) {
	id, _ := domain.IncidentPattern.Last(req.GetParent())
	in := req.GetTimelineEntry()
	if in.GetKind() != riskv1.TimelineEntry_KIND_UNSPECIFIED && in.GetKind() != riskv1.TimelineEntry_NOTE {
		return nil, fault.Field("timeline_entry.kind", "NOTE_ONLY", "only notes can be added to a timeline")
	}
	author, now := identity.Owner(ctx), s.now()
	return idempotency.InTx(ctx, s.store.Within, riskv1.IncidentService_CreateTimelineEntry_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*riskv1.TimelineEntry, error) {
			i, err := tx.GetIncident(ctx, id)
			if err != nil {
				return nil, err
			}
			e, err := domain.NewNote(i, in.GetText(), timeOf(in.GetOccurTime()), author, now)
			if err != nil {
				return nil, err
			}
			prev := i.Version
			i.Touch(now)
			if err := tx.UpdateIncident(ctx, i, prev, e); err != nil {
				return nil, err
			}
			pb := timelineToProto(e)
			if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: e.Name(), After: pb}); err != nil {
				return nil, err
			}
			// The event is the incident's, in the order of its other events.
			return pb, tx.Emit(ctx, i.Name(), &riskv1.IncidentNoteAdded{Incident: incidentToProto(i), TimelineEntry: pb, Version: i.Version})
		})
}

// GetTimelineEntry implements riskv1.IncidentServiceServer.
func (s *Incidents) GetTimelineEntry(ctx context.Context, req *riskv1.GetTimelineEntryRequest) (*riskv1.TimelineEntry, error) {
	var incident, id string
	domain.TimelineEntryPattern.ScanResource(req.GetName(), &incident, &id)
	seq, err := strconv.ParseInt(id, 10, 64)
	if err != nil || seq < 1 {
		return nil, domain.TimelineEntryPattern.Invalid("name")
	}
	e, err := s.store.GetTimelineEntry(ctx, incident, seq)
	if err != nil {
		return nil, fault.Named(err, req.GetName())
	}
	return timelineToProto(e), nil
}

// timelineRequest is a ListTimelineEntries request in the timeline's order, which is not the
// caller's to choose.
type timelineRequest struct {
	*riskv1.ListTimelineEntriesRequest
}

func (timelineRequest) GetOrderBy() string { return store.TimelineOrder }

// ListTimelineEntries implements riskv1.IncidentServiceServer. An incident that does not exist
// has no timeline: NOT_FOUND.
func (s *Incidents) ListTimelineEntries(ctx context.Context, req *riskv1.ListTimelineEntriesRequest) (*riskv1.ListTimelineEntriesResponse, error) {
	id, _ := domain.IncidentPattern.Last(req.GetParent())
	if _, err := s.store.GetIncident(ctx, id); err != nil {
		return nil, err
	}
	page, token, err := listing.List(ctx, timelineRequest{req}, store.TimelineTable,
		func(ctx context.Context, q *listing.Query) ([]*domain.TimelineEntry, error) {
			return s.store.ListTimeline(ctx, id, q)
		},
		listing.Infallible(timelineToProto))
	if err != nil {
		return nil, err
	}
	return &riskv1.ListTimelineEntriesResponse{TimelineEntries: page, NextPageToken: token}, nil
}
