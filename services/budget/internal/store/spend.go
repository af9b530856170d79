package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// ActualColumns is the column list every actual query selects, in ScanActual's order.
const ActualColumns = `id, budget_id, chain_id, line_id, amount_minor, amount_currency, converted_minor, ` +
	`rate_id, rate_month, rate_source, rate_target, rate_value, booking_date, period, description, source, ` +
	`external_reference, corrects_id, corrects_budget_id, commitment_id, commitment_budget_id, released_minor, ` +
	`creator, create_time`

// ActualColumnCount is the number of ActualColumns.
const ActualColumnCount = 24

// CommitmentColumns is the column list every commitment query selects, in ScanCommitment's order.
const CommitmentColumns = `id, budget_id, chain_id, line_id, amount_minor, amount_currency, converted_minor, ` +
	`remaining_minor, rate_id, rate_month, rate_source, rate_target, rate_value, expected_date, period, ` +
	`description, source, source_ref, state, creator, create_time, update_time, version`

// CommitmentColumnCount is the number of CommitmentColumns.
const CommitmentColumnCount = 23

// TransferColumns is the column list every transfer query selects, in ScanTransfer's order.
const TransferColumns = `id, budget_id, source_line_id, target_budget_id, target_line_id, amount_minor, ` +
	`effective_date, period, reason, state, requester, decider, decision_time, decision_reason, create_time, ` +
	`update_time, version`

// TransferColumnCount is the number of TransferColumns.
const TransferColumnCount = 17

// ScanActual reads one row of ActualColumns.
func ScanActual(s Scanner) (*domain.Actual, error) {
	var (
		a                                domain.Actual
		rate                             rateColumns
		date                             string
		corrects, commitment             sql.NullString
		correctsBudget, commitmentBudget sql.NullString
	)
	dest := []any{&a.ID, &a.BudgetID, &a.ChainID, &a.LineID, &a.Amount.Minor, &a.Amount.Currency, &a.ConvertedMinor}
	dest = append(dest, rate.dest()...)
	dest = append(dest, &date, &a.Period, &a.Description, &a.Source, &a.ExternalRef, &corrects, &correctsBudget,
		&commitment, &commitmentBudget, &a.ReleasedMinor, &a.Creator, &a.CreateTime)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	var err error
	if a.Rate, err = rate.use(); err != nil {
		return nil, err
	}
	if a.BookingDate, err = parseDate(date); err != nil {
		return nil, err
	}
	a.CorrectsID, a.CommitmentID = corrects.String, commitment.String
	a.CorrectsBudgetID, a.CommitmentBudgetID = correctsBudget.String, commitmentBudget.String
	a.CreateTime = a.CreateTime.UTC()
	return &a, nil
}

// ActualArgs are a's values in the order of ActualColumns.
func ActualArgs(a *domain.Actual) []any {
	args := []any{a.ID, a.BudgetID, a.ChainID, a.LineID, a.Amount.Minor, string(a.Amount.Currency), a.ConvertedMinor}
	args = append(args, rateArgs(a.Rate)...)
	return append(args, formatDate(a.BookingDate), a.Period, a.Description, int(a.Source), a.ExternalRef,
		NullString(a.CorrectsID), NullString(a.CorrectsBudgetID), NullString(a.CommitmentID), NullString(a.CommitmentBudgetID),
		a.ReleasedMinor, a.Creator, a.CreateTime)
}

// ScanCommitment reads one row of CommitmentColumns.
func ScanCommitment(s Scanner) (*domain.Commitment, error) {
	var (
		c    domain.Commitment
		rate rateColumns
		date string
	)
	dest := []any{&c.ID, &c.BudgetID, &c.ChainID, &c.LineID, &c.Amount.Minor, &c.Amount.Currency, &c.ConvertedMinor,
		&c.RemainingMinor}
	dest = append(dest, rate.dest()...)
	dest = append(dest, &date, &c.Period, &c.Description, &c.Source, &c.SourceRef, &c.State, &c.Creator,
		&c.CreateTime, &c.UpdateTime, &c.Version)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	var err error
	if c.Rate, err = rate.use(); err != nil {
		return nil, err
	}
	if c.Date, err = parseDate(date); err != nil {
		return nil, err
	}
	c.CreateTime, c.UpdateTime = c.CreateTime.UTC(), c.UpdateTime.UTC()
	return &c, nil
}

