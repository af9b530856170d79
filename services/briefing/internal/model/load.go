package model

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// Snapshot is the whole read model at one instant, as the briefing is computed from it.
type Snapshot struct {
	CostCenters map[string]string // name → display name
	Budgets     []Budget          // by name
	// Actuals are the actuals per budget revision and period (1 to 12), in minor units.
	Actuals map[string][12]int64
	// Committed is what remains committed per budget revision, in minor units.
	Committed map[string]int64
	Vendors   map[string]string // name → display name
	Contracts []Contract        // by name
	// SLABreaches are the vendors' SLA breaches, by name.
	SLABreaches []SLABreach
	Risks       []Risk            // by name
	Incidents   []Incident        // by name
	Teams       map[string]string // name → display name
	Skills      map[string]string // name → display name
	People      map[string]Person // by name
	Positions   []Position        // by name
	Coverage    []Coverage        // by requirement
	// PlanQuarters are the headcount plans' quarters, by plan and quarter.
	PlanQuarters []PlanQuarter
	// Frameworks are the frameworks' compliance postures, by name.
	Frameworks []Framework
	// Controls are the controls with their next test's date, by name.
	Controls []Control
	// ContinuityPlans are the continuity plans with their next exercise's date, by name.
	ContinuityPlans []ContinuityPlan
	// Policies are the policies, by name.
	Policies []Policy
	// Acknowledged are, per policy, the people who acknowledged its current major version.
	Acknowledged map[string]map[string]bool
	// LikelihoodSteps and ImpactSteps are the risk matrix's, 0 when no matrix event was seen.
	LikelihoodSteps, ImpactSteps int
	Streams                      []Stream // by domain
}

// Budget is a budget revision.
type Budget struct {
	Name, CostCenter, Currency, StartDate, DisplayName string
	FiscalYear, State                                  int32
	PlannedMinor                                       int64
}

// Contract is a vendor's contract.
type Contract struct {
	Name, Vendor, Title, Owner, EndDate, CancelByDate, NoticeWindowOpenDate, Currency string
	State, RenewalTermMonths                                                          int32
	AutoRenew                                                                         bool
	AnnualValueMinor                                                                  int64
}

// SLABreach is a breach of a service level of a vendor's contract.
type SLABreach struct {
	Name, Vendor, Contract, Incident string
	Kind                             int32
	BreachTime                       time.Time
}

// Risk is a risk with its residual score.
type Risk struct {
	Name, Title, Owner                                string
	Category, State, Likelihood, Impact, Score, Level int32
	AboveAppetite                                     bool
}

// Incident is an incident with the times its metrics are measured from.
type Incident struct {
	Name, Title                              string
	Type, Severity, State                    int32
	DetectTime, AcknowledgeTime, ResolveTime sql.NullTime
}

// Person is a person, without their pay. StartDate and EndDate are YYYY-MM-DD or empty.
type Person struct {
	DisplayName, Team, StartDate, EndDate string
	State                                 int32
}

// Position is a position with the times its time to fill is measured from and its target start
// (YYYY-MM-DD or empty).
type Position struct {
	Name, Title, Team, TargetStartDate string
	State                              int32
	OpenTime, FillTime                 sql.NullTime
}

// PlanQuarter is one quarter of a team's headcount plan. The dates are YYYY-MM-DD.
type PlanQuarter struct {
	Plan, Team, StartDate, EndDate        string
	Quarter, FiscalYear, PlannedHeadcount int32
}

// Coverage is a team's coverage of a skill it requires.
type Coverage struct {
	Requirement, Team, Skill, KeyPerson      string
	RequiredPeople, CoveredPeople, Shortfall int32
	Gap, KeyPersonRisk                       bool
}

// Framework is a framework's compliance posture as it last changed.
type Framework struct {
	Name, Title                                                   string
	RequirementCount, CoveredCount, PartialCount, NotCoveredCount int32
	ChangeTime                                                    sql.NullTime
}

// Control is a control with the day its next test is due. The dates are YYYY-MM-DD;
// LastTestDate is empty before the first test.
type Control struct {
	Name, Title, Owner, NextTestDate, LastTestDate string
	TestFrequency, LastResult                      int32
}

