package domain

import (
	"errors"
	"testing"
	"time"
)

func noRate(Amount, Date) (*ExchangeRate, error) { return nil, nil }

func holdInput(minor int64, start, end Date) HoldInput {
	return HoldInput{LineID: "l1", Amount: Amount{Minor: minor, Currency: "EUR"}, ServiceStart: start, ServiceEnd: end,
		Source: CommitmentContract, SourceRef: " vendors/acme/contracts/c-1 "}
}

func TestNewHold(t *testing.T) {
	b := approved(t) // EUR, FY2027 from April 2026
	h, err := NewHold("h1", b, holdInput(30000, date(2026, 10, 1), date(2027, 3, 31)), noRate, "ana", t0)
	if err != nil || h.State != HoldHeld || h.HeldMinor != 30000 || h.PartMinor != 30000 || h.Period != 7 ||
		h.Date != date(2026, 10, 1) || h.SourceRef != "vendors/acme/contracts/c-1" || h.Version != 1 ||
		!h.ExpireTime.Equal(t0.Truncate(time.Microsecond).Add(DefaultHoldTTL)) || h.Name() != "budgets/b1/lines/l1/holds/h1" {
		t.Fatalf("NewHold = %+v, %v", h, err)
	}

	// The rate is the one of the month of the term's first day in the year.
	rate, _ := NewExchangeRate(Month{Year: 2026, Month: time.April}, "USD", "EUR", "0.5", t0)
	var asked Date
	usd := holdInput(73000, date(2026, 1, 1), date(2026, 12, 31)) // 275 of 365 days: 550.00 USD
	usd.Amount.Currency = "USD"
	usd.TTL = 24 * time.Hour
	h, err = NewHold("h2", b, usd, func(_ Amount, d Date) (*ExchangeRate, error) { asked = d; return rate, nil }, "ana", t0)
	if err != nil || asked != date(2026, 4, 1) || h.PartMinor != 55000 || h.HeldMinor != 27500 || h.Period != 1 ||
		h.Rate.RateID != "2026-04-usd-eur" || !h.ExpireTime.Equal(t0.Truncate(time.Microsecond).Add(24*time.Hour)) {
		t.Fatalf("NewHold in USD = %+v (rate asked for %v), %v", h, asked, err)
	}

	bad := []struct {
		change func(*HoldInput)
		want   string
	}{
		{func(in *HoldInput) { in.Amount.Minor = 0 }, "hold.amount:AMOUNT_NOT_POSITIVE"},
		{func(in *HoldInput) { in.TTL = 59 * time.Second }, "hold.ttl:TTL_OUT_OF_RANGE"},
		{func(in *HoldInput) { in.TTL = MaxHoldTTL + time.Second }, "hold.ttl:TTL_OUT_OF_RANGE"},
		{func(in *HoldInput) { in.Source = 9 }, "hold.source:INVALID_VALUE"},
		{func(in *HoldInput) { in.ServiceEnd = Date{} }, "hold.service_end_date:REQUIRED"},
		{func(in *HoldInput) { in.ServiceStart = Date{Year: 2026, Month: 2, Day: 30} }, "hold.service_start_date:DATE_INVALID"},
		{func(in *HoldInput) { in.ServiceEnd = date(2026, 9, 30) }, "hold.service_end_date:END_BEFORE_START"},
	}
	for _, tt := range bad {
		in := holdInput(100, date(2026, 10, 1), date(2026, 10, 31))
		tt.change(&in)
		_, err := NewHold("h", b, in, noRate, "ana", t0)
		if got := violations(t, err); len(got) != 1 || got[0] != tt.want {
			t.Errorf("%+v: violations = %v, want %s", in, got, tt.want)
		}
	}
	if _, err := NewHold("h", b, holdInput(100, date(2027, 4, 1), date(2027, 5, 1)), noRate, "ana", t0); !errors.Is(err, ErrDateOutsideFiscalYear) {
		t.Errorf("a term after the year = %v", err)
	}
	if _, err := NewHold("h", b, holdInput(100, date(2025, 4, 1), date(2026, 3, 31)), noRate, "ana", t0); !errors.Is(err, ErrDateOutsideFiscalYear) {
		t.Errorf("a term before the year = %v", err)
	}
	usd.TTL = 0
	if _, err := NewHold("h", b, usd, noRate, "ana", t0); !errors.Is(err, ErrExchangeRateMissing) {
		t.Errorf("no rate = %v", err)
	}
	if _, err := NewHold("h", draft(t), holdInput(100, date(2026, 10, 1), date(2026, 10, 31)), noRate, "ana", t0); !errors.Is(err, ErrBudgetNotApproved) {
		t.Errorf("draft budget = %v", err)
	}
}

