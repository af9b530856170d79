package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// A breach impact's notification clocks start at its awareness time. The store declares each
// clock's due-soon and overdue dates with every write of the breach impact
// (store.SaveBreachImpact), in the write's transaction; recording the notification clears them.

// breachSchedules are the due items of breach impacts: a clock due soon, a clock overdue.
func (s *Incidents) breachSchedules() map[string]scheduler.Handler {
	return map[string]scheduler.Handler{
		store.NotificationDueSoonKind: s.NotificationDueSoon,
		store.NotificationOverdueKind: s.NotificationOverdue,
	}
}

// breachMask follows the field behaviors of the BreachImpact message.
var breachMask = fieldmask.FromDescriptor((&riskv1.BreachImpact{}).ProtoReflect().Descriptor(), "name", "etag")

// clockToProto is c, started at start, as the API shows it at now.
func clockToProto(c *domain.NotificationClock, start, now time.Time) *riskv1.NotificationClock {
	return &riskv1.NotificationClock{
		Id:                    c.ID,
		Regime:                riskv1.NotificationClock_Regime(c.Regime),
		Recipient:             c.Recipient,
		Deadline:              durationpb.New(c.Deadline),
		WarnBefore:            durationpb.New(c.WarnBefore),
		StartTime:             timePB(start),
		DueTime:               timePB(c.DueTime(start)),
		State:                 riskv1.NotificationClock_State(c.State(start, now)),
		NotifyTime:            timePB(c.NotifyTime),
		NotificationReference: c.Reference,
		Late:                  c.Late(start),
	}
}

// breachToProto is b as the API shows it at now, the time that decides where its clocks stand.
func breachToProto(b *domain.BreachImpact, now time.Time) *riskv1.BreachImpact {
	pb := &riskv1.BreachImpact{
		Name:                          b.Name(),
		Description:                   b.Description,
		AffectedSubjects:              b.AffectedSubjects,
		AffectedRecords:               b.AffectedRecords,
		Jurisdictions:                 b.Jurisdictions,
		RegulatorNotificationRequired: b.RegulatorRequired,
		SubjectNotificationRequired:   b.SubjectRequired,
		AwarenessTime:                 timePB(b.AwarenessTime),
		UpdateTime:                    timePB(b.UpdateTime),
		Etag:                          etag.Of(b.Name(), b.Version),
	}
	for _, c := range b.DataCategories {
		pb.DataCategories = append(pb.DataCategories, riskv1.BreachImpact_DataCategory(c))
	}
	for n := range b.Clocks {
		pb.NotificationClocks = append(pb.NotificationClocks, clockToProto(&b.Clocks[n], b.AwarenessTime, now))
	}
	return pb
}

// breachFields takes the writable fields of a request's breach impact.
func breachFields(pb *riskv1.BreachImpact) domain.BreachFields {
	f := domain.BreachFields{Description: pb.GetDescription(), AffectedSubjects: pb.GetAffectedSubjects(),
		AffectedRecords: pb.GetAffectedRecords(), Jurisdictions: pb.GetJurisdictions(),
		RegulatorRequired: pb.GetRegulatorNotificationRequired(), SubjectRequired: pb.GetSubjectNotificationRequired(),
		AwarenessTime: timeOf(pb.GetAwarenessTime())}
	for _, c := range pb.GetDataCategories() {
		f.DataCategories = append(f.DataCategories, int32(c))
	}
	for _, c := range pb.GetNotificationClocks() {
		f.Clocks = append(f.Clocks, domain.NotificationClock{ID: c.GetId(), Regime: domain.ClockRegime(c.GetRegime()),
			Recipient: c.GetRecipient(), Deadline: c.GetDeadline().AsDuration(), WarnBefore: c.GetWarnBefore().AsDuration()})
	}
	return f
}

// afterDeclare makes what a new incident starts with beside its timeline: for a breach type, its
// breach impact. (Its postmortem is an empty DRAFT until first written.)
func (s *Incidents) afterDeclare(ctx context.Context, tx store.Tx, i *domain.Incident) error {
	if !i.Type.Breach() {
		return nil
	}
	return tx.SaveBreachImpact(ctx, domain.NewBreachImpact(i), 0)
}

// typeChanged follows a change of an incident's type from prev: a breach type brings a breach
// impact (the one it had before, when it had one), and an incident whose breach impact has clocks
// keeps a breach type.
func (s *Incidents) typeChanged(ctx context.Context, tx store.Tx, i *domain.Incident, prev domain.IncidentType) error {
	b, err := tx.GetBreachImpact(ctx, i.ID)
	switch {
	case errors.Is(err, domain.ErrBreachImpactNotFound):
		if i.Type.Breach() {
			return tx.SaveBreachImpact(ctx, domain.NewBreachImpact(i), 0)
		}
		return nil
	case err != nil:
		return err
	case prev.Breach() && !i.Type.Breach() && len(b.Clocks) > 0:
		return domain.ErrBreachImpactHasClocks.With("name", i.Name()).OnField("incident.type", "")
	}
	return nil
}

