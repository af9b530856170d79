package store

import (
	"context"
	"errors"
	"fmt"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// lineColumns are the columns every line query selects, in scanLine's order. The phasing is its
// granularity and a JSON array of its amounts; the thresholds are a JSON array too: they are only
// ever read and written whole, with the line.
const lineColumns = `budget_id, id, display_name, category, expense_type, planned_minor, phasing_granularity, ` +
	`phasing_amounts, thresholds, tag, description, create_time, update_time, version`

func scanLine(s sqlstore.Scanner) (*domain.Line, error) {
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

func lineArgs(l *domain.Line) []any {
	return []any{l.BudgetID, l.ID, l.DisplayName, int(l.Category), int(l.ExpenseType), l.PlannedMinor,
		int(l.Phasing.Granularity), jsonInts(l.Phasing.Amounts), jsonInts(l.Thresholds), l.Tag, l.Description,
		l.CreateTime, l.UpdateTime, l.Version}
}

// LineTable is what ListLines can filter and order by.
var LineTable = listing.NewTable("name", []listing.Field[*domain.Line]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.LinePattern),
		Get: func(l *domain.Line) any { return l.ID }},
	{Path: "display_name", Column: "display_name", Type: filter.String, Get: func(l *domain.Line) any { return l.DisplayName }},
	{Path: "category", Column: "category", Type: filter.Enum,
		Enum: listing.EnumNumbers(budgetv1.BudgetLine_CATEGORY_UNSPECIFIED.Descriptor())},
	{Path: "expense_type", Column: "expense_type", Type: filter.Enum,
		Enum: listing.EnumNumbers(budgetv1.BudgetLine_EXPENSE_TYPE_UNSPECIFIED.Descriptor())},
	{Path: "tag", Column: "tag", Type: filter.String, Get: func(l *domain.Line) any { return l.Tag }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(l *domain.Line) any { return l.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(l *domain.Line) any { return l.UpdateTime }},
})

// GetLine returns the line of the budget revision, or domain.ErrLineNotFound; in a transaction
// it keeps the row from changing until the transaction ends.
func (r reader) GetLine(ctx context.Context, budgetID, id string) (*domain.Line, error) {
	const q = `SELECT ` + lineColumns + ` FROM budget_lines WHERE budget_id = $1 AND id = $2`
	return sqlstore.Get(ctx, r.Q, "line "+budgetID+"/"+id, domain.ErrLineNotFound, scanLine, r.ForUpdate(q), budgetID, id)
}

// ListLines returns the lines of the budget revision that lq selects (see LineTable).
func (s Store) ListLines(ctx context.Context, budgetID string, lq *listing.Query) ([]*domain.Line, error) {
	const q = `SELECT ` + lineColumns + ` FROM budget_lines`
	return sqlstore.List(ctx, s.Q, "lines", scanLine, q, lq, sqlstore.Parent{Column: "budget_id", Value: budgetID})
}

// Lines returns every line of the budget revision, in ID order, without locking them.
func (t Tx) Lines(ctx context.Context, budgetID string) ([]*domain.Line, error) {
	const q = `SELECT ` + lineColumns + ` FROM budget_lines WHERE budget_id = $1 ORDER BY id`
	return sqlstore.All(ctx, t, "lines of "+budgetID, scanLine, q, budgetID)
}

func lineError(l *domain.Line) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrLineExists.With("name", l.Name())
		}
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrBudgetNotFound.With("name", domain.BudgetName(l.BudgetID))
		}
		return fmt.Errorf("write line %s: %w", l.Name(), err)
	}
}

// InsertLine stores a new line: domain.ErrLineExists when the budget has a line with its ID,
// domain.ErrBudgetNotFound when the budget is missing.
func (t Tx) InsertLine(ctx context.Context, l *domain.Line) error {
	const q = `INSERT INTO budget_lines (` + lineColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
	return sqlstore.Exec(ctx, t, lineError(l), q, lineArgs(l)...)
}

// UpdateLine replaces the stored line whose version is prevVersion with l.
func (t Tx) UpdateLine(ctx context.Context, l *domain.Line, prevVersion int64) error {
	const q = `UPDATE budget_lines SET display_name = $3, category = $4, expense_type = $5, planned_minor = $6,
		phasing_granularity = $7, phasing_amounts = $8, thresholds = $9, tag = $10, description = $11,
		create_time = $12, update_time = $13, version = $14 WHERE budget_id = $1 AND id = $2 AND version = $15`
	return sqlstore.Exec(ctx, t, lineError(l), q, append(lineArgs(l), prevVersion)...)
}

