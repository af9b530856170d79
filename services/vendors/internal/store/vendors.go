package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
)

// vendorColumns are the columns every vendor query selects, in scanVendor's order.
const vendorColumns = `id, display_name, legal_name, category, tier, data_access, country, website, description,
	owner, contacts, parent_vendor_id, sub_processors, state, state_reason, state_change_time,
	latest_assessment_id, latest_risk_rating, assessment_valid_until, create_time, update_time, version`

func scanVendor(s sqlstore.Scanner) (*domain.Vendor, error) {
	var (
		v                         domain.Vendor
		contacts, subs            string
		parent, assessment, until sql.NullString
	)
	err := s.Scan(&v.ID, &v.DisplayName, &v.LegalName, &v.Category, &v.Tier, &v.DataAccess, &v.Country, &v.Website,
		&v.Description, &v.Owner, &contacts, &parent, &subs, &v.State, &v.StateReason, &v.StateChangeTime,
		&assessment, &v.LatestRiskRating, &until, &v.CreateTime, &v.UpdateTime, &v.Version)
	if err != nil {
		return nil, err
	}
	if v.Contacts, err = sqlstore.ListOf[domain.Contact](contacts); err != nil {
		return nil, err
	}
	if v.SubProcessors, err = sqlstore.ListOf[domain.SubProcessor](subs); err != nil {
		return nil, err
	}
	if v.AssessmentValidUntil, err = sqlstore.DateOf(until); err != nil {
		return nil, err
	}
	v.ParentID, v.LatestAssessmentID = parent.String, assessment.String
	v.StateChangeTime, v.CreateTime, v.UpdateTime = v.StateChangeTime.UTC(), v.CreateTime.UTC(), v.UpdateTime.UTC()
	return &v, nil
}

// riskRatingColumn is the SQL of a vendor's risk rating on today: the latest assessment's while
// it is valid, 0 otherwise. today is a date the service formatted, never a client's text.
func riskRatingColumn(today domain.Date) string {
	return fmt.Sprintf("(CASE WHEN latest_assessment_id IS NOT NULL AND assessment_valid_until >= '%s' THEN latest_risk_rating ELSE 0 END)", today)
}

// VendorTable is what ListVendors can filter and order by on today (the risk rating depends on
// the day).
func VendorTable(today domain.Date) *listing.Table[*domain.Vendor] {
	dataAccess := listing.EnumNumbers(vendorsv1.DataAccess_DATA_ACCESS_UNSPECIFIED.Descriptor())
	risk := listing.EnumNumbers(vendorsv1.RiskRating_RISK_RATING_UNSPECIFIED.Descriptor())
	risk["RISK_RATING_UNSPECIFIED"] = 0
	return listing.NewTable("name", []listing.Field[*domain.Vendor]{
		{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.VendorPattern), Get: func(v *domain.Vendor) any { return v.ID }},
		{Path: "display_name", Column: "display_name", Type: filter.String, Get: func(v *domain.Vendor) any { return v.DisplayName }},
		{Path: "legal_name", Column: "legal_name", Type: filter.String, Get: func(v *domain.Vendor) any { return v.LegalName }},
		{Path: "category", Column: "category", Type: filter.Enum, Enum: listing.EnumNumbers(vendorsv1.Vendor_CATEGORY_UNSPECIFIED.Descriptor())},
		{Path: "tier", Column: "tier", Type: filter.Int, Get: func(v *domain.Vendor) any { return int64(v.Tier) }},
		{Path: "state", Column: "state", Type: filter.Enum, Enum: listing.EnumNumbers(vendorsv1.Vendor_STATE_UNSPECIFIED.Descriptor())},
		{Path: "data_access", Column: "data_access", Type: filter.Enum, Enum: dataAccess},
		{Path: "country", Column: "country", Type: filter.String, Get: func(v *domain.Vendor) any { return v.Country }},
		{Path: "owner", Column: "owner", Type: filter.String, Get: func(v *domain.Vendor) any { return v.Owner }},
		{Path: "parent_vendor", Column: "parent_vendor_id", Type: filter.String, Nullable: true,
			Value: listing.NameID("parent_vendor", domain.VendorPattern)},
		{Path: "risk_rating", Column: riskRatingColumn(today), Type: filter.Enum, Enum: risk},
		{Path: "assessment_valid_until", Column: "assessment_valid_until", Type: filter.String, Nullable: true},
		{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(v *domain.Vendor) any { return v.CreateTime }},
		{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(v *domain.Vendor) any { return v.UpdateTime }},
	})
}

