package store

import (
	"context"
	"database/sql"
	"time"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
)

// The kinds of a contract's due items, the scheduler handlers' keys: the notice window opening,
// the cancel-by date passing, and the end of the current term (renewal or expiry).
const (
	ContractNoticeWindowKind = "contract_notice_window"
	ContractCancelByKind     = "contract_cancel_by"
	ContractTermEndKind      = "contract_term_end"
)

// contractColumns are the columns every contract query selects, in scanContract's order.
const contractColumns = `vendor_id, id, title, description, total_minor, total_currency, annual_minor, annual_currency,
	billing_frequency, start_date, end_date, auto_renew, renewal_term_months, minimum_term_months, notice_period_days,
	decision_buffer_days, notice_window_days, cancel_by_date, notice_window_open_date, budget_line, slas, owner,
	state, submitter, submit_time, approver, activate_time, hold, renewal_count, terminate_time, termination_reason,
	termination_effective_date, invoiced_minor, rejection_reason, create_time, update_time, version`

func scanContract(s sqlstore.Scanner) (*domain.Contract, error) {
	var (
		c                                  domain.Contract
		totalCur, annualCur, slas          string
		start, end, cancelBy, open, effect sql.NullString
		submit, activate, terminate        sql.NullTime
	)
	err := s.Scan(&c.VendorID, &c.ID, &c.Title, &c.Description, &c.TotalValue.Minor, &totalCur, &c.AnnualValue.Minor, &annualCur,
		&c.BillingFrequency, &start, &end, &c.AutoRenew, &c.RenewalTermMonths, &c.MinimumTermMonths, &c.NoticePeriodDays,
		&c.DecisionBufferDays, &c.NoticeWindowDays, &cancelBy, &open, &c.BudgetLine, &slas, &c.Owner,
		&c.State, &c.Submitter, &submit, &c.Approver, &activate, &c.Hold, &c.RenewalCount, &terminate, &c.TerminationReason,
		&effect, &c.InvoicedMinor, &c.RejectionReason, &c.CreateTime, &c.UpdateTime, &c.Version)
	if err != nil {
		return nil, err
	}
	c.TotalValue.Currency, c.AnnualValue.Currency = money.Currency(totalCur), money.Currency(annualCur)
	for _, d := range []struct {
		s   sql.NullString
		dst *domain.Date
	}{{start, &c.StartDate}, {end, &c.EndDate}, {cancelBy, &c.CancelByDate}, {open, &c.NoticeWindowOpenDate}, {effect, &c.TerminationEffectiveDate}} {
		if *d.dst, err = sqlstore.DateOf(d.s); err != nil {
			return nil, err
		}
	}
	if c.SLAs, err = sqlstore.ListOf[domain.ServiceLevel](slas); err != nil {
		return nil, err
	}
	c.SubmitTime, c.ActivateTime, c.TerminateTime = utc(sqlstore.TimeOf(submit)), utc(sqlstore.TimeOf(activate)), utc(sqlstore.TimeOf(terminate))
	c.CreateTime, c.UpdateTime = c.CreateTime.UTC(), c.UpdateTime.UTC()
	return &c, nil
}

// utc is t in UTC; the zero time stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func contractArgs(c *domain.Contract) ([]any, error) {
	slas, err := sqlstore.JSONList(c.SLAs)
	if err != nil {
		return nil, err
	}
	return []any{c.VendorID, c.ID, c.Title, c.Description, c.TotalValue.Minor, string(c.TotalValue.Currency),
		c.AnnualValue.Minor, string(c.AnnualValue.Currency), c.BillingFrequency, sqlstore.NullDate(c.StartDate), c.EndDate.String(),
		c.AutoRenew, c.RenewalTermMonths, c.MinimumTermMonths, c.NoticePeriodDays, c.DecisionBufferDays, c.NoticeWindowDays,
		c.CancelByDate.String(), c.NoticeWindowOpenDate.String(), c.BudgetLine, slas, c.Owner, int32(c.State), c.Submitter,
		sqlstore.NullTime(c.SubmitTime), c.Approver, sqlstore.NullTime(c.ActivateTime), c.Hold, c.RenewalCount,
		sqlstore.NullTime(c.TerminateTime), c.TerminationReason, sqlstore.NullDate(c.TerminationEffectiveDate), c.InvoicedMinor,
		c.RejectionReason, c.CreateTime, c.UpdateTime, c.Version}, nil
}

