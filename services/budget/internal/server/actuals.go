package server

import (
	"context"
	"errors"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// RecordActual implements budgetv1.BudgetServiceServer.
func (s *Server) RecordActual(ctx context.Context, req *budgetv1.RecordActualRequest) (*budgetv1.Actual, error) {
	return recordOn(ctx, s, req, budgetv1.BudgetService_RecordActual_FullMethodName, req.GetParent(), s.recordActual)
}

func (s *Server) recordActual(ctx context.Context, tx store.Tx, req *budgetv1.RecordActualRequest, on spendOn) (*budgetv1.Actual, error) {
	b, fc, lineID := on.budget, on.figures, on.lineID
	pb := req.GetActual()
	amount, err := money.FromProtoField(pb.GetAmount(), b.Currency, "actual.amount")
	if err != nil {
		return nil, err
	}
	in := domain.ActualInput{
		LineID: lineID, Amount: amount, BookingDate: civil.FromProto(pb.GetBookingDate()), Description: pb.GetDescription(),
		Source: domain.ActualSource(pb.GetSource()), ExternalRef: pb.GetExternalReference(),
	}
	var (
		corrected *domain.Corrected
		rate      *domain.ExchangeRate
	)
	if name := pb.GetCorrects(); name != "" {
		var cb, cl, cid string
		domain.ActualPattern.Scan(name, &cb, &cl, &cid)
		o, err := tx.GetActual(ctx, cb, cl, cid)
		if errors.Is(err, domain.ErrActualNotFound) {
			return nil, fault.Field("actual.corrects", domain.ErrActualNotFound.Reason, "the corrected actual "+name+" does not exist")
		} else if err != nil {
			return nil, err
		}
		corrected = &domain.Corrected{Original: o}
		if corrected.PriorConvertedMinor, err = tx.SumCorrections(ctx, cid); err != nil {
			return nil, err
		}
		if corrected.PriorAmountMinor, err = tx.SumCorrectionAmounts(ctx, cid); err != nil {
			return nil, err
		}
		in.CorrectsID = cid
	} else if rate, err = rateFor(ctx, tx, amount, in.BookingDate, b.Currency); err != nil {
		return nil, err
	}
	var commitment *domain.Commitment
	if name := pb.GetCommitment(); name != "" {
		var cb, cl, cid string
		domain.CommitmentPattern.Scan(name, &cb, &cl, &cid)
		commitment, err = tx.GetCommitment(ctx, cb, cl, cid)
		if errors.Is(err, domain.ErrCommitmentNotFound) {
			return nil, fault.Field("actual.commitment", domain.ErrCommitmentNotFound.Reason, "the commitment "+name+" does not exist")
		} else if err != nil {
			return nil, err
		}
		if err := domain.CheckCommitmentFor(commitment, fc.chain.ID, lineID); err != nil {
			return nil, err
		}
		in.CommitmentID, in.CommitmentBudgetID = cid, commitment.BudgetID
	}
	return s.addActual(ctx, tx, req, on, in, rate, corrected, commitment)
}

// addActual records the actual in on the line of on: corrected is the actual it corrects (nil for
// none), commitment the commitment it consumes (nil for none), which releases as much as the
// actual converts to, at most what remains. req is the call's request, nil for an actual recorded
// from another service's event.
func (s *Server) addActual(ctx context.Context, tx store.Tx, req proto.Message, on spendOn, in domain.ActualInput,
	rate *domain.ExchangeRate, corrected *domain.Corrected, commitment *domain.Commitment) (*budgetv1.Actual, error) {
	out, err := s.bookActual(ctx, tx, req, on, in, rate, corrected, commitment, actor(ctx))
	if err != nil {
		return nil, err
	}
	return out, on.figures.finish(ctx, out.GetName())
}

// bookActual is addActual as part of the figures change on.figures, which the caller finishes
// (so that several actuals, or an approval and the actuals it books, raise each alert once),
// with creator as the actual's creator.
func (s *Server) bookActual(ctx context.Context, tx store.Tx, req proto.Message, on spendOn, in domain.ActualInput,
	rate *domain.ExchangeRate, corrected *domain.Corrected, commitment *domain.Commitment, creator string) (*budgetv1.Actual, error) {
	b, fc, lineID := on.budget, on.figures, on.lineID
	now := s.now()
	a, err := domain.NewActual(on.id, b, in, rate, corrected, creator, now)
	if err != nil {
		return nil, err
	}
	var commitmentPrev int64
	if commitment != nil {
		commitmentPrev = commitment.Version
		a.ReleasedMinor = commitment.ReleaseFor(a.ConvertedMinor, now)
	}
	if err := tx.InsertActual(ctx, a); err != nil {
		return nil, err
	}
	if err := fc.addSpend(ctx, lineID, a.Period, a.ConvertedMinor, 0); err != nil {
		return nil, err
	}
	out := actualToProto(a, b)
	if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: a.Name(), After: out,
		Event: &budgetv1.ActualRecorded{Actual: out, Version: 1}}); err != nil {
		return nil, err
	}
	if a.ReleasedMinor > 0 {
		if err := tx.UpdateCommitment(ctx, commitment, commitmentPrev); err != nil {
			return nil, err
		}
		if err := fc.addSpend(ctx, lineID, commitment.Period, 0, -a.ReleasedMinor); err != nil {
			return nil, err
		}
		cb, err := s.commitmentBudget(ctx, tx, commitment, b)
		if err != nil {
			return nil, err
		}
		if err := tx.Emit(ctx, commitment.Name(), &budgetv1.CommitmentReleased{
			Commitment: commitmentToProto(commitment, cb), ReleasedAmount: moneyPB(a.ReleasedMinor, b.Currency),
			Actual: a.Name(), Version: commitment.Version,
		}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// commitmentBudget is the revision a commitment was recorded under: b, or an earlier revision of
// its chain.
func (s *Server) commitmentBudget(ctx context.Context, tx store.Tx, c *domain.Commitment, b *domain.Budget) (*domain.Budget, error) {
	if c.BudgetID == b.ID {
		return b, nil
	}
	return tx.GetBudget(ctx, c.BudgetID)
}

// GetActual implements budgetv1.BudgetServiceServer.
func (s *Server) GetActual(ctx context.Context, req *budgetv1.GetActualRequest) (*budgetv1.Actual, error) {
	var budgetID, lineID, id string
	domain.ActualPattern.Scan(req.GetName(), &budgetID, &lineID, &id)
	a, err := s.store.GetActual(ctx, budgetID, lineID, id)
	return getRecorded(ctx, s, req.GetName(), budgetID, a, err, actualToProto)
}

// ListActuals implements budgetv1.BudgetServiceServer. Budget and line may be the wildcard "-".
func (s *Server) ListActuals(ctx context.Context, req *budgetv1.ListActualsRequest) (*budgetv1.ListActualsResponse, error) {
	page, token, err := listing.List(ctx, req, store.ActualTable, lineChildren(req.GetParent(), s.store.ListActuals),
		underBudget(ctx, s, func(a *domain.Actual) string { return a.BudgetID }, actualToProto))
	if err != nil {
		return nil, err
	}
	return &budgetv1.ListActualsResponse{Actuals: page, NextPageToken: token}, nil
}

// ListDeferredActuals implements budgetv1.BudgetServiceServer.
func (s *Server) ListDeferredActuals(ctx context.Context, req *budgetv1.ListDeferredActualsRequest) (*budgetv1.ListDeferredActualsResponse, error) {
	page, token, err := listing.List(ctx, req, store.DeferredActualTable, costCenterChildren(req.GetParent(), s.store.ListDeferredActuals),
		listing.Infallible(deferredActualToProto))
	if err != nil {
		return nil, err
	}
	return &budgetv1.ListDeferredActualsResponse{DeferredActuals: page, NextPageToken: token}, nil
}

// DeleteDeferredActual implements budgetv1.BudgetServiceServer. The row is read locked, as the
// approval that would book it reads it (store.Tx.DeferredActuals): a deletion racing that
// approval waits for it and finds the invoice booked and gone (NOT_FOUND), or deletes it first
// and the approval, which waited, no longer reads it. The deletion is remembered
// (store.Tx.MarkDeferredDeleted), so that a later event of the same invoice does not defer it
// again.
func (s *Server) DeleteDeferredActual(ctx context.Context, req *budgetv1.DeleteDeferredActualRequest) (*emptypb.Empty, error) {
	var costCenterID, id string
	domain.DeferredActualPattern.Scan(req.GetName(), &costCenterID, &id)
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		d, err := tx.GetDeferredActual(ctx, costCenterID, id)
		if err != nil {
			return fault.Named(err, req.GetName())
		}
		if err := tx.DeleteDeferredActual(ctx, d.ID); err != nil {
			return err
		}
		if err := tx.MarkDeferredDeleted(ctx, d.ID, s.now()); err != nil {
			return err
		}
		pb := deferredActualToProto(d)
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: d.Name(), Before: pb,
			Event: &budgetv1.DeferredActualDeleted{DeferredActual: pb, Version: deletedDeferredVersion}})
	}))
}

