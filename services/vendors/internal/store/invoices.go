package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
)

// invoiceColumns are the columns every invoice query selects, in scanInvoice's order.
const invoiceColumns = `vendor_id, contract_id, id, invoice_number, amount_minor, amount_currency, invoice_date,
	due_date, service_period_start, service_period_end, description, creator, create_time, version`

func scanInvoice(s sqlstore.Scanner) (*domain.Invoice, error) {
	var (
		i                             domain.Invoice
		cur                           string
		date, due, periodStart, until sql.NullString
	)
	err := s.Scan(&i.VendorID, &i.ContractID, &i.ID, &i.InvoiceNumber, &i.Amount.Minor, &cur, &date, &due,
		&periodStart, &until, &i.Description, &i.Creator, &i.CreateTime, &i.Version)
	if err != nil {
		return nil, err
	}
	i.Amount.Currency = money.Currency(cur)
	for _, d := range []struct {
		s   sql.NullString
		dst *domain.Date
	}{{date, &i.InvoiceDate}, {due, &i.DueDate}, {periodStart, &i.ServicePeriodStart}, {until, &i.ServicePeriodEnd}} {
		if *d.dst, err = sqlstore.DateOf(d.s); err != nil {
			return nil, err
		}
	}
	i.CreateTime = i.CreateTime.UTC()
	return &i, nil
}

// InvoiceTable is what ListInvoices can filter and order by.
var InvoiceTable = listing.NewTable("name", []listing.Field[*domain.Invoice]{
	{Path: "name", Column: "vendor_id || '/' || contract_id || '/' || id", Type: filter.String, Value: invoiceKey("name"),
		Get: func(i *domain.Invoice) any { return i.VendorID + "/" + i.ContractID + "/" + i.ID }},
	{Path: "vendor", Column: "vendor_id", Type: filter.String, Value: listing.NameID("vendor", domain.VendorPattern),
		Get: func(i *domain.Invoice) any { return i.VendorID }},
	{Path: "contract", Column: "vendor_id || '/' || contract_id", Type: filter.String, Value: contractKey("contract"),
		Get: func(i *domain.Invoice) any { return i.VendorID + "/" + i.ContractID }},
	{Path: "invoice_number", Column: "invoice_number", Type: filter.String, Get: func(i *domain.Invoice) any { return i.InvoiceNumber }},
	{Path: "invoice_date", Column: "invoice_date", Type: filter.String, Get: func(i *domain.Invoice) any { return i.InvoiceDate.String() }},
	{Path: "due_date", Column: "due_date", Type: filter.String, Nullable: true, Sort: "COALESCE(due_date, '')",
		Get: func(i *domain.Invoice) any { return dateText(i.DueDate) }},
	{Path: "amount.currency_code", Column: "amount_currency", Type: filter.String,
		Get: func(i *domain.Invoice) any { return string(i.Amount.Currency) }},
	{Path: "creator", Column: "creator", Type: filter.String, Get: func(i *domain.Invoice) any { return i.Creator }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(i *domain.Invoice) any { return i.CreateTime }},
})

// invoiceKey converts an invoice name in a filter to the stored "vendor/contract/invoice" key.
func invoiceKey(field string) func(any) (any, error) {
	return func(v any) (any, error) {
		var vendorID, contractID, id string
		if !domain.InvoicePattern.Scan(v.(string), &vendorID, &contractID, &id) {
			return nil, domain.InvoicePattern.Invalid(field)
		}
		return vendorID + "/" + contractID + "/" + id, nil
	}
}

// GetInvoice returns the invoice, or domain.ErrInvoiceNotFound.
func (r reader) GetInvoice(ctx context.Context, vendorID, contractID, id string) (*domain.Invoice, error) {
	const q = `SELECT ` + invoiceColumns + ` FROM invoices WHERE vendor_id = $1 AND contract_id = $2 AND id = $3`
	return sqlstore.Get(ctx, r.Q, "invoice "+id, domain.ErrInvoiceNotFound, scanInvoice, q, vendorID, contractID, id)
}

// ListInvoices returns the invoices lq selects (see InvoiceTable) of the vendor and contract,
// either of which may be Wildcard.
func (s Store) ListInvoices(ctx context.Context, vendorID, contractID string, lq *listing.Query) ([]*domain.Invoice, error) {
	const q = `SELECT ` + invoiceColumns + ` FROM invoices`
	return sqlstore.List(ctx, s.Q, "invoices", scanInvoice, q, lq,
		sqlstore.Parent{Column: "vendor_id", Value: vendorID}, sqlstore.Parent{Column: "contract_id", Value: contractID})
}

// InsertInvoice stores a new invoice: domain.ErrInvoiceExists when its number (or ID) is taken
// on the contract.
func (t Tx) InsertInvoice(ctx context.Context, i *domain.Invoice) error {
	const q = `INSERT INTO invoices (` + invoiceColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
	return sqlstore.Exec(ctx, t, func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrInvoiceExists.With("invoice_number", i.InvoiceNumber).With("contract", i.ContractName())
		}
		return err
	}, q, i.VendorID, i.ContractID, i.ID, i.InvoiceNumber, i.Amount.Minor, string(i.Amount.Currency), i.InvoiceDate.String(),
		sqlstore.NullDate(i.DueDate), sqlstore.NullDate(i.ServicePeriodStart), sqlstore.NullDate(i.ServicePeriodEnd), i.Description, i.Creator,
		i.CreateTime, i.Version)
}

// InvoiceMonthTotals returns the sums of the vendor's invoices by month of their invoice date and
// currency, in month then currency order: what the vendor's scorecards compute a quarter's spend
// from, and which quarters have invoices.
func (s Store) InvoiceMonthTotals(ctx context.Context, vendorID string) ([]domain.InvoiceMonthTotal, error) {
	const q = `SELECT SUBSTR(invoice_date, 1, 7) AS month, amount_currency, CAST(SUM(amount_minor) AS BIGINT)
		FROM invoices WHERE vendor_id = $1 GROUP BY SUBSTR(invoice_date, 1, 7), amount_currency ORDER BY month, amount_currency`
	return sqlstore.All(ctx, s.Q, "invoice totals of vendor "+vendorID, func(sc sqlstore.Scanner) (domain.InvoiceMonthTotal, error) {
		var (
			t          domain.InvoiceMonthTotal
			month, cur string
		)
		if err := sc.Scan(&month, &cur, &t.Amount.Minor); err != nil {
			return t, err
		}
		m, err := civil.ParseMonth(month)
		if err != nil {
			return t, fmt.Errorf("stored invoice month %q: %w", month, err)
		}
		t.Month, t.Amount.Currency = m, money.Currency(cur)
		return t, nil
	}, q, vendorID)
}
