package domain

import (
	"errors"
	"testing"
	"time"
)

func TestNewActual(t *testing.T) {
	b := approved(t) // EUR, FY2027 from April 2026
	rate, _ := NewExchangeRate(Month{Year: 2026, Month: time.May}, "USD", "EUR", "0.9", t0)
	in := ActualInput{LineID: "l1", Amount: Amount{Minor: 1001, Currency: "USD"}, BookingDate: date(2026, 5, 3), Source: SourceVendorInvoice}
	a, err := NewActual("a1", b, in, rate, nil, "ana", t0)
	if err != nil || a.ConvertedMinor != 901 || a.Period != 2 || a.Rate.RateID != "2026-05-usd-eur" || a.ChainID != "b1" {
		t.Fatalf("NewActual = %+v, %v", a, err) // 10.01 × 0.9 = 9.009 → 9.01
	}
	if _, err := NewActual("a", b, in, nil, nil, "ana", t0); !errors.Is(err, ErrExchangeRateMissing) {
		t.Errorf("missing rate = %v", err)
	}
	out := in
	out.BookingDate = date(2027, 4, 1)
	if _, err := NewActual("a", b, out, rate, nil, "ana", t0); !errors.Is(err, ErrDateOutsideFiscalYear) {
		t.Errorf("outside = %v", err)
	}
	bad := []struct {
		in   ActualInput
		want string
	}{
		{ActualInput{LineID: "l1", Amount: Amount{Minor: 0, Currency: "EUR"}, BookingDate: date(2026, 5, 3), Source: SourceManual}, "actual.amount:AMOUNT_ZERO"},
		{ActualInput{LineID: "l1", Amount: Amount{Minor: -5, Currency: "EUR"}, BookingDate: date(2026, 5, 3), Source: SourceManual}, "actual.corrects:CORRECTS_REQUIRED"},
		{ActualInput{LineID: "l1", Amount: Amount{Minor: 5, Currency: "EUR"}, BookingDate: date(2026, 5, 3), Source: SourceManual, CorrectsID: "a1"}, "actual.amount:CORRECTION_NOT_NEGATIVE"},
		{ActualInput{LineID: "l1", Amount: Amount{Minor: 5, Currency: "EUR"}, BookingDate: date(2026, 5, 3), Source: 42}, "actual.source:INVALID_VALUE"},
	}
	for _, tt := range bad {
		_, err := NewActual("a", b, tt.in, nil, nil, "ana", t0)
		if got := violations(t, err); len(got) != 1 || got[0] != tt.want {
			t.Errorf("%+v: violations = %v, want %s", tt.in, got, tt.want)
		}
	}
	manual := ActualInput{LineID: "l1", Amount: Amount{Minor: 5, Currency: "EUR"}, BookingDate: date(2026, 5, 3)}
	if a, err := NewActual("a", b, manual, nil, nil, "ana", t0); err != nil || a.Source != SourceManual {
		t.Errorf("an actual without a source = %+v, %v; want one entered by hand (MANUAL)", a, err)
	}
	if _, err := NewActual("a", draft(t), in, rate, nil, "ana", t0); !errors.Is(err, ErrBudgetNotApproved) {
		t.Errorf("draft budget = %v", err)
	}
}

func TestCorrections(t *testing.T) {
	b := approved(t)
	rate, _ := NewExchangeRate(Month{Year: 2026, Month: time.May}, "USD", "EUR", "1.5", t0)
	orig, err := NewActual("a1", b, ActualInput{LineID: "l1", Amount: Amount{Minor: 3, Currency: "USD"}, BookingDate: date(2026, 5, 3), Source: SourceManual}, rate, nil, "ana", t0)
	if err != nil || orig.ConvertedMinor != 4 { // 4.5 → 4
		t.Fatalf("orig = %+v %v", orig, err)
	}
	corr := func(minor, priorAmount, priorConv int64) (*Actual, error) {
		// The correction is booked in June, where no rate is given: it uses the original's.
		return NewActual("c", b, ActualInput{LineID: "l1", Amount: Amount{Minor: minor, Currency: "USD"}, BookingDate: date(2026, 6, 1),
			Source: SourceManual, CorrectsID: "a1"}, nil, &Corrected{orig, priorAmount, priorConv}, "ana", t0)
	}
	c1, err := corr(-1, 0, 0)
	if err != nil || c1.ConvertedMinor != -2 || c1.Rate.Value != "1.5" || c1.Period != 3 { // -1.5 → -2
		t.Fatalf("c1 = %+v %v", c1, err)
	}
	c2, err := corr(-1, -1, -2)
	if err != nil || c2.ConvertedMinor != -2 {
		t.Fatalf("c2 = %+v %v", c2, err)
	}
	// The last unit reverses what remains, so the three corrections net the original to 0.
	c3, err := corr(-1, -2, -4)
	if err != nil || c3.ConvertedMinor != 0 {
		t.Fatalf("c3 = %+v %v", c3, err)
	}
	_, err = corr(-1, -3, -4)
	if fe := asFault(err); !errors.Is(err, ErrCorrectionExceedsOriginal) || fe.Metadata["original"] != "0.03 USD" || fe.Metadata["requested"] != "0.01 USD" {
		t.Errorf("exceeds = %+v", fe)
	}
	if _, err := corr(-4, 0, 0); !errors.Is(err, ErrCorrectionExceedsOriginal) {
		t.Errorf("exceeds at once = %v", err)
	}
	_, err = NewActual("c", b, ActualInput{LineID: "l2", Amount: Amount{Minor: -1, Currency: "USD"}, BookingDate: date(2026, 6, 1), Source: SourceManual,
		CorrectsID: "a1"}, nil, &Corrected{Original: orig}, "ana", t0)
	if got := violations(t, err); len(got) != 1 || got[0] != "actual.corrects:CORRECTION_LINE_MISMATCH" {
		t.Errorf("other line = %v", got)
	}
}

