package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
)

// personColumns are the columns every person query selects, in scanPerson's order.
const personColumns = `id, display_name, email, title, level, team_id, employment_type, start_date, end_date, location,
	cost_minor, cost_currency, state, create_time, update_time, version, principal`

func scanPerson(s sqlstore.Scanner) (*domain.Person, error) {
	var (
		p                      domain.Person
		email, start, end, cur sql.NullString
		principal              sql.NullString
		costMinor              sql.NullInt64
	)
	if err := s.Scan(&p.ID, &p.DisplayName, &email, &p.Title, &p.Level, &p.TeamID, &p.EmploymentType, &start, &end,
		&p.Location, &costMinor, &cur, &p.State, &p.CreateTime, &p.UpdateTime, &p.Version, &principal); err != nil {
		return nil, err
	}
	p.Email, p.Principal = email.String, principal.String
	var err error
	if p.StartDate, err = sqlstore.DateOf(start); err != nil {
		return nil, err
	}
	if p.EndDate, err = sqlstore.DateOf(end); err != nil {
		return nil, err
	}
	if costMinor.Valid {
		p.Cost = &money.Amount{Minor: costMinor.Int64, Currency: money.Currency(cur.String)}
	}
	p.CreateTime, p.UpdateTime = p.CreateTime.UTC(), p.UpdateTime.UTC()
	return &p, nil
}

// personFields are what ListPeople can filter and order by for everyone.
var personFields = []listing.Field[*domain.Person]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.PersonPattern),
		Get: func(p *domain.Person) any { return p.ID }},
	{Path: "display_name", Column: "display_name", Type: filter.String, Get: func(p *domain.Person) any { return p.DisplayName }},
	{Path: "email", Column: "email", Type: filter.String, Nullable: true},
	{Path: "principal", Column: "principal", Type: filter.String, Nullable: true},
	{Path: "title", Column: "title", Type: filter.String, Get: func(p *domain.Person) any { return p.Title }},
	{Path: "level", Column: "level", Type: filter.String, Get: func(p *domain.Person) any { return p.Level }},
	{Path: "team", Column: "team_id", Type: filter.String, Value: listing.NameID("team", domain.TeamPattern),
		Get: func(p *domain.Person) any { return p.TeamID }},
	{Path: "employment_type", Column: "employment_type", Type: filter.Enum,
		Enum: listing.EnumNumbers(talentv1.Person_EMPLOYEE.Descriptor())},
	{Path: "state", Column: "state", Type: filter.Enum, Enum: listing.EnumNumbers(talentv1.Person_ACTIVE.Descriptor())},
	{Path: "location", Column: "location", Type: filter.String, Get: func(p *domain.Person) any { return p.Location }},
	{Path: "start_date", Column: "start_date", Type: filter.String, Get: func(p *domain.Person) any { return p.StartDate.String() }},
	{Path: "end_date", Column: "end_date", Type: filter.String, Nullable: true},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(p *domain.Person) any { return p.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(p *domain.Person) any { return p.UpdateTime }},
}

// PersonTable is what ListPeople can filter and order by for a caller who may not see pay.
var PersonTable = listing.NewTable("name", personFields)

// costUnits is the whole currency units of a person's pay (google.type.Money's units), per the
// currency's own minor unit: yen are units, cents a hundredth of one.
var costUnits = money.UnitsSQL("cost_minor", "cost_currency")

// PersonTableWithPay adds pay, in whole units of its currency and its currency, for callers
// holding talent.compensation. People without a recorded cost sort first (as 0).
var PersonTableWithPay = listing.NewTable("name", append(personFields[:len(personFields):len(personFields)],
	listing.Field[*domain.Person]{Path: domain.FieldCost + ".units", Column: costUnits, Type: filter.Int, Nullable: true,
		Sort: "COALESCE(" + costUnits + ", 0)", Get: func(p *domain.Person) any {
			if p.Cost == nil {
				return int64(0)
			}
			units, _, _ := p.Cost.Money()
			return units
		}},
	listing.Field[*domain.Person]{Path: domain.FieldCost + ".currency_code", Column: "cost_currency", Type: filter.String, Nullable: true},
))

// MentionsPay reports whether a filter or order_by names pay, outside quoted literals.
func MentionsPay(expr string) bool {
	var b strings.Builder
	quote := rune(0)
	for _, r := range expr {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote != 0:
		case r == '"' || r == '\'':
			quote = r
		default:
			b.WriteRune(r)
		}
	}
	return strings.Contains(b.String(), domain.FieldCost)
}

