package server

import (
	"context"
	"errors"
	"fmt"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
)

// Budget applies the talent service's position events to the labour line a position's
// approval held money on, as it applies contract events (ADR 0010, ADR 0013): it makes no call
// and refuses none of them.
//
//   - position.approved converts the approval's hold into the position's labour commitment: the
//     budgeted annual cost from the target start to the fiscal year's end (the part of a year
//     from the target start that falls in the line's fiscal year), or records it from the
//     event's amounts when the hold has lapsed or there is none.
//   - position.filled moves the commitment to the real start: when it differs from the target
//     start, what remains of the approval's commitment is released and the commitment from the
//     real start to the fiscal year's end is recorded in its place (none when the person starts
//     after the year's end).
//   - position.cancelled releases what remains of the position's commitments.
//
// The position's commitments are those of its line with the position's name as source
// reference. An event of an approved position other than its approval needs the approval's
// commitment: until it exists the event fails and is delivered again later, so that the
// approval is never skipped as older than it (see VendorsConsumers).

// TalentConsumers are budget's consumers of the talent service's events: every position event,
// in stream order. Their handler is ApplyTalentEvent.
var TalentConsumers = []struct{ Name, Subject string }{
	{Name: "talent-positions", Subject: "position.>"},
}

// ApplyTalentEvent applies ev, an event of the talent service, within tx, the consumer's
// transaction. Events that cannot be applied whatever happens (a malformed name, an amount out
// of range, a line that does not exist) fail permanently, to become dead letters; the others
// fail to be delivered again.
func (s *Server) ApplyTalentEvent(ctx context.Context, tx store.Tx, ev consumer.Event) error {
	m, ok := ev.Message.(interface{ GetPosition() *talentv1.Position })
	if !ok {
		return consumer.Permanent(fmt.Errorf("budget does not apply %s events", ev.Type))
	}
	hold := ""
	if a, ok := m.(*talentv1.PositionApproved); ok {
		hold = a.GetHold()
	}
	p, err := labourPositionOf(m.GetPosition(), hold)
	if err == nil {
		switch m.(type) {
		case *talentv1.PositionApproved:
			err = s.positionApproved(ctx, tx, p)
		case *talentv1.PositionFilled:
			err = s.positionFilled(ctx, tx, p)
		case *talentv1.PositionCancelled:
			err = s.positionCancelled(ctx, tx, p)
		default:
			err = s.awaitApproval(ctx, tx, p)
		}
	}
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s %s: %w", ev.Type, ev.Resource, err)
	if permanent(err) {
		return consumer.Permanent(err)
	}
	return err
}

// labourPositionOf reads what budget needs of position p, whose approval held money with hold.
func labourPositionOf(p *talentv1.Position, hold string) (labourPosition, error) {
	out := labourPosition{Name: p.GetName(), Line: p.GetBudgetLine(), Hold: hold,
		TargetStart: civil.FromProto(p.GetTargetStartDate()), Start: civil.FromProto(p.GetStartDate())}
	if out.Line == "" {
		return out, nil // never approved: nothing of it is in budget
	}
	var budgetID, lineID string
	if !domain.LinePattern.ScanResource(out.Line, &budgetID, &lineID) {
		return out, domain.LinePattern.Invalid("position.budget_line")
	}
	var err error
	out.AnnualCost, err = eventAmount(p.GetBudgetedAnnualCost(), "position.budgeted_annual_cost")
	return out, err
}

// labourPosition is what budget reads from a position's event.
type labourPosition struct {
	// Name is the position's name, `positions/{position}`, the commitments' source reference.
	Name string
	// Line is the labour line its approval held money on; empty for a position never approved.
	Line string
	// Hold is the approval's hold, if any.
	Hold string
	// AnnualCost is the budgeted annual cost.
	AnnualCost money.Amount
	// TargetStart is the day the position was approved to start; Start the day the person who
	// filled it starts (zero before the fill).
	TargetStart, Start civil.Date
}

