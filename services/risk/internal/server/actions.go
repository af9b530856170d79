package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// A mitigation action falls overdue at the start (UTC) of the day after its due date unless it
// is DONE or CANCELLED by then. The store declares that date with every write of the action
// (store.UpdateAction), in the write's transaction: a new due date moves it, completing or
// cancelling the action clears it.

// actionSchedules are the due items of mitigation actions: an action falling overdue.
func (s *Server) actionSchedules() map[string]scheduler.Handler {
	return map[string]scheduler.Handler{store.ActionOverdueKind: s.ActionOverdue}
}

// actionMask follows the field behaviors of the MitigationAction message.
var actionMask = fieldmask.FromDescriptor((&riskv1.MitigationAction{}).ProtoReflect().Descriptor(), "name", "etag")

// actionToProto is a as the API shows it on today, the day that decides whether it is overdue.
func actionToProto(a *domain.MitigationAction, today civil.Date) *riskv1.MitigationAction {
	pb := &riskv1.MitigationAction{
		Name:        a.Name(),
		Title:       a.Title,
		Description: a.Description,
		Owner:       a.Owner,
		DueDate:     civil.ToProto(a.DueDate),
		State:       riskv1.MitigationAction_State(a.State),
		StateReason: a.StateReason,
		BudgetLine:  a.BudgetLine,
		Overdue:     a.Overdue(today),
		CreateTime:  timestamppb.New(a.CreateTime),
		UpdateTime:  timestamppb.New(a.UpdateTime),
		Etag:        etag.Of(a.Name(), a.Version),
	}
	if a.Estimated() {
		pb.CostEstimate = money.ToProto(a.CostEstimate)
	}
	if !a.CompleteTime.IsZero() {
		pb.CompleteTime = timestamppb.New(a.CompleteTime)
	}
	return pb
}

// actionFields takes the writable fields of a request's action.
func actionFields(pb *riskv1.MitigationAction) (domain.ActionFields, error) {
	due, err := civil.FromProtoField(pb.GetDueDate(), "mitigation_action.due_date")
	if err != nil {
		return domain.ActionFields{}, err
	}
	f := domain.ActionFields{Title: pb.GetTitle(), Description: pb.GetDescription(), Owner: pb.GetOwner(),
		DueDate: due, BudgetLine: pb.GetBudgetLine()}
	if pb.GetCostEstimate() != nil {
		if f.CostEstimate, err = money.FromProtoField(pb.GetCostEstimate(), "", "mitigation_action.cost_estimate"); err != nil {
			return domain.ActionFields{}, err
		}
	}
	return f, nil
}

// CreateMitigationAction implements riskv1.RiskServiceServer.
func (s *Server) CreateMitigationAction(ctx context.Context, req *riskv1.CreateMitigationActionRequest) (*riskv1.MitigationAction, error) {
	riskID, _ := domain.RiskPattern.Last(req.GetParent())
	fields, err := actionFields(req.GetMitigationAction())
	if err != nil {
		return nil, err
	}
	now := s.now()
	a, err := domain.NewMitigationAction(riskID, s.id(req.GetMitigationActionId()), fields, now)
	if err != nil {
		return nil, err
	}
	today := s.today()
	return idempotency.InTx(ctx, s.store.Within, riskv1.RiskService_CreateMitigationAction_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*riskv1.MitigationAction, error) {
			if _, err := tx.LockOpenRisk(ctx, riskID); err != nil {
				return nil, err
			}
			if err := tx.InsertAction(ctx, a); err != nil {
				return nil, err
			}
			pb := actionToProto(a, today)
			return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: a.Name(), After: pb,
				Event: &riskv1.ActionCreated{Action: pb, Version: a.Version}})
		})
}

// GetMitigationAction implements riskv1.RiskServiceServer.
func (s *Server) GetMitigationAction(ctx context.Context, req *riskv1.GetMitigationActionRequest) (*riskv1.MitigationAction, error) {
	var riskID, id string
	domain.MitigationActionPattern.ScanResource(req.GetName(), &riskID, &id)
	a, err := s.store.GetAction(ctx, riskID, id)
	if err != nil {
		return nil, err
	}
	return actionToProto(a, s.today()), nil
}

// ListMitigationActions implements riskv1.RiskServiceServer.
func (s *Server) ListMitigationActions(ctx context.Context, req *riskv1.ListMitigationActionsRequest) (*riskv1.ListMitigationActionsResponse, error) {
	var riskID string
	domain.RiskPattern.Scan(req.GetParent(), &riskID)
	today := s.today()
	page, token, err := listing.List(ctx, req, store.ActionTable(today),
		func(ctx context.Context, q *listing.Query) ([]*domain.MitigationAction, error) {
			return s.store.ListActions(ctx, riskID, q)
		},
		listing.Infallible(func(a *domain.MitigationAction) *riskv1.MitigationAction { return actionToProto(a, today) }))
	if err != nil {
		return nil, err
	}
	return &riskv1.ListMitigationActionsResponse{MitigationActions: page, NextPageToken: token}, nil
}

