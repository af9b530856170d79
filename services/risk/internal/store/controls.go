package store

import (
	"context"
	"database/sql"
	"fmt"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

// controlColumns are the columns every control query selects, in scanControl's order.
const controlColumns = `id, title, description, owner, type, test_frequency, requirements, last_result,
	last_test_date, next_test_date, create_time, update_time, version`

func scanControl(s sqlstore.Scanner) (*domain.Control, error) {
	var (
		c            domain.Control
		requirements string
		last         sql.NullString
		next         string
	)
	err := s.Scan(&c.ID, &c.Title, &c.Description, &c.Owner, &c.Type, &c.Frequency, &requirements, &c.LastResult,
		&last, &next, &c.CreateTime, &c.UpdateTime, &c.Version)
	if err != nil {
		return nil, err
	}
	if c.Requirements, err = sqlstore.ListOf[string](requirements); err != nil {
		return nil, fmt.Errorf("stored requirements of control %s: %w", c.ID, err)
	}
	if c.LastTestDate, err = sqlstore.DateOf(last); err != nil {
		return nil, fmt.Errorf("stored last test date of control %s: %w", c.ID, err)
	}
	if c.NextTestDate, err = civil.ParseDate(next); err != nil {
		return nil, fmt.Errorf("stored next test date of control %s: %w", c.ID, err)
	}
	c.CreateTime, c.UpdateTime = c.CreateTime.UTC(), c.UpdateTime.UTC()
	return &c, nil
}

func controlArgs(c *domain.Control) ([]any, error) {
	requirements, err := sqlstore.JSONList(c.Requirements)
	if err != nil {
		return nil, err
	}
	return []any{c.ID, c.Title, c.Description, c.Owner, c.Type, c.Frequency, requirements, c.LastResult,
		sqlstore.NullDate(c.LastTestDate), c.NextTestDate.String(), c.CreateTime, c.UpdateTime, c.Version}, nil
}

// controlTestDueColumn is the SQL of whether a control's test is due on today (see
// domain.Control.TestDue). The date is the service's, never a client's text.
func controlTestDueColumn(today civil.Date) string {
	return fmt.Sprintf("(next_test_date <= '%s')", today)
}

// ControlTable is what ListControls can filter and order by on today (whether a test is due
// depends on the day).
func ControlTable(today civil.Date) *listing.Table[*domain.Control] {
	return listing.NewTable("name", []listing.Field[*domain.Control]{
		{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.ControlPattern),
			Get: func(c *domain.Control) any { return c.ID }},
		{Path: "title", Column: "title", Type: filter.String, Get: func(c *domain.Control) any { return c.Title }},
		{Path: "owner", Column: "owner", Type: filter.String, Get: func(c *domain.Control) any { return c.Owner }},
		{Path: "type", Column: "type", Type: filter.Enum, Enum: listing.EnumNumbers(riskv1.ControlType_CONTROL_TYPE_UNSPECIFIED.Descriptor())},
		{Path: "test_frequency", Column: "test_frequency", Type: filter.Enum,
			Enum: listing.EnumNumbers(riskv1.TestFrequency_TEST_FREQUENCY_UNSPECIFIED.Descriptor())},
		{Path: "last_result", Column: "last_result", Type: filter.Enum,
			Enum: withZero(listing.EnumNumbers(riskv1.ControlTestResult_CONTROL_TEST_RESULT_UNSPECIFIED.Descriptor()), "CONTROL_TEST_RESULT_UNSPECIFIED")},
		{Path: "last_test_date", Column: "last_test_date", Type: filter.String, Nullable: true},
		{Path: "next_test_date", Column: "next_test_date", Type: filter.String, Get: func(c *domain.Control) any { return c.NextTestDate.String() }},
		{Path: "test_due", Column: controlTestDueColumn(today), Type: filter.Bool, Get: func(c *domain.Control) any { return c.TestDue(today) }},
		{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(c *domain.Control) any { return c.CreateTime }},
		{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(c *domain.Control) any { return c.UpdateTime }},
	})
}

// GetControl returns the control with the ID and the risks it mitigates, or
// domain.ErrControlNotFound naming it; in a transaction it keeps the row from changing until the
// transaction ends.
func (r reader) GetControl(ctx context.Context, id string) (*domain.Control, error) {
	const q = `SELECT ` + controlColumns + ` FROM controls WHERE id = $1`
	c, err := sqlstore.Get(ctx, r.Q, "control "+id, domain.ErrControlNotFound, scanControl, r.ForUpdate(q), id)
	if err != nil {
		return nil, fault.Named(err, domain.ControlName(id))
	}
	return c, r.controlRisks(ctx, c)
}