func TestCommitments(t *testing.T) {
	b := approved(t)
	in := CommitmentInput{LineID: "l1", Amount: Amount{Minor: 10000, Currency: "EUR"}, Date: date(2026, 7, 1), Source: CommitmentPurchaseOrder, SourceRef: "vendors/acme/pos/1"}
	c, err := NewCommitment("c1", b, in, nil, "ana", t0)
	if err != nil || c.RemainingMinor != 10000 || c.State != CommitmentOpen || c.Period != 4 {
		t.Fatalf("NewCommitment = %+v %v", c, err)
	}
	in.Amount.Minor = 0
	if _, err := NewCommitment("c", b, in, nil, "ana", t0); violations(t, err)[0] != "commitment.amount:AMOUNT_NOT_POSITIVE" {
		t.Errorf("zero = %v", err)
	}
	if got := c.ReleaseFor(2500, t0); got != 2500 || c.RemainingMinor != 7500 || c.Version != 2 {
		t.Errorf("ReleaseFor = %d %+v", got, c)
	}
	if got := c.ReleaseFor(-100, t0); got != 0 {
		t.Errorf("ReleaseFor correction = %d", got)
	}
	if _, err := c.Release(7501, t0); violations(t, err)[0] != "amount:RELEASE_EXCEEDS_REMAINING" {
		t.Errorf("release too much = %v", err)
	}
	if r, err := c.Release(500, t0); r != 500 || err != nil || c.State != CommitmentOpen {
		t.Errorf("partial release = %d %v", r, err)
	}
	if r, err := c.Release(0, t0); r != 7000 || err != nil || c.State != CommitmentReleased || c.RemainingMinor != 0 {
		t.Errorf("release rest = %d %v %+v", r, err, c)
	}
	if _, err := c.Release(0, t0); !errors.Is(err, ErrCommitmentReleased) {
		t.Errorf("release released = %v", err)
	}
	c2, _ := NewCommitment("c2", b, CommitmentInput{LineID: "l1", Amount: Amount{Minor: 100, Currency: "EUR"}, Date: date(2026, 7, 1), Source: CommitmentOther}, nil, "ana", t0)
	if got := c2.ReleaseFor(250, t0); got != 100 || c2.State != CommitmentReleased {
		t.Errorf("ReleaseFor beyond = %d %+v", got, c2)
	}
	if err := CheckCommitmentFor(c2, "b1", "l2"); violations(t, err)[0] != "actual.commitment:COMMITMENT_LINE_MISMATCH" {
		t.Errorf("other line = %v", err)
	}
}

func TestFunds(t *testing.T) {
	if err := CheckCommitFunds(PolicyWarn, "budgets/b/lines/l", 100, 1000, "EUR"); err != nil {
		t.Error(err)
	}
	if err := CheckCommitFunds(PolicyBlock, "budgets/b/lines/l", 100, 100, "EUR"); err != nil {
		t.Error(err)
	}
	err := CheckCommitFunds(PolicyBlock, "budgets/b/lines/l", 100, 101, "EUR")
	if fe := asFault(err); !errors.Is(err, ErrInsufficientFunds) || fe.Metadata["available"] != "1.00 EUR" || fe.Metadata["requested"] != "1.01 EUR" {
		t.Errorf("block = %+v", fe)
	}
	b := approved(t)
	if d, r := DecideFunds(b, 100, 101); d != DecisionWarn || r != ReasonExceedsAvailable {
		t.Errorf("warn = %v %s", d, r)
	}
	b.Policy = PolicyBlock
	if d, r := DecideFunds(b, 100, 101); d != DecisionDeny || r != ReasonExceedsAvailable {
		t.Errorf("deny = %v %s", d, r)
	}
	if d, r := DecideFunds(b, 100, 100); d != DecisionAllow || r != ReasonWithinAvailable {
		t.Errorf("allow = %v %s", d, r)
	}
	if d, r := DecideFunds(draft(t), 100, 1); d != DecisionDeny || r != "BUDGET_NOT_APPROVED" {
		t.Errorf("draft = %v %s", d, r)
	}
}

