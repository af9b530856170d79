package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// postmortemColumns are the columns every postmortem query selects, in scanPostmortem's order.
const postmortemColumns = `incident_id, state, summary, impact, root_causes, contributing_factors, what_went_well,
	lessons, recommendations, state_reason, author, publisher, submit_time, publish_time, update_time, version`

func scanPostmortem(s sqlstore.Scanner) (*domain.Postmortem, error) {
	var (
		submit, publish sql.NullTime
		pm              domain.Postmortem
	)
	err := s.Scan(&pm.IncidentID, &pm.State, &pm.Summary, &pm.Impact, &pm.RootCauses, &pm.ContributingFactors, &pm.WhatWentWell,
		&pm.Lessons, &pm.Recommendations, &pm.StateReason, &pm.Author, &pm.Publisher, &submit, &publish, &pm.UpdateTime, &pm.Version)
	if err != nil {
		return nil, err
	}
	pm.SubmitTime, pm.PublishTime, pm.UpdateTime = sqlstore.TimeOf(submit).UTC(), sqlstore.TimeOf(publish).UTC(), pm.UpdateTime.UTC()
	return &pm, nil
}

// errNoPostmortem is what GetPostmortem reads for an incident whose postmortem was never written.
var errNoPostmortem = errors.New("no stored postmortem")

// GetPostmortem returns the postmortem of incident id: the stored one, locked in a transaction,
// or the empty DRAFT when it was never written. The incident's existence is the caller's to check.
func (r reader) GetPostmortem(ctx context.Context, id string) (*domain.Postmortem, error) {
	const q = `SELECT ` + postmortemColumns + ` FROM postmortems WHERE incident_id = $1`
	p, err := sqlstore.Get(ctx, r.Q, "postmortem of incident "+id, errNoPostmortem, scanPostmortem, r.ForUpdate(q), id)
	if errors.Is(err, errNoPostmortem) {
		return domain.NewPostmortem(id), nil
	}
	return p, err
}

// SavePostmortem stores p, changed from version prevVersion (0: never written before).
func (t Tx) SavePostmortem(ctx context.Context, p *domain.Postmortem, prevVersion int64) error {
	args := []any{p.IncidentID, p.State, p.Summary, p.Impact, p.RootCauses, p.ContributingFactors, p.WhatWentWell,
		p.Lessons, p.Recommendations, p.StateReason, p.Author, p.Publisher, sqlstore.NullTime(p.SubmitTime),
		sqlstore.NullTime(p.PublishTime), p.UpdateTime, p.Version}
	if prevVersion == 0 {
		q := `INSERT INTO postmortems (` + postmortemColumns + `) VALUES (` + sqlstore.Placeholders(1, len(args)) + `)`
		return sqlstore.Exec(ctx, t, nil, q, args...)
	}
	const q = `UPDATE postmortems SET state = $2, summary = $3, impact = $4, root_causes = $5, contributing_factors = $6,
		what_went_well = $7, lessons = $8, recommendations = $9, state_reason = $10, author = $11, publisher = $12,
		submit_time = $13, publish_time = $14, update_time = $15, version = $16
		WHERE incident_id = $1 AND version = $17`
	return sqlstore.Exec(ctx, t, nil, q, append(args, prevVersion)...)
}

// actionItemColumns are the columns every action item query selects, in scanActionItem's order.
const actionItemColumns = `incident_id, id, title, description, owner, due_date, tracker_url, state, state_reason,
	complete_time, create_time, update_time, version`

func scanActionItem(s sqlstore.Scanner) (*domain.ActionItem, error) {
	var (
		a        domain.ActionItem
		due      string
		complete sql.NullTime
	)
	err := s.Scan(&a.IncidentID, &a.ID, &a.Title, &a.Description, &a.Owner, &due, &a.TrackerURL, &a.State, &a.StateReason,
		&complete, &a.CreateTime, &a.UpdateTime, &a.Version)
	if err != nil {
		return nil, err
	}
	if a.DueDate, err = civil.ParseDate(due); err != nil {
		return nil, fmt.Errorf("stored due date %q: %w", due, err)
	}
	a.CompleteTime = sqlstore.TimeOf(complete).UTC()
	a.CreateTime, a.UpdateTime = a.CreateTime.UTC(), a.UpdateTime.UTC()
	return &a, nil
}

func actionItemArgs(a *domain.ActionItem) []any {
	return []any{a.IncidentID, a.ID, a.Title, a.Description, a.Owner, a.DueDate.String(), a.TrackerURL, a.State,
		a.StateReason, sqlstore.NullTime(a.CompleteTime), a.CreateTime, a.UpdateTime, a.Version}
}