// CommitmentArgs are c's values in the order of CommitmentColumns.
func CommitmentArgs(c *domain.Commitment) []any {
	args := []any{c.ID, c.BudgetID, c.ChainID, c.LineID, c.Amount.Minor, string(c.Amount.Currency), c.ConvertedMinor,
		c.RemainingMinor}
	args = append(args, rateArgs(c.Rate)...)
	return append(args, formatDate(c.Date), c.Period, c.Description, int(c.Source), c.SourceRef, int(c.State),
		c.Creator, c.CreateTime, c.UpdateTime, c.Version)
}

// ScanTransfer reads one row of TransferColumns.
func ScanTransfer(s Scanner) (*domain.Transfer, error) {
	var (
		t        domain.Transfer
		date     string
		decision sql.NullTime
	)
	err := s.Scan(&t.ID, &t.BudgetID, &t.SourceLineID, &t.TargetBudgetID, &t.TargetLineID, &t.AmountMinor, &date,
		&t.Period, &t.Reason, &t.State, &t.Requester, &t.Decider, &decision, &t.DecisionReason, &t.CreateTime,
		&t.UpdateTime, &t.Version)
	if err != nil {
		return nil, err
	}
	if t.EffectiveDate, err = parseDate(date); err != nil {
		return nil, err
	}
	t.DecisionTime = timeOf(decision)
	t.CreateTime, t.UpdateTime = t.CreateTime.UTC(), t.UpdateTime.UTC()
	return &t, nil
}

// TransferArgs are t's values in the order of TransferColumns.
func TransferArgs(t *domain.Transfer) []any {
	return []any{t.ID, t.BudgetID, t.SourceLineID, t.TargetBudgetID, t.TargetLineID, t.AmountMinor,
		formatDate(t.EffectiveDate), t.Period, t.Reason, int(t.State), t.Requester, t.Decider, nullTime(t.DecisionTime),
		t.DecisionReason, t.CreateTime, t.UpdateTime, t.Version}
}

// spendWriteError: spend and transfers refer to lines and chains that the service has just read
// under the chain's lock, so a foreign key failing is a bug; say which row.
func spendWriteError(what string) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return fmt.Errorf("write %s: %w: %w", what, sqldb.ErrAlreadyExists, err)
		}
		return fmt.Errorf("write %s: %w", what, err)
	}
}

// GetActual runs a query selecting ActualColumns with $1 the budget, $2 the line and $3 the ID.
func GetActual(ctx context.Context, q Querier, query, budgetID, lineID, id string) (*domain.Actual, error) {
	return get(ctx, q, "actual "+id, domain.ErrActualNotFound, ScanActual, query, budgetID, lineID, id)
}

// ListActuals completes selectFrom, selecting ActualColumns from actuals, with the parents
// (either may be Wildcard) and lq.
func ListActuals(ctx context.Context, q Querier, selectFrom, budgetID, lineID string, lq *listing.Query) ([]*domain.Actual, error) {
	return list(ctx, q, "actuals", ScanActual, selectFrom, []Cond{{"budget_id", budgetID}, {"line_id", lineID}}, lq)
}

// InsertActual runs an insert whose parameters are ActualColumns in order.
func InsertActual(ctx context.Context, q Querier, query string, a *domain.Actual) error {
	if _, err := q.ExecContext(ctx, query, ActualArgs(a)...); err != nil {
		return spendWriteError("actual " + a.ID)(err)
	}
	return nil
}