// breachOf reads the breach impact of incident id through get, or domain.ErrBreachImpactNotFound
// when the incident is not of a breach type.
func breachOf(ctx context.Context, r interface {
	GetIncident(context.Context, string) (*domain.Incident, error)
	GetBreachImpact(context.Context, string) (*domain.BreachImpact, error)
}, id string) (*domain.Incident, *domain.BreachImpact, error) {
	i, err := r.GetIncident(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if !i.Type.Breach() {
		return nil, nil, domain.ErrBreachImpactNotFound.With("name", domain.BreachImpactName(id)).With("type", fmt.Sprint(riskv1.Incident_Type(i.Type)))
	}
	b, err := r.GetBreachImpact(ctx, id)
	return i, b, err
}

// GetBreachImpact implements riskv1.IncidentServiceServer.
func (s *Incidents) GetBreachImpact(ctx context.Context, req *riskv1.GetBreachImpactRequest) (*riskv1.BreachImpact, error) {
	var id string
	domain.BreachImpactPattern.Scan(req.GetName(), &id)
	_, b, err := breachOf(ctx, s.store, id)
	if err != nil {
		return nil, err
	}
	return breachToProto(b, s.now()), nil
}

// UpdateBreachImpact implements riskv1.IncidentServiceServer.
func (s *Incidents) UpdateBreachImpact(ctx context.Context, req *riskv1.UpdateBreachImpactRequest) (*riskv1.BreachImpact, error) {
	in := req.GetBreachImpact()
	var id string
	if !domain.BreachImpactPattern.Scan(in.GetName(), &id) {
		return nil, domain.BreachImpactPattern.Invalid("breach_impact.name")
	}
	paths, err := breachMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	f := breachFields(in)
	now := s.now()
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*riskv1.BreachImpact, error) {
		i, b, err := breachOf(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), b.Name(), b.Version); err != nil {
			return nil, err
		}
		prev, before := b.Version, breachToProto(b, now)
		changed, err := b.Apply(i, paths, f, now)
		if err != nil || len(changed) == 0 {
			return before, err
		}
		if err := tx.SaveBreachImpact(ctx, b, prev); err != nil {
			return nil, err
		}
		prevIncident := i.Version
		i.Touch(now)
		if err := tx.UpdateIncident(ctx, i, prevIncident); err != nil {
			return nil, err
		}
		after := breachToProto(b, now)
		if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: b.Name(), Before: before, After: after}); err != nil {
			return nil, err
		}
		return after, tx.Emit(ctx, i.Name(), &riskv1.IncidentBreachImpactUpdated{Incident: incidentToProto(i), BreachImpact: after,
			ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: i.Version})
	})
}

// RecordBreachNotification implements riskv1.IncidentServiceServer.
func (s *Incidents) RecordBreachNotification(ctx context.Context, req *riskv1.RecordBreachNotificationRequest) (*riskv1.BreachImpact, error) {
	var id string
	domain.BreachImpactPattern.Scan(req.GetName(), &id)
	author, now := identity.Owner(ctx), s.now()
	return idempotency.InTx(ctx, s.store.Within, riskv1.IncidentService_RecordBreachNotification_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*riskv1.BreachImpact, error) {
			i, b, err := breachOf(ctx, tx, id)
			if err != nil {
				return nil, err
			}
			if err := etag.Check(req.GetEtag(), b.Name(), b.Version); err != nil {
				return nil, err
			}
			prev, before := b.Version, breachToProto(b, now)
			e, err := b.RecordNotification(req.GetClock(), timeOf(req.GetNotifyTime()), req.GetReference(), author, now)
			if err != nil {
				return nil, err
			}
			if err := tx.SaveBreachImpact(ctx, b, prev); err != nil {
				return nil, err
			}
			prevIncident := i.Version
			i.Touch(now)
			if err := tx.UpdateIncident(ctx, i, prevIncident, e); err != nil {
				return nil, err
			}
			after := breachToProto(b, now)
			if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: b.Name(), Before: before, After: after}); err != nil {
				return nil, err
			}
			c := after.GetNotificationClocks()[slices.IndexFunc(b.Clocks, func(c domain.NotificationClock) bool { return c.ID == req.GetClock() })]
			return after, tx.Emit(ctx, i.Name(), &riskv1.IncidentNotificationRecorded{Incident: incidentToProto(i), Clock: c, Version: i.Version})
		})
}

