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
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/store"
)

// Every incident has a postmortem, an empty DRAFT until it is first written (the store keeps no
// row before). Its action items fall overdue at the start (UTC) of the day after their due date
// unless DONE or CANCELLED by then; the store declares that date with every write of the item.

// postmortemSchedules are the due items of postmortems: an action item falling overdue.
func (s *Incidents) postmortemSchedules() map[string]scheduler.Handler {
	return map[string]scheduler.Handler{store.ActionItemOverdueKind: s.ActionItemOverdue}
}

var (
	postmortemMask = fieldmask.FromDescriptor((&riskv1.Postmortem{}).ProtoReflect().Descriptor(), "name", "etag")
	actionItemMask = fieldmask.FromDescriptor((&riskv1.ActionItem{}).ProtoReflect().Descriptor(), "name", "etag")
)

// postmortemToProto is p as the API shows it.
func postmortemToProto(p *domain.Postmortem) *riskv1.Postmortem {
	return &riskv1.Postmortem{
		Name:                p.Name(),
		State:               riskv1.Postmortem_State(p.State),
		Summary:             p.Summary,
		Impact:              p.Impact,
		RootCauses:          p.RootCauses,
		ContributingFactors: p.ContributingFactors,
		WhatWentWell:        p.WhatWentWell,
		Lessons:             p.Lessons,
		Recommendations:     p.Recommendations,
		StateReason:         p.StateReason,
		Author:              p.Author,
		Publisher:           p.Publisher,
		SubmitTime:          timePB(p.SubmitTime),
		PublishTime:         timePB(p.PublishTime),
		UpdateTime:          timePB(p.UpdateTime),
		Etag:                etag.Of(p.Name(), p.Version),
	}
}

// postmortemOf reads incident id and its postmortem through r.
func postmortemOf(ctx context.Context, r interface {
	GetIncident(context.Context, string) (*domain.Incident, error)
	GetPostmortem(context.Context, string) (*domain.Postmortem, error)
}, id string) (*domain.Incident, *domain.Postmortem, error) {
	i, err := r.GetIncident(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	p, err := r.GetPostmortem(ctx, id)
	return i, p, err
}

// postmortemPublished reports whether the postmortem of i is PUBLISHED.
func (s *Incidents) postmortemPublished(ctx context.Context, tx store.Tx, i *domain.Incident) (bool, error) {
	p, err := tx.GetPostmortem(ctx, i.ID)
	if err != nil {
		return false, err
	}
	return p.State == domain.PostmortemPublished, nil
}

// GetPostmortem implements riskv1.IncidentServiceServer.
func (s *Incidents) GetPostmortem(ctx context.Context, req *riskv1.GetPostmortemRequest) (*riskv1.Postmortem, error) {
	var id string
	domain.PostmortemPattern.Scan(req.GetName(), &id)
	_, p, err := postmortemOf(ctx, s.store, id)
	if err != nil {
		return nil, err
	}
	return postmortemToProto(p), nil
}

// UpdatePostmortem implements riskv1.IncidentServiceServer.
func (s *Incidents) UpdatePostmortem(ctx context.Context, req *riskv1.UpdatePostmortemRequest) (*riskv1.Postmortem, error) {
	in := req.GetPostmortem()
	var id string
	if !domain.PostmortemPattern.Scan(in.GetName(), &id) {
		return nil, domain.PostmortemPattern.Invalid("postmortem.name")
	}
	paths, err := postmortemMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	f := domain.PostmortemFields{"summary": in.GetSummary(), "impact": in.GetImpact(), "root_causes": in.GetRootCauses(),
		"contributing_factors": in.GetContributingFactors(), "what_went_well": in.GetWhatWentWell(), "lessons": in.GetLessons(),
		"recommendations": in.GetRecommendations()}
	author, now := identity.Owner(ctx), s.now()
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*riskv1.Postmortem, error) {
		_, p, err := postmortemOf(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), p.Name(), p.Version); err != nil {
			return nil, err
		}
		prev, before := p.Version, postmortemToProto(p)
		changed, err := p.Apply(paths, f, author, now)
		if err != nil || len(changed) == 0 {
			return before, err
		}
		if err := tx.SavePostmortem(ctx, p, prev); err != nil {
			return nil, err
		}
		after := postmortemToProto(p)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: p.Name(), Before: before, After: after,
			Event: &riskv1.PostmortemUpdated{Postmortem: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: p.Version}})
	})
}

