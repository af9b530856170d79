package server

import (
	"context"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// Incidents implements riskv1.IncidentServiceServer on the same store, clock and settings as the
// risk register's Server. Each resource's methods live in a file of their own (incidents.go,
// timeline.go, breach_impact.go, postmortems.go); a method not written yet is answered by the
// embedded UnimplementedIncidentServiceServer with UNIMPLEMENTED.
type Incidents struct {
	riskv1.UnimplementedIncidentServiceServer
	*Server
}

// Incidents returns the incident API of the server.
func (s *Server) Incidents() *Incidents { return &Incidents{Server: s} }

// incidentMask follows the field behaviors of the Incident message, with the roles writable one
// by one (roles.commander) as well as whole.
var incidentMask = func() fieldmask.Spec {
	spec := fieldmask.FromDescriptor((&riskv1.Incident{}).ProtoReflect().Descriptor(), "name", "etag")
	// Severity changes only through :changeSeverity, with a reason.
	spec.Writable = slices.DeleteFunc(spec.Writable, func(p string) bool { return p == "severity" })
	spec.OutputOnly = append(spec.OutputOnly, "severity")
	spec.Writable = append(spec.Writable, domain.IncidentFieldCommander, domain.IncidentFieldCommunicationsLead,
		domain.IncidentFieldScribe, domain.IncidentFieldResponders)
	return spec
}()

// incidentToProto is i as the API shows it.
func incidentToProto(i *domain.Incident) *riskv1.Incident {
	pb := &riskv1.Incident{
		Name:     i.Name(),
		Title:    i.Title,
		Summary:  i.Summary,
		Type:     riskv1.Incident_Type(i.Type),
		Severity: riskv1.Incident_Severity(i.Severity),
		State:    riskv1.Incident_State(i.State),
		Roles: &riskv1.IncidentRoles{Commander: i.Roles.Commander, CommunicationsLead: i.Roles.CommunicationsLead,
			Scribe: i.Roles.Scribe, Responders: i.Roles.Responders},
		AffectedServices: i.AffectedServices,
		Vendor:           i.Vendor,
		VendorContract:   i.VendorContract,
		LinkedRisks:      i.LinkedRisks,
		BudgetLine:       i.BudgetLine,
		DetectTime:       timePB(i.DetectTime),
		DeclareTime:      timePB(i.DeclareTime),
		AcknowledgeTime:  timePB(i.AcknowledgeTime),
		MitigateTime:     timePB(i.MitigateTime),
		ResolveTime:      timePB(i.ResolveTime),
		CloseTime:        timePB(i.CloseTime),
		Declarer:         i.Declarer,
		CreateTime:       timePB(i.CreateTime),
		UpdateTime:       timePB(i.UpdateTime),
		Etag:             etag.Of(i.Name(), i.Version),
	}
	if i.HasCost() {
		pb.Cost = money.ToProto(i.Cost)
	}
	return pb
}

// incidentFields takes the writable fields of a request's incident.
func incidentFields(pb *riskv1.Incident) (domain.IncidentFields, error) {
	f := domain.IncidentFields{
		Title:            pb.GetTitle(),
		Summary:          pb.GetSummary(),
		Type:             domain.IncidentType(pb.GetType()),
		Severity:         domain.Severity(pb.GetSeverity()),
		AffectedServices: pb.GetAffectedServices(),
		Vendor:           pb.GetVendor(),
		VendorContract:   pb.GetVendorContract(),
		LinkedRisks:      pb.GetLinkedRisks(),
		BudgetLine:       pb.GetBudgetLine(),
	}
	if r := pb.GetRoles(); r != nil {
		f.Roles = domain.Roles{Commander: r.GetCommander(), CommunicationsLead: r.GetCommunicationsLead(),
			Scribe: r.GetScribe(), Responders: r.GetResponders()}
	}
	if pb.GetDetectTime() != nil {
		f.DetectTime = pb.GetDetectTime().AsTime()
	}
	if pb.GetCost() != nil {
		var err error
		if f.Cost, err = money.FromProtoField(pb.GetCost(), "", "incident.cost"); err != nil {
			return domain.IncidentFields{}, err
		}
	}
	return f, nil
}

// timeOf is a request's time; the zero time when unset.
func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

// incidentEvent builds an event about an incident from the incident as it is after the change
// and the version the event carries.
type incidentEvent func(pb *riskv1.Incident, version int64) sqlstore.Event

// saveIncident writes i, changed from version prev (before), with the timeline entries of the
// change, and records the change with its events: the first as the audit record's, each with a
// version of its own.
func saveIncident(ctx context.Context, tx store.Tx, req proto.Message, i *domain.Incident, prev int64,
	before *riskv1.Incident, entries []*domain.TimelineEntry, events ...incidentEvent) (*riskv1.Incident, error) {
	first := i.Version
	i.Version += int64(max(len(events)-1, 0))
	if err := tx.UpdateIncident(ctx, i, prev, entries...); err != nil {
		return nil, err
	}
	after := incidentToProto(i)
	return after, recordIncident(ctx, tx, req, audit.Update, i, before, after, first, events)
}

// recordIncident records the change of i (before → after) with its events, numbered from first.
func recordIncident(ctx context.Context, tx store.Tx, req proto.Message, action string, i *domain.Incident,
	before, after *riskv1.Incident, first int64, events []incidentEvent) error {
	var head sqlstore.Event
	var rest []sqlstore.Event
	for n, ev := range events {
		e := ev(after, first+int64(n))
		if n == 0 {
			head = e
		} else {
			rest = append(rest, e)
		}
	}
	if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: action, Resource: i.Name(), Before: before, After: after, Event: head}); err != nil {
		return err
	}
	if len(rest) > 0 {
		return tx.Emit(ctx, i.Name(), rest...)
	}
	return nil
}

