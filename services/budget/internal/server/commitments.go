package server

import (
	"context"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
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
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// RecordCommitment implements budgetv1.BudgetServiceServer.
func (s *Server) RecordCommitment(ctx context.Context, req *budgetv1.RecordCommitmentRequest) (*budgetv1.Commitment, error) {
	return recordOn(ctx, s, req, budgetv1.BudgetService_RecordCommitment_FullMethodName, req.GetParent(), s.recordCommitment)
}

func (s *Server) recordCommitment(ctx context.Context, tx store.Tx, req *budgetv1.RecordCommitmentRequest, on spendOn) (*budgetv1.Commitment, error) {
	b, fc, lineID := on.budget, on.figures, on.lineID
	pb := req.GetCommitment()
	amount, err := money.FromProtoField(pb.GetAmount(), b.Currency, "commitment.amount")
	if err != nil {
		return nil, err
	}
	in := domain.CommitmentInput{
		LineID: lineID, Amount: amount, Date: civil.FromProto(pb.GetExpectedDate()), Description: pb.GetDescription(),
		Source: domain.CommitmentSource(pb.GetSource()), SourceRef: pb.GetSourceReference(),
	}
	rate, err := rateFor(ctx, tx, amount, in.Date, b.Currency)
	if err != nil {
		return nil, err
	}
	c, err := domain.NewCommitment(on.id, b, in, rate, actor(ctx), s.now())
	if err != nil {
		return nil, err
	}
	available, err := fc.available(lineID)
	if err != nil {
		return nil, err
	}
	if err := domain.CheckCommitFunds(b.Policy, domain.LineName(b.ID, lineID), available, c.ConvertedMinor, b.Currency); err != nil {
		return nil, err
	}
	if err := tx.InsertCommitment(ctx, c); err != nil {
		return nil, err
	}
	if err := fc.addSpend(ctx, lineID, c.Period, 0, c.ConvertedMinor); err != nil {
		return nil, err
	}
	out := commitmentToProto(c, b)
	if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: c.Name(), After: out,
		Event: &budgetv1.CommitmentRecorded{Commitment: out, Version: c.Version}}); err != nil {
		return nil, err
	}
	return out, fc.finish(ctx, c.Name())
}

// GetCommitment implements budgetv1.BudgetServiceServer.
func (s *Server) GetCommitment(ctx context.Context, req *budgetv1.GetCommitmentRequest) (*budgetv1.Commitment, error) {
	var budgetID, lineID, id string
	domain.CommitmentPattern.Scan(req.GetName(), &budgetID, &lineID, &id)
	c, err := s.store.GetCommitment(ctx, budgetID, lineID, id)
	return getRecorded(ctx, s, req.GetName(), budgetID, c, err, commitmentToProto)
}

// ListCommitments implements budgetv1.BudgetServiceServer. Budget and line may be the wildcard "-".
func (s *Server) ListCommitments(ctx context.Context, req *budgetv1.ListCommitmentsRequest) (*budgetv1.ListCommitmentsResponse, error) {
	page, token, err := listing.List(ctx, req, store.CommitmentTable, lineChildren(req.GetParent(), s.store.ListCommitments),
		underBudget(ctx, s, func(c *domain.Commitment) string { return c.BudgetID }, commitmentToProto))
	if err != nil {
		return nil, err
	}
	return &budgetv1.ListCommitmentsResponse{Commitments: page, NextPageToken: token}, nil
}

// ReleaseCommitment implements budgetv1.BudgetServiceServer. The commitment's budget must still
// be in force: releasing changes its figures.
func (s *Server) ReleaseCommitment(ctx context.Context, req *budgetv1.ReleaseCommitmentRequest) (*budgetv1.Commitment, error) {
	var budgetID, lineID, id string
	domain.CommitmentPattern.Scan(req.GetName(), &budgetID, &lineID, &id)
	chainID, err := s.chainOf(ctx, budgetID)
	if err != nil {
		return nil, fault.Named(domain.ErrCommitmentNotFound, req.GetName())
	}
	return idempotency.InTx(ctx, s.store.Within, budgetv1.BudgetService_ReleaseCommitment_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*budgetv1.Commitment, error) {
		return s.releaseCommitment(ctx, tx, req, chainID, budgetID, lineID, id)
	})
}

func (s *Server) releaseCommitment(ctx context.Context, tx store.Tx, req *budgetv1.ReleaseCommitmentRequest, chainID, budgetID, lineID, id string) (*budgetv1.Commitment, error) {
	chain, b, err := s.lockBudget(ctx, tx, chainID, budgetID)
	if err != nil {
		return nil, err
	}
	c, err := tx.GetCommitment(ctx, budgetID, lineID, id)
	if err != nil {
		return nil, fault.Named(err, req.GetName())
	}
	if err := etag.Check(req.GetEtag(), c.Name(), c.Version); err != nil {
		return nil, err
	}
	// The commitment was recorded under b; its chain's revision in force carries its figures.
	fc, err := s.beginFigures(ctx, tx, chain)
	if err != nil {
		return nil, err
	}
	if err := fc.budget.CheckSpendable(); err != nil {
		return nil, err
	}
	var amount int64
	if req.GetAmount() != nil {
		if amount, err = budgetMinor(req.GetAmount(), fc.budget.Currency, "amount"); err != nil {
			return nil, err
		}
		if amount <= 0 {
			return nil, fault.Field("amount", "AMOUNT_NOT_POSITIVE", "the amount to release must be positive")
		}
	}
	out, err := s.release(ctx, tx, req, fc, c, b, amount)
	if err != nil {
		return nil, err
	}
	return out, fc.finish(ctx, c.Name())
}

