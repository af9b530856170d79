package domain

import "time"

// DeferredCommitment is the part of a contract's renewal term in a later fiscal year that budget
// could not record when it applied the renewal, because the cost centre's budget for that year
// did not exist, was not approved yet, or had no line of the contract line's ID. It is kept
// until a revision of that budget with such a line is approved, which records it on the line
// as the renewal would have (ADR 0010), or until the contract ends, which drops it: it was never
// recorded, so there is nothing to release.
type DeferredCommitment struct {
	// ID is the ID the commitment is recorded with, derived from the contract, the term's first
	// day and the fiscal year, so that a copy of the renewal keeps one part.
	ID           string
	CostCenterID string
	FiscalYear   int32
	// LineID is the ID of the contract's line, which the later year's line must have.
	LineID string
	// Amount is the renewal term's whole value, in its own currency; the part of the service
	// period in FiscalYear is committed when it is recorded.
	Amount Amount
	// ServiceStart and ServiceEnd are the first and last day of the renewal term.
	ServiceStart, ServiceEnd Date
	Source                   CommitmentSource
	// SourceRef names the contract, e.g. `vendors/acme/contracts/c-1`.
	SourceRef   string
	Description string
	CreateTime  time.Time
}

// DeferredActual is a vendor invoice (or credit note) dated in a later fiscal year than its
// contract's line that budget could not book when it applied the invoice, because the cost
// centre's budget for that year did not exist, was not approved yet, or had no line of the
// contract line's ID. It is kept until a revision of that budget with such a line is approved,
// which books it on the line as the invoice would have been (ADR 0010). The contract's end
// keeps it: an invoice is money spent.
type DeferredActual struct {
	// ID is the ID the actual is booked with, derived from the invoice, so that a copy of the
	// event keeps one.
	ID           string
	CostCenterID string
	FiscalYear   int32
	// LineID is the ID of the contract's line, which the later year's line must have.
	LineID string
	// Amount is the invoice's amount in its own currency; negative for a credit note.
	Amount      Amount
	BookingDate Date
	Description string
	// SourceRef names the invoice, e.g. `vendors/acme/contracts/c-1/invoices/i-1`: the actual's
	// external reference.
	SourceRef string
	// Contract names the contract, whose commitments on the line the invoice consumes and whose
	// invoices there a credit note corrects.
	Contract   string
	CreateTime time.Time
}
