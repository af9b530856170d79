package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
)

// categoryColumns are the columns every skill category query selects, in scanCategory's order.
const categoryColumns = `id, display_name, description, create_time, update_time, version`

func scanCategory(s sqlstore.Scanner) (*domain.SkillCategory, error) {
	var c domain.SkillCategory
	if err := s.Scan(&c.ID, &c.DisplayName, &c.Description, &c.CreateTime, &c.UpdateTime, &c.Version); err != nil {
		return nil, err
	}
	c.CreateTime, c.UpdateTime = c.CreateTime.UTC(), c.UpdateTime.UTC()
	return &c, nil
}

// SkillCategoryTable is what ListSkillCategories can filter and order by.
var SkillCategoryTable = listing.NewTable("name", []listing.Field[*domain.SkillCategory]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.SkillCategoryPattern),
		Get: func(c *domain.SkillCategory) any { return c.ID }},
	{Path: "display_name", Column: "display_name", Type: filter.String, Get: func(c *domain.SkillCategory) any { return c.DisplayName }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(c *domain.SkillCategory) any { return c.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(c *domain.SkillCategory) any { return c.UpdateTime }},
})

// GetSkillCategory returns the category with the ID, or domain.ErrCategoryNotFound; in a
// transaction it keeps the row from changing until the transaction ends.
func (r reader) GetSkillCategory(ctx context.Context, id string) (*domain.SkillCategory, error) {
	const q = `SELECT ` + categoryColumns + ` FROM skill_categories WHERE id = $1`
	return sqlstore.Get(ctx, r.Q, "skill category "+id, domain.ErrCategoryNotFound, scanCategory, r.ForUpdate(q), id)
}

// ListSkillCategories returns the categories lq selects.
func (s Store) ListSkillCategories(ctx context.Context, lq *listing.Query) ([]*domain.SkillCategory, error) {
	const q = `SELECT ` + categoryColumns + ` FROM skill_categories`
	return sqlstore.List(ctx, s.Q, "skill categories", scanCategory, q, lq)
}

// InsertSkillCategory stores a new category: domain.ErrCategoryExists when the ID is taken.
func (t Tx) InsertSkillCategory(ctx context.Context, c *domain.SkillCategory) error {
	const q = `INSERT INTO skill_categories (` + categoryColumns + `) VALUES ($1, $2, $3, $4, $5, $6)`
	return sqlstore.Exec(ctx, t, func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrCategoryExists.With("name", c.Name())
		}
		return err
	}, q, c.ID, c.DisplayName, c.Description, c.CreateTime, c.UpdateTime, c.Version)
}

// UpdateSkillCategory replaces the stored category whose version is prevVersion with c.
func (t Tx) UpdateSkillCategory(ctx context.Context, c *domain.SkillCategory, prevVersion int64) error {
	const q = `UPDATE skill_categories SET display_name = $2, description = $3, update_time = $4, version = $5
		WHERE id = $1 AND version = $6`
	return sqlstore.Exec(ctx, t, nil, q, c.ID, c.DisplayName, c.Description, c.UpdateTime, c.Version, prevVersion)
}

// DeleteSkillCategory removes the category at version: domain.ErrCategoryNotEmpty while it holds
// skills.
func (t Tx) DeleteSkillCategory(ctx context.Context, id string, version int64) error {
	const q = `DELETE FROM skill_categories WHERE id = $1 AND version = $2`
	return sqlstore.Exec(ctx, t, func(err error) error {
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrCategoryNotEmpty.With("name", domain.SkillCategoryPattern.Format(id))
		}
		return fmt.Errorf("delete skill category %s: %w", id, err)
	}, q, id, version)
}