// GetPerson returns the person with the ID, or domain.ErrPersonNotFound; in a transaction it
// keeps the row from changing until the transaction ends.
func (r reader) GetPerson(ctx context.Context, id string) (*domain.Person, error) {
	const q = `SELECT ` + personColumns + ` FROM people WHERE id = $1`
	return sqlstore.Get(ctx, r.Q, "person "+id, domain.ErrPersonNotFound, scanPerson, r.ForUpdate(q), id)
}

// ListPeople returns the people lq selects, in lq's order.
func (s Store) ListPeople(ctx context.Context, lq *listing.Query) ([]*domain.Person, error) {
	const q = `SELECT ` + personColumns + ` FROM people`
	return sqlstore.List(ctx, s.Q, "people", scanPerson, q, lq)
}

// personError translates a driver error of a write of p into the domain error it means; it never
// names the pay.
func personError(p *domain.Person) func(error) error {
	return func(err error) error {
		if constraint, ok := sqldb.UniqueViolation(err); ok {
			if strings.Contains(constraint, "email") {
				return domain.ErrEmailTaken.With("email", p.Email)
			}
			if strings.Contains(constraint, "principal") {
				return domain.ErrPrincipalTaken.OnField(domain.FieldPrincipal, "").With("principal", p.Principal)
			}
			return domain.ErrPersonExists.With("name", p.Name())
		}
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrTeamMissing.With("team", domain.TeamName(p.TeamID))
		}
		return fmt.Errorf("write person %s: %w", p.ID, err)
	}
}

func costArgs(p *domain.Person) (any, any) {
	if p.Cost == nil {
		return nil, nil
	}
	return p.Cost.Minor, string(p.Cost.Currency)
}

// InsertPerson stores a new person.
func (t Tx) InsertPerson(ctx context.Context, p *domain.Person) error {
	const q = `INSERT INTO people (` + personColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`
	minor, cur := costArgs(p)
	return sqlstore.Exec(ctx, t, personError(p), q, p.ID, p.DisplayName, sqlstore.NullString(p.Email), p.Title, p.Level,
		p.TeamID, p.EmploymentType, p.StartDate.String(), sqlstore.NullDate(p.EndDate), p.Location, minor, cur, p.State,
		p.CreateTime, p.UpdateTime, p.Version, sqlstore.NullString(p.Principal))
}

// UpdatePerson replaces the stored person whose version is prevVersion with p.
func (t Tx) UpdatePerson(ctx context.Context, p *domain.Person, prevVersion int64) error {
	const q = `UPDATE people SET display_name = $2, email = $3, title = $4, level = $5, team_id = $6,
		employment_type = $7, start_date = $8, end_date = $9, location = $10, cost_minor = $11, cost_currency = $12,
		state = $13, update_time = $14, version = $15, principal = $17 WHERE id = $1 AND version = $16`
	minor, cur := costArgs(p)
	return sqlstore.Exec(ctx, t, personError(p), q, p.ID, p.DisplayName, sqlstore.NullString(p.Email), p.Title, p.Level,
		p.TeamID, p.EmploymentType, p.StartDate.String(), sqlstore.NullDate(p.EndDate), p.Location, minor, cur, p.State,
		p.UpdateTime, p.Version, prevVersion, sqlstore.NullString(p.Principal))
}

// PersonState returns the state number of the person with the ID (Person.State: 1 ACTIVE,
// 2 LEFT), and false when there is no such person; in a transaction it keeps the row from
// changing until the transaction ends, so a manager cannot leave while a team names them.
func (r reader) PersonState(ctx context.Context, id string) (int32, bool, error) {
	const q = `SELECT state FROM people WHERE id = $1`
	var state int32
	err := r.Q.QueryRowContext(ctx, r.ForUpdate(q), id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("state of person %s: %w", id, err)
	}
	return state, true, nil
}

// PrincipalPerson returns the ID and team ID of the ACTIVE person linked to principal, and false
// when none is.
func (r reader) PrincipalPerson(ctx context.Context, principal string) (id, teamID string, ok bool, err error) {
	const q = `SELECT id, team_id FROM people WHERE principal = $1 AND state = 1`
	err = r.Q.QueryRowContext(ctx, q, principal).Scan(&id, &teamID)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", false, nil
	}
	if err != nil {
		return "", "", false, fmt.Errorf("person of principal %s: %w", principal, err)
	}
	return id, teamID, true, nil
}