// postmortemRequest is a lifecycle request of a postmortem.
type postmortemRequest interface {
	idempotency.Request
	GetName() string
	GetEtag() string
}

// changePostmortem runs the lifecycle method method on the postmortem req names.
func (s *Incidents) changePostmortem(ctx context.Context, method string, req postmortemRequest,
	change func(i *domain.Incident, p *domain.Postmortem) error,
	event func(p *riskv1.Postmortem, i *riskv1.Incident, v int64) sqlstore.Event) (*riskv1.Postmortem, error) {
	var id string
	domain.PostmortemPattern.Scan(req.GetName(), &id)
	return idempotency.InTx(ctx, s.store.Within, method, req, func(ctx context.Context, tx store.Tx) (*riskv1.Postmortem, error) {
		i, p, err := postmortemOf(ctx, tx, id)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(req.GetEtag(), p.Name(), p.Version); err != nil {
			return nil, err
		}
		prev, before := p.Version, postmortemToProto(p)
		if err := change(i, p); err != nil {
			return nil, err
		}
		if err := tx.SavePostmortem(ctx, p, prev); err != nil {
			return nil, err
		}
		after := postmortemToProto(p)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: p.Name(), Before: before, After: after,
			Event: event(after, incidentToProto(i), p.Version)})
	})
}

// SubmitPostmortem implements riskv1.IncidentServiceServer.
func (s *Incidents) SubmitPostmortem(ctx context.Context, req *riskv1.SubmitPostmortemRequest) (*riskv1.Postmortem, error) {
	now := s.now()
	return s.changePostmortem(ctx, riskv1.IncidentService_SubmitPostmortem_FullMethodName, req,
		func(_ *domain.Incident, p *domain.Postmortem) error { return p.Submit(now) },
		func(p *riskv1.Postmortem, i *riskv1.Incident, v int64) sqlstore.Event {
			return &riskv1.PostmortemSubmitted{Postmortem: p, Incident: i, Version: v}
		})
}

// RequestPostmortemChanges implements riskv1.IncidentServiceServer.
func (s *Incidents) RequestPostmortemChanges(ctx context.Context, req *riskv1.RequestPostmortemChangesRequest) (*riskv1.Postmortem, error) {
	now := s.now()
	return s.changePostmortem(ctx, riskv1.IncidentService_RequestPostmortemChanges_FullMethodName, req,
		func(_ *domain.Incident, p *domain.Postmortem) error { return p.RequestChanges(req.GetReason(), now) },
		func(p *riskv1.Postmortem, _ *riskv1.Incident, v int64) sqlstore.Event {
			return &riskv1.PostmortemChangesRequested{Postmortem: p, Version: v}
		})
}

// PublishPostmortem implements riskv1.IncidentServiceServer.
func (s *Incidents) PublishPostmortem(ctx context.Context, req *riskv1.PublishPostmortemRequest) (*riskv1.Postmortem, error) {
	publisher, now := identity.Owner(ctx), s.now()
	return s.changePostmortem(ctx, riskv1.IncidentService_PublishPostmortem_FullMethodName, req,
		func(i *domain.Incident, p *domain.Postmortem) error { return p.Publish(i, publisher, now) },
		func(p *riskv1.Postmortem, i *riskv1.Incident, v int64) sqlstore.Event {
			return &riskv1.PostmortemPublished{Postmortem: p, Incident: i, Version: v}
		})
}

// actionItemToProto is a as the API shows it on today.
func actionItemToProto(a *domain.ActionItem, today civil.Date) *riskv1.ActionItem {
	return &riskv1.ActionItem{
		Name:         a.Name(),
		Title:        a.Title,
		Description:  a.Description,
		Owner:        a.Owner,
		DueDate:      civil.ToProto(a.DueDate),
		TrackerUrl:   a.TrackerURL,
		State:        riskv1.ActionItem_State(a.State),
		StateReason:  a.StateReason,
		Overdue:      a.Overdue(today),
		CompleteTime: timePB(a.CompleteTime),
		CreateTime:   timePB(a.CreateTime),
		UpdateTime:   timePB(a.UpdateTime),
		Etag:         etag.Of(a.Name(), a.Version),
	}
}

