package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

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

// planColumns are the columns every continuity plan query selects, in scanPlan's order.
const planColumns = `id, title, description, service, rto_ns, rpo_ns, vendor_dependencies, service_dependencies, risk,
	owner, cadence_months, cadence_days, last_exercise, last_exercise_date, next_exercise_date, create_time,
	update_time, version`

func scanPlan(s sqlstore.Scanner) (*domain.ContinuityPlan, error) {
	var (
		p                 domain.ContinuityPlan
		rto, rpo          int64
		vendors, services string
		last              sql.NullString
		next              string
	)
	err := s.Scan(&p.ID, &p.Title, &p.Description, &p.Service, &rto, &rpo, &vendors, &services, &p.Risk, &p.Owner,
		&p.Cadence.Months, &p.Cadence.Days, &p.LastExercise, &last, &next, &p.CreateTime, &p.UpdateTime, &p.Version)
	if err != nil {
		return nil, err
	}
	p.RTO, p.RPO = time.Duration(rto), time.Duration(rpo)
	if p.VendorDependencies, err = sqlstore.ListOf[string](vendors); err != nil {
		return nil, fmt.Errorf("stored vendor dependencies of plan %s: %w", p.ID, err)
	}
	if p.ServiceDependencies, err = sqlstore.ListOf[string](services); err != nil {
		return nil, fmt.Errorf("stored service dependencies of plan %s: %w", p.ID, err)
	}
	if p.LastExerciseDate, err = sqlstore.DateOf(last); err != nil {
		return nil, fmt.Errorf("stored last exercise date of plan %s: %w", p.ID, err)
	}
	if p.NextExerciseDate, err = civil.ParseDate(next); err != nil {
		return nil, fmt.Errorf("stored next exercise date of plan %s: %w", p.ID, err)
	}
	p.CreateTime, p.UpdateTime = p.CreateTime.UTC(), p.UpdateTime.UTC()
	return &p, nil
}

func planArgs(p *domain.ContinuityPlan) ([]any, error) {
	vendors, err := sqlstore.JSONList(p.VendorDependencies)
	if err != nil {
		return nil, err
	}
	services, err := sqlstore.JSONList(p.ServiceDependencies)
	if err != nil {
		return nil, err
	}
	return []any{p.ID, p.Title, p.Description, p.Service, int64(p.RTO), int64(p.RPO), vendors, services, p.Risk, p.Owner,
		p.Cadence.Months, p.Cadence.Days, p.LastExercise, sqlstore.NullDate(p.LastExerciseDate), p.NextExerciseDate.String(),
		p.CreateTime, p.UpdateTime, p.Version}, nil
}

// planOverdueColumn is the SQL of whether a plan's exercise is overdue on today (see
// domain.ContinuityPlan.ExerciseOverdue). The date is the service's, never a client's text.
func planOverdueColumn(today civil.Date) string {
	return fmt.Sprintf("(next_exercise_date < '%s')", today)
}

// PlanTable is what ListContinuityPlans can filter and order by on today (whether a plan is
// overdue depends on the day).
func PlanTable(today civil.Date) *listing.Table[*domain.ContinuityPlan] {
	return listing.NewTable("name", []listing.Field[*domain.ContinuityPlan]{
		{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.ContinuityPlanPattern),
			Get: func(p *domain.ContinuityPlan) any { return p.ID }},
		{Path: "title", Column: "title", Type: filter.String, Get: func(p *domain.ContinuityPlan) any { return p.Title }},
		{Path: "service", Column: "service", Type: filter.String, Get: func(p *domain.ContinuityPlan) any { return p.Service }},
		{Path: "owner", Column: "owner", Type: filter.String, Get: func(p *domain.ContinuityPlan) any { return p.Owner }},
		{Path: "risk", Column: "risk", Type: filter.String, Get: func(p *domain.ContinuityPlan) any { return p.Risk }},
		{Path: "last_exercise_date", Column: "last_exercise_date", Type: filter.String, Nullable: true},
		{Path: "next_exercise_date", Column: "next_exercise_date", Type: filter.String,
			Get: func(p *domain.ContinuityPlan) any { return p.NextExerciseDate.String() }},
		{Path: "exercise_overdue", Column: planOverdueColumn(today), Type: filter.Bool,
			Get: func(p *domain.ContinuityPlan) any { return p.ExerciseOverdue(today) }},
		{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(p *domain.ContinuityPlan) any { return p.CreateTime }},
		{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(p *domain.ContinuityPlan) any { return p.UpdateTime }},
	})
}