// release releases amount (0: all that remains) of commitment c, recorded under revision b, in
// the figures change fc, and records the change with its commitment.released event. req is the
// call's request, nil for a release that follows from another service's event.
func (s *Server) release(ctx context.Context, tx store.Tx, req proto.Message, fc *figuresChange, c *domain.Commitment, b *domain.Budget, amount int64) (*budgetv1.Commitment, error) {
	before := commitmentToProto(c, b)
	prev := c.Version
	released, err := c.Release(amount, s.now())
	if err != nil {
		return nil, err
	}
	if err := tx.UpdateCommitment(ctx, c, prev); err != nil {
		return nil, err
	}
	if err := fc.addSpend(ctx, c.LineID, c.Period, 0, -released); err != nil {
		return nil, err
	}
	out := commitmentToProto(c, b)
	if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: c.Name(), Before: before, After: out,
		Event: &budgetv1.CommitmentReleased{Commitment: out, ReleasedAmount: moneyPB(released, b.Currency), Version: c.Version}}); err != nil {
		return nil, err
	}
	return out, nil
}

// ListDeferredCommitments implements budgetv1.BudgetServiceServer.
func (s *Server) ListDeferredCommitments(ctx context.Context, req *budgetv1.ListDeferredCommitmentsRequest) (*budgetv1.ListDeferredCommitmentsResponse, error) {
	page, token, err := listing.List(ctx, req, store.DeferredCommitmentTable, costCenterChildren(req.GetParent(), s.store.ListDeferredCommitments),
		listing.Infallible(deferredToProto))
	if err != nil {
		return nil, err
	}
	return &budgetv1.ListDeferredCommitmentsResponse{DeferredCommitments: page, NextPageToken: token}, nil
}

// DeleteDeferredCommitment implements budgetv1.BudgetServiceServer. The row is read locked, as
// the approval that would record it reads it (store.Tx.DeferredCommitments): a deletion racing
// that approval waits for it and finds the part recorded and gone (NOT_FOUND), or deletes it
// first and the approval, which waited, no longer reads it. The deletion is remembered
// (store.Tx.MarkDeferredDeleted), so that a later event of the same renewal does not defer the
// part again.
func (s *Server) DeleteDeferredCommitment(ctx context.Context, req *budgetv1.DeleteDeferredCommitmentRequest) (*emptypb.Empty, error) {
	var costCenterID, id string
	domain.DeferredCommitmentPattern.Scan(req.GetName(), &costCenterID, &id)
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		d, err := tx.GetDeferredCommitment(ctx, costCenterID, id)
		if err != nil {
			return fault.Named(err, req.GetName())
		}
		if err := tx.DeleteDeferredCommitment(ctx, d.ID); err != nil {
			return err
		}
		if err := tx.MarkDeferredDeleted(ctx, d.ID, s.now()); err != nil {
			return err
		}
		pb := deferredToProto(d)
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: d.Name(), Before: pb,
			Event: &budgetv1.DeferredCommitmentDeleted{DeferredCommitment: pb, Version: deletedDeferredVersion}})
	}))
}

// deletedDeferredVersion is the version of a deferred commitment's or actual's deletion: it was
// kept as version 1 and never changed.
const deletedDeferredVersion = 2

// deferredToProto is d as the API shows it.
func deferredToProto(d *domain.DeferredCommitment) *budgetv1.DeferredCommitment {
	return &budgetv1.DeferredCommitment{
		Name:             d.Name(),
		FiscalYear:       d.FiscalYear,
		BudgetLineId:     d.LineID,
		TermValue:        money.ToProto(d.Amount),
		ServiceStartDate: civil.ToProto(d.ServiceStart),
		ServiceEndDate:   civil.ToProto(d.ServiceEnd),
		Source:           budgetv1.Commitment_Source(d.Source),
		SourceReference:  d.SourceRef,
		Description:      d.Description,
		CreateTime:       timestamppb.New(d.CreateTime),
	}
}

// commitmentToProto is a commitment recorded under budget revision b.
func commitmentToProto(c *domain.Commitment, b *domain.Budget) *budgetv1.Commitment {
	return &budgetv1.Commitment{
		Name:            c.Name(),
		Amount:          money.ToProto(c.Amount),
		ConvertedAmount: moneyPB(c.ConvertedMinor, b.Currency),
		RemainingAmount: moneyPB(c.RemainingMinor, b.Currency),
		Rate:            rateUsePB(c.Rate),
		ExpectedDate:    civil.ToProto(c.Date),
		Period:          periodLabel(b.FiscalYear, c.Period),
		Description:     c.Description,
		Source:          budgetv1.Commitment_Source(c.Source),
		SourceReference: c.SourceRef,
		State:           budgetv1.Commitment_State(c.State),
		Creator:         c.Creator,
		CreateTime:      timestamppb.New(c.CreateTime),
		UpdateTime:      timestamppb.New(c.UpdateTime),
		Etag:            etag.Of(c.Name(), c.Version),
		Hold:            c.HoldName(),
	}
}
