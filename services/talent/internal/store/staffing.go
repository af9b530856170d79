package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
)

// TeamStaff returns what a headcount plan counts of each person of the team, ACTIVE or LEFT: the
// days employed and the loaded annual cost (a zero currency when none is recorded).
func (r reader) TeamStaff(ctx context.Context, teamID string) ([]domain.Staff, error) {
	const q = `SELECT start_date, end_date, cost_minor, cost_currency FROM people WHERE team_id = $1 ORDER BY id`
	return sqlstore.All(ctx, r.Q, "staff of team "+teamID, func(s sqlstore.Scanner) (domain.Staff, error) {
		var (
			st         domain.Staff
			start, end sql.NullString
			cost       sql.NullInt64
			currency   sql.NullString
			err        error
		)
		if err := s.Scan(&start, &end, &cost, &currency); err != nil {
			return st, err
		}
		if st.Start, err = sqlstore.DateOf(start); err != nil {
			return st, err
		}
		if st.End, err = sqlstore.DateOf(end); err != nil {
			return st, err
		}
		if cost.Valid && currency.Valid {
			st.AnnualCost = money.Amount{Minor: cost.Int64, Currency: money.Currency(currency.String)}
		}
		return st, nil
	}, q, teamID)
}

// Filling is what filling a position needs of the person who fills it.
type Filling struct {
	// Start is the person's start date.
	Start civil.Date
}

// FillingPerson returns the person with the ID who is to fill a position, keeping the row until
// the transaction ends: domain.ErrFillPersonNotFound when there is none, domain.ErrFillPersonLeft
// when they left.
func (r reader) FillingPerson(ctx context.Context, id string) (Filling, error) {
	const q = `SELECT state, start_date FROM people WHERE id = $1`
	var (
		state int32
		start sql.NullString
		f     Filling
	)
	err := r.Q.QueryRowContext(ctx, r.ForUpdate(q), id).Scan(&state, &start)
	if errors.Is(err, sql.ErrNoRows) {
		return f, domain.ErrFillPersonNotFound.With("person", domain.PersonPattern.Format(id))
	}
	if err != nil {
		return f, fmt.Errorf("person %s: %w", id, err)
	}
	if state == personLeft {
		return f, domain.ErrFillPersonLeft.With("person", domain.PersonPattern.Format(id))
	}
	f.Start, err = sqlstore.DateOf(start)
	return f, err
}

// personLeft is the stored state of a person who left (Person.State LEFT).
const personLeft = 2

// MissingSkills returns the IDs among ids that are not skills of the taxonomy.
func (r reader) MissingSkills(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	q := `SELECT id FROM skills WHERE id IN (` + sqlstore.Placeholders(1, len(ids)) + `)`
	found, err := sqlstore.Strings(ctx, r.Q, "skills", q, args...)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, id := range ids {
		if !slices.Contains(found, id) {
			missing = append(missing, id)
		}
	}
	return missing, nil
}