// ContinuityPlan is a continuity plan with the day its next exercise is due. The dates are
// YYYY-MM-DD; LastExerciseDate is empty before the first exercise.
type ContinuityPlan struct {
	Name, Title, Service, Owner, NextExerciseDate, LastExerciseDate string
	CadenceMonths, CadenceDays                                      int32
}

// Policy is a policy: whom it asks (everyone, or its teams' people), its current version (0.0
// before the first) and the day its current major version's acknowledgements are due
// (YYYY-MM-DD, empty before the first).
type Policy struct {
	Name, Title, DueDate string
	Everyone             bool
	Teams                []string
	Major, Minor         int32
}

// Stream is the last event applied from a domain's stream.
type Stream struct {
	Domain, LastEventID, LastEventType string
	LastEventTime                      sql.NullTime
	ApplyTime                          time.Time
	Sequence, Applied                  int64
}

const streamsSQL = `SELECT domain, last_event_id, last_event_type, last_event_time, apply_time, stream_sequence, applied_count
FROM briefing_streams ORDER BY domain`

func scanStream(r *sql.Rows) (Stream, error) {
	var st Stream
	err := r.Scan(&st.Domain, &st.LastEventID, &st.LastEventType, &st.LastEventTime, &st.ApplyTime, &st.Sequence, &st.Applied)
	return st, err
}

