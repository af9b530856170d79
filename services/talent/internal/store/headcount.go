package store

import (
	"context"
	"database/sql"

	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
)

// quarterColumns are a plan's or scenario's four quarters, in quarterDest's order.
const quarterColumns = `q1_headcount, q1_cost_minor, q2_headcount, q2_cost_minor, q3_headcount, q3_cost_minor,
	q4_headcount, q4_cost_minor`

func quarterDest(qs *[domain.Quarters]domain.QuarterPlan) []any {
	out := make([]any, 0, 2*domain.Quarters)
	for i := range qs {
		out = append(out, &qs[i].Headcount, &qs[i].CostMinor)
	}
	return out
}

func quarterArgs(qs [domain.Quarters]domain.QuarterPlan) []any {
	out := make([]any, 0, 2*domain.Quarters)
	for _, q := range qs {
		out = append(out, q.Headcount, q.CostMinor)
	}
	return out
}

// planColumns are the columns every plan query selects, in scanPlan's order.
const planColumns = `team_id, fiscal_year, currency, ` + quarterColumns + `, adopted_scenario, create_time, update_time, version`

func scanPlan(s sqlstore.Scanner) (*domain.HeadcountPlan, error) {
	var (
		p        domain.HeadcountPlan
		currency string
	)
	dest := append([]any{&p.TeamID, &p.FiscalYear, &currency}, quarterDest(&p.Quarters)...)
	if err := s.Scan(append(dest, &p.AdoptedScenario, &p.CreateTime, &p.UpdateTime, &p.Version)...); err != nil {
		return nil, err
	}
	p.Currency = money.Currency(currency)
	p.CreateTime, p.UpdateTime = p.CreateTime.UTC(), p.UpdateTime.UTC()
	return &p, nil
}

