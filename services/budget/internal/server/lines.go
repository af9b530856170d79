package server

import (
	"context"
	"slices"
	"time"

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
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// lineMask follows the field behaviors of the BudgetLine message; its writable fields are
// domain.LineWritableFields (a test keeps the two in step).
var lineMask = fieldmask.FromDescriptor((&budgetv1.BudgetLine{}).ProtoReflect().Descriptor(), "name", "etag")

// The request paths of a line's amounts, named by their violations.
const (
	fieldLinePlanned = "budget_line.planned_amount"
	fieldLinePhasing = "budget_line.phasing"
)

// lineReader reads lines and their budgets: the store, or a transaction that locks what it reads.
type lineReader interface {
	GetBudget(ctx context.Context, id string) (*domain.Budget, error)
	GetLine(ctx context.Context, budgetID, id string) (*domain.Line, error)
}

// getLine reads the line named name and its budget revision, the budget first (CreateBudgetLine
// locks it first too: the line's planned amount is part of the budget's). A missing budget is
// the line's NOT_FOUND as well.
func getLine(ctx context.Context, r lineReader, name string) (*domain.Budget, *domain.Line, error) {
	var budgetID, id string
	domain.LinePattern.Scan(name, &budgetID, &id)
	b, err := r.GetBudget(ctx, budgetID)
	if err != nil {
		return nil, nil, fault.Named(domain.ErrLineNotFound, name)
	}
	l, err := r.GetLine(ctx, budgetID, id)
	if err != nil {
		return nil, nil, fault.Named(err, name)
	}
	return b, l, nil
}

// editLine is getLine for a change of the line: the client's etag, if any, must be the line's,
// and its budget must be a draft.
func editLine(ctx context.Context, tx store.Tx, name, givenEtag string) (*domain.Budget, *domain.Line, error) {
	b, l, err := getLine(ctx, tx, name)
	if err != nil {
		return nil, nil, err
	}
	if err := etag.Check(givenEtag, l.Name(), l.Version); err != nil {
		return nil, nil, err
	}
	return b, l, domain.CheckEditable(b)
}

// lineFields takes the writable fields of a request's line; amounts are converted into minor
// units of the budget currency cur only when paths names them (all of them when paths is nil).
func lineFields(pb *budgetv1.BudgetLine, cur domain.Currency, paths []string) (domain.LineFields, error) {
	f := domain.LineFields{
		DisplayName: pb.GetDisplayName(),
		Category:    domain.Category(pb.GetCategory()),
		ExpenseType: domain.ExpenseType(pb.GetExpenseType()),
		Thresholds:  pb.GetThresholdPercents(),
		Tag:         pb.GetTag(),
		Description: pb.GetDescription(),
	}
	// The first unusable amount is the error, with its own reason (AMOUNT_TOO_PRECISE …) on
	// its field.
	if paths == nil || slices.Contains(paths, domain.FieldLinePlanned) {
		planned, err := budgetMinor(pb.GetPlannedAmount(), cur, fieldLinePlanned)
		if err != nil {
			return f, err
		}
		f.PlannedMinor = planned
	}
	if paths == nil || slices.Contains(paths, domain.FieldLinePhasing) {
		p, err := phasingFromPB(pb.GetPhasing(), cur, fieldLinePhasing)
		if err != nil {
			return f, err
		}
		f.Phasing = p
	}
	return f, nil
}

// lineBalance returns the line's spend in its budget's chain.
func lineBalance(ctx context.Context, r store.Reader, chainID, lineID string) (*domain.LineBalance, error) {
	bals, err := r.LineBalances(ctx, chainID)
	if err != nil {
		return nil, err
	}
	for _, b := range bals {
		if b.LineID == lineID {
			return b, nil
		}
	}
	return nil, nil
}

// addPlanned moves the budget's planned total by delta minor units: a new version of the
// budget, without an event of its own (the line's event tells what changed).
func addPlanned(ctx context.Context, tx store.Tx, b *domain.Budget, delta int64, now time.Time) error {
	if delta == 0 {
		return nil
	}
	total, err := money.AddMinor(b.PlannedMinor, delta)
	if err != nil {
		return err
	}
	prev := b.Version
	b.PlannedMinor = total
	b.Version++
	b.UpdateTime = now.UTC().Truncate(time.Microsecond)
	return tx.UpdateBudget(ctx, b, prev)
}

// CreateBudgetLine implements budgetv1.BudgetServiceServer.
func (s *Server) CreateBudgetLine(ctx context.Context, req *budgetv1.CreateBudgetLineRequest) (*budgetv1.BudgetLine, error) {
	id := req.GetBudgetLineId()
	if id == "" {
		id = s.newID()
	}
	in := req.GetBudgetLine()
	return idempotency.InTx(ctx, s.store.Within, budgetv1.BudgetService_CreateBudgetLine_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*budgetv1.BudgetLine, error) {
		b, err := names.Get(ctx, domain.BudgetPattern, req.GetParent(), tx.GetBudget)
		if err != nil {
			return nil, err
		}
		if err := domain.CheckEditable(b); err != nil {
			return nil, err
		}
		fields, err := lineFields(in, b.Currency, nil)
		if err != nil {
			return nil, err
		}
		if in.GetPlannedAmount() == nil {
			return nil, fault.Field(fieldLinePlanned, "REQUIRED", "planned_amount is required")
		}
		now := s.now()
		l, err := domain.NewLine(id, b.ID, fields, now)
		if err != nil {
			return nil, err
		}
		if err := tx.InsertLine(ctx, l); err != nil {
			return nil, err
		}
		if err := addPlanned(ctx, tx, b, l.PlannedMinor, now); err != nil {
			return nil, err
		}
		pb := s.lineToProto(l, nil, b.Currency)
		return pb, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: l.Name(), After: pb,
			Event: &budgetv1.BudgetLineCreated{Line: pb, Version: l.Version}})
	})
}

