package server

import (
	"context"
	"errors"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/timestamppb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// rateMask follows the field behaviors of the ExchangeRate message: the month and the pair are
// the rate's identity, so only the rate itself can change.
var rateMask = fieldmask.FromDescriptor((&budgetv1.ExchangeRate{}).ProtoReflect().Descriptor(), "name", "etag")

func exchangeRateToProto(r *domain.ExchangeRate) *budgetv1.ExchangeRate {
	return &budgetv1.ExchangeRate{
		Name:               r.Name(),
		Month:              r.Month.String(),
		SourceCurrencyCode: string(r.Source),
		TargetCurrencyCode: string(r.Target),
		Rate:               r.Value,
		CreateTime:         timestamppb.New(r.CreateTime),
		UpdateTime:         timestamppb.New(r.UpdateTime),
		Etag:               etag.Of(r.Name(), r.Version),
	}
}

// CreateExchangeRate implements budgetv1.BudgetServiceServer. The name follows from the month
// and the pair, so a second rate for them is ALREADY_EXISTS.
func (s *Server) CreateExchangeRate(ctx context.Context, req *budgetv1.CreateExchangeRateRequest) (*budgetv1.ExchangeRate, error) {
	in := req.GetExchangeRate()
	// An unparsable month is the zero month, which the domain reports on its field with the
	// other broken rules.
	m, _ := civil.ParseMonth(in.GetMonth())
	r, err := domain.NewExchangeRate(m, in.GetSourceCurrencyCode(), in.GetTargetCurrencyCode(), in.GetRate(), s.now())
	if err != nil {
		return nil, err
	}
	return idempotency.InTx(ctx, s.store.Within, budgetv1.BudgetService_CreateExchangeRate_FullMethodName, req, func(ctx context.Context, tx store.Tx) (*budgetv1.ExchangeRate, error) {
		if err := checkRateChange(ctx, tx, r, r.Value, req.GetConfirmRateChange()); err != nil {
			return nil, err
		}
		if err := tx.InsertExchangeRate(ctx, r); err != nil {
			return nil, err
		}
		pb := exchangeRateToProto(r)
		if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Create, Resource: r.Name(), After: pb,
			Event: &budgetv1.ExchangeRateCreated{ExchangeRate: pb, Version: r.Version}}); err != nil {
			return nil, err
		}
		// A rate deleted and created again corrects it as an update would.
		return pb, s.revalue(ctx, tx, req, r)
	})
}

// GetExchangeRate implements budgetv1.BudgetServiceServer.
func (s *Server) GetExchangeRate(ctx context.Context, req *budgetv1.GetExchangeRateRequest) (*budgetv1.ExchangeRate, error) {
	return names.GetAs(ctx, domain.ExchangeRatePattern, req.GetName(), s.store.GetExchangeRate, exchangeRateToProto)
}

// ListExchangeRates implements budgetv1.BudgetServiceServer.
func (s *Server) ListExchangeRates(ctx context.Context, req *budgetv1.ListExchangeRatesRequest) (*budgetv1.ListExchangeRatesResponse, error) {
	page, token, err := listing.List(ctx, req, store.ExchangeRateTable, s.store.ListExchangeRates, listing.Infallible(exchangeRateToProto))
	if err != nil {
		return nil, err
	}
	return &budgetv1.ListExchangeRatesResponse{ExchangeRates: page, NextPageToken: token}, nil
}

// UpdateExchangeRate implements budgetv1.BudgetServiceServer. Amounts converted before keep
// the rate they were converted with.
func (s *Server) UpdateExchangeRate(ctx context.Context, req *budgetv1.UpdateExchangeRateRequest) (*budgetv1.ExchangeRate, error) {
	in := req.GetExchangeRate()
	if _, ok := domain.ParseExchangeRateName(in.GetName()); !ok {
		return nil, fault.Field("exchange_rate.name", names.ReasonInvalid,
			"name must be exchangeRates/{yyyy}-{mm}-{source}-{target} with supported currencies")
	}
	paths, err := rateMask.Resolve(req.GetUpdateMask(), in)
	if err != nil {
		return nil, err
	}
	return inTx(ctx, s.store, func(ctx context.Context, tx store.Tx) (*budgetv1.ExchangeRate, error) {
		r, err := names.Get(ctx, domain.ExchangeRatePattern, in.GetName(), tx.GetExchangeRate)
		if err != nil {
			return nil, err
		}
		if err := etag.Check(in.GetEtag(), r.Name(), r.Version); err != nil {
			return nil, err
		}
		if !slices.Contains(paths, "rate") {
			return exchangeRateToProto(r), nil
		}
		if err := checkRateChange(ctx, tx, r, in.GetRate(), req.GetConfirmRateChange()); err != nil {
			return nil, err
		}
		prev, before := r.Version, exchangeRateToProto(r)
		changed, err := r.SetValue(in.GetRate(), s.now())
		if err != nil || !changed {
			return exchangeRateToProto(r), err
		}
		if err := tx.UpdateExchangeRate(ctx, r, prev); err != nil {
			return nil, err
		}
		after := exchangeRateToProto(r)
		if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: r.Name(), Before: before, After: after,
			Event: &budgetv1.ExchangeRateUpdated{ExchangeRate: after, Version: r.Version}}); err != nil {
			return nil, err
		}
		return after, s.revalue(ctx, tx, req, r)
	})
}

