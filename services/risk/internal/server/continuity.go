package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// A continuity plan falls overdue at the start (UTC) of the day after its next exercise's date.
// The store declares that day with every write of the plan (store.UpdateContinuityPlan), in the
// write's transaction: an exercise or a new cadence moves it, deleting the plan cancels it.

// continuitySchedules are the due items of continuity plans: a plan's exercise falling overdue.
func (s *Server) continuitySchedules() map[string]scheduler.Handler {
	return map[string]scheduler.Handler{store.ExerciseOverdueKind: s.ExerciseOverdue}
}

// planMask follows the field behaviors of the ContinuityPlan message.
var planMask = fieldmask.FromDescriptor((&riskv1.ContinuityPlan{}).ProtoReflect().Descriptor(), "name", "etag")

// durationPB is d as the API shows it, nil for nil.
func durationPB(d *time.Duration) *durationpb.Duration {
	if d == nil {
		return nil
	}
	return durationpb.New(*d)
}

// durationOf is the duration of pb, nil when unset; a malformed one is a violation of field.
func durationOf(pb *durationpb.Duration, field string) (*time.Duration, error) {
	if pb == nil {
		return nil, nil
	}
	if err := pb.CheckValid(); err != nil {
		return nil, fault.Field(field, "INVALID_DURATION", err.Error())
	}
	d := pb.AsDuration()
	return &d, nil
}

// planToProto is p as the API shows it on today, the day that decides whether it is overdue.
func planToProto(p *domain.ContinuityPlan, today civil.Date) *riskv1.ContinuityPlan {
	pb := &riskv1.ContinuityPlan{
		Name:                   p.Name(),
		Title:                  p.Title,
		Description:            p.Description,
		Service:                p.Service,
		RecoveryTimeObjective:  durationpb.New(p.RTO),
		RecoveryPointObjective: durationpb.New(p.RPO),
		VendorDependencies:     p.VendorDependencies,
		ServiceDependencies:    p.ServiceDependencies,
		Risk:                   p.Risk,
		Owner:                  p.Owner,
		ExerciseCadence:        &riskv1.ExerciseCadence{Months: p.Cadence.Months, Days: p.Cadence.Days},
		LastExercise:           p.LastExerciseName(),
		NextExerciseDate:       civil.ToProto(p.NextExerciseDate),
		ExerciseOverdue:        p.ExerciseOverdue(today),
		CreateTime:             timestamppb.New(p.CreateTime),
		UpdateTime:             timestamppb.New(p.UpdateTime),
		Etag:                   etag.Of(p.Name(), p.Version),
	}
	if !p.LastExerciseDate.IsZero() {
		pb.LastExerciseDate = civil.ToProto(p.LastExerciseDate)
	}
	return pb
}

// planFields takes the writable fields of a request's plan.
func planFields(pb *riskv1.ContinuityPlan) (domain.PlanFields, error) {
	f := domain.PlanFields{Title: pb.GetTitle(), Description: pb.GetDescription(), Service: pb.GetService(),
		VendorDependencies: pb.GetVendorDependencies(), ServiceDependencies: pb.GetServiceDependencies(),
		Risk: pb.GetRisk(), Owner: pb.GetOwner(),
		Cadence: domain.Cadence{Months: pb.GetExerciseCadence().GetMonths(), Days: pb.GetExerciseCadence().GetDays()}}
	var vs fault.Violations
	for _, d := range []struct {
		pb    *durationpb.Duration
		field string
		to    *time.Duration
	}{{pb.GetRecoveryTimeObjective(), domain.PlanFieldRTO, &f.RTO}, {pb.GetRecoveryPointObjective(), domain.PlanFieldRPO, &f.RPO}} {
		field := "continuity_plan." + d.field
		switch {
		case d.pb == nil:
			*d.to = domain.Unset // refused as required when the field is written
		case d.pb.CheckValid() != nil:
			vs.Add(field, "INVALID_DURATION", d.pb.CheckValid().Error())
		case d.pb.AsDuration() < 0:
			vs.Add(field, "OUT_OF_RANGE", d.field+" may not be negative")
		default:
			*d.to = d.pb.AsDuration()
		}
	}
	return f, vs.Err()
}

