package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// BudgetColumns is the column list every budget query selects, in ScanBudget's order; inserts
// and updates bind BudgetArgs in the same order.
const BudgetColumns = `id, chain_id, revision, cost_center_id, fiscal_year, start_month, currency, display_name, ` +
	`owner, description, policy, state, previous_id, superseded_by_id, submitter, submit_time, decider, ` +
	`decision_time, decision_reason, closer, close_time, planned_minor, create_time, update_time, version`

// BudgetColumnCount is the number of BudgetColumns.
const BudgetColumnCount = 25

// ChainColumns is the column list every chain query selects, in ScanChain's order.
const ChainColumns = `id, cost_center_id, fiscal_year, in_force_id, open_id, forecast_over_plan, version`

// ScanBudget reads one row of BudgetColumns.
func ScanBudget(s Scanner) (*domain.Budget, error) {
	var (
		b                          domain.Budget
		prev, supersededBy         sql.NullString
		submit, decision, closedAt sql.NullTime
		startMonth                 int
	)
	err := s.Scan(&b.ID, &b.ChainID, &b.Revision, &b.CostCenterID, &b.FiscalYear, &startMonth, &b.Currency,
		&b.DisplayName, &b.Owner, &b.Description, &b.Policy, &b.State, &prev, &supersededBy, &b.Submitter,
		&submit, &b.Decider, &decision, &b.DecisionReason, &b.Closer, &closedAt, &b.PlannedMinor,
		&b.CreateTime, &b.UpdateTime, &b.Version)
	if err != nil {
		return nil, err
	}
	b.StartMonth = time.Month(startMonth)
	b.PreviousID, b.SupersededByID = prev.String, supersededBy.String
	b.SubmitTime, b.DecisionTime, b.CloseTime = timeOf(submit), timeOf(decision), timeOf(closedAt)
	b.CreateTime, b.UpdateTime = b.CreateTime.UTC(), b.UpdateTime.UTC()
	return &b, nil
}

// BudgetArgs are b's values in the order of BudgetColumns.
func BudgetArgs(b *domain.Budget) []any {
	return []any{b.ID, b.ChainID, b.Revision, b.CostCenterID, b.FiscalYear, int(b.StartMonth), string(b.Currency),
		b.DisplayName, b.Owner, b.Description, int(b.Policy), int(b.State), NullString(b.PreviousID),
		NullString(b.SupersededByID), b.Submitter, nullTime(b.SubmitTime), b.Decider, nullTime(b.DecisionTime),
		b.DecisionReason, b.Closer, nullTime(b.CloseTime), b.PlannedMinor, b.CreateTime, b.UpdateTime, b.Version}
}

// ScanChain reads one row of ChainColumns.
func ScanChain(s Scanner) (*domain.Chain, error) {
	var (
		c             domain.Chain
		inForce, open sql.NullString
	)
	if err := s.Scan(&c.ID, &c.CostCenterID, &c.FiscalYear, &inForce, &open, &c.ForecastOverPlan, &c.Version); err != nil {
		return nil, err
	}
	c.InForceID, c.OpenID = inForce.String, open.String
	return &c, nil
}

// ChainArgs are c's values in the order of ChainColumns.
func ChainArgs(c *domain.Chain) []any {
	return []any{c.ID, c.CostCenterID, c.FiscalYear, NullString(c.InForceID), NullString(c.OpenID), c.ForecastOverPlan, c.Version}
}

// GetBudget runs a query selecting BudgetColumns of the budget whose ID is $1.
func GetBudget(ctx context.Context, q Querier, query, id string) (*domain.Budget, error) {
	return get(ctx, q, "budget "+id, domain.ErrBudgetNotFound, ScanBudget, query, id)
}

// ListBudgets completes selectFrom, selecting BudgetColumns from budgets, with lq.
func ListBudgets(ctx context.Context, q Querier, selectFrom string, lq *listing.Query) ([]*domain.Budget, error) {
	return list(ctx, q, "budgets", ScanBudget, selectFrom, nil, lq)
}

// BudgetsIn runs a query selecting BudgetColumns whose $1 is an int and whose remaining
// arguments are the IDs, after replacing "(IDS)" in query with their placeholders.
func BudgetsIn(ctx context.Context, q Querier, query string, first any, ids []string) ([]*domain.Budget, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	ps := make([]string, len(ids))
	args := []any{first}
	for i, id := range ids {
		ps[i] = fmt.Sprintf("$%d", i+2)
		args = append(args, id)
	}
	query = strings.Replace(query, "(IDS)", "("+strings.Join(ps, ", ")+")", 1)
	return all(ctx, q, "budgets in force", ScanBudget, query, args...)
}

func budgetWriteError(b *domain.Budget) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrBudgetExists.With("name", domain.BudgetCollection+"/"+b.ID)
		}
		if sqldb.IsForeignKeyViolation(err) {
			return fmt.Errorf("budget %s: its chain %s does not exist: %w", b.ID, b.ChainID, err)
		}
		return fmt.Errorf("write budget %s: %w", b.ID, err)
	}
}

// InsertBudget runs an insert whose parameters are BudgetColumns in order.
func InsertBudget(ctx context.Context, q Querier, query string, b *domain.Budget) error {
	_, err := q.ExecContext(ctx, query, BudgetArgs(b)...)
	if err != nil {
		return budgetWriteError(b)(err)
	}
	return nil
}

