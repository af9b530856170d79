package server

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
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

// riskMask follows the field behaviors of the Risk message: output-only fields (the scores, the
// state) can never be named in an update_mask.
var riskMask = fieldmask.FromDescriptor((&riskv1.Risk{}).ProtoReflect().Descriptor(), "name", "etag")

// riskSchedules are the due items of risks: the review that falls due.
func (s *Server) riskSchedules() map[string]scheduler.Handler {
	return map[string]scheduler.Handler{store.RiskReviewKind: s.FireReviewDue}
}

// CreateRisk implements riskv1.RiskServiceServer.
func (s *Server) CreateRisk(ctx context.Context, req *riskv1.CreateRiskRequest) (*riskv1.Risk, error) {
	r, err := domain.NewRisk(s.id(req.GetRiskId()), riskFields(req.GetRisk()), s.now())
	if err != nil {
		return nil, fault.Prefix("risk", err)
	}
	r.PlanReview(s.cfg.ReviewDays)
	out, err := idempotency.InTx(ctx, s.store.Within, riskv1.RiskService_CreateRisk_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*riskv1.Risk, error) {
		if err := tx.InsertRisk(ctx, r); err != nil {
			return nil, err
		}
		pb := riskToProto(r)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: r.Name(), After: pb,
			Event: &riskv1.RiskIdentified{Risk: pb, Version: r.Version}})
	})
	if err != nil {
		return nil, fault.Prefix("risk", err)
	}
	return out, nil
}

// GetRisk implements riskv1.RiskServiceServer.
func (s *Server) GetRisk(ctx context.Context, req *riskv1.GetRiskRequest) (*riskv1.Risk, error) {
	return names.GetAs(ctx, domain.RiskPattern, req.GetName(), s.store.GetRisk, riskToProto)
}

// ListRisks implements riskv1.RiskServiceServer.
func (s *Server) ListRisks(ctx context.Context, req *riskv1.ListRisksRequest) (*riskv1.ListRisksResponse, error) {
	page, token, err := listing.List(ctx, req, store.RiskTable, s.store.ListRisks, listing.Infallible(riskToProto))
	if err != nil {
		return nil, err
	}
	return &riskv1.ListRisksResponse{Risks: page, NextPageToken: token}, nil
}

// UpdateRisk implements riskv1.RiskServiceServer. A changed category measures the risk against
// its new category's appetite.
func (s *Server) UpdateRisk(ctx context.Context, req *riskv1.UpdateRiskRequest) (*riskv1.Risk, error) {
	in := req.GetRisk()
	if !domain.RiskPattern.Match(in.GetName()) {
		return nil, domain.RiskPattern.Invalid("risk.name")
	}
	paths, err := riskMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	fields := riskFields(in)
	out, err := inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*riskv1.Risk, error) {
		r, err := names.Get(ctx, domain.RiskPattern, in.GetName(), tx.GetRisk)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), r.Name(), r.Version); err != nil {
			return nil, err
		}
		prev, before := r.Version, riskToProto(r)
		changed, err := r.Apply(paths, fields, s.now())
		if err != nil {
			return nil, err
		}
		if len(changed) == 0 {
			return before, nil // nothing to write, nothing happened
		}
		events := []sqlstore.Event{&riskv1.RiskUpdated{ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}}}
		if slices.Contains(changed, domain.RiskFieldCategory) {
			appetite, err := tx.Appetite(ctx)
			if err != nil {
				return nil, err
			}
			was := r.AboveAppetite
			if r.MeasureAppetite(appetite) {
				events = append(events, aboveAppetite(r, appetite))
			} else if was != r.AboveAppetite {
				events[0].(*riskv1.RiskUpdated).ChangedFields.Paths = append(changed, "above_appetite")
			}
		}
		return s.saveRisk(ctx, tx, req, audit.Update, r, prev, before, events...)
	})
	if err != nil {
		return nil, fault.Prefix("risk", err)
	}
	return out, nil
}

