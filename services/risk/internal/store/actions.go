package store

import (
	"context"
	"database/sql"
	"fmt"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// actionColumns are the columns every mitigation action query selects, in scanAction's order.
const actionColumns = `risk_id, id, title, description, owner, due_date, state, state_reason, cost_minor,
	cost_currency, budget_line, complete_time, create_time, update_time, version`

func scanAction(s sqlstore.Scanner) (*domain.MitigationAction, error) {
	var (
		a        domain.MitigationAction
		due      string
		currency string
		complete sql.NullTime
	)
	err := s.Scan(&a.RiskID, &a.ID, &a.Title, &a.Description, &a.Owner, &due, &a.State, &a.StateReason,
		&a.CostEstimate.Minor, &currency, &a.BudgetLine, &complete, &a.CreateTime, &a.UpdateTime, &a.Version)
	if err != nil {
		return nil, err
	}
	if a.DueDate, err = civil.ParseDate(due); err != nil {
		return nil, fmt.Errorf("stored due date %q: %w", due, err)
	}
	a.CostEstimate.Currency = money.Currency(currency)
	a.CompleteTime = sqlstore.TimeOf(complete).UTC()
	a.CreateTime, a.UpdateTime = a.CreateTime.UTC(), a.UpdateTime.UTC()
	return &a, nil
}

func actionArgs(a *domain.MitigationAction) []any {
	return []any{a.RiskID, a.ID, a.Title, a.Description, a.Owner, a.DueDate.String(), a.State, a.StateReason,
		a.CostEstimate.Minor, string(a.CostEstimate.Currency), a.BudgetLine, sqlstore.NullTime(a.CompleteTime),
		a.CreateTime, a.UpdateTime, a.Version}
}

// actionOverdueColumn is the SQL of whether an action is overdue on today (see
// domain.MitigationAction.Overdue). The date is the service's, never a client's text.
func actionOverdueColumn(today civil.Date) string {
	return fmt.Sprintf("(state IN (%d, %d) AND due_date < '%s')", domain.ActionOpen, domain.ActionInProgress, today)
}

// ActionTable is what ListMitigationActions can filter and order by on today (whether an action
// is overdue depends on the day).
func ActionTable(today civil.Date) *listing.Table[*domain.MitigationAction] {
	return listing.NewTable("name", []listing.Field[*domain.MitigationAction]{
		// Names span two columns: the key orders by the risk, then the action.
		{Path: "name", Column: "risk_id || '/' || id", Type: filter.String,
			Value: func(v any) (any, error) {
				var risk, id string
				if !domain.MitigationActionPattern.ScanResource(v.(string), &risk, &id) {
					return nil, fmt.Errorf("name must be a name %s", domain.MitigationActionPattern)
				}
				return risk + "/" + id, nil
			},
			Get: func(a *domain.MitigationAction) any { return a.RiskID + "/" + a.ID }},
		{Path: "title", Column: "title", Type: filter.String, Get: func(a *domain.MitigationAction) any { return a.Title }},
		{Path: "owner", Column: "owner", Type: filter.String, Get: func(a *domain.MitigationAction) any { return a.Owner }},
		{Path: "due_date", Column: "due_date", Type: filter.String, Get: func(a *domain.MitigationAction) any { return a.DueDate.String() }},
		// Ordered by the stored number: the order the API declares the states in.
		{Path: "state", Column: "state", Type: filter.Enum, Enum: listing.EnumNumbers(riskv1.MitigationAction_STATE_UNSPECIFIED.Descriptor()),
			Sort: "state", Get: func(a *domain.MitigationAction) any { return int64(a.State) }},
		{Path: "overdue", Column: actionOverdueColumn(today), Type: filter.Bool,
			Get: func(a *domain.MitigationAction) any { return a.Overdue(today) }},
		{Path: "budget_line", Column: "budget_line", Type: filter.String, Get: func(a *domain.MitigationAction) any { return a.BudgetLine }},
		{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(a *domain.MitigationAction) any { return a.CreateTime }},
		{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(a *domain.MitigationAction) any { return a.UpdateTime }},
	})
}

// GetAction returns the action id of risk riskID, or domain.ErrActionNotFound naming it; in a
// transaction it keeps the row from changing until the transaction ends.
func (r reader) GetAction(ctx context.Context, riskID, id string) (*domain.MitigationAction, error) {
	const q = `SELECT ` + actionColumns + ` FROM mitigation_actions WHERE risk_id = $1 AND id = $2`
	a, err := sqlstore.Get(ctx, r.Q, "mitigation action "+riskID+"/"+id, domain.ErrActionNotFound, scanAction, r.ForUpdate(q), riskID, id)
	return a, fault.Named(err, domain.ActionName(riskID, id))
}

// ListActions returns the actions of risk riskID (Wildcard: of every risk) that lq selects, in
// lq's order (see ActionTable).
func (s Store) ListActions(ctx context.Context, riskID string, lq *listing.Query) ([]*domain.MitigationAction, error) {
	const q = `SELECT ` + actionColumns + ` FROM mitigation_actions`
	return sqlstore.List(ctx, s.Q, "mitigation actions", scanAction, q, lq, sqlstore.Parent{Column: "risk_id", Value: riskID})
}

// actionError translates a driver error of a write of a into the domain error it means.
func actionError(a *domain.MitigationAction) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrActionExists.With("name", a.Name())
		}
		return err
	}
}

