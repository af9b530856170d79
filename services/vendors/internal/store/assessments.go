package store

import (
	"context"
	"database/sql"
	"fmt"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/vendors/internal/domain"
)

// templateColumns are the columns every template query selects, in scanTemplate's order.
const templateColumns = `id, display_name, description, questions, revision, create_time, update_time, version`

func scanTemplate(s sqlstore.Scanner) (*domain.AssessmentTemplate, error) {
	var (
		t         domain.AssessmentTemplate
		questions string
		err       error
	)
	if err := s.Scan(&t.ID, &t.DisplayName, &t.Description, &questions, &t.Revision, &t.CreateTime, &t.UpdateTime, &t.Version); err != nil {
		return nil, err
	}
	if t.Questions, err = sqlstore.ListOf[domain.Question](questions); err != nil {
		return nil, fmt.Errorf("assessment template %s: %w", t.ID, err)
	}
	t.CreateTime, t.UpdateTime = t.CreateTime.UTC(), t.UpdateTime.UTC()
	return &t, nil
}

// AssessmentTemplateTable is what ListAssessmentTemplates can filter and order by.
var AssessmentTemplateTable = listing.NewTable("name", []listing.Field[*domain.AssessmentTemplate]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.AssessmentTemplatePattern),
		Get: func(t *domain.AssessmentTemplate) any { return t.ID }},
	{Path: "display_name", Column: "display_name", Type: filter.String, Get: func(t *domain.AssessmentTemplate) any { return t.DisplayName }},
	{Path: "revision", Column: "revision", Type: filter.Int, Get: func(t *domain.AssessmentTemplate) any { return int64(t.Revision) }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(t *domain.AssessmentTemplate) any { return t.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(t *domain.AssessmentTemplate) any { return t.UpdateTime }},
})

// GetAssessmentTemplate returns the template with the ID, or domain.ErrAssessmentTemplateNotFound;
// in a transaction it keeps the row from changing until the transaction ends.
func (r reader) GetAssessmentTemplate(ctx context.Context, id string) (*domain.AssessmentTemplate, error) {
	const q = `SELECT ` + templateColumns + ` FROM assessment_templates WHERE id = $1`
	return sqlstore.Get(ctx, r.Q, "assessment template "+id, domain.ErrAssessmentTemplateNotFound, scanTemplate, r.ForUpdate(q), id)
}

// ListAssessmentTemplates returns the templates lq selects, in lq's order.
func (s Store) ListAssessmentTemplates(ctx context.Context, lq *listing.Query) ([]*domain.AssessmentTemplate, error) {
	const q = `SELECT ` + templateColumns + ` FROM assessment_templates`
	return sqlstore.List(ctx, s.Q, "assessment templates", scanTemplate, q, lq)
}

// InsertAssessmentTemplate stores a new template: domain.ErrAssessmentTemplateExists when its ID
// is taken.
func (t Tx) InsertAssessmentTemplate(ctx context.Context, at *domain.AssessmentTemplate) error {
	questions, err := sqlstore.JSONList(at.Questions)
	if err != nil {
		return err
	}
	const q = `INSERT INTO assessment_templates (` + templateColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	return sqlstore.Exec(ctx, t, func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrAssessmentTemplateExists.With("name", at.Name())
		}
		return err
	}, q, at.ID, at.DisplayName, at.Description, questions, at.Revision, at.CreateTime, at.UpdateTime, at.Version)
}

// UpdateAssessmentTemplate replaces the stored template whose version is prevVersion with at.
func (t Tx) UpdateAssessmentTemplate(ctx context.Context, at *domain.AssessmentTemplate, prevVersion int64) error {
	questions, err := sqlstore.JSONList(at.Questions)
	if err != nil {
		return err
	}
	const q = `UPDATE assessment_templates SET display_name = $2, description = $3, questions = $4, revision = $5,
		update_time = $6, version = $7 WHERE id = $1 AND version = $8`
	return sqlstore.Exec(ctx, t, nil, q, at.ID, at.DisplayName, at.Description, questions, at.Revision,
		at.UpdateTime, at.Version, prevVersion)
}

// DeleteAssessmentTemplate removes the template at version. Assessments keep their copy of its
// questions.
func (t Tx) DeleteAssessmentTemplate(ctx context.Context, id string, version int64) error {
	const q = `DELETE FROM assessment_templates WHERE id = $1 AND version = $2`
	return sqlstore.Exec(ctx, t, nil, q, id, version)
}

// assessmentColumns are the columns every assessment query selects, in scanAssessment's order.
const assessmentColumns = `vendor_id, id, template_id, template_revision, questions, assessor, answers, state, score,
	risk_rating, score_breakdown, complete_time, valid_until, vendor_tier, cancel_reason, create_time, update_time, version`