// ContractTable is what ListContracts can filter and order by.
var ContractTable = listing.NewTable("name", []listing.Field[*domain.Contract]{
	{Path: "name", Column: "vendor_id || '/' || id", Type: filter.String, Value: contractKey("name"),
		Get: func(c *domain.Contract) any { return c.VendorID + "/" + c.ID }},
	{Path: "vendor", Column: "vendor_id", Type: filter.String, Value: listing.NameID("vendor", domain.VendorPattern),
		Get: func(c *domain.Contract) any { return c.VendorID }},
	{Path: "title", Column: "title", Type: filter.String, Get: func(c *domain.Contract) any { return c.Title }},
	{Path: "state", Column: "state", Type: filter.Enum, Enum: listing.EnumNumbers(vendorsv1.Contract_STATE_UNSPECIFIED.Descriptor())},
	{Path: "start_date", Column: "start_date", Type: filter.String, Nullable: true, Sort: "COALESCE(start_date, '')",
		Get: func(c *domain.Contract) any { return dateText(c.StartDate) }},
	{Path: "end_date", Column: "end_date", Type: filter.String, Get: func(c *domain.Contract) any { return c.EndDate.String() }},
	{Path: "cancel_by_date", Column: "cancel_by_date", Type: filter.String, Get: func(c *domain.Contract) any { return c.CancelByDate.String() }},
	{Path: "notice_window_open_date", Column: "notice_window_open_date", Type: filter.String,
		Get: func(c *domain.Contract) any { return c.NoticeWindowOpenDate.String() }},
	{Path: "budget_line", Column: "budget_line", Type: filter.String, Get: func(c *domain.Contract) any { return c.BudgetLine }},
	{Path: "auto_renew", Column: "auto_renew", Type: filter.Bool, Get: func(c *domain.Contract) any { return c.AutoRenew }},
	{Path: "billing_frequency", Column: "billing_frequency", Type: filter.Enum,
		Enum: listing.EnumNumbers(vendorsv1.Contract_BILLING_FREQUENCY_UNSPECIFIED.Descriptor())},
	{Path: "owner", Column: "owner", Type: filter.String, Get: func(c *domain.Contract) any { return c.Owner }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(c *domain.Contract) any { return c.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(c *domain.Contract) any { return c.UpdateTime }},
})

// dateText is a date as stored and compared: 'YYYY-MM-DD', or "" when unset.
func dateText(d domain.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

// contractKey converts a contract name in a filter to the stored "vendor/contract" key.
func contractKey(field string) func(any) (any, error) {
	return func(v any) (any, error) {
		var vendorID, id string
		if !domain.ContractPattern.Scan(v.(string), &vendorID, &id) {
			return nil, domain.ContractPattern.Invalid(field)
		}
		return vendorID + "/" + id, nil
	}
}

// GetContract returns the contract of the vendor with the ID, or domain.ErrContractNotFound; in
// a transaction it keeps the row from changing until the transaction ends.
func (r reader) GetContract(ctx context.Context, vendorID, id string) (*domain.Contract, error) {
	const q = `SELECT ` + contractColumns + ` FROM contracts WHERE vendor_id = $1 AND id = $2`
	return sqlstore.Get(ctx, r.Q, "contract "+id, domain.ErrContractNotFound, scanContract, r.ForUpdate(q), vendorID, id)
}

// ListContracts returns the contracts lq selects (see ContractTable) of the vendor, which may be
// Wildcard.
func (s Store) ListContracts(ctx context.Context, vendorID string, lq *listing.Query) ([]*domain.Contract, error) {
	const q = `SELECT ` + contractColumns + ` FROM contracts`
	return sqlstore.List(ctx, s.Q, "contracts", scanContract, q, lq, sqlstore.Parent{Column: "vendor_id", Value: vendorID})
}

// contractError translates a driver error of a write of c into the domain error it means.
func contractError(c *domain.Contract) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrContractExists.With("name", c.Name())
		}
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrVendorNotFound.With("name", domain.VendorName(c.VendorID))
		}
		return err
	}
}