// ListControls returns the controls lq selects, in lq's order (see ControlTable), with the risks
// each mitigates.
func (s Store) ListControls(ctx context.Context, lq *listing.Query) ([]*domain.Control, error) {
	const q = `SELECT ` + controlColumns + ` FROM controls`
	cs, err := sqlstore.List(ctx, s.Q, "controls", scanControl, q, lq)
	if err != nil {
		return nil, err
	}
	return cs, s.controlRisks(ctx, cs...)
}

// controlRisks fills the risks of each of cs: the risks whose controls name it, from the
// register's links, by name.
func (r reader) controlRisks(ctx context.Context, cs ...*domain.Control) error {
	if len(cs) == 0 {
		return nil
	}
	byName := map[string]*domain.Control{}
	args := []any{linkControl}
	for _, c := range cs {
		c.Risks = nil
		byName[c.Name()] = c
		args = append(args, c.Name())
	}
	q := `SELECT target, risk_id FROM risk_links WHERE kind = $1 AND target IN (` + sqlstore.Placeholders(2, len(cs)) + `)
		ORDER BY risk_id`
	type link struct{ control, risk string }
	links, err := sqlstore.All(ctx, r.Q, "risks of controls", func(s sqlstore.Scanner) (link, error) {
		var l link
		return l, s.Scan(&l.control, &l.risk)
	}, q, args...)
	if err != nil {
		return err
	}
	for _, l := range links {
		c := byName[l.control]
		c.Risks = append(c.Risks, domain.RiskName(l.risk))
	}
	return nil
}

func controlError(c *domain.Control) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrControlExists.With("name", c.Name())
		}
		return fmt.Errorf("write control %s: %w", c.ID, err)
	}
}

// InsertControl stores a new control with its requirements and declares its next test:
// domain.ErrControlExists when the ID is taken.
func (t Tx) InsertControl(ctx context.Context, c *domain.Control) error {
	args, err := controlArgs(c)
	if err != nil {
		return err
	}
	q := `INSERT INTO controls (` + controlColumns + `) VALUES (` + sqlstore.Placeholders(1, len(args)) + `)`
	if err := sqlstore.Exec(ctx, t, controlError(c), q, args...); err != nil {
		return err
	}
	return t.writeControlLinks(ctx, c)
}

// UpdateControl replaces the stored control whose version is prevVersion with c, its
// requirements with c's, and moves its next test with it.
func (t Tx) UpdateControl(ctx context.Context, c *domain.Control, prevVersion int64) error {
	args, err := controlArgs(c)
	if err != nil {
		return err
	}
	const q = `UPDATE controls SET title = $2, description = $3, owner = $4, type = $5, test_frequency = $6,
		requirements = $7, last_result = $8, last_test_date = $9, next_test_date = $10, create_time = $11,
		update_time = $12, version = $13 WHERE id = $1 AND version = $14`
	if err := sqlstore.Exec(ctx, t, controlError(c), q, append(args, prevVersion)...); err != nil {
		return err
	}
	const del = `DELETE FROM control_requirements WHERE control_id = $1`
	if _, err := t.ExecContext(ctx, del, c.ID); err != nil {
		return fmt.Errorf("requirements of control %s: %w", c.ID, err)
	}
	return t.writeControlLinks(ctx, c)
}

// writeControlLinks writes a row per requirement of c and declares its next test.
func (t Tx) writeControlLinks(ctx context.Context, c *domain.Control) error {
	const q = `INSERT INTO control_requirements (control_id, framework_id, requirement_id) VALUES ($1, $2, $3)`
	for _, name := range c.Requirements {
		var f, id string
		domain.RequirementPattern.Scan(name, &f, &id)
		if _, err := t.ExecContext(ctx, q, c.ID, f, id); err != nil {
			return fmt.Errorf("requirement %s of control %s: %w", name, c.ID, err)
		}
	}
	return scheduler.Schedule(ctx, t, scheduler.Item{Key: controlTestDueKey(c.Name()), Kind: ControlTestDueKind,
		Resource: c.Name(), Due: c.TestDueAt()})
}

// DeleteControl deletes the control whose version is version with its tests and requirements,
// and cancels its next test.
func (t Tx) DeleteControl(ctx context.Context, c *domain.Control) error {
	const q = `DELETE FROM controls WHERE id = $1 AND version = $2`
	if err := sqlstore.Exec(ctx, t, nil, q, c.ID, c.Version); err != nil {
		return err
	}
	return scheduler.Cancel(ctx, t, controlTestDueKey(c.Name()))
}