// DeleteRisk implements riskv1.RiskServiceServer.
func (s *Server) DeleteRisk(ctx context.Context, req *riskv1.DeleteRiskRequest) (*emptypb.Empty, error) {
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := names.Get(ctx, domain.RiskPattern, req.GetName(), tx.GetRisk)
		if err != nil {
			return err
		}
		if err := etag.Check(req.GetEtag(), r.Name(), r.Version); err != nil {
			return err
		}
		if err := r.CheckDeletable(); err != nil {
			return err
		}
		if err := tx.DeleteRisk(ctx, r.ID, r.Version); err != nil {
			return err
		}
		before := riskToProto(r)
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: r.Name(), Before: before,
			Event: &riskv1.RiskDeleted{Risk: before, Version: r.Version + 1}})
	}))
}

// AssessRisk implements riskv1.RiskServiceServer.
func (s *Server) AssessRisk(ctx context.Context, req *riskv1.AssessRiskRequest) (*riskv1.Risk, error) {
	a := domain.Assessment{Inherent: pairOf(req.GetInherent()), Residual: pairOf(req.GetResidual()),
		Actor: identity.Actor(ctx), Reason: req.GetReason()}
	return s.transition(ctx, req, riskv1.RiskService_AssessRisk_FullMethodName, func(ctx context.Context, tx store.Tx, r *domain.Risk) ([]sqlstore.Event, error) {
		return s.Rescore(ctx, tx, r, a)
	})
}

// Rescore scores r, locked in tx, as a says, on the current matrix: it plans the next review,
// measures the appetite, keeps the score change in the history and returns the events of the
// change, in order: risk.assessed for a person's assessment (a.Cause empty), risk.score_changed
// when a score changed, risk.above_appetite when the risk crossed its appetite. The caller saves
// r (saveRisk). The reactions to other services' events score risks through it too, with a
// cause.
func (s *Server) Rescore(ctx context.Context, tx store.Tx, r *domain.Risk, a domain.Assessment) ([]sqlstore.Event, error) {
	m, err := tx.CurrentMatrix(ctx)
	if err != nil {
		return nil, err
	}
	appetite, err := tx.Appetite(ctx)
	if err != nil {
		return nil, err
	}
	prevState, change, err := r.Assess(m, a, s.now())
	if err != nil {
		return nil, err
	}
	r.PlanReview(s.cfg.ReviewDays)
	var events []sqlstore.Event
	if a.Cause == "" {
		events = append(events, &riskv1.RiskAssessed{PreviousState: riskv1.Risk_State(prevState), Reason: a.Reason})
	}
	if change != nil {
		if err := tx.InsertScoreChange(ctx, change); err != nil {
			return nil, err
		}
		events = append(events, &riskv1.RiskScoreChanged{ScoreChange: scoreChangeToProto(change)})
	}
	if r.MeasureAppetite(appetite) {
		events = append(events, aboveAppetite(r, appetite))
	}
	return events, nil
}

// aboveAppetite is the event of r crossing its category's appetite.
func aboveAppetite(r *domain.Risk, a *domain.Appetite) *riskv1.RiskAboveAppetite {
	return &riskv1.RiskAboveAppetite{AppetiteLevel: riskv1.RiskLevel(a.For(r.Category)), Level: riskv1.RiskLevel(r.Residual.Level)}
}

// ReviewRisk implements riskv1.RiskServiceServer.
func (s *Server) ReviewRisk(ctx context.Context, req *riskv1.ReviewRiskRequest) (*riskv1.Risk, error) {
	return s.transition(ctx, req, riskv1.RiskService_ReviewRisk_FullMethodName, func(_ context.Context, _ store.Tx, r *domain.Risk) ([]sqlstore.Event, error) {
		if err := r.Review(s.now()); err != nil {
			return nil, err
		}
		r.PlanReview(s.cfg.ReviewDays)
		return []sqlstore.Event{&riskv1.RiskReviewed{Reason: req.GetReason()}}, nil
	})
}

// StartRiskTreatment implements riskv1.RiskServiceServer.
func (s *Server) StartRiskTreatment(ctx context.Context, req *riskv1.StartRiskTreatmentRequest) (*riskv1.Risk, error) {
	return s.transition(ctx, req, riskv1.RiskService_StartRiskTreatment_FullMethodName, func(_ context.Context, _ store.Tx, r *domain.Risk) ([]sqlstore.Event, error) {
		if err := r.StartTreatment(int32(req.GetTreatment()), req.GetTreatmentPlan(), s.now()); err != nil {
			return nil, err
		}
		return []sqlstore.Event{&riskv1.RiskTreatmentStarted{}}, nil
	})
}