// exerciseToProto is e as the API shows it.
func exerciseToProto(e *domain.ContinuityExercise) *riskv1.ContinuityExercise {
	pb := &riskv1.ContinuityExercise{
		Name:                   e.Name(),
		Kind:                   riskv1.ExerciseKind(e.Kind),
		ExerciseDate:           civil.ToProto(e.Date),
		AchievedRecoveryTime:   durationPB(e.AchievedRTO),
		AchievedRecoveryPoint:  durationPB(e.AchievedRPO),
		RecoveryTimeObjective:  durationpb.New(e.RTO),
		RecoveryPointObjective: durationpb.New(e.RPO),
		RecoveryTimeResult:     riskv1.TargetResult(e.RTOResult),
		RecoveryPointResult:    riskv1.TargetResult(e.RPOResult),
		Notes:                  e.Notes,
		Incident:               e.Incident,
		Recorder:               e.Recorder,
		CreateTime:             timestamppb.New(e.CreateTime),
	}
	for _, f := range e.Findings {
		pb.Findings = append(pb.Findings, &riskv1.Finding{Title: f.Title, Description: f.Description, Owner: f.Owner,
			DueDate: civil.ToProto(f.DueDate), Action: f.Action})
	}
	return pb
}

// exerciseOf takes the fields of a request's exercise.
func exerciseOf(pb *riskv1.ContinuityExercise) (domain.ContinuityExercise, error) {
	const prefix = "continuity_exercise."
	e := domain.ContinuityExercise{Kind: domain.ExerciseKind(pb.GetKind()), Notes: pb.GetNotes()}
	var vs fault.Violations
	add := func(err error) {
		if f := fault.As(err); f != nil {
			for _, v := range f.Violations {
				vs.Add(v.Field, v.Reason, v.Description)
			}
		}
	}
	var err error
	if pb.GetExerciseDate() != nil {
		e.Date, err = civil.FromProtoField(pb.GetExerciseDate(), prefix+"exercise_date")
		add(err)
	}
	e.AchievedRTO, err = durationOf(pb.GetAchievedRecoveryTime(), prefix+"achieved_recovery_time")
	add(err)
	e.AchievedRPO, err = durationOf(pb.GetAchievedRecoveryPoint(), prefix+"achieved_recovery_point")
	add(err)
	for i, f := range pb.GetFindings() {
		finding := domain.Finding{Title: f.GetTitle(), Description: f.GetDescription(), Owner: f.GetOwner()}
		if f.GetDueDate() != nil {
			finding.DueDate, err = civil.FromProtoField(f.GetDueDate(), fmt.Sprintf("%sfindings[%d].due_date", prefix, i))
			add(err)
		}
		e.Findings = append(e.Findings, finding)
	}
	return e, vs.Err()
}

// CreateContinuityPlan implements riskv1.ComplianceServiceServer.
func (s *Compliance) CreateContinuityPlan(ctx context.Context, req *riskv1.CreateContinuityPlanRequest) (*riskv1.ContinuityPlan, error) {
	f, err := planFields(req.GetContinuityPlan())
	if err != nil {
		return nil, err
	}
	now, today := s.now(), s.today()
	p, err := domain.NewContinuityPlan(s.id(req.GetContinuityPlanId()), f, now)
	if err != nil {
		return nil, err
	}
	return idempotency.InTx(ctx, s.store.Within, riskv1.ComplianceService_CreateContinuityPlan_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*riskv1.ContinuityPlan, error) {
			if err := s.checkServiceFree(ctx, tx, p); err != nil {
				return nil, err
			}
			if err := checkPlanRisk(ctx, tx, p.Risk); err != nil {
				return nil, err
			}
			if err := tx.InsertContinuityPlan(ctx, p); err != nil {
				return nil, err
			}
			pb := planToProto(p, today)
			return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: p.Name(), After: pb,
				Event: &riskv1.ContinuityPlanCreated{Plan: pb, Version: p.Version}})
		})
}

