package server

import (
	"context"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// CreateTransfer implements budgetv1.BudgetServiceServer.
func (s *Server) CreateTransfer(ctx context.Context, req *budgetv1.CreateTransferRequest) (*budgetv1.Transfer, error) {
	var budgetID, srcBudgetID, srcLineID, dstBudgetID, dstLineID string
	if !domain.BudgetPattern.ScanResource(req.GetParent(), &budgetID) {
		return nil, domain.BudgetPattern.Invalid("parent")
	}
	pb := req.GetTransfer()
	if !domain.LinePattern.ScanResource(pb.GetSourceLine(), &srcBudgetID, &srcLineID) || srcBudgetID != budgetID {
		return nil, fault.Field("transfer.source_line", "SOURCE_LINE_INVALID", "source_line must be a line of "+req.GetParent())
	}
	if !domain.LinePattern.ScanResource(pb.GetTargetLine(), &dstBudgetID, &dstLineID) {
		return nil, fault.Field("transfer.target_line", "REQUIRED", "target_line must be "+string(domain.LinePattern))
	}
	srcChain, err := s.chainOf(ctx, srcBudgetID)
	if err != nil {
		return nil, err
	}
	dstChain, err := s.chainOf(ctx, dstBudgetID)
	if err != nil {
		return nil, err
	}
	id := s.newID()
	return idempotency.InTx(ctx, s.store.Within, budgetv1.BudgetService_CreateTransfer_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*budgetv1.Transfer, error) {
		src, dst, err := s.lockBudgets(ctx, tx, srcChain, dstChain, srcBudgetID, dstBudgetID)
		if err != nil {
			return nil, err
		}
		amount, err := budgetMinor(pb.GetAmount(), src.Currency, "transfer.amount")
		if err != nil {
			return nil, err
		}
		now := s.now()
		t, err := domain.NewTransfer(id, src, dst, domain.TransferInput{
			SourceLineID: srcLineID, TargetLineID: dstLineID, AmountMinor: amount,
			EffectiveDate: civil.FromProto(pb.GetEffectiveDate()), Reason: pb.GetReason(),
		}, principal(ctx), civil.DateOf(now.UTC()), now)
		if err != nil {
			return nil, err
		}
		sl, err := tx.GetLine(ctx, src.ID, srcLineID)
		if err != nil {
			return nil, fault.Named(err, domain.LineName(src.ID, srcLineID))
		}
		if _, err := tx.GetLine(ctx, dst.ID, dstLineID); err != nil {
			return nil, fault.Named(err, domain.LineName(dst.ID, dstLineID))
		}
		// Refused now what approval would refuse anyway, as long as the figures stay.
		if _, err := sl.Phasing.Take(t.Period, t.AmountMinor); err != nil {
			return nil, err
		}
		if err := s.checkTransferFunds(ctx, tx, src, sl, t.AmountMinor); err != nil {
			return nil, err
		}
		if err := tx.InsertTransfer(ctx, t); err != nil {
			return nil, err
		}
		out := transferToProto(t, src)
		return out, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: t.Name(), After: out,
			Event: &budgetv1.TransferRequested{Transfer: out, Version: t.Version}})
	})
}

// lockBudgets locks the chains of two budget revisions (one when they share it) in ID order and
// returns the revisions (see chainOf).
func (s *Server) lockBudgets(ctx context.Context, tx store.Tx, srcChain, dstChain, srcID, dstID string) (src, dst *domain.Budget, err error) {
	if _, err := tx.LockChains(ctx, srcChain, dstChain); err != nil {
		return nil, nil, err
	}
	if src, err = tx.GetBudget(ctx, srcID); err != nil {
		return nil, nil, fault.Named(err, domain.BudgetName(srcID))
	}
	if dst, err = tx.GetBudget(ctx, dstID); err != nil {
		return nil, nil, fault.Named(err, domain.BudgetName(dstID))
	}
	return src, dst, nil
}

// checkTransferFunds applies the source budget's policy to taking amount from line l.
func (s *Server) checkTransferFunds(ctx context.Context, tx store.Tx, src *domain.Budget, l *domain.Line, amount int64) error {
	bal, err := tx.LineBalance(ctx, src.ChainID, l.ID)
	if err != nil {
		return err
	}
	available, err := bal.Available(l.PlannedMinor)
	if err != nil {
		return err
	}
	return domain.CheckCommitFunds(src.Policy, l.Name(), available, amount, src.Currency)
}