// GetBudgetLine implements budgetv1.BudgetServiceServer.
func (s *Server) GetBudgetLine(ctx context.Context, req *budgetv1.GetBudgetLineRequest) (*budgetv1.BudgetLine, error) {
	b, l, err := getLine(ctx, s.store, req.GetName())
	if err != nil {
		return nil, err
	}
	bal, err := lineBalance(ctx, s.store, b.ChainID, l.ID)
	if err != nil {
		return nil, err
	}
	return s.lineToProto(l, bal, b.Currency), nil
}

// ListBudgetLines implements budgetv1.BudgetServiceServer. Each line carries its spend figures,
// which count the spend of every revision of its budget.
func (s *Server) ListBudgetLines(ctx context.Context, req *budgetv1.ListBudgetLinesRequest) (*budgetv1.ListBudgetLinesResponse, error) {
	var (
		b      *domain.Budget
		byLine map[string]*domain.LineBalance
	)
	// The budget and the balances are read after the query is planned, so that a malformed
	// request is INVALID_ARGUMENT before a missing budget is NOT_FOUND.
	fetch := func(ctx context.Context, q *listing.Query) ([]*domain.Line, error) {
		var err error
		if b, err = names.Get(ctx, domain.BudgetPattern, req.GetParent(), s.store.GetBudget); err != nil {
			return nil, err
		}
		ls, err := s.store.ListLines(ctx, b.ID, q)
		if err != nil {
			return nil, err
		}
		bals, err := s.store.LineBalances(ctx, b.ChainID)
		if err != nil {
			return nil, err
		}
		byLine = make(map[string]*domain.LineBalance, len(bals))
		for _, bal := range bals {
			byLine[bal.LineID] = bal
		}
		return ls, nil
	}
	page, token, err := listing.List(ctx, req, store.LineTable, fetch,
		func(l *domain.Line) (*budgetv1.BudgetLine, error) {
			return s.lineToProto(l, byLine[l.ID], b.Currency), nil
		})
	if err != nil {
		return nil, err
	}
	return &budgetv1.ListBudgetLinesResponse{BudgetLines: page, NextPageToken: token}, nil
}

// UpdateBudgetLine implements budgetv1.BudgetServiceServer. The budget's planned total follows
// the line's.
func (s *Server) UpdateBudgetLine(ctx context.Context, req *budgetv1.UpdateBudgetLineRequest) (*budgetv1.BudgetLine, error) {
	in := req.GetBudgetLine()
	if !domain.LinePattern.ScanResource(in.GetName()) {
		return nil, domain.LinePattern.Invalid("budget_line.name")
	}
	paths, err := lineMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*budgetv1.BudgetLine, error) {
		b, l, err := editLine(ctx, tx, in.GetName(), in.GetEtag())
		if err != nil {
			return nil, err
		}
		fields, err := lineFields(in, b.Currency, paths)
		if err != nil {
			return nil, err
		}
		bal, err := tx.LineBalance(ctx, b.ChainID, l.ID)
		if err != nil {
			return nil, err
		}
		now := s.now()
		prev, planned, before := l.Version, l.PlannedMinor, s.lineToProto(l, bal, b.Currency)
		changed, err := l.Apply(paths, fields, now)
		if err != nil {
			return nil, err
		}
		out := s.lineToProto(l, bal, b.Currency)
		if len(changed) == 0 {
			return out, nil
		}
		if err := tx.UpdateLine(ctx, l, prev); err != nil {
			return nil, err
		}
		if err := addPlanned(ctx, tx, b, l.PlannedMinor-planned, now); err != nil {
			return nil, err
		}
		return out, tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: l.Name(), Before: before, After: out,
			Event: &budgetv1.BudgetLineUpdated{Line: out, ChangedFields: &fieldmaskpb.FieldMask{Paths: changed}, Version: l.Version}})
	})
}

// DeleteBudgetLine implements budgetv1.BudgetServiceServer.
func (s *Server) DeleteBudgetLine(ctx context.Context, req *budgetv1.DeleteBudgetLineRequest) (*emptypb.Empty, error) {
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		b, l, err := editLine(ctx, tx, req.GetName(), req.GetEtag())
		if err != nil {
			return err
		}
		has, err := tx.LineHasSpend(ctx, b.ChainID, l.ID)
		if err != nil {
			return err
		}
		if err := l.CheckDeletable(has); err != nil {
			return err
		}
		if err := tx.DeleteLine(ctx, b.ID, l.ID, l.Version); err != nil {
			return err
		}
		if err := addPlanned(ctx, tx, b, -l.PlannedMinor, s.now()); err != nil {
			return err
		}
		pb := s.lineToProto(l, nil, b.Currency)
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: l.Name(), Before: pb,
			Event: &budgetv1.BudgetLineDeleted{Line: pb, Version: l.Version + 1}})
	}))
}
