package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// budgetColumns are the columns every budget query selects, in scanBudget's order; writes bind
// budgetArgs in the same order.
const budgetColumns = `id, chain_id, revision, cost_center_id, fiscal_year, start_month, currency, display_name, ` +
	`owner, description, policy, state, previous_id, superseded_by_id, submitter, submit_time, decider, ` +
	`decision_time, decision_reason, closer, close_time, planned_minor, create_time, update_time, version`

func scanBudget(s sqlstore.Scanner) (*domain.Budget, error) {
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
	b.SubmitTime, b.DecisionTime, b.CloseTime = sqlstore.TimeOf(submit), sqlstore.TimeOf(decision), sqlstore.TimeOf(closedAt)
	b.CreateTime, b.UpdateTime = b.CreateTime.UTC(), b.UpdateTime.UTC()
	return &b, nil
}

func budgetArgs(b *domain.Budget) []any {
	return []any{b.ID, b.ChainID, b.Revision, b.CostCenterID, b.FiscalYear, int(b.StartMonth), string(b.Currency),
		b.DisplayName, b.Owner, b.Description, int(b.Policy), int(b.State), sqlstore.NullString(b.PreviousID),
		sqlstore.NullString(b.SupersededByID), b.Submitter, sqlstore.NullTime(b.SubmitTime), b.Decider,
		sqlstore.NullTime(b.DecisionTime), b.DecisionReason, b.Closer, sqlstore.NullTime(b.CloseTime), b.PlannedMinor,
		b.CreateTime, b.UpdateTime, b.Version}
}

// BudgetTable is what ListBudgets can filter and order by. Enums filter by name but cannot be
// ordered by (page tokens carry no enums).
var BudgetTable = listing.NewTable("name", []listing.Field[*domain.Budget]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.BudgetPattern),
		Get: func(b *domain.Budget) any { return b.ID }},
	{Path: "cost_center", Column: "cost_center_id", Type: filter.String, Value: listing.NameID("cost_center", domain.CostCenterPattern),
		Get: func(b *domain.Budget) any { return b.CostCenterID }},
	{Path: "fiscal_year", Column: "fiscal_year", Type: filter.Int, Get: func(b *domain.Budget) any { return int64(b.FiscalYear) }},
	{Path: "currency_code", Column: "currency", Type: filter.String, Get: func(b *domain.Budget) any { return string(b.Currency) }},
	{Path: "state", Column: "state", Type: filter.Enum, Enum: listing.EnumNumbers(budgetv1.Budget_STATE_UNSPECIFIED.Descriptor())},
	{Path: "overspend_policy", Column: "policy", Type: filter.Enum,
		Enum: listing.EnumNumbers(budgetv1.Budget_OVERSPEND_POLICY_UNSPECIFIED.Descriptor())},
	{Path: "owner", Column: "owner", Type: filter.String, Get: func(b *domain.Budget) any { return b.Owner }},
	{Path: "display_name", Column: "display_name", Type: filter.String, Get: func(b *domain.Budget) any { return b.DisplayName }},
	{Path: "revision", Column: "revision", Type: filter.Int, Get: func(b *domain.Budget) any { return int64(b.Revision) }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(b *domain.Budget) any { return b.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(b *domain.Budget) any { return b.UpdateTime }},
})

// GetBudget returns the budget revision with the ID, or domain.ErrBudgetNotFound; in a
// transaction it keeps the row from changing until the transaction ends.
func (r reader) GetBudget(ctx context.Context, id string) (*domain.Budget, error) {
	const q = `SELECT ` + budgetColumns + ` FROM budgets WHERE id = $1`
	return sqlstore.Get(ctx, r.Q, "budget "+id, domain.ErrBudgetNotFound, scanBudget, r.ForUpdate(q), id)
}

// ListBudgets returns the budget revisions lq selects (see BudgetTable).
func (s Store) ListBudgets(ctx context.Context, lq *listing.Query) ([]*domain.Budget, error) {
	const q = `SELECT ` + budgetColumns + ` FROM budgets`
	return sqlstore.List(ctx, s.Q, "budgets", scanBudget, q, lq)
}

// BudgetsInForce returns the revision in force of each chain of the cost centres for the fiscal
// year, ordered by cost centre ID; chains with none in force are left out.
func (r reader) BudgetsInForce(ctx context.Context, costCenterIDs []string, fiscalYear int32) ([]*domain.Budget, error) {
	if len(costCenterIDs) == 0 {
		return nil, nil
	}
	// %s is the IN list of the cost centres, $2 on.
	const q = `SELECT ` + budgetColumns + ` FROM budgets WHERE id IN (
		SELECT in_force_id FROM budget_chains WHERE fiscal_year = $1 AND cost_center_id IN (%s))
		ORDER BY cost_center_id, id`
	args := []any{fiscalYear}
	for _, id := range costCenterIDs {
		args = append(args, id)
	}
	return sqlstore.All(ctx, r.Q, "budgets in force", scanBudget, fmt.Sprintf(q, sqlstore.Placeholders(2, len(costCenterIDs))), args...)
}

func budgetError(b *domain.Budget) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrBudgetExists.With("name", b.Name())
		}
		if sqldb.IsForeignKeyViolation(err) {
			return fmt.Errorf("budget %s: its chain %s does not exist: %w", b.ID, b.ChainID, err)
		}
		return fmt.Errorf("write budget %s: %w", b.ID, err)
	}
}

