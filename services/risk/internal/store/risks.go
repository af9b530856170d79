package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// riskColumns are the columns every risk query selects, in scanRisk's order.
const riskColumns = `id, title, description, category, owner,
	inherent_likelihood, inherent_impact, inherent_score, inherent_level,
	residual_likelihood, residual_impact, residual_score, residual_level, matrix_version,
	treatment, treatment_plan, state, state_reason, state_change_time, next_review_date, last_review_time,
	above_appetite, vendors, incidents, controls, source, assessor, assess_time, create_time, update_time, version`

func scanRisk(s sqlstore.Scanner) (*domain.Risk, error) {
	var (
		r                            domain.Risk
		inherentScore, residualScore int32
		next                         sql.NullString
		lastReview, assessTime       sql.NullTime
		vendors, incidents, controls string
	)
	err := s.Scan(&r.ID, &r.Title, &r.Description, &r.Category, &r.Owner,
		&r.Inherent.Likelihood, &r.Inherent.Impact, &inherentScore, &r.Inherent.Level,
		&r.Residual.Likelihood, &r.Residual.Impact, &residualScore, &r.Residual.Level, &r.MatrixVersion,
		&r.Treatment, &r.TreatmentPlan, &r.State, &r.StateReason, &r.StateChangeTime, &next, &lastReview,
		&r.AboveAppetite, &vendors, &incidents, &controls, &r.Source, &r.Assessor, &assessTime,
		&r.CreateTime, &r.UpdateTime, &r.Version)
	if err != nil {
		return nil, err
	}
	if r.NextReviewDate, err = sqlstore.DateOf(next); err != nil {
		return nil, err
	}
	if r.Vendors, err = sqlstore.ListOf[string](vendors); err != nil {
		return nil, err
	}
	if r.Incidents, err = sqlstore.ListOf[string](incidents); err != nil {
		return nil, err
	}
	if r.Controls, err = sqlstore.ListOf[string](controls); err != nil {
		return nil, err
	}
	r.LastReviewTime, r.AssessTime = sqlstore.TimeOf(lastReview), sqlstore.TimeOf(assessTime)
	r.StateChangeTime, r.CreateTime, r.UpdateTime = r.StateChangeTime.UTC(), r.CreateTime.UTC(), r.UpdateTime.UTC()
	return &r, nil
}

func riskArgs(r *domain.Risk) ([]any, error) {
	var lists [3]string
	for i, l := range [][]string{r.Vendors, r.Incidents, r.Controls} {
		var err error
		if lists[i], err = sqlstore.JSONList(l); err != nil {
			return nil, err
		}
	}
	return []any{r.ID, r.Title, r.Description, r.Category, r.Owner,
		r.Inherent.Likelihood, r.Inherent.Impact, r.Inherent.Value(), r.Inherent.Level,
		r.Residual.Likelihood, r.Residual.Impact, r.Residual.Value(), r.Residual.Level, r.MatrixVersion,
		r.Treatment, r.TreatmentPlan, r.State, r.StateReason, r.StateChangeTime, sqlstore.NullDate(r.NextReviewDate),
		sqlstore.NullTime(r.LastReviewTime), r.AboveAppetite, lists[0], lists[1], lists[2], r.Source, r.Assessor,
		sqlstore.NullTime(r.AssessTime), r.CreateTime, r.UpdateTime, r.Version}, nil
}

// The kinds of risk_links rows.
const (
	linkVendor   = "vendor"
	linkIncident = "incident"
	linkControl  = "control"
)

// linkField is a repeated field of a risk's links: "vendors:\"vendors/acme\"".
func linkField(path, kind string) listing.Field[*domain.Risk] {
	return listing.Field[*domain.Risk]{Path: path, Type: filter.String, Repeated: true,
		Column: "SELECT target FROM risk_links l WHERE l.risk_id = risks.id AND l.kind = '" + kind + "'"}
}