// MonitorRisk implements riskv1.RiskServiceServer.
func (s *Server) MonitorRisk(ctx context.Context, req *riskv1.MonitorRiskRequest) (*riskv1.Risk, error) {
	return s.transition(ctx, req, riskv1.RiskService_MonitorRisk_FullMethodName, func(_ context.Context, _ store.Tx, r *domain.Risk) ([]sqlstore.Event, error) {
		if err := r.Monitor(s.now()); err != nil {
			return nil, err
		}
		return []sqlstore.Event{&riskv1.RiskMonitoringStarted{}}, nil
	})
}

// CloseRisk implements riskv1.RiskServiceServer.
func (s *Server) CloseRisk(ctx context.Context, req *riskv1.CloseRiskRequest) (*riskv1.Risk, error) {
	return s.transition(ctx, req, riskv1.RiskService_CloseRisk_FullMethodName, func(_ context.Context, _ store.Tx, r *domain.Risk) ([]sqlstore.Event, error) {
		prev, err := r.Close(req.GetReason(), s.now())
		if err != nil {
			return nil, err
		}
		r.MeasureAppetite(domain.DefaultAppetite()) // a closed risk is never above appetite
		return []sqlstore.Event{&riskv1.RiskClosed{PreviousState: riskv1.Risk_State(prev)}}, nil
	})
}

// ReopenRisk implements riskv1.RiskServiceServer.
func (s *Server) ReopenRisk(ctx context.Context, req *riskv1.ReopenRiskRequest) (*riskv1.Risk, error) {
	return s.transition(ctx, req, riskv1.RiskService_ReopenRisk_FullMethodName, func(ctx context.Context, tx store.Tx, r *domain.Risk) ([]sqlstore.Event, error) {
		if err := r.Reopen(req.GetReason(), s.now()); err != nil {
			return nil, err
		}
		r.PlanReview(s.cfg.ReviewDays)
		events := []sqlstore.Event{&riskv1.RiskReopened{}}
		appetite, err := tx.Appetite(ctx)
		if err != nil {
			return nil, err
		}
		if r.MeasureAppetite(appetite) {
			events = append(events, aboveAppetite(r, appetite))
		}
		return events, nil
	})
}

// riskRequest is a custom method's request on one risk.
type riskRequest interface {
	idempotency.Request
	GetName() string
	GetEtag() string
}

// transition runs a custom method on the risk req names: in one idempotent transaction it locks
// the risk, checks the etag, lets change apply the domain change and say its events, and saves
// the risk with them (saveRisk).
func (s *Server) transition(ctx context.Context, req riskRequest, method string,
	change func(ctx context.Context, tx store.Tx, r *domain.Risk) ([]sqlstore.Event, error)) (*riskv1.Risk, error) {
	out, err := idempotency.InTx(ctx, s.store.Within, method, req, func(ctx context.Context, tx store.Tx) (*riskv1.Risk, error) {
		r, err := names.Get(ctx, domain.RiskPattern, req.GetName(), tx.GetRisk)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(req.GetEtag(), r.Name(), r.Version); err != nil {
			return nil, err
		}
		prev, before := r.Version, riskToProto(r)
		events, err := change(ctx, tx, r)
		if err != nil {
			return nil, err
		}
		return s.saveRisk(ctx, tx, req, audit.Update, r, prev, before, events...)
	})
	return out, err
}

