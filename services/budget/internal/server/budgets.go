package server

import (
	"context"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// budgetMask follows the field behaviors of the Budget message; its writable fields are
// domain.BudgetWritableFields (a test keeps the two in step).
var budgetMask = fieldmask.FromDescriptor((&budgetv1.Budget{}).ProtoReflect().Descriptor(), "name", "etag")

// The audit actions of the budget lifecycle's custom methods.
const (
	actionSubmit    = "SUBMIT"
	actionApprove   = "APPROVE"
	actionReject    = "REJECT"
	actionClose     = "CLOSE"
	actionRevise    = "REVISE"
	actionSupersede = "SUPERSEDE"
)

// budgetFields takes the writable fields of a request's budget.
func budgetFields(pb *budgetv1.Budget) domain.BudgetFields {
	return domain.BudgetFields{
		DisplayName: pb.GetDisplayName(),
		Owner:       pb.GetOwner(),
		Description: pb.GetDescription(),
		Policy:      domain.Policy(pb.GetOverspendPolicy()),
	}
}

// CreateBudget implements budgetv1.BudgetServiceServer.
func (s *Server) CreateBudget(ctx context.Context, req *budgetv1.CreateBudgetRequest) (*budgetv1.Budget, error) {
	in := req.GetBudget()
	id := req.GetBudgetId()
	if id == "" {
		id = s.newID()
	}
	ccID, _ := domain.CostCenterPattern.Last(in.GetCostCenter())
	b, err := domain.NewBudget(id, ccID, in.GetFiscalYear(), s.fiscalStart, in.GetCurrencyCode(), budgetFields(in), s.now())
	if ccID == "" {
		// The schema checks the pattern of a given name; a missing one is the domain's to report,
		// together with the other broken rules.
		vs := []fault.Violation{{Field: "budget.cost_center", Reason: "REQUIRED", Description: "cost_center is required"}}
		if fe := fault.As(err); fe != nil {
			vs = append(vs, fe.Violations...)
		}
		return nil, fault.Invalid(vs...)
	}
	if err != nil {
		return nil, err
	}
	return idempotency.InTx(ctx, s.store.Within, budgetv1.BudgetService_CreateBudget_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*budgetv1.Budget, error) {
		// Locked until the commit: the cost centre cannot be deactivated or deleted
		// under a budget being created for it.
		cc, err := tx.GetCostCenter(ctx, ccID)
		if err != nil {
			return nil, fault.Named(err, in.GetCostCenter())
		}
		if !cc.Active {
			return nil, domain.ErrCostCenterInactive.With("cost_center", cc.Name()).
				Withf("cost centre %s is inactive", cc.Name())
		}
		if err := tx.InsertChain(ctx, domain.NewChain(b)); err != nil {
			return nil, err
		}
		if err := tx.InsertBudget(ctx, b); err != nil {
			return nil, err
		}
		pb := budgetToProto(b)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: b.Name(), After: pb,
			Event: &budgetv1.BudgetCreated{Budget: pb, Version: b.Version}})
	})
}

// GetBudget implements budgetv1.BudgetServiceServer.
func (s *Server) GetBudget(ctx context.Context, req *budgetv1.GetBudgetRequest) (*budgetv1.Budget, error) {
	return names.GetAs(ctx, domain.BudgetPattern, req.GetName(), s.store.GetBudget, budgetToProto)
}

// ListBudgets implements budgetv1.BudgetServiceServer.
func (s *Server) ListBudgets(ctx context.Context, req *budgetv1.ListBudgetsRequest) (*budgetv1.ListBudgetsResponse, error) {
	page, token, err := listing.List(ctx, req, store.BudgetTable, s.store.ListBudgets, listing.Infallible(budgetToProto))
	if err != nil {
		return nil, err
	}
	return &budgetv1.ListBudgetsResponse{Budgets: page, NextPageToken: token}, nil
}