// costChanged is the event of a cost or budget line that changed from prevCost and prevLine.
func costChanged(prevCost money.Amount, prevLine string) incidentEvent {
	return func(pb *riskv1.Incident, v int64) sqlstore.Event {
		ev := &riskv1.IncidentCostChanged{Incident: pb, PreviousBudgetLine: prevLine, Version: v}
		if prevCost.Currency != "" {
			ev.PreviousCost = money.ToProto(prevCost)
		}
		return ev
	}
}

// CreateIncident implements riskv1.IncidentServiceServer.
func (s *Incidents) CreateIncident(ctx context.Context, req *riskv1.CreateIncidentRequest) (*riskv1.Incident, error) {
	f, err := incidentFields(req.GetIncident())
	if err != nil {
		return nil, err
	}
	// The people the roles name are asked about first, outside the transaction (roles.go).
	people, err := domain.RolePeople([]string{domain.IncidentFieldRoles}, f.Roles, domain.Roles{})
	if err != nil {
		return nil, fault.Prefix("incident", err)
	}
	if err := s.checkRolePeople(ctx, "incident.", people); err != nil {
		return nil, err
	}
	step := domain.Step{Author: identity.Owner(ctx), Time: timeOf(req.GetDeclareTime()), Reason: req.GetReason()}
	i, entries, err := domain.NewIncident(s.id(req.GetIncidentId()), f, step, s.now())
	if err != nil {
		return nil, err
	}
	events := []incidentEvent{func(pb *riskv1.Incident, v int64) sqlstore.Event {
		return &riskv1.IncidentDeclared{Incident: pb, Reason: strings.TrimSpace(req.GetReason()), Version: v}
	}}
	if i.HasCost() || i.BudgetLine != "" {
		events = append(events, costChanged(money.Amount{}, ""))
	}
	// Each event carries a version of its own; the incident is stored at the last.
	first := i.Version
	i.Version += int64(len(events) - 1)
	return idempotency.InTx(ctx, s.store.Within, riskv1.IncidentService_CreateIncident_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*riskv1.Incident, error) {
			if err := tx.InsertIncident(ctx, i, entries...); err != nil {
				return nil, err
			}
			if err := s.afterDeclare(ctx, tx, i); err != nil {
				return nil, err
			}
			pb := incidentToProto(i)
			return pb, recordIncident(ctx, tx, req, audit.Create, i, nil, pb, first, events)
		})
}

// GetIncident implements riskv1.IncidentServiceServer.
func (s *Incidents) GetIncident(ctx context.Context, req *riskv1.GetIncidentRequest) (*riskv1.Incident, error) {
	return names.GetAs(ctx, domain.IncidentPattern, req.GetName(), s.store.GetIncident, incidentToProto)
}

// ListIncidents implements riskv1.IncidentServiceServer.
func (s *Incidents) ListIncidents(ctx context.Context, req *riskv1.ListIncidentsRequest) (*riskv1.ListIncidentsResponse, error) {
	page, token, err := listing.List(ctx, req, store.IncidentTable, s.store.ListIncidents, listing.Infallible(incidentToProto))
	if err != nil {
		return nil, err
	}
	return &riskv1.ListIncidentsResponse{Incidents: page, NextPageToken: token}, nil
}

