package domain

import (
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// ExchangeRateID is the ID of the rate of src in dst for month m: "2027-03-eur-usd".
func ExchangeRateID(m Month, src, dst Currency) string {
	return strings.ToLower(fmt.Sprintf("%s-%s-%s", m, src, dst))
}

// ParseExchangeRateID splits an ID made by ExchangeRateID; both currencies must be supported and
// differ.
func ParseExchangeRateID(id string) (m Month, src, dst Currency, ok bool) {
	parts := strings.Split(id, "-")
	if len(parts) != 4 || id != strings.ToLower(id) {
		return Month{}, "", "", false
	}
	m, err := civil.ParseMonth(parts[0] + "-" + parts[1])
	if err != nil {
		return Month{}, "", "", false
	}
	src, dst = Currency(strings.ToUpper(parts[2])), Currency(strings.ToUpper(parts[3]))
	if !src.Supported() || !dst.Supported() || src == dst {
		return Month{}, "", "", false
	}
	return m, src, dst, true
}

// NewExchangeRate returns the rate of src in dst for month m, created at now, with its value
// canonicalised. Violations name the fields of an exchange_rate in a request.
func NewExchangeRate(m Month, src, dst, value string, now time.Time) (*ExchangeRate, error) {
	var vs fault.Violations
	s, err := money.ParseCurrency(src)
	if err != nil {
		vs.Add("exchange_rate.source_currency_code", ErrCurrencyUnsupported.Reason, "the source currency is not supported")
	}
	t, err := money.ParseCurrency(dst)
	if err != nil {
		vs.Add("exchange_rate.target_currency_code", ErrCurrencyUnsupported.Reason, "the target currency is not supported")
	}
	if s != "" && s == t {
		vs.Add("exchange_rate.target_currency_code", ErrRateSameCurrency.Reason, ErrRateSameCurrency.Message)
	}
	if !m.Valid() {
		vs.Add("exchange_rate.month", ErrMonthInvalid.Reason, ErrMonthInvalid.Message)
	}
	canon, _, err := money.ParseRate(value)
	if err != nil {
		vs.Add("exchange_rate.rate", ErrRateInvalid.Reason, ErrRateInvalid.Message)
	}
	if err := vs.Err(); err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Microsecond)
	return &ExchangeRate{ID: ExchangeRateID(m, s, t), Month: m, Source: s, Target: t, Value: canon,
		CreateTime: now, UpdateTime: now, Version: 1}, nil
}

// SetValue changes the rate's value; it reports whether it changed. History is unaffected:
// actuals and commitments keep the RateUse they were converted with.
func (r *ExchangeRate) SetValue(value string, now time.Time) (bool, error) {
	canon, _, err := money.ParseRate(value)
	if err != nil {
		return false, ErrRateInvalid.OnField("exchange_rate.rate", "")
	}
	if canon == r.Value {
		return false, nil
	}
	r.Value = canon
	r.Version++
	r.UpdateTime = now.UTC().Truncate(time.Microsecond)
	return true, nil
}

// Use returns the RateUse recording that the rate converted an amount.
func (r *ExchangeRate) Use() *RateUse {
	return &RateUse{RateID: r.ID, Month: r.Month, Source: r.Source, Target: r.Target, Value: r.Value}
}

// RateMissing is EXCHANGE_RATE_MISSING for the pair and month, with the metadata clients need
// to create the rate.
func RateMissing(m Month, src, dst Currency) error {
	return ErrExchangeRateMissing.With("source", string(src)).With("target", string(dst)).With("month", m.String()).
		Withf("no exchange rate from %s to %s for %s", src, dst, m)
}

// RateKey names the rate a conversion needs: the month and the direct pair.
type RateKey struct {
	Month  Month
	Source Currency
	Target Currency
}

// ID is the exchange rate ID for the key.
func (k RateKey) ID() string { return ExchangeRateID(k.Month, k.Source, k.Target) }

// NeededRate says which rate converts a, dated d, into the budget currency; ok is false when a
// is already in that currency.
func NeededRate(a Amount, d Date, budget Currency) (key RateKey, ok bool) {
	if a.Currency == budget {
		return RateKey{}, false
	}
	return RateKey{Month: civil.MonthOf(d), Source: a.Currency, Target: budget}, true
}

// ConvertAt converts a, dated d, into the budget currency with rate, which must be the rate of
// NeededRate (nil when there is none: EXCHANGE_RATE_MISSING). It returns the converted minor
// units and the RateUse to store (nil when no conversion was needed).
func ConvertAt(a Amount, d Date, budget Currency, rate *ExchangeRate) (int64, *RateUse, error) {
	key, ok := NeededRate(a, d, budget)
	if !ok {
		return a.Minor, nil, nil
	}
	if rate == nil {
		return 0, nil, RateMissing(key.Month, key.Source, key.Target)
	}
	if rate.Month != key.Month || rate.Source != key.Source || rate.Target != key.Target {
		return 0, nil, fmt.Errorf("convert %s of %s: got rate %s, need %s", a, d, rate.ID, key.ID())
	}
	return ConvertWith(a, rate.Use())
}

// ConvertWith converts a with a recorded RateUse (a correction uses its original's rate).
func ConvertWith(a Amount, use *RateUse) (int64, *RateUse, error) {
	_, v, err := money.ParseRate(use.Value)
	if err != nil {
		return 0, nil, fmt.Errorf("rate %s has a bad value %q: %w", use.RateID, use.Value, err)
	}
	if a.Currency != use.Source {
		return 0, nil, fmt.Errorf("convert %s with rate %s of %s", a, use.RateID, use.Source)
	}
	c, err := money.Convert(a, v, use.Target)
	if err != nil {
		return 0, nil, err
	}
	u := *use
	return c, &u, nil
}

// MaxRateChange is how far, as a ratio either way, a rate may be from the same pair's rate of
// the previous month without an explicit confirmation.
var MaxRateChange = big.NewRat(6, 5)

// ReasonRateConfirmationRequired is the field violation of a rate far from the previous
// month's that the request does not confirm.
const ReasonRateConfirmationRequired = "RATE_CONFIRMATION_REQUIRED"

func errRateConfirmationRequired(previous string) error {
	return fault.Field("exchange_rate.rate", ReasonRateConfirmationRequired,
		"the rate is more than 20 % away from the previous month's ("+previous+"); set confirm_rate_change to confirm it")
}

// PreviousMonth is the month before m.
func PreviousMonth(m Month) Month {
	if m.Month == time.January {
		return Month{Year: m.Year - 1, Month: time.December}
	}
	return Month{Year: m.Year, Month: m.Month - 1}
}

// CheckRateChange refuses value when previous (the pair's rate of the month before; nil when
// there is none) differs from it by more than MaxRateChange either way, unless confirmed.
func CheckRateChange(previous *ExchangeRate, value string, confirmed bool) error {
	if previous == nil || confirmed {
		return nil
	}
	_, next, err := money.ParseRate(value)
	if err != nil {
		return nil // reported by the rate's own checks
	}
	_, prev, err := money.ParseRate(previous.Value)
	if err != nil {
		return nil
	}
	if prev.Sign() == 0 || next.Sign() == 0 {
		if next.Cmp(prev) == 0 {
			return nil
		}
		return errRateConfirmationRequired(previous.Value)
	}
	ratio := new(big.Rat).Quo(next, prev)
	if ratio.Cmp(MaxRateChange) > 0 || new(big.Rat).Inv(ratio).Cmp(MaxRateChange) > 0 {
		return errRateConfirmationRequired(previous.Value)
	}
	return nil
}
