package domain

import (
	"errors"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

func TestOnField(t *testing.T) {
	_, err := money.FromParts(1, 1, "EUR", "")
	err = fault.OnField(err, "actual.amount")
	if got := violations(t, err); len(got) != 1 || got[0] != "actual.amount:AMOUNT_TOO_PRECISE" || !errors.Is(err, ErrAmountTooPrecise) {
		t.Errorf("violations = %v, err = %v", got, err)
	}
	if _, err := BudgetAmount(1, 0, "USD", "EUR", "line.planned"); !errors.Is(err, ErrCurrencyMismatch) ||
		violations(t, err)[0] != "line.planned:CURRENCY_MISMATCH" {
		t.Errorf("BudgetAmount mismatch = %v", err)
	}
	if m, err := BudgetAmount(12, 340_000_000, "", "EUR", "line.planned"); err != nil || m != 1234 {
		t.Errorf("BudgetAmount = %d, %v", m, err)
	}
}