func TestFiscalShare(t *testing.T) {
	cal := Calendar{StartMonth: time.April}
	for _, tt := range []struct {
		minor      int64
		start, end Date
		part       int64
		first      Date
		period     int
	}{
		{1000, date(2026, 4, 1), date(2027, 3, 31), 1000, date(2026, 4, 1), 1},
		{1000, date(2026, 4, 1), date(2026, 4, 1), 1000, date(2026, 4, 1), 1},
		{1000, date(2027, 3, 31), date(2027, 4, 1), 500, date(2027, 3, 31), 12},     // 1 of 2 days
		{1000, date(2027, 3, 30), date(2027, 4, 1), 667, date(2027, 3, 30), 12},     // 2 of 3 days: 666.67
		{5, date(2027, 3, 31), date(2027, 4, 1), 2, date(2027, 3, 31), 12},          // 2.5 → 2 (half to even)
		{7, date(2027, 3, 31), date(2027, 4, 1), 4, date(2027, 3, 31), 12},          // 3.5 → 4
		{120000, date(2026, 10, 1), date(2027, 9, 30), 59836, date(2026, 10, 1), 7}, // 182 of 365 days
	} {
		got, err := FiscalShare(cal, 2027, Amount{Minor: tt.minor, Currency: "EUR"}, tt.start, tt.end, "hold")
		if err != nil || got.Part.Minor != tt.part || got.First != tt.first || got.Period != tt.period {
			t.Errorf("FiscalShare(%d, %v–%v) = %+v, %v; want %d from %v (P%02d)", tt.minor, tt.start, tt.end, got, err, tt.part, tt.first, tt.period)
		}
	}
}

func TestHoldLifecycle(t *testing.T) {
	b := approved(t)
	later := t0.Add(time.Minute).Truncate(time.Microsecond)
	place := func() *Hold {
		h, err := NewHold("h1", b, holdInput(1000, date(2026, 10, 1), date(2026, 10, 31)), noRate, "ana", t0)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}

	h := place()
	if err := h.Release(later); err != nil || h.State != HoldReleased || h.Version != 2 || !h.UpdateTime.Equal(later) || h.Holding() {
		t.Fatalf("release = %+v, %v", h, err)
	}
	if err := h.Release(later); !errors.Is(err, ErrHoldNotHeld) {
		t.Errorf("second release = %v", err)
	}
	if h.Expire(later) || h.State != HoldReleased {
		t.Errorf("a released hold expired: %+v", h)
	}
	if err := h.Convert("b1", "c1", later); !errors.Is(err, ErrHoldNotHeld) || asFault(err).Metadata["state"] != "RELEASED" {
		t.Errorf("converting a released hold = %v", err)
	}

	h = place()
	if !h.Expire(later) || h.State != HoldExpired || h.Version != 2 {
		t.Fatalf("expire = %+v", h)
	}
	if h.Expire(later) || h.Version != 2 {
		t.Errorf("expired twice: %+v", h)
	}
	if err := h.Release(later); !errors.Is(err, ErrHoldNotHeld) {
		t.Errorf("releasing an expired hold = %v", err)
	}
	// An expired hold still converts: its change was committed before it lapsed.
	if err := h.Convert("b1", "c1", later); err != nil || h.State != HoldConverted || h.CommitmentName() != "budgets/b1/lines/l1/commitments/c1" {
		t.Errorf("converting an expired hold = %+v, %v", h, err)
	}

	h = place()
	c := h.Commitment("c2", b, "ana", later)
	if err := h.Convert(c.BudgetID, c.ID, later); err != nil || h.State != HoldConverted || h.Version != 2 {
		t.Fatalf("convert = %+v, %v", h, err)
	}
	if c.ConvertedMinor != 1000 || c.RemainingMinor != 1000 || c.Amount.Minor != 1000 || c.Date != date(2026, 10, 1) || c.Period != 7 ||
		c.Source != CommitmentContract || c.State != CommitmentOpen || c.HoldName() != h.Name() || c.Version != 1 {
		t.Errorf("commitment of the hold = %+v", c)
	}
	if err := h.Convert("b1", "c3", later); !errors.Is(err, ErrHoldNotHeld) {
		t.Errorf("second conversion = %v", err)
	}
	if h.Expire(later) {
		t.Errorf("a converted hold expired")
	}
}