// DeleteExchangeRate implements budgetv1.BudgetServiceServer. Spend converted with the rate
// keeps its record of it.
func (s *Server) DeleteExchangeRate(ctx context.Context, req *budgetv1.DeleteExchangeRateRequest) (*emptypb.Empty, error) {
	return empty(s.store.Within(ctx, func(ctx context.Context, tx store.Tx) error {
		r, err := names.Get(ctx, domain.ExchangeRatePattern, req.GetName(), tx.GetExchangeRate)
		if err != nil {
			return err
		}
		if err := etag.Check(req.GetEtag(), r.Name(), r.Version); err != nil {
			return err
		}
		if err := tx.DeleteExchangeRate(ctx, r.ID, r.Version); err != nil {
			return err
		}
		pb := exchangeRateToProto(r)
		return tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Delete, Resource: r.Name(), Before: pb,
			Event: &budgetv1.ExchangeRateDeleted{ExchangeRate: pb, Version: r.Version + 1}})
	}))
}

// checkRateChange refuses value for r when it is far from the pair's rate of the previous month
// and the request does not confirm it (domain.CheckRateChange).
func checkRateChange(ctx context.Context, tx store.Tx, r *domain.ExchangeRate, value string, confirmed bool) error {
	if confirmed {
		return nil
	}
	prev, err := tx.GetExchangeRate(ctx, domain.ExchangeRateID(domain.PreviousMonth(r.Month), r.Source, r.Target))
	if errors.Is(err, domain.ErrExchangeRateNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return domain.CheckRateChange(prev, value, false)
}

// revalue converts again, with the corrected rate r, the open commitments and held holds that
// were converted with an earlier value of it, in the transaction that corrected it: each gets its
// revalued event, and its line's figures and alerts change through a figures change per budget.
// Budgets with no revision in force keep their figures (they are not counted anywhere).
func (s *Server) revalue(ctx context.Context, tx store.Tx, req proto.Message, r *domain.ExchangeRate) error {
	// Find the budgets first, lock them in order, then lock what they hold: the order every other
	// figures change takes.
	cs, err := tx.CommitmentsWithRate(ctx, r.ID, false)
	if err != nil {
		return err
	}
	hs, err := tx.HoldsWithRate(ctx, r.ID, false)
	if err != nil {
		return err
	}
	if len(cs) == 0 && len(hs) == 0 {
		return nil
	}
	ids := make([]string, 0, len(cs)+len(hs))
	for _, c := range cs {
		ids = append(ids, c.ChainID)
	}
	for _, h := range hs {
		ids = append(ids, h.ChainID)
	}
	chains, err := tx.LockChains(ctx, ids...)
	if err != nil {
		return err
	}
	if cs, err = tx.CommitmentsWithRate(ctx, r.ID, true); err != nil {
		return err
	}
	if hs, err = tx.HoldsWithRate(ctx, r.ID, true); err != nil {
		return err
	}
	for _, chain := range chains {
		if chain.InForceID == "" {
			continue
		}
		fc, err := s.beginFigures(ctx, tx, chain)
		if err != nil {
			return err
		}
		if err := s.revalueChain(ctx, tx, req, fc, r, cs, hs); err != nil {
			return err
		}
		if err := fc.finish(ctx, r.Name()); err != nil {
			return err
		}
	}
	return nil
}

// revalueChain revalues the commitments and holds of fc's chain among cs and hs.
func (s *Server) revalueChain(ctx context.Context, tx store.Tx, req proto.Message, fc *figuresChange, r *domain.ExchangeRate,
	cs []*domain.Commitment, hs []*domain.Hold) error {
	b, now := fc.budget, s.now()
	for _, c := range cs {
		if c.ChainID != fc.chain.ID {
			continue
		}
		before, prev, prevRate := commitmentToProto(c, b), c.Version, c.Rate.Value
		delta, changed, err := c.Revalue(r, now)
		if err != nil {
			return err
		}
		if !changed {
			continue
		}
		if err := tx.UpdateCommitment(ctx, c, prev); err != nil {
			return err
		}
		if err := fc.addSpend(ctx, c.LineID, c.Period, 0, delta); err != nil {
			return err
		}
		over, err := fc.overAvailable(c.LineID)
		if err != nil {
			return err
		}
		out := commitmentToProto(c, b)
		if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: c.Name(), Before: before, After: out,
			Event: &budgetv1.CommitmentRevalued{Commitment: out, PreviousConvertedAmount: before.GetConvertedAmount(),
				PreviousRemainingAmount: before.GetRemainingAmount(), PreviousRate: prevRate, ExchangeRate: r.Name(),
				LineOverAvailable: over, Version: c.Version}}); err != nil {
			return err
		}
	}
	for _, h := range hs {
		if h.ChainID != fc.chain.ID {
			continue
		}
		before, prev, prevRate := holdToProto(h, b), h.Version, h.Rate.Value
		delta, changed, err := h.Revalue(r, now)
		if err != nil {
			return err
		}
		if !changed {
			continue
		}
		if err := tx.UpdateHold(ctx, h, prev); err != nil {
			return err
		}
		if err := fc.addHeld(ctx, h.LineID, h.Period, delta); err != nil {
			return err
		}
		over, err := fc.overAvailable(h.LineID)
		if err != nil {
			return err
		}
		out := holdToProto(h, b)
		if err := tx.Record(ctx, sqlstore.Change{Request: req, Action: audit.Update, Resource: h.Name(), Before: before, After: out,
			Event: &budgetv1.HoldRevalued{Hold: out, PreviousHeldAmount: before.GetHeldAmount(), PreviousRate: prevRate,
				ExchangeRate: r.Name(), LineOverAvailable: over, Version: h.Version}}); err != nil {
			return err
		}
	}
	return nil
}
