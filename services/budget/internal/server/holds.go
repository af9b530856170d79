package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// A hold reserves money on a line until a commitment is recorded from it (ADR 0010). Placing
// one is a change of the line's figures like a commitment's: under the chain's lock, with the
// BLOCK policy's funds check, the alerts it crosses and its expiry armed in the same
// transaction. Releasing, expiring (ExpireHold) and converting (ConvertHold) take the held money
// away again under the same lock; a conversion adds it to the committed money.

// PlaceHold implements budgetv1.BudgetServiceServer.
func (s *Server) PlaceHold(ctx context.Context, req *budgetv1.PlaceHoldRequest) (*budgetv1.Hold, error) {
	return recordOn(ctx, s, req, budgetv1.BudgetService_PlaceHold_FullMethodName, req.GetParent(), s.placeHold)
}

func (s *Server) placeHold(ctx context.Context, tx store.Tx, req *budgetv1.PlaceHoldRequest, on spendOn) (*budgetv1.Hold, error) {
	b, fc, lineID := on.budget, on.figures, on.lineID
	pb := req.GetHold()
	amount, err := money.FromProtoField(pb.GetAmount(), b.Currency, "hold.amount")
	if err != nil {
		return nil, err
	}
	in := domain.HoldInput{
		LineID: lineID, Amount: amount, ServiceStart: civil.FromProto(pb.GetServiceStartDate()),
		ServiceEnd: civil.FromProto(pb.GetServiceEndDate()), Description: pb.GetDescription(),
		Source: domain.CommitmentSource(pb.GetSource()), SourceRef: pb.GetSourceReference(),
	}
	if in.TTL, err = ttlFromPB(pb.GetTtl()); err != nil {
		return nil, err
	}
	rate := func(a domain.Amount, d domain.Date) (*domain.ExchangeRate, error) {
		return rateFor(ctx, tx, a, d, b.Currency)
	}
	h, err := domain.NewHold(on.id, b, in, rate, actor(ctx), s.now())
	if err != nil {
		return nil, err
	}
	available, err := fc.available(lineID)
	if err != nil {
		return nil, err
	}
	if err := domain.CheckCommitFunds(b.Policy, domain.LineName(b.ID, lineID), available, h.HeldMinor, b.Currency); err != nil {
		return nil, err
	}
	if err := tx.InsertHold(ctx, h); err != nil {
		return nil, err
	}
	if err := fc.addHeld(ctx, lineID, h.Period, h.HeldMinor); err != nil {
		return nil, err
	}
	out := holdToProto(h, b)
	if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: h.Name(), After: out,
		Event: &budgetv1.HoldPlaced{Hold: out, Version: h.Version}}); err != nil {
		return nil, err
	}
	return out, fc.finish(ctx, h.Name())
}

// ttlFromPB is a hold's time to live; 0 (the default) when unset.
func ttlFromPB(d *durationpb.Duration) (ttl time.Duration, err error) {
	if d == nil {
		return 0, nil
	}
	if err := d.CheckValid(); err != nil {
		return 0, fault.Field("hold.ttl", "INVALID_VALUE", "ttl is not a valid duration")
	}
	return d.AsDuration(), nil
}

// GetHold implements budgetv1.BudgetServiceServer.
func (s *Server) GetHold(ctx context.Context, req *budgetv1.GetHoldRequest) (*budgetv1.Hold, error) {
	var budgetID, lineID, id string
	domain.HoldPattern.Scan(req.GetName(), &budgetID, &lineID, &id)
	h, err := s.store.GetHold(ctx, budgetID, lineID, id)
	return getRecorded(ctx, s, req.GetName(), budgetID, h, err, holdToProto)
}

// ListHolds implements budgetv1.BudgetServiceServer. Budget and line may be the wildcard "-".
func (s *Server) ListHolds(ctx context.Context, req *budgetv1.ListHoldsRequest) (*budgetv1.ListHoldsResponse, error) {
	page, token, err := listing.List(ctx, req, store.HoldTable, lineChildren(req.GetParent(), s.store.ListHolds),
		underBudget(ctx, s, func(h *domain.Hold) string { return h.BudgetID }, holdToProto))
	if err != nil {
		return nil, err
	}
	return &budgetv1.ListHoldsResponse{Holds: page, NextPageToken: token}, nil
}

// ReleaseHold implements budgetv1.BudgetServiceServer.
func (s *Server) ReleaseHold(ctx context.Context, req *budgetv1.ReleaseHoldRequest) (*budgetv1.Hold, error) {
	var budgetID, lineID, id string
	domain.HoldPattern.Scan(req.GetName(), &budgetID, &lineID, &id)
	chainID, err := s.chainOf(ctx, budgetID)
	if err != nil {
		return nil, fault.Named(domain.ErrHoldNotFound, req.GetName())
	}
	return idempotency.InTx(ctx, s.store.Within, budgetv1.BudgetService_ReleaseHold_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*budgetv1.Hold, error) {
		chain, b, err := s.lockBudget(ctx, tx, chainID, budgetID)
		if err != nil {
			return nil, err
		}
		h, err := tx.GetHold(ctx, budgetID, lineID, id)
		if err != nil {
			return nil, fault.Named(err, req.GetName())
		}
		if err := etag.Check(req.GetEtag(), h.Name(), h.Version); err != nil {
			return nil, err
		}
		before, prev := holdToProto(h, b), h.Version
		if err := h.Release(s.now()); err != nil {
			return nil, err
		}
		reason := strings.TrimSpace(req.GetReason())
		return s.endHold(ctx, tx, chain, h, b, prev, sqlstore.Change{Request: req, Before: before},
			func(out *budgetv1.Hold) sqlstore.Event {
				return &budgetv1.HoldReleased{Hold: out, Reason: reason, Version: h.Version}
			})
	})
}