// GetVendor returns the vendor with the ID, or domain.ErrVendorNotFound naming the vendor
// (vendors/{id}); in a transaction it keeps the row from changing until the transaction ends,
// so a child written in the same transaction sees the vendor as it is read.
func (r reader) GetVendor(ctx context.Context, id string) (*domain.Vendor, error) {
	const q = `SELECT ` + vendorColumns + ` FROM vendors WHERE id = $1`
	v, err := sqlstore.Get(ctx, r.Q, "vendor "+id, domain.ErrVendorNotFound, scanVendor, r.ForUpdate(q), id)
	return v, fault.Named(err, domain.VendorName(id))
}

// LockVendor is GetVendor in a transaction, by the name that says what it does: the vendor's
// row stays locked until the transaction ends. Lock the vendor before writing a child of it
// (attestation, contract, assessment, scorecard) so that the vendor cannot be deleted or
// offboarded meanwhile.
func (t Tx) LockVendor(ctx context.Context, id string) (*domain.Vendor, error) {
	return t.GetVendor(ctx, id)
}

// LockOpenVendor locks the vendor with the ID for a new or changed child: domain.ErrVendorNotFound
// naming it when it does not exist, domain.ErrVendorOffboarded naming it when it is OFFBOARDED.
func (t Tx) LockOpenVendor(ctx context.Context, id string) (*domain.Vendor, error) {
	v, err := t.LockVendor(ctx, id)
	if err != nil {
		return nil, err
	}
	if v.State == domain.VendorOffboarded {
		return nil, domain.ErrVendorOffboarded.With("name", v.Name())
	}
	return v, nil
}