// GetContinuityPlan returns the plan with the ID, or domain.ErrPlanNotFound naming it; in a
// transaction it keeps the row from changing until the transaction ends.
func (r reader) GetContinuityPlan(ctx context.Context, id string) (*domain.ContinuityPlan, error) {
	const q = `SELECT ` + planColumns + ` FROM continuity_plans WHERE id = $1`
	p, err := sqlstore.Get(ctx, r.Q, "continuity plan "+id, domain.ErrPlanNotFound, scanPlan, r.ForUpdate(q), id)
	return p, fault.Named(err, domain.PlanName(id))
}

// PlanOfService returns the plan that covers service, or nil when none does; in a transaction it
// keeps the row from changing until the transaction ends.
func (r reader) PlanOfService(ctx context.Context, service string) (*domain.ContinuityPlan, error) {
	const q = `SELECT ` + planColumns + ` FROM continuity_plans WHERE service = $1`
	ps, err := sqlstore.All(ctx, r.Q, "continuity plan of service "+service, scanPlan, r.ForUpdate(q), service)
	if err != nil || len(ps) == 0 {
		return nil, err
	}
	return ps[0], nil
}

// ListContinuityPlans returns the plans lq selects, in lq's order (see PlanTable).
func (s Store) ListContinuityPlans(ctx context.Context, lq *listing.Query) ([]*domain.ContinuityPlan, error) {
	const q = `SELECT ` + planColumns + ` FROM continuity_plans`
	return sqlstore.List(ctx, s.Q, "continuity plans", scanPlan, q, lq)
}

func planError(p *domain.ContinuityPlan) func(error) error {
	return func(err error) error {
		if c, ok := sqldb.UniqueViolation(err); ok {
			if c == "" || c == "continuity_plans_pkey" || c == "continuity_plans.id" {
				return domain.ErrPlanExists.With("name", p.Name())
			}
			return domain.ErrServiceCovered.With("service", p.Service)
		}
		return fmt.Errorf("write continuity plan %s: %w", p.ID, err)
	}
}

// InsertContinuityPlan stores a new plan and declares when it falls overdue:
// domain.ErrPlanExists when the ID is taken, domain.ErrServiceCovered when another plan covers
// its service.
func (t Tx) InsertContinuityPlan(ctx context.Context, p *domain.ContinuityPlan) error {
	args, err := planArgs(p)
	if err != nil {
		return err
	}
	q := `INSERT INTO continuity_plans (` + planColumns + `) VALUES (` + sqlstore.Placeholders(1, len(args)) + `)`
	if err := sqlstore.Exec(ctx, t, planError(p), q, args...); err != nil {
		return err
	}
	return t.schedulePlan(ctx, p)
}

// UpdateContinuityPlan replaces the stored plan whose version is prevVersion with p, and moves
// the day it falls overdue with it.
func (t Tx) UpdateContinuityPlan(ctx context.Context, p *domain.ContinuityPlan, prevVersion int64) error {
	args, err := planArgs(p)
	if err != nil {
		return err
	}
	const q = `UPDATE continuity_plans SET title = $2, description = $3, service = $4, rto_ns = $5, rpo_ns = $6,
		vendor_dependencies = $7, service_dependencies = $8, risk = $9, owner = $10, cadence_months = $11,
		cadence_days = $12, last_exercise = $13, last_exercise_date = $14, next_exercise_date = $15,
		create_time = $16, update_time = $17, version = $18 WHERE id = $1 AND version = $19`
	if err := sqlstore.Exec(ctx, t, planError(p), q, append(args, prevVersion)...); err != nil {
		return err
	}
	return t.schedulePlan(ctx, p)
}