// endHold stores hold h of revision b, just released or expired from version prev, takes its
// money off its line and records the change (Request and Before set by the caller) with the
// event about the hold as it ends.
func (s *Server) endHold(ctx context.Context, tx store.Tx, chain *domain.Chain, h *domain.Hold, b *domain.Budget, prev int64,
	change sqlstore.Change, event func(*budgetv1.Hold) sqlstore.Event) (*budgetv1.Hold, error) {
	fc, err := s.beginFigures(ctx, tx, chain)
	if err != nil {
		return nil, err
	}
	if err := tx.UpdateHold(ctx, h, prev); err != nil {
		return nil, err
	}
	if err := fc.addHeld(ctx, h.LineID, h.Period, -h.HeldMinor); err != nil {
		return nil, err
	}
	out := holdToProto(h, b)
	change.Action, change.Resource, change.After, change.Event = audit.Update, h.Name(), out, event(out)
	if err := tx.Record(ctx, change); err != nil {
		return nil, err
	}
	return out, fc.finish(ctx, h.Name())
}

// releaseHolds releases every HELD hold of chain, which the caller has locked, for reason: the
// budget is closing. Each publishes hold.released; the figures change once.
func (s *Server) releaseHolds(ctx context.Context, tx store.Tx, req proto.Message, chain *domain.Chain, reason string) error {
	holds, err := tx.HeldHolds(ctx, chain.ID)
	if err != nil || len(holds) == 0 {
		return err
	}
	fc, err := s.beginFigures(ctx, tx, chain)
	if err != nil {
		return err
	}
	budgets := budgetCache{s: s}
	now := s.now()
	for _, h := range holds {
		b, err := budgets.getIn(ctx, tx, h.BudgetID)
		if err != nil {
			return err
		}
		before, prev := holdToProto(h, b), h.Version
		if err := h.Release(now); err != nil {
			return err
		}
		if err := tx.UpdateHold(ctx, h, prev); err != nil {
			return err
		}
		if err := fc.addHeld(ctx, h.LineID, h.Period, -h.HeldMinor); err != nil {
			return err
		}
		out := holdToProto(h, b)
		if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: h.Name(), Before: before, After: out,
			Event: &budgetv1.HoldReleased{Hold: out, Reason: reason, Version: h.Version}}); err != nil {
			return err
		}
	}
	return fc.finish(ctx, domain.BudgetName(chain.InForceID))
}

// ExpireHold is the scheduler.Handler of store.HoldExpiryKind: at a hold's expire time it lets
// a hold that is still HELD lapse (EXPIRED), takes its money off the line and publishes
// `hold.expired`, in the worker's transaction and under the chain's lock like every change of
// figures. A hold that ended before (released, converted) has no item left; one that is gone or
// no longer HELD is left alone.
func (s *Server) ExpireHold(ctx context.Context, t *sqlstore.Tx, item scheduler.Fired) error {
	var budgetID, lineID, id string
	if !domain.HoldPattern.ScanResource(item.Resource, &budgetID, &lineID, &id) {
		return scheduler.Permanent(fmt.Errorf("expiry of %q: not a hold name", item.Resource))
	}
	tx := store.Join(t)
	chainID, err := tx.ChainOf(ctx, budgetID)
	if errors.Is(err, domain.ErrBudgetNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	chain, b, err := s.lockBudget(ctx, tx, chainID, budgetID)
	if err != nil {
		return err
	}
	h, err := tx.GetHold(ctx, budgetID, lineID, id)
	if errors.Is(err, domain.ErrHoldNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	before, prev := holdToProto(h, b), h.Version
	if !h.Expire(s.now()) {
		return nil
	}
	_, err = s.endHold(ctx, tx, chain, h, b, prev, sqlstore.Change{Before: before}, func(out *budgetv1.Hold) sqlstore.Event {
		return &budgetv1.HoldExpired{Hold: out, Version: h.Version}
	})
	return err
}

// holdToProto is a hold placed under budget revision b.
func holdToProto(h *domain.Hold, b *domain.Budget) *budgetv1.Hold {
	return &budgetv1.Hold{
		Name:             h.Name(),
		Amount:           money.ToProto(h.Amount),
		ServiceStartDate: civil.ToProto(h.ServiceStart),
		ServiceEndDate:   civil.ToProto(h.ServiceEnd),
		HeldAmount:       moneyPB(h.HeldMinor, b.Currency),
		Rate:             rateUsePB(h.Rate),
		Period:           periodLabel(b.FiscalYear, h.Period),
		Source:           budgetv1.Commitment_Source(h.Source),
		SourceReference:  h.SourceRef,
		Description:      h.Description,
		ExpireTime:       timestamppb.New(h.ExpireTime),
		State:            budgetv1.Hold_State(h.State),
		Commitment:       h.CommitmentName(),
		Creator:          h.Creator,
		CreateTime:       timestamppb.New(h.CreateTime),
		UpdateTime:       timestamppb.New(h.UpdateTime),
		Etag:             etag.Of(h.Name(), h.Version),
	}
}