// actionItemFields takes the writable fields of a request's item.
func actionItemFields(pb *riskv1.ActionItem) (domain.ActionItemFields, error) {
	due, err := civil.FromProtoField(pb.GetDueDate(), "action_item.due_date")
	if err != nil {
		return domain.ActionItemFields{}, err
	}
	return domain.ActionItemFields{Title: pb.GetTitle(), Description: pb.GetDescription(), Owner: pb.GetOwner(), DueDate: due,
		TrackerURL: pb.GetTrackerUrl()}, nil
}

// CreateActionItem implements riskv1.IncidentServiceServer.
func (s *Incidents) CreateActionItem(ctx context.Context, req *riskv1.CreateActionItemRequest) (*riskv1.ActionItem, error) {
	var id string
	domain.PostmortemPattern.Scan(req.GetParent(), &id)
	f, err := actionItemFields(req.GetActionItem())
	if err != nil {
		return nil, err
	}
	a, err := domain.NewActionItem(id, s.id(req.GetActionItemId()), f, s.now())
	if err != nil {
		return nil, err
	}
	today := s.today()
	return idempotency.InTx(ctx, s.store.Within, riskv1.IncidentService_CreateActionItem_FullMethodName, req,
		func(ctx context.Context, tx store.Tx) (*riskv1.ActionItem, error) {
			if _, err := tx.GetIncident(ctx, id); err != nil {
				return nil, err
			}
			if err := tx.InsertActionItem(ctx, a); err != nil {
				return nil, err
			}
			pb := actionItemToProto(a, today)
			return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: a.Name(), After: pb,
				Event: &riskv1.PostmortemActionItemCreated{ActionItem: pb, Version: a.Version}})
		})
}

// GetActionItem implements riskv1.IncidentServiceServer.
func (s *Incidents) GetActionItem(ctx context.Context, req *riskv1.GetActionItemRequest) (*riskv1.ActionItem, error) {
	var incident, id string
	domain.ActionItemPattern.ScanResource(req.GetName(), &incident, &id)
	a, err := s.store.GetActionItem(ctx, incident, id)
	if err != nil {
		return nil, err
	}
	return actionItemToProto(a, s.today()), nil
}

// ListActionItems implements riskv1.IncidentServiceServer.
func (s *Incidents) ListActionItems(ctx context.Context, req *riskv1.ListActionItemsRequest) (*riskv1.ListActionItemsResponse, error) {
	var id string
	domain.PostmortemPattern.Scan(req.GetParent(), &id)
	today := s.today()
	page, token, err := listing.List(ctx, req, store.ActionItemTable(today),
		func(ctx context.Context, q *listing.Query) ([]*domain.ActionItem, error) {
			return s.store.ListActionItems(ctx, id, q)
		},
		listing.Infallible(func(a *domain.ActionItem) *riskv1.ActionItem { return actionItemToProto(a, today) }))
	if err != nil {
		return nil, err
	}
	return &riskv1.ListActionItemsResponse{ActionItems: page, NextPageToken: token}, nil
}

// UpdateActionItem implements riskv1.IncidentServiceServer. A new due date moves the day the item
// falls overdue.
func (s *Incidents) UpdateActionItem(ctx context.Context, req *riskv1.UpdateActionItemRequest) (*riskv1.ActionItem, error) {
	in := req.GetActionItem()
	var incident, id string
	if !domain.ActionItemPattern.ScanResource(in.GetName(), &incident, &id) {
		return nil, domain.ActionItemPattern.Invalid("action_item.name")
	}
	paths, err := actionItemMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	f, err := actionItemFields(in)
	if err != nil {
		return nil, err
	}
	now, today := s.now(), s.today()
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*riskv1.ActionItem, error) {
		a, err := tx.GetActionItem(ctx, incident, id)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), a.Name(), a.Version); err != nil {
			return nil, err
		}
		prev, before := a.Version, actionItemToProto(a, today)
		changed, err := a.Apply(paths, f, now)
		if err != nil || len(changed) == 0 {
			return before, err
		}
		if err := tx.UpdateActionItem(ctx, a, prev); err != nil {
			return nil, err
		}
		after := actionItemToProto(a, today)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: a.Name(), Before: before, After: after,
			Event: &riskv1.PostmortemActionItemUpdated{ActionItem: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: a.Version}})
	})
}