// UpdateBudget implements budgetv1.BudgetServiceServer.
func (s *Server) UpdateBudget(ctx context.Context, req *budgetv1.UpdateBudgetRequest) (*budgetv1.Budget, error) {
	in := req.GetBudget()
	if !domain.BudgetPattern.ScanResource(in.GetName()) {
		return nil, domain.BudgetPattern.Invalid("budget.name")
	}
	paths, err := budgetMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*budgetv1.Budget, error) {
		b, err := names.Get(ctx, domain.BudgetPattern, in.GetName(), tx.GetBudget)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), b.Name(), b.Version); err != nil {
			return nil, err
		}
		prev, before := b.Version, budgetToProto(b)
		next := *b
		changed, err := next.Apply(paths, budgetFields(in), s.now())
		if err != nil {
			return nil, err
		}
		if len(changed) > 0 && b.State == domain.StateSuperseded {
			// A superseded revision is history: what was approved stays as it was.
			return nil, b.CheckSpendable()
		}
		out := &next
		if len(changed) == 0 {
			return budgetToProto(out), nil
		}
		if err := tx.UpdateBudget(ctx, out, prev); err != nil {
			return nil, err
		}
		after := budgetToProto(out)
		return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: out.Name(), Before: before, After: after,
			Event: &budgetv1.BudgetUpdated{Budget: after, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: out.Version}})
	})
}

// DeleteBudget implements budgetv1.BudgetServiceServer.
func (s *Server) DeleteBudget(ctx context.Context, req *budgetv1.DeleteBudgetRequest) (*emptypb.Empty, error) {
	return empty(s.onBudget(ctx, req.GetName(), req.GetEtag(), func(ctx context.Context, tx store.Tx, chain *domain.Chain, b *domain.Budget) (*budgetv1.Budget, error) {
		hasSpend := false
		if b.Revision == 1 {
			var err error
			if hasSpend, err = tx.ChainHasSpend(ctx, chain.ID); err != nil {
				return nil, err
			}
		}
		if err := b.CheckDeletable(hasSpend); err != nil {
			return nil, err
		}
		if err := tx.DeleteBudget(ctx, b.ID, b.Version); err != nil {
			return nil, err
		}
		if b.ID == chain.ID {
			// Revision 1 in DRAFT is the chain's only revision: the budget goes with it.
			if err := tx.DeleteChain(ctx, chain.ID, chain.Version); err != nil {
				return nil, err
			}
		} else if chain.OpenID == b.ID {
			prev := chain.Version
			chain.Decided()
			if err := tx.UpdateChain(ctx, chain, prev); err != nil {
				return nil, err
			}
		}
		pb := budgetToProto(b)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: b.Name(), Before: pb,
			Event: &budgetv1.BudgetDeleted{Budget: pb, Version: b.Version + 1}})
	}))
}

// SubmitBudget implements budgetv1.BudgetServiceServer.
func (s *Server) SubmitBudget(ctx context.Context, req *budgetv1.SubmitBudgetRequest) (*budgetv1.Budget, error) {
	return s.lifecycle(ctx, req, budgetv1.BudgetService_SubmitBudget_FullMethodName, req.GetName(), req.GetEtag(),
		func(ctx context.Context, tx store.Tx, chain *domain.Chain, b *domain.Budget) (*budgetv1.Budget, error) {
			lines, err := tx.Lines(ctx, b.ID)
			if err != nil {
				return nil, err
			}
			before, prev := budgetToProto(b), b.Version
			if err := b.Submit(principal(ctx), len(lines), s.now()); err != nil {
				return nil, err
			}
			return s.saveTransition(ctx, tx, req, actionSubmit, b, prev, before, &budgetv1.BudgetSubmitted{})
		})
}