// NotificationDueSoon is the scheduler.Handler of store.NotificationDueSoonKind: it publishes
// incident.notification_due_soon about a clock not yet notified when its warning time arrives.
// An item of a clock that is gone, notified or moved does nothing; nor does one that fires only
// once the clock is overdue (the overdue event says more).
func (s *Incidents) NotificationDueSoon(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	return s.fireClock(ctx, t, item, func(c *domain.NotificationClock, start time.Time) (time.Time, bool) {
		return c.WarnTime(start), item.FiredAt.Before(c.DueTime(start))
	}, func(i *riskv1.Incident, c *riskv1.NotificationClock, v int64) sqlstore.Event {
		return &riskv1.IncidentNotificationDueSoon{Incident: i, Clock: c, DueTime: timestamppb.New(item.Due.UTC()),
			FireTime: timestamppb.New(item.FiredAt.UTC().Truncate(time.Microsecond)), Version: v}
	})
}

// NotificationOverdue is the scheduler.Handler of store.NotificationOverdueKind: it publishes
// incident.notification_overdue about a clock not yet notified when its due time passes.
func (s *Incidents) NotificationOverdue(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	return s.fireClock(ctx, t, item, func(c *domain.NotificationClock, start time.Time) (time.Time, bool) {
		return c.DueTime(start), true
	}, func(i *riskv1.Incident, c *riskv1.NotificationClock, v int64) sqlstore.Event {
		return &riskv1.IncidentNotificationOverdue{Incident: i, Clock: c, DueTime: timestamppb.New(item.Due.UTC()),
			FireTime: timestamppb.New(item.FiredAt.UTC().Truncate(time.Microsecond)), Version: v}
	})
}

// clockTarget is the incident and breach impact the clock items of one transaction fire about,
// kept in the transaction's scheduler.TxCache under its clockTargetKey: the clocks of a breach
// impact fall due together (the harness's 20, a regime's several), and the worker fires them in
// one transaction, which reads the two rows once. A nil incident is one that is gone or no longer
// a breach.
type clockTarget struct {
	i *domain.Incident
	b *domain.BreachImpact
	// stored is the incident's version in the database: the clocks move i's version on, and
	// the transaction stores it once they have fired (scheduler.Defer).
	stored int64
}

type clockTargetKey struct{ id string }

// fireClock publishes the event of a clock's due item when the clock is still running and its
// date (when) is still the item's: the incident's version moves on, so that the event is ordered
// after every earlier one about the incident.
func (s *Incidents) fireClock(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired,
	when func(c *domain.NotificationClock, start time.Time) (time.Time, bool),
	event func(i *riskv1.Incident, c *riskv1.NotificationClock, v int64) sqlstore.Event) error {
	var id string
	if !domain.BreachImpactPattern.Scan(item.Resource, &id) {
		return scheduler.Permanent(fmt.Errorf("clock item %q: not a breach impact name", item.Resource))
	}
	tx := store.Join(t)
	cache := scheduler.TxCache(ctx)
	target, ok := cache[clockTargetKey{id}].(*clockTarget)
	if !ok {
		// Read, and locked until the transaction ends: the cached rows stay what the
		// transaction holds as long as it writes them through target.
		i, b, err := breachOf(ctx, tx, id)
		switch {
		case errors.Is(err, domain.ErrBreachImpactNotFound) || errors.Is(err, domain.ErrIncidentNotFound):
			target = &clockTarget{}
		case err != nil:
			return err
		default:
			target = &clockTarget{i: i, b: b, stored: i.Version}
		}
		cache[clockTargetKey{id}] = target
	}
	i, b := target.i, target.b
	if i == nil {
		return nil
	}
	c := b.Clock(string(item.Payload))
	if c == nil || c.Notified() {
		return nil
	}
	if due, fire := when(c, b.AwarenessTime); !fire || !due.Equal(item.Due) {
		return nil
	}
	// Only the version changes: the incident's other columns and its links stay as they are.
	// The clocks of the transaction store it once, after the last of them.
	i.Touch(i.UpdateTime)
	if err := scheduler.Defer(ctx, clockTargetKey{id}, func(ctx context.Context) error {
		if target.stored == i.Version {
			return nil
		}
		if err := tx.UpdateIncidentVersion(ctx, i, target.stored); err != nil {
			return err
		}
		target.stored = i.Version
		return nil
	}); err != nil {
		return err
	}
	return tx.Emit(ctx, i.Name(), event(incidentToProto(i), clockToProto(c, b.AwarenessTime, item.FiredAt), i.Version))
}
