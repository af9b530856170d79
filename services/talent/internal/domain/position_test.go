package domain

import (
	"errors"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

var t0 = time.Date(2026, 9, 15, 12, 0, 0, 0, time.UTC)

func growth() PositionFields {
	return PositionFields{TeamID: "platform", Title: "SRE", Level: "L4", RequiredSkills: []string{"go", "k8s"},
		AnnualCost: money.Amount{Minor: 12_000_000, Currency: "USD"}, TargetStart: civil.Date{Year: 2026, Month: 10, Day: 1},
		Reason: ReasonGrowth}
}

// violations is the field → reason map of err's violations.
func violations(t *testing.T, err error) map[string]string {
	t.Helper()
	f := fault.As(err)
	if f == nil || f.Kind != fault.InvalidArgument {
		t.Fatalf("err = %v; want INVALID_ARGUMENT", err)
	}
	out := map[string]string{}
	for _, v := range f.Violations {
		out[v.Field] = v.Reason
	}
	return out
}

func TestNewPositionValidates(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*PositionFields)
		field  string
		reason string
	}{
		{"no title", func(f *PositionFields) { f.Title = "  " }, FieldTitle, "REQUIRED"},
		{"no cost", func(f *PositionFields) { f.AnnualCost = money.Amount{} }, FieldAnnualCost, "REQUIRED"},
		{"zero cost", func(f *PositionFields) { f.AnnualCost.Minor = 0 }, FieldAnnualCost, "AMOUNT_NOT_POSITIVE"},
		{"unknown currency", func(f *PositionFields) { f.AnnualCost.Currency = "XXX" }, FieldAnnualCost, "CURRENCY_UNSUPPORTED"},
		{"no start", func(f *PositionFields) { f.TargetStart = civil.Date{} }, FieldTargetStartDate, "REQUIRED"},
		{"bad start", func(f *PositionFields) { f.TargetStart = civil.Date{Year: 2026, Month: 2, Day: 30} }, FieldTargetStartDate, "INVALID_DATE"},
		{"no reason", func(f *PositionFields) { f.Reason = 0 }, FieldReason, "REQUIRED"},
		{"backfill of nobody", func(f *PositionFields) { f.Reason = ReasonBackfill }, FieldBackfillOf, "REQUIRED"},
		{"growth backfilling", func(f *PositionFields) { f.BackfillOf = "ana" }, FieldBackfillOf, "NOT_A_BACKFILL"},
		{"skill twice", func(f *PositionFields) { f.RequiredSkills = []string{"go", "go"} }, FieldRequiredSkills, "DUPLICATE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := growth()
			tc.change(&f)
			_, err := NewPosition("p", f, t0)
			if got := violations(t, err)[tc.field]; got != tc.reason {
				t.Fatalf("violation on %s = %q; want %q (%v)", tc.field, got, tc.reason, err)
			}
		})
	}
}

func TestPositionLifecycle(t *testing.T) {
	p, err := NewPosition("p", growth(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Offer(t0); !errors.Is(err, ErrPositionInvalidTransition) {
		t.Fatalf("offer of a draft: %v", err)
	}
	if err := p.Submit("principals/ana", t0); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Apply([]string{FieldTitle}, PositionFields{Title: "x"}, t0); !errors.Is(err, ErrPositionInvalidTransition) {
		t.Fatalf("update when pending: %v", err)
	}
	if err := p.Approve("principals/ana", "budgets/b/lines/l", "h", t0); !errors.Is(err, ErrApproverIsRequester) {
		t.Fatalf("self-approval: %v", err)
	}
	if err := p.Reject("principals/bo", t0); err != nil || p.State != PositionDraft {
		t.Fatalf("reject: %v, %v", err, p.State)
	}
	if err := p.Submit("principals/ana", t0); err != nil {
		t.Fatal(err)
	}
	if err := p.Approve("principals/bo", "budgets/b/lines/l", "budgets/b/lines/l/holds/h", t0); err != nil {
		t.Fatal(err)
	}
	if p.State != PositionOpen || p.Approver != "principals/bo" || p.BudgetLine != "budgets/b/lines/l" || !p.OpenTime.Equal(t0) {
		t.Fatalf("approved position = %+v", p)
	}
	if l, ok := HoldLine(p.Hold); !ok || l != p.BudgetLine {
		t.Fatalf("line of hold %s = %q, %v", p.Hold, l, ok)
	}
	if from, to := LabourYear(civil.Date{Year: 2027, Month: 2, Day: 1}); from.String() != "2027-02-01" || to.String() != "2028-01-31" {
		t.Fatalf("labour year = %s to %s", from, to)
	}
	if err := p.CheckDeletable(); !errors.Is(err, ErrPositionInvalidTransition) {
		t.Fatalf("delete of an open position: %v", err)
	}
	if err := p.Offer(t0.Add(24 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	// Opened the 15th at noon, filled the 25th early: 10 days by date.
	if err := p.Fill("carla", civil.Date{Year: 2026, Month: 11, Day: 2}, time.Date(2026, 9, 25, 1, 0, 0, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	if p.State != PositionFilled || p.PersonID != "carla" || p.TimeToFillDays != 10 || p.StartDate.String() != "2026-11-02" {
		t.Fatalf("filled position = %+v", p)
	}
	if err := p.Cancel("late", t0); !errors.Is(err, ErrPositionInvalidTransition) {
		t.Fatalf("cancel of a filled position: %v", err)
	}
	if p.Version != 8 {
		t.Fatalf("version = %d; want 8 (one per change, two for the approval)", p.Version)
	}
}

func TestPositionCancel(t *testing.T) {
	p, _ := NewPosition("p", growth(), t0)
	if err := p.Cancel(" ", t0); violations(t, err)["reason"] != "REQUIRED" {
		t.Fatalf("cancel without a reason: %v", err)
	}
	if err := p.Cancel("not needed", t0); err != nil || p.State != PositionCancelled || p.State.Approved() {
		t.Fatalf("cancel: %v, %v", err, p.State)
	}
	if err := p.Cancel("again", t0); !errors.Is(err, ErrPositionInvalidTransition) {
		t.Fatalf("second cancel: %v", err)
	}
}
