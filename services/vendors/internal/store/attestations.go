package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
)

// attestationColumns are the columns every attestation query selects, in scanAttestation's order.
const attestationColumns = `vendor_id, id, type, display_name, issuer, issue_date, expiry_date, document_uri,
	scope_description, create_time, update_time, version`

func scanAttestation(s sqlstore.Scanner) (*domain.Attestation, error) {
	var (
		a             domain.Attestation
		issue, expiry sql.NullString
	)
	err := s.Scan(&a.VendorID, &a.ID, &a.Type, &a.DisplayName, &a.Issuer, &issue, &expiry, &a.DocumentURI,
		&a.ScopeDescription, &a.CreateTime, &a.UpdateTime, &a.Version)
	if err != nil {
		return nil, err
	}
	if a.IssueDate, err = sqlstore.DateOf(issue); err != nil {
		return nil, err
	}
	if a.ExpiryDate, err = sqlstore.DateOf(expiry); err != nil {
		return nil, err
	}
	a.CreateTime, a.UpdateTime = a.CreateTime.UTC(), a.UpdateTime.UTC()
	return &a, nil
}

// attestationStatusColumn is the SQL of an attestation's status on today (see
// domain.Attestation.Status). The dates are the service's, never a client's text.
func attestationStatusColumn(today domain.Date) string {
	return fmt.Sprintf("(CASE WHEN expiry_date < '%s' THEN %d WHEN expiry_date <= '%s' THEN %d ELSE %d END)",
		today, domain.AttestationExpired, today.AddDays(domain.ExpiringDays), domain.AttestationExpiring, domain.AttestationValid)
}

// AttestationTable is what ListAttestations can filter and order by on today (the status depends
// on the day).
func AttestationTable(today domain.Date) *listing.Table[*domain.Attestation] {
	return listing.NewTable("name", []listing.Field[*domain.Attestation]{
		// Names span two columns: the key orders by the vendor, then the attestation.
		{Path: "name", Column: "vendor_id || '/' || id", Type: filter.String,
			Value: func(v any) (any, error) {
				var vendor, id string
				if !domain.AttestationPattern.ScanResource(v.(string), &vendor, &id) {
					return nil, fmt.Errorf("name must be a name %s", domain.AttestationPattern)
				}
				return vendor + "/" + id, nil
			},
			Get: func(a *domain.Attestation) any { return a.VendorID + "/" + a.ID }},
		{Path: "vendor", Column: "vendor_id", Type: filter.String, Value: listing.NameID("vendor", domain.VendorPattern),
			Get: func(a *domain.Attestation) any { return a.VendorID }},
		// Ordered by the stored number: the order the API declares the types in.
		{Path: "type", Column: "type", Type: filter.Enum, Enum: listing.EnumNumbers(vendorsv1.Attestation_TYPE_UNSPECIFIED.Descriptor()),
			Sort: "type", Get: func(a *domain.Attestation) any { return int64(a.Type) }},
		{Path: "display_name", Column: "display_name", Type: filter.String, Get: func(a *domain.Attestation) any { return a.DisplayName }},
		{Path: "issuer", Column: "issuer", Type: filter.String, Get: func(a *domain.Attestation) any { return a.Issuer }},
		{Path: "issue_date", Column: "issue_date", Type: filter.String, Nullable: true, Sort: "COALESCE(issue_date, '')",
			Get: func(a *domain.Attestation) any { return dateText(a.IssueDate) }},
		{Path: "expiry_date", Column: "expiry_date", Type: filter.String, Get: func(a *domain.Attestation) any { return a.ExpiryDate.String() }},
		{Path: "status", Column: attestationStatusColumn(today), Type: filter.Enum,
			Enum: listing.EnumNumbers(vendorsv1.Attestation_STATUS_UNSPECIFIED.Descriptor())},
		{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(a *domain.Attestation) any { return a.CreateTime }},
		{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(a *domain.Attestation) any { return a.UpdateTime }},
	})
}

// GetAttestation returns the attestation id of vendor vendorID, or domain.ErrAttestationNotFound
// naming it; in a transaction it keeps the row from changing until the transaction ends.
func (r reader) GetAttestation(ctx context.Context, vendorID, id string) (*domain.Attestation, error) {
	const q = `SELECT ` + attestationColumns + ` FROM attestations WHERE vendor_id = $1 AND id = $2`
	a, err := sqlstore.Get(ctx, r.Q, "attestation "+vendorID+"/"+id, domain.ErrAttestationNotFound, scanAttestation, r.ForUpdate(q), vendorID, id)
	return a, fault.Named(err, domain.AttestationName(vendorID, id))
}

// ListAttestations returns the attestations of vendor vendorID (Wildcard: of every vendor) that
// lq selects, in lq's order (see AttestationTable).
func (s Store) ListAttestations(ctx context.Context, vendorID string, lq *listing.Query) ([]*domain.Attestation, error) {
	const q = `SELECT ` + attestationColumns + ` FROM attestations`
	return sqlstore.List(ctx, s.Q, "attestations", scanAttestation, q, lq, sqlstore.Parent{Column: "vendor_id", Value: vendorID})
}

