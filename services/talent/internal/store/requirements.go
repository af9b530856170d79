package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
)

// requirementColumns are the columns every requirement query selects, in scanRequirement's order.
const requirementColumns = `team_id, skill_id, min_proficiency, required_people, covered_people, gap, key_person_id,
	evaluate_time, create_time, update_time, version`

func scanRequirement(s sqlstore.Scanner) (*domain.SkillRequirement, error) {
	var (
		r         domain.SkillRequirement
		keyPerson sql.NullString
		evaluated sql.NullTime
	)
	if err := s.Scan(&r.TeamID, &r.SkillID, &r.MinProficiency, &r.RequiredPeople, &r.Coverage.Covered, &r.Coverage.Gap,
		&keyPerson, &evaluated, &r.CreateTime, &r.UpdateTime, &r.Version); err != nil {
		return nil, err
	}
	r.Coverage.KeyPersonID, r.Coverage.EvaluateTime = keyPerson.String, sqlstore.TimeOf(evaluated)
	r.CreateTime, r.UpdateTime = r.CreateTime.UTC(), r.UpdateTime.UTC()
	return &r, nil
}

// SkillRequirementTable is what ListSkillRequirements can filter and order by.
var SkillRequirementTable = listing.NewTable("name", []listing.Field[*domain.SkillRequirement]{
	// A requirement's name is its team's and skill's IDs; they make the key.
	{Path: "name", Column: "team_id || '/' || skill_id", Type: filter.String,
		Get: func(r *domain.SkillRequirement) any { return r.TeamID + "/" + r.SkillID },
		Value: func(v any) (any, error) {
			var team, skill string
			if s, _ := v.(string); !domain.SkillRequirementPattern.Scan(s, &team, &skill) {
				return nil, domain.SkillRequirementPattern.Invalid("filter")
			}
			return team + "/" + skill, nil
		}},
	{Path: "skill", Column: "skill_id", Type: filter.String, Value: listing.NameID("skill", domain.SkillPattern),
		Get: func(r *domain.SkillRequirement) any { return r.SkillID }},
	{Path: "min_proficiency", Column: "min_proficiency", Type: filter.Int,
		Get: func(r *domain.SkillRequirement) any { return int64(r.MinProficiency) }},
	{Path: "required_people", Column: "required_people", Type: filter.Int,
		Get: func(r *domain.SkillRequirement) any { return int64(r.RequiredPeople) }},
	{Path: "coverage.covered_people", Column: "covered_people", Type: filter.Int,
		Get: func(r *domain.SkillRequirement) any { return int64(r.Coverage.Covered) }},
	{Path: "coverage.gap", Column: "gap", Type: filter.Bool, Get: func(r *domain.SkillRequirement) any { return r.Coverage.Gap }},
	{Path: "coverage.key_person_risk", Column: "(key_person_id IS NOT NULL)", Type: filter.Bool,
		Get: func(r *domain.SkillRequirement) any { return r.Coverage.KeyPersonID != "" }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(r *domain.SkillRequirement) any { return r.CreateTime }},
})

// GetSkillRequirement returns the team's requirement of the skill, or
// domain.ErrRequirementNotFound; in a transaction it keeps the row until the transaction ends.
func (r reader) GetSkillRequirement(ctx context.Context, teamID, skillID string) (*domain.SkillRequirement, error) {
	const q = `SELECT ` + requirementColumns + ` FROM skill_requirements WHERE team_id = $1 AND skill_id = $2`
	return sqlstore.Get(ctx, r.Q, "skill requirement "+teamID+"/"+skillID, domain.ErrRequirementNotFound, scanRequirement,
		r.ForUpdate(q), teamID, skillID)
}

// ListSkillRequirements returns the requirements of team teamID (Wildcard: every team's) lq
// selects.
func (s Store) ListSkillRequirements(ctx context.Context, teamID string, lq *listing.Query) ([]*domain.SkillRequirement, error) {
	const q = `SELECT ` + requirementColumns + ` FROM skill_requirements`
	return sqlstore.List(ctx, s.Q, "skill requirements", scanRequirement, q, lq, sqlstore.Parent{Column: "team_id", Value: teamID})
}