// deferredActualToProto is d as the API shows it.
func deferredActualToProto(d *domain.DeferredActual) *budgetv1.DeferredActual {
	return &budgetv1.DeferredActual{
		Name:              d.Name(),
		FiscalYear:        d.FiscalYear,
		BudgetLineId:      d.LineID,
		Amount:            money.ToProto(d.Amount),
		BookingDate:       civil.ToProto(d.BookingDate),
		Description:       d.Description,
		ExternalReference: d.SourceRef,
		Contract:          d.Contract,
		CreateTime:        timestamppb.New(d.CreateTime),
	}
}

// actualToProto is an actual recorded under budget revision b. The corrected actual and the
// commitment are named under the revisions they were recorded under, which may be earlier ones.
func actualToProto(a *domain.Actual, b *domain.Budget) *budgetv1.Actual {
	pb := &budgetv1.Actual{
		Name:              a.Name(),
		Amount:            money.ToProto(a.Amount),
		ConvertedAmount:   moneyPB(a.ConvertedMinor, b.Currency),
		Rate:              rateUsePB(a.Rate),
		BookingDate:       civil.ToProto(a.BookingDate),
		Period:            periodLabel(b.FiscalYear, a.Period),
		Description:       a.Description,
		Source:            budgetv1.Actual_Source(a.Source),
		ExternalReference: a.ExternalRef,
		Creator:           a.Creator,
		CreateTime:        timestamppb.New(a.CreateTime),
	}
	if a.CorrectsID != "" {
		pb.Corrects = domain.ActualPattern.Format(a.CorrectsBudgetID, a.LineID, a.CorrectsID)
	}
	if a.CommitmentID != "" {
		pb.Commitment = domain.CommitmentPattern.Format(a.CommitmentBudgetID, a.LineID, a.CommitmentID)
		pb.ReleasedCommitmentAmount = moneyPB(a.ReleasedMinor, b.Currency)
	}
	return pb
}