// GetTransfer implements budgetv1.BudgetServiceServer.
func (s *Server) GetTransfer(ctx context.Context, req *budgetv1.GetTransferRequest) (*budgetv1.Transfer, error) {
	var budgetID, id string
	domain.TransferPattern.Scan(req.GetName(), &budgetID, &id)
	t, err := s.store.GetTransfer(ctx, budgetID, id)
	return getRecorded(ctx, s, req.GetName(), budgetID, t, err, transferToProto)
}

// ListTransfers implements budgetv1.BudgetServiceServer; "budgets/-" lists across budgets.
func (s *Server) ListTransfers(ctx context.Context, req *budgetv1.ListTransfersRequest) (*budgetv1.ListTransfersResponse, error) {
	budgetID, ok := domain.BudgetPattern.Last(req.GetParent()) // the wildcard is store.Wildcard
	if !ok {
		return nil, domain.BudgetPattern.Invalid("parent")
	}
	fetch := func(ctx context.Context, q *listing.Query) ([]*domain.Transfer, error) {
		return s.store.ListTransfers(ctx, budgetID, q)
	}
	page, token, err := listing.List(ctx, req, store.TransferTable, fetch,
		underBudget(ctx, s, func(t *domain.Transfer) string { return t.BudgetID }, transferToProto))
	if err != nil {
		return nil, err
	}
	return &budgetv1.ListTransfersResponse{Transfers: page, NextPageToken: token}, nil
}

// ApproveTransfer implements budgetv1.BudgetServiceServer: the money moves between the lines'
// plans, with the alerts that moves crosses on either line.
func (s *Server) ApproveTransfer(ctx context.Context, req *budgetv1.ApproveTransferRequest) (*budgetv1.Transfer, error) {
	return s.decideTransfer(ctx, req, req.GetName(), req.GetEtag(), budgetv1.BudgetService_ApproveTransfer_FullMethodName,
		func(ctx context.Context, tx store.Tx, t *domain.Transfer, src *domain.Budget, now time.Time) (sqlstore.Event, error) {
			if err := t.Approve(principal(ctx), req.GetReason(), now); err != nil {
				return nil, err
			}
			if err := s.applyTransfer(ctx, tx, t, now); err != nil {
				return nil, err
			}
			return &budgetv1.TransferApproved{Transfer: transferToProto(t, src), Version: t.Version}, nil
		})
}

// RejectTransfer implements budgetv1.BudgetServiceServer.
func (s *Server) RejectTransfer(ctx context.Context, req *budgetv1.RejectTransferRequest) (*budgetv1.Transfer, error) {
	return s.decideTransfer(ctx, req, req.GetName(), req.GetEtag(), budgetv1.BudgetService_RejectTransfer_FullMethodName,
		func(ctx context.Context, tx store.Tx, t *domain.Transfer, src *domain.Budget, now time.Time) (sqlstore.Event, error) {
			if err := t.Reject(principal(ctx), req.GetReason(), now); err != nil {
				return nil, err
			}
			return &budgetv1.TransferRejected{Transfer: transferToProto(t, src), Version: t.Version}, nil
		})
}

type transferDecision func(ctx context.Context, tx store.Tx, t *domain.Transfer, src *domain.Budget, now time.Time) (sqlstore.Event, error)

