package server

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/store"
)

// The vendors service reads the risk service's incident events (IncidentsConsumer) to fill the
// incident and SLA figures of the vendors' scorecards. Every incident event carries the whole
// incident; the service keeps each incident attributed to a vendor (domain.Incident), replacing
// it only by a later version, and once it is resolved compares it with the service levels of the
// vendor's contracts (domain.ResolutionBreaches, domain.AvailabilityBreaches). A breach has an
// ID derived from what it broke, so it is stored and published (vendor.sla_breached) once,
// however often the events are read: a replay of the stream, past the consumer's inbox, changes
// nothing.

// IncidentsConsumer is the consumer of the risk service's incident events; its handler is
// ApplyIncidentEvent. It ignores (consumer.Spec.Ignore) the incident events that cannot change
// what the service keeps of an incident (its vendor and contract, type, severity and times):
// IncidentsIgnored.
var IncidentsConsumer = struct {
	Name, Domain, Subject string
	Ignore                []string
}{Name: "risk-incidents", Domain: "risk", Subject: "incident.>", Ignore: typeNames(IncidentsIgnored)}

// IncidentsIgnored are the incident events the service ignores, with why each changes nothing it
// keeps. During a breach the scheduler fires many notification clocks at once: reading none of
// their events keeps this consumer out of the way. An incident event type missing from here and
// from IncidentsApplied fails the tests.
var IncidentsIgnored = map[proto.Message]string{
	&riskv1.IncidentNoteAdded{}:            "a timeline note",
	&riskv1.IncidentNotificationDueSoon{}:  "a notification clock's reminder",
	&riskv1.IncidentNotificationOverdue{}:  "a notification clock past due",
	&riskv1.IncidentNotificationRecorded{}: "a notification made; its clock stops",
	&riskv1.IncidentBreachImpactUpdated{}:  "the breach impact (data, people, notification clocks)",
	&riskv1.IncidentCostChanged{}:          "the cost and budget line; it follows the declaration or update that changed them, which is applied",
}

// IncidentsApplied are the incident events the service applies: those that may change the
// incident's vendor and contract, type, severity or times.
var IncidentsApplied = []proto.Message{
	&riskv1.IncidentDeclared{}, &riskv1.IncidentUpdated{}, &riskv1.IncidentSeverityChanged{},
	&riskv1.IncidentAcknowledged{}, &riskv1.IncidentMitigated{}, &riskv1.IncidentResolved{}, &riskv1.IncidentClosed{},
}

// typeNames are the event types (ce-type) of the messages in m, sorted.
func typeNames(m map[proto.Message]string) []string {
	names := consumer.Types(slices.Collect(maps.Keys(m))...)
	slices.Sort(names)
	return names
}

// ApplyIncidentEvent applies ev, an event of the risk service about an incident, within tx, the
// consumer's transaction. An event without an incident, or whose incident cannot be read, fails
// permanently, to become a dead letter an operator can replay.
func (s *Server) ApplyIncidentEvent(ctx context.Context, tx store.Tx, ev consumer.Event) error {
	m, ok := ev.Message.(interface {
		GetIncident() *riskv1.Incident
		GetVersion() int64
	})
	if !ok || m.GetIncident() == nil {
		return consumer.Permanent(fmt.Errorf("%s %s: the event carries no incident", ev.Type, ev.Resource))
	}
	inc, err := incidentOf(m.GetIncident(), m.GetVersion())
	if err == nil && inc != nil {
		err = s.applyIncident(ctx, tx, inc)
	}
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s %s: %w", ev.Type, ev.Resource, err)
	if f := fault.As(err); f != nil && f.Kind == fault.InvalidArgument {
		return consumer.Permanent(err)
	}
	return err
}

// incidentOf is the incident of an event as the service keeps it; nil for an incident not
// attributed to a vendor.
func incidentOf(pb *riskv1.Incident, version int64) (*domain.Incident, error) {
	if pb.GetVendor() == "" {
		return nil, nil
	}
	vendorID, ok := domain.VendorPattern.Last(pb.GetVendor())
	if !ok {
		return nil, fault.Field("incident.vendor", "INVALID_NAME", fmt.Sprintf("%q is not a vendor name", pb.GetVendor()))
	}
	inc := &domain.Incident{
		Name: pb.GetName(), VendorID: vendorID, Severity: int32(pb.GetSeverity()),
		Outage:  pb.GetType() == riskv1.Incident_OUTAGE || pb.GetType() == riskv1.Incident_VENDOR_FAILURE,
		Declare: timeOf(pb.GetDeclareTime()), Mitigate: timeOf(pb.GetMitigateTime()), Resolve: timeOf(pb.GetResolveTime()),
		Start: timeOf(pb.GetDetectTime()), Version: version,
	}
	if c := pb.GetVendorContract(); c != "" {
		var v string
		if !domain.ContractPattern.Scan(c, &v, &inc.ContractID) || v != vendorID {
			return nil, fault.Field("incident.vendor_contract", "INVALID_NAME", fmt.Sprintf("%q is not a contract of %s", c, pb.GetVendor()))
		}
	}
	if inc.Start.IsZero() {
		inc.Start = inc.Declare
	}
	switch {
	case inc.Name == "":
		return nil, fault.Field("incident.name", "REQUIRED", "the incident has no name")
	case inc.Declare.IsZero():
		return nil, fault.Field("incident.declare_time", "REQUIRED", "the incident has no declaration time")
	case inc.Severity < 1 || inc.Severity > 4:
		return nil, fault.Field("incident.severity", "OUT_OF_RANGE", "the incident's severity is not SEV1 to SEV4")
	}
	return inc, nil
}

func timeOf(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime().UTC()
}

// applyIncident keeps inc unless a later version is kept, and when it is resolved stores and
// publishes the breaches it finds that were not found before.
func (s *Server) applyIncident(ctx context.Context, tx store.Tx, inc *domain.Incident) error {
	now := s.now()
	moved, err := tx.PutIncident(ctx, inc, now)
	if err != nil || !moved || !inc.Resolved() {
		return err
	}
	contracts, err := tx.VendorContracts(ctx, inc.VendorID)
	if err != nil {
		return err
	}
	breaches := domain.ResolutionBreaches(inc, contracts)
	availability, err := domain.AvailabilityBreaches(inc, contracts, func(p domain.Period) ([]*domain.Incident, error) {
		return tx.Outages(ctx, inc.VendorID, p.From, p.To)
	})
	if err != nil {
		return err
	}
	for _, b := range append(breaches, availability...) {
		added, err := tx.AddSLABreach(ctx, b, now)
		if err != nil {
			return err
		}
		if !added {
			continue
		}
		if err := tx.Emit(ctx, b.Name(), &vendorsv1.VendorSlaBreached{
			SlaBreach: slaBreachToProto(b), Vendor: domain.VendorPattern.Format(b.VendorID),
			Scorecard: domain.ScorecardName(b.VendorID, b.Quarter()), Version: 1,
		}); err != nil {
			return err
		}
	}
	return nil
}