// ApproveBudget implements budgetv1.BudgetServiceServer. Approving a later revision supersedes
// the one in force and re-evaluates the alerts of every line against the new plan.
func (s *Server) ApproveBudget(ctx context.Context, req *budgetv1.ApproveBudgetRequest) (*budgetv1.Budget, error) {
	return s.lifecycle(ctx, req, budgetv1.BudgetService_ApproveBudget_FullMethodName, req.GetName(), req.GetEtag(),
		func(ctx context.Context, tx store.Tx, chain *domain.Chain, b *domain.Budget) (*budgetv1.Budget, error) {
			now := s.now()
			before, prev := budgetToProto(b), b.Version
			if err := b.Approve(principal(ctx), now); err != nil {
				return nil, err
			}
			b.DecisionReason = strings.TrimSpace(req.GetReason())
			// The parts of contracts' renewal terms deferred to this cost centre's budget for the
			// year (renewalIn) are recorded in this transaction, on the lines b brings into force.
			deferred, err := tx.DeferredCommitments(ctx, b.CostCenterID, b.FiscalYear)
			if err != nil {
				return nil, err
			}
			// So are the invoices deferred to it (invoiceRecorded), after the commitments, which
			// they consume.
			invoices, err := tx.DeferredActuals(ctx, b.CostCenterID, b.FiscalYear)
			if err != nil {
				return nil, err
			}
			if chain.InForceID == "" {
				// The first approval: nothing was in force, so nothing was spent. From now on the
				// calendar moves its forecast too: evaluated daily (forecast.go).
				if err := putInForce(ctx, tx, chain, b, now); err != nil {
					return nil, err
				}
				if len(deferred) == 0 && len(invoices) == 0 {
					return s.saveTransition(ctx, tx, req, actionApprove, b, prev, before, &budgetv1.BudgetApproved{})
				}
				return s.approveWithDeferred(ctx, tx, req, chain, b, prev, before, deferred, invoices)
			}

			fc, err := s.beginFigures(ctx, tx, chain)
			if err != nil {
				return nil, err
			}
			old := fc.budget
			if err := s.checkSpendKept(ctx, tx, fc, b); err != nil {
				return nil, err
			}
			oldBefore, oldPrev := budgetToProto(old), old.Version
			if err := old.Supersede(b.ID, now); err != nil {
				return nil, err
			}
			if err := tx.UpdateBudget(ctx, old, oldPrev); err != nil {
				return nil, err
			}
			if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: actionSupersede, Resource: old.Name(), Before: oldBefore,
				After: budgetToProto(old)}); err != nil {
				return nil, err
			}
			// The chain's daily evaluation carries on, on the new plan: one item per chain, whose
			// pending date this keeps; it arms one for a chain first approved before the daily
			// evaluation existed.
			if err := putInForce(ctx, tx, chain, b, now); err != nil {
				return nil, err
			}
			if err := tx.UpdateBudget(ctx, b, prev); err != nil {
				return nil, err
			}
			// The approval's event comes before those of the alerts it raises, its audit record
			// after them, with the state they leave.
			if err := tx.Emit(ctx, b.Name(), &budgetv1.BudgetApproved{Budget: budgetToProto(b), Superseded: old.Name(), Version: b.Version}); err != nil {
				return nil, err
			}
			// The new plan is in force: alerts compare the old revision's lines with its lines,
			// and may raise b's version again (the forecast alert), so it is read afterwards.
			if err := fc.switchTo(ctx, b); err != nil {
				return nil, err
			}
			return s.settleApproval(ctx, tx, req, fc, before, deferred, invoices)
		})
}

// settleApproval ends the approval of fc.budget, whose event is emitted and which fc's figures
// change has in force: it records the commitments and books the invoices deferred to it
// (commitDeferred, then bookDeferred), finishes the figures change — the alerts they raise — and
// records the approval's audit record with the state they leave.
func (s *Server) settleApproval(ctx context.Context, tx store.Tx, req *budgetv1.ApproveBudgetRequest, fc *figuresChange,
	before *budgetv1.Budget, deferred []*domain.DeferredCommitment, invoices []*domain.DeferredActual) (*budgetv1.Budget, error) {
	if err := s.commitDeferred(ctx, tx, fc, deferred); err != nil {
		return nil, err
	}
	if err := s.bookDeferred(ctx, tx, fc, invoices); err != nil {
		return nil, err
	}
	b := fc.budget
	if err := fc.finish(ctx, b.Name()); err != nil {
		return nil, err
	}
	after := budgetToProto(b)
	return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: actionApprove, Resource: b.Name(), Before: before, After: after})
}