// schedulePlan declares when p falls overdue.
func (t Tx) schedulePlan(ctx context.Context, p *domain.ContinuityPlan) error {
	return scheduler.Schedule(ctx, t, scheduler.Item{Key: planOverdueKey(p.Name()), Kind: ExerciseOverdueKind,
		Resource: p.Name(), Due: p.OverdueAt()})
}

// DeleteContinuityPlan deletes the plan whose version is version with its exercises, and cancels
// its overdue notice.
func (t Tx) DeleteContinuityPlan(ctx context.Context, p *domain.ContinuityPlan) error {
	const q = `DELETE FROM continuity_plans WHERE id = $1 AND version = $2`
	if err := sqlstore.Exec(ctx, t, nil, q, p.ID, p.Version); err != nil {
		return err
	}
	return scheduler.Cancel(ctx, t, planOverdueKey(p.Name()))
}

// ExerciseOverdueKind is the kind of the due item of a plan's overdue exercise, the scheduler
// handler's key.
const ExerciseOverdueKind = "continuity_exercise_overdue"

// planOverdueKey names the overdue item of the plan named name.
func planOverdueKey(name string) string { return name + ":exercise_overdue" }

// exerciseColumns are the columns every exercise query selects, in scanExercise's order.
const exerciseColumns = `plan_id, id, kind, exercise_date, achieved_rto_ns, achieved_rpo_ns, rto_ns, rpo_ns, rto_result,
	rpo_result, findings, notes, incident, recorder, create_time`

func scanExercise(s sqlstore.Scanner) (*domain.ContinuityExercise, error) {
	var (
		e                  domain.ContinuityExercise
		date, findings     string
		achRTO, achRPO     sql.NullInt64
		rto, rpo           int64
		rtoResult, rpoRslt int32
	)
	if err := s.Scan(&e.PlanID, &e.ID, &e.Kind, &date, &achRTO, &achRPO, &rto, &rpo, &rtoResult, &rpoRslt, &findings,
		&e.Notes, &e.Incident, &e.Recorder, &e.CreateTime); err != nil {
		return nil, err
	}
	var err error
	if e.Date, err = civil.ParseDate(date); err != nil {
		return nil, fmt.Errorf("stored exercise date %q: %w", date, err)
	}
	if err := json.Unmarshal([]byte(findings), &e.Findings); err != nil {
		return nil, fmt.Errorf("stored findings of exercise %s: %w", e.Name(), err)
	}
	e.AchievedRTO, e.AchievedRPO = durationOf(achRTO), durationOf(achRPO)
	e.RTO, e.RPO = time.Duration(rto), time.Duration(rpo)
	e.RTOResult, e.RPOResult = domain.TargetResult(rtoResult), domain.TargetResult(rpoRslt)
	e.CreateTime = e.CreateTime.UTC()
	return &e, nil
}

func durationOf(n sql.NullInt64) *time.Duration {
	if !n.Valid {
		return nil
	}
	d := time.Duration(n.Int64)
	return &d
}

func nullDuration(d *time.Duration) sql.NullInt64 {
	if d == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*d), Valid: true}
}