// requirementArgs are the values of requirementColumns of r.
func requirementArgs(r *domain.SkillRequirement) []any {
	return []any{r.TeamID, r.SkillID, r.MinProficiency, r.RequiredPeople, r.Coverage.Covered, r.Coverage.Gap,
		sqlstore.NullString(r.Coverage.KeyPersonID), sqlstore.NullTime(r.Coverage.EvaluateTime), r.CreateTime, r.UpdateTime, r.Version}
}

// InsertSkillRequirement stores a new requirement: domain.ErrRequirementExists when the team
// requires the skill already, domain.ErrSkillMissing when the skill does not exist.
func (t Tx) InsertSkillRequirement(ctx context.Context, r *domain.SkillRequirement) error {
	const q = `INSERT INTO skill_requirements (` + requirementColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	return sqlstore.Exec(ctx, t, func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrRequirementExists.With("name", r.Name())
		}
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrSkillMissing.With("skill", domain.SkillPattern.Format(r.SkillID))
		}
		return fmt.Errorf("insert skill requirement %s: %w", r.Name(), err)
	}, q, requirementArgs(r)...)
}

// UpdateSkillRequirement replaces the stored requirement whose version is prevVersion with r,
// its coverage included.
func (t Tx) UpdateSkillRequirement(ctx context.Context, r *domain.SkillRequirement, prevVersion int64) error {
	const q = `UPDATE skill_requirements SET min_proficiency = $3, required_people = $4, covered_people = $5, gap = $6,
		key_person_id = $7, evaluate_time = $8, create_time = $9, update_time = $10, version = $11
		WHERE team_id = $1 AND skill_id = $2 AND version = $12`
	return sqlstore.Exec(ctx, t, nil, q, append(requirementArgs(r), prevVersion)...)
}

// DeleteSkillRequirement removes the requirement at version.
func (t Tx) DeleteSkillRequirement(ctx context.Context, teamID, skillID string, version int64) error {
	const q = `DELETE FROM skill_requirements WHERE team_id = $1 AND skill_id = $2 AND version = $3`
	return sqlstore.Exec(ctx, t, nil, q, teamID, skillID, version)
}

// Scope selects the requirements whose coverage a change can move: those of the teams (none:
// every team), and of the skill when it is set.
type Scope struct {
	TeamIDs []string
	SkillID string
}

// where is the scope's condition on the columns team and skill, its arguments numbered after
// the first n of the statement.
func (sc Scope) where(team, skill string, n int) (string, []any) {
	var (
		conds []string
		args  []any
	)
	if len(sc.TeamIDs) > 0 {
		for _, id := range sc.TeamIDs {
			args = append(args, id)
		}
		conds = append(conds, team+` IN (`+sqlstore.Placeholders(n+1, len(args))+`)`)
	}
	if sc.SkillID != "" && sc.SkillID != Wildcard {
		args = append(args, sc.SkillID)
		conds = append(conds, fmt.Sprintf(`%s = $%d`, skill, n+len(args)))
	}
	if len(conds) == 0 {
		return "", nil
	}
	return ` WHERE ` + strings.Join(conds, " AND "), args
}

// LockSkillRequirements returns the requirements in the scope, keeping them until the
// transaction ends, in the order of their keys (every writer locks them in that order): a
// change that can move their coverage takes them before it measures it, so that two such
// changes evaluate one after the other.
func (t Tx) LockSkillRequirements(ctx context.Context, sc Scope) ([]*domain.SkillRequirement, error) {
	where, args := sc.where("r.team_id", "r.skill_id", 0)
	q := `SELECT ` + requirementColumns + ` FROM skill_requirements r` + where + ` ORDER BY team_id, skill_id`
	return sqlstore.All(ctx, t, "skill requirements", scanRequirement, t.ForUpdate(q), args...)
}