// checkServiceFree refuses p's service when another plan covers it, naming that plan.
func (s *Server) checkServiceFree(ctx context.Context, tx store.Tx, p *domain.ContinuityPlan) error {
	other, err := tx.PlanOfService(ctx, p.Service)
	if err != nil || other == nil || other.ID == p.ID {
		return err
	}
	return domain.ErrServiceCovered.With("service", p.Service).With("plan", other.Name())
}

// checkPlanRisk refuses, on continuity_plan.risk, a risk named that does not exist or is CLOSED.
func checkPlanRisk(ctx context.Context, tx store.Tx, risk string) error {
	if risk == "" {
		return nil
	}
	id, _ := domain.RiskPattern.Last(risk)
	_, err := tx.LockOpenRisk(ctx, id)
	if f := fault.As(err); f != nil && (f.Kind == fault.NotFound || f.Kind == fault.FailedPrecondition) {
		return fault.Field("continuity_plan.risk", f.Reason, fmt.Sprintf("%s: %s", risk, f.Message))
	}
	return err
}

// GetContinuityPlan implements riskv1.ComplianceServiceServer.
func (s *Compliance) GetContinuityPlan(ctx context.Context, req *riskv1.GetContinuityPlanRequest) (*riskv1.ContinuityPlan, error) {
	today := s.today()
	return names.GetAs(ctx, domain.ContinuityPlanPattern, req.GetName(), s.store.GetContinuityPlan,
		func(p *domain.ContinuityPlan) *riskv1.ContinuityPlan { return planToProto(p, today) })
}

// ListContinuityPlans implements riskv1.ComplianceServiceServer.
func (s *Compliance) ListContinuityPlans(ctx context.Context, req *riskv1.ListContinuityPlansRequest) (*riskv1.ListContinuityPlansResponse, error) {
	today := s.today()
	page, token, err := listing.List(ctx, req, store.PlanTable(today), s.store.ListContinuityPlans,
		listing.Infallible(func(p *domain.ContinuityPlan) *riskv1.ContinuityPlan { return planToProto(p, today) }))
	if err != nil {
		return nil, err
	}
	return &riskv1.ListContinuityPlansResponse{ContinuityPlans: page, NextPageToken: token}, nil
}

// UpdateContinuityPlan implements riskv1.ComplianceServiceServer.
func (s *Compliance) UpdateContinuityPlan(ctx context.Context, req *riskv1.UpdateContinuityPlanRequest) (*riskv1.ContinuityPlan, error) {
	in := req.GetContinuityPlan()
	var id string
	if !domain.ContinuityPlanPattern.Scan(in.GetName(), &id) {
		return nil, domain.ContinuityPlanPattern.Invalid("continuity_plan.name")
	}
	paths, err := planMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	f, err := planFields(in)
	if err != nil {
		return nil, err
	}
	now, today := s.now(), s.today()
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*riskv1.ContinuityPlan, error) {
		p, err := tx.GetContinuityPlan(ctx, id)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), p.Name(), p.Version); err != nil {
			return nil, err
		}
		prev, before := p.Version, planToProto(p, today)
		changed, err := p.Apply(paths, f, now)
		if err != nil || len(changed) == 0 {
			return before, err
		}
		if err := s.checkServiceFree(ctx, tx, p); err != nil {
			return nil, err
		}
		if before.GetRisk() != p.Risk {
			if err := checkPlanRisk(ctx, tx, p.Risk); err != nil {
				return nil, err
			}
		}
		if err := tx.UpdateContinuityPlan(ctx, p, prev); err != nil {
			return nil, err
		}
		after := planToProto(p, today)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: p.Name(), Before: before, After: after,
			Event: &riskv1.ContinuityPlanUpdated{Plan: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: p.Version}})
	})
}