// CategoryHoldsSkills reports whether the category holds a skill.
func (t Tx) CategoryHoldsSkills(ctx context.Context, id string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM skills WHERE category_id = $1)`
	return sqlstore.Exists(ctx, t, "skills of category "+id, q, id)
}

// skillColumns are the columns every skill query selects, in scanSkill's order.
const skillColumns = `id, display_name, category_id, description, create_time, update_time, version`

func scanSkill(s sqlstore.Scanner) (*domain.Skill, error) {
	var k domain.Skill
	if err := s.Scan(&k.ID, &k.DisplayName, &k.CategoryID, &k.Description, &k.CreateTime, &k.UpdateTime, &k.Version); err != nil {
		return nil, err
	}
	k.CreateTime, k.UpdateTime = k.CreateTime.UTC(), k.UpdateTime.UTC()
	return &k, nil
}

// SkillTable is what ListSkills can filter and order by.
var SkillTable = listing.NewTable("name", []listing.Field[*domain.Skill]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.SkillPattern),
		Get: func(k *domain.Skill) any { return k.ID }},
	{Path: "display_name", Column: "display_name", Type: filter.String, Get: func(k *domain.Skill) any { return k.DisplayName }},
	{Path: "category", Column: "category_id", Type: filter.String, Value: listing.NameID("category", domain.SkillCategoryPattern),
		Get: func(k *domain.Skill) any { return k.CategoryID }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(k *domain.Skill) any { return k.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(k *domain.Skill) any { return k.UpdateTime }},
})

// GetSkill returns the skill with the ID, or domain.ErrSkillNotInTaxonomy; in a transaction it
// keeps the row from changing until the transaction ends.
func (r reader) GetSkill(ctx context.Context, id string) (*domain.Skill, error) {
	const q = `SELECT ` + skillColumns + ` FROM skills WHERE id = $1`
	return sqlstore.Get(ctx, r.Q, "skill "+id, domain.ErrSkillNotInTaxonomy, scanSkill, r.ForUpdate(q), id)
}

// ListSkills returns the skills lq selects.
func (s Store) ListSkills(ctx context.Context, lq *listing.Query) ([]*domain.Skill, error) {
	const q = `SELECT ` + skillColumns + ` FROM skills`
	return sqlstore.List(ctx, s.Q, "skills", scanSkill, q, lq)
}

// skillError translates a driver error of a write of k into the domain error it means.
func skillError(k *domain.Skill) func(error) error {
	return func(err error) error {
		if constraint, ok := sqldb.UniqueViolation(err); ok {
			if strings.Contains(constraint, "display_name") {
				return domain.ErrSkillNameTaken.With("display_name", k.DisplayName)
			}
			return domain.ErrSkillExists.With("name", k.Name())
		}
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrCategoryMissing.With("category", domain.SkillCategoryPattern.Format(k.CategoryID))
		}
		return fmt.Errorf("write skill %s: %w", k.ID, err)
	}
}

// InsertSkill stores a new skill.
func (t Tx) InsertSkill(ctx context.Context, k *domain.Skill) error {
	const q = `INSERT INTO skills (` + skillColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	return sqlstore.Exec(ctx, t, skillError(k), q, k.ID, k.DisplayName, k.CategoryID, k.Description,
		k.CreateTime, k.UpdateTime, k.Version)
}

// UpdateSkill replaces the stored skill whose version is prevVersion with k.
func (t Tx) UpdateSkill(ctx context.Context, k *domain.Skill, prevVersion int64) error {
	const q = `UPDATE skills SET display_name = $2, category_id = $3, description = $4, update_time = $5, version = $6
		WHERE id = $1 AND version = $7`
	return sqlstore.Exec(ctx, t, skillError(k), q, k.ID, k.DisplayName, k.CategoryID, k.Description, k.UpdateTime, k.Version, prevVersion)
}

// SkillInUse reports whether someone was rated on the skill, a team requires it or a position
// names it.
func (t Tx) SkillInUse(ctx context.Context, id string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM skill_ratings WHERE skill_id = $1)
		OR EXISTS (SELECT 1 FROM skill_requirements WHERE skill_id = $1)
		OR EXISTS (SELECT 1 FROM certifications WHERE skill_id = $1)
		OR EXISTS (SELECT 1 FROM positions WHERE required_skills LIKE $2)`
	return sqlstore.Exists(ctx, t, "uses of skill "+id, q, id, `%"`+id+`"%`)
}

// DeleteSkill removes the skill at version; a rating, requirement or certification that appeared
// meanwhile makes the foreign keys refuse it with domain.ErrSkillInUse.
func (t Tx) DeleteSkill(ctx context.Context, id string, version int64) error {
	const q = `DELETE FROM skills WHERE id = $1 AND version = $2`
	return sqlstore.Exec(ctx, t, func(err error) error {
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrSkillInUse.With("name", domain.SkillPattern.Format(id))
		}
		return fmt.Errorf("delete skill %s: %w", id, err)
	}, q, id, version)
}

// GetProficiencyScale returns the scale: the service's default until it is first changed.
func (r reader) GetProficiencyScale(ctx context.Context) (*domain.ProficiencyScale, error) {
	const q = `SELECT level, title, description, update_time, version FROM proficiency_levels ORDER BY level`
	s := &domain.ProficiencyScale{}
	levels, err := sqlstore.All(ctx, r.Q, "proficiency scale", func(sc sqlstore.Scanner) (domain.ProficiencyLevel, error) {
		var l domain.ProficiencyLevel
		return l, sc.Scan(&l.Level, &l.Title, &l.Description, &s.UpdateTime, &s.Version)
	}, r.ForUpdate(q))
	if err != nil {
		return nil, err
	}
	if len(levels) == 0 {
		return domain.DefaultScale(), nil
	}
	s.Levels, s.UpdateTime = levels, s.UpdateTime.UTC()
	return s, nil
}

// LockProficiencyScale serialises the changes of the scale, which has no row before its first.
func (t Tx) LockProficiencyScale(ctx context.Context) error {
	return t.Dialect.Lock(ctx, t, "quarterdeck.talent.proficiency_scale")
}