// Measure is a requirement's coverage as the ratings have it now.
type Measure struct {
	TeamID, SkillID                string
	MinProficiency, RequiredPeople int32
	// Covered counts the team's ACTIVE people whose current rating of the skill is at least the
	// minimum; KeyPersonID is the one when Covered is 1.
	Covered     int32
	KeyPersonID string
	// EvaluateTime is when its state last changed, as stored.
	EvaluateTime time.Time
}

// MeasureCoverage measures the coverage of the requirements in the scope from the ratings, by
// team and skill: what a change evaluates again, for the few requirements it can move. One
// grouped join in SQL: the current ratings of the scope's ACTIVE people (their teams' and skill's,
// read through people_team_id_idx and skill_ratings_current_idx) joined to the requirements of
// their team, counted per requirement.
func (r reader) MeasureCoverage(ctx context.Context, sc Scope) ([]Measure, error) {
	held, heldArgs := sc.where("p.team_id", "sr.skill_id", 0)
	cond := " AND "
	if held == "" {
		cond = " WHERE "
	}
	where, args := sc.where("r.team_id", "r.skill_id", len(heldArgs))
	q := `SELECT r.team_id, r.skill_id, r.min_proficiency, r.required_people, r.evaluate_time,
			COUNT(h.person_id), MIN(h.person_id)
		FROM skill_requirements r
		LEFT JOIN (SELECT p.team_id, sr.skill_id, sr.proficiency, p.id AS person_id
			FROM people p JOIN skill_ratings sr ON sr.person_id = p.id AND sr.is_current` + held + cond + `p.state = 1) h
		ON h.team_id = r.team_id AND h.skill_id = r.skill_id AND h.proficiency >= r.min_proficiency` + where + `
		GROUP BY r.team_id, r.skill_id, r.min_proficiency, r.required_people, r.evaluate_time
		ORDER BY r.team_id, r.skill_id`
	return sqlstore.All(ctx, r.Q, "coverage", func(s sqlstore.Scanner) (Measure, error) {
		var (
			m         Measure
			evaluated sql.NullTime
			keyPerson sql.NullString
		)
		if err := s.Scan(&m.TeamID, &m.SkillID, &m.MinProficiency, &m.RequiredPeople, &evaluated, &m.Covered, &keyPerson); err != nil {
			return m, err
		}
		m.EvaluateTime = sqlstore.TimeOf(evaluated)
		if m.Covered == 1 {
			m.KeyPersonID = keyPerson.String
		}
		return m, nil
	}, q, append(heldArgs, args...)...)
}

// ListCoverage returns the requirements of team teamID (Wildcard: every team's) with their
// coverage as last evaluated, by team and skill: the coverage read, which measures nothing.
func (r reader) ListCoverage(ctx context.Context, teamID string) ([]*domain.SkillRequirement, error) {
	q := `SELECT ` + requirementColumns + ` FROM skill_requirements`
	var args []any
	if teamID != Wildcard {
		q, args = q+` WHERE team_id = $1`, []any{teamID}
	}
	return sqlstore.All(ctx, r.Q, "coverage", scanRequirement, q+` ORDER BY team_id, skill_id`, args...)
}

// KeyPersonNames are the display names an event about a requirement's key person carries.
type KeyPersonNames struct {
	Team, Skill, Person string
}

// KeyPersonNames reads the display names of a team, a skill and a person in one statement; a
// name that is not found reads as empty.
func (r reader) KeyPersonNames(ctx context.Context, teamID, skillID, personID string) (KeyPersonNames, error) {
	const q = `SELECT COALESCE((SELECT display_name FROM teams WHERE id = $1), ''),
		COALESCE((SELECT display_name FROM skills WHERE id = $2), ''),
		COALESCE((SELECT display_name FROM people WHERE id = $3), '')`
	var n KeyPersonNames
	if err := r.Q.QueryRowContext(ctx, q, teamID, skillID, personID).Scan(&n.Team, &n.Skill, &n.Person); err != nil {
		return n, fmt.Errorf("read the names of team %s, skill %s and person %s: %w", teamID, skillID, personID, err)
	}
	return n, nil
}