// RiskTable is what ListRisks (and the heat map and report's filters) can filter and order by.
var RiskTable = listing.NewTable("name", []listing.Field[*domain.Risk]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.RiskPattern), Get: func(r *domain.Risk) any { return r.ID }},
	{Path: "title", Column: "title", Type: filter.String, Get: func(r *domain.Risk) any { return r.Title }},
	{Path: "category", Column: "category", Type: filter.Enum, Enum: listing.EnumNumbers(riskv1.Risk_CATEGORY_UNSPECIFIED.Descriptor())},
	{Path: "owner", Column: "owner", Type: filter.String, Get: func(r *domain.Risk) any { return r.Owner }},
	{Path: "state", Column: "state", Type: filter.Enum, Enum: listing.EnumNumbers(riskv1.Risk_STATE_UNSPECIFIED.Descriptor())},
	{Path: "treatment", Column: "treatment", Type: filter.Enum, Enum: withZero(listing.EnumNumbers(riskv1.Risk_TREATMENT_UNSPECIFIED.Descriptor()), "TREATMENT_UNSPECIFIED")},
	{Path: "inherent_score", Column: "inherent_score", Type: filter.Int, Get: func(r *domain.Risk) any { return int64(r.Inherent.Value()) }},
	{Path: "inherent_level", Column: "inherent_level", Type: filter.Enum, Enum: levels()},
	{Path: "residual_score", Column: "residual_score", Type: filter.Int, Get: func(r *domain.Risk) any { return int64(r.Residual.Value()) }},
	{Path: "residual_level", Column: "residual_level", Type: filter.Enum, Enum: levels()},
	{Path: "matrix_version", Column: "matrix_version", Type: filter.Int, Get: func(r *domain.Risk) any { return int64(r.MatrixVersion) }},
	{Path: "above_appetite", Column: "above_appetite", Type: filter.Bool, Get: func(r *domain.Risk) any { return r.AboveAppetite }},
	{Path: "next_review_date", Column: "next_review_date", Type: filter.String, Nullable: true,
		Sort: "COALESCE(next_review_date, '9999-12-31')", Get: func(r *domain.Risk) any {
			if r.NextReviewDate.IsZero() {
				return "9999-12-31"
			}
			return r.NextReviewDate.String()
		}},
	{Path: "source", Column: "source", Type: filter.String, Get: func(r *domain.Risk) any { return r.Source }},
	linkField("vendors", linkVendor),
	linkField("incidents", linkIncident),
	linkField("controls", linkControl),
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(r *domain.Risk) any { return r.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(r *domain.Risk) any { return r.UpdateTime }},
})

// levels maps the names of the API's RiskLevel to the numbers the columns store, unscored
// (RISK_LEVEL_UNSPECIFIED) included.
func levels() map[string]any {
	return withZero(listing.EnumNumbers(riskv1.RiskLevel_RISK_LEVEL_UNSPECIFIED.Descriptor()), "RISK_LEVEL_UNSPECIFIED")
}

// withZero adds an enum's zero value, which means "not set" and is stored as 0, to m.
func withZero(m map[string]any, zero string) map[string]any {
	m[zero] = 0
	return m
}

// GetRisk returns the risk with the ID, or domain.ErrRiskNotFound naming the risk; in a
// transaction it keeps the row from changing until the transaction ends, so a child written in
// the same transaction (an action, an acceptance) sees the risk as it is read.
func (r reader) GetRisk(ctx context.Context, id string) (*domain.Risk, error) {
	const q = `SELECT ` + riskColumns + ` FROM risks WHERE id = $1`
	rk, err := sqlstore.Get(ctx, r.Q, "risk "+id, domain.ErrRiskNotFound, scanRisk, r.ForUpdate(q), id)
	return rk, fault.Named(err, domain.RiskName(id))
}

// LockOpenRisk locks the risk with the ID for a new or changed child: domain.ErrRiskNotFound
// naming it when it does not exist, domain.ErrRiskClosed when it is CLOSED.
func (t Tx) LockOpenRisk(ctx context.Context, id string) (*domain.Risk, error) {
	rk, err := t.GetRisk(ctx, id)
	if err != nil {
		return nil, err
	}
	if rk.State == domain.RiskClosed {
		return nil, domain.ErrRiskClosed.With("name", rk.Name())
	}
	return rk, nil
}

// RiskBySource returns the risk the service opened for source (e.g. vendors/{vendor}), locked in
// a transaction, or domain.ErrRiskNotFound.
func (r reader) RiskBySource(ctx context.Context, source string) (*domain.Risk, error) {
	const q = `SELECT ` + riskColumns + ` FROM risks WHERE source = $1 AND source <> ''`
	return sqlstore.Get(ctx, r.Q, "risk of "+source, domain.ErrRiskNotFound, scanRisk, r.ForUpdate(q), source)
}

// ListRisks returns the risks lq selects, in lq's order (see RiskTable).
func (s Store) ListRisks(ctx context.Context, lq *listing.Query) ([]*domain.Risk, error) {
	const q = `SELECT ` + riskColumns + ` FROM risks`
	return sqlstore.List(ctx, s.Q, "risks", scanRisk, q, lq)
}

// OpenRisksOfCategories returns the risks of the categories that are not CLOSED, locked in a
// transaction, in ID order: those a change of the appetite re-measures.
func (t Tx) OpenRisksOfCategories(ctx context.Context, categories []int32) ([]*domain.Risk, error) {
	if len(categories) == 0 {
		return nil, nil
	}
	args := []any{domain.RiskClosed}
	for _, c := range categories {
		args = append(args, c)
	}
	q := `SELECT ` + riskColumns + ` FROM risks WHERE state <> $1 AND category IN (` + sqlstore.Placeholders(2, len(categories)) + `) ORDER BY id`
	return sqlstore.All(ctx, t, "open risks of categories", scanRisk, t.ForUpdate(q), args...)
}

