package store

import (
	"context"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// LineColumns is the column list every line query selects, in ScanLine's order. The phasing is
// its granularity and a JSON array of its amounts; the thresholds are a JSON array too: they are
// only ever read and written whole, with the line.
const LineColumns = `budget_id, id, display_name, category, expense_type, planned_minor, phasing_granularity, ` +
	`phasing_amounts, thresholds, tag, description, create_time, update_time, version`

// LineBalanceColumns is the column list every line balance query selects.
const LineBalanceColumns = `chain_id, line_id, actual_minor, committed_minor, version`

// ScanLine reads one row of LineColumns.
func ScanLine(s Scanner) (*domain.Line, error) {
	var (
		l                  domain.Line
		amounts, threshold string
	)
	err := s.Scan(&l.BudgetID, &l.ID, &l.DisplayName, &l.Category, &l.ExpenseType, &l.PlannedMinor,
		&l.Phasing.Granularity, &amounts, &threshold, &l.Tag, &l.Description, &l.CreateTime, &l.UpdateTime, &l.Version)
	if err != nil {
		return nil, err
	}
	if l.Phasing.Amounts, err = parseInts[int64](amounts); err != nil {
		return nil, err
	}
	if l.Thresholds, err = parseInts[int32](threshold); err != nil {
		return nil, err
	}
	l.CreateTime, l.UpdateTime = l.CreateTime.UTC(), l.UpdateTime.UTC()
	return &l, nil
}

// LineArgs are l's values in the order of LineColumns.
func LineArgs(l *domain.Line) []any {
	return []any{l.BudgetID, l.ID, l.DisplayName, int(l.Category), int(l.ExpenseType), l.PlannedMinor,
		int(l.Phasing.Granularity), jsonInts(l.Phasing.Amounts), jsonInts(l.Thresholds), l.Tag, l.Description,
		l.CreateTime, l.UpdateTime, l.Version}
}

// ScanLineBalance reads one row of LineBalanceColumns.
func ScanLineBalance(s Scanner) (*domain.LineBalance, error) {
	var b domain.LineBalance
	if err := s.Scan(&b.ChainID, &b.LineID, &b.ActualMinor, &b.CommittedMinor, &b.Version); err != nil {
		return nil, err
	}
	return &b, nil
}

// GetLine runs a query selecting LineColumns of the line whose budget ID is $1 and ID $2.
func GetLine(ctx context.Context, q Querier, query, budgetID, id string) (*domain.Line, error) {
	return get(ctx, q, "line "+budgetID+"/"+id, domain.ErrLineNotFound, ScanLine, query, budgetID, id)
}

// Lines runs a query selecting LineColumns of every line of the budget $1.
func Lines(ctx context.Context, q Querier, query, budgetID string) ([]*domain.Line, error) {
	return all(ctx, q, "lines of "+budgetID, ScanLine, query, budgetID)
}

// ListLines completes selectFrom, selecting LineColumns from budget_lines, with the budget and lq.
func ListLines(ctx context.Context, q Querier, selectFrom, budgetID string, lq *listing.Query) ([]*domain.Line, error) {
	return list(ctx, q, "lines", ScanLine, selectFrom, []Cond{{"budget_id", budgetID}}, lq)
}

func lineWriteError(l *domain.Line) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrLineExists.With("name", lineName(l.BudgetID, l.ID))
		}
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrBudgetNotFound.With("name", domain.BudgetCollection+"/"+l.BudgetID)
		}
		return fmt.Errorf("write line %s: %w", lineName(l.BudgetID, l.ID), err)
	}
}

func lineName(budgetID, id string) string {
	return domain.BudgetCollection + "/" + budgetID + "/" + domain.LineCollection + "/" + id
}

// InsertLine runs an insert whose parameters are LineColumns in order.
func InsertLine(ctx context.Context, q Querier, query string, l *domain.Line) error {
	if _, err := q.ExecContext(ctx, query, LineArgs(l)...); err != nil {
		return lineWriteError(l)(err)
	}
	return nil
}

