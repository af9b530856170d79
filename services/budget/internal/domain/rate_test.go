package domain

import (
	"errors"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
)

func TestMonthAndRateIDs(t *testing.T) {
	m, err := civil.ParseMonth("2027-03")
	if err != nil || m != (Month{Year: 2027, Month: time.March}) || m.String() != "2027-03" {
		t.Errorf("ParseMonth = %v, %v", m, err)
	}
	id := ExchangeRateID(m, "EUR", "USD")
	if id != "2027-03-eur-usd" {
		t.Errorf("id = %q", id)
	}
	gm, s, d, ok := ParseExchangeRateID(id)
	if !ok || gm != m || s != "EUR" || d != "USD" {
		t.Errorf("ParseExchangeRateID = %v %v %v %v", gm, s, d, ok)
	}
	for _, bad := range []string{"2027-03-EUR-usd", "2027-03-eur-eur", "2027-03-eur", "2027-13-eur-usd", "2027-03-xxx-usd"} {
		if _, _, _, ok := ParseExchangeRateID(bad); ok {
			t.Errorf("ParseExchangeRateID(%q) ok", bad)
		}
	}
	if id, ok := ParseExchangeRateName("exchangeRates/2027-03-eur-usd"); !ok || id != "2027-03-eur-usd" {
		t.Errorf("ParseExchangeRateName = %q %v", id, ok)
	}
}

func TestNewExchangeRateAndConvertAt(t *testing.T) {
	r, err := NewExchangeRate(Month{Year: 2027, Month: time.March}, "EUR", "USD", "1.08450", t0)
	if err != nil || r.ID != "2027-03-eur-usd" || r.Value != "1.0845" || r.Name() != "exchangeRates/2027-03-eur-usd" {
		t.Fatalf("NewExchangeRate = %+v, %v", r, err)
	}
	_, err = NewExchangeRate(Month{Year: 2027, Month: 13}, "EUR", "EUR", "-1", t0)
	want := []string{"exchange_rate.target_currency_code:RATE_SAME_CURRENCY", "exchange_rate.month:MONTH_INVALID", "exchange_rate.rate:RATE_INVALID"}
	if got := violations(t, err); len(got) != 3 || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("violations = %v", got)
	}
	d := Date{Year: 2027, Month: time.March, Day: 15}
	conv, use, err := ConvertAt(Amount{Minor: 10000, Currency: "EUR"}, d, "USD", r)
	if err != nil || conv != 10845 || use.RateID != r.ID || use.Value != "1.0845" {
		t.Errorf("ConvertAt = %d %+v %v", conv, use, err)
	}
	conv, use, err = ConvertAt(Amount{Minor: 10000, Currency: "USD"}, d, "USD", nil)
	if err != nil || conv != 10000 || use != nil {
		t.Errorf("same-currency ConvertAt = %d %+v %v", conv, use, err)
	}
	_, _, err = ConvertAt(Amount{Minor: 10000, Currency: "GBP"}, d, "USD", nil)
	fe := asFault(err)
	if !errors.Is(err, ErrExchangeRateMissing) || fe.Metadata["source"] != "GBP" || fe.Metadata["target"] != "USD" || fe.Metadata["month"] != "2027-03" {
		t.Errorf("missing rate err = %+v", fe)
	}
	if _, _, err = ConvertAt(Amount{Minor: 1, Currency: "EUR"}, Date{Year: 2027, Month: time.April, Day: 1}, "USD", r); err == nil || asFault(err).Kind != 0 {
		t.Errorf("rate of the wrong month err = %v", err)
	}
	changed, err := r.SetValue("1.0845", t0)
	if changed || err != nil {
		t.Errorf("SetValue same = %v %v", changed, err)
	}
	if changed, err := r.SetValue("1.1", t0); !changed || err != nil || r.Version != 2 || r.Value != "1.1" {
		t.Errorf("SetValue = %v %v %+v", changed, err, r)
	}
}