// UpdateIncident implements riskv1.IncidentServiceServer.
func (s *Incidents) UpdateIncident(ctx context.Context, req *riskv1.UpdateIncidentRequest) (*riskv1.Incident, error) {
	in := req.GetIncident()
	if !domain.IncidentPattern.Match(in.GetName()) {
		return nil, domain.IncidentPattern.Invalid("incident.name")
	}
	paths, err := incidentMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	f, err := incidentFields(in)
	if err != nil {
		return nil, err
	}
	// The people the changed roles newly name are asked about first, outside the transaction
	// (roles.go); those the incident holds already were asked about when they were set.
	if slices.ContainsFunc(paths, func(p string) bool { return strings.HasPrefix(p, domain.IncidentFieldRoles) }) {
		var held domain.Roles
		if cur, err := names.Get(ctx, domain.IncidentPattern, in.GetName(), s.store.GetIncident); err == nil {
			held = cur.Roles
		}
		people, err := domain.RolePeople(paths, f.Roles, held)
		if err != nil {
			return nil, fault.Prefix("incident", err)
		}
		if err := s.checkRolePeople(ctx, "incident.", people); err != nil {
			return nil, err
		}
	}
	step := domain.Step{Author: identity.Owner(ctx), Reason: req.GetReason()}
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*riskv1.Incident, error) {
		i, err := names.Get(ctx, domain.IncidentPattern, in.GetName(), tx.GetIncident)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), i.Name(), i.Version); err != nil {
			return nil, err
		}
		prev, before, prevCost, prevLine, prevType := i.Version, incidentToProto(i), i.Cost, i.BudgetLine, i.Type
		changed, entries, err := i.Apply(paths, f, step, s.now())
		if err != nil || len(changed) == 0 {
			return before, err
		}
		if slices.Contains(changed, domain.IncidentFieldType) {
			if err := s.typeChanged(ctx, tx, i, prevType); err != nil {
				return nil, err
			}
		}
		events := []incidentEvent{func(pb *riskv1.Incident, v int64) sqlstore.Event {
			return &riskv1.IncidentUpdated{Incident: pb, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: v}
		}}
		if slices.Contains(changed, domain.IncidentFieldCost) || slices.Contains(changed, domain.IncidentFieldBudgetLine) {
			events = append(events, costChanged(prevCost, prevLine))
		}
		return saveIncident(ctx, tx, req, i, prev, before, entries, events...)
	})
}

// incidentStepRequest is a lifecycle request of an incident: its name, etag, request ID and
// reason.
type incidentStepRequest interface {
	idempotency.Request
	GetName() string
	GetEtag() string
	GetReason() string
}