// UpdateBudget runs an update whose parameters are BudgetColumns in order (create_time is written
// back unchanged), then the previous version; it must change exactly one row.
func UpdateBudget(ctx context.Context, q Querier, query string, b *domain.Budget, prevVersion int64) error {
	return exec(ctx, q, budgetWriteError(b), query, append(BudgetArgs(b), prevVersion)...)
}

// MaxRevision runs query, selecting the highest revision (0 when none) of the chain $1.
func MaxRevision(ctx context.Context, q Querier, query, chainID string) (int32, error) {
	var n int32
	if err := q.QueryRowContext(ctx, query, chainID).Scan(&n); err != nil {
		return 0, fmt.Errorf("latest revision of budget chain %s: %w", chainID, err)
	}
	return n, nil
}

// Delete runs a delete whose parameters are args; it must remove exactly one row.
func Delete(ctx context.Context, q Querier, what, query string, args ...any) error {
	return exec(ctx, q, func(err error) error { return fmt.Errorf("delete %s: %w", what, err) }, query, args...)
}

// GetChain runs a query selecting ChainColumns of the chain whose ID is $1; a missing chain is
// a missing budget.
func GetChain(ctx context.Context, q Querier, query, id string) (*domain.Chain, error) {
	return get(ctx, q, "budget chain "+id, domain.ErrBudgetNotFound, ScanChain, query, id)
}

func chainWriteError(c *domain.Chain) func(error) error {
	return func(err error) error {
		if constraint, ok := sqldb.UniqueViolation(err); ok {
			if strings.Contains(constraint, "cost_center") {
				return domain.ErrBudgetExists.With("cost_center", domain.CostCenterName(c.CostCenterID)).
					With("fiscal_year", fmt.Sprint(c.FiscalYear))
			}
			return domain.ErrBudgetExists.With("name", domain.BudgetCollection+"/"+c.ID)
		}
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrCostCenterNotFound.With("name", domain.CostCenterName(c.CostCenterID))
		}
		return fmt.Errorf("write budget chain %s: %w", c.ID, err)
	}
}

// InsertChain runs an insert whose parameters are ChainColumns in order: domain.ErrBudgetExists
// when the cost centre already has a chain for the fiscal year.
func InsertChain(ctx context.Context, q Querier, query string, c *domain.Chain) error {
	if _, err := q.ExecContext(ctx, query, ChainArgs(c)...); err != nil {
		return chainWriteError(c)(err)
	}
	return nil
}

// UpdateChain runs an update whose parameters are ChainColumns in order, then the previous
// version; it must change exactly one row.
func UpdateChain(ctx context.Context, q Querier, query string, c *domain.Chain, prevVersion int64) error {
	return exec(ctx, q, chainWriteError(c), query, append(ChainArgs(c), prevVersion)...)
}

// The API names of the enums lists filter by, mapped to their stored values.
var (
	StateNames = map[string]any{
		"DRAFT": int(domain.StateDraft), "SUBMITTED": int(domain.StateSubmitted), "APPROVED": int(domain.StateApproved),
		"REJECTED": int(domain.StateRejected), "CLOSED": int(domain.StateClosed), "SUPERSEDED": int(domain.StateSuperseded),
	}
	PolicyNames = map[string]any{"WARN": int(domain.PolicyWarn), "BLOCK": int(domain.PolicyBlock)}
)

// BudgetSchema maps the fields of the Budget resource that lists can filter and order by to the
// columns of budgets. Enums filter by name but cannot be ordered by (page tokens carry no enums).
var BudgetSchema = filter.Schema{
	"name": {Column: "id", Type: filter.String, Value: idFrom("name", "budgets/{budget}", lastID(domain.BudgetCollection))},
	"cost_center": {Column: "cost_center_id", Type: filter.String,
		Value: idFrom("cost_center", "costCenters/{cost_center}", domain.ParseCostCenterName)},
	"fiscal_year":      {Column: "fiscal_year", Type: filter.Int},
	"currency_code":    {Column: "currency", Type: filter.String},
	"state":            {Column: "state", Type: filter.Enum, Enum: StateNames},
	"overspend_policy": {Column: "policy", Type: filter.Enum, Enum: PolicyNames},
	"owner":            {Column: "owner", Type: filter.String},
	"display_name":     {Column: "display_name", Type: filter.String},
	"revision":         {Column: "revision", Type: filter.Int},
	"create_time":      {Column: "create_time", Type: filter.Timestamp},
	"update_time":      {Column: "update_time", Type: filter.Timestamp},
}

// BudgetList is what ListBudgets can filter and order by; names are the unique key.
var BudgetList = listing.Resource{Schema: BudgetSchema, Key: "name"}

// BudgetValue returns the value of a BudgetSchema field of b as stored, for page tokens.
func BudgetValue(b *domain.Budget, path string) any {
	switch path {
	case "name":
		return b.ID
	case "cost_center":
		return b.CostCenterID
	case "fiscal_year":
		return int64(b.FiscalYear)
	case "currency_code":
		return string(b.Currency)
	case "owner":
		return b.Owner
	case "display_name":
		return b.DisplayName
	case "revision":
		return int64(b.Revision)
	case "create_time":
		return b.CreateTime
	case "update_time":
		return b.UpdateTime
	}
	return nil
}

// LockChains locks the chains one by one in ID order with lock, skipping duplicates, so that
// transactions locking overlapping sets of chains queue instead of deadlocking.
func LockChains(ctx context.Context, lock func(context.Context, string) (*domain.Chain, error), ids []string) ([]*domain.Chain, error) {
	ids = slices.Clone(ids)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	out := make([]*domain.Chain, 0, len(ids))
	for _, id := range ids {
		c, err := lock(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}