// Sum runs a query returning one integer, 0 for NULL.
func Sum(ctx context.Context, q Querier, query string, args ...any) (int64, error) {
	var n sql.NullInt64
	if err := q.QueryRowContext(ctx, query, args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("sum: %w", err)
	}
	return n.Int64, nil
}

// GetCommitment runs a query selecting CommitmentColumns with $1 the budget, $2 the line, $3 the ID.
func GetCommitment(ctx context.Context, q Querier, query, budgetID, lineID, id string) (*domain.Commitment, error) {
	return get(ctx, q, "commitment "+id, domain.ErrCommitmentNotFound, ScanCommitment, query, budgetID, lineID, id)
}

// ListCommitments completes selectFrom, selecting CommitmentColumns from commitments, with the
// parents (either may be Wildcard) and lq.
func ListCommitments(ctx context.Context, q Querier, selectFrom, budgetID, lineID string, lq *listing.Query) ([]*domain.Commitment, error) {
	return list(ctx, q, "commitments", ScanCommitment, selectFrom, []Cond{{"budget_id", budgetID}, {"line_id", lineID}}, lq)
}

// InsertCommitment runs an insert whose parameters are CommitmentColumns in order.
func InsertCommitment(ctx context.Context, q Querier, query string, c *domain.Commitment) error {
	if _, err := q.ExecContext(ctx, query, CommitmentArgs(c)...); err != nil {
		return spendWriteError("commitment " + c.ID)(err)
	}
	return nil
}

// UpdateCommitment runs an update whose parameters are CommitmentColumns, then the previous version.
func UpdateCommitment(ctx context.Context, q Querier, query string, c *domain.Commitment, prevVersion int64) error {
	return exec(ctx, q, spendWriteError("commitment "+c.ID), query, append(CommitmentArgs(c), prevVersion)...)
}

// GetTransfer runs a query selecting TransferColumns with $1 the budget and $2 the ID.
func GetTransfer(ctx context.Context, q Querier, query, budgetID, id string) (*domain.Transfer, error) {
	return get(ctx, q, "transfer "+id, domain.ErrTransferNotFound, ScanTransfer, query, budgetID, id)
}

// ListTransfers completes selectFrom, selecting TransferColumns from transfers, with the budget
// (may be Wildcard) and lq.
func ListTransfers(ctx context.Context, q Querier, selectFrom, budgetID string, lq *listing.Query) ([]*domain.Transfer, error) {
	return list(ctx, q, "transfers", ScanTransfer, selectFrom, []Cond{{"budget_id", budgetID}}, lq)
}

// InsertTransfer runs an insert whose parameters are TransferColumns in order.
func InsertTransfer(ctx context.Context, q Querier, query string, t *domain.Transfer) error {
	if _, err := q.ExecContext(ctx, query, TransferArgs(t)...); err != nil {
		return spendWriteError("transfer " + t.ID)(err)
	}
	return nil
}

// UpdateTransfer runs an update whose parameters are TransferColumns, then the previous version.
func UpdateTransfer(ctx context.Context, q Querier, query string, t *domain.Transfer, prevVersion int64) error {
	return exec(ctx, q, spendWriteError("transfer "+t.ID), query, append(TransferArgs(t), prevVersion)...)
}

// LineSpend is the spend of one line in one fiscal period, in minor units of the budget
// currency: the converted actuals and the remaining amount of the open commitments.
type LineSpend = domain.LineSpend

func scanLineSpend(s Scanner) (LineSpend, error) {
	var ls LineSpend
	err := s.Scan(&ls.LineID, &ls.Period, &ls.ActualMinor, &ls.CommittedMinor)
	return ls, err
}

// Spend runs a query returning (line_id, period, actual, committed) rows.
func Spend(ctx context.Context, q Querier, query string, args ...any) ([]LineSpend, error) {
	return all(ctx, q, "spend", scanLineSpend, query, args...)
}