// DeleteContinuityPlan implements riskv1.ComplianceServiceServer.
func (s *Compliance) DeleteContinuityPlan(ctx context.Context, req *riskv1.DeleteContinuityPlanRequest) (*emptypb.Empty, error) {
	today := s.today()
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		p, err := names.Get(ctx, domain.ContinuityPlanPattern, req.GetName(), tx.GetContinuityPlan)
		if err != nil {
			return err
		}
		if err := etag.Check(req.GetEtag(), p.Name(), p.Version); err != nil {
			return err
		}
		before := planToProto(p, today)
		if err := tx.DeleteContinuityPlan(ctx, p); err != nil {
			return err
		}
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: p.Name(), Before: before,
			Event: &riskv1.ContinuityPlanDeleted{Plan: before, Version: p.Version + 1}})
	}))
}

// CreateContinuityExercise implements riskv1.ComplianceServiceServer.
func (s *Compliance) CreateContinuityExercise(ctx context.Context, req *riskv1.CreateContinuityExerciseRequest) (*riskv1.ContinuityExercise, error) {
	var planID string
	domain.ContinuityPlanPattern.Scan(req.GetParent(), &planID)
	in, err := exerciseOf(req.GetContinuityExercise())
	if err != nil {
		return nil, err
	}
	now, today := s.now(), s.today()
	id, recorder := s.id(req.GetContinuityExerciseId()), identity.Owner(ctx)
	return idempotency.InTx(ctx, s.store.Within, riskv1.ComplianceService_CreateContinuityExercise_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*riskv1.ContinuityExercise, error) {
			p, err := tx.GetContinuityPlan(ctx, planID)
			if err != nil {
				return nil, err
			}
			e, err := domain.NewContinuityExercise(planID, id, in, recorder, p.Owner, now)
			if err != nil {
				return nil, err
			}
			if err := s.recordExercise(ctx, tx, req, p, e, today); err != nil {
				return nil, err
			}
			return exerciseToProto(e), nil
		})
}

// recordExercise records exercise e of plan p, locked in tx, for the call req: its findings
// become mitigation actions of the plan's risk, the plan takes the exercise in, and
// continuity.exercise_recorded is published, followed by continuity.target_missed when the
// exercise missed a target.
func (s *Server) recordExercise(ctx context.Context, tx store.Tx, req proto.Message, p *domain.ContinuityPlan,
	e *domain.ContinuityExercise, today civil.Date) error {
	if err := s.actOnFindings(ctx, tx, req, p, e, today); err != nil {
		return err
	}
	prev, before := p.Version, planToProto(p, today)
	p.Record(e, e.CreateTime)
	if e.Missed() {
		p.Version++ // continuity.target_missed follows continuity.exercise_recorded
	}
	if err := tx.InsertContinuityExercise(ctx, e); err != nil {
		return err
	}
	if err := tx.UpdateContinuityPlan(ctx, p, prev); err != nil {
		return err
	}
	pb, after := exerciseToProto(e), planToProto(p, today)
	recorded := &riskv1.ContinuityExerciseRecorded{Plan: after, Service: p.Service, Exercise: pb, Kind: pb.GetKind(),
		ExerciseDate: pb.GetExerciseDate(), AchievedRecoveryTime: pb.GetAchievedRecoveryTime(),
		AchievedRecoveryPoint: pb.GetAchievedRecoveryPoint(), RecoveryTimeObjective: pb.GetRecoveryTimeObjective(),
		RecoveryPointObjective: pb.GetRecoveryPointObjective(), RecoveryTimeMet: e.RTOResult == domain.TargetMet,
		RecoveryPointMet: e.RPOResult == domain.TargetMet, Version: p.Version}
	if e.Missed() {
		recorded.Version--
	}
	if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: p.Name(), Before: before, After: after,
		Event: recorded}); err != nil {
		return err
	}
	if !e.Missed() {
		return nil
	}
	return tx.Emit(ctx, p.Name(), &riskv1.ContinuityTargetMissed{Plan: after, Service: p.Service, Exercise: pb,
		RecoveryTimeMissed: e.RTOResult == domain.TargetMissed, RecoveryPointMissed: e.RPOResult == domain.TargetMissed,
		AchievedRecoveryTime: pb.GetAchievedRecoveryTime(), AchievedRecoveryPoint: pb.GetAchievedRecoveryPoint(),
		RecoveryTimeObjective: pb.GetRecoveryTimeObjective(), RecoveryPointObjective: pb.GetRecoveryPointObjective(),
		Version: p.Version})
}