// DeleteLine removes the line at version. Spend and transfers refer to the line through RESTRICT
// keys, so a line with either is never deleted.
func (t Tx) DeleteLine(ctx context.Context, budgetID, id string, version int64) error {
	const q = `DELETE FROM budget_lines WHERE budget_id = $1 AND id = $2 AND version = $3`
	name := domain.LineName(budgetID, id)
	return sqlstore.Exec(ctx, t, func(err error) error {
		if sqldb.IsForeignKeyViolation(err) {
			return fmt.Errorf("delete line %s: spend or transfers refer to it: %w", name, err)
		}
		return fmt.Errorf("delete line %s: %w", name, err)
	}, q, budgetID, id, version)
}

// lineBalanceColumns are the columns every line balance query selects, in scanLineBalance's order.
const lineBalanceColumns = `chain_id, line_id, actual_minor, committed_minor, version, held_minor`

func scanLineBalance(s sqlstore.Scanner) (*domain.LineBalance, error) {
	var b domain.LineBalance
	if err := s.Scan(&b.ChainID, &b.LineID, &b.ActualMinor, &b.CommittedMinor, &b.Version, &b.HeldMinor); err != nil {
		return nil, err
	}
	return &b, nil
}

// LineBalance returns the line's running spend in the chain; a zero balance at version 0 when
// none is stored yet.
func (t Tx) LineBalance(ctx context.Context, chainID, lineID string) (*domain.LineBalance, error) {
	const q = `SELECT ` + lineBalanceColumns + ` FROM line_balances WHERE chain_id = $1 AND line_id = $2`
	b, err := sqlstore.Get(ctx, t, "line balance", errNoBalance, scanLineBalance, q, chainID, lineID)
	if errors.Is(err, errNoBalance) {
		return &domain.LineBalance{ChainID: chainID, LineID: lineID}, nil
	}
	return b, err
}

var errNoBalance = errors.New("no line balance")

// LineBalances returns the stored balances of the chain's lines, in line ID order.
func (r reader) LineBalances(ctx context.Context, chainID string) ([]*domain.LineBalance, error) {
	const q = `SELECT ` + lineBalanceColumns + ` FROM line_balances WHERE chain_id = $1 ORDER BY line_id`
	return sqlstore.All(ctx, r.Q, "line balances", scanLineBalance, q, chainID)
}

// PutLineBalance stores b, inserting or replacing it. Call it with the chain locked.
func (t Tx) PutLineBalance(ctx context.Context, b *domain.LineBalance) error {
	const q = `INSERT INTO line_balances (` + lineBalanceColumns + `) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (chain_id, line_id) DO UPDATE SET actual_minor = EXCLUDED.actual_minor,
		committed_minor = EXCLUDED.committed_minor, version = EXCLUDED.version, held_minor = EXCLUDED.held_minor`
	return sqlstore.Exec(ctx, t, func(err error) error { return fmt.Errorf("put line balance %s/%s: %w", b.ChainID, b.LineID, err) },
		q, b.ChainID, b.LineID, b.ActualMinor, b.CommittedMinor, b.Version, b.HeldMinor)
}

// LineHasSpend reports whether any actual, commitment or hold of the chain is on the line, or
// its balance is not zero.
func (t Tx) LineHasSpend(ctx context.Context, chainID, lineID string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM actuals WHERE chain_id = $1 AND line_id = $2)
		OR EXISTS (SELECT 1 FROM commitments WHERE chain_id = $3 AND line_id = $4)
		OR EXISTS (SELECT 1 FROM holds WHERE chain_id = $5 AND line_id = $6)
		OR EXISTS (SELECT 1 FROM line_balances WHERE chain_id = $7 AND line_id = $8
			AND (actual_minor <> 0 OR committed_minor <> 0 OR held_minor <> 0))`
	return sqlstore.Exists(ctx, t, "spend of line "+lineID, q, chainID, lineID, chainID, lineID, chainID, lineID, chainID, lineID)
}

// ChainHasSpend reports whether any actual, commitment or hold is recorded in the chain.
func (t Tx) ChainHasSpend(ctx context.Context, chainID string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM actuals WHERE chain_id = $1)
		OR EXISTS (SELECT 1 FROM commitments WHERE chain_id = $2)
		OR EXISTS (SELECT 1 FROM holds WHERE chain_id = $3)`
	return sqlstore.Exists(ctx, t, "spend of budget chain "+chainID, q, chainID, chainID, chainID)
}