// stepIncident runs the lifecycle method method on the incident req names: change moves it (and
// returns the timeline entry of the move), and event tells of it.
func (s *Incidents) stepIncident(ctx context.Context, method string, req incidentStepRequest,
	change func(ctx context.Context, tx store.Tx, i *domain.Incident, step domain.Step) (*domain.TimelineEntry, error),
	at *timestamppb.Timestamp, event incidentEvent) (*riskv1.Incident, error) {
	id, _ := domain.IncidentPattern.Last(req.GetName())
	step := domain.Step{Author: identity.Owner(ctx), Time: timeOf(at), Reason: req.GetReason()}
	return idempotency.InTx(ctx, s.store.Within, method, req, func(ctx context.Context, tx store.Tx) (*riskv1.Incident, error) {
		i, err := tx.GetIncident(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(req.GetEtag(), i.Name(), i.Version); err != nil {
			return nil, err
		}
		prev, before := i.Version, incidentToProto(i)
		e, err := change(ctx, tx, i, step)
		if err != nil {
			return nil, err
		}
		return saveIncident(ctx, tx, req, i, prev, before, []*domain.TimelineEntry{e}, event)
	})
}

// reasonOf is the reason of a request, trimmed.
func reasonOf(req interface{ GetReason() string }) string { return strings.TrimSpace(req.GetReason()) }

// AcknowledgeIncident implements riskv1.IncidentServiceServer.
func (s *Incidents) AcknowledgeIncident(ctx context.Context, req *riskv1.AcknowledgeIncidentRequest) (*riskv1.Incident, error) {
	now := s.now()
	return s.stepIncident(ctx, riskv1.IncidentService_AcknowledgeIncident_FullMethodName, req,
		func(_ context.Context, _ store.Tx, i *domain.Incident, step domain.Step) (*domain.TimelineEntry, error) {
			return i.Acknowledge(step, now)
		}, req.GetAcknowledgeTime(), func(pb *riskv1.Incident, v int64) sqlstore.Event {
			return &riskv1.IncidentAcknowledged{Incident: pb, Reason: reasonOf(req), Version: v}
		})
}

// MitigateIncident implements riskv1.IncidentServiceServer.
func (s *Incidents) MitigateIncident(ctx context.Context, req *riskv1.MitigateIncidentRequest) (*riskv1.Incident, error) {
	now := s.now()
	return s.stepIncident(ctx, riskv1.IncidentService_MitigateIncident_FullMethodName, req,
		func(_ context.Context, _ store.Tx, i *domain.Incident, step domain.Step) (*domain.TimelineEntry, error) {
			return i.Mitigate(step, now)
		}, req.GetMitigateTime(), func(pb *riskv1.Incident, v int64) sqlstore.Event {
			return &riskv1.IncidentMitigated{Incident: pb, Reason: reasonOf(req), Version: v}
		})
}

// ResolveIncident implements riskv1.IncidentServiceServer. The incident's linked risks are
// re-scored in the same transaction (RescoreLinkedRisks), and an OUTAGE is recorded as an
// UNPLANNED exercise of each continuity plan covering a service it affected (recordOutage).
func (s *Incidents) ResolveIncident(ctx context.Context, req *riskv1.ResolveIncidentRequest) (*riskv1.Incident, error) {
	now := s.now()
	return s.stepIncident(ctx, riskv1.IncidentService_ResolveIncident_FullMethodName, req,
		func(ctx context.Context, tx store.Tx, i *domain.Incident, step domain.Step) (*domain.TimelineEntry, error) {
			e, err := i.Resolve(step, now)
			if err != nil {
				return nil, err
			}
			// The linked risks are re-scored in the resolution's transaction (incident_risks.go).
			if _, err = s.RescoreLinkedRisks(ctx, tx, IncidentRescore{Incident: i.Name(), Title: i.Title,
				Declared: i.DeclareTime, Risks: i.LinkedRisks}); err != nil {
				return nil, err
			}
			// An OUTAGE is an unplanned exercise of the continuity plans of the services it
			// affected, in the same transaction (continuity.go).
			return e, s.recordOutage(ctx, tx, req, i, step.Author)
		}, req.GetResolveTime(), func(pb *riskv1.Incident, v int64) sqlstore.Event {
			return &riskv1.IncidentResolved{Incident: pb, Reason: reasonOf(req), Version: v}
		})
}

// CloseIncident implements riskv1.IncidentServiceServer. A SEV1 or SEV2 incident needs its
// postmortem PUBLISHED, read in the transaction.
func (s *Incidents) CloseIncident(ctx context.Context, req *riskv1.CloseIncidentRequest) (*riskv1.Incident, error) {
	now := s.now()
	return s.stepIncident(ctx, riskv1.IncidentService_CloseIncident_FullMethodName, req,
		func(ctx context.Context, tx store.Tx, i *domain.Incident, step domain.Step) (*domain.TimelineEntry, error) {
			published, err := s.postmortemPublished(ctx, tx, i)
			if err != nil {
				return nil, err
			}
			return i.Close(published, step, now)
		}, req.GetCloseTime(), func(pb *riskv1.Incident, v int64) sqlstore.Event {
			return &riskv1.IncidentClosed{Incident: pb, Reason: reasonOf(req), Version: v}
		})
}

// ChangeIncidentSeverity implements riskv1.IncidentServiceServer.
func (s *Incidents) ChangeIncidentSeverity(ctx context.Context, req *riskv1.ChangeIncidentSeverityRequest) (*riskv1.Incident, error) {
	now := s.now()
	var from domain.Severity
	return s.stepIncident(ctx, riskv1.IncidentService_ChangeIncidentSeverity_FullMethodName, req,
		func(_ context.Context, _ store.Tx, i *domain.Incident, step domain.Step) (*domain.TimelineEntry, error) {
			from = i.Severity
			return i.ChangeSeverity(domain.Severity(req.GetSeverity()), step, now)
		}, nil, func(pb *riskv1.Incident, v int64) sqlstore.Event {
			return &riskv1.IncidentSeverityChanged{Incident: pb, PreviousSeverity: riskv1.Incident_Severity(from), Reason: reasonOf(req), Version: v}
		})
}
