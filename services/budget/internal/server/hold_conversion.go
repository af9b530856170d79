package server

import (
	"context"
	"errors"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// Commitment is the commitment a consumer records for a change committed elsewhere — a
// contract's activation (ADR 0010) — when it cannot be converted from a hold: the hold is
// unknown, released, or none was named.
type Commitment struct {
	// ID is the commitment's ID: chosen by the caller so that a redelivered event records the
	// same commitment (a UUID, or any `[a-z0-9][a-z0-9-]{0,62}`); the commitment converted from
	// a hold takes it too. A new ID is drawn when it is empty.
	ID string
	// Line is the line's name, `budgets/{budget}/lines/{line}`; the commitment is recorded on
	// the line of that ID in the revision of the budget in force.
	Line string
	// Amount is the whole value, in its own currency; the part of the service period in the
	// budget's fiscal year is committed (domain.FiscalShare), converted with the rate of that
	// part's first day's month.
	Amount money.Amount
	// ServiceStart and ServiceEnd are the first and last day of the service period.
	ServiceStart, ServiceEnd civil.Date
	// Source is what promised the money (budgetv1.Commitment_CONTRACT for a contract).
	Source budgetv1.Commitment_Source
	// SourceRef names the resource that promised it, e.g. `vendors/acme/contracts/c-1`.
	SourceRef   string
	Description string
	// Creator is who the commitment is recorded as created by; empty for the caller in the
	// context (actor). A commitment deferred to an approval is the system's, not the approver's.
	Creator string
}

// ConvertHold records, in tx, the commitment for the change the hold named holdName was held
// for, and returns it:
//
//   - a HELD hold, or an EXPIRED one (the event arrived after it lapsed), becomes CONVERTED: a
//     commitment of its amount (as held: the same part, rate and period) with `hold` set is
//     recorded, its money moves from held to committed, and commitment.recorded and
//     hold.released (state CONVERTED) are published. The commitment takes fallback.ID;
//   - a hold already CONVERTED returns its commitment, and nothing changes or is published;
//   - an unknown or RELEASED hold, or an empty holdName, records fallback instead, without the
//     funds check: an active contract always gets its commitment, and line.overspent and the
//     thresholds it crosses are published as for any commitment. A commitment that already has
//     fallback.ID is returned as it is.
//
// Errors: the line's budget has no revision in force or it is closed (FAILED_PRECONDITION,
// BUDGET_NOT_APPROVED / BUDGET_CLOSED), the line is not in the revision in force (NOT_FOUND),
// fallback's money or dates are invalid or outside the fiscal year (INVALID_ARGUMENT,
// FAILED_PRECONDITION), no exchange rate for the month (FAILED_PRECONDITION
// EXCHANGE_RATE_MISSING), or the store's.
func (s *Server) ConvertHold(ctx context.Context, tx store.Tx, holdName string, fallback Commitment) (*budgetv1.Commitment, error) {
	var budgetID, lineID, id string
	if holdName != "" && domain.HoldPattern.ScanResource(holdName, &budgetID, &lineID, &id) {
		out, converted, err := s.convertHold(ctx, tx, budgetID, lineID, id, fallback.ID)
		if err != nil || converted {
			return out, err
		}
	}
	return s.recordFallback(ctx, tx, fallback)
}

// convertHold converts the hold if it is HELD or EXPIRED, returns its commitment if it is
// CONVERTED, and reports converted false when it is unknown or RELEASED.
func (s *Server) convertHold(ctx context.Context, tx store.Tx, budgetID, lineID, id, commitmentID string) (*budgetv1.Commitment, bool, error) {
	chainID, err := tx.ChainOf(ctx, budgetID)
	if errors.Is(err, domain.ErrBudgetNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	chain, b, err := s.lockBudget(ctx, tx, chainID, budgetID)
	if err != nil {
		return nil, false, err
	}
	h, err := tx.GetHold(ctx, budgetID, lineID, id)
	if errors.Is(err, domain.ErrHoldNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	switch h.State {
	case domain.HoldConverted:
		out, err := s.storedCommitment(ctx, tx, h.CommitmentID)
		return out, err == nil, err
	case domain.HoldReleased:
		return nil, false, nil
	}
	fc, err := s.beginFigures(ctx, tx, chain)
	if err != nil {
		return nil, false, err
	}
	if err := fc.budget.CheckSpendable(); err != nil {
		return nil, false, err
	}
	if _, err := fc.line(h.LineID); err != nil {
		return nil, false, err
	}
	if commitmentID == "" {
		commitmentID = s.newID()
	}
	now := s.now()
	holding := h.Holding()
	before, prev := holdToProto(h, b), h.Version
	// The commitment is the hold's money: whoever placed the hold committed it.
	c := h.Commitment(commitmentID, fc.budget, h.Creator, now)
	if err := h.Convert(c.BudgetID, c.ID, now); err != nil {
		return nil, false, err
	}
	if err := tx.InsertCommitment(ctx, c); err != nil {
		return nil, false, err
	}
	if err := tx.UpdateHold(ctx, h, prev); err != nil {
		return nil, false, err
	}
	if holding {
		if err := fc.addHeld(ctx, h.LineID, h.Period, -h.HeldMinor); err != nil {
			return nil, false, err
		}
	}
	if err := fc.addSpend(ctx, c.LineID, c.Period, 0, c.ConvertedMinor); err != nil {
		return nil, false, err
	}
	out := commitmentToProto(c, fc.budget)
	if err := tx.Record(ctx, sqlstore.Change{Action: audit.Create, Resource: c.Name(), After: out,
		Event: &budgetv1.CommitmentRecorded{Commitment: out, Version: c.Version}}); err != nil {
		return nil, false, err
	}
	hout := holdToProto(h, b)
	if err := tx.Record(ctx, sqlstore.Change{Action: audit.Update, Resource: h.Name(), Before: before, After: hout,
		Event: &budgetv1.HoldReleased{Hold: hout, Version: h.Version}}); err != nil {
		return nil, false, err
	}
	return out, true, fc.finish(ctx, c.Name())
}

// storedCommitment returns the commitment with the ID as the API shows it.
func (s *Server) storedCommitment(ctx context.Context, tx store.Tx, id string) (*budgetv1.Commitment, error) {
	c, err := tx.CommitmentByID(ctx, id)
	if err != nil {
		return nil, err
	}
	b, err := tx.GetBudget(ctx, c.BudgetID)
	if err != nil {
		return nil, err
	}
	return commitmentToProto(c, b), nil
}

// recordFallback records f on its line with no funds check, or returns the commitment that
// already has f's ID.
func (s *Server) recordFallback(ctx context.Context, tx store.Tx, f Commitment) (*budgetv1.Commitment, error) {
	if f.ID != "" {
		out, err := s.storedCommitment(ctx, tx, f.ID)
		if !errors.Is(err, domain.ErrCommitmentNotFound) {
			return out, err
		}
	}
	var budgetID, lineID string
	if !domain.LinePattern.ScanResource(f.Line, &budgetID, &lineID) {
		return nil, domain.LinePattern.Invalid("line")
	}
	chainID, err := tx.ChainOf(ctx, budgetID)
	if err != nil {
		return nil, err
	}
	chain, err := tx.LockChain(ctx, chainID)
	if err != nil {
		return nil, err
	}
	fc, err := s.beginFigures(ctx, tx, chain)
	if err != nil {
		return nil, err
	}
	out, err := s.recordIn(ctx, tx, fc, lineID, f)
	if err != nil {
		return nil, err
	}
	return out, fc.finish(ctx, out.GetName())
}

// recordIn records f on line lineID of the revision in force of fc, with no funds check, as
// part of the figures change fc, which the caller finishes.
func (s *Server) recordIn(ctx context.Context, tx store.Tx, fc *figuresChange, lineID string, f Commitment) (*budgetv1.Commitment, error) {
	b := fc.budget
	if err := b.CheckSpendable(); err != nil {
		return nil, err
	}
	if _, err := fc.line(lineID); err != nil {
		return nil, err
	}
	term, err := domain.FiscalShare(b.Calendar(), b.FiscalYear, f.Amount, f.ServiceStart, f.ServiceEnd, "commitment")
	if err != nil {
		return nil, err
	}
	in := domain.CommitmentInput{
		LineID: lineID, Amount: term.Part, Date: term.First, Description: f.Description,
		Source: domain.CommitmentSource(f.Source), SourceRef: f.SourceRef,
	}
	rate, err := rateFor(ctx, tx, in.Amount, in.Date, b.Currency)
	if err != nil {
		return nil, err
	}
	id := f.ID
	if id == "" {
		id = s.newID()
	}
	creator := f.Creator
	if creator == "" {
		creator = actor(ctx)
	}
	c, err := domain.NewCommitment(id, b, in, rate, creator, s.now())
	if err != nil {
		return nil, err
	}
	// No funds check: the change it records is committed already (ADR 0010).
	if err := tx.InsertCommitment(ctx, c); err != nil {
		return nil, err
	}
	if err := fc.addSpend(ctx, lineID, c.Period, 0, c.ConvertedMinor); err != nil {
		return nil, err
	}
	out := commitmentToProto(c, b)
	if err := tx.Record(ctx, sqlstore.Change{Action: audit.Create, Resource: c.Name(), After: out,
		Event: &budgetv1.CommitmentRecorded{Commitment: out, Version: c.Version}}); err != nil {
		return nil, err
	}
	return out, nil
}