// actionItemRequest is a lifecycle request of an action item.
type actionItemRequest interface {
	idempotency.Request
	GetName() string
	GetEtag() string
}

// changeActionItem runs the lifecycle method method on the item req names.
func (s *Incidents) changeActionItem(ctx context.Context, method string, req actionItemRequest,
	change func(a *domain.ActionItem) error, event func(pb *riskv1.ActionItem, v int64) sqlstore.Event) (*riskv1.ActionItem, error) {
	var incident, id string
	domain.ActionItemPattern.ScanResource(req.GetName(), &incident, &id)
	today := s.today()
	return idempotency.InTx(ctx, s.store.Within, method, req, func(ctx context.Context, tx store.Tx) (*riskv1.ActionItem, error) {
		a, err := tx.GetActionItem(ctx, incident, id)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(req.GetEtag(), a.Name(), a.Version); err != nil {
			return nil, err
		}
		prev, before := a.Version, actionItemToProto(a, today)
		if err := change(a); err != nil {
			return nil, err
		}
		if err := tx.UpdateActionItem(ctx, a, prev); err != nil {
			return nil, err
		}
		after := actionItemToProto(a, today)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: a.Name(), Before: before, After: after,
			Event: event(after, a.Version)})
	})
}

// CompleteActionItem implements riskv1.IncidentServiceServer. A completed item no longer falls
// overdue.
func (s *Incidents) CompleteActionItem(ctx context.Context, req *riskv1.CompleteActionItemRequest) (*riskv1.ActionItem, error) {
	now := s.now()
	return s.changeActionItem(ctx, riskv1.IncidentService_CompleteActionItem_FullMethodName, req,
		func(a *domain.ActionItem) error { return a.Complete(now) },
		func(pb *riskv1.ActionItem, v int64) sqlstore.Event {
			return &riskv1.PostmortemActionItemCompleted{ActionItem: pb, Version: v}
		})
}

// CancelActionItem implements riskv1.IncidentServiceServer. A cancelled item no longer falls
// overdue.
func (s *Incidents) CancelActionItem(ctx context.Context, req *riskv1.CancelActionItemRequest) (*riskv1.ActionItem, error) {
	now := s.now()
	return s.changeActionItem(ctx, riskv1.IncidentService_CancelActionItem_FullMethodName, req,
		func(a *domain.ActionItem) error { return a.Cancel(req.GetReason(), now) },
		func(pb *riskv1.ActionItem, v int64) sqlstore.Event {
			return &riskv1.PostmortemActionItemCancelled{ActionItem: pb, Version: v}
		})
}

// ActionItemOverdue is the scheduler.Handler of store.ActionItemOverdueKind: it publishes
// postmortem.action_overdue about an item still OPEN at the start of the day after its due date.
// An item left over from a due date that moved, or of an item done or cancelled, does nothing.
func (s *Incidents) ActionItemOverdue(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	var incident, id string
	if !domain.ActionItemPattern.ScanResource(item.Resource, &incident, &id) {
		return scheduler.Permanent(fmt.Errorf("overdue item %q: not an action item name", item.Resource))
	}
	tx := store.Join(t)
	a, err := tx.GetActionItem(ctx, incident, id)
	if errors.Is(err, domain.ErrActionItemNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if !a.Open() || !a.OverdueAt().Equal(item.Due) {
		return nil
	}
	i, err := tx.GetIncident(ctx, incident)
	if err != nil {
		return err
	}
	prev := a.Version
	a.MarkOverdue()
	if err := tx.UpdateActionItem(ctx, a, prev); err != nil {
		return err
	}
	return tx.Emit(ctx, a.Name(), &riskv1.PostmortemActionOverdue{
		ActionItem: actionItemToProto(a, civil.DateOf(item.Due.UTC())),
		Incident:   incidentToProto(i),
		DueDate:    civil.ToProto(a.DueDate),
		DueTime:    timestamppb.New(item.Due.UTC()),
		FireTime:   timestamppb.New(item.FiredAt.UTC().Truncate(time.Microsecond)),
		Version:    a.Version,
	})
}