// VendorExists reports whether a vendor with the ID exists.
func (r reader) VendorExists(ctx context.Context, id string) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM vendors WHERE id = $1)`
	return sqlstore.Exists(ctx, r.Q, "vendor "+id, q, id)
}

// MissingVendors returns those of ids that name no vendor, in the order given.
func (r reader) MissingVendors(ctx context.Context, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	q := `SELECT id FROM vendors WHERE id IN (` + sqlstore.Placeholders(1, len(ids)) + `)`
	found, err := sqlstore.Strings(ctx, r.Q, "vendors", q, args...)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, id := range found {
		have[id] = true
	}
	var missing []string
	for _, id := range ids {
		if !have[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}

// ListVendors returns the vendors lq selects, in lq's order (see VendorTable).
func (s Store) ListVendors(ctx context.Context, lq *listing.Query) ([]*domain.Vendor, error) {
	const q = `SELECT ` + vendorColumns + ` FROM vendors`
	return sqlstore.List(ctx, s.Q, "vendors", scanVendor, q, lq)
}

// VendorAncestors returns the IDs of id's parent vendor, its parent's parent and so on.
func (r reader) VendorAncestors(ctx context.Context, id string) ([]string, error) {
	// UNION (not UNION ALL) ends the walk even on a cycle that should never exist.
	const q = `WITH RECURSIVE up(id, parent_vendor_id, depth) AS (
			SELECT id, parent_vendor_id, 0 FROM vendors WHERE id = $1
			UNION
			SELECT v.id, v.parent_vendor_id, up.depth + 1 FROM vendors v JOIN up ON v.id = up.parent_vendor_id)
		SELECT id FROM up WHERE depth > 0 ORDER BY depth`
	return sqlstore.Strings(ctx, r.Q, "ancestors of vendor "+id, q, id)
}

// LockVendorHierarchy serialises the transactions that change the parent vendors, so two
// concurrent changes cannot build a cycle together.
func (t Tx) LockVendorHierarchy(ctx context.Context) error {
	return t.Dialect.Lock(ctx, t, "quarterdeck.vendors.vendor_hierarchy")
}

// vendorError translates a driver error of a write of v into the domain error it means, so both
// engines report the same thing.
func vendorError(v *domain.Vendor) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrVendorExists.With("name", v.Name())
		}
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrParentVendorNotFound
		}
		return err
	}
}

func vendorArgs(v *domain.Vendor) ([]any, error) {
	contacts, err := sqlstore.JSONList(v.Contacts)
	if err != nil {
		return nil, err
	}
	subs, err := sqlstore.JSONList(v.SubProcessors)
	if err != nil {
		return nil, err
	}
	return []any{v.ID, v.DisplayName, v.LegalName, v.Category, v.Tier, v.DataAccess, v.Country, v.Website,
		v.Description, v.Owner, contacts, sqlstore.NullString(v.ParentID), subs, v.State, v.StateReason,
		v.StateChangeTime, sqlstore.NullString(v.LatestAssessmentID), v.LatestRiskRating,
		sqlstore.NullDate(v.AssessmentValidUntil), v.CreateTime, v.UpdateTime, v.Version}, nil
}

// InsertVendor stores a new vendor: domain.ErrVendorExists when the ID is taken,
// domain.ErrParentVendorNotFound when the parent is missing.
func (t Tx) InsertVendor(ctx context.Context, v *domain.Vendor) error {
	args, err := vendorArgs(v)
	if err != nil {
		return err
	}
	q := `INSERT INTO vendors (` + vendorColumns + `) VALUES (` + sqlstore.Placeholders(1, len(args)) + `)`
	return sqlstore.Exec(ctx, t, vendorError(v), q, args...)
}

// UpdateVendor replaces the stored vendor whose version is prevVersion with v, every column
// included: the assessments keep the latest assessment's columns through it too.
func (t Tx) UpdateVendor(ctx context.Context, v *domain.Vendor, prevVersion int64) error {
	args, err := vendorArgs(v)
	if err != nil {
		return err
	}
	cols := strings.Split(vendorColumns, ",")
	sets := make([]string, 0, len(cols)-1)
	for i, c := range cols[1:] {
		sets = append(sets, fmt.Sprintf("%s = $%d", strings.TrimSpace(c), i+2))
	}
	q := `UPDATE vendors SET ` + strings.Join(sets, ", ") + fmt.Sprintf(` WHERE id = $1 AND version = $%d`, len(args)+1)
	return sqlstore.Exec(ctx, t, vendorError(v), q, append(args, prevVersion)...)
}

// DeleteVendor removes the vendor at version with its attestations (ON DELETE CASCADE):
// domain.ErrVendorInUse while rows of other tables refer to it.
func (t Tx) DeleteVendor(ctx context.Context, id string, version int64) error {
	const q = `DELETE FROM vendors WHERE id = $1 AND version = $2`
	return sqlstore.Exec(ctx, t, func(err error) error {
		if sqldb.IsForeignKeyViolation(err) {
			return domain.ErrVendorInUse.With("name", domain.VendorName(id))
		}
		return fmt.Errorf("delete vendor %s: %w", id, err)
	}, q, id, version)
}

// CheckVendorUnreferenced refuses, with domain.ErrVendorInUse naming what refers to it, the
// deletion of a vendor that another vendor names as its parent or as a sub-processor. Foreign
// keys of other tables (contracts) refuse it at the delete itself.
func (t Tx) CheckVendorUnreferenced(ctx context.Context, id string) error {
	const q = `SELECT id FROM vendors WHERE parent_vendor_id = $1 OR sub_processors LIKE $2 ORDER BY id LIMIT 1`
	ref, err := sqlstore.Strings(ctx, t, "references to vendor "+id, q, id, `%"vendor_id":"`+id+`"%`)
	if err != nil {
		return err
	}
	if len(ref) > 0 {
		return domain.ErrVendorInUse.With("name", domain.VendorName(id)).With("referenced_by", domain.VendorName(ref[0])).
			Withf("vendor %s names the vendor as its parent or a sub-processor; change it first", domain.VendorName(ref[0]))
	}
	return nil
}
