package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// incidentColumns are the columns every incident query selects, in scanIncident's order.
const incidentColumns = `id, title, summary, type, severity, state, commander, communications_lead, scribe,
	responders, affected_services, vendor, vendor_contract, linked_risks, cost_minor, cost_currency, budget_line,
	detect_time, declare_time, acknowledge_time, mitigate_time, resolve_time, close_time, declarer,
	create_time, update_time, version`

func scanIncident(s sqlstore.Scanner) (*domain.Incident, error) {
	var (
		i                                 domain.Incident
		responders, services, risks, curr string
		ack, mit, res, clo                sql.NullTime
	)
	err := s.Scan(&i.ID, &i.Title, &i.Summary, &i.Type, &i.Severity, &i.State, &i.Roles.Commander,
		&i.Roles.CommunicationsLead, &i.Roles.Scribe, &responders, &services, &i.Vendor, &i.VendorContract, &risks,
		&i.Cost.Minor, &curr, &i.BudgetLine, &i.DetectTime, &i.DeclareTime, &ack, &mit, &res, &clo, &i.Declarer,
		&i.CreateTime, &i.UpdateTime, &i.Version)
	if err != nil {
		return nil, err
	}
	for _, l := range []struct {
		s   string
		dst *[]string
	}{{responders, &i.Roles.Responders}, {services, &i.AffectedServices}, {risks, &i.LinkedRisks}} {
		if *l.dst, err = sqlstore.ListOf[string](l.s); err != nil {
			return nil, err
		}
	}
	i.Cost.Currency = money.Currency(curr)
	i.AcknowledgeTime, i.MitigateTime = sqlstore.TimeOf(ack).UTC(), sqlstore.TimeOf(mit).UTC()
	i.ResolveTime, i.CloseTime = sqlstore.TimeOf(res).UTC(), sqlstore.TimeOf(clo).UTC()
	i.DetectTime, i.DeclareTime = i.DetectTime.UTC(), i.DeclareTime.UTC()
	i.CreateTime, i.UpdateTime = i.CreateTime.UTC(), i.UpdateTime.UTC()
	return &i, nil
}

func incidentArgs(i *domain.Incident) ([]any, error) {
	var lists [3]string
	for n, l := range [][]string{i.Roles.Responders, i.AffectedServices, i.LinkedRisks} {
		var err error
		if lists[n], err = sqlstore.JSONList(l); err != nil {
			return nil, err
		}
	}
	return []any{i.ID, i.Title, i.Summary, i.Type, i.Severity, i.State, i.Roles.Commander, i.Roles.CommunicationsLead,
		i.Roles.Scribe, lists[0], lists[1], i.Vendor, i.VendorContract, lists[2], i.Cost.Minor, string(i.Cost.Currency),
		i.BudgetLine, i.DetectTime, i.DeclareTime, sqlstore.NullTime(i.AcknowledgeTime), sqlstore.NullTime(i.MitigateTime),
		sqlstore.NullTime(i.ResolveTime), sqlstore.NullTime(i.CloseTime), i.Declarer, i.CreateTime, i.UpdateTime, i.Version}, nil
}

// The kinds of incident_links rows.
const (
	linkRisk    = "risk"
	linkService = "service"
)

// incidentLinkField is a repeated field of an incident's links: `linked_risks:"risks/x"`.
func incidentLinkField(path, kind string) listing.Field[*domain.Incident] {
	return listing.Field[*domain.Incident]{Path: path, Type: filter.String, Repeated: true,
		Column: "SELECT target FROM incident_links l WHERE l.incident_id = incidents.id AND l.kind = '" + kind + "'"}
}

// nullableTime is a step time a list can filter by; unset steps compare as NULL.
func nullableTime(path string) listing.Field[*domain.Incident] {
	return listing.Field[*domain.Incident]{Path: path, Column: path, Type: filter.Timestamp, Nullable: true}
}

// IncidentTable is what ListIncidents (and the metrics' filter) can filter and order by.
var IncidentTable = listing.NewTable("name", []listing.Field[*domain.Incident]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.IncidentPattern), Get: func(i *domain.Incident) any { return i.ID }},
	{Path: "title", Column: "title", Type: filter.String, Get: func(i *domain.Incident) any { return i.Title }},
	{Path: "type", Column: "type", Type: filter.Enum, Enum: listing.EnumNumbers(riskv1.Incident_TYPE_UNSPECIFIED.Descriptor())},
	// Ordered by the stored number, SEV1 first: `severity <= SEV2` is SEV1 and SEV2.
	{Path: "severity", Column: "severity", Type: filter.Enum, Enum: listing.EnumNumbers(riskv1.Incident_SEVERITY_UNSPECIFIED.Descriptor()),
		Sort: "severity", Get: func(i *domain.Incident) any { return int64(i.Severity) }},
	{Path: "state", Column: "state", Type: filter.Enum, Enum: listing.EnumNumbers(riskv1.Incident_STATE_UNSPECIFIED.Descriptor())},
	{Path: "commander", Column: "commander", Type: filter.String, Get: func(i *domain.Incident) any { return i.Roles.Commander }},
	{Path: "vendor", Column: "vendor", Type: filter.String, Get: func(i *domain.Incident) any { return i.Vendor }},
	{Path: "budget_line", Column: "budget_line", Type: filter.String, Get: func(i *domain.Incident) any { return i.BudgetLine }},
	incidentLinkField("linked_risks", linkRisk),
	incidentLinkField("affected_services", linkService),
	{Path: "detect_time", Column: "detect_time", Type: filter.Timestamp, Get: func(i *domain.Incident) any { return i.DetectTime }},
	{Path: "declare_time", Column: "declare_time", Type: filter.Timestamp, Get: func(i *domain.Incident) any { return i.DeclareTime }},
	nullableTime("acknowledge_time"),
	nullableTime("mitigate_time"),
	nullableTime("resolve_time"),
	nullableTime("close_time"),
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(i *domain.Incident) any { return i.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(i *domain.Incident) any { return i.UpdateTime }},
})

