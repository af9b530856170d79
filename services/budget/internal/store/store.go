// Package store defines how the budget service persists its aggregates. Each engine has its own
// implementation with its own SQL (storepg, storesqlite); they share the helpers in this package,
// never query bodies, and both pass the contract suite in storetest.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/idempotency"
	"github.com/quarterdeck/quarterdeck/services/platform/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/sqldb"
)

// Store reads the budget service's data and opens transactions to change it.
type Store interface {
	// GetCostCenter returns the cost centre with the ID, or domain.ErrCostCenterNotFound.
	GetCostCenter(ctx context.Context, id string) (*domain.CostCenter, error)
	// ListCostCenters returns the cost centres q selects, in q's order. q's fields are in the
	// terms of CostCenterSchema.
	ListCostCenters(ctx context.Context, q *listing.Query) ([]*domain.CostCenter, error)
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
	// refer to it.
	DeleteCostCenter(ctx context.Context, id string, version int64) error
	// HasChildren reports whether any cost centre has id as its parent.
	HasChildren(ctx context.Context, id string) (bool, error)
	// Ancestors returns the IDs of id's parent, its parent's parent and so on up to the root.
	Ancestors(ctx context.Context, id string) ([]string, error)
	// LockHierarchy serialises the transactions that change the shape of the cost-centre tree,
	// so two concurrent moves cannot build a cycle together.
	LockHierarchy(ctx context.Context) error
	// Emit writes events to the outbox.
	Emit(ctx context.Context, msgs ...outbox.Message) error
	// Requests records request IDs (AIP-155) in the transaction, for idempotency.Do.
	Requests() idempotency.Querier
	// Audit appends e to the audit trail, unsealed (the service's sealer chains it after the
	// commit). Call it after the change's writes, which lock the cost centre's row until the
	// commit: that lock keeps the records of one resource in the order of its changes.
	Audit(ctx context.Context, e audit.Entry) error
}

// ErrConcurrentUpdate is returned when a row changed between read and write. With the row locks
// the stores take this does not happen; it guards against a store used without them.
var ErrConcurrentUpdate = errors.New("cost centre changed concurrently")

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

// DeleteCostCenter runs a delete with $1 the ID and $2 the version; it must remove exactly one row.
func DeleteCostCenter(ctx context.Context, q Querier, query, id string, version int64) error {
	res, err := q.ExecContext(ctx, query, id, version)
	if sqldb.IsForeignKeyViolation(err) {
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
