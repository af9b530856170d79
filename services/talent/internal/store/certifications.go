package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/talent/internal/domain"
)

// certificationColumns are the columns every certification query selects, in
// scanCertification's order.
const certificationColumns = `person_id, id, display_name, issuer, credential_id, obtain_date, expire_date, skill_id,
	create_time, update_time, version`

func scanCertification(s sqlstore.Scanner) (*domain.Certification, error) {
	var (
		c                    domain.Certification
		obtain, expire, skil sql.NullString
	)
	if err := s.Scan(&c.PersonID, &c.ID, &c.DisplayName, &c.Issuer, &c.CredentialID, &obtain, &expire, &skil,
		&c.CreateTime, &c.UpdateTime, &c.Version); err != nil {
		return nil, err
	}
	var err error
	if c.ObtainDate, err = sqlstore.DateOf(obtain); err != nil {
		return nil, err
	}
	if c.ExpireDate, err = sqlstore.DateOf(expire); err != nil {
		return nil, err
	}
	c.SkillID = skil.String
	c.CreateTime, c.UpdateTime = c.CreateTime.UTC(), c.UpdateTime.UTC()
	return &c, nil
}

// dateText is a date as the tables keep it; "" for none, which sorts first.
func dateText(d civil.Date) string {
	if d.IsZero() {
		return ""
	}
	return d.String()
}

// CertificationTable is what ListCertifications can filter and order by. Dates compare as their
// text, YYYY-MM-DD (`expire_date < "2027-03-01"`); certifications that do not expire have no
// expire_date (`expire_date = null`) and sort first. team is the holder's current team, for a
// manager's view of a team's certifications.
var CertificationTable = listing.NewTable("name", []listing.Field[*domain.Certification]{
	// Names span two columns: the key orders by the person, then the certification.
	{Path: "name", Column: "person_id || '/' || id", Type: filter.String,
		Value: func(v any) (any, error) {
			var person, id string
			if !domain.CertificationPattern.ScanResource(v.(string), &person, &id) {
				return nil, fmt.Errorf("name must be a name %s", domain.CertificationPattern)
			}
			return person + "/" + id, nil
		},
		Get: func(c *domain.Certification) any { return c.PersonID + "/" + c.ID }},
	{Path: "person", Column: "person_id", Type: filter.String, Value: listing.NameID("person", domain.PersonPattern),
		Get: func(c *domain.Certification) any { return c.PersonID }},
	// Filter only (Nullable without Sort): the team is the person's, not the certification's.
	{Path: "team", Column: "(SELECT team_id FROM people WHERE people.id = certifications.person_id)", Type: filter.String,
		Nullable: true, Value: listing.NameID("team", domain.TeamPattern)},
	{Path: "display_name", Column: "display_name", Type: filter.String, Get: func(c *domain.Certification) any { return c.DisplayName }},
	{Path: "issuer", Column: "issuer", Type: filter.String, Get: func(c *domain.Certification) any { return c.Issuer }},
	{Path: "skill", Column: "skill_id", Type: filter.String, Nullable: true, Value: listing.NameID("skill", domain.SkillPattern)},
	{Path: "obtain_date", Column: "obtain_date", Type: filter.String, Get: func(c *domain.Certification) any { return c.ObtainDate.String() }},
	{Path: "expire_date", Column: "expire_date", Type: filter.String, Nullable: true, Sort: "COALESCE(expire_date, '')",
		Get: func(c *domain.Certification) any { return dateText(c.ExpireDate) }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(c *domain.Certification) any { return c.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(c *domain.Certification) any { return c.UpdateTime }},
})

// GetCertification returns certification id of person personID, or
// domain.ErrCertificationNotFound naming it; in a transaction it keeps the row from changing
// until the transaction ends.
func (r reader) GetCertification(ctx context.Context, personID, id string) (*domain.Certification, error) {
	const q = `SELECT ` + certificationColumns + ` FROM certifications WHERE person_id = $1 AND id = $2`
	c, err := sqlstore.Get(ctx, r.Q, "certification "+personID+"/"+id, domain.ErrCertificationNotFound, scanCertification, r.ForUpdate(q), personID, id)
	return c, fault.Named(err, domain.CertificationName(personID, id))
}

// ListCertifications returns the certifications of person personID (Wildcard: of everyone) that
// lq selects, in lq's order (see CertificationTable).
func (s Store) ListCertifications(ctx context.Context, personID string, lq *listing.Query) ([]*domain.Certification, error) {
	const q = `SELECT ` + certificationColumns + ` FROM certifications`
	return sqlstore.List(ctx, s.Q, "certifications", scanCertification, q, lq, sqlstore.Parent{Column: "person_id", Value: personID})
}

// certificationError translates a driver error of a write of c into the domain error it means.
func certificationError(c *domain.Certification) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrCertificationExists.With("name", c.Name())
		}
		if sqldb.IsForeignKeyViolation(err) {
			// The writers read the person first, keeping the row, and people are never deleted:
			// with a skill named, the key that failed is the skill's, deleted since it was checked.
			if c.SkillID != "" {
				return domain.ErrCertSkillNotFound.With("skill", domain.SkillPattern.Format(c.SkillID))
			}
			return fault.Named(domain.ErrPersonNotFound, domain.PersonPattern.Format(c.PersonID))
		}
		return fmt.Errorf("write certification %s: %w", c.Name(), err)
	}
}

