// Package store defines how the budget service persists its aggregates. There is one
// implementation (NewSQL) with one body per method; each engine gives it its SQL as Queries —
// StandardQueries with the statements it says differently replaced — and has its own migrations
// (storepg, storesqlite). Both pass the contract suite in storetest.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// Store reads the budget service's data and opens transactions to change it.
type Store interface {
	// GetCostCenter returns the cost centre with the ID, or domain.ErrCostCenterNotFound.
	GetCostCenter(ctx context.Context, id string) (*domain.CostCenter, error)
	// ListCostCenters returns the cost centres q selects, in q's order. q's fields are in the
	// terms of CostCenterSchema.
	ListCostCenters(ctx context.Context, q *listing.Query) ([]*domain.CostCenter, error)

	// GetBudget returns the budget revision with the ID, or domain.ErrBudgetNotFound.
	GetBudget(ctx context.Context, id string) (*domain.Budget, error)
	// ListBudgets returns the budget revisions q selects, in the terms of BudgetSchema.
	ListBudgets(ctx context.Context, q *listing.Query) ([]*domain.Budget, error)
	// GetChain returns the chain with the ID (revision 1's ID), or domain.ErrBudgetNotFound.
	GetChain(ctx context.Context, id string) (*domain.Chain, error)
	// GetLine returns the line of the budget revision, or domain.ErrLineNotFound.
	GetLine(ctx context.Context, budgetID, id string) (*domain.Line, error)
	// ListLines returns the lines of the budget revision that q selects (LineSchema).
	ListLines(ctx context.Context, budgetID string, q *listing.Query) ([]*domain.Line, error)
	// GetActual returns the actual of the budget revision and line, or domain.ErrActualNotFound.
	GetActual(ctx context.Context, budgetID, lineID, id string) (*domain.Actual, error)
	// ListActuals returns the actuals q selects (ActualSchema) of the budget revision and line;
	// either may be Wildcard.
	ListActuals(ctx context.Context, budgetID, lineID string, q *listing.Query) ([]*domain.Actual, error)
	// GetCommitment returns the commitment of the budget revision and line, or
	// domain.ErrCommitmentNotFound.
	GetCommitment(ctx context.Context, budgetID, lineID, id string) (*domain.Commitment, error)
	// ListCommitments returns the commitments q selects (CommitmentSchema) of the budget
	// revision and line; either may be Wildcard.
	ListCommitments(ctx context.Context, budgetID, lineID string, q *listing.Query) ([]*domain.Commitment, error)
	// GetTransfer returns the transfer whose source is in the budget revision, or
	// domain.ErrTransferNotFound.
	GetTransfer(ctx context.Context, budgetID, id string) (*domain.Transfer, error)
	// ListTransfers returns the transfers q selects (TransferSchema) whose source is in the
	// budget revision, which may be Wildcard.
	ListTransfers(ctx context.Context, budgetID string, q *listing.Query) ([]*domain.Transfer, error)
	// GetExchangeRate returns the exchange rate with the ID, or domain.ErrExchangeRateNotFound.
	GetExchangeRate(ctx context.Context, id string) (*domain.ExchangeRate, error)
	// ListExchangeRates returns the exchange rates q selects (ExchangeRateSchema).
	ListExchangeRates(ctx context.Context, q *listing.Query) ([]*domain.ExchangeRate, error)
	Reader

	// Within runs fn in one transaction: everything written through tx, the outbox events
	// included, commits together or not at all. fn may be run again after a serialization
	// conflict, so it must have no other effects.
	Within(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error
}

// Tx changes the budget service's data inside a transaction.
type Tx interface {
	// GetCostCenter returns the cost centre and keeps it from changing until the transaction ends.
	GetCostCenter(ctx context.Context, id string) (*domain.CostCenter, error)
	// InsertCostCenter stores a new cost centre: domain.ErrCostCenterExists when the ID is taken,
	// domain.ErrCodeTaken when the code is, domain.ErrParentNotFound when the parent is missing.
	InsertCostCenter(ctx context.Context, c *domain.CostCenter) error
	// UpdateCostCenter replaces the stored cost centre whose version is prevVersion with c.
	UpdateCostCenter(ctx context.Context, c *domain.CostCenter, prevVersion int64) error
	// DeleteCostCenter removes the cost centre at version: domain.ErrHasChildren while children
	// refer to it, domain.ErrCostCenterHasBudgets while budgets do.
	DeleteCostCenter(ctx context.Context, id string, version int64) error
	// HasChildren reports whether any cost centre has id as its parent.
	HasChildren(ctx context.Context, id string) (bool, error)
	// Ancestors returns the IDs of id's parent, its parent's parent and so on up to the root.
	Ancestors(ctx context.Context, id string) ([]string, error)
	// LockHierarchy serialises the transactions that change the shape of the cost-centre tree,
	// so two concurrent moves cannot build a cycle together.
	LockHierarchy(ctx context.Context) error

	// GetBudget returns the budget revision and keeps it from changing until the transaction ends.
	GetBudget(ctx context.Context, id string) (*domain.Budget, error)
	// InsertBudget stores a new revision; its chain must exist. domain.ErrBudgetExists when the
	// ID is taken.
	InsertBudget(ctx context.Context, b *domain.Budget) error
	// UpdateBudget replaces the stored revision whose version is prevVersion with b.
	UpdateBudget(ctx context.Context, b *domain.Budget, prevVersion int64) error
	// DeleteBudget removes the revision at version, and its lines with it.
	DeleteBudget(ctx context.Context, id string, version int64) error
	// MaxRevision returns the highest revision number of the chain's revisions, 0 when it has
	// none: a new revision takes the next number even when an older one is revised.
	MaxRevision(ctx context.Context, chainID string) (int32, error)

	// InsertChain stores a new chain: domain.ErrBudgetExists when the cost centre already has
	// one for the fiscal year, domain.ErrCostCenterNotFound when the cost centre is missing.
	InsertChain(ctx context.Context, c *domain.Chain) error
	// LockChain returns the chain and keeps every other writer of it waiting until the
	// transaction ends: the one lock that serialises a budget's spend and figures.
	// domain.ErrBudgetNotFound when it is missing.
	LockChain(ctx context.Context, id string) (*domain.Chain, error)
	// LockChains locks the chains in ID order, so that two transactions locking the same
	// chains cannot deadlock, and returns them in that order (duplicates once).
	LockChains(ctx context.Context, ids ...string) ([]*domain.Chain, error)
	// UpdateChain replaces the stored chain whose version is prevVersion with c.
	UpdateChain(ctx context.Context, c *domain.Chain, prevVersion int64) error
	// DeleteChain removes the chain at version; its revisions must be deleted first.
	DeleteChain(ctx context.Context, id string, version int64) error

	// GetLine returns the line and keeps it from changing until the transaction ends.
	GetLine(ctx context.Context, budgetID, id string) (*domain.Line, error)
	// Lines returns every line of the budget revision, in ID order, without locking them.
	Lines(ctx context.Context, budgetID string) ([]*domain.Line, error)
	// InsertLine stores a new line: domain.ErrLineExists when the budget has a line with its
	// ID, domain.ErrBudgetNotFound when the budget is missing.
	InsertLine(ctx context.Context, l *domain.Line) error
	// UpdateLine replaces the stored line whose version is prevVersion with l.
	UpdateLine(ctx context.Context, l *domain.Line, prevVersion int64) error
	// DeleteLine removes the line at version; it fails while spend or transfers refer to it.
	DeleteLine(ctx context.Context, budgetID, id string, version int64) error
	// LineBalance returns the line's running spend in the chain; a zero balance at version 0
	// when none is stored yet.
	LineBalance(ctx context.Context, chainID, lineID string) (*domain.LineBalance, error)
	// PutLineBalance stores b, inserting or replacing it. Call it with the chain locked.
	PutLineBalance(ctx context.Context, b *domain.LineBalance) error
	// LineHasSpend reports whether any actual or commitment of the chain is on the line, or its
	// balance is not zero.
	LineHasSpend(ctx context.Context, chainID, lineID string) (bool, error)
	// ChainHasSpend reports whether any actual or commitment is recorded in the chain.
	ChainHasSpend(ctx context.Context, chainID string) (bool, error)

	// InsertActual stores a new actual.
	InsertActual(ctx context.Context, a *domain.Actual) error
	// GetActual returns the actual of the budget revision and line (actuals never change, so
	// nothing is locked), or domain.ErrActualNotFound.
	GetActual(ctx context.Context, budgetID, lineID, id string) (*domain.Actual, error)
	// SumCorrections returns the sum of the converted amounts of the actuals correcting the
	// actual, as stored (negative), 0 when there are none.
	SumCorrections(ctx context.Context, actualID string) (int64, error)
	// SumCorrectionAmounts returns the sum of the amounts, in the corrected actual's own
	// currency, of the actuals correcting the actual (negative), 0 when there are none.
	SumCorrectionAmounts(ctx context.Context, actualID string) (int64, error)

	// InsertCommitment stores a new commitment.
	InsertCommitment(ctx context.Context, c *domain.Commitment) error
	// GetCommitment returns the commitment and keeps it from changing until the transaction ends.
	GetCommitment(ctx context.Context, budgetID, lineID, id string) (*domain.Commitment, error)
	// UpdateCommitment replaces the stored commitment whose version is prevVersion with c.
	UpdateCommitment(ctx context.Context, c *domain.Commitment, prevVersion int64) error

	// InsertTransfer stores a new transfer.
	InsertTransfer(ctx context.Context, t *domain.Transfer) error
	// GetTransfer returns the transfer and keeps it from changing until the transaction ends.
	GetTransfer(ctx context.Context, budgetID, id string) (*domain.Transfer, error)
	// UpdateTransfer replaces the stored transfer whose version is prevVersion with t.
	UpdateTransfer(ctx context.Context, t *domain.Transfer, prevVersion int64) error

	// InsertExchangeRate stores a new rate: domain.ErrExchangeRateExists when its ID or its
	// month and pair are taken.
	InsertExchangeRate(ctx context.Context, r *domain.ExchangeRate) error
	// GetExchangeRate returns the rate and keeps it from changing until the transaction ends.
	GetExchangeRate(ctx context.Context, id string) (*domain.ExchangeRate, error)
	// UpdateExchangeRate replaces the stored rate whose version is prevVersion with r.
	UpdateExchangeRate(ctx context.Context, r *domain.ExchangeRate, prevVersion int64) error
	// DeleteExchangeRate removes the rate at version. Spend keeps the RateUse it was converted
	// with, so history does not depend on the rate.
	DeleteExchangeRate(ctx context.Context, id string, version int64) error

	Reader

	// Emit writes events to the outbox.
	Emit(ctx context.Context, msgs ...outbox.Message) error
	// Requests records request IDs (AIP-155) in the transaction, for idempotency.Do.
	Requests() idempotency.Querier
	// Audit appends e to the audit trail, unsealed (the service's sealer chains it after the
	// commit). Call it after the change's writes, which lock the cost centre's row until the
	// commit: that lock keeps the records of one resource in the order of its changes.
	Audit(ctx context.Context, e audit.Entry) error
	// AddPeriodSpend adds s's amounts to the chain's running spend of s's line and period.
	AddPeriodSpend(ctx context.Context, chainID string, s LineSpend) error
}

// Reader is what the store and a transaction read alike: the inputs of figures and roll-ups.
// In a transaction they see its own writes.
type Reader interface {
	// FindRate returns the rate of the month for the pair source → target (never the inverse),
	// or domain.ErrExchangeRateNotFound.
	FindRate(ctx context.Context, month domain.Month, source, target domain.Currency) (*domain.ExchangeRate, error)
	// LineBalances returns the stored balances of the chain's lines, in line ID order.
	LineBalances(ctx context.Context, chainID string) ([]*domain.LineBalance, error)
	// Spend returns the chain's spend per line and period, in that order: the sum of the
	// converted actuals and of the remaining amounts of the open commitments. Pairs without
	// either are left out.
	Spend(ctx context.Context, chainID string) ([]LineSpend, error)
	// PeriodSpend returns the chain's spend per line and period as kept by AddPeriodSpend, in the
	// same form as Spend, which computes it from the records: the two agree.
	PeriodSpend(ctx context.Context, chainID string) ([]LineSpend, error)
	// RatesUsed returns the distinct rate uses of the chain's actuals and open commitments,
	// ordered by rate ID and value.
	RatesUsed(ctx context.Context, chainID string) ([]domain.RateUse, error)
	// Subtree returns the cost centre and all its descendants, in ID order, in one query; none
	// when it does not exist.
	Subtree(ctx context.Context, costCenterID string) ([]*domain.CostCenter, error)
	// BudgetsInForce returns the revision in force of each chain of the cost centres for the
	// fiscal year, ordered by cost centre ID; chains with none in force are left out.
	BudgetsInForce(ctx context.Context, costCenterIDs []string, fiscalYear int32) ([]*domain.Budget, error)
}

// ErrConcurrentUpdate is returned when a row changed between read and write, or is gone. With
// the row locks the stores take this does not happen; it guards against a store used without them.
var ErrConcurrentUpdate = errors.New("row changed concurrently")

// CostCenterColumns is the column list every cost-centre query selects, in ScanCostCenter's order.
const CostCenterColumns = `id, display_name, code, owner, parent_id, active, description, create_time, update_time, version`

// Scanner is a *sql.Row or *sql.Rows.
type Scanner interface{ Scan(dest ...any) error }

// ScanCostCenter reads one row of CostCenterColumns.
func ScanCostCenter(s Scanner) (*domain.CostCenter, error) {
	var (
		c      domain.CostCenter
		parent sql.NullString
	)
	err := s.Scan(&c.ID, &c.DisplayName, &c.Code, &c.Owner, &parent, &c.Active, &c.Description,
		&c.CreateTime, &c.UpdateTime, &c.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, domain.ErrCostCenterNotFound
	}
	if err != nil {
		return nil, err
	}
	c.ParentID = parent.String
	c.CreateTime, c.UpdateTime = c.CreateTime.UTC(), c.UpdateTime.UTC()
	return &c, nil
}

// ScanCostCenters reads all rows of CostCenterColumns.
func ScanCostCenters(rows *sql.Rows) ([]*domain.CostCenter, error) {
	defer rows.Close()
	var out []*domain.CostCenter
	for rows.Next() {
		c, err := ScanCostCenter(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// NullString maps "" to SQL NULL, for optional references such as a root's parent.
func NullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// CostCenterWriteError translates a driver error of an insert or update of a cost centre into the
// domain error it means, so both engines report the same thing.
func CostCenterWriteError(err error, c *domain.CostCenter) error {
	if constraint, ok := sqldb.UniqueViolation(err); ok {
		if strings.Contains(constraint, "code") {
			return domain.ErrCodeTaken.With("code", c.Code)
		}
		return domain.ErrCostCenterExists.With("name", c.Name())
	}
	if sqldb.IsForeignKeyViolation(err) {
		return domain.ErrParentNotFound
	}
	return err
}

// Querier is what the helpers need of a *sql.DB or *sql.Tx.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// GetCostCenter runs a query selecting CostCenterColumns of the cost centre whose ID is $1.
func GetCostCenter(ctx context.Context, q Querier, query, id string) (*domain.CostCenter, error) {
	c, err := ScanCostCenter(q.QueryRowContext(ctx, query, id))
	if err != nil && !errors.Is(err, domain.ErrCostCenterNotFound) {
		return nil, fmt.Errorf("get cost centre %s: %w", id, err)
	}
	return c, err
}

// ListCostCenters completes selectFrom, a query selecting CostCenterColumns from cost_centers
// without conditions, with lq's condition, order and limit, and runs it.
func ListCostCenters(ctx context.Context, q Querier, selectFrom string, lq *listing.Query) ([]*domain.CostCenter, error) {
	query := selectFrom
	if lq.Where != "" {
		query += " WHERE " + lq.Where
	}
	query += fmt.Sprintf(" ORDER BY %s LIMIT $%d", lq.OrderBy, len(lq.Args)+1)
	rows, err := q.QueryContext(ctx, query, append(slices.Clone(lq.Args), lq.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("list cost centres: %w", err)
	}
	return ScanCostCenters(rows)
}

// CostCenterSchema maps the fields of the CostCenter resource that lists can filter and order
// by to the columns of cost_centers (the same on both engines).
var CostCenterSchema = filter.Schema{
	"name":         {Column: "id", Type: filter.String, Value: costCenterID("name")},
	"display_name": {Column: "display_name", Type: filter.String},
	"code":         {Column: "code", Type: filter.String},
	"owner":        {Column: "owner", Type: filter.String},
	"description":  {Column: "description", Type: filter.String},
	// Roots have no parent: "parent = null" finds them; they sort first (as "").
	"parent": {Column: "parent_id", Type: filter.String, Nullable: true, Value: costCenterID("parent"),
		Sort: "COALESCE(parent_id, '')"},
	"active":      {Column: "active", Type: filter.Bool},
	"create_time": {Column: "create_time", Type: filter.Timestamp},
	"update_time": {Column: "update_time", Type: filter.Timestamp},
}

// CostCenterList is what ListCostCenters can filter and order by; names are the unique key.
var CostCenterList = listing.Resource{Schema: CostCenterSchema, Key: "name"}

// CostCenterValue returns the value of a CostCenterSchema field of c as stored, for page tokens.
func CostCenterValue(c *domain.CostCenter, path string) any {
	switch path {
	case "name":
		return c.ID
	case "display_name":
		return c.DisplayName
	case "code":
		return c.Code
	case "owner":
		return c.Owner
	case "description":
		return c.Description
	case "parent":
		return c.ParentID
	case "active":
		return c.Active
	case "create_time":
		return c.CreateTime
	case "update_time":
		return c.UpdateTime
	}
	return nil
}

// costCenterID converts a cost centre name in a filter to the stored ID.
func costCenterID(field string) func(any) (any, error) {
	return func(v any) (any, error) {
		id, ok := domain.ParseCostCenterName(v.(string))
		if !ok {
			return nil, fmt.Errorf("%s must be a cost centre name, costCenters/{cost_center}", field)
		}
		return id, nil
	}
}

// InsertCostCenter runs an insert whose parameters are CostCenterColumns in order.
func InsertCostCenter(ctx context.Context, q Querier, query string, c *domain.CostCenter) error {
	_, err := q.ExecContext(ctx, query, c.ID, c.DisplayName, c.Code, c.Owner, NullString(c.ParentID),
		c.Active, c.Description, c.CreateTime, c.UpdateTime, c.Version)
	return CostCenterWriteError(err, c)
}

// UpdateCostCenter runs an update whose parameters are CostCenterColumns in order without
// create_time, then the previous version; it must change exactly one row.
func UpdateCostCenter(ctx context.Context, q Querier, query string, c *domain.CostCenter, prevVersion int64) error {
	res, err := q.ExecContext(ctx, query, c.ID, c.DisplayName, c.Code, c.Owner, NullString(c.ParentID),
		c.Active, c.Description, c.UpdateTime, c.Version, prevVersion)
	if err != nil {
		return CostCenterWriteError(err, c)
	}
	return oneRow(res)
}

// DeleteCostCenter runs hasBudgets, a query with $1 the ID telling whether budgets refer to the
// cost centre, then a delete with $1 the ID and $2 the version; it must remove exactly one row.
// The foreign keys of children and budgets both refuse the delete; the check tells which
// applies, since SQLite's error does not name the key. PostgreSQL's does, which covers a budget
// created between the check and the delete.
func DeleteCostCenter(ctx context.Context, q Querier, hasBudgets, query, id string, version int64) error {
	has, err := Exists(ctx, q, hasBudgets, id)
	if err != nil {
		return fmt.Errorf("delete cost centre %s: %w", id, err)
	}
	if has {
		return domain.ErrCostCenterHasBudgets.With("name", domain.CostCenterName(id))
	}
	res, err := q.ExecContext(ctx, query, id, version)
	if sqldb.IsForeignKeyViolation(err) {
		if strings.Contains(err.Error(), "budget_chains") {
			return domain.ErrCostCenterHasBudgets.With("name", domain.CostCenterName(id))
		}
		return domain.ErrHasChildren.With("name", domain.CostCenterName(id))
	}
	if err != nil {
		return fmt.Errorf("delete cost centre %s: %w", id, err)
	}
	return oneRow(res)
}

// Exists runs a query returning one boolean.
func Exists(ctx context.Context, q Querier, query string, args ...any) (bool, error) {
	var ok bool
	if err := q.QueryRowContext(ctx, query, args...).Scan(&ok); err != nil {
		return false, fmt.Errorf("exists: %w", err)
	}
	return ok, nil
}

// IDs runs a query returning one text column.
func IDs(ctx context.Context, q Querier, query string, args ...any) ([]string, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("query ids: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

func oneRow(res sql.Result) error {
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return ErrConcurrentUpdate
	}
	return nil
}