// UpdateLine runs an update whose parameters are LineColumns in order, then the previous version.
func UpdateLine(ctx context.Context, q Querier, query string, l *domain.Line, prevVersion int64) error {
	return exec(ctx, q, lineWriteError(l), query, append(LineArgs(l), prevVersion)...)
}

// DeleteLine runs a delete with $1 the budget ID, $2 the line ID and $3 the version. Spend rows
// refer to the line through a RESTRICT key, so a line with spend is never deleted.
func DeleteLine(ctx context.Context, q Querier, query, budgetID, id string, version int64) error {
	return exec(ctx, q, func(err error) error {
		if sqldb.IsForeignKeyViolation(err) {
			return fmt.Errorf("delete line %s: spend or transfers refer to it: %w", lineName(budgetID, id), err)
		}
		return fmt.Errorf("delete line %s: %w", lineName(budgetID, id), err)
	}, query, budgetID, id, version)
}

// LineBalance runs a query selecting LineBalanceColumns with $1 the chain and $2 the line; no row
// is a zero balance at version 0.
func LineBalance(ctx context.Context, q Querier, query, chainID, lineID string) (*domain.LineBalance, error) {
	b, err := get(ctx, q, "line balance", errNoBalance, ScanLineBalance, query, chainID, lineID)
	if err == errNoBalance {
		return &domain.LineBalance{ChainID: chainID, LineID: lineID}, nil
	}
	return b, err
}

var errNoBalance = fmt.Errorf("no line balance")

// LineBalances runs a query selecting LineBalanceColumns of every line of the chain $1.
func LineBalances(ctx context.Context, q Querier, query, chainID string) ([]*domain.LineBalance, error) {
	return all(ctx, q, "line balances", ScanLineBalance, query, chainID)
}

// PutLineBalance runs an upsert whose parameters are LineBalanceColumns in order.
func PutLineBalance(ctx context.Context, q Querier, query string, b *domain.LineBalance) error {
	if _, err := q.ExecContext(ctx, query, b.ChainID, b.LineID, b.ActualMinor, b.CommittedMinor, b.Version); err != nil {
		return fmt.Errorf("put line balance %s/%s: %w", b.ChainID, b.LineID, err)
	}
	return nil
}

// The API names of the line enums.
var (
	CategoryNames = map[string]any{
		"HARDWARE": int(domain.CategoryHardware), "SOFTWARE": int(domain.CategorySoftware),
		"CLOUD": int(domain.CategoryCloud), "INTERNAL_LABOUR": int(domain.CategoryInternalLabour),
		"EXTERNAL_LABOUR": int(domain.CategoryExternalLabour), "OUTSIDE_SERVICES": int(domain.CategoryOutsideServices),
		"FACILITIES": int(domain.CategoryFacilities), "TELECOM": int(domain.CategoryTelecom), "OTHER": int(domain.CategoryOther),
	}
	ExpenseTypeNames = map[string]any{"CAPEX": int(domain.Capex), "OPEX": int(domain.Opex)}
)

// LineSchema maps the fields of the Line resource that lists can filter and order by to the
// columns of budget_lines.
var LineSchema = filter.Schema{
	"name": {Column: "id", Type: filter.String,
		Value: idFrom("name", "budgets/{budget}/lines/{line}", lastID(domain.BudgetCollection, domain.LineCollection))},
	"display_name": {Column: "display_name", Type: filter.String},
	"category":     {Column: "category", Type: filter.Enum, Enum: CategoryNames},
	"expense_type": {Column: "expense_type", Type: filter.Enum, Enum: ExpenseTypeNames},
	"tag":          {Column: "tag", Type: filter.String},
	"create_time":  {Column: "create_time", Type: filter.Timestamp},
	"update_time":  {Column: "update_time", Type: filter.Timestamp},
}

// LineList is what ListLines can filter and order by.
var LineList = listing.Resource{Schema: LineSchema, Key: "name"}

// LineValue returns the value of a LineSchema field of l as stored, for page tokens.
func LineValue(l *domain.Line, path string) any {
	switch path {
	case "name":
		return l.ID
	case "display_name":
		return l.DisplayName
	case "tag":
		return l.Tag
	case "create_time":
		return l.CreateTime
	case "update_time":
		return l.UpdateTime
	}
	return nil
}