// PlanTable is what ListHeadcountPlans can filter and order by.
var PlanTable = listing.NewTable("name", []listing.Field[*domain.HeadcountPlan]{
	// A plan's name ends in its fiscal year; team and fiscal year make the key.
	{Path: "name", Column: "team_id || '/' || CAST(fiscal_year AS TEXT)", Type: filter.String,
		Get: func(p *domain.HeadcountPlan) any { return p.TeamID + "/" + itoa(p.FiscalYear) },
		Value: func(v any) (any, error) {
			var team, fy string
			s, _ := v.(string)
			if !domain.HeadcountPlanPattern.Scan(s, &team, &fy) {
				return nil, domain.HeadcountPlanPattern.Invalid("filter")
			}
			return team + "/" + fy, nil
		}},
	{Path: "fiscal_year", Column: "fiscal_year", Type: filter.Int, Get: func(p *domain.HeadcountPlan) any { return int64(p.FiscalYear) }},
	{Path: "currency_code", Column: "currency", Type: filter.String, Get: func(p *domain.HeadcountPlan) any { return string(p.Currency) }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(p *domain.HeadcountPlan) any { return p.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(p *domain.HeadcountPlan) any { return p.UpdateTime }},
})

func itoa(fy int32) string { return domain.FiscalYearID(fy) }

// GetPlan returns the team's plan for fiscal year fy, or domain.ErrPlanNotFound; in a
// transaction it keeps the row from changing until the transaction ends.
func (r reader) GetPlan(ctx context.Context, teamID string, fy int32) (*domain.HeadcountPlan, error) {
	const q = `SELECT ` + planColumns + ` FROM headcount_plans WHERE team_id = $1 AND fiscal_year = $2`
	return sqlstore.Get(ctx, r.Q, "headcount plan "+teamID+"/"+itoa(fy), domain.ErrPlanNotFound, scanPlan, r.ForUpdate(q), teamID, fy)
}

// ListPlans returns the plans of team teamID (Wildcard: every team's) lq selects.
func (s Store) ListPlans(ctx context.Context, teamID string, lq *listing.Query) ([]*domain.HeadcountPlan, error) {
	const q = `SELECT ` + planColumns + ` FROM headcount_plans`
	return sqlstore.List(ctx, s.Q, "headcount plans", scanPlan, q, lq, sqlstore.Parent{Column: "team_id", Value: teamID})
}

// InsertPlan stores a new plan: domain.ErrPlanExists when the team has one for the year,
// domain.ErrPlanTeamNotFound when the team is missing.
func (t Tx) InsertPlan(ctx context.Context, p *domain.HeadcountPlan) error {
	const q = `INSERT INTO headcount_plans (` + planColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
		$12, $13, $14, $15)`
	args := append([]any{p.TeamID, p.FiscalYear, string(p.Currency)}, quarterArgs(p.Quarters)...)
	args = append(args, p.AdoptedScenario, p.CreateTime, p.UpdateTime, p.Version)
	return sqlstore.Exec(ctx, t, func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrPlanExists.With("name", p.Name())
		}
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrPlanTeamNotFound.With("name", domain.TeamName(p.TeamID))
		}
		return err
	}, q, args...)
}

// UpdatePlan replaces the stored plan whose version is prevVersion with p.
func (t Tx) UpdatePlan(ctx context.Context, p *domain.HeadcountPlan, prevVersion int64) error {
	const q = `UPDATE headcount_plans SET q1_headcount = $3, q1_cost_minor = $4, q2_headcount = $5, q2_cost_minor = $6,
		q3_headcount = $7, q3_cost_minor = $8, q4_headcount = $9, q4_cost_minor = $10, adopted_scenario = $11,
		update_time = $12, version = $13 WHERE team_id = $1 AND fiscal_year = $2 AND version = $14`
	args := append([]any{p.TeamID, p.FiscalYear}, quarterArgs(p.Quarters)...)
	args = append(args, p.AdoptedScenario, p.UpdateTime, p.Version, prevVersion)
	return sqlstore.Exec(ctx, t, nil, q, args...)
}

// scenarioColumns are the columns every scenario query selects, in scanScenario's order.
const scenarioColumns = `team_id, fiscal_year, id, display_name, description, ` + quarterColumns + `, adopt_time,
	create_time, update_time, version`

func scanScenario(s sqlstore.Scanner) (*domain.HeadcountScenario, error) {
	var (
		sc    domain.HeadcountScenario
		adopt sql.NullTime
	)
	dest := append([]any{&sc.TeamID, &sc.FiscalYear, &sc.ID, &sc.DisplayName, &sc.Description}, quarterDest(&sc.Quarters)...)
	if err := s.Scan(append(dest, &adopt, &sc.CreateTime, &sc.UpdateTime, &sc.Version)...); err != nil {
		return nil, err
	}
	sc.AdoptTime = sqlstore.TimeOf(adopt)
	sc.CreateTime, sc.UpdateTime = sc.CreateTime.UTC(), sc.UpdateTime.UTC()
	return &sc, nil
}

// ScenarioTable is what ListHeadcountScenarios orders by.
var ScenarioTable = listing.NewTable("name", []listing.Field[*domain.HeadcountScenario]{
	{Path: "name", Column: "id", Type: filter.String, Get: func(s *domain.HeadcountScenario) any { return s.ID }},
})

// GetScenario returns a scenario of the team's plan for fiscal year fy, or
// domain.ErrScenarioNotFound; in a transaction it keeps the row from changing.
func (r reader) GetScenario(ctx context.Context, teamID string, fy int32, id string) (*domain.HeadcountScenario, error) {
	const q = `SELECT ` + scenarioColumns + ` FROM headcount_scenarios WHERE team_id = $1 AND fiscal_year = $2 AND id = $3`
	return sqlstore.Get(ctx, r.Q, "headcount scenario "+id, domain.ErrScenarioNotFound, scanScenario, r.ForUpdate(q), teamID, fy, id)
}

// ListScenarios returns the scenarios of the team's plan for fiscal year fy that lq selects.
func (s Store) ListScenarios(ctx context.Context, teamID string, fy int32, lq *listing.Query) ([]*domain.HeadcountScenario, error) {
	const q = `SELECT ` + scenarioColumns + ` FROM headcount_scenarios`
	return sqlstore.List(ctx, s.Q, "headcount scenarios", scanScenario, q, lq,
		sqlstore.Parent{Column: "team_id", Value: teamID}, sqlstore.Parent{Column: "CAST(fiscal_year AS TEXT)", Value: itoa(fy)})
}

// PlanScenarios returns every scenario of the team's plan for fiscal year fy, by ID.
func (r reader) PlanScenarios(ctx context.Context, teamID string, fy int32) ([]*domain.HeadcountScenario, error) {
	const q = `SELECT ` + scenarioColumns + ` FROM headcount_scenarios WHERE team_id = $1 AND fiscal_year = $2 ORDER BY id`
	return sqlstore.All(ctx, r.Q, "scenarios of "+teamID+"/"+itoa(fy), scanScenario, q, teamID, fy)
}

// InsertScenario stores a new scenario: domain.ErrScenarioExists when the ID is taken.
func (t Tx) InsertScenario(ctx context.Context, s *domain.HeadcountScenario) error {
	const q = `INSERT INTO headcount_scenarios (` + scenarioColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,
		$10, $11, $12, $13, $14, $15, $16, $17)`
	args := append([]any{s.TeamID, s.FiscalYear, s.ID, s.DisplayName, s.Description}, quarterArgs(s.Quarters)...)
	args = append(args, sqlstore.NullTime(s.AdoptTime), s.CreateTime, s.UpdateTime, s.Version)
	return sqlstore.Exec(ctx, t, func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrScenarioExists.With("name", s.Name())
		}
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrPlanNotFound.With("name", s.Plan())
		}
		return err
	}, q, args...)
}

// UpdateScenario replaces the stored scenario whose version is prevVersion with s.
func (t Tx) UpdateScenario(ctx context.Context, s *domain.HeadcountScenario, prevVersion int64) error {
	const q = `UPDATE headcount_scenarios SET display_name = $4, description = $5, q1_headcount = $6, q1_cost_minor = $7,
		q2_headcount = $8, q2_cost_minor = $9, q3_headcount = $10, q3_cost_minor = $11, q4_headcount = $12,
		q4_cost_minor = $13, adopt_time = $14, update_time = $15, version = $16
		WHERE team_id = $1 AND fiscal_year = $2 AND id = $3 AND version = $17`
	args := append([]any{s.TeamID, s.FiscalYear, s.ID, s.DisplayName, s.Description}, quarterArgs(s.Quarters)...)
	args = append(args, sqlstore.NullTime(s.AdoptTime), s.UpdateTime, s.Version, prevVersion)
	return sqlstore.Exec(ctx, t, nil, q, args...)
}

// DeleteScenario removes the scenario at version.
func (t Tx) DeleteScenario(ctx context.Context, s *domain.HeadcountScenario) error {
	const q = `DELETE FROM headcount_scenarios WHERE team_id = $1 AND fiscal_year = $2 AND id = $3 AND version = $4`
	return sqlstore.Exec(ctx, t, nil, q, s.TeamID, s.FiscalYear, s.ID, s.Version)
}