func scanRateUse(s Scanner) (domain.RateUse, error) {
	var r rateColumns
	if err := s.Scan(r.dest()...); err != nil {
		return domain.RateUse{}, err
	}
	u, err := r.use()
	if err != nil || u == nil {
		return domain.RateUse{}, fmt.Errorf("rate use: %v", err)
	}
	return *u, nil
}

// RatesUsed runs a query returning the five rate columns of distinct rate uses, none NULL.
func RatesUsed(ctx context.Context, q Querier, query string, args ...any) ([]domain.RateUse, error) {
	return all(ctx, q, "rates used", scanRateUse, query, args...)
}

// The API names of the spend enums.
var (
	ActualSourceNames = map[string]any{
		"MANUAL": int(domain.SourceManual), "VENDOR_INVOICE": int(domain.SourceVendorInvoice),
		"INCIDENT_COST": int(domain.SourceIncidentCost), "PAYROLL": int(domain.SourcePayroll), "OTHER": int(domain.SourceOther),
	}
	CommitmentSourceNames = map[string]any{
		"CONTRACT": int(domain.CommitmentContract), "POSITION": int(domain.CommitmentPosition),
		"PURCHASE_ORDER": int(domain.CommitmentPurchaseOrder), "OTHER": int(domain.CommitmentOther),
	}
	CommitmentStateNames = map[string]any{"OPEN": int(domain.CommitmentOpen), "RELEASED": int(domain.CommitmentReleased)}
	TransferStateNames   = map[string]any{
		"PENDING": int(domain.TransferPending), "APPROVED": int(domain.TransferApproved), "REJECTED": int(domain.TransferRejected),
	}
)

// lineNameColumn is the resource name of a spend row's line, so that "line" filters compare
// whole names, which also pins the budget revision.
const lineNameColumn = `'budgets/' || budget_id || '/lines/' || line_id`

// ActualSchema maps the fields of the Actual resource that lists can filter and order by.
var ActualSchema = filter.Schema{
	"name": {Column: "id", Type: filter.String, Value: idFrom("name", "budgets/{budget}/lines/{line}/actuals/{actual}",
		lastID(domain.BudgetCollection, domain.LineCollection, domain.ActualCollection))},
	"budget": {Column: "budget_id", Type: filter.String,
		Value: idFrom("budget", "budgets/{budget}", lastID(domain.BudgetCollection))},
	"line": {Column: lineNameColumn, Type: filter.String,
		Value: checkName("line", "budgets/{budget}/lines/{line}", domain.BudgetCollection, domain.LineCollection)},
	"booking_date":         {Column: "booking_date", Type: filter.String},
	"source":               {Column: "source", Type: filter.Enum, Enum: ActualSourceNames},
	"external_reference":   {Column: "external_reference", Type: filter.String},
	"amount.currency_code": {Column: "amount_currency", Type: filter.String},
	"creator":              {Column: "creator", Type: filter.String},
	"create_time":          {Column: "create_time", Type: filter.Timestamp},
}

// ActualList is what ListActuals can filter and order by.
var ActualList = listing.Resource{Schema: ActualSchema, Key: "name"}

// ActualValue returns the value of an ActualSchema field of a as stored, for page tokens.
func ActualValue(a *domain.Actual, path string) any {
	switch path {
	case "name":
		return a.ID
	case "budget":
		return a.BudgetID
	case "line":
		return lineName(a.BudgetID, a.LineID)
	case "booking_date":
		return formatDate(a.BookingDate)
	case "external_reference":
		return a.ExternalRef
	case "amount.currency_code":
		return string(a.Amount.Currency)
	case "creator":
		return a.Creator
	case "create_time":
		return a.CreateTime
	}
	return nil
}

