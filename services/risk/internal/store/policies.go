package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// policyColumns are the columns every policy query selects, in scanPolicy's order.
const policyColumns = `id, title, summary, owner, everyone, teams, acknowledgement_days, major, minor,
	effective_date, document_uri, create_time, update_time, version`

func scanPolicy(s sqlstore.Scanner) (*domain.Policy, error) {
	var (
		p         domain.Policy
		teams     string
		effective sql.NullString
	)
	err := s.Scan(&p.ID, &p.Title, &p.Summary, &p.Owner, &p.Everyone, &teams, &p.AcknowledgementDays, &p.Major, &p.Minor,
		&effective, &p.DocumentURI, &p.CreateTime, &p.UpdateTime, &p.Version)
	if err != nil {
		return nil, err
	}
	if p.Teams, err = sqlstore.ListOf[string](teams); err != nil {
		return nil, fmt.Errorf("stored teams of policy %s: %w", p.ID, err)
	}
	if p.EffectiveDate, err = sqlstore.DateOf(effective); err != nil {
		return nil, fmt.Errorf("stored effective date of policy %s: %w", p.ID, err)
	}
	p.CreateTime, p.UpdateTime = p.CreateTime.UTC(), p.UpdateTime.UTC()
	return &p, nil
}

func policyArgs(p *domain.Policy) ([]any, error) {
	teams, err := sqlstore.JSONList(p.Teams)
	if err != nil {
		return nil, err
	}
	return []any{p.ID, p.Title, p.Summary, p.Owner, p.Everyone, teams, p.AcknowledgementDays, p.Major, p.Minor,
		sqlstore.NullDate(p.EffectiveDate), p.DocumentURI, p.CreateTime, p.UpdateTime, p.Version}, nil
}

// PolicyTable is what ListPolicies can filter and order by.
var PolicyTable = listing.NewTable("name", []listing.Field[*domain.Policy]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.PolicyPattern),
		Get: func(p *domain.Policy) any { return p.ID }},
	{Path: "title", Column: "title", Type: filter.String, Get: func(p *domain.Policy) any { return p.Title }},
	{Path: "owner", Column: "owner", Type: filter.String, Get: func(p *domain.Policy) any { return p.Owner }},
	{Path: "everyone", Column: "everyone", Type: filter.Bool, Get: func(p *domain.Policy) any { return p.Everyone }},
	// The current version as written, 0.0 (no version yet) as "".
	{Path: "current_version", Column: "(CASE WHEN major = 0 THEN '' ELSE CAST(major AS TEXT) || '.' || CAST(minor AS TEXT) END)",
		Type: filter.String, Get: func(p *domain.Policy) any { return p.CurrentVersion() }},
	{Path: "effective_date", Column: "effective_date", Type: filter.String, Nullable: true, Sort: "COALESCE(effective_date, '')",
		Get: func(p *domain.Policy) any {
			if p.EffectiveDate.IsZero() {
				return ""
			}
			return p.EffectiveDate.String()
		}},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(p *domain.Policy) any { return p.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(p *domain.Policy) any { return p.UpdateTime }},
})

// GetPolicy returns the policy with the ID, or domain.ErrPolicyNotFound naming it; in a
// transaction it keeps the row from changing until the transaction ends.
func (r reader) GetPolicy(ctx context.Context, id string) (*domain.Policy, error) {
	const q = `SELECT ` + policyColumns + ` FROM policies WHERE id = $1`
	p, err := sqlstore.Get(ctx, r.Q, "policy "+id, domain.ErrPolicyNotFound, scanPolicy, r.ForUpdate(q), id)
	return p, fault.Named(err, domain.PolicyName(id))
}

// ListPolicies returns the policies lq selects, in lq's order (see PolicyTable).
func (r reader) ListPolicies(ctx context.Context, lq *listing.Query) ([]*domain.Policy, error) {
	const q = `SELECT ` + policyColumns + ` FROM policies`
	return sqlstore.List(ctx, r.Q, "policies", scanPolicy, q, lq)
}

func policyError(p *domain.Policy) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrPolicyExists.With("name", p.Name())
		}
		return fmt.Errorf("write policy %s: %w", p.ID, err)
	}
}

// InsertPolicy stores a new policy: domain.ErrPolicyExists when the ID is taken.
func (t Tx) InsertPolicy(ctx context.Context, p *domain.Policy) error {
	args, err := policyArgs(p)
	if err != nil {
		return err
	}
	q := `INSERT INTO policies (` + policyColumns + `) VALUES (` + sqlstore.Placeholders(1, len(args)) + `)`
	return sqlstore.Exec(ctx, t, policyError(p), q, args...)
}