// attestationError translates a driver error of a write of a into the domain error it means.
func attestationError(a *domain.Attestation) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrAttestationExists.With("name", a.Name())
		}
		if sqldb.IsForeignKeyViolation(err) {
			return fault.Named(domain.ErrVendorNotFound, domain.VendorName(a.VendorID))
		}
		return err
	}
}

func attestationArgs(a *domain.Attestation) []any {
	return []any{a.VendorID, a.ID, a.Type, a.DisplayName, a.Issuer, sqlstore.NullDate(a.IssueDate), a.ExpiryDate.String(),
		a.DocumentURI, a.ScopeDescription, a.CreateTime, a.UpdateTime, a.Version}
}

// InsertAttestation stores a new attestation: domain.ErrAttestationExists when the ID is taken.
func (t Tx) InsertAttestation(ctx context.Context, a *domain.Attestation) error {
	q := `INSERT INTO attestations (` + attestationColumns + `) VALUES (` + sqlstore.Placeholders(1, 12) + `)`
	return sqlstore.Exec(ctx, t, attestationError(a), q, attestationArgs(a)...)
}

// UpdateAttestation replaces the stored attestation whose version is prevVersion with a.
func (t Tx) UpdateAttestation(ctx context.Context, a *domain.Attestation, prevVersion int64) error {
	const q = `UPDATE attestations SET type = $3, display_name = $4, issuer = $5, issue_date = $6, expiry_date = $7,
		document_uri = $8, scope_description = $9, create_time = $10, update_time = $11, version = $12
		WHERE vendor_id = $1 AND id = $2 AND version = $13`
	return sqlstore.Exec(ctx, t, attestationError(a), q, append(attestationArgs(a), prevVersion)...)
}

// DeleteAttestation removes the attestation at version.
func (t Tx) DeleteAttestation(ctx context.Context, a *domain.Attestation) error {
	const q = `DELETE FROM attestations WHERE vendor_id = $1 AND id = $2 AND version = $3`
	return sqlstore.Exec(ctx, t, nil, q, a.VendorID, a.ID, a.Version)
}

// AttestationExpiringKind is the kind of an attestation's expiry reminders, the scheduler
// handler's key.
const AttestationExpiringKind = "attestation_expiring"

// attestationReminderKey names the reminder days before the expiry date of the attestation.
func attestationReminderKey(name string, days int) string {
	return name + ":expiring:" + strconv.Itoa(days)
}

// ReminderDays reads the days before the expiry date from the key of a reminder.
func ReminderDays(key string) (int, bool) {
	i := strings.LastIndex(key, ":expiring:")
	if i < 0 {
		return 0, false
	}
	days, err := strconv.Atoi(key[i+len(":expiring:"):])
	return days, err == nil
}

// ScheduleAttestationReminders arms the expiry reminders of a (domain.ReminderDays) at the start
// of their days, in place of the dates they had; a reminder whose day is before today's start is
// cancelled instead, since it is too late for it. A reminder that fired for the same date stays
// fired.
func (t Tx) ScheduleAttestationReminders(ctx context.Context, a *domain.Attestation, now time.Time) error {
	startOfToday := civil.DateOf(now.UTC()).Time()
	for _, days := range domain.ReminderDays {
		key, due := attestationReminderKey(a.Name(), days), a.ReminderDue(days)
		if due.Before(startOfToday) {
			if err := scheduler.Cancel(ctx, t, key); err != nil {
				return err
			}
			continue
		}
		if err := scheduler.Schedule(ctx, t, scheduler.Item{Key: key, Kind: AttestationExpiringKind, Resource: a.Name(), Due: due}); err != nil {
			return err
		}
	}
	return nil
}

// CancelAttestationReminders removes the pending expiry reminders of the attestation named name.
func (t Tx) CancelAttestationReminders(ctx context.Context, name string) error {
	return scheduler.CancelResource(ctx, t, name)
}

// AttestationReminder returns the state of the reminder days before the expiry date of the
// attestation named name, or scheduler.ErrNotFound.
func (r reader) AttestationReminder(ctx context.Context, name string, days int) (scheduler.State, error) {
	return scheduler.Get(ctx, r.Q, attestationReminderKey(name, days))
}

// CancelVendorReminders removes the pending expiry reminders of every attestation of the vendor:
// when it is offboarded or deleted.
func (t Tx) CancelVendorReminders(ctx context.Context, vendorID string) error {
	const q = `SELECT id FROM attestations WHERE vendor_id = $1 ORDER BY id`
	ids, err := sqlstore.Strings(ctx, t, "attestations of vendor "+vendorID, q, vendorID)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := t.CancelAttestationReminders(ctx, domain.AttestationName(vendorID, id)); err != nil {
			return err
		}
	}
	return nil
}

// VendorAttestations returns every attestation of the vendor, in ID order: what the vendor's
// scorecards read the status of its attestations from.
func (s Store) VendorAttestations(ctx context.Context, vendorID string) ([]*domain.Attestation, error) {
	const q = `SELECT ` + attestationColumns + ` FROM attestations WHERE vendor_id = $1 ORDER BY id`
	return sqlstore.All(ctx, s.Q, "attestations of vendor "+vendorID, scanAttestation, q, vendorID)
}