func scanAssessment(s sqlstore.Scanner) (*domain.Assessment, error) {
	var (
		a                         domain.Assessment
		questions, answers, lines string
		completeTime              sql.NullTime
		validUntil                sql.NullString
	)
	err := s.Scan(&a.VendorID, &a.ID, &a.TemplateID, &a.TemplateRevision, &questions, &a.Assessor, &answers, &a.State,
		&a.Score, &a.RiskRating, &lines, &completeTime, &validUntil, &a.VendorTier, &a.CancelReason,
		&a.CreateTime, &a.UpdateTime, &a.Version)
	if err != nil {
		return nil, err
	}
	if a.Questions, err = sqlstore.ListOf[domain.Question](questions); err != nil {
		return nil, fmt.Errorf("assessment %s: %w", a.Name(), err)
	}
	if a.Answers, err = sqlstore.ListOf[domain.Answer](answers); err != nil {
		return nil, fmt.Errorf("assessment %s: %w", a.Name(), err)
	}
	if a.Breakdown, err = sqlstore.ListOf[domain.ScoreLine](lines); err != nil {
		return nil, fmt.Errorf("assessment %s: %w", a.Name(), err)
	}
	a.CompleteTime = sqlstore.TimeOf(completeTime)
	if a.ValidUntil, err = sqlstore.DateOf(validUntil); err != nil {
		return nil, fmt.Errorf("assessment %s: %w", a.Name(), err)
	}
	a.CreateTime, a.UpdateTime = a.CreateTime.UTC(), a.UpdateTime.UTC()
	return &a, nil
}

// AssessmentTable is what ListAssessments can filter and order by.
var AssessmentTable = listing.NewTable("name", []listing.Field[*domain.Assessment]{
	// The name sorts as vendor and ID: the ID alone is unique only within its vendor.
	{Path: "name", Column: "vendor_id || '/assessments/' || id", Type: filter.String,
		Value: assessmentKey, Get: func(a *domain.Assessment) any { return a.VendorID + "/assessments/" + a.ID }},
	{Path: "vendor", Column: "vendor_id", Type: filter.String, Value: listing.NameID("vendor", domain.VendorPattern),
		Get: func(a *domain.Assessment) any { return a.VendorID }},
	{Path: "template", Column: "template_id", Type: filter.String, Value: listing.NameID("template", domain.AssessmentTemplatePattern),
		Get: func(a *domain.Assessment) any { return a.TemplateID }},
	{Path: "state", Column: "state", Type: filter.Enum, Enum: listing.EnumNumbers(vendorsv1.Assessment_State(0).Descriptor())},
	// Ordered LOW < MEDIUM < HIGH < CRITICAL, as their numbers are; unrated (in progress,
	// cancelled) is 0.
	// (A String field whose literal becomes the number: filter.Enum allows only = and !=. Marked
	// Nullable, though it never is, so that it is not offered to order_by.)
	{Path: "risk_rating", Column: "risk_rating", Type: filter.String, Nullable: true, Value: riskRatingNumber},
	{Path: "score", Column: "score", Type: filter.Int, Get: func(a *domain.Assessment) any { return int64(a.Score) }},
	{Path: "valid_until", Column: "valid_until", Type: filter.String, Nullable: true, Sort: "COALESCE(valid_until, '')",
		Get: func(a *domain.Assessment) any { return sqlstore.NullDate(a.ValidUntil).String }},
	{Path: "assessor", Column: "assessor", Type: filter.String, Get: func(a *domain.Assessment) any { return a.Assessor }},
	{Path: "complete_time", Column: "complete_time", Type: filter.Timestamp, Nullable: true},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(a *domain.Assessment) any { return a.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(a *domain.Assessment) any { return a.UpdateTime }},
})

// assessmentKey converts an assessment name in a filter to the stored key vendor/assessments/id.
func assessmentKey(v any) (any, error) {
	var vendor, id string
	if domain.AssessmentPattern.Scan(v.(string), &vendor, &id) {
		return vendor + "/assessments/" + id, nil
	}
	return nil, fmt.Errorf("name must be a name %s", domain.AssessmentPattern)
}

// riskRatingNumber converts a risk rating's name in a filter to its number, so that the ratings
// compare in their order of severity.
func riskRatingNumber(v any) (any, error) {
	if n, ok := vendorsv1.RiskRating_value[fmt.Sprint(v)]; ok && n != 0 {
		return int64(n), nil
	}
	return nil, fmt.Errorf("risk_rating must be LOW, MEDIUM, HIGH or CRITICAL")
}

// GetAssessment returns the vendor's assessment with the ID, or domain.ErrAssessmentNotFound; in
// a transaction it keeps the row from changing until the transaction ends.
func (r reader) GetAssessment(ctx context.Context, vendorID, id string) (*domain.Assessment, error) {
	const q = `SELECT ` + assessmentColumns + ` FROM assessments WHERE vendor_id = $1 AND id = $2`
	return sqlstore.Get(ctx, r.Q, "assessment "+domain.AssessmentName(vendorID, id), domain.ErrAssessmentNotFound,
		scanAssessment, r.ForUpdate(q), vendorID, id)
}

// ListAssessments returns the vendor's assessments that lq selects, in lq's order; a vendorID of
// Wildcard lists those of every vendor.
func (s Store) ListAssessments(ctx context.Context, vendorID string, lq *listing.Query) ([]*domain.Assessment, error) {
	const q = `SELECT ` + assessmentColumns + ` FROM assessments`
	return sqlstore.List(ctx, s.Q, "assessments", scanAssessment, q, lq, sqlstore.Parent{Column: "vendor_id", Value: vendorID})
}