// GetIncident returns the incident with the ID, or domain.ErrIncidentNotFound naming it; in a
// transaction it keeps the row from changing until the transaction ends, which also orders the
// writes of its timeline, breach impact and postmortem.
func (r reader) GetIncident(ctx context.Context, id string) (*domain.Incident, error) {
	const q = `SELECT ` + incidentColumns + ` FROM incidents WHERE id = $1`
	i, err := sqlstore.Get(ctx, r.Q, "incident "+id, domain.ErrIncidentNotFound, scanIncident, r.ForUpdate(q), id)
	return i, fault.Named(err, domain.IncidentName(id))
}

// ListIncidents returns the incidents lq selects, in lq's order (see IncidentTable).
func (s Store) ListIncidents(ctx context.Context, lq *listing.Query) ([]*domain.Incident, error) {
	const q = `SELECT ` + incidentColumns + ` FROM incidents`
	return sqlstore.List(ctx, s.Q, "incidents", scanIncident, q, lq)
}

func incidentError(i *domain.Incident) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrIncidentExists.With("name", i.Name())
		}
		return fmt.Errorf("write incident %s: %w", i.ID, err)
	}
}

// InsertIncident stores a new incident with its links and its first timeline entries:
// domain.ErrIncidentExists when the ID is taken.
func (t Tx) InsertIncident(ctx context.Context, i *domain.Incident, entries ...*domain.TimelineEntry) error {
	if err := i.CheckOrder(); err != nil {
		return err
	}
	args, err := incidentArgs(i)
	if err != nil {
		return err
	}
	q := `INSERT INTO incidents (` + incidentColumns + `) VALUES (` + sqlstore.Placeholders(1, len(args)) + `)`
	if err := sqlstore.Exec(ctx, t, incidentError(i), q, args...); err != nil {
		return err
	}
	if err := t.writeIncidentLinks(ctx, i, false); err != nil {
		return err
	}
	return t.AppendTimeline(ctx, entries...)
}

// UpdateIncident replaces the stored incident whose version is prevVersion with i, links
// included, and appends entries to its timeline. The row must be locked (GetIncident in the
// transaction).
func (t Tx) UpdateIncident(ctx context.Context, i *domain.Incident, prevVersion int64, entries ...*domain.TimelineEntry) error {
	if err := i.CheckOrder(); err != nil {
		return err
	}
	args, err := incidentArgs(i)
	if err != nil {
		return err
	}
	cols := strings.Split(incidentColumns, ",")
	sets := make([]string, 0, len(cols)-1)
	for n, c := range cols[1:] {
		sets = append(sets, fmt.Sprintf("%s = $%d", strings.TrimSpace(c), n+2))
	}
	q := `UPDATE incidents SET ` + strings.Join(sets, ", ") + fmt.Sprintf(` WHERE id = $1 AND version = $%d`, len(args)+1)
	if err := sqlstore.Exec(ctx, t, incidentError(i), q, append(args, prevVersion)...); err != nil {
		return err
	}
	if err := t.writeIncidentLinks(ctx, i, true); err != nil {
		return err
	}
	return t.AppendTimeline(ctx, entries...)
}

// UpdateIncidentVersion stores the version and update time of i, whose stored version is
// prevVersion, and nothing else: for a change that moves the incident's version on without
// changing its fields or links (an event about it). The row must be locked.
func (t Tx) UpdateIncidentVersion(ctx context.Context, i *domain.Incident, prevVersion int64) error {
	const q = `UPDATE incidents SET version = $2, update_time = $3 WHERE id = $1 AND version = $4`
	return sqlstore.Exec(ctx, t, incidentError(i), q, i.ID, i.Version, i.UpdateTime, prevVersion)
}

// writeIncidentLinks stores i's links, replacing those it had when replace is set.
func (t Tx) writeIncidentLinks(ctx context.Context, i *domain.Incident, replace bool) error {
	if replace {
		if _, err := t.ExecContext(ctx, `DELETE FROM incident_links WHERE incident_id = $1`, i.ID); err != nil {
			return fmt.Errorf("links of incident %s: %w", i.ID, err)
		}
	}
	const q = `INSERT INTO incident_links (incident_id, kind, target) VALUES ($1, $2, $3)`
	for _, l := range []struct {
		kind  string
		names []string
	}{{linkRisk, i.LinkedRisks}, {linkService, i.AffectedServices}} {
		for _, n := range l.names {
			if err := sqlstore.Exec(ctx, t, nil, q, i.ID, l.kind, n); err != nil {
				return fmt.Errorf("link incident %s to %s: %w", i.ID, n, err)
			}
		}
	}
	return nil
}