// InsertContract stores a new contract: domain.ErrContractExists when the ID is taken.
func (t Tx) InsertContract(ctx context.Context, c *domain.Contract) error {
	const q = `INSERT INTO contracts (` + contractColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
		$11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30,
		$31, $32, $33, $34, $35, $36, $37)`
	args, err := contractArgs(c)
	if err != nil {
		return err
	}
	return sqlstore.Exec(ctx, t, contractError(c), q, args...)
}

// UpdateContract replaces the stored contract whose version is prevVersion with c, and declares
// its due items as they follow from its new state and dates (ScheduleContract).
func (t Tx) UpdateContract(ctx context.Context, c *domain.Contract, prevVersion int64, today domain.Date) error {
	const q = `UPDATE contracts SET title = $3, description = $4, total_minor = $5, total_currency = $6,
		annual_minor = $7, annual_currency = $8, billing_frequency = $9, start_date = $10, end_date = $11,
		auto_renew = $12, renewal_term_months = $13, minimum_term_months = $14, notice_period_days = $15,
		decision_buffer_days = $16, notice_window_days = $17, cancel_by_date = $18, notice_window_open_date = $19,
		budget_line = $20, slas = $21, owner = $22, state = $23, submitter = $24, submit_time = $25, approver = $26,
		activate_time = $27, hold = $28, renewal_count = $29, terminate_time = $30, termination_reason = $31,
		termination_effective_date = $32, invoiced_minor = $33, rejection_reason = $34, create_time = $35,
		update_time = $36, version = $37
		WHERE vendor_id = $1 AND id = $2 AND version = $38`
	args, err := contractArgs(c)
	if err != nil {
		return err
	}
	if err := sqlstore.Exec(ctx, t, contractError(c), q, append(args, prevVersion)...); err != nil {
		return err
	}
	return t.ScheduleContract(ctx, c, today)
}

// DeleteContract removes the contract at version.
func (t Tx) DeleteContract(ctx context.Context, c *domain.Contract) error {
	const q = `DELETE FROM contracts WHERE vendor_id = $1 AND id = $2 AND version = $3`
	if err := sqlstore.Exec(ctx, t, contractError(c), q, c.VendorID, c.ID, c.Version); err != nil {
		return err
	}
	return scheduler.CancelResource(ctx, t, c.Name())
}

// startOfDay is 00:00 UTC of d: when a date-driven item of d is due.
func startOfDay(d domain.Date) time.Time { return d.Time() }

// ContractItemDue is when each kind of c's due items falls in its current term: the notice
// window at the start of its opening day, the missed cancel-by at the start of the day after
// it, the term's end at the start of the day after the end date.
func ContractItemDue(c *domain.Contract, kind string) time.Time {
	switch kind {
	case ContractNoticeWindowKind:
		return startOfDay(c.NoticeWindowOpenDate)
	case ContractCancelByKind:
		return startOfDay(c.CancelByDate.AddDays(1))
	default:
		return startOfDay(c.EndDate.AddDays(1))
	}
}

// ScheduleContract declares c's due items as its state and dates say, in the transaction: none
// for a contract that is not in force (pending ones are cancelled); the end of the term for one
// that is; and, for an auto-renewing one whose cancel-by date is today or later, the notice
// window and the missed cancel-by. Declaring an item that fired at the same time again does not
// fire it again; a moved date fires again.
func (t Tx) ScheduleContract(ctx context.Context, c *domain.Contract, today domain.Date) error {
	name := c.Name()
	if !c.State.InForce() {
		return scheduler.CancelResource(ctx, t, name)
	}
	items := []string{ContractTermEndKind}
	if c.AutoRenew && !c.CancelByDate.Before(today) {
		items = append(items, ContractNoticeWindowKind, ContractCancelByKind)
	} else {
		for _, k := range []string{ContractNoticeWindowKind, ContractCancelByKind} {
			if err := scheduler.Cancel(ctx, t, contractItemKey(name, k)); err != nil {
				return err
			}
		}
	}
	for _, k := range items {
		if err := scheduler.Schedule(ctx, t, scheduler.Item{Key: contractItemKey(name, k), Kind: k, Resource: name,
			Due: ContractItemDue(c, k)}); err != nil {
			return err
		}
	}
	return nil
}

// contractItemKey names the due item of a kind of the contract named name.
func contractItemKey(name, kind string) string { return name + ":" + kind }

// ContractItem returns the state of the due item of a kind of the contract named name, or
// scheduler.ErrNotFound.
func (r reader) ContractItem(ctx context.Context, name, kind string) (scheduler.State, error) {
	return scheduler.Get(ctx, r.Q, contractItemKey(name, kind))
}

// VendorContracts returns every contract of the vendor, in ID order: what the vendor's
// scorecards compute the contract value of a quarter from.
func (r reader) VendorContracts(ctx context.Context, vendorID string) ([]*domain.Contract, error) {
	const q = `SELECT ` + contractColumns + ` FROM contracts WHERE vendor_id = $1 ORDER BY id`
	return sqlstore.All(ctx, r.Q, "contracts of vendor "+vendorID, scanContract, q, vendorID)
}
