package server

import (
	"context"
	"errors"
	"fmt"
	"math/big"

	"github.com/google/uuid"
	moneypb "google.golang.org/genproto/googleapis/type/money"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
)

// Budget applies the vendors service's contract and invoice events to the contracts' budget
// lines (ADR 0010): it makes no call, and it refuses none of them, as they describe facts.
//
//   - contract.activated converts the contract's hold into a commitment (ConvertHold), or records
//     the commitment from the event's amounts when the hold has lapsed or there is none.
//   - invoice.recorded records an actual (source VENDOR_INVOICE) dated the invoice date on the
//     contract's line, which consumes the contract's open commitment — for a date in a later
//     fiscal year, on the line of the same ID in the cost centre's budget for that year; a credit
//     note (a negative invoice) corrects the newest of the contract's invoices there it fits in.
//     An invoice or credit note for a later year whose budget cannot take it yet (as for a
//     renewal) is deferred: kept (store.Tx.DeferActual) and booked by the approval that brings a
//     revision of that budget with the line into force, after the commitments it records, the
//     invoices before the credit notes. The contract's end keeps it: the money was spent.
//   - contract.terminated and contract.expired release what remains of the contract's
//     commitments.
//   - contract.auto_renewed records a commitment for the part of the new term in the line's
//     fiscal year, and for the part in each later year on the line of the same ID in the cost
//     centre's budget for that year. A later year's part that budget cannot take yet — the cost
//     centre has no budget for that year, it is not approved yet, or it has no line of the ID —
//     is deferred: kept (store.Tx.DeferCommitment) and recorded by the approval, in its
//     transaction, that brings a revision of that budget with the line into force. An end
//     releases the parts recorded and drops those deferred.
//
// The contract's commitments are those of its line with the contract's name as source reference
// (source CONTRACT when budget records them; a hold's conversion keeps the hold's source). Every
// event but the activation needs the activation's commitment: until it exists the event fails and
// is delivered again later (see VendorsConsumers).
//
// Each effect has an ID derived from what it applies (the contract, the renewal's term, the
// invoice), so that applying a copy of an event changes nothing even past the inbox.

// VendorsConsumers are budget's consumers of the vendors service's events: every contract event
// in one, in stream order, and the invoices in another. Their handler is ApplyVendorsEvent.
//
// The consumer runtime skips an event whose resource's version is not higher than the last one
// its consumer applied. So that a contract's activation that failed once is not skipped for good
// after a later event of the contract, no event of a contract in force is applied before its
// activation: it fails until the activation's commitment exists. Within the contracts' consumer,
// a renewal then comes before the contract's end, as it happened. A renewal never waits for a
// later year's budget: the part that budget cannot take yet is deferred (renewalIn), so that
// neither its partition is held up nor the renewal dead-lettered or skipped as older than a later
// event of its contract while that budget is being prepared; nor does an invoice (invoiceRecorded).
// Invoices are resources of their own: their consumer may run ahead of the contracts', and an
// invoice waits for its contract's activation the same way. One subject per consumer also works
// with NATS servers before 2.10.
//
// Only the order of one contract's events matters, so the contracts' consumer applies them in
// four partitions, by the budget of the contract's line (ContractPartition): the contracts of one
// budget in stream order, those of other budgets concurrently, so that an activation does not
// wait behind the events of other budgets' contracts, nor for their chains' locks.
//
// The contracts' consumer ignores (consumer.Spec.Ignore) the events that only ever describe a
// contract not in force — created, submitted, rejected: budget applies nothing of a draft's or a
// pending contract's events, and reading them would only hold up the activations behind them in
// their partition.
var VendorsConsumers = []struct {
	Name, Subject string
	Partitions    int
	PartitionKey  func(consumer.Event) string
	Ignore        []string
}{
	{Name: "vendors-contracts", Subject: "contract.>", Partitions: 4, PartitionKey: ContractPartition, Ignore: ContractEventsIgnored},
	{Name: "vendors-invoices", Subject: "invoice.recorded"},
}

// ContractEventsIgnored are the contract events of a contract that is not in force, which the
// contracts' consumer ignores: the vendors service publishes contract.created for a new DRAFT,
// contract.submitted for DRAFT → PENDING_APPROVAL and contract.rejected for PENDING_APPROVAL →
// DRAFT. Every other contract event is applied, or waits for the activation (awaitActivation).
var ContractEventsIgnored = consumer.Types(&vendorsv1.ContractCreated{}, &vendorsv1.ContractSubmitted{}, &vendorsv1.ContractRejected{})