// approveWithDeferred saves the first approval of b, from version prev, when commitments or
// invoices are deferred to its cost centre and fiscal year: as for a revision's approval, its
// event comes before those of the commitments it records (commitDeferred), of the actuals it
// books (bookDeferred) and of the alerts they raise, its audit record after them, with the state
// they leave.
func (s *Server) approveWithDeferred(ctx context.Context, tx store.Tx, req *budgetv1.ApproveBudgetRequest, chain *domain.Chain,
	b *domain.Budget, prev int64, before *budgetv1.Budget, deferred []*domain.DeferredCommitment,
	invoices []*domain.DeferredActual) (*budgetv1.Budget, error) {
	if err := tx.UpdateBudget(ctx, b, prev); err != nil {
		return nil, err
	}
	if err := tx.Emit(ctx, b.Name(), &budgetv1.BudgetApproved{Budget: budgetToProto(b), Version: b.Version}); err != nil {
		return nil, err
	}
	fc, err := s.beginFigures(ctx, tx, chain)
	if err != nil {
		return nil, err
	}
	return s.settleApproval(ctx, tx, req, fc, before, deferred, invoices)
}

// checkSpendKept refuses a revision that lacks a line with spend in the chain: the spend
// would no longer belong to any line of the plan in force.
func (s *Server) checkSpendKept(ctx context.Context, tx store.Tx, fc *figuresChange, next *domain.Budget) error {
	lines, err := tx.Lines(ctx, next.ID)
	if err != nil {
		return err
	}
	kept := make(map[string]bool, len(lines))
	for _, l := range lines {
		kept[l.ID] = true
	}
	var gone []string
	for id := range fc.lines {
		if !kept[id] {
			gone = append(gone, id)
		}
	}
	for id := range fc.balances {
		if !kept[id] && !slices.Contains(gone, id) {
			gone = append(gone, id)
		}
	}
	slices.Sort(gone)
	for _, id := range gone {
		has, err := tx.LineHasSpend(ctx, fc.chain.ID, id)
		if err != nil {
			return err
		}
		if has {
			name := domain.LineName(fc.budget.ID, id)
			return domain.ErrLineHasSpend.With("line", name).
				Withf("line %s has spend and is missing from revision %d", name, next.Revision)
		}
	}
	return nil
}

// RejectBudget implements budgetv1.BudgetServiceServer.
func (s *Server) RejectBudget(ctx context.Context, req *budgetv1.RejectBudgetRequest) (*budgetv1.Budget, error) {
	return s.lifecycle(ctx, req, budgetv1.BudgetService_RejectBudget_FullMethodName, req.GetName(), req.GetEtag(),
		func(ctx context.Context, tx store.Tx, chain *domain.Chain, b *domain.Budget) (*budgetv1.Budget, error) {
			before, prev := budgetToProto(b), b.Version
			if err := b.Reject(principal(ctx), req.GetReason(), s.now()); err != nil {
				return nil, err
			}
			if chain.OpenID == b.ID {
				prevChain := chain.Version
				chain.Decided()
				if err := tx.UpdateChain(ctx, chain, prevChain); err != nil {
					return nil, err
				}
			}
			return s.saveTransition(ctx, tx, req, actionReject, b, prev, before, &budgetv1.BudgetRejected{})
		})
}

// CloseBudget implements budgetv1.BudgetServiceServer.
func (s *Server) CloseBudget(ctx context.Context, req *budgetv1.CloseBudgetRequest) (*budgetv1.Budget, error) {
	return s.lifecycle(ctx, req, budgetv1.BudgetService_CloseBudget_FullMethodName, req.GetName(), req.GetEtag(),
		func(ctx context.Context, tx store.Tx, chain *domain.Chain, b *domain.Budget) (*budgetv1.Budget, error) {
			before, prev := budgetToProto(b), b.Version
			if err := b.Close(actor(ctx), chain.OpenID, s.now()); err != nil {
				return nil, err
			}
			// A closed budget takes no more spend: its forecast is final, and what is held on it
			// will never be committed.
			if err := tx.CancelForecastCheck(ctx, chain.ID); err != nil {
				return nil, err
			}
			if err := s.releaseHolds(ctx, tx, req, chain, "budget closed"); err != nil {
				return nil, err
			}
			return s.saveTransition(ctx, tx, req, actionClose, b, prev, before, &budgetv1.BudgetClosed{})
		})
}

