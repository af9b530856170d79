package domain

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func draft(t *testing.T) *Budget {
	t.Helper()
	b, err := NewBudget("b1", "cc1", 2027, time.April, "EUR", BudgetFields{DisplayName: " Infra 2027 "}, t0)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func approved(t *testing.T) *Budget {
	t.Helper()
	b := draft(t)
	if err := b.Submit("ana", 1, t0); err != nil {
		t.Fatal(err)
	}
	if err := b.Approve("bob", t0); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestNewBudget(t *testing.T) {
	b := draft(t)
	if b.DisplayName != "Infra 2027" || b.Policy != PolicyWarn || b.State != StateDraft || b.Revision != 1 ||
		b.ChainID != "b1" || b.Version != 1 || b.StartMonth != time.April || b.Name() != "budgets/b1" {
		t.Errorf("budget = %+v", b)
	}
	if c := NewChain(b); c.ID != "b1" || c.OpenID != "b1" || c.InForceID != "" {
		t.Errorf("chain = %+v", c)
	}
	_, err := NewBudget("b", "cc", 1999, 13, "XYZ", BudgetFields{Owner: strings.Repeat("o", 257),
		Description: strings.Repeat("d", 2001), Policy: 7}, t0)
	want := []string{"budget.display_name:REQUIRED", "budget.owner:TOO_LONG", "budget.description:TOO_LONG",
		"budget.fiscal_year:OUT_OF_RANGE", "budget.currency_code:CURRENCY_UNSUPPORTED", "budget.overspend_policy:INVALID",
		"budget.start_month:OUT_OF_RANGE"}
	if got := violations(t, err); !slices.Equal(got, want) {
		t.Errorf("violations = %v", got)
	}
	if _, err := NewBudget("b", "cc", 2100, 1, "JPY", BudgetFields{DisplayName: strings.Repeat("é", 200), Policy: PolicyBlock}, t0); err != nil {
		t.Errorf("limits: %v", err)
	}
}

func TestBudgetLifecycle(t *testing.T) {
	b := draft(t)
	if err := b.Submit("ana", 0, t0); !errors.Is(err, ErrBudgetHasNoLines) {
		t.Errorf("Submit without lines = %v", err)
	}
	err := b.Approve("bob", t0)
	if fe := asFault(err); !errors.Is(err, ErrInvalidTransition) || fe.Metadata["state"] != "DRAFT" || fe.Metadata["transition"] != "approve" {
		t.Errorf("Approve draft = %+v", fe)
	}
	if err := b.Submit("ana", 2, t0); err != nil || b.State != StateSubmitted || b.Version != 2 || b.Submitter != "ana" {
		t.Fatalf("Submit = %v %+v", err, b)
	}
	if err := b.Approve("ana", t0); !errors.Is(err, ErrSelfApproval) {
		t.Errorf("self approval = %v", err)
	}
	if err := b.Reject("ana", "no", t0); !errors.Is(err, ErrSelfApproval) {
		t.Errorf("self rejection = %v", err)
	}
	if err := b.Reject("bob", "  ", t0); violations(t, err)[0] != "reason:REQUIRED" {
		t.Errorf("reject without reason = %v", err)
	}
	if err := b.Approve("bob", t0); err != nil || b.State != StateApproved || b.Decider != "bob" || b.Version != 3 {
		t.Fatalf("Approve = %v %+v", err, b)
	}
	if err := b.CheckSpendable(); err != nil {
		t.Errorf("approved not spendable: %v", err)
	}

	r2, err := b.Revise("b2", "", 1, t0)
	if err != nil || r2.Revision != 2 || r2.ChainID != "b1" || r2.PreviousID != "b1" || r2.State != StateDraft || b.State != StateApproved {
		t.Fatalf("Revise = %v %+v", err, r2)
	}
	if _, err := b.Revise("b3", "b2", 2, t0); !errors.Is(err, ErrRevisionInProgress) {
		t.Errorf("second revision = %v", err)
	}
	if err := r2.CheckSpendable(); !errors.Is(err, ErrBudgetNotApproved) {
		t.Errorf("draft spendable: %v", err)
	}
	if err := b.Supersede("b2", t0); err != nil || b.State != StateSuperseded {
		t.Fatal(err)
	}
	err = b.CheckSpendable()
	if fe := asFault(err); !errors.Is(err, ErrBudgetSuperseded) || fe.Metadata["superseded_by"] != "budgets/b2" {
		t.Errorf("superseded = %+v", fe)
	}
	if err := b.Close("bob", "", t0); !errors.Is(err, ErrInvalidTransition) {
		t.Errorf("close superseded = %v", err)
	}

	c := approved(t)
	err = c.Close("bob", "b9", t0)
	if fe := asFault(err); !errors.Is(err, ErrRevisionInProgress) || fe.Metadata["open_revision"] != "budgets/b9" || c.State != StateApproved {
		t.Errorf("close with an open revision = %+v", fe)
	}
	if err := c.Close("bob", "", t0); err != nil || c.State != StateClosed {
		t.Fatal(err)
	}
	if err := c.CheckSpendable(); !errors.Is(err, ErrBudgetClosed) {
		t.Errorf("closed = %v", err)
	}
	if _, err := c.Revise("x", "", 1, t0); !errors.Is(err, ErrInvalidTransition) {
		t.Errorf("revise closed = %v", err)
	}
	// Revising an older revision after a later one was rejected takes the next free number.
	d := approved(t)
	if r, err := d.Revise("b4", "", 3, t0); err != nil || r.Revision != 4 {
		t.Errorf("revision number = %v %v", r, err)
	}
}

func TestBudgetApply(t *testing.T) {
	b := draft(t)
	changed, err := b.Apply([]string{"display_name", "overspend_policy", "owner"},
		BudgetFields{DisplayName: "Infra 2027", Owner: "ana", Policy: PolicyBlock}, t0)
	if err != nil || !slices.Equal(changed, []string{"owner", "overspend_policy"}) || b.Version != 2 || b.Policy != PolicyBlock {
		t.Errorf("Apply = %v %v %+v", changed, err, b)
	}
	a := approved(t)
	if _, err := a.Apply([]string{"overspend_policy"}, BudgetFields{Policy: PolicyBlock}, t0); !errors.Is(err, ErrBudgetNotDraft) {
		t.Errorf("policy on approved = %v", err)
	}
	v := a.Version
	if changed, err := a.Apply([]string{"description"}, BudgetFields{Description: "later"}, t0); err != nil || len(changed) != 1 || a.Version != v+1 {
		t.Errorf("description on approved = %v %v", changed, err)
	}
	if _, err := a.Apply([]string{"display_name"}, BudgetFields{}, t0); violations(t, err)[0] != "budget.display_name:REQUIRED" {
		t.Errorf("empty name = %v", err)
	}
	if changed, err := a.Apply([]string{"owner"}, BudgetFields{}, t0); err != nil || changed != nil || a.Version != v+1 {
		t.Errorf("no-op = %v %v", changed, err)
	}
}

func TestNames(t *testing.T) {
	if id, ok := BudgetPattern.Last("budgets/b1"); !ok || id != "b1" {
		t.Error("BudgetPattern.Last")
	}
	for _, bad := range []string{"budgets/", "budgets/-", "budgets/b1/lines/l1", "costCenters/b1"} {
		if BudgetPattern.ScanResource(bad) {
			t.Errorf("BudgetPattern.ScanResource(%q) ok", bad)
		}
	}
	var b, l, id string
	if !LinePattern.ScanResource(LineName("b1", "l1"), &b, &l) || b != "b1" || l != "l1" {
		t.Error("LinePattern.ScanResource")
	}
	if LinePattern.ScanResource("budgets/-/lines/l1") {
		t.Error("wildcard line name accepted")
	}
	if !LinePattern.Scan("budgets/-/lines/-", &b, &l) || b != "-" || l != "-" {
		t.Error("LinePattern.Scan wildcard")
	}
	if n := ActualPattern.Format("b", "l", "a"); n != "budgets/b/lines/l/actuals/a" {
		t.Error(n)
	}
	if !CommitmentPattern.ScanResource(CommitmentPattern.Format("b", "l", "c"), &b, &l, &id) || b+l+id != "blc" {
		t.Error("CommitmentPattern.ScanResource")
	}
	if ActualPattern.ScanResource("budgets/b/lines/l/commitments/c") {
		t.Error("commitment parsed as actual")
	}
	if !TransferPattern.ScanResource(TransferPattern.Format("b", "t"), &b, &id) || b != "b" || id != "t" {
		t.Error("TransferPattern.ScanResource")
	}
}