// assessmentArgs are a's columns after vendor_id and id, in assessmentColumns' order.
func assessmentArgs(a *domain.Assessment) ([]any, error) {
	questions, err := sqlstore.JSONList(a.Questions)
	if err != nil {
		return nil, err
	}
	answers, err := sqlstore.JSONList(a.Answers)
	if err != nil {
		return nil, err
	}
	lines, err := sqlstore.JSONList(a.Breakdown)
	if err != nil {
		return nil, err
	}
	return []any{a.TemplateID, a.TemplateRevision, questions, a.Assessor, answers, a.State, a.Score, a.RiskRating,
		lines, sqlstore.NullTime(a.CompleteTime), sqlstore.NullDate(a.ValidUntil), a.VendorTier,
		a.CancelReason, a.CreateTime, a.UpdateTime, a.Version}, nil
}

// InsertAssessment stores a new assessment: domain.ErrAssessmentExists when the vendor has one
// with its ID.
func (t Tx) InsertAssessment(ctx context.Context, a *domain.Assessment) error {
	args, err := assessmentArgs(a)
	if err != nil {
		return err
	}
	const q = `INSERT INTO assessments (` + assessmentColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
		$11, $12, $13, $14, $15, $16, $17, $18)`
	return sqlstore.Exec(ctx, t, func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrAssessmentExists.With("name", a.Name())
		}
		if sqldb.IsForeignKeyViolation(err) {
			return fault.Named(domain.ErrVendorNotFound, a.Vendor())
		}
		return err
	}, q, append([]any{a.VendorID, a.ID}, args...)...)
}

// UpdateAssessment replaces the stored assessment whose version is prevVersion with a.
func (t Tx) UpdateAssessment(ctx context.Context, a *domain.Assessment, prevVersion int64) error {
	args, err := assessmentArgs(a)
	if err != nil {
		return err
	}
	const q = `UPDATE assessments SET template_id = $3, template_revision = $4, questions = $5, assessor = $6,
		answers = $7, state = $8, score = $9, risk_rating = $10, score_breakdown = $11, complete_time = $12,
		valid_until = $13, vendor_tier = $14, cancel_reason = $15, create_time = $16, update_time = $17,
		version = $18 WHERE vendor_id = $1 AND id = $2 AND version = $19`
	return sqlstore.Exec(ctx, t, nil, q, append(append([]any{a.VendorID, a.ID}, args...), prevVersion)...)
}

// AssessmentDueKind is the kind of the due item of a vendor's reassessment, the scheduler
// handler's key.
const AssessmentDueKind = "assessment_due"

// assessmentDueKey names the due item of a vendor's reassessment: one per vendor, about its
// latest completed assessment, so that completing a newer one moves it.
func assessmentDueKey(vendorID string) string {
	return domain.VendorPattern.Format(vendorID) + ":assessment_due"
}

// ScheduleAssessmentDue arms the reassessment of a's vendor for the day after a's valid_until,
// in place of the one of an earlier assessment.
func (t Tx) ScheduleAssessmentDue(ctx context.Context, a *domain.Assessment) error {
	return scheduler.Schedule(ctx, t, scheduler.Item{Key: assessmentDueKey(a.VendorID), Kind: AssessmentDueKind,
		Resource: a.Name(), Due: a.DueTime()})
}

// CancelAssessmentDue removes the vendor's pending reassessment, if it has one: when it is
// offboarded or deleted.
func (t Tx) CancelAssessmentDue(ctx context.Context, vendorID string) error {
	return scheduler.Cancel(ctx, t, assessmentDueKey(vendorID))
}

// AssessmentDue returns the state of the vendor's reassessment item, or scheduler.ErrNotFound.
func (s Store) AssessmentDue(ctx context.Context, vendorID string) (scheduler.State, error) {
	return scheduler.Get(ctx, s.Q, assessmentDueKey(vendorID))
}

// BumpAssessment moves a's version on by one, for an event about a that changes none of its
// fields (its falling due): each event of an aggregate has a higher version than the ones before.
func (t Tx) BumpAssessment(ctx context.Context, a *domain.Assessment) error {
	const q = `UPDATE assessments SET version = version + 1 WHERE vendor_id = $1 AND id = $2 AND version = $3`
	if err := sqlstore.Exec(ctx, t, nil, q, a.VendorID, a.ID, a.Version); err != nil {
		return err
	}
	a.Version++
	return nil
}

// CompletedAssessments returns the vendor's COMPLETED assessments, oldest completion first: what
// the vendor's scorecards read its risk rating at the end of a quarter from.
func (s Store) CompletedAssessments(ctx context.Context, vendorID string) ([]*domain.Assessment, error) {
	const q = `SELECT ` + assessmentColumns + ` FROM assessments WHERE vendor_id = $1 AND state = $2 ORDER BY complete_time, id`
	return sqlstore.All(ctx, s.Q, "completed assessments of vendor "+vendorID, scanAssessment, q, vendorID, domain.AssessmentCompleted)
}