// actOnFindings makes each finding of e an OPEN mitigation action of plan p's risk, each with
// its action.created, and names the action in the finding. Findings need the plan to name a risk
// that exists and is not CLOSED, refused on continuity_exercise.findings otherwise.
func (s *Server) actOnFindings(ctx context.Context, tx store.Tx, req proto.Message, p *domain.ContinuityPlan,
	e *domain.ContinuityExercise, today civil.Date) error {
	if len(e.Findings) == 0 {
		return nil
	}
	const field = "continuity_exercise.findings"
	if p.Risk == "" {
		return fault.Field(field, "PLAN_HAS_NO_RISK",
			fmt.Sprintf("findings become mitigation actions of the plan's risk; %s names none (set its risk first)", p.Name()))
	}
	riskID, _ := domain.RiskPattern.Last(p.Risk)
	if _, err := tx.LockOpenRisk(ctx, riskID); err != nil {
		if f := fault.As(err); f != nil && (f.Kind == fault.NotFound || f.Kind == fault.FailedPrecondition) {
			return fault.Field(field, f.Reason, fmt.Sprintf("%s: %s", p.Risk, f.Message))
		}
		return err
	}
	for i := range e.Findings {
		f := &e.Findings[i]
		description := f.Description
		if description != "" {
			description += "\n\n"
		}
		description += "Found by exercise " + e.Name() + "."
		a, err := domain.NewMitigationAction(riskID, s.newID(), domain.ActionFields{Title: f.Title, Description: description,
			Owner: f.Owner, DueDate: f.DueDate}, e.CreateTime)
		if err != nil {
			return err
		}
		if err := tx.InsertAction(ctx, a); err != nil {
			return err
		}
		pb := actionToProto(a, today)
		if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: a.Name(), After: pb,
			Event: &riskv1.ActionCreated{Action: pb, Version: a.Version}}); err != nil {
			return err
		}
		f.Action = a.Name()
	}
	return nil
}

// GetContinuityExercise implements riskv1.ComplianceServiceServer.
func (s *Compliance) GetContinuityExercise(ctx context.Context, req *riskv1.GetContinuityExerciseRequest) (*riskv1.ContinuityExercise, error) {
	var planID, id string
	domain.ContinuityExercisePattern.ScanResource(req.GetName(), &planID, &id)
	e, err := s.store.GetContinuityExercise(ctx, planID, id)
	if err != nil {
		return nil, err
	}
	return exerciseToProto(e), nil
}

// ListContinuityExercises implements riskv1.ComplianceServiceServer.
func (s *Compliance) ListContinuityExercises(ctx context.Context, req *riskv1.ListContinuityExercisesRequest) (*riskv1.ListContinuityExercisesResponse, error) {
	var planID string
	domain.ContinuityPlanPattern.Scan(req.GetParent(), &planID)
	if req.GetOrderBy() == "" {
		req.OrderBy = "exercise_date desc"
	}
	page, token, err := listing.List(ctx, req, store.ExerciseTable,
		func(ctx context.Context, q *listing.Query) ([]*domain.ContinuityExercise, error) {
			return s.store.ListContinuityExercises(ctx, planID, q)
		}, listing.Infallible(exerciseToProto))
	if err != nil {
		return nil, err
	}
	return &riskv1.ListContinuityExercisesResponse{ContinuityExercises: page, NextPageToken: token}, nil
}