// CommitmentSchema maps the fields of the Commitment resource that lists can filter and order by.
var CommitmentSchema = filter.Schema{
	"name": {Column: "id", Type: filter.String, Value: idFrom("name", "budgets/{budget}/lines/{line}/commitments/{commitment}",
		lastID(domain.BudgetCollection, domain.LineCollection, domain.CommitmentCollection))},
	"budget": {Column: "budget_id", Type: filter.String,
		Value: idFrom("budget", "budgets/{budget}", lastID(domain.BudgetCollection))},
	"line": {Column: lineNameColumn, Type: filter.String,
		Value: checkName("line", "budgets/{budget}/lines/{line}", domain.BudgetCollection, domain.LineCollection)},
	"expected_date":        {Column: "expected_date", Type: filter.String},
	"source":               {Column: "source", Type: filter.Enum, Enum: CommitmentSourceNames},
	"source_reference":     {Column: "source_ref", Type: filter.String},
	"state":                {Column: "state", Type: filter.Enum, Enum: CommitmentStateNames},
	"amount.currency_code": {Column: "amount_currency", Type: filter.String},
	"creator":              {Column: "creator", Type: filter.String},
	"create_time":          {Column: "create_time", Type: filter.Timestamp},
	"update_time":          {Column: "update_time", Type: filter.Timestamp},
}

// CommitmentList is what ListCommitments can filter and order by.
var CommitmentList = listing.Resource{Schema: CommitmentSchema, Key: "name"}

// CommitmentValue returns the value of a CommitmentSchema field of c as stored, for page tokens.
func CommitmentValue(c *domain.Commitment, path string) any {
	switch path {
	case "name":
		return c.ID
	case "budget":
		return c.BudgetID
	case "line":
		return lineName(c.BudgetID, c.LineID)
	case "expected_date":
		return formatDate(c.Date)
	case "source_reference":
		return c.SourceRef
	case "amount.currency_code":
		return string(c.Amount.Currency)
	case "creator":
		return c.Creator
	case "create_time":
		return c.CreateTime
	case "update_time":
		return c.UpdateTime
	}
	return nil
}

// TransferSchema maps the fields of the Transfer resource that lists can filter and order by.
var TransferSchema = filter.Schema{
	"name": {Column: "id", Type: filter.String, Value: idFrom("name", "budgets/{budget}/transfers/{transfer}",
		lastID(domain.BudgetCollection, domain.TransferCollection))},
	"source_line": {Column: `'budgets/' || budget_id || '/lines/' || source_line_id`, Type: filter.String,
		Value: checkName("source_line", "budgets/{budget}/lines/{line}", domain.BudgetCollection, domain.LineCollection)},
	"target_line": {Column: `'budgets/' || target_budget_id || '/lines/' || target_line_id`, Type: filter.String,
		Value: checkName("target_line", "budgets/{budget}/lines/{line}", domain.BudgetCollection, domain.LineCollection)},
	"effective_date": {Column: "effective_date", Type: filter.String},
	"state":          {Column: "state", Type: filter.Enum, Enum: TransferStateNames},
	"requester":      {Column: "requester", Type: filter.String},
	"decider":        {Column: "decider", Type: filter.String},
	"create_time":    {Column: "create_time", Type: filter.Timestamp},
	"update_time":    {Column: "update_time", Type: filter.Timestamp},
}

// TransferList is what ListTransfers can filter and order by.
var TransferList = listing.Resource{Schema: TransferSchema, Key: "name"}

// TransferValue returns the value of a TransferSchema field of t as stored, for page tokens.
func TransferValue(t *domain.Transfer, path string) any {
	switch path {
	case "name":
		return t.ID
	case "source_line":
		return lineName(t.BudgetID, t.SourceLineID)
	case "target_line":
		return lineName(t.TargetBudgetID, t.TargetLineID)
	case "effective_date":
		return formatDate(t.EffectiveDate)
	case "requester":
		return t.Requester
	case "decider":
		return t.Decider
	case "create_time":
		return t.CreateTime
	case "update_time":
		return t.UpdateTime
	}
	return nil
}
