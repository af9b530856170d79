package domain

import (
	"slices"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// Limits of line fields.
const (
	maxTag           = 100
	maxThresholds    = 10
	minThreshold     = 1
	maxThreshold     = 1000
	defaultThreshold = 80
)

// DefaultThresholds are the alert levels of a line that names none.
var DefaultThresholds = []int32{defaultThreshold, 100}

// The line's client-writable fields, by their API names.
const (
	FieldLineDisplayName = "display_name"
	FieldLineCategory    = "category"
	FieldLineExpenseType = "expense_type"
	FieldLinePlanned     = "planned_amount"
	FieldLinePhasing     = "phasing"
	FieldLineThresholds  = "threshold_percents"
	FieldLineTag         = "tag"
	FieldLineDescription = "description"
)

// LineWritableFields lists the fields an update may change.
var LineWritableFields = []string{FieldLineDisplayName, FieldLineCategory, FieldLineExpenseType, FieldLinePlanned,
	FieldLinePhasing, FieldLineThresholds, FieldLineTag, FieldLineDescription}

// LineFields are the client-writable fields of a line. PlannedMinor is in minor units of the
// budget currency (BudgetAmount converts API money); a nil Phasing means an even monthly split.
type LineFields struct {
	DisplayName  string
	Category     Category
	ExpenseType  ExpenseType
	PlannedMinor int64
	Phasing      *Phasing
	Thresholds   []int32
	Tag          string
	Description  string
}

// CheckEditable allows creating, changing or deleting lines only while the budget is a DRAFT.
func CheckEditable(b *Budget) error {
	if b.State != StateDraft {
		return ErrBudgetNotDraft.With("budget", b.Name()).With("state", b.State.String()).
			Withf("lines can change only while the budget is a draft; it is %s", b.State)
	}
	return nil
}

// NewLine returns a line of budget budgetID created at now. Thresholds are sorted and
// deduplicated, defaulting to 80 and 100; a missing phasing is an even monthly split.
func NewLine(id, budgetID string, fields LineFields, now time.Time) (*Line, error) {
	now = now.UTC().Truncate(time.Microsecond)
	l := &Line{
		ID: id, BudgetID: budgetID, DisplayName: strings.TrimSpace(fields.DisplayName),
		Category: fields.Category, ExpenseType: fields.ExpenseType, PlannedMinor: fields.PlannedMinor,
		Thresholds: normalizeThresholds(fields.Thresholds), Tag: strings.TrimSpace(fields.Tag),
		Description: fields.Description, CreateTime: now, UpdateTime: now, Version: 1,
	}
	if fields.Phasing != nil {
		l.Phasing = fields.Phasing.Clone()
	} else if l.PlannedMinor >= 0 {
		l.Phasing = EvenPhasing(l.PlannedMinor)
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	return l, nil
}

// normalizeThresholds sorts and deduplicates; none means the defaults.
func normalizeThresholds(ts []int32) []int32 {
	if len(ts) == 0 {
		return slices.Clone(DefaultThresholds)
	}
	out := slices.Clone(ts)
	slices.Sort(out)
	return slices.Compact(out)
}

// Validate checks the line's fields; every broken rule is a violation of its request field.
func (l *Line) Validate() error {
	var vs fault.Violations
	requireText(&vs, "budget_line.display_name", l.DisplayName, maxDisplayName)
	switch {
	case l.Category == 0:
		vs.Add("budget_line.category", "REQUIRED", "category is required")
	case l.Category < CategoryHardware || l.Category > CategoryOther:
		vs.Add("budget_line.category", "INVALID", "category is not a known category")
	}
	switch {
	case l.ExpenseType == 0:
		vs.Add("budget_line.expense_type", "REQUIRED", "expense_type is required")
	case l.ExpenseType != Capex && l.ExpenseType != Opex:
		vs.Add("budget_line.expense_type", "INVALID", "expense_type must be CAPEX or OPEX")
	}
	if l.PlannedMinor < 0 {
		vs.Add("budget_line.planned_amount", "NEGATIVE", "planned must not be negative")
	} else if err := l.Phasing.Validate(l.PlannedMinor); err != nil {
		vs = append(vs, fault.As(err).Violations...) // Validate fails with faults only
	}
	if len(l.Thresholds) > maxThresholds {
		vs.Add("budget_line.threshold_percents", "TOO_MANY", "at most 10 thresholds")
	}
	for _, t := range l.Thresholds {
		if t < minThreshold || t > maxThreshold {
			vs.Add("budget_line.threshold_percents", "OUT_OF_RANGE", "thresholds must be between 1 and 1000 percent")
			break
		}
	}
	if !slices.IsSorted(l.Thresholds) || len(slices.Compact(slices.Clone(l.Thresholds))) != len(l.Thresholds) {
		vs.Add("budget_line.threshold_percents", "NOT_ASCENDING", "thresholds must be strictly ascending")
	}
	limitText(&vs, "budget_line.tag", l.Tag, maxTag)
	limitText(&vs, "budget_line.description", l.Description, maxDescription)
	if len(vs) == 1 && vs[0].Field == FieldPhasingAmounts {
		// A lone phasing problem keeps its specific reason (PHASING_SUM_MISMATCH …) as the
		// error's reason, so clients can branch on it without reading the violations.
		return l.Phasing.Validate(l.PlannedMinor)
	}
	return vs.Err()
}

// Apply sets the fields named in paths and reports which changed; the version increments when
// something changed. Planned and phasing must stay consistent: changing planned without phasing
// re-phases the new amount evenly in the line's granularity (the old shape cannot be scaled
// exactly); a phasing given alone must sum to the current planned amount; clearing the phasing
// (path given, nil value) means an even monthly split.
func (l *Line) Apply(paths []string, fields LineFields, now time.Time) (changed []string, err error) {
	next := *l
	next.Thresholds = slices.Clone(l.Thresholds)
	for _, p := range paths {
		switch p {
		case FieldLineDisplayName:
			next.DisplayName = strings.TrimSpace(fields.DisplayName)
		case FieldLineCategory:
			next.Category = fields.Category
		case FieldLineExpenseType:
			next.ExpenseType = fields.ExpenseType
		case FieldLinePlanned:
			next.PlannedMinor = fields.PlannedMinor
		case FieldLineThresholds:
			next.Thresholds = normalizeThresholds(fields.Thresholds)
		case FieldLineTag:
			next.Tag = strings.TrimSpace(fields.Tag)
		case FieldLineDescription:
			next.Description = fields.Description
		}
	}
	switch {
	case slices.Contains(paths, FieldLinePhasing) && fields.Phasing != nil:
		next.Phasing = fields.Phasing.Clone()
	case slices.Contains(paths, FieldLinePhasing):
		next.Phasing = EvenPhasing(max(next.PlannedMinor, 0))
	case next.PlannedMinor != l.PlannedMinor:
		next.Phasing = evenPhasingLike(l.Phasing.Granularity, max(next.PlannedMinor, 0))
	default:
		next.Phasing = l.Phasing.Clone()
	}
	if err := next.Validate(); err != nil {
		return nil, err
	}
	changed = changedFields(paths, LineWritableFields, func(f string) bool { return next.differs(l, f) })
	if next.PlannedMinor != l.PlannedMinor && !slices.Contains(changed, FieldLinePhasing) && next.differs(l, FieldLinePhasing) {
		changed = append(changed, FieldLinePhasing)
	}
	if len(changed) == 0 {
		return nil, nil
	}
	next.Version++
	next.UpdateTime = now.UTC().Truncate(time.Microsecond)
	*l = next
	return changed, nil
}

func (l *Line) differs(o *Line, field string) bool {
	switch field {
	case FieldLineDisplayName:
		return l.DisplayName != o.DisplayName
	case FieldLineCategory:
		return l.Category != o.Category
	case FieldLineExpenseType:
		return l.ExpenseType != o.ExpenseType
	case FieldLinePlanned:
		return l.PlannedMinor != o.PlannedMinor
	case FieldLinePhasing:
		return l.Phasing.Granularity != o.Phasing.Granularity || !slices.Equal(l.Phasing.Amounts, o.Phasing.Amounts)
	case FieldLineThresholds:
		return !slices.Equal(l.Thresholds, o.Thresholds)
	case FieldLineTag:
		return l.Tag != o.Tag
	case FieldLineDescription:
		return l.Description != o.Description
	}
	return false
}

// CopyLines returns copies of a revision's lines for its new revision newBudgetID: same IDs and
// plan, version 1, created at now.
func CopyLines(lines []*Line, newBudgetID string, now time.Time) []*Line {
	now = now.UTC().Truncate(time.Microsecond)
	out := make([]*Line, len(lines))
	for i, l := range lines {
		c := *l
		c.BudgetID = newBudgetID
		c.Phasing = l.Phasing.Clone()
		c.Thresholds = slices.Clone(l.Thresholds)
		c.CreateTime, c.UpdateTime, c.Version = now, now, 1
		out[i] = &c
	}
	return out
}

// CheckDeletable refuses deleting a line that has spend on its chain.
func (l *Line) CheckDeletable(hasSpend bool) error {
	if hasSpend {
		return ErrLineHasSpend.With("line", l.Name())
	}
	return nil
}

// BudgetAmount converts an API amount of a budget's own (a planned amount, a phasing amount, a
// transfer amount) to minor units of the budget currency: an empty code means the budget
// currency, any other currency is CURRENCY_MISMATCH. Errors name field.
func BudgetAmount(units int64, nanos int32, code string, budget Currency, field string) (int64, error) {
	if code != "" && Currency(code) != budget {
		return 0, ErrCurrencyMismatch.With("currency", code).With("budget_currency", string(budget)).OnField(field,
			"the amount must be in the budget currency "+string(budget))
	}
	a, err := money.FromParts(units, nanos, code, budget)
	if err != nil {
		return 0, fault.OnField(err, field)
	}
	return a.Minor, nil
}