// decideTransfer locks the chains of both budgets of a transfer, then the transfer, and applies
// decide to it.
func (s *Server) decideTransfer(ctx context.Context, req idempotency.Request, name, tag, method string, decide transferDecision) (*budgetv1.Transfer, error) {
	var budgetID, id string
	domain.TransferPattern.Scan(name, &budgetID, &id)
	// The budgets never change, so they can be read before the locks are taken.
	t0, err := s.store.GetTransfer(ctx, budgetID, id)
	if err != nil {
		return nil, fault.Named(err, name)
	}
	srcChain, err := s.chainOf(ctx, t0.BudgetID)
	if err != nil {
		return nil, err
	}
	dstChain, err := s.chainOf(ctx, t0.TargetBudgetID)
	if err != nil {
		return nil, err
	}
	return idempotency.InTx(ctx, s.store.Within, method, req, func(ctx context.Context, tx store.Tx) (*budgetv1.Transfer, error) {
		src, _, err := s.lockBudgets(ctx, tx, srcChain, dstChain, t0.BudgetID, t0.TargetBudgetID)
		if err != nil {
			return nil, err
		}
		t, err := tx.GetTransfer(ctx, budgetID, id)
		if err != nil {
			return nil, fault.Named(err, name)
		}
		if err := etag.Check(tag, t.Name(), t.Version); err != nil {
			return nil, err
		}
		before, prev := transferToProto(t, src), t.Version
		ev, err := decide(ctx, tx, t, src, s.now())
		if err != nil {
			return nil, err
		}
		if err := tx.UpdateTransfer(ctx, t, prev); err != nil {
			return nil, err
		}
		out := transferToProto(t, src)
		return out, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: t.Name(), Before: before, After: out, Event: ev})
	})
}

// applyTransfer moves an approved transfer's money; the chains are locked.
func (s *Server) applyTransfer(ctx context.Context, tx store.Tx, t *domain.Transfer, now time.Time) error {
	src, err := tx.GetBudget(ctx, t.BudgetID)
	if err != nil {
		return err
	}
	dst, err := tx.GetBudget(ctx, t.TargetBudgetID)
	if err != nil {
		return err
	}
	for _, b := range []*domain.Budget{src, dst} {
		if err := b.CheckSpendable(); err != nil {
			return err
		}
	}
	srcChain, err := tx.LockChain(ctx, src.ChainID)
	if err != nil {
		return err
	}
	fcs := []*figuresChange{}
	srcFC, err := s.beginFigures(ctx, tx, srcChain)
	if err != nil {
		return err
	}
	fcs = append(fcs, srcFC)
	dstFC := srcFC
	if dst.ChainID != src.ChainID {
		dstChain, err := tx.LockChain(ctx, dst.ChainID)
		if err != nil {
			return err
		}
		if dstFC, err = s.beginFigures(ctx, tx, dstChain); err != nil {
			return err
		}
		fcs = append(fcs, dstFC)
	}
	sl, err := srcFC.line(t.SourceLineID)
	if err != nil {
		return err
	}
	tl, err := dstFC.line(t.TargetLineID)
	if err != nil {
		return err
	}
	available, err := srcFC.available(sl.ID)
	if err != nil {
		return err
	}
	if err := domain.CheckCommitFunds(src.Policy, sl.Name(), available, t.AmountMinor, src.Currency); err != nil {
		return err
	}
	// figuresChange versions the lines it writes; ApplyTransfer's own increments are undone so
	// that each line moves on from its stored version exactly once per event.
	sv, tv := sl.Version, tl.Version
	if err := domain.ApplyTransfer(t, sl, tl, now); err != nil {
		return err
	}
	sl.Version, tl.Version = sv, tv
	srcFC.setPlan(sl, "planned_amount", "phasing")
	dstFC.setPlan(tl, "planned_amount", "phasing")
	for _, fc := range fcs {
		if err := fc.finish(ctx, t.Name()); err != nil {
			return err
		}
	}
	return nil
}

// transferToProto is a transfer whose source line is in budget revision src.
func transferToProto(t *domain.Transfer, src *domain.Budget) *budgetv1.Transfer {
	return &budgetv1.Transfer{
		Name:           t.Name(),
		SourceLine:     domain.LineName(t.BudgetID, t.SourceLineID),
		TargetLine:     domain.LineName(t.TargetBudgetID, t.TargetLineID),
		Amount:         moneyPB(t.AmountMinor, src.Currency),
		EffectiveDate:  civil.ToProto(t.EffectiveDate),
		Period:         periodLabel(src.FiscalYear, t.Period),
		Reason:         t.Reason,
		State:          budgetv1.Transfer_State(t.State),
		Requester:      t.Requester,
		Decider:        t.Decider,
		DecisionTime:   optionalTime(t.DecisionTime),
		DecisionReason: t.DecisionReason,
		CreateTime:     timestamppb.New(t.CreateTime),
		UpdateTime:     timestamppb.New(t.UpdateTime),
		Etag:           etag.Of(t.Name(), t.Version),
	}
}