// SaveProficiencyScale stores the scale's five levels.
func (t Tx) SaveProficiencyScale(ctx context.Context, s *domain.ProficiencyScale) error {
	if _, err := t.ExecContext(ctx, `DELETE FROM proficiency_levels`); err != nil {
		return fmt.Errorf("replace proficiency scale: %w", err)
	}
	for _, l := range s.Levels {
		const q = `INSERT INTO proficiency_levels (level, title, description, update_time, version) VALUES ($1, $2, $3, $4, $5)`
		if err := sqlstore.Exec(ctx, t, nil, q, l.Level, l.Title, l.Description, s.UpdateTime, s.Version); err != nil {
			return fmt.Errorf("replace proficiency level %d: %w", l.Level, err)
		}
	}
	return nil
}

// ratingColumns are the columns every rating query selects, in scanRating's order.
const ratingColumns = `id, person_id, skill_id, proficiency, evidence, rate_date, rater, is_current, create_time`

func scanRating(s sqlstore.Scanner) (*domain.SkillRating, error) {
	var (
		r    domain.SkillRating
		date sql.NullString
		err  error
	)
	if err := s.Scan(&r.ID, &r.PersonID, &r.SkillID, &r.Proficiency, &r.Evidence, &date, &r.Rater, &r.Current, &r.CreateTime); err != nil {
		return nil, err
	}
	if r.RateDate, err = sqlstore.DateOf(date); err != nil {
		return nil, err
	}
	r.CreateTime = r.CreateTime.UTC()
	return &r, nil
}

// SkillRatingTable is what ListSkillRatings can filter and order by. Ratings' IDs are unique
// across people.
var SkillRatingTable = listing.NewTable("name", []listing.Field[*domain.SkillRating]{
	{Path: "name", Column: "id", Type: filter.String, Get: func(r *domain.SkillRating) any { return r.ID },
		Value: func(v any) (any, error) {
			var person, id string
			if s, _ := v.(string); !domain.SkillRatingPattern.Scan(s, &person, &id) {
				return nil, domain.SkillRatingPattern.Invalid("filter")
			}
			return id, nil
		}},
	{Path: "skill", Column: "skill_id", Type: filter.String, Value: listing.NameID("skill", domain.SkillPattern),
		Get: func(r *domain.SkillRating) any { return r.SkillID }},
	{Path: "proficiency", Column: "proficiency", Type: filter.Int, Get: func(r *domain.SkillRating) any { return int64(r.Proficiency) }},
	{Path: "rate_date", Column: "rate_date", Type: filter.String, Get: func(r *domain.SkillRating) any { return r.RateDate.String() }},
	{Path: "rater", Column: "rater", Type: filter.String, Get: func(r *domain.SkillRating) any { return r.Rater }},
	{Path: "current", Column: "is_current", Type: filter.Bool, Get: func(r *domain.SkillRating) any { return r.Current }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(r *domain.SkillRating) any { return r.CreateTime }},
})

// GetSkillRating returns the person's rating with the ID, or domain.ErrRatingNotFound.
func (r reader) GetSkillRating(ctx context.Context, personID, id string) (*domain.SkillRating, error) {
	const q = `SELECT ` + ratingColumns + ` FROM skill_ratings WHERE person_id = $1 AND id = $2`
	return sqlstore.Get(ctx, r.Q, "skill rating "+id, domain.ErrRatingNotFound, scanRating, q, personID, id)
}

// ListSkillRatings returns the ratings of person personID (Wildcard: everyone's) lq selects.
func (s Store) ListSkillRatings(ctx context.Context, personID string, lq *listing.Query) ([]*domain.SkillRating, error) {
	const q = `SELECT ` + ratingColumns + ` FROM skill_ratings`
	return sqlstore.List(ctx, s.Q, "skill ratings", scanRating, q, lq, sqlstore.Parent{Column: "person_id", Value: personID})
}

// CurrentSkillRating returns the person's current rating of the skill, or nil when they have
// none, keeping it until the transaction ends.
func (t Tx) CurrentSkillRating(ctx context.Context, personID, skillID string) (*domain.SkillRating, error) {
	const q = `SELECT ` + ratingColumns + ` FROM skill_ratings WHERE person_id = $1 AND skill_id = $2 AND is_current`
	all, err := sqlstore.All(ctx, t, "current rating", scanRating, t.ForUpdate(q), personID, skillID)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	return all[0], nil
}

// InsertSkillRating stores a new rating; when it is current, the person's previous current
// rating of the skill no longer is.
func (t Tx) InsertSkillRating(ctx context.Context, r *domain.SkillRating) error {
	if r.Current {
		const q = `UPDATE skill_ratings SET is_current = FALSE WHERE person_id = $1 AND skill_id = $2 AND is_current`
		if _, err := t.ExecContext(ctx, q, r.PersonID, r.SkillID); err != nil {
			return fmt.Errorf("supersede rating of %s: %w", r.PersonID, err)
		}
	}
	const q = `INSERT INTO skill_ratings (` + ratingColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	return sqlstore.Exec(ctx, t, func(err error) error {
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrSkillMissing.With("skill", domain.SkillPattern.Format(r.SkillID))
		}
		return fmt.Errorf("insert rating of %s: %w", r.PersonID, err)
	}, q, r.ID, r.PersonID, r.SkillID, r.Proficiency, r.Evidence, r.RateDate.String(), r.Rater, r.Current, r.CreateTime)
}