// ActionItemTable is what ListActionItems can filter and order by on today.
func ActionItemTable(today civil.Date) *listing.Table[*domain.ActionItem] {
	return listing.NewTable("name", []listing.Field[*domain.ActionItem]{
		{Path: "name", Column: "incident_id || '/' || id", Type: filter.String,
			Value: func(v any) (any, error) {
				var incident, id string
				if !domain.ActionItemPattern.ScanResource(v.(string), &incident, &id) {
					return nil, fmt.Errorf("name must be a name %s", domain.ActionItemPattern)
				}
				return incident + "/" + id, nil
			},
			Get: func(a *domain.ActionItem) any { return a.IncidentID + "/" + a.ID }},
		{Path: "incident", Column: "incident_id", Type: filter.String, Value: listing.NameID("incident", domain.IncidentPattern),
			Get: func(a *domain.ActionItem) any { return a.IncidentID }},
		{Path: "title", Column: "title", Type: filter.String, Get: func(a *domain.ActionItem) any { return a.Title }},
		{Path: "owner", Column: "owner", Type: filter.String, Get: func(a *domain.ActionItem) any { return a.Owner }},
		{Path: "due_date", Column: "due_date", Type: filter.String, Get: func(a *domain.ActionItem) any { return a.DueDate.String() }},
		{Path: "state", Column: "state", Type: filter.Enum, Enum: listing.EnumNumbers(riskv1.ActionItem_STATE_UNSPECIFIED.Descriptor())},
		{Path: "overdue", Column: fmt.Sprintf("(state = %d AND due_date < '%s')", domain.ActionItemOpen, today), Type: filter.Bool,
			Get: func(a *domain.ActionItem) any { return a.Overdue(today) }},
		{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(a *domain.ActionItem) any { return a.CreateTime }},
		{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(a *domain.ActionItem) any { return a.UpdateTime }},
	})
}

// GetActionItem returns item id of the postmortem of incident incidentID, or
// domain.ErrActionItemNotFound naming it; in a transaction it keeps the row until the end.
func (r reader) GetActionItem(ctx context.Context, incidentID, id string) (*domain.ActionItem, error) {
	const q = `SELECT ` + actionItemColumns + ` FROM postmortem_action_items WHERE incident_id = $1 AND id = $2`
	a, err := sqlstore.Get(ctx, r.Q, "action item "+incidentID+"/"+id, domain.ErrActionItemNotFound, scanActionItem, r.ForUpdate(q), incidentID, id)
	return a, fault.Named(err, domain.ActionItemName(incidentID, id))
}

// ListActionItems returns the items of the postmortem of incident incidentID (Wildcard: of every
// incident) that lq selects, in lq's order.
func (s Store) ListActionItems(ctx context.Context, incidentID string, lq *listing.Query) ([]*domain.ActionItem, error) {
	const q = `SELECT ` + actionItemColumns + ` FROM postmortem_action_items`
	return sqlstore.List(ctx, s.Q, "action items", scanActionItem, q, lq, sqlstore.Parent{Column: "incident_id", Value: incidentID})
}

func actionItemError(a *domain.ActionItem) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrActionItemExists.With("name", a.Name())
		}
		return err
	}
}

// InsertActionItem stores a new item and declares its overdue date: domain.ErrActionItemExists
// when the ID is taken.
func (t Tx) InsertActionItem(ctx context.Context, a *domain.ActionItem) error {
	q := `INSERT INTO postmortem_action_items (` + actionItemColumns + `) VALUES (` + sqlstore.Placeholders(1, 13) + `)`
	if err := sqlstore.Exec(ctx, t, actionItemError(a), q, actionItemArgs(a)...); err != nil {
		return err
	}
	return t.scheduleItemOverdue(ctx, a)
}

// UpdateActionItem replaces the stored item whose version is prevVersion with a, and moves or
// clears its overdue date with it.
func (t Tx) UpdateActionItem(ctx context.Context, a *domain.ActionItem, prevVersion int64) error {
	const q = `UPDATE postmortem_action_items SET title = $3, description = $4, owner = $5, due_date = $6,
		tracker_url = $7, state = $8, state_reason = $9, complete_time = $10, create_time = $11, update_time = $12,
		version = $13 WHERE incident_id = $1 AND id = $2 AND version = $14`
	if err := sqlstore.Exec(ctx, t, actionItemError(a), q, append(actionItemArgs(a), prevVersion)...); err != nil {
		return err
	}
	return t.scheduleItemOverdue(ctx, a)
}

// ActionItemOverdueKind is the kind of the due item of an action item falling overdue.
const ActionItemOverdueKind = "postmortem_action_overdue"

// scheduleItemOverdue declares when a falls overdue, or cancels it once a is done or cancelled.
func (t Tx) scheduleItemOverdue(ctx context.Context, a *domain.ActionItem) error {
	key := a.Name() + ":overdue"
	if !a.Open() {
		return scheduler.Cancel(ctx, t, key)
	}
	return scheduler.Schedule(ctx, t, scheduler.Item{Key: key, Kind: ActionItemOverdueKind, Resource: a.Name(), Due: a.OverdueAt()})
}