// UpdatePolicy replaces the stored policy whose version is prevVersion with p.
func (t Tx) UpdatePolicy(ctx context.Context, p *domain.Policy, prevVersion int64) error {
	args, err := policyArgs(p)
	if err != nil {
		return err
	}
	const q = `UPDATE policies SET title = $2, summary = $3, owner = $4, everyone = $5, teams = $6,
		acknowledgement_days = $7, major = $8, minor = $9, effective_date = $10, document_uri = $11,
		create_time = $12, update_time = $13, version = $14 WHERE id = $1 AND version = $15`
	return sqlstore.Exec(ctx, t, policyError(p), q, append(args, prevVersion)...)
}

// DeletePolicy deletes the policy whose version is p.Version with its versions and
// acknowledgements, and cancels its acknowledgements' overdue item.
func (t Tx) DeletePolicy(ctx context.Context, p *domain.Policy) error {
	for _, q := range []string{`DELETE FROM policy_acknowledgements WHERE policy_id = $1`,
		`DELETE FROM policy_versions WHERE policy_id = $1`} {
		if _, err := t.ExecContext(ctx, q, p.ID); err != nil {
			return fmt.Errorf("delete policy %s: %w", p.ID, err)
		}
	}
	const q = `DELETE FROM policies WHERE id = $1 AND version = $2`
	if err := sqlstore.Exec(ctx, t, nil, q, p.ID, p.Version); err != nil {
		return err
	}
	return scheduler.Cancel(ctx, t, policyOverdueKey(p.Name()))
}

// policyVersionColumns are the columns every policy version query selects, in
// scanPolicyVersion's order.
const policyVersionColumns = `policy_id, major, minor, document_uri, effective_date, change_summary,
	acknowledgement_due_date, publisher, create_time`

func scanPolicyVersion(s sqlstore.Scanner) (*domain.PolicyVersion, error) {
	var (
		v              domain.PolicyVersion
		effective, due string
	)
	if err := s.Scan(&v.PolicyID, &v.Major, &v.Minor, &v.DocumentURI, &effective, &v.ChangeSummary, &due,
		&v.Publisher, &v.CreateTime); err != nil {
		return nil, err
	}
	var err error
	if v.EffectiveDate, err = civil.ParseDate(effective); err != nil {
		return nil, fmt.Errorf("stored effective date %q: %w", effective, err)
	}
	if v.AcknowledgementDueDate, err = civil.ParseDate(due); err != nil {
		return nil, fmt.Errorf("stored acknowledgement due date %q: %w", due, err)
	}
	v.CreateTime = v.CreateTime.UTC()
	return &v, nil
}

// policyVersionSortKey orders a policy's versions newest first when sorted ascending: the
// numbers' distances below 9999, zero-padded.
func policyVersionSortKey(v *domain.PolicyVersion) string {
	return fmt.Sprintf("%04d.%04d", 9999-v.Major, 9999-v.Minor)
}

// PolicyVersionTable is how ListPolicyVersions orders: newest first, by the sort key.
var PolicyVersionTable = listing.NewTable("name", []listing.Field[*domain.PolicyVersion]{
	{Path: "name", Column: "sort_key", Type: filter.String, Get: func(v *domain.PolicyVersion) any { return policyVersionSortKey(v) }},
})

// GetPolicyVersion returns version id of policy policyID, or domain.ErrPolicyVersionNotFound
// naming it.
func (r reader) GetPolicyVersion(ctx context.Context, policyID, id string) (*domain.PolicyVersion, error) {
	const q = `SELECT ` + policyVersionColumns + ` FROM policy_versions WHERE policy_id = $1 AND id = $2`
	v, err := sqlstore.Get(ctx, r.Q, "policy version "+policyID+"/"+id, domain.ErrPolicyVersionNotFound, scanPolicyVersion, q, policyID, id)
	return v, fault.Named(err, domain.PolicyVersionPattern.Format(policyID, id))
}

// ListPolicyVersions returns the versions of policy policyID that lq selects, newest first.
func (s Store) ListPolicyVersions(ctx context.Context, policyID string, lq *listing.Query) ([]*domain.PolicyVersion, error) {
	const q = `SELECT ` + policyVersionColumns + ` FROM policy_versions`
	return sqlstore.List(ctx, s.Q, "policy versions", scanPolicyVersion, q, lq, sqlstore.Parent{Column: "policy_id", Value: policyID})
}

// InsertPolicyVersion stores a new version of a policy.
func (t Tx) InsertPolicyVersion(ctx context.Context, v *domain.PolicyVersion) error {
	q := `INSERT INTO policy_versions (` + policyVersionColumns + `, id, sort_key) VALUES (` + sqlstore.Placeholders(1, 11) + `)`
	return sqlstore.Exec(ctx, t, nil, q, v.PolicyID, v.Major, v.Minor, v.DocumentURI, v.EffectiveDate.String(), v.ChangeSummary,
		v.AcknowledgementDueDate.String(), v.Publisher, v.CreateTime, domain.PolicyVersionID(v.Major, v.Minor), policyVersionSortKey(v))
}