func TestTransfers(t *testing.T) {
	src, dst := approved(t), approved(t)
	dst.ID = "b9"
	in := TransferInput{SourceLineID: "l1", TargetLineID: "l2", AmountMinor: 250, Reason: "reprioritise"}
	tr, err := NewTransfer("t1", src, dst, in, "ana", date(2026, 6, 15), t0)
	if err != nil || tr.Period != 3 || tr.EffectiveDate != date(2026, 6, 15) || tr.State != TransferPending || tr.Name() != "budgets/b1/transfers/t1" {
		t.Fatalf("NewTransfer = %+v %v", tr, err)
	}
	usd := approved(t)
	usd.Currency = "USD"
	if _, err := NewTransfer("t", src, usd, in, "ana", date(2026, 6, 15), t0); !errors.Is(err, ErrTransferCurrencyMismatch) {
		t.Errorf("currency = %v", err)
	}
	if _, err := NewTransfer("t", src, src, TransferInput{SourceLineID: "l1", TargetLineID: "l1", AmountMinor: 1, Reason: "x"}, "ana", date(2026, 6, 15), t0); violations(t, err)[0] != "transfer.target_line:SAME_LINE" {
		t.Errorf("same line = %v", err)
	}
	if err := tr.Approve("ana", "", t0); !errors.Is(err, ErrSelfApproval) {
		t.Errorf("self approval = %v", err)
	}
	if err := tr.Approve("bob", "ok", t0); err != nil || tr.State != TransferApproved || tr.Version != 2 {
		t.Fatalf("Approve = %v", err)
	}
	if err := tr.Reject("carl", "late", t0); !errors.Is(err, ErrInvalidTransition) {
		t.Errorf("reject approved = %v", err)
	}
	s := newLine(t, LineFields{DisplayName: "s", Category: 1, ExpenseType: Opex, PlannedMinor: 1200})
	d := newLine(t, LineFields{DisplayName: "d", Category: 1, ExpenseType: Opex, PlannedMinor: 400, Phasing: &Phasing{Quarterly, []int64{100, 100, 100, 100}}})
	if err := ApplyTransfer(tr, s, d, t0); err != nil {
		t.Fatal(err)
	}
	if s.PlannedMinor != 950 || s.Phasing.Amounts[2] != 0 || s.Phasing.Amounts[3] != 0 || s.Phasing.Amounts[4] != 50 || s.Phasing.Validate(950) != nil {
		t.Errorf("source = %+v", s)
	}
	if d.PlannedMinor != 650 || d.Phasing.Amounts[0] != 350 || d.Phasing.Validate(650) != nil || d.Version != 2 {
		t.Errorf("target = %+v", d)
	}
	big := *tr
	big.AmountMinor = 2000
	if err := ApplyTransfer(&big, s, d, t0); !errors.Is(err, ErrInsufficientPlanned) || s.PlannedMinor != 950 {
		t.Errorf("insufficient = %v", err)
	}
}

func TestCommitmentRevalue(t *testing.T) {
	may := Month{Year: 2026, Month: time.May}
	rate, _ := NewExchangeRate(may, "USD", "EUR", "0.9", t0)
	newCommitment := func() *Commitment {
		c, err := NewCommitment("c1", approved(t), CommitmentInput{LineID: "l1", Amount: Amount{Minor: 100_000, Currency: "USD"},
			Date: date(2026, 5, 3)}, rate, "ana", t0)
		if err != nil || c.ConvertedMinor != 90_000 {
			t.Fatalf("NewCommitment = %+v, %v", c, err)
		}
		c.release(60_000, t0) // an actual consumed 600.00 EUR of it
		return c
	}
	corrected := func(v string) *ExchangeRate {
		r := *rate
		if _, err := r.SetValue(v, t0); err != nil {
			t.Fatal(err)
		}
		return &r
	}

	c := newCommitment()
	delta, changed, err := c.Revalue(corrected("1.1"), t0)
	if err != nil || !changed || delta != 20_000 || c.ConvertedMinor != 110_000 || c.RemainingMinor != 50_000 ||
		c.Rate.Value != "1.1" || c.State != CommitmentOpen || c.Version != 3 {
		t.Errorf("up: delta %d, %v, %v, %+v", delta, changed, err, c)
	}
	c = newCommitment()
	delta, changed, err = c.Revalue(corrected("0.5"), t0)
	if err != nil || !changed || delta != -30_000 || c.ConvertedMinor != 50_000 || c.RemainingMinor != 0 || c.State != CommitmentReleased {
		t.Errorf("below what was consumed: delta %d, %v, %v, %+v", delta, changed, err, c)
	}
	c = newCommitment()
	if _, changed, _ := c.Revalue(rate, t0); changed {
		t.Error("the same value revalued the commitment")
	}
	other, _ := NewExchangeRate(Month{Year: 2026, Month: time.June}, "USD", "EUR", "2", t0)
	if _, changed, _ := c.Revalue(other, t0); changed {
		t.Error("another month's rate revalued the commitment")
	}
	c.release(30_000, t0)
	if _, changed, _ := c.Revalue(corrected("1.1"), t0); changed || c.State != CommitmentReleased {
		t.Error("a released commitment was revalued")
	}
}