// labourYear is the service period of a year's labour cost from start: start to the day before
// its anniversary. Its part in a fiscal year is the cost from start to that year's end.
func labourYear(start civil.Date) (civil.Date, civil.Date) {
	return start, start.AddMonths(12).AddDays(-1)
}

// approvalCommitment and fillCommitment are the IDs of a position's commitments.
func approvalCommitment(position string) string { return effectID(position + "/approval") }
func fillCommitment(position string) string     { return effectID(position + "/fill") }

// labourCommitment is the commitment of position p's cost from start to the fiscal year's end.
func labourCommitment(p labourPosition, id string, start civil.Date, what string) Commitment {
	from, to := labourYear(start)
	return Commitment{
		ID: id, Line: p.Line, Amount: p.AnnualCost, ServiceStart: from, ServiceEnd: to,
		Source: budgetv1.Commitment_POSITION, SourceRef: p.Name,
		Description: fmt.Sprintf("Position %s, %s %s, to the fiscal year's end", p.Name, what, start),
	}
}

// positionApproved converts the approval's hold into the position's commitment, or records the
// commitment when the hold is gone (ConvertHold).
func (s *Server) positionApproved(ctx context.Context, tx store.Tx, p labourPosition) error {
	if p.Line == "" {
		return fault.Field("position.budget_line", "REQUIRED", "an approved position names its budget line")
	}
	_, err := s.ConvertHold(ctx, tx, p.Hold, labourCommitment(p, approvalCommitment(p.Name), p.TargetStart, "from the target start"))
	return err
}

// positionFilled moves the position's commitment from the target start to the real start.
func (s *Server) positionFilled(ctx context.Context, tx store.Tx, p labourPosition) error {
	if p.Line == "" {
		return nil
	}
	if _, err := tx.CommitmentByID(ctx, fillCommitment(p.Name)); err == nil {
		return nil // applied before
	} else if !errors.Is(err, domain.ErrCommitmentNotFound) {
		return err
	}
	on, err := s.contractLine(ctx, tx, p.Line, p.Name)
	if err != nil {
		return err
	}
	if p.Start.IsZero() || p.Start == p.TargetStart {
		return on.figures.finish(ctx, p.Name)
	}
	if err := s.releaseAll(ctx, tx, on); err != nil {
		return err
	}
	c := labourCommitment(p, fillCommitment(p.Name), p.Start, "from the real start")
	if _, err := s.recordIn(ctx, tx, on.figures, on.lineID, c); err != nil && !errors.Is(err, domain.ErrDateOutsideFiscalYear) {
		// A start after the fiscal year's end costs the year nothing: only the release stays.
		return err
	}
	return on.figures.finish(ctx, p.Name)
}

// positionCancelled releases what remains of an approved position's commitments.
func (s *Server) positionCancelled(ctx context.Context, tx store.Tx, p labourPosition) error {
	if p.Line == "" {
		return nil
	}
	on, err := s.contractLine(ctx, tx, p.Line, p.Name)
	if err != nil {
		return err
	}
	if err := s.releaseAll(ctx, tx, on); err != nil {
		return err
	}
	return on.figures.finish(ctx, p.Name)
}

// awaitApproval applies an event of a position that changes nothing in budget: it fails with
// errNotCommitted while the position was approved and its approval has not been applied.
func (s *Server) awaitApproval(ctx context.Context, tx store.Tx, p labourPosition) error {
	var budgetID, lineID string
	if !domain.LinePattern.ScanResource(p.Line, &budgetID, &lineID) {
		return nil
	}
	chainID, err := tx.ChainOf(ctx, budgetID)
	if err != nil {
		return err
	}
	ok, err := tx.HasSourceCommitment(ctx, chainID, lineID, p.Name)
	if err != nil || ok {
		return err
	}
	return errNotCommitted
}