func riskError(r *domain.Risk) func(error) error {
	return func(err error) error {
		if c, ok := sqldb.UniqueViolation(err); ok && strings.Contains(c, "source") {
			return fault.New(fault.Aborted, "RISK_SOURCE_TAKEN", "another transaction opened the risk of this source").With("source", r.Source)
		} else if ok {
			return domain.ErrRiskExists.With("name", r.Name())
		}
		return fmt.Errorf("write risk %s: %w", r.ID, err)
	}
}

// InsertRisk stores a new risk with its links and declares its review: domain.ErrRiskExists when
// the ID is taken.
func (t Tx) InsertRisk(ctx context.Context, r *domain.Risk) error {
	args, err := riskArgs(r)
	if err != nil {
		return err
	}
	q := `INSERT INTO risks (` + riskColumns + `) VALUES (` + sqlstore.Placeholders(1, len(args)) + `)`
	if err := sqlstore.Exec(ctx, t, riskError(r), q, args...); err != nil {
		return err
	}
	if err := t.writeLinks(ctx, r, false); err != nil {
		return err
	}
	return t.ScheduleRiskReview(ctx, r)
}

// UpdateRisk replaces the stored risk whose version is prevVersion with r, every column and link
// included, and declares its review as r's next review date says.
func (t Tx) UpdateRisk(ctx context.Context, r *domain.Risk, prevVersion int64) error {
	args, err := riskArgs(r)
	if err != nil {
		return err
	}
	cols := strings.Split(riskColumns, ",")
	sets := make([]string, 0, len(cols)-1)
	for i, c := range cols[1:] {
		sets = append(sets, fmt.Sprintf("%s = $%d", strings.TrimSpace(c), i+2))
	}
	q := `UPDATE risks SET ` + strings.Join(sets, ", ") + fmt.Sprintf(` WHERE id = $1 AND version = $%d`, len(args)+1)
	if err := sqlstore.Exec(ctx, t, riskError(r), q, append(args, prevVersion)...); err != nil {
		return err
	}
	if err := t.writeLinks(ctx, r, true); err != nil {
		return err
	}
	return t.ScheduleRiskReview(ctx, r)
}

// writeLinks stores r's links in risk_links, replacing those it had when replace is set.
func (t Tx) writeLinks(ctx context.Context, r *domain.Risk, replace bool) error {
	if replace {
		if _, err := t.ExecContext(ctx, `DELETE FROM risk_links WHERE risk_id = $1`, r.ID); err != nil {
			return fmt.Errorf("links of risk %s: %w", r.ID, err)
		}
	}
	const q = `INSERT INTO risk_links (risk_id, kind, target) VALUES ($1, $2, $3)`
	for _, l := range []struct {
		kind  string
		names []string
	}{{linkVendor, r.Vendors}, {linkIncident, r.Incidents}, {linkControl, r.Controls}} {
		for _, n := range l.names {
			if err := sqlstore.Exec(ctx, t, nil, q, r.ID, l.kind, n); err != nil {
				return fmt.Errorf("link risk %s to %s: %w", r.ID, n, err)
			}
		}
	}
	return nil
}

// DeleteRisk removes the risk at version with its links, history, actions and acceptances (ON
// DELETE CASCADE) and its due items.
func (t Tx) DeleteRisk(ctx context.Context, id string, version int64) error {
	const q = `DELETE FROM risks WHERE id = $1 AND version = $2`
	if err := sqlstore.Exec(ctx, t, nil, q, id, version); err != nil {
		return fmt.Errorf("delete risk %s: %w", id, err)
	}
	return scheduler.CancelResource(ctx, t, domain.RiskName(id))
}

// RiskReviewKind is the kind of the due item of a risk's review.
const RiskReviewKind = "risk_review"

// RiskReviewDue is when the review of r falls due: the start (UTC) of its next review date.
func RiskReviewDue(r *domain.Risk) time.Time { return r.NextReviewDate.Time() }

// riskReviewKey names the due item of the review of the risk named name.
func riskReviewKey(name string) string { return name + ":" + RiskReviewKind }

// ScheduleRiskReview declares the review of r at its next review date, in the transaction; a
// risk without one (CLOSED) has its review cancelled. Declaring the same date again does not fire
// it again; a moved date fires again.
func (t Tx) ScheduleRiskReview(ctx context.Context, r *domain.Risk) error {
	key := riskReviewKey(r.Name())
	if r.NextReviewDate.IsZero() {
		return scheduler.Cancel(ctx, t, key)
	}
	return scheduler.Schedule(ctx, t, scheduler.Item{Key: key, Kind: RiskReviewKind, Resource: r.Name(), Due: RiskReviewDue(r)})
}

// RiskReviewItem returns the state of the due item of the review of the risk named name, or
// scheduler.ErrNotFound.
func (r reader) RiskReviewItem(ctx context.Context, name string) (scheduler.State, error) {
	return scheduler.Get(ctx, r.Q, riskReviewKey(name))
}