// InsertBudget stores a new revision; its chain must exist. domain.ErrBudgetExists when the ID
// is taken.
func (t Tx) InsertBudget(ctx context.Context, b *domain.Budget) error {
	const q = `INSERT INTO budgets (` + budgetColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
		$11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`
	return sqlstore.Exec(ctx, t, budgetError(b), q, budgetArgs(b)...)
}

// UpdateBudget replaces the stored revision whose version is prevVersion with b.
func (t Tx) UpdateBudget(ctx context.Context, b *domain.Budget, prevVersion int64) error {
	const q = `UPDATE budgets SET chain_id = $2, revision = $3, cost_center_id = $4, fiscal_year = $5,
		start_month = $6, currency = $7, display_name = $8, owner = $9, description = $10, policy = $11, state = $12,
		previous_id = $13, superseded_by_id = $14, submitter = $15, submit_time = $16, decider = $17,
		decision_time = $18, decision_reason = $19, closer = $20, close_time = $21, planned_minor = $22,
		create_time = $23, update_time = $24, version = $25 WHERE id = $1 AND version = $26`
	return sqlstore.Exec(ctx, t, budgetError(b), q, append(budgetArgs(b), prevVersion)...)
}

// DeleteBudget removes the revision at version, and its lines with it.
func (t Tx) DeleteBudget(ctx context.Context, id string, version int64) error {
	const q = `DELETE FROM budgets WHERE id = $1 AND version = $2`
	return sqlstore.Exec(ctx, t, func(err error) error { return fmt.Errorf("delete budget %s: %w", id, err) }, q, id, version)
}

// MaxRevision returns the highest revision number of the chain's revisions, 0 when it has none:
// a new revision takes the next number even when an older one is revised.
func (t Tx) MaxRevision(ctx context.Context, chainID string) (int32, error) {
	const q = `SELECT COALESCE(MAX(revision), 0) FROM budgets WHERE chain_id = $1`
	return sqlstore.Value[int32](ctx, t, "latest revision of budget chain "+chainID, q, chainID)
}

// chainColumns are the columns every chain query selects, in scanChain's order.
const chainColumns = `id, cost_center_id, fiscal_year, in_force_id, open_id, forecast_over_plan, version`

func scanChain(s sqlstore.Scanner) (*domain.Chain, error) {
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

func chainArgs(c *domain.Chain) []any {
	return []any{c.ID, c.CostCenterID, c.FiscalYear, sqlstore.NullString(c.InForceID), sqlstore.NullString(c.OpenID),
		c.ForecastOverPlan, c.Version}
}

// chain returns the chain with the ID, locked in a transaction; a missing chain is a missing
// budget.
func (r reader) chain(ctx context.Context, id string) (*domain.Chain, error) {
	const q = `SELECT ` + chainColumns + ` FROM budget_chains WHERE id = $1`
	return sqlstore.Get(ctx, r.Q, "budget chain "+id, domain.ErrBudgetNotFound, scanChain, r.ForUpdate(q), id)
}

// GetChain returns the chain with the ID (revision 1's ID), or domain.ErrBudgetNotFound.
func (s Store) GetChain(ctx context.Context, id string) (*domain.Chain, error) {
	return s.chain(ctx, id)
}

// LockChain returns the chain and keeps every other writer of it waiting until the transaction
// ends: the one lock that serialises a budget's spend and figures. domain.ErrBudgetNotFound when
// it is missing.
func (t Tx) LockChain(ctx context.Context, id string) (*domain.Chain, error) { return t.chain(ctx, id) }

// LockChains locks the chains in ID order, so that two transactions locking the same chains
// cannot deadlock, and returns them in that order (duplicates once).
func (t Tx) LockChains(ctx context.Context, ids ...string) ([]*domain.Chain, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	out := make([]*domain.Chain, 0, len(ids))
	for _, id := range ids {
		c, err := t.LockChain(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func chainError(c *domain.Chain) func(error) error {
	return func(err error) error {
		if constraint, ok := sqldb.UniqueViolation(err); ok {
			if strings.Contains(constraint, "cost_center") {
				return domain.ErrBudgetExists.With("cost_center", domain.CostCenterName(c.CostCenterID)).
					With("fiscal_year", fmt.Sprint(c.FiscalYear))
			}
			return domain.ErrBudgetExists.With("name", domain.BudgetName(c.ID))
		}
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrCostCenterNotFound.With("name", domain.CostCenterName(c.CostCenterID))
		}
		return fmt.Errorf("write budget chain %s: %w", c.ID, err)
	}
}

// InsertChain stores a new chain: domain.ErrBudgetExists when the cost centre already has one
// for the fiscal year, domain.ErrCostCenterNotFound when the cost centre is missing.
func (t Tx) InsertChain(ctx context.Context, c *domain.Chain) error {
	const q = `INSERT INTO budget_chains (` + chainColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	return sqlstore.Exec(ctx, t, chainError(c), q, chainArgs(c)...)
}

// UpdateChain replaces the stored chain whose version is prevVersion with c.
func (t Tx) UpdateChain(ctx context.Context, c *domain.Chain, prevVersion int64) error {
	const q = `UPDATE budget_chains SET cost_center_id = $2, fiscal_year = $3, in_force_id = $4, open_id = $5,
		forecast_over_plan = $6, version = $7 WHERE id = $1 AND version = $8`
	return sqlstore.Exec(ctx, t, chainError(c), q, append(chainArgs(c), prevVersion)...)
}

// DeleteChain removes the chain at version; its revisions must be deleted first.
func (t Tx) DeleteChain(ctx context.Context, id string, version int64) error {
	const q = `DELETE FROM budget_chains WHERE id = $1 AND version = $2`
	return sqlstore.Exec(ctx, t, func(err error) error { return fmt.Errorf("delete budget chain %s: %w", id, err) }, q, id, version)
}
