package domain

import (
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// Invoice is a bill a vendor sent under a contract. It never changes once recorded.
type Invoice struct {
	VendorID, ContractID, ID string

	InvoiceNumber      string
	Amount             money.Amount
	InvoiceDate        Date
	DueDate            Date
	ServicePeriodStart Date
	ServicePeriodEnd   Date
	Description        string
	Creator            string
	CreateTime         time.Time
	Version            int64
}

// InvoiceName formats the name of invoice id of a contract.
func InvoiceName(vendorID, contractID, id string) string {
	return InvoicePattern.Format(vendorID, contractID, id)
}

// Name is the invoice's resource name.
func (i *Invoice) Name() string { return InvoiceName(i.VendorID, i.ContractID, i.ID) }

// ContractName is the name of the invoice's contract.
func (i *Invoice) ContractName() string { return ContractName(i.VendorID, i.ContractID) }

const maxInvoiceNumber = 100

// NewInvoice returns invoice id of contract c recorded by creator at now, checked against the
// invariants: a number, a non-zero amount in the contract's currency, an invoice date, and
// dates in order. Violations name the request's fields ("invoice.amount").
func NewInvoice(c *Contract, id string, in Invoice, creator string, now time.Time) (*Invoice, error) {
	i := in
	i.VendorID, i.ContractID, i.ID = c.VendorID, c.ID, id
	i.InvoiceNumber = strings.TrimSpace(i.InvoiceNumber)
	i.Creator, i.CreateTime, i.Version = creator, now.UTC().Truncate(time.Microsecond), 1
	var vs fault.Violations
	vs.RequireText("invoice.invoice_number", i.InvoiceNumber, maxInvoiceNumber)
	vs.LimitText("invoice.description", i.Description, maxDescription)
	switch {
	case i.Amount.Currency == "":
		vs.Add("invoice.amount", "REQUIRED", "amount is required")
	case i.Amount.Minor == 0:
		vs.Add("invoice.amount", "ZERO", "amount must not be zero")
	case i.Amount.Currency != c.TotalValue.Currency:
		vs.Add("invoice.amount", "CURRENCY_MISMATCH", "amount must be in the contract's currency, "+string(c.TotalValue.Currency))
	}
	if i.InvoiceDate.IsZero() {
		vs.Add("invoice.invoice_date", "REQUIRED", "invoice_date is required")
	} else if !i.DueDate.IsZero() && i.DueDate.Before(i.InvoiceDate) {
		vs.Add("invoice.due_date", "BEFORE_INVOICE_DATE", "due_date must not be before invoice_date")
	}
	if !i.ServicePeriodStart.IsZero() && !i.ServicePeriodEnd.IsZero() && i.ServicePeriodEnd.Before(i.ServicePeriodStart) {
		vs.Add("invoice.service_period_end", "BEFORE_START", "service_period_end must not be before service_period_start")
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	return &i, nil
}

// AddInvoice adds invoice i to the contract's invoiced amount; the contract must be in force.
func (c *Contract) AddInvoice(i *Invoice, now time.Time) error {
	if !c.State.InForce() {
		return ErrContractNotInForce.With("name", c.Name()).With("state", c.State.String())
	}
	sum, err := money.AddMinor(c.InvoicedMinor, i.Amount.Minor)
	if err != nil {
		return fault.OnField(err, "invoice.amount")
	}
	c.InvoicedMinor = sum
	c.Version++
	c.UpdateTime = now.UTC().Truncate(time.Microsecond)
	return nil
}