// ReviseBudget implements budgetv1.BudgetServiceServer. The new revision is a new budget with
// copies of the lines under their IDs; the revised one is unchanged until it is approved.
func (s *Server) ReviseBudget(ctx context.Context, req *budgetv1.ReviseBudgetRequest) (*budgetv1.Budget, error) {
	newID := req.GetBudgetId()
	if newID == "" {
		newID = s.newID()
	}
	return s.lifecycle(ctx, req, budgetv1.BudgetService_ReviseBudget_FullMethodName, req.GetName(), req.GetEtag(),
		func(ctx context.Context, tx store.Tx, chain *domain.Chain, b *domain.Budget) (*budgetv1.Budget, error) {
			now := s.now()
			latest, err := tx.MaxRevision(ctx, chain.ID)
			if err != nil {
				return nil, err
			}
			n, err := b.Revise(newID, chain.OpenID, latest, now)
			if err != nil {
				return nil, err
			}
			lines, err := tx.Lines(ctx, b.ID)
			if err != nil {
				return nil, err
			}
			if err := tx.InsertBudget(ctx, n); err != nil {
				return nil, err
			}
			for _, l := range domain.CopyLines(lines, n.ID, now) {
				if err := tx.InsertLine(ctx, l); err != nil {
					return nil, err
				}
			}
			prevChain := chain.Version
			chain.Opened(n.ID)
			if err := tx.UpdateChain(ctx, chain, prevChain); err != nil {
				return nil, err
			}
			pb := budgetToProto(n)
			return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: actionRevise, Resource: n.Name(), After: pb,
				Event: &budgetv1.BudgetRevised{Budget: pb, PreviousRevision: b.Name(), Version: n.Version}})
		})
}

// budgetStep changes the budget b of chain inside the transaction of a call; both are locked.
// It returns the resource the call answers with.
type budgetStep func(ctx context.Context, tx store.Tx, chain *domain.Chain, b *domain.Budget) (*budgetv1.Budget, error)

// lifecycle runs a lifecycle call on the budget named name: once per request ID, with its chain
// and the budget locked (chainOf, lockBudget) and the etag checked.
func (s *Server) lifecycle(ctx context.Context, req idempotency.Request, method, name, givenEtag string, step budgetStep) (*budgetv1.Budget, error) {
	id, _ := domain.BudgetPattern.Last(name)
	chainID, err := s.chainOf(ctx, id)
	if err != nil {
		return nil, err
	}
	return idempotency.InTx(ctx, s.store.Within, method, req, func(ctx context.Context, tx store.Tx) (*budgetv1.Budget, error) {
		return s.lockedBudget(ctx, tx, chainID, id, givenEtag, step)
	})
}

// onBudget is lifecycle for a call without a request ID.
func (s *Server) onBudget(ctx context.Context, name, givenEtag string, step budgetStep) error {
	id, _ := domain.BudgetPattern.Last(name)
	chainID, err := s.chainOf(ctx, id)
	if err != nil {
		return err
	}
	return s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		_, err := s.lockedBudget(ctx, tx, chainID, id, givenEtag, step)
		return err
	})
}

func (s *Server) lockedBudget(ctx context.Context, tx store.Tx, chainID, id, givenEtag string, step budgetStep) (*budgetv1.Budget, error) {
	chain, b, err := s.lockBudget(ctx, tx, chainID, id)
	if err != nil {
		return nil, err
	}
	if err := etag.Check(givenEtag, b.Name(), b.Version); err != nil {
		return nil, err
	}
	return step(ctx, tx, chain, b)
}

// saveTransition writes b, changed by a transition from version prev, emits event (filled in
// with the budget and its version) and the audit record.
func (s *Server) saveTransition(ctx context.Context, tx store.Tx, req proto.Message, action string, b *domain.Budget, prev int64,
	before *budgetv1.Budget, event sqlstore.Event) (*budgetv1.Budget, error) {
	if err := tx.UpdateBudget(ctx, b, prev); err != nil {
		return nil, err
	}
	after := budgetToProto(b)
	switch e := event.(type) {
	case *budgetv1.BudgetSubmitted:
		e.Budget, e.Version = after, b.Version
	case *budgetv1.BudgetApproved:
		e.Budget, e.Version = after, b.Version
	case *budgetv1.BudgetRejected:
		e.Budget, e.Version = after, b.Version
	case *budgetv1.BudgetClosed:
		e.Budget, e.Version = after, b.Version
	}
	return after, tx.Record(ctx, sqlstore.Change{Request: req, Action: action, Resource: b.Name(), Before: before, After: after, Event: event})
}