// LoadStreams reads the last event applied from each stream: a cheap read that changes whenever
// the model does.
func LoadStreams(ctx context.Context, db *sqldb.DB) ([]Stream, error) {
	rows, err := db.QueryContext(ctx, streamsSQL)
	if err != nil {
		return nil, fmt.Errorf("load the briefing's streams: %w", err)
	}
	defer rows.Close()
	var out []Stream
	for rows.Next() {
		st, err := scanStream(rows)
		if err != nil {
			return nil, fmt.Errorf("load the briefing's streams: %w", err)
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// Load reads the whole model in one read transaction, so that its parts agree.
func Load(ctx context.Context, db *sqldb.DB) (*Snapshot, error) {
	s := &Snapshot{
		CostCenters: map[string]string{}, Actuals: map[string][12]int64{}, Committed: map[string]int64{},
		Vendors: map[string]string{}, Teams: map[string]string{}, Skills: map[string]string{}, People: map[string]Person{},
		Acknowledged: map[string]map[string]bool{},
	}
	if err := inSnapshot(ctx, db, s.load); err != nil {
		return nil, fmt.Errorf("load the briefing model: %w", err)
	}
	return s, nil
}

// inSnapshot runs read in a transaction that sees one state of the model: a read-only
// REPEATABLE READ transaction on PostgreSQL; on SQLite, whose transactions here take the write
// lock at BEGIN, an ordinary one, during which the consumers wait.
func inSnapshot(ctx context.Context, db *sqldb.DB, read func(context.Context, *sql.Tx) error) error {
	if db.Engine() == sqldb.SQLite {
		return db.InTx(ctx, func(tx *sql.Tx) error { return read(ctx, tx) })
	}
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if err := read(ctx, tx); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *Snapshot) load(ctx context.Context, tx *sql.Tx) error {
	type query struct {
		q    string
		scan func(*sql.Rows) error
	}
	queries := []query{
		{`SELECT name, display_name FROM briefing_cost_centers`, func(r *sql.Rows) error {
			var n, d string
			err := r.Scan(&n, &d)
			s.CostCenters[n] = d
			return err
		}},
		{`SELECT name, cost_center, currency_code, start_date, display_name, fiscal_year, state, planned_minor
		FROM briefing_budgets ORDER BY name`, func(r *sql.Rows) error {
			var b Budget
			err := r.Scan(&b.Name, &b.CostCenter, &b.Currency, &b.StartDate, &b.DisplayName, &b.FiscalYear, &b.State, &b.PlannedMinor)
			s.Budgets = append(s.Budgets, b)
			return err
		}},
		{`SELECT budget, period, amount_minor FROM briefing_actuals`, func(r *sql.Rows) error {
			var b string
			var p int
			var a int64
			if err := r.Scan(&b, &p, &a); err != nil {
				return err
			}
			if p >= 1 && p <= 12 {
				v := s.Actuals[b]
				v[p-1] = a
				s.Actuals[b] = v
			}
			return nil
		}},
		{`SELECT budget, remaining_minor FROM briefing_commitments`, func(r *sql.Rows) error {
			var b string
			var a int64
			if err := r.Scan(&b, &a); err != nil {
				return err
			}
			// Bounded amounts: a budget's commitments cannot overflow before its line's checks did.
			s.Committed[b] += a
			return nil
		}},
		{`SELECT name, display_name FROM briefing_vendors`, func(r *sql.Rows) error {
			var n, d string
			err := r.Scan(&n, &d)
			s.Vendors[n] = d
			return err
		}},
		{`SELECT name, vendor, title, owner, end_date, cancel_by_date, notice_window_open_date, currency_code,
			state, renewal_term_months, auto_renew, annual_value_minor
		FROM briefing_contracts ORDER BY name`, func(r *sql.Rows) error {
			var c Contract
			err := r.Scan(&c.Name, &c.Vendor, &c.Title, &c.Owner, &c.EndDate, &c.CancelByDate, &c.NoticeWindowOpenDate,
				&c.Currency, &c.State, &c.RenewalTermMonths, &c.AutoRenew, &c.AnnualValueMinor)
			s.Contracts = append(s.Contracts, c)
			return err
		}},
		{`SELECT name, vendor, contract, incident, kind, breach_time FROM briefing_sla_breaches ORDER BY name`, func(r *sql.Rows) error {
			var b SLABreach
			err := r.Scan(&b.Name, &b.Vendor, &b.Contract, &b.Incident, &b.Kind, &b.BreachTime)
			s.SLABreaches = append(s.SLABreaches, b)
			return err
		}},
		{`SELECT name, title, owner, category, state, likelihood, impact, score, level, above_appetite
		FROM briefing_risks ORDER BY name`, func(r *sql.Rows) error {
			var k Risk
			err := r.Scan(&k.Name, &k.Title, &k.Owner, &k.Category, &k.State, &k.Likelihood, &k.Impact, &k.Score,
				&k.Level, &k.AboveAppetite)
			s.Risks = append(s.Risks, k)
			return err
		}},
		{`SELECT name, title, type, severity, state, detect_time, acknowledge_time, resolve_time
		FROM briefing_incidents ORDER BY name`, func(r *sql.Rows) error {
			var i Incident
			err := r.Scan(&i.Name, &i.Title, &i.Type, &i.Severity, &i.State, &i.DetectTime, &i.AcknowledgeTime, &i.ResolveTime)
			s.Incidents = append(s.Incidents, i)
			return err
		}},
		{`SELECT name, display_name FROM briefing_teams`, func(r *sql.Rows) error {
			var n, d string
			err := r.Scan(&n, &d)
			s.Teams[n] = d
			return err
		}},
		{`SELECT name, display_name FROM briefing_skills`, func(r *sql.Rows) error {
			var n, d string
			err := r.Scan(&n, &d)
			s.Skills[n] = d
			return err
		}},
		{`SELECT name, display_name, team, state, start_date, end_date FROM briefing_people`, func(r *sql.Rows) error {
			var n string
			var p Person
			err := r.Scan(&n, &p.DisplayName, &p.Team, &p.State, &p.StartDate, &p.EndDate)
			s.People[n] = p
			return err
		}},
		{`SELECT name, title, team, state, open_time, fill_time, target_start_date FROM briefing_positions ORDER BY name`, func(r *sql.Rows) error {
			var p Position
			err := r.Scan(&p.Name, &p.Title, &p.Team, &p.State, &p.OpenTime, &p.FillTime, &p.TargetStartDate)
			s.Positions = append(s.Positions, p)
			return err
		}},
		{`SELECT requirement, team, skill, key_person, required_people, covered_people, shortfall, gap, key_person_risk
		FROM briefing_coverage ORDER BY requirement`, func(r *sql.Rows) error {
			var c Coverage
			err := r.Scan(&c.Requirement, &c.Team, &c.Skill, &c.KeyPerson, &c.RequiredPeople, &c.CoveredPeople, &c.Shortfall,
				&c.Gap, &c.KeyPersonRisk)
			s.Coverage = append(s.Coverage, c)
			return err
		}},
		{`SELECT plan, quarter, team, fiscal_year, start_date, end_date, planned_headcount
		FROM briefing_headcount_quarters ORDER BY plan, quarter`, func(r *sql.Rows) error {
			var q PlanQuarter
			err := r.Scan(&q.Plan, &q.Quarter, &q.Team, &q.FiscalYear, &q.StartDate, &q.EndDate, &q.PlannedHeadcount)
			s.PlanQuarters = append(s.PlanQuarters, q)
			return err
		}},
		{`SELECT name, title, requirement_count, covered_count, partial_count, not_covered_count, change_time
		FROM briefing_frameworks ORDER BY name`, func(r *sql.Rows) error {
			var f Framework
			err := r.Scan(&f.Name, &f.Title, &f.RequirementCount, &f.CoveredCount, &f.PartialCount, &f.NotCoveredCount, &f.ChangeTime)
			s.Frameworks = append(s.Frameworks, f)
			return err
		}},
		{`SELECT name, title, owner, next_test_date, last_test_date, test_frequency, last_result
		FROM briefing_controls ORDER BY name`, func(r *sql.Rows) error {
			var c Control
			err := r.Scan(&c.Name, &c.Title, &c.Owner, &c.NextTestDate, &c.LastTestDate, &c.TestFrequency, &c.LastResult)
			s.Controls = append(s.Controls, c)
			return err
		}},
		{`SELECT name, title, service, owner, next_exercise_date, last_exercise_date, cadence_months, cadence_days
		FROM briefing_continuity_plans ORDER BY name`, func(r *sql.Rows) error {
			var p ContinuityPlan
			err := r.Scan(&p.Name, &p.Title, &p.Service, &p.Owner, &p.NextExerciseDate, &p.LastExerciseDate, &p.CadenceMonths, &p.CadenceDays)
			s.ContinuityPlans = append(s.ContinuityPlans, p)
			return err
		}},
		{`SELECT name, title, everyone, teams, major, minor, due_date FROM briefing_policies ORDER BY name`, func(r *sql.Rows) error {
			var p Policy
			var teams string
			err := r.Scan(&p.Name, &p.Title, &p.Everyone, &teams, &p.Major, &p.Minor, &p.DueDate)
			if teams != "" {
				p.Teams = strings.Split(teams, "\n")
			}
			s.Policies = append(s.Policies, p)
			return err
		}},
		{`SELECT a.policy, a.person FROM briefing_policy_acknowledgements a
		JOIN briefing_policies p ON p.name = a.policy AND p.major = a.major ORDER BY a.policy, a.person`, func(r *sql.Rows) error {
			var policy, person string
			if err := r.Scan(&policy, &person); err != nil {
				return err
			}
			if s.Acknowledged[policy] == nil {
				s.Acknowledged[policy] = map[string]bool{}
			}
			s.Acknowledged[policy][person] = true
			return nil
		}},
		{`SELECT fact, value FROM briefing_facts`, func(r *sql.Rows) error {
			var f string
			var v int
			if err := r.Scan(&f, &v); err != nil {
				return err
			}
			switch f {
			case factLikelihoodSteps:
				s.LikelihoodSteps = v
			case factImpactSteps:
				s.ImpactSteps = v
			}
			return nil
		}},
		{streamsSQL, func(r *sql.Rows) error {
			st, err := scanStream(r)
			s.Streams = append(s.Streams, st)
			return err
		}},
	}
	for _, q := range queries {
		rows, err := tx.QueryContext(ctx, q.q)
		if err != nil {
			return err
		}
		for rows.Next() {
			if err := q.scan(rows); err != nil {
				rows.Close()
				return err
			}
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
	}
	return nil
}