// ApplyMember stores what a talent person event says of a person, unless an event of a later
// version was applied already; it reports whether it did. Events that come again or late change
// nothing.
func (t Tx) ApplyMember(ctx context.Context, m domain.Member) (bool, error) {
	const q = `INSERT INTO people (id, display_name, team, active, version) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, team = excluded.team,
			active = excluded.active, version = excluded.version
		WHERE people.version < excluded.version`
	res, err := t.ExecContext(ctx, q, m.PersonID, m.DisplayName, m.Team, m.Active, m.Version)
	if err != nil {
		return false, fmt.Errorf("person %s: %w", m.PersonID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ackColumns are the columns every acknowledgement query selects, in scanAck's order.
const ackColumns = `policy_id, person_id, major, minor, recorder, acknowledge_time`

func scanAck(s sqlstore.Scanner) (*domain.PolicyAcknowledgement, error) {
	var a domain.PolicyAcknowledgement
	if err := s.Scan(&a.PolicyID, &a.PersonID, &a.Major, &a.Minor, &a.Recorder, &a.AcknowledgeTime); err != nil {
		return nil, err
	}
	a.AcknowledgeTime = a.AcknowledgeTime.UTC()
	return &a, nil
}

// InsertAcknowledgement stores an acknowledgement unless the person acknowledged the major
// version already, and returns the one stored: a's, or the earlier one.
func (t Tx) InsertAcknowledgement(ctx context.Context, a *domain.PolicyAcknowledgement) (stored *domain.PolicyAcknowledgement, inserted bool, err error) {
	const ins = `INSERT INTO policy_acknowledgements (` + ackColumns + `) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (policy_id, major, person_id) DO NOTHING`
	res, err := t.ExecContext(ctx, ins, a.PolicyID, a.PersonID, a.Major, a.Minor, a.Recorder, a.AcknowledgeTime)
	if err != nil {
		return nil, false, fmt.Errorf("acknowledgement of %s by %s: %w", a.PolicyID, a.PersonID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 1 {
		return a, n == 1, err
	}
	const q = `SELECT ` + ackColumns + ` FROM policy_acknowledgements WHERE policy_id = $1 AND major = $2 AND person_id = $3`
	stored, err = sqlstore.Get(ctx, t, "acknowledgement", domain.ErrPolicyNotFound, scanAck, q, a.PolicyID, a.Major, a.PersonID)
	return stored, false, err
}

// CampaignPeople returns the people who must acknowledge policy p — its teams' active people,
// or every active person — by ID, each with their acknowledgement of p's current major version.
func (r reader) CampaignPeople(ctx context.Context, p *domain.Policy) ([]domain.CampaignEntry, error) {
	q, args := campaignFrom(p, false)(1)
	return sqlstore.All(ctx, r.Q, "people of a campaign", scanCampaignEntry(p), q+` ORDER BY person_id`, args...)
}

// CampaignCounts counts the people who must acknowledge policy p (those CampaignPeople returns)
// and those of them who have acknowledged its current major version, without reading them.
func (r reader) CampaignCounts(ctx context.Context, p *domain.Policy) (required, acknowledged int32, err error) {
	q, args := campaignFrom(p, false)(1)
	err = r.Q.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(minor) FROM (`+q+`) people`, args...).Scan(&required, &acknowledged)
	if err != nil {
		return 0, 0, fmt.Errorf("count the people of a campaign: %w", err)
	}
	return required, acknowledged, nil
}

// CampaignPersonTable is what ListCampaignPeople can filter and order by: the columns of
// campaignFrom's derived table.
var CampaignPersonTable = listing.NewTable("person", []listing.Field[domain.CampaignEntry]{
	{Path: "person", Column: "person_id", Type: filter.String, Value: listing.NameID("person", domain.PersonPattern),
		Get: func(e domain.CampaignEntry) any { return e.PersonID }},
	{Path: "display_name", Column: "display_name", Type: filter.String,
		Get: func(e domain.CampaignEntry) any { return e.DisplayName }},
	{Path: "team", Column: "team", Type: filter.String, Get: func(e domain.CampaignEntry) any { return e.Team }},
	// "" when pending, so that `acknowledged_version = ""` finds who has not acknowledged; ordered
	// by the minor version's number (1.10 after 1.9), all of one major version.
	{Path: "acknowledged_version", Column: "acknowledged_version", Type: filter.String, Sort: "acknowledged_sort",
		Get: func(e domain.CampaignEntry) any { return minorSortKey(e) }},
	{Path: "acknowledge_time", Column: "acknowledge_time", Type: filter.Timestamp, Nullable: true},
	{Path: "overdue", Column: "overdue", Type: filter.Bool, Get: func(e domain.CampaignEntry) any { return e.Overdue }},
})

// ListCampaignPeople returns the people of policy p's campaign that lq selects (see
// CampaignPersonTable and CampaignPeople), each overdue when pending and overdue says the
// campaign is.
func (r reader) ListCampaignPeople(ctx context.Context, p *domain.Policy, overdue bool, lq *listing.Query) ([]domain.CampaignEntry, error) {
	return sqlstore.ListFrom(ctx, r.Q, "people of a campaign", scanCampaignEntry(p), campaignFrom(p, overdue), lq)
}

// minorSortKey is the acknowledged_sort of campaignFrom: the minor version acknowledged, as ten
// digits, or "" when pending.
func minorSortKey(e domain.CampaignEntry) string {
	if e.Acknowledgement == nil {
		return ""
	}
	return fmt.Sprintf("%010d", e.Acknowledgement.Minor)
}

// campaignFrom selects the people of policy p's campaign — person_id, display_name, team, minor,
// recorder, acknowledge_time and overdue — from a derived table of one row per person that also
// has the columns lists filter and order by: acknowledged_version ("1.2", "" when pending) and
// acknowledged_sort (the minor version as ten digits). Every one pending is overdue when overdue
// is.
func campaignFrom(p *domain.Policy, overdue bool) sqlstore.From {
	return func(first int) (string, []any) {
		args := []any{p.ID, p.Major, fmt.Sprintf("%d.", p.Major), overdue}
		where := `m.active`
		if !p.Everyone {
			for _, team := range p.Teams {
				args = append(args, team)
			}
			where += ` AND m.team IN (` + sqlstore.Placeholders(first+4, len(p.Teams)) + `)`
		}
		return fmt.Sprintf(`SELECT person_id, display_name, team, minor, recorder, acknowledge_time, overdue FROM (
			SELECT m.id AS person_id, m.display_name AS display_name, m.team AS team, a.minor AS minor, a.recorder AS recorder,
				a.acknowledge_time AS acknowledge_time,
				CASE WHEN a.minor IS NULL THEN '' ELSE $%[3]d || CAST(a.minor AS TEXT) END AS acknowledged_version,
				CASE WHEN a.minor IS NULL THEN '' ELSE substr('0000000000' || CAST(a.minor AS TEXT), length(CAST(a.minor AS TEXT)) + 1) END
					AS acknowledged_sort,
				(a.minor IS NULL AND $%[4]d) AS overdue
			FROM people m
			LEFT JOIN policy_acknowledgements a ON a.policy_id = $%[1]d AND a.major = $%[2]d AND a.person_id = m.id
			WHERE %[5]s) campaign`, first, first+1, first+2, first+3, where), args
	}
}

// scanCampaignEntry reads a row of campaignFrom of policy p.
func scanCampaignEntry(p *domain.Policy) func(sqlstore.Scanner) (domain.CampaignEntry, error) {
	return func(s sqlstore.Scanner) (domain.CampaignEntry, error) {
		var (
			e        domain.CampaignEntry
			minor    sql.NullInt32
			recorder sql.NullString
			at       sql.NullTime
		)
		if err := s.Scan(&e.PersonID, &e.DisplayName, &e.Team, &minor, &recorder, &at, &e.Overdue); err != nil {
			return e, err
		}
		if minor.Valid {
			e.Acknowledgement = &domain.PolicyAcknowledgement{PolicyID: p.ID, PersonID: e.PersonID, Major: p.Major,
				Minor: minor.Int32, Recorder: recorder.String, AcknowledgeTime: at.Time.UTC()}
		}
		return e, nil
	}
}

// PolicyOverdueKind is the kind of the due item of a policy's acknowledgements falling overdue,
// the scheduler handler's key.
const PolicyOverdueKind = "policy_acknowledgement_overdue"

// SchedulePolicyOverdue declares, for the policy's current major version, the day after its
// acknowledgements' due date, replacing the item of an earlier major version.
func (t Tx) SchedulePolicyOverdue(ctx context.Context, p *domain.Policy, due civil.Date) error {
	return scheduler.Schedule(ctx, t, scheduler.Item{Key: policyOverdueKey(p.Name()), Kind: PolicyOverdueKind,
		Resource: p.Name(), Due: due.AddDays(1).Time()})
}

// policyOverdueKey names the acknowledgement-overdue item of the policy named name.
func policyOverdueKey(name string) string { return name + ":acknowledgement_overdue" }
