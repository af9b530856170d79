package server

import (
	"context"
	"fmt"
	"strconv"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
)

// Budget records the cost of the risk service's incidents as actuals (source INCIDENT_COST, the
// incident's name as external reference) from incident.cost_changed, which carries the incident
// with its cost and budget line after every change of either. The line's actuals of an incident
// follow its latest cost: the cost recorded before (on whichever line) is reversed by a
// correction booked on the corrected actual's date, and the new cost, when there is one and a
// line, is recorded on the new line, booked on the day of the change (the incident's
// update_time). Each incident's version applied is kept (source_versions) in the transaction of
// the effect, so that an event read again, or an older one arriving late, changes nothing.

// IncidentsConsumer is budget's consumer of the risk service's incident cost events; its
// handler is ApplyIncidentEvent.
var IncidentsConsumer = struct{ Name, Domain, Subject string }{Name: "risk-incident-costs", Domain: "risk", Subject: "incident.cost_changed"}

// ApplyIncidentEvent applies ev, an incident.cost_changed event of the risk service, within tx,
// the consumer's transaction. Events that cannot be applied as they are (a malformed name or
// amount, a line that does not exist, a date outside the line's fiscal year) fail permanently,
// to become dead letters an operator can replay.
func (s *Server) ApplyIncidentEvent(ctx context.Context, tx store.Tx, ev consumer.Event) error {
	m, ok := ev.Message.(*riskv1.IncidentCostChanged)
	if !ok {
		return consumer.Permanent(fmt.Errorf("budget does not apply %s events", ev.Type))
	}
	err := s.incidentCost(ctx, tx, m.GetIncident(), m.GetVersion())
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%s %s: %w", ev.Type, ev.Resource, err)
	if permanent(err) {
		return consumer.Permanent(err)
	}
	return err
}

// incidentCost makes the incident's actuals follow its cost and line at version.
func (s *Server) incidentCost(ctx context.Context, tx store.Tx, inc *riskv1.Incident, version int64) error {
	name := inc.GetName()
	if name == "" {
		return fault.Field("incident.name", "REQUIRED", "the event's incident has no name")
	}
	if moved, err := tx.AdvanceSource(ctx, name, version, s.now()); err != nil || !moved {
		return err
	}
	v := strconv.FormatInt(version, 10)
	prior, err := tx.SourceActuals(ctx, domain.SourceIncidentCost, name)
	if err != nil {
		return err
	}
	for _, a := range prior {
		if err := s.reverse(ctx, tx, a, effectID(a.ID+"/reversal/"+v), "Cost of "+name+" changed"); err != nil {
			return err
		}
	}
	if inc.GetCost() == nil || inc.GetBudgetLine() == "" {
		return nil
	}
	amount, err := eventAmount(inc.GetCost(), "incident.cost")
	if err != nil || amount.Minor == 0 {
		return err
	}
	var budgetID, lineID string
	if !domain.LinePattern.ScanResource(inc.GetBudgetLine(), &budgetID, &lineID) {
		return domain.LinePattern.Invalid("incident.budget_line")
	}
	fc, err := s.lockLine(ctx, tx, budgetID, lineID)
	if err != nil {
		return err
	}
	changed := inc.GetUpdateTime()
	if changed == nil {
		changed = inc.GetDeclareTime()
	}
	in := domain.ActualInput{
		LineID: lineID, Amount: amount, BookingDate: civil.DateOf(changed.AsTime().UTC()),
		Description: fmt.Sprintf("Cost of incident %s: %s", name, inc.GetTitle()),
		Source:      domain.SourceIncidentCost, ExternalRef: name,
	}
	rate, err := rateFor(ctx, tx, amount, in.BookingDate, fc.budget.Currency)
	if err != nil {
		return err
	}
	_, err = s.addActual(ctx, tx, nil, spendOn{budget: fc.budget, figures: fc, lineID: lineID, id: effectID(name + "/cost/" + v)},
		in, rate, nil, nil)
	return err
}

// reverse records a correction of what remains of actual a, as id, booked on a's date on its
// line in the revision in force; nothing when a is corrected in full.
func (s *Server) reverse(ctx context.Context, tx store.Tx, a *domain.Actual, id, why string) error {
	c := &domain.Corrected{Original: a}
	var err error
	if c.PriorAmountMinor, err = tx.SumCorrectionAmounts(ctx, a.ID); err != nil {
		return err
	}
	left := a.Amount.Minor + c.PriorAmountMinor
	if left <= 0 {
		return nil
	}
	if c.PriorConvertedMinor, err = tx.SumCorrections(ctx, a.ID); err != nil {
		return err
	}
	fc, err := s.lockLine(ctx, tx, a.BudgetID, a.LineID)
	if err != nil {
		return err
	}
	in := domain.ActualInput{
		LineID: a.LineID, Amount: domain.Amount{Minor: -left, Currency: a.Amount.Currency}, BookingDate: a.BookingDate,
		Description: why, Source: a.Source, ExternalRef: a.ExternalRef, CorrectsID: a.ID,
	}
	_, err = s.addActual(ctx, tx, nil, spendOn{budget: fc.budget, figures: fc, lineID: a.LineID, id: id}, in, nil, c, nil)
	return err
}

// lockLine locks the chain of budget budgetID, as every change of figures does, and begins a
// change of the figures of its revision in force, which must have line lineID.
func (s *Server) lockLine(ctx context.Context, tx store.Tx, budgetID, lineID string) (*figuresChange, error) {
	chainID, err := tx.ChainOf(ctx, budgetID)
	if err != nil {
		return nil, fault.Named(err, domain.BudgetName(budgetID))
	}
	chain, err := tx.LockChain(ctx, chainID)
	if err != nil {
		return nil, err
	}
	fc, err := s.beginFigures(ctx, tx, chain)
	if err != nil {
		return nil, err
	}
	if _, err := fc.line(lineID); err != nil {
		return nil, err
	}
	return fc, nil
}