// UpdateMitigationAction implements riskv1.RiskServiceServer. A new due date moves the day the
// action falls overdue.
func (s *Server) UpdateMitigationAction(ctx context.Context, req *riskv1.UpdateMitigationActionRequest) (*riskv1.MitigationAction, error) {
	in := req.GetMitigationAction()
	var riskID, id string
	if !domain.MitigationActionPattern.ScanResource(in.GetName(), &riskID, &id) {
		return nil, domain.MitigationActionPattern.Invalid("mitigation_action.name")
	}
	paths, err := actionMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	fields, err := actionFields(in)
	if err != nil {
		return nil, err
	}
	now, today := s.now(), s.today()
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*riskv1.MitigationAction, error) {
		a, err := tx.GetAction(ctx, riskID, id)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), a.Name(), a.Version); err != nil {
			return nil, err
		}
		prev, before := a.Version, actionToProto(a, today)
		changed, err := a.Apply(paths, fields, now)
		if err != nil || len(changed) == 0 {
			return before, err
		}
		if err := tx.UpdateAction(ctx, a, prev); err != nil {
			return nil, err
		}
		after := actionToProto(a, today)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: a.Name(), Before: before, After: after,
			Event: &riskv1.ActionUpdated{Action: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: a.Version}})
	})
}

// actionRequest is a lifecycle request of an action: its name, etag and request ID.
type actionRequest interface {
	idempotency.Request
	GetName() string
	GetEtag() string
}

// changeAction runs the lifecycle method method of the action req names: change moves it, and
// event tells of it.
func (s *Server) changeAction(ctx context.Context, method string, req actionRequest,
	change func(a *domain.MitigationAction) error,
	event func(pb *riskv1.MitigationAction, version int64) sqlstore.Event) (*riskv1.MitigationAction, error) {
	var riskID, id string
	domain.MitigationActionPattern.ScanResource(req.GetName(), &riskID, &id)
	today := s.today()
	return idempotency.InTx(ctx, s.store.Within, method, req, func(ctx context.Context, tx store.Tx) (*riskv1.MitigationAction, error) {
		a, err := tx.GetAction(ctx, riskID, id)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(req.GetEtag(), a.Name(), a.Version); err != nil {
			return nil, err
		}
		prev, before := a.Version, actionToProto(a, today)
		if err := change(a); err != nil {
			return nil, err
		}
		if err := tx.UpdateAction(ctx, a, prev); err != nil {
			return nil, err
		}
		after := actionToProto(a, today)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: a.Name(), Before: before, After: after,
			Event: event(after, a.Version)})
	})
}

// StartMitigationAction implements riskv1.RiskServiceServer.
func (s *Server) StartMitigationAction(ctx context.Context, req *riskv1.StartMitigationActionRequest) (*riskv1.MitigationAction, error) {
	now := s.now()
	return s.changeAction(ctx, riskv1.RiskService_StartMitigationAction_FullMethodName, req,
		func(a *domain.MitigationAction) error { return a.Start(now) },
		func(pb *riskv1.MitigationAction, v int64) sqlstore.Event {
			return &riskv1.ActionStarted{Action: pb, Version: v}
		})
}

// CompleteMitigationAction implements riskv1.RiskServiceServer. A completed action no longer
// falls overdue.
func (s *Server) CompleteMitigationAction(ctx context.Context, req *riskv1.CompleteMitigationActionRequest) (*riskv1.MitigationAction, error) {
	now := s.now()
	return s.changeAction(ctx, riskv1.RiskService_CompleteMitigationAction_FullMethodName, req,
		func(a *domain.MitigationAction) error { return a.Complete(now) },
		func(pb *riskv1.MitigationAction, v int64) sqlstore.Event {
			return &riskv1.ActionCompleted{Action: pb, Version: v}
		})
}

// CancelMitigationAction implements riskv1.RiskServiceServer. A cancelled action no longer
// falls overdue.
func (s *Server) CancelMitigationAction(ctx context.Context, req *riskv1.CancelMitigationActionRequest) (*riskv1.MitigationAction, error) {
	now := s.now()
	return s.changeAction(ctx, riskv1.RiskService_CancelMitigationAction_FullMethodName, req,
		func(a *domain.MitigationAction) error { return a.Cancel(req.GetReason(), now) },
		func(pb *riskv1.MitigationAction, v int64) sqlstore.Event {
			return &riskv1.ActionCancelled{Action: pb, Version: v}
		})
}

// ActionOverdue is the scheduler.Handler of store.ActionOverdueKind: it publishes
// action.overdue about an action still to be done at the start of the day after its due date.
// An item left over from a due date that moved, or of an action that is gone, done or cancelled,
// does nothing; nor does an action of a CLOSED risk, which is no longer followed.
func (s *Server) ActionOverdue(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	var riskID, id string
	if !domain.MitigationActionPattern.ScanResource(item.Resource, &riskID, &id) {
		return scheduler.Permanent(fmt.Errorf("overdue item %q: not a mitigation action name", item.Resource))
	}
	tx := store.Join(t)
	a, err := tx.GetAction(ctx, riskID, id)
	if errors.Is(err, domain.ErrActionNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !a.Open() || !a.OverdueAt().Equal(item.Due) {
		return nil
	}
	r, err := tx.GetRisk(ctx, riskID)
	if err != nil || r.State == domain.RiskClosed {
		return err
	}
	prev := a.Version
	a.MarkOverdue()
	if err := tx.UpdateAction(ctx, a, prev); err != nil {
		return err
	}
	day := civil.DateOf(item.Due.UTC())
	return tx.Emit(ctx, a.Name(), &riskv1.ActionOverdue{
		Action:   actionToProto(a, day),
		DueDate:  civil.ToProto(a.DueDate),
		DueTime:  timestamppb.New(item.Due.UTC()),
		FireTime: timestamppb.New(item.FiredAt.UTC().Truncate(time.Microsecond)),
		Version:  a.Version,
	})
}