// ControlTestDueKind is the kind of the due item of a control's next test, the scheduler
// handler's key.
const ControlTestDueKind = "control_test_due"

// controlTestDueKey names the test-due item of the control named name.
func controlTestDueKey(name string) string { return name + ":test_due" }

// testColumns are the columns every control test query selects, in scanTest's order.
const testColumns = `control_id, id, test_date, result, evidence_links, notes, tester, raised_risks, create_time`

func scanTest(s sqlstore.Scanner) (*domain.ControlTest, error) {
	var (
		t               domain.ControlTest
		date            string
		evidence, risen string
	)
	if err := s.Scan(&t.ControlID, &t.ID, &date, &t.Result, &evidence, &t.Notes, &t.Tester, &risen, &t.CreateTime); err != nil {
		return nil, err
	}
	var err error
	if t.Date, err = civil.ParseDate(date); err != nil {
		return nil, fmt.Errorf("stored test date %q: %w", date, err)
	}
	if t.EvidenceLinks, err = sqlstore.ListOf[string](evidence); err != nil {
		return nil, err
	}
	if t.RaisedRisks, err = sqlstore.ListOf[string](risen); err != nil {
		return nil, err
	}
	t.CreateTime = t.CreateTime.UTC()
	return &t, nil
}

// TestTable is what ListControlTests can filter and order by.
var TestTable = listing.NewTable("name", []listing.Field[*domain.ControlTest]{
	// Names span two columns: the key orders by the control, then the test.
	{Path: "name", Column: "control_id || '/' || id", Type: filter.String,
		Value: func(v any) (any, error) {
			var c, id string
			if !domain.ControlTestPattern.ScanResource(v.(string), &c, &id) {
				return nil, fmt.Errorf("name must be a name %s", domain.ControlTestPattern)
			}
			return c + "/" + id, nil
		},
		Get: func(t *domain.ControlTest) any { return t.ControlID + "/" + t.ID }},
	{Path: "control", Column: "control_id", Type: filter.String, Value: listing.NameID("control", domain.ControlPattern),
		Get: func(t *domain.ControlTest) any { return t.ControlID }},
	{Path: "test_date", Column: "test_date", Type: filter.String, Get: func(t *domain.ControlTest) any { return t.Date.String() }},
	{Path: "result", Column: "result", Type: filter.Enum,
		Enum: listing.EnumNumbers(riskv1.ControlTestResult_CONTROL_TEST_RESULT_UNSPECIFIED.Descriptor())},
	{Path: "tester", Column: "tester", Type: filter.String, Get: func(t *domain.ControlTest) any { return t.Tester }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(t *domain.ControlTest) any { return t.CreateTime }},
})

// GetControlTest returns test id of control controlID, or domain.ErrControlTestNotFound naming it.
func (r reader) GetControlTest(ctx context.Context, controlID, id string) (*domain.ControlTest, error) {
	const q = `SELECT ` + testColumns + ` FROM control_tests WHERE control_id = $1 AND id = $2`
	t, err := sqlstore.Get(ctx, r.Q, "control test "+controlID+"/"+id, domain.ErrControlTestNotFound, scanTest, q, controlID, id)
	return t, fault.Named(err, domain.ControlTestName(controlID, id))
}

// ListControlTests returns the tests of control controlID (Wildcard: of every control) that lq
// selects, in lq's order (see TestTable).
func (s Store) ListControlTests(ctx context.Context, controlID string, lq *listing.Query) ([]*domain.ControlTest, error) {
	const q = `SELECT ` + testColumns + ` FROM control_tests`
	return sqlstore.List(ctx, s.Q, "control tests", scanTest, q, lq, sqlstore.Parent{Column: "control_id", Value: controlID})
}

// InsertControlTest stores a new test: domain.ErrControlTestExists when the ID is taken.
func (t Tx) InsertControlTest(ctx context.Context, ct *domain.ControlTest) error {
	evidence, err := sqlstore.JSONList(ct.EvidenceLinks)
	if err != nil {
		return err
	}
	risen, err := sqlstore.JSONList(ct.RaisedRisks)
	if err != nil {
		return err
	}
	const q = `INSERT INTO control_tests (` + testColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	return sqlstore.Exec(ctx, t, func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrControlTestExists.With("name", ct.Name())
		}
		return fmt.Errorf("write control test %s: %w", ct.Name(), err)
	}, q, ct.ControlID, ct.ID, ct.Date.String(), ct.Result, evidence, ct.Notes, ct.Tester, risen, ct.CreateTime)
}