func certificationArgs(c *domain.Certification) []any {
	return []any{c.PersonID, c.ID, c.DisplayName, c.Issuer, c.CredentialID, c.ObtainDate.String(), sqlstore.NullDate(c.ExpireDate),
		sqlstore.NullString(c.SkillID), c.CreateTime, c.UpdateTime, c.Version}
}

// InsertCertification stores a new certification: domain.ErrCertificationExists when the ID is
// taken.
func (t Tx) InsertCertification(ctx context.Context, c *domain.Certification) error {
	q := `INSERT INTO certifications (` + certificationColumns + `) VALUES (` + sqlstore.Placeholders(1, 11) + `)`
	return sqlstore.Exec(ctx, t, certificationError(c), q, certificationArgs(c)...)
}

// UpdateCertification replaces the stored certification whose version is prevVersion with c.
func (t Tx) UpdateCertification(ctx context.Context, c *domain.Certification, prevVersion int64) error {
	const q = `UPDATE certifications SET display_name = $3, issuer = $4, credential_id = $5, obtain_date = $6,
		expire_date = $7, skill_id = $8, create_time = $9, update_time = $10, version = $11
		WHERE person_id = $1 AND id = $2 AND version = $12`
	return sqlstore.Exec(ctx, t, certificationError(c), q, append(certificationArgs(c), prevVersion)...)
}

// DeleteCertification removes the certification at its version.
func (t Tx) DeleteCertification(ctx context.Context, c *domain.Certification) error {
	const q = `DELETE FROM certifications WHERE person_id = $1 AND id = $2 AND version = $3`
	return sqlstore.Exec(ctx, t, nil, q, c.PersonID, c.ID, c.Version)
}

// The kinds of a certification's expiry reminders, the scheduler handlers' keys.
const (
	CertificationExpiringKind = "certification_expiring"
	CertificationExpiredKind  = "certification_expired"
)

// certificationReminderKey names the reminder days before the expiry date of the certification.
func certificationReminderKey(name string, days int) string {
	return name + ":expiring:" + strconv.Itoa(days)
}

// CertificationReminderDays reads the days before the expiry date from the key of a reminder.
func CertificationReminderDays(key string) (int, bool) {
	i := strings.LastIndex(key, ":expiring:")
	if i < 0 {
		return 0, false
	}
	days, err := strconv.Atoi(key[i+len(":expiring:"):])
	return days, err == nil
}

// ScheduleCertificationReminders arms the expiry reminders of c (domain.CertificationReminderDays)
// at the start of their days, in place of the dates they had; a reminder whose day is before
// today's start is cancelled instead, since it is too late for it, and so is every reminder of a
// certification that no longer expires. A reminder that fired for the same date stays fired.
func (t Tx) ScheduleCertificationReminders(ctx context.Context, c *domain.Certification, now time.Time) error {
	startOfToday := civil.DateOf(now.UTC()).Time()
	for _, days := range domain.CertificationReminderDays {
		key := certificationReminderKey(c.Name(), days)
		if c.ExpireDate.IsZero() || c.ReminderDue(days).Before(startOfToday) {
			if err := scheduler.Cancel(ctx, t, key); err != nil {
				return err
			}
			continue
		}
		kind := CertificationExpiringKind
		if days == 0 {
			kind = CertificationExpiredKind
		}
		if err := scheduler.Schedule(ctx, t, scheduler.Item{Key: key, Kind: kind, Resource: c.Name(), Due: c.ReminderDue(days)}); err != nil {
			return err
		}
	}
	return nil
}

// CancelCertificationReminders removes the pending expiry reminders of the certification named
// name.
func (t Tx) CancelCertificationReminders(ctx context.Context, name string) error {
	return scheduler.CancelResource(ctx, t, name)
}

// CancelPersonCertificationReminders removes the pending expiry reminders of every certification
// of the person: when they leave.
func (t Tx) CancelPersonCertificationReminders(ctx context.Context, personID string) error {
	const q = `SELECT id FROM certifications WHERE person_id = $1 ORDER BY id`
	ids, err := sqlstore.Strings(ctx, t, "certifications of person "+personID, q, personID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := t.CancelCertificationReminders(ctx, domain.CertificationName(personID, id)); err != nil {
			return err
		}
	}
	return nil
}

// CertificationReminder returns the state of the reminder days before the expiry date of the
// certification named name, or scheduler.ErrNotFound.
func (r reader) CertificationReminder(ctx context.Context, name string, days int) (scheduler.State, error) {
	return scheduler.Get(ctx, r.Q, certificationReminderKey(name, days))
}