// ContractPartition is the partition key of a contract event: the budget of the contract's line,
// whose chain its effects lock, so that two partitions' transactions do not lock one chain. (A
// renewal or an end also locks the chains of later years' budgets, rarely; should two partitions
// then lock chains in opposite orders, PostgreSQL breaks the deadlock and the transaction is
// applied again.) A contract's line changes only while it is a draft, and budget applies nothing
// of a draft's or a pending contract's events: every event of a contract that budget applies has
// the key of its activation, so they stay in stream order. An event without a line is keyed by
// its resource.
func ContractPartition(ev consumer.Event) string {
	if m, ok := ev.Message.(interface{ GetContract() *vendorsv1.Contract }); ok {
		var budgetID, lineID string
		if domain.LinePattern.ScanResource(m.GetContract().GetBudgetLine(), &budgetID, &lineID) {
			return domain.BudgetName(budgetID)
		}
	}
	return ev.Resource
}

// errNotCommitted is the transient failure of an event about a contract (or a position) whose
// activation (or approval) budget has not applied yet.
var errNotCommitted = errors.New("no commitment yet: the activation or approval that records it has not been applied")

// effectIDs is the namespace of the IDs of what budget records from other services' events.
var effectIDs = uuid.MustParse("8d0c6a9e-4f39-5b7e-9a51-3c2f1e0d7b64")

// effectID is the ID of what budget records for key, the same for every copy of an event.
func effectID(key string) string { return uuid.NewSHA1(effectIDs, []byte(key)).String() }