// saveRisk stores r, changed from version prev (whose API view was before), with its review, and
// records the change with its events: one audit record, and the events in order, each with a
// version of its own (the first the change's, each next one more) so that consumers, which drop
// an event not newer than the last, apply every one. Each event gets the risk as saved.
func (s *Server) saveRisk(ctx context.Context, tx store.Tx, req proto.Message, action string, r *domain.Risk, prev int64,
	before *riskv1.Risk, events ...sqlstore.Event) (*riskv1.Risk, error) {
	first := r.Version
	r.Version += int64(max(len(events)-1, 0))
	if err := tx.UpdateRisk(ctx, r, prev); err != nil {
		return nil, err
	}
	after := riskToProto(r)
	for i, ev := range events {
		if err := setRiskEvent(ev, after, first+int64(i)); err != nil {
			return nil, err
		}
	}
	var head sqlstore.Event
	if len(events) > 0 {
		head = events[0]
	}
	if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: action, Resource: r.Name(), Before: before, After: after, Event: head}); err != nil {
		return nil, err
	}
	if len(events) > 1 {
		if err := tx.Emit(ctx, r.Name(), events[1:]...); err != nil {
			return nil, err
		}
	}
	return after, nil
}

// setRiskEvent fills an event about a risk with the risk and its version.
func setRiskEvent(ev sqlstore.Event, r *riskv1.Risk, version int64) error {
	switch e := ev.(type) {
	case *riskv1.RiskUpdated:
		e.Risk, e.Version = r, version
	case *riskv1.RiskAssessed:
		e.Risk, e.Version = r, version
	case *riskv1.RiskScoreChanged:
		e.Risk, e.Version = r, version
	case *riskv1.RiskAboveAppetite:
		e.Risk, e.Version = r, version
	case *riskv1.RiskReviewed:
		e.Risk, e.Version = r, version
	case *riskv1.RiskReviewDue:
		e.Risk, e.Version = r, version
	case *riskv1.RiskTreatmentStarted:
		e.Risk, e.Version = r, version
	case *riskv1.RiskMonitoringStarted:
		e.Risk, e.Version = r, version
	case *riskv1.RiskClosed:
		e.Risk, e.Version = r, version
	case *riskv1.RiskReopened:
		e.Risk, e.Version = r, version
	default:
		return fmt.Errorf("%T is not an event about a risk", ev)
	}
	return nil
}

// FireReviewDue is the scheduler.Handler of store.RiskReviewKind: it publishes risk.review_due at
// the start of a risk's next review date, unless the risk is gone, CLOSED, or its date moved
// since (a leftover item does nothing).
func (s *Server) FireReviewDue(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	tx := store.Join(t)
	var id string
	if !domain.RiskPattern.ScanResource(item.Resource, &id) {
		return scheduler.Permanent(fmt.Errorf("%s item %q: not a risk name", store.RiskReviewKind, item.Resource))
	}
	r, err := tx.GetRisk(ctx, id)
	if errors.Is(err, domain.ErrRiskNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if r.State == domain.RiskClosed || r.NextReviewDate.IsZero() || !store.RiskReviewDue(r).Equal(item.Due) {
		return nil
	}
	// The event is a change of the risk's history, with a version of its own.
	prev, before := r.Version, riskToProto(r)
	r.Touch(s.now())
	_, err = s.saveRisk(ctx, tx, nil, audit.Update, r, prev, before, &riskv1.RiskReviewDue{
		NextReviewDate: civil.ToProto(r.NextReviewDate), DueTime: timestamppb.New(item.Due), FireTime: timestamppb.New(item.FiredAt)})
	return err
}

// MakeReviewDue makes the risk with the ID, locked in tx, due for review on day because of cause
// (the name of what ended, e.g. an acceptance that expired): its next review date moves to day
// unless it is due earlier already, and its review is declared then, so risk.review_due follows
// on that day (at once when day has begun). A CLOSED or missing risk is left alone. The change is
// recorded as risk.updated (changed field next_review_date).
func (s *Server) MakeReviewDue(ctx context.Context, tx store.Tx, riskID string, day civil.Date, cause string) error {
	r, err := tx.GetRisk(ctx, riskID)
	if errors.Is(err, domain.ErrRiskNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	prev, before := r.Version, riskToProto(r)
	if !r.ReviewDueOn(day, s.now()) {
		return nil
	}
	_, err = s.saveRisk(ctx, tx, nil, audit.Update, r, prev, before,
		&riskv1.RiskUpdated{ChangedFields: &fieldmaskpb.FieldMask{Paths: []string{"next_review_date"}}})
	if err != nil {
		return fmt.Errorf("review of %s after %s: %w", r.Name(), cause, err)
	}
	return nil
}