// InsertAction stores a new action and declares its overdue date: domain.ErrActionExists when
// the ID is taken.
func (t Tx) InsertAction(ctx context.Context, a *domain.MitigationAction) error {
	q := `INSERT INTO mitigation_actions (` + actionColumns + `) VALUES (` + sqlstore.Placeholders(1, 15) + `)`
	if err := sqlstore.Exec(ctx, t, actionError(a), q, actionArgs(a)...); err != nil {
		return err
	}
	return t.scheduleOverdue(ctx, a)
}

// UpdateAction replaces the stored action whose version is prevVersion with a, and moves or
// clears its overdue date with it: an action still to be done falls overdue the day after its
// due date, a DONE or CANCELLED one never.
func (t Tx) UpdateAction(ctx context.Context, a *domain.MitigationAction, prevVersion int64) error {
	const q = `UPDATE mitigation_actions SET title = $3, description = $4, owner = $5, due_date = $6, state = $7,
		state_reason = $8, cost_minor = $9, cost_currency = $10, budget_line = $11, complete_time = $12,
		create_time = $13, update_time = $14, version = $15
		WHERE risk_id = $1 AND id = $2 AND version = $16`
	if err := sqlstore.Exec(ctx, t, actionError(a), q, append(actionArgs(a), prevVersion)...); err != nil {
		return err
	}
	return t.scheduleOverdue(ctx, a)
}

// ActionOverdueKind is the kind of the due item of an action falling overdue, the scheduler
// handler's key.
const ActionOverdueKind = "action_overdue"

// actionOverdueKey names the overdue item of the action named name.
func actionOverdueKey(name string) string { return name + ":overdue" }

// scheduleOverdue declares when a falls overdue, or cancels it once a is done or cancelled.
// Declaring the same date again does not fire it twice (scheduler.Schedule).
func (t Tx) scheduleOverdue(ctx context.Context, a *domain.MitigationAction) error {
	key := actionOverdueKey(a.Name())
	if !a.Open() {
		return scheduler.Cancel(ctx, t, key)
	}
	return scheduler.Schedule(ctx, t, scheduler.Item{Key: key, Kind: ActionOverdueKind, Resource: a.Name(), Due: a.OverdueAt()})
}

// ActionOverdueItem returns the state of the overdue item of the action named name, or
// scheduler.ErrNotFound.
func (r reader) ActionOverdueItem(ctx context.Context, name string) (scheduler.State, error) {
	return scheduler.Get(ctx, r.Q, actionOverdueKey(name))
}

// CancelRiskItems removes the pending due items of the actions and acceptances of risk riskID:
// when the risk is deleted (its actions and acceptances go with it).
func (t Tx) CancelRiskItems(ctx context.Context, riskID string) error {
	for _, c := range []struct {
		q    string
		name func(riskID, id string) string
	}{
		{`SELECT id FROM mitigation_actions WHERE risk_id = $1 ORDER BY id`, domain.ActionName},
		{`SELECT id FROM acceptances WHERE risk_id = $1 ORDER BY id`, domain.AcceptanceName},
	} {
		ids, err := sqlstore.Strings(ctx, t, "due items of risk "+riskID, c.q, riskID)
		if err != nil {
			return err
		}
		for _, id := range ids {
			if err := scheduler.CancelResource(ctx, t, c.name(riskID, id)); err != nil {
				return err
			}
		}
	}
	return nil
}