// ExerciseTable is what ListContinuityExercises can filter and order by.
var ExerciseTable = listing.NewTable("name", []listing.Field[*domain.ContinuityExercise]{
	// Names span two columns: the key orders by the plan, then the exercise.
	{Path: "name", Column: "plan_id || '/' || id", Type: filter.String,
		Value: func(v any) (any, error) {
			var p, id string
			if !domain.ContinuityExercisePattern.ScanResource(v.(string), &p, &id) {
				return nil, fmt.Errorf("name must be a name %s", domain.ContinuityExercisePattern)
			}
			return p + "/" + id, nil
		},
		Get: func(e *domain.ContinuityExercise) any { return e.PlanID + "/" + e.ID }},
	{Path: "plan", Column: "plan_id", Type: filter.String, Value: listing.NameID("plan", domain.ContinuityPlanPattern),
		Get: func(e *domain.ContinuityExercise) any { return e.PlanID }},
	{Path: "kind", Column: "kind", Type: filter.Enum, Enum: listing.EnumNumbers(riskv1.ExerciseKind_EXERCISE_KIND_UNSPECIFIED.Descriptor())},
	{Path: "exercise_date", Column: "exercise_date", Type: filter.String, Get: func(e *domain.ContinuityExercise) any { return e.Date.String() }},
	{Path: "recovery_time_result", Column: "rto_result", Type: filter.Enum,
		Enum: listing.EnumNumbers(riskv1.TargetResult_TARGET_RESULT_UNSPECIFIED.Descriptor())},
	{Path: "recovery_point_result", Column: "rpo_result", Type: filter.Enum,
		Enum: listing.EnumNumbers(riskv1.TargetResult_TARGET_RESULT_UNSPECIFIED.Descriptor())},
	{Path: "incident", Column: "incident", Type: filter.String, Get: func(e *domain.ContinuityExercise) any { return e.Incident }},
	{Path: "recorder", Column: "recorder", Type: filter.String, Get: func(e *domain.ContinuityExercise) any { return e.Recorder }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(e *domain.ContinuityExercise) any { return e.CreateTime }},
})

// GetContinuityExercise returns exercise id of plan planID, or domain.ErrExerciseNotFound
// naming it.
func (r reader) GetContinuityExercise(ctx context.Context, planID, id string) (*domain.ContinuityExercise, error) {
	const q = `SELECT ` + exerciseColumns + ` FROM continuity_exercises WHERE plan_id = $1 AND id = $2`
	e, err := sqlstore.Get(ctx, r.Q, "continuity exercise "+planID+"/"+id, domain.ErrExerciseNotFound, scanExercise, q, planID, id)
	return e, fault.Named(err, domain.ExerciseName(planID, id))
}

// IncidentRecorded reports whether plan planID already has an exercise recording incident.
func (r reader) IncidentRecorded(ctx context.Context, planID, incident string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM continuity_exercises WHERE plan_id = $1 AND incident = $2)`
	return sqlstore.Exists(ctx, r.Q, "exercise of incident "+incident, q, planID, incident)
}

// ListContinuityExercises returns the exercises of plan planID (Wildcard: of every plan) that
// lq selects, in lq's order (see ExerciseTable).
func (s Store) ListContinuityExercises(ctx context.Context, planID string, lq *listing.Query) ([]*domain.ContinuityExercise, error) {
	const q = `SELECT ` + exerciseColumns + ` FROM continuity_exercises`
	return sqlstore.List(ctx, s.Q, "continuity exercises", scanExercise, q, lq, sqlstore.Parent{Column: "plan_id", Value: planID})
}

// InsertContinuityExercise stores a new exercise: domain.ErrExerciseExists when the ID is taken.
func (t Tx) InsertContinuityExercise(ctx context.Context, e *domain.ContinuityExercise) error {
	findings, err := sqlstore.JSONList(e.Findings)
	if err != nil {
		return err
	}
	const q = `INSERT INTO continuity_exercises (` + exerciseColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`
	return sqlstore.Exec(ctx, t, func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrExerciseExists.With("name", e.Name())
		}
		return fmt.Errorf("write continuity exercise %s: %w", e.Name(), err)
	}, q, e.PlanID, e.ID, e.Kind, e.Date.String(), nullDuration(e.AchievedRTO), nullDuration(e.AchievedRPO),
		int64(e.RTO), int64(e.RPO), e.RTOResult, e.RPOResult, findings, e.Notes, e.Incident, e.Recorder, e.CreateTime)
}