// recordOutage records, in the resolution's transaction of incident i (just resolved), an
// UNPLANNED exercise of each plan that covers one of the services an OUTAGE incident affected:
// its achieved recovery time runs from the incident's detect time (its declare time when not
// given) to its resolve time, its recovery point is not measured. An incident is recorded once
// per plan. req is the resolution's request, for the audit records.
func (s *Server) recordOutage(ctx context.Context, tx store.Tx, req proto.Message, i *domain.Incident, resolver string) error {
	if i.Type != domain.IncidentOutage {
		return nil
	}
	now, today := s.now(), s.today()
	for _, service := range i.AffectedServices {
		p, err := tx.PlanOfService(ctx, service)
		if err != nil {
			return err
		}
		if p == nil {
			continue
		}
		done, err := tx.IncidentRecorded(ctx, p.ID, i.Name())
		if err != nil {
			return err
		}
		if done {
			continue
		}
		start := i.DetectTime
		if start.IsZero() {
			start = i.DeclareTime
		}
		achieved := i.ResolveTime.Sub(start)
		if achieved < 0 {
			achieved = 0
		}
		date := civil.DateOf(i.ResolveTime.UTC())
		if today.Before(date) {
			date = today
		}
		e, err := domain.NewContinuityExercise(p.ID, s.newID(), domain.ContinuityExercise{Kind: domain.Unplanned, Date: date,
			AchievedRTO: &achieved, Incident: i.Name(),
			Notes: fmt.Sprintf("Recorded from the OUTAGE incident %s (%s): recovery time from its detection to its resolution.", i.Name(), i.Title)},
			resolver, p.Owner, now)
		if err != nil {
			return fmt.Errorf("unplanned exercise of %s from %s: %w", p.Name(), i.Name(), err)
		}
		if err := s.recordExercise(ctx, tx, req, p, e, today); err != nil {
			if errors.Is(err, domain.ErrExerciseExists) {
				continue
			}
			return err
		}
	}
	return nil
}

// ExerciseOverdue is the scheduler.Handler of store.ExerciseOverdueKind: it publishes
// continuity.exercise_overdue about a plan at the start of the day after its next exercise's
// date. An item left over from a date that moved, or of a plan that is gone, does nothing.
func (s *Server) ExerciseOverdue(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	var id string
	if !domain.ContinuityPlanPattern.Scan(item.Resource, &id) {
		return scheduler.Permanent(fmt.Errorf("exercise-overdue item %q: not a continuity plan's name", item.Resource))
	}
	tx := store.Join(t)
	p, err := tx.GetContinuityPlan(ctx, id)
	if errors.Is(err, domain.ErrPlanNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !p.OverdueAt().Equal(item.Due) {
		return nil
	}
	prev := p.Version
	p.Version++ // the event is a change of the plan's state: its exercise is overdue
	if err := tx.UpdateContinuityPlan(ctx, p, prev); err != nil {
		return err
	}
	ev := &riskv1.ContinuityExerciseOverdue{
		Plan:             planToProto(p, civil.DateOf(item.Due.UTC())),
		Service:          p.Service,
		NextExerciseDate: civil.ToProto(p.NextExerciseDate),
		DueTime:          timestamppb.New(item.Due.UTC()),
		FireTime:         timestamppb.New(item.FiredAt.UTC().Truncate(time.Microsecond)),
		Version:          p.Version,
	}
	if !p.LastExerciseDate.IsZero() {
		ev.LastExerciseDate = civil.ToProto(p.LastExerciseDate)
	}
	return tx.Emit(ctx, p.Name(), ev)
}