// ApplyVendorsEvent applies ev, an event of the vendors service, within tx, the consumer's
// transaction. Events that cannot be applied whatever happens (a malformed name, an amount out of
// range, a line that does not exist) fail permanently, to become dead letters; the others fail to
// be delivered again.
func (s *Server) ApplyVendorsEvent(ctx context.Context, tx store.Tx, ev consumer.Event) error {
	var err error
	switch m := ev.Message.(type) {
	case *vendorsv1.ContractActivated:
		err = s.contractActivated(ctx, tx, m)
	case *vendorsv1.InvoiceRecorded:
		err = s.invoiceRecorded(ctx, tx, m)
	case *vendorsv1.ContractTerminated:
		err = s.contractEnded(ctx, tx, m.GetContract().GetName(), m.GetBudgetLine())
	case *vendorsv1.ContractExpired:
		err = s.contractEnded(ctx, tx, m.GetContract().GetName(), m.GetBudgetLine())
	case *vendorsv1.ContractAutoRenewed:
		err = s.contractRenewed(ctx, tx, m)
	case interface{ GetContract() *vendorsv1.Contract }:
		err = s.awaitActivation(ctx, tx, m.GetContract())
	default:
		return consumer.Permanent(fmt.Errorf("budget does not apply %s events", ev.Type))
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

// permanent reports whether an event that failed with err can never be applied as it is: bad
// input, a budget or line that does not exist, a date outside the line's fiscal year.
func permanent(err error) bool {
	f := fault.As(err)
	return f != nil && (f.Kind == fault.InvalidArgument || f.Kind == fault.NotFound || errors.Is(err, domain.ErrDateOutsideFiscalYear))
}

// contractActivated converts the contract's hold into its commitment, or records the commitment
// for the contract's value over its term when the hold is gone (ConvertHold).
func (s *Server) contractActivated(ctx context.Context, tx store.Tx, m *vendorsv1.ContractActivated) error {
	contract := m.GetContract().GetName()
	amount, err := eventAmount(m.GetCommittedValue(), "committed_value")
	if err != nil {
		return err
	}
	_, err = s.ConvertHold(ctx, tx, m.GetHold(), Commitment{
		ID:           effectID(contract + "/activation"),
		Line:         m.GetBudgetLine(),
		Amount:       amount,
		ServiceStart: civil.FromProto(m.GetServiceStartDate()),
		ServiceEnd:   civil.FromProto(m.GetServiceEndDate()),
		Source:       budgetv1.Commitment_CONTRACT,
		SourceRef:    contract,
		Description:  "Contract " + contract,
	})
	return err
}

// awaitActivation applies an event of a contract that changes nothing in budget: it fails with
// errNotCommitted while the contract is in force (or was) and its activation has not been
// applied, so that the activation is not skipped as older (see VendorsConsumers).
func (s *Server) awaitActivation(ctx context.Context, tx store.Tx, c *vendorsv1.Contract) error {
	switch c.GetState() {
	case vendorsv1.Contract_ACTIVE, vendorsv1.Contract_RENEWED, vendorsv1.Contract_TERMINATED, vendorsv1.Contract_EXPIRED:
	default:
		return nil
	}
	var budgetID, lineID string
	if !domain.LinePattern.ScanResource(c.GetBudgetLine(), &budgetID, &lineID) {
		return nil
	}
	chainID, err := tx.ChainOf(ctx, budgetID)
	if err != nil {
		return fault.Named(err, domain.BudgetName(budgetID))
	}
	ok, err := tx.HasSourceCommitment(ctx, chainID, lineID, c.GetName())
	if err != nil || ok {
		return err
	}
	return errNotCommitted
}

// contractRenewed records the commitment of a renewal term: the part of its value in the
// line's fiscal year on the line, and the part in each later fiscal year the term reaches on the
// line of the same ID in the cost centre's budget for that year, so that a contract charged to
// this year's line renews onto next year's. A later year's part that its budget cannot take yet
// — the cost centre has no budget for that year, its budget is not approved yet, or it has no
// line of the ID — is deferred (renewalIn) rather than dropped or waited for, so that the event
// is applied and holds up nothing behind it: the approval that brings such a line into force
// records it (commitDeferred).
func (s *Server) contractRenewed(ctx context.Context, tx store.Tx, m *vendorsv1.ContractAutoRenewed) error {
	contract := m.GetContract().GetName()
	on, err := s.contractLine(ctx, tx, m.GetBudgetLine(), contract)
	if err != nil {
		return err
	}
	start, end := civil.FromProto(m.GetTermStartDate()), civil.FromProto(m.GetTermEndDate())
	cal := on.budget.Calendar()
	from, to := max(cal.FiscalYearOf(start), on.budget.FiscalYear), cal.FiscalYearOf(end)
	if end.Before(start) || to < from {
		return nil
	}
	value, err := renewalValue(m)
	if err != nil {
		return err
	}
	term := Commitment{
		ID:           effectID(contract + "/renewal/" + start.String()),
		Line:         m.GetBudgetLine(),
		Amount:       value,
		ServiceStart: start,
		ServiceEnd:   end,
		Source:       budgetv1.Commitment_CONTRACT,
		SourceRef:    contract,
		Description:  fmt.Sprintf("Contract %s, renewal term %s to %s", contract, start, end),
	}
	for fy := from; fy <= to; fy++ {
		if fy == on.budget.FiscalYear {
			if _, err := s.ConvertHold(ctx, tx, "", term); err != nil {
				return err
			}
			continue
		}
		part := term
		part.ID = effectID(fmt.Sprintf("%s/renewal/%s/%d", contract, start, fy))
		if err := s.renewalIn(ctx, tx, on, fy, part); err != nil {
			return err
		}
	}
	return nil
}

// renewalIn records c, a renewal term's commitment, for its part in fiscal year fy on the line
// of on's ID in the budget of on's cost centre for that year. When that budget does not exist,
// has no revision in force or none with the line, it defers c instead (deferRenewal); a part
// recorded or deferred already is left as it is. The later year's chain stays locked until the
// transaction ends, so that its approval, which locks it too, sees the part deferred.
func (s *Server) renewalIn(ctx context.Context, tx store.Tx, on *contractLine, fy int32, c Commitment) error {
	if _, err := s.storedCommitment(ctx, tx, c.ID); !errors.Is(err, domain.ErrCommitmentNotFound) {
		return err
	}
	chainID, err := laterChain(ctx, tx, on.budget.CostCenterID, fy)
	if err != nil {
		return err
	}
	if chainID == "" {
		return s.deferRenewal(ctx, tx, on, fy, c, "no budget")
	}
	chain, err := tx.LockChain(ctx, chainID)
	if err != nil {
		return err
	}
	if chain.InForceID == "" {
		return s.deferRenewal(ctx, tx, on, fy, c, "budget not approved")
	}
	fc, err := s.beginFigures(ctx, tx, chain)
	if err != nil {
		return fault.Named(err, domain.BudgetName(chainID))
	}
	if fc.lines[on.lineID] == nil {
		return s.deferRenewal(ctx, tx, on, fy, c, "no line")
	}
	c.Line = domain.LineName(fc.budget.ID, on.lineID)
	out, err := s.recordIn(ctx, tx, fc, on.lineID, c)
	if err != nil {
		return err
	}
	return fc.finish(ctx, out.GetName())
}

// deferRenewal keeps c, the part of a renewal term in fiscal year fy that the budget of on's
// cost centre for that year cannot take yet (why says what it lacks), until an approval of that
// budget records it (commitDeferred) or the contract's end drops it (contractEnded).
func (s *Server) deferRenewal(ctx context.Context, tx store.Tx, on *contractLine, fy int32, c Commitment, why string) error {
	d := &domain.DeferredCommitment{
		ID: c.ID, CostCenterID: on.budget.CostCenterID, FiscalYear: fy, LineID: on.lineID,
		Amount: c.Amount, ServiceStart: c.ServiceStart, ServiceEnd: c.ServiceEnd,
		Source: domain.CommitmentSource(c.Source), SourceRef: c.SourceRef, Description: c.Description,
		CreateTime: s.now().UTC(),
	}
	added, err := tx.DeferCommitment(ctx, d)
	if err != nil || !added {
		return err
	}
	s.log.InfoContext(ctx, "renewal commitment deferred to a later budget", "contract", c.SourceRef, "commitment", c.ID,
		"cost_center", domain.CostCenterName(d.CostCenterID), "fiscal_year", fy, "line_id", d.LineID, "reason", why)
	return nil
}

// commitDeferred records, in fc, the figures change of the approval that brings fc.budget into
// force, the parts of contracts' renewal terms deferred to its cost centre and fiscal year
// (deferRenewal) whose line it has, as renewalIn would have, and deletes them; the others stay
// deferred. A part whose commitment exists already (of its ID: recorded otherwise) is not
// recorded again, only deleted, as bookDeferred does with an invoice. A part that cannot be
// recorded yet (no exchange rate for its first month) fails the approval, which succeeds once
// the rate is set; one that never can (permanent) stays deferred.
func (s *Server) commitDeferred(ctx context.Context, tx store.Tx, fc *figuresChange, ds []*domain.DeferredCommitment) error {
	for _, d := range ds {
		if fc.lines[d.LineID] == nil {
			continue
		}
		// A deferred part is recorded once; its row goes with the recording.
		done, err := tx.CommitmentExists(ctx, d.ID)
		if err != nil {
			return err
		}
		if !done {
			out, err := s.recordIn(ctx, tx, fc, d.LineID, Commitment{
				ID: d.ID, Line: domain.LineName(fc.budget.ID, d.LineID), Amount: d.Amount,
				ServiceStart: d.ServiceStart, ServiceEnd: d.ServiceEnd, Source: budgetv1.Commitment_Source(d.Source),
				SourceRef: d.SourceRef, Description: d.Description, Creator: identity.System,
			})
			if permanent(err) && !s.commitmentWritten(ctx, tx, d.ID) {
				// The part can never be recorded as it is (the renewal event would have been a
				// dead letter): it must not keep the budget from being approved, so it stays
				// deferred, for an operator to see, until the contract ends. A failure after the
				// commitment was written (a figure out of range) fails the approval instead: the
				// transaction must not commit half of it.
				s.log.WarnContext(ctx, "deferred renewal commitment cannot be recorded; it stays deferred", "contract", d.SourceRef,
					"commitment", d.ID, "budget", fc.budget.Name(), "error", err)
				continue
			}
			if err != nil {
				return fmt.Errorf("record the commitment of %s deferred to %s: %w", d.SourceRef, fc.budget.Name(), err)
			}
			s.log.InfoContext(ctx, "deferred renewal commitment recorded", "contract", d.SourceRef, "commitment", out.GetName(),
				"deferred_since", d.CreateTime)
		}
		if err := tx.DeleteDeferredCommitment(ctx, d.ID); err != nil {
			return fmt.Errorf("delete deferred commitment %s: %w", d.ID, err)
		}
	}
	return nil
}

// commitmentWritten is actualWritten for the commitment with the ID.
func (s *Server) commitmentWritten(ctx context.Context, tx store.Tx, id string) bool {
	_, err := s.storedCommitment(ctx, tx, id)
	return !errors.Is(err, domain.ErrCommitmentNotFound)
}

// renewalValue is the value of the renewal term the event announces: its term_value, or else the
// contract's annual value × renewal_term_months / 12, rounded half to even.
func renewalValue(m *vendorsv1.ContractAutoRenewed) (money.Amount, error) {
	if m.GetTermValue() != nil {
		return eventAmount(m.GetTermValue(), "term_value")
	}
	annual, err := eventAmount(m.GetContract().GetAnnualValue(), "contract.annual_value")
	if err != nil {
		return money.Amount{}, err
	}
	months := int64(m.GetContract().GetRenewalTermMonths())
	v := money.RoundHalfEven(new(big.Int).Mul(big.NewInt(annual.Minor), big.NewInt(months)), big.NewInt(12))
	if !v.IsInt64() {
		return money.Amount{}, fault.Field("contract.annual_value", "AMOUNT_OUT_OF_RANGE", "the renewal term's value is out of range")
	}
	return money.Amount{Minor: v.Int64(), Currency: annual.Currency}, nil
}

// contractEnded releases what remains of the contract's commitments on its line, and on the
// lines of later fiscal years its renewals were committed on, and drops the parts of its
// renewals deferred to later years' budgets (deferRenewal), so that no approval records them.
func (s *Server) contractEnded(ctx context.Context, tx store.Tx, contract, line string) error {
	on, err := s.contractLine(ctx, tx, line, contract)
	if err != nil {
		return err
	}
	// The parts of its renewals deferred to later years' budgets were never recorded: they go
	// first, so that an approval recording one before this transaction deletes it has committed
	// when the later years' commitments are read below, and they are released with the others.
	dropped, err := tx.DropDeferredCommitments(ctx, contract)
	if err != nil {
		return err
	}
	if dropped > 0 {
		s.log.InfoContext(ctx, "deferred renewal commitments dropped: the contract ended", "contract", contract, "count", dropped)
	}
	if err := s.releaseAll(ctx, tx, on); err != nil {
		return err
	}
	if err := on.figures.finish(ctx, contract); err != nil {
		return err
	}
	later, err := tx.SourceChains(ctx, on.figures.chain.ID, on.lineID, contract)
	if err != nil {
		return err
	}
	for _, chainID := range later {
		chain, err := tx.LockChain(ctx, chainID)
		if err != nil {
			return err
		}
		fc, err := s.beginFigures(ctx, tx, chain)
		if err != nil {
			return err
		}
		cs, err := tx.SourceCommitments(ctx, chainID, on.lineID, contract)
		if err != nil {
			return err
		}
		if err := s.releaseAll(ctx, tx, &contractLine{budget: fc.budget, figures: fc, lineID: on.lineID, commitments: cs}); err != nil {
			return err
		}
		if err := fc.finish(ctx, contract); err != nil {
			return err
		}
	}
	return nil
}

// invoiceRecorded books the invoice as an actual on the contract's line — for an invoice dated
// in a later fiscal year, on the line of the same ID in the cost centre's budget for that year
// (laterLine). When that budget cannot take it yet — the cost centre has no budget for that
// year, its budget is not approved yet, or it has no line of the ID — the invoice is deferred
// (deferInvoice) rather than dead-lettered or retried: the approval that brings such a line into
// force books it (bookDeferred). A credit note follows the same rule, by its own date.
func (s *Server) invoiceRecorded(ctx context.Context, tx store.Tx, m *vendorsv1.InvoiceRecorded) error {
	inv := m.GetInvoice()
	id := effectID(inv.GetName())
	if done, err := tx.ActualExists(ctx, id); err != nil || done {
		return err
	}
	on, err := s.contractLine(ctx, tx, m.GetBudgetLine(), m.GetContract())
	if err != nil {
		return err
	}
	amount, err := eventAmount(inv.GetAmount(), "invoice.amount")
	if err != nil {
		return err
	}
	d := &domain.DeferredActual{
		ID: id, CostCenterID: on.budget.CostCenterID, FiscalYear: on.budget.FiscalYear, LineID: on.lineID, Amount: amount,
		BookingDate: civil.FromProto(inv.GetInvoiceDate()),
		Description: fmt.Sprintf("Invoice %s of %s", inv.GetInvoiceNumber(), m.GetContract()),
		SourceRef:   inv.GetName(), Contract: m.GetContract(),
	}
	if fy := on.budget.Calendar().FiscalYearOf(d.BookingDate); fy > on.budget.FiscalYear {
		later, why, err := s.laterLine(ctx, tx, on, fy, m.GetContract())
		if err != nil {
			return err
		}
		if later == nil {
			d.FiscalYear = fy
			return s.deferInvoice(ctx, tx, d, why)
		}
		on = later
	}
	out, err := s.bookInvoice(ctx, tx, on, d, actor(ctx))
	if err != nil {
		return err
	}
	return on.figures.finish(ctx, out.GetName())
}

// bookInvoice books d, an invoice of d.Contract (what invoiceRecorded read from the event, or
// kept when it deferred it), as the actual of ID d.ID on on, the contract's line with the
// contract's commitments there, created by creator, as part of the figures change on.figures,
// which the caller finishes: an invoice consumes the contract's commitment there (consumable), a
// credit note corrects one of the contract's invoices there (credited).
func (s *Server) bookInvoice(ctx context.Context, tx store.Tx, on *contractLine, d *domain.DeferredActual, creator string) (*budgetv1.Actual, error) {
	in := domain.ActualInput{
		LineID: on.lineID, Amount: d.Amount, BookingDate: d.BookingDate, Description: d.Description,
		Source: domain.SourceVendorInvoice, ExternalRef: d.SourceRef,
	}
	var (
		rate       *domain.ExchangeRate
		corrected  *domain.Corrected
		commitment *domain.Commitment
		err        error
	)
	if d.Amount.Minor < 0 {
		if corrected, err = s.credited(ctx, tx, on, d.Contract, d.Amount); err != nil {
			return nil, err
		}
		in.CorrectsID = corrected.Original.ID
	} else {
		if commitment = consumable(on.commitments); commitment != nil {
			in.CommitmentID, in.CommitmentBudgetID = commitment.ID, commitment.BudgetID
		}
		if rate, err = rateFor(ctx, tx, d.Amount, d.BookingDate, on.budget.Currency); err != nil {
			return nil, err
		}
	}
	return s.bookActual(ctx, tx, nil, spendOn{budget: on.budget, figures: on.figures, lineID: on.lineID, id: d.ID},
		in, rate, corrected, commitment, creator)
}

// deferInvoice keeps d, an invoice dated in fiscal year d.FiscalYear that the budget of its
// cost centre for that year cannot take yet (why says what it lacks), until an approval of that
// budget books it (bookDeferred). An invoice that no budget could ever book as it is fails
// permanently now, rather than waiting for an approval that would leave it deferred.
func (s *Server) deferInvoice(ctx context.Context, tx store.Tx, d *domain.DeferredActual, why string) error {
	switch {
	case d.Amount.Minor == 0:
		return fault.Field("invoice.amount", "AMOUNT_ZERO", "the invoice's amount is zero")
	case !d.Amount.Currency.Supported():
		return fault.OnField(domain.ErrCurrencyUnsupported, "invoice.amount")
	case !d.BookingDate.Valid():
		return fault.Field("invoice.invoice_date", domain.ErrDateInvalid.Reason, "the invoice date is not a valid date")
	}
	d.CreateTime = s.now().UTC()
	added, err := tx.DeferActual(ctx, d)
	if err != nil || !added {
		return err
	}
	s.log.InfoContext(ctx, "invoice deferred to a later budget", "contract", d.Contract, "invoice", d.SourceRef, "actual", d.ID,
		"cost_center", domain.CostCenterName(d.CostCenterID), "fiscal_year", d.FiscalYear, "line_id", d.LineID, "reason", why)
	return nil
}

// bookDeferred books, in fc, the figures change of the approval that brings fc.budget into
// force, the invoices deferred to its cost centre and fiscal year (deferInvoice) whose line it
// has, as invoiceRecorded would have, and deletes them; the others stay deferred. It comes after
// commitDeferred, so that an invoice consumes the contract's renewal commitment the same approval
// records, and ds has the credit notes after the invoices, so that a credit note finds the
// invoice it corrects. An invoice that cannot be booked yet (no exchange rate for its month)
// fails the approval, which succeeds once the rate is set; one that never can as it is (a credit
// note that fits none of the contract's invoices on the line; an invoice that would have been a
// dead letter) stays deferred, logged at warn and listed, and does not hold up the approval.
func (s *Server) bookDeferred(ctx context.Context, tx store.Tx, fc *figuresChange, ds []*domain.DeferredActual) error {
	for _, d := range ds {
		if fc.lines[d.LineID] == nil {
			continue
		}
		// A deferred invoice is booked once; its row goes with the booking.
		done, err := tx.ActualExists(ctx, d.ID)
		if err != nil {
			return err
		}
		if !done {
			cs, err := tx.SourceCommitments(ctx, fc.chain.ID, d.LineID, d.Contract)
			if err != nil {
				return err
			}
			out, err := s.bookInvoice(ctx, tx, &contractLine{budget: fc.budget, figures: fc, lineID: d.LineID, commitments: cs}, d, identity.System)
			if (permanent(err) || errors.Is(err, errNothingToCredit)) && !s.actualWritten(ctx, tx, d.ID) {
				s.log.WarnContext(ctx, "deferred invoice cannot be booked; it stays deferred", "contract", d.Contract,
					"invoice", d.SourceRef, "actual", d.ID, "budget", fc.budget.Name(), "error", err)
				continue
			}
			if err != nil {
				return fmt.Errorf("book the invoice %s deferred to %s: %w", d.SourceRef, fc.budget.Name(), err)
			}
			s.log.InfoContext(ctx, "deferred invoice booked", "contract", d.Contract, "invoice", d.SourceRef, "actual", out.GetName(),
				"deferred_since", d.CreateTime)
		}
		if err := tx.DeleteDeferredActual(ctx, d.ID); err != nil {
			return fmt.Errorf("delete deferred actual %s: %w", d.ID, err)
		}
	}
	return nil
}

// consumable is the commitment an invoice consumes among a contract's: the first still open (the
// earliest term's), else the last; none when there is none.
func consumable(cs []*domain.Commitment) *domain.Commitment {
	if len(cs) == 0 {
		return nil
	}
	for _, c := range cs {
		if c.State == domain.CommitmentOpen {
			return c
		}
	}
	return cs[len(cs)-1]
}

// credited is the invoice actual a credit note of credit (negative) corrects: the newest of the
// contract's invoice actuals in the credit's currency of which at least as much is uncorrected.
// When there is none, the credit note cannot be booked automatically: it fails permanently, for
// an operator to book.
func (s *Server) credited(ctx context.Context, tx store.Tx, on *contractLine, contract string, credit money.Amount) (*domain.Corrected, error) {
	as, err := tx.ContractActuals(ctx, on.figures.chain.ID, on.lineID, contract, domain.SourceVendorInvoice)
	if err != nil {
		return nil, err
	}
	for _, a := range as {
		if a.Amount.Currency != credit.Currency {
			continue
		}
		c := &domain.Corrected{Original: a}
		if c.PriorAmountMinor, err = tx.SumCorrectionAmounts(ctx, a.ID); err != nil {
			return nil, err
		}
		if a.Amount.Minor+c.PriorAmountMinor < -credit.Minor {
			continue
		}
		if c.PriorConvertedMinor, err = tx.SumCorrections(ctx, a.ID); err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, consumer.Permanent(fmt.Errorf("%w: no invoice of %s has %s left to credit", errNothingToCredit, contract,
		money.FormatMinor(-credit.Minor, credit.Currency)))
}

// actualWritten reports whether the actual with the ID was written in tx, so that a failure after
// the write (a figure out of range) fails the transaction rather than leaving it half done; it
// says so too when it cannot tell.
func (s *Server) actualWritten(ctx context.Context, tx store.Tx, id string) bool {
	done, err := tx.ActualExists(ctx, id)
	return done || err != nil
}

// errNothingToCredit is the failure of a credit note that fits none of its contract's invoices
// on the line (credited).
var errNothingToCredit = errors.New("nothing to credit")

// laterLine is, for an invoice of on's contract dated in fiscal year fy, after on's year, the
// line of on's ID in the budget of on's cost centre for that year, with the contract's
// commitments there (its renewals'), locked and its figures being changed; nil when that budget
// does not exist, has no revision in force or none with the line, with why it cannot take the
// invoice. The later year's chain stays locked until the transaction ends, so that its approval,
// which locks it too, sees an invoice deferred.
func (s *Server) laterLine(ctx context.Context, tx store.Tx, on *contractLine, fy int32, contract string) (*contractLine, string, error) {
	chainID, err := laterChain(ctx, tx, on.budget.CostCenterID, fy)
	if err != nil {
		return nil, "", err
	}
	if chainID == "" {
		return nil, "no budget", nil
	}
	chain, err := tx.LockChain(ctx, chainID)
	if err != nil {
		return nil, "", err
	}
	if chain.InForceID == "" {
		return nil, "budget not approved", nil
	}
	fc, err := s.beginFigures(ctx, tx, chain)
	if err != nil {
		return nil, "", fault.Named(err, domain.BudgetName(chainID))
	}
	if fc.lines[on.lineID] == nil {
		return nil, "no line", nil
	}
	cs, err := tx.SourceCommitments(ctx, chainID, on.lineID, contract)
	if err != nil {
		return nil, "", err
	}
	return &contractLine{budget: fc.budget, figures: fc, lineID: on.lineID, commitments: cs}, "", nil
}

// laterChain is the chain of the budget of cost centre costCenterID for fiscal year fy, or ""
// when the cost centre has none, for a renewal's part or an invoice of that year. What is
// deferred for want of a budget must not be missed by the approval of one created meanwhile: a
// budget created after the first look, and approved, before this transaction commits would have
// its approval read the deferred items without this one's. So when there is none, laterChain
// locks the cost centre's row, which CreateBudget locks too until it commits, and looks again: a
// creation has either committed by then (the chain is found, and its lock orders this
// transaction with the approval) or waits for this transaction to commit, and the approval that
// follows it sees what it deferred.
func laterChain(ctx context.Context, tx store.Tx, costCenterID string, fy int32) (string, error) {
	chainID, err := tx.ChainFor(ctx, costCenterID, fy)
	if !errors.Is(err, domain.ErrBudgetNotFound) {
		return chainID, err
	}
	if _, err := tx.GetCostCenter(ctx, costCenterID); err != nil {
		return "", err
	}
	chainID, err = tx.ChainFor(ctx, costCenterID, fy)
	if errors.Is(err, domain.ErrBudgetNotFound) {
		return "", nil
	}
	return chainID, err
}

// contractLine is a contract's (or a position's) line with its figures being changed and the
// contract's commitments on it.
type contractLine struct {
	budget      *domain.Budget // the revision in force
	figures     *figuresChange
	lineID      string
	commitments []*domain.Commitment
}

// contractLine locks the chain of the budget line named line, as every change of figures does,
// and begins a change of the figures of its revision in force (whichever revision line names,
// the spend goes to the line in force). It fails with errNotCommitted, to be tried again, when
// contract has no commitment on the line yet.
func (s *Server) contractLine(ctx context.Context, tx store.Tx, line, contract string) (*contractLine, error) {
	var budgetID, lineID string
	if !domain.LinePattern.ScanResource(line, &budgetID, &lineID) {
		return nil, domain.LinePattern.Invalid("budget_line")
	}
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
	cs, err := tx.SourceCommitments(ctx, chainID, lineID, contract)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, errNotCommitted
	}
	return &contractLine{budget: fc.budget, figures: fc, lineID: lineID, commitments: cs}, nil
}

// eventAmount is an event's money; an amount that is not one is INVALID_ARGUMENT on field.
func eventAmount(m *moneypb.Money, field string) (money.Amount, error) {
	a, err := money.FromProto(m, "")
	if err != nil {
		return money.Amount{}, fault.OnField(err, field)
	}
	return a, nil
}

// releaseAll releases what remains of the open commitments of on, the commitments of one
// source (a contract, a position) on its line.
func (s *Server) releaseAll(ctx context.Context, tx store.Tx, on *contractLine) error {
	for _, c := range on.commitments {
		if c.State != domain.CommitmentOpen {
			continue
		}
		cb, err := s.commitmentBudget(ctx, tx, c, on.budget)
		if err != nil {
			return err
		}
		if _, err := s.release(ctx, tx, nil, on.figures, c, cb, 0); err != nil {
			return err
		}
	}
	return nil
}
