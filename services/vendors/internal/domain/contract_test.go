package domain

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

var contractNow = time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

func d(y int, m time.Month, day int) Date { return Date{Year: y, Month: m, Day: day} }

func eurAmount(minor int64) money.Amount { return money.Amount{Minor: minor, Currency: "EUR"} }

func draftFields() ContractFields {
	return ContractFields{Title: "Acme", TotalValue: eurAmount(1_200_000), AnnualValue: eurAmount(1_200_000),
		StartDate: d(2027, 1, 1), EndDate: d(2027, 12, 31), AutoRenew: true, RenewalTermMonths: 12,
		NoticePeriodDays: 90, DecisionBufferDays: 30, BudgetLine: "budgets/b/lines/l"}
}

func TestContractDates(t *testing.T) {
	for _, c := range []struct {
		name                   string
		notice, buffer, window int32
		end                    Date
		cancelBy, open         Date
	}{
		{"notice and buffer", 90, 30, 0, d(2027, 12, 31), d(2027, 9, 2), d(2027, 7, 4)},
		{"own window", 90, 30, 10, d(2027, 12, 31), d(2027, 9, 2), d(2027, 8, 23)},
		{"no notice", 0, 0, 0, d(2027, 3, 31), d(2027, 3, 31), d(2027, 1, 30)},
		{"across a leap day", 1, 0, 1, d(2028, 3, 1), d(2028, 2, 29), d(2028, 2, 28)},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := draftFields()
			f.NoticePeriodDays, f.DecisionBufferDays, f.NoticeWindowDays, f.EndDate = c.notice, c.buffer, c.window, c.end
			k, err := NewContract("v", "c", f, 60, contractNow)
			if err != nil {
				t.Fatal(err)
			}
			if k.CancelByDate != c.cancelBy || k.NoticeWindowOpenDate != c.open {
				t.Errorf("cancel-by %s, window %s; want %s, %s", k.CancelByDate, k.NoticeWindowOpenDate, c.cancelBy, c.open)
			}
		})
	}
}

func TestContractRenew(t *testing.T) {
	for _, c := range []struct {
		name         string
		end          Date
		months       int32
		start, next  Date
		annual, term int64
	}{
		{"a year", d(2027, 12, 31), 12, d(2028, 1, 1), d(2028, 12, 31), 1_200_000, 1_200_000},
		{"a quarter", d(2027, 3, 31), 3, d(2027, 4, 1), d(2027, 6, 30), 1_200_000, 300_000},
		{"from the last day of January", d(2027, 1, 30), 1, d(2027, 1, 31), d(2027, 2, 27), 1_000_000, 83_333},
		{"seven months, half to even", d(2027, 12, 31), 7, d(2028, 1, 1), d(2028, 7, 31), 6, 4}, // 3.5 → 4
	} {
		t.Run(c.name, func(t *testing.T) {
			f := draftFields()
			f.StartDate, f.EndDate, f.RenewalTermMonths, f.AnnualValue = d(2026, 1, 1), c.end, c.months, eurAmount(c.annual)
			k, err := NewContract("v", "c", f, 60, contractNow)
			if err != nil {
				t.Fatal(err)
			}
			k.State = ContractActive
			start, err := k.Renew(60, contractNow)
			if err != nil || start != c.start || k.EndDate != c.next || k.State != ContractRenewed || k.RenewalCount != 1 {
				t.Fatalf("renew = %s, %v; contract %s to %s, %s, %d", start, err, start, k.EndDate, k.State, k.RenewalCount)
			}
			if v := k.RenewalValue(); v.Minor != c.term {
				t.Errorf("term value %d; want %d", v.Minor, c.term)
			}
			if k.CancelByDate != k.EndDate.AddDays(-120) {
				t.Errorf("cancel-by %s after renewal; want end − 120 days", k.CancelByDate)
			}
		})
	}
	k, _ := NewContract("v", "c", func() ContractFields { f := draftFields(); f.AutoRenew, f.RenewalTermMonths = false, 0; return f }(), 60, contractNow)
	k.State = ContractActive
	if _, err := k.Renew(60, contractNow); !errors.Is(err, ErrContractInvalidTransition) {
		t.Errorf("renew without auto-renew = %v; want INVALID_STATE_TRANSITION", err)
	}
	if err := k.Expire(contractNow); err != nil || k.State != ContractExpired {
		t.Errorf("expire = %v, %s", err, k.State)
	}
}

func TestContractApplyByState(t *testing.T) {
	k, err := NewContract("v", "c", draftFields(), 60, contractNow)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Submit("alice", contractNow); err != nil || k.State != ContractPendingApproval || k.Submitter != "alice" {
		t.Fatalf("submit = %v, %+v", err, k)
	}
	if _, err := k.Apply([]string{ContractFieldEndDate}, ContractFields{EndDate: d(2028, 1, 1)}, 60, contractNow); !errors.Is(err, ErrContractNotDraft) {
		t.Errorf("end date while pending = %v; want CONTRACT_NOT_DRAFT", err)
	}
	// Naming a commercial field with its current value changes nothing, so it is no violation.
	f := draftFields()
	f.NoticeWindowDays = 30
	changed, err := k.Apply([]string{ContractFieldEndDate, ContractFieldNoticeWindowDays}, f, 60, contractNow)
	if err != nil || !slices.Equal(changed, []string{ContractFieldNoticeWindowDays}) || k.NoticeWindowOpenDate != d(2027, 8, 3) {
		t.Errorf("window while pending = %v, %v, window %s", changed, err, k.NoticeWindowOpenDate)
	}
	if err := k.CheckApprovable("alice"); !errors.Is(err, ErrContractSelfApproval) {
		t.Errorf("approval by the submitter = %v", err)
	}
	if err := k.Approve("bob", "budgets/b/lines/l/holds/h", contractNow); err != nil || k.State != ContractActive || k.Hold == "" {
		t.Fatalf("approve = %v, %+v", err, k)
	}
	today := d(2027, 2, 1)
	for _, eff := range []Date{d(2027, 1, 31), d(2028, 1, 1)} {
		err := k.Terminate("x", eff, today, contractNow)
		if fe := fault.As(err); fe == nil || fe.Kind != fault.InvalidArgument || fe.Violations[0].Field != "effective_date" {
			t.Errorf("terminate effective %s = %v; want a violation of effective_date", eff, err)
		}
	}
	if err := k.Terminate(" gone ", Date{}, today, contractNow); err != nil || k.State != ContractTerminated ||
		k.TerminationEffectiveDate != today || k.TerminationReason != "gone" {
		t.Fatalf("terminate = %v, %+v", err, k)
	}
	if _, err := k.Apply([]string{ContractFieldOwner}, ContractFields{Owner: "x"}, 60, contractNow); !errors.Is(err, ErrContractEnded) {
		t.Errorf("owner of a terminated contract = %v; want CONTRACT_ENDED", err)
	}
}

func TestContractSubmitIncomplete(t *testing.T) {
	k, err := NewContract("v", "c", ContractFields{Title: "x", EndDate: d(2027, 1, 1)}, 60, contractNow)
	if err != nil {
		t.Fatal(err)
	}
	err = k.Submit("alice", contractNow)
	fe := fault.As(err)
	if !errors.Is(err, ErrContractIncomplete) || fe.Metadata["missing"] != "contract.total_value,contract.annual_value,contract.start_date,contract.budget_line" ||
		len(fe.Violations) != 4 || k.State != ContractDraft {
		t.Errorf("submit incomplete = %v (%v); want CONTRACT_INCOMPLETE naming the four fields", err, fe)
	}
}
