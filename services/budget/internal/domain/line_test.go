package domain

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func newLine(t *testing.T, f LineFields) *Line {
	t.Helper()
	l, err := NewLine("l1", "b1", f, t0)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var lineOK = LineFields{DisplayName: "Cloud", Category: CategoryCloud, ExpenseType: Opex, PlannedMinor: 1200}

func TestNewLine(t *testing.T) {
	l := newLine(t, lineOK)
	if !slices.Equal(l.Thresholds, []int32{80, 100}) || l.Phasing.Granularity != Monthly || l.Phasing.Amounts[0] != 100 || l.Name() != "budgets/b1/lines/l1" {
		t.Errorf("defaults = %+v", l)
	}
	f := lineOK
	f.Thresholds = []int32{100, 50, 100, 120}
	if l := newLine(t, f); !slices.Equal(l.Thresholds, []int32{50, 100, 120}) {
		t.Errorf("thresholds = %v", l.Thresholds)
	}
	tests := []struct {
		name string
		f    LineFields
		want []string
		err  error
	}{
		{"required", LineFields{}, []string{"budget_line.display_name:REQUIRED", "budget_line.category:REQUIRED", "budget_line.expense_type:REQUIRED"}, nil},
		{"ranges", LineFields{DisplayName: "x", Category: 99, ExpenseType: 3, PlannedMinor: -1, Thresholds: []int32{0},
			Tag: strings.Repeat("t", 101)},
			[]string{"budget_line.category:INVALID", "budget_line.expense_type:INVALID", "budget_line.planned_amount:NEGATIVE", "budget_line.threshold_percents:OUT_OF_RANGE", "budget_line.tag:TOO_LONG"}, nil},
		{"threshold 1001", LineFields{DisplayName: "x", Category: 1, ExpenseType: 1, Thresholds: []int32{1001}},
			[]string{"budget_line.threshold_percents:OUT_OF_RANGE"}, nil},
		{"phasing sum", LineFields{DisplayName: "x", Category: 1, ExpenseType: 1, PlannedMinor: 10,
			Phasing: &Phasing{Quarterly, []int64{1, 2, 3, 5}}}, []string{"budget_line.phasing.amounts:PHASING_SUM_MISMATCH"}, ErrPhasingSumMismatch},
		{"phasing with other errors", LineFields{Category: 1, ExpenseType: 1, PlannedMinor: 10,
			Phasing: &Phasing{Quarterly, []int64{1}}}, []string{"budget_line.display_name:REQUIRED", "budget_line.phasing.amounts:PHASING_LENGTH"}, nil},
	}
	for _, tt := range tests {
		_, err := NewLine("l", "b", tt.f, t0)
		if got := violations(t, err); !slices.Equal(got, tt.want) {
			t.Errorf("%s: violations = %v, want %v", tt.name, got, tt.want)
		}
		if tt.err != nil && !errors.Is(err, tt.err) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.err)
		}
	}
}

func TestLineApply(t *testing.T) {
	l := newLine(t, LineFields{DisplayName: "Cloud", Category: CategoryCloud, ExpenseType: Opex, PlannedMinor: 400,
		Phasing: &Phasing{Quarterly, []int64{400, 0, 0, 0}}})
	// Planned alone re-phases evenly in the line's granularity.
	changed, err := l.Apply([]string{"planned_amount"}, LineFields{PlannedMinor: 402}, t0)
	if err != nil || !slices.Equal(changed, []string{"planned_amount", "phasing"}) || !slices.Equal(l.Phasing.Amounts, []int64{101, 101, 100, 100}) || l.Version != 2 {
		t.Errorf("Apply planned = %v %v %+v", changed, err, l)
	}
	// Phasing alone must sum to the current planned.
	if _, err := l.Apply([]string{"phasing"}, LineFields{Phasing: &Phasing{Quarterly, []int64{1, 1, 1, 1}}}, t0); !errors.Is(err, ErrPhasingSumMismatch) {
		t.Errorf("phasing alone = %v", err)
	}
	changed, err = l.Apply([]string{"planned_amount", "phasing"}, LineFields{PlannedMinor: 12, Phasing: &Phasing{Monthly, []int64{12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}}, t0)
	if err != nil || len(changed) != 2 || l.PlannedMinor != 12 || l.Phasing.Granularity != Monthly {
		t.Errorf("Apply both = %v %v %+v", changed, err, l)
	}
	if changed, err := l.Apply([]string{"tag"}, LineFields{}, t0); err != nil || changed != nil || l.Version != 3 {
		t.Errorf("no-op = %v %v", changed, err)
	}
}

func TestCheckEditableAndCopy(t *testing.T) {
	if err := CheckEditable(draft(t)); err != nil {
		t.Error(err)
	}
	if err := CheckEditable(approved(t)); !errors.Is(err, ErrBudgetNotDraft) {
		t.Errorf("approved editable: %v", err)
	}
	l := newLine(t, lineOK)
	cp := CopyLines([]*Line{l}, "b2", t0)
	cp[0].Phasing.Amounts[0] = 7
	if cp[0].ID != "l1" || cp[0].BudgetID != "b2" || l.Phasing.Amounts[0] != 100 {
		t.Errorf("copy = %+v", cp[0])
	}
	if err := l.CheckDeletable(true); !errors.Is(err, ErrLineHasSpend) {
		t.Error(err)
	}
}
