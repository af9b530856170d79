package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
)

// incidentColumns are the columns every incident query selects, in scanIncident's order.
const incidentColumns = `incident, vendor_id, severity, outage, start_time, declare_time, mitigate_time, resolve_time, version`

func scanIncident(s sqlstore.Scanner) (*domain.Incident, error) {
	var (
		i                 domain.Incident
		mitigate, resolve sql.NullTime
	)
	if err := s.Scan(&i.Name, &i.VendorID, &i.Severity, &i.Outage, &i.Start, &i.Declare, &mitigate, &resolve, &i.Version); err != nil {
		return nil, err
	}
	i.Start, i.Declare = i.Start.UTC(), i.Declare.UTC()
	i.Mitigate, i.Resolve = sqlstore.TimeOf(mitigate), sqlstore.TimeOf(resolve)
	return &i, nil
}

// PutIncident stores inc, unless the stored row of the incident has its version or a later one;
// it reports whether it did. An incident event read again or late therefore changes nothing.
func (t Tx) PutIncident(ctx context.Context, inc *domain.Incident, now time.Time) (bool, error) {
	const q = `INSERT INTO vendor_incidents (` + incidentColumns + `, update_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (incident) DO UPDATE SET vendor_id = excluded.vendor_id, severity = excluded.severity,
			outage = excluded.outage, start_time = excluded.start_time, declare_time = excluded.declare_time,
			mitigate_time = excluded.mitigate_time, resolve_time = excluded.resolve_time,
			version = excluded.version, update_time = excluded.update_time
		WHERE vendor_incidents.version < excluded.version`
	res, err := t.ExecContext(ctx, q, inc.Name, inc.VendorID, inc.Severity, inc.Outage, utc(inc.Start), utc(inc.Declare),
		sqlstore.NullTime(utc(inc.Mitigate)), sqlstore.NullTime(utc(inc.Resolve)), inc.Version, utc(now))
	if err != nil {
		return false, fmt.Errorf("store incident %s: %w", inc.Name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store incident %s: %w", inc.Name, err)
	}
	return n == 1, nil
}

// Outages returns the vendor's resolved outages whose downtime may overlap [from, to): those
// that began before to and were resolved after from.
func (t Tx) Outages(ctx context.Context, vendorID string, from, to time.Time) ([]*domain.Incident, error) {
	const q = `SELECT ` + incidentColumns + ` FROM vendor_incidents
		WHERE vendor_id = $1 AND outage AND start_time < $2 AND resolve_time > $3 ORDER BY start_time, incident`
	return sqlstore.All(ctx, t.Q, "outages of vendor "+vendorID, scanIncident, q, vendorID, utc(to), utc(from))
}

// VendorIncidents returns the incidents attributed to the vendor, by start: what its scorecards
// count.
func (r reader) VendorIncidents(ctx context.Context, vendorID string) ([]*domain.Incident, error) {
	const q = `SELECT ` + incidentColumns + ` FROM vendor_incidents WHERE vendor_id = $1 ORDER BY start_time, incident`
	return sqlstore.All(ctx, r.Q, "incidents of vendor "+vendorID, scanIncident, q, vendorID)
}

// breachColumns are the columns every SLA breach query selects, in scanBreach's order.
const breachColumns = `id, vendor_id, contract_id, service_level, kind, incident, severity, period, target, measured, breach_time`

func scanBreach(s sqlstore.Scanner) (domain.SLABreach, error) {
	var b domain.SLABreach
	err := s.Scan(&b.ID, &b.VendorID, &b.ContractID, &b.ServiceLevel, &b.Kind, &b.Incident, &b.Severity, &b.Period,
		&b.Target, &b.Measured, &b.BreachTime)
	b.BreachTime = b.BreachTime.UTC()
	return b, err
}

// AddSLABreach stores b unless a breach with its ID is stored; it reports whether it did.
func (t Tx) AddSLABreach(ctx context.Context, b domain.SLABreach, now time.Time) (bool, error) {
	const q = `INSERT INTO vendor_sla_breaches (` + breachColumns + `, create_time)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (id) DO NOTHING`
	res, err := t.ExecContext(ctx, q, b.ID, b.VendorID, b.ContractID, b.ServiceLevel, int32(b.Kind), b.Incident, b.Severity,
		b.Period, b.Target, b.Measured, utc(b.BreachTime), utc(now))
	if err != nil {
		return false, fmt.Errorf("store SLA breach %s: %w", b.Name(), err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store SLA breach %s: %w", b.Name(), err)
	}
	return n == 1, nil
}

// SLABreachTable is what ListSLABreaches can filter and order by.
var SLABreachTable = listing.NewTable("name", []listing.Field[domain.SLABreach]{
	// The name sorts as vendor and ID, and a filter on it takes a whole name, vendor included.
	{Path: "name", Column: "vendor_id || '/' || id", Type: filter.String, Value: slaBreachKey,
		Get: func(b domain.SLABreach) any { return b.VendorID + "/" + b.ID }},
	{Path: "vendor", Column: "vendor_id", Type: filter.String, Value: listing.NameID("vendor", domain.VendorPattern),
		Get: func(b domain.SLABreach) any { return b.VendorID }},
	{Path: "contract", Column: "vendor_id || '/' || contract_id", Type: filter.String, Value: contractKey("contract"),
		Get: func(b domain.SLABreach) any { return b.VendorID + "/" + b.ContractID }},
	{Path: "service_level", Column: "service_level", Type: filter.String, Get: func(b domain.SLABreach) any { return b.ServiceLevel }},
	// Ordered by the stored number: RESOLUTION_TIME before AVAILABILITY, as the API declares them.
	{Path: "kind", Column: "kind", Type: filter.Enum, Enum: listing.EnumNumbers(vendorsv1.SlaBreach_KIND_UNSPECIFIED.Descriptor()),
		Sort: "kind", Get: func(b domain.SLABreach) any { return int64(b.Kind) }},
	{Path: "incident", Column: "incident", Type: filter.String, Get: func(b domain.SLABreach) any { return b.Incident }},
	// Ordered by the stored number: SEV1, the most severe, first.
	{Path: "severity", Column: "severity", Type: filter.Enum,
		Enum: listing.EnumNumbers(vendorsv1.ResponseTarget_SEVERITY_UNSPECIFIED.Descriptor()),
		Sort: "severity", Get: func(b domain.SLABreach) any { return int64(b.Severity) }},
	{Path: "period", Column: "period", Type: filter.String, Get: func(b domain.SLABreach) any { return b.Period }},
	{Path: "breach_time", Column: "breach_time", Type: filter.Timestamp, Get: func(b domain.SLABreach) any { return b.BreachTime }},
})

// slaBreachKey converts an SLA breach's name in a filter to the stored "vendor/id" key.
func slaBreachKey(v any) (any, error) {
	var vendorID, id string
	if !domain.SLABreachPattern.Scan(v.(string), &vendorID, &id) {
		return nil, domain.SLABreachPattern.Invalid("name")
	}
	return vendorID + "/" + id, nil
}

// GetSLABreach returns the SLA breach id of vendor vendorID, or domain.ErrSLABreachNotFound.
func (r reader) GetSLABreach(ctx context.Context, vendorID, id string) (domain.SLABreach, error) {
	const q = `SELECT ` + breachColumns + ` FROM vendor_sla_breaches WHERE vendor_id = $1 AND id = $2`
	return sqlstore.Get(ctx, r.Q, "SLA breach "+id, domain.ErrSLABreachNotFound, scanBreach, q, vendorID, id)
}

// ListSLABreaches returns the SLA breaches lq selects (see SLABreachTable) of the vendor, which
// may be Wildcard.
func (s Store) ListSLABreaches(ctx context.Context, vendorID string, lq *listing.Query) ([]domain.SLABreach, error) {
	const q = `SELECT ` + breachColumns + ` FROM vendor_sla_breaches`
	return sqlstore.List(ctx, s.Q, "SLA breaches", scanBreach, q, lq, sqlstore.Parent{Column: "vendor_id", Value: vendorID})
}

// VendorSLABreaches returns the SLA breaches of the vendor's contracts, in the order they broke.
func (r reader) VendorSLABreaches(ctx context.Context, vendorID string) ([]domain.SLABreach, error) {
	const q = `SELECT ` + breachColumns + ` FROM vendor_sla_breaches WHERE vendor_id = $1 ORDER BY breach_time, id`
	return sqlstore.All(ctx, r.Q, "SLA breaches of vendor "+vendorID, scanBreach, q, vendorID)
}
