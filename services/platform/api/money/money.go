// Package money is exact money for every service: amounts in integer minor units of their ISO 4217
// currency, never floats, with the conversions to and from google.type.Money, overflow-checked
// arithmetic, and exchange-rate conversion rounded once, half to even.
package money

import (
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Errors about money a client can act on. Compare with errors.Is, which matches kind and reason.
var (
	ErrCurrencyUnsupported = fault.New(fault.InvalidArgument, "CURRENCY_UNSUPPORTED", "the currency is not supported")
	ErrCurrencyMismatch    = fault.New(fault.InvalidArgument, "CURRENCY_MISMATCH", "the amounts are in different currencies")
	ErrAmountTooPrecise    = fault.New(fault.InvalidArgument, "AMOUNT_TOO_PRECISE", "the amount is finer than the currency's minor unit")
	ErrAmountSignMismatch  = fault.New(fault.InvalidArgument, "AMOUNT_SIGN_MISMATCH", "units and nanos of the amount have different signs")
	ErrAmountOutOfRange    = fault.New(fault.InvalidArgument, "AMOUNT_OUT_OF_RANGE", "the amount is out of range")
	ErrRateInvalid         = fault.New(fault.InvalidArgument, "RATE_INVALID", "the rate must be a positive decimal with at most 12 integer and 9 fractional digits")
	// ErrFigureOutOfRange: a figure computed from recorded amounts — a total, a roll-up, a
	// forecast — does not fit in 64-bit minor units. It is an error, never a wrapped or clamped
	// number. FAILED_PRECONDITION: the request is fine, the recorded amounts make the figure
	// impossible.
	ErrFigureOutOfRange = fault.New(fault.FailedPrecondition, "FIGURE_OUT_OF_RANGE",
		"a figure computed from the recorded amounts is beyond the range of amounts and cannot be given")
)

// MaxUnits is the largest whole number of currency units an amount sent to the API may have, in
// either sign: 999,999,999,999,999 (just under 10^15) of any currency. A larger amount is
// AMOUNT_OUT_OF_RANGE. The bound keeps every single amount, in minor units of any currency (three
// decimals at most), below 10^18 — a tenth of the int64 range — so that no one amount can approach
// the range by itself; sums of many are checked step by step (AddMinor, Calc).
const MaxUnits = 999_999_999_999_999

// Currency is an ISO 4217 alphabetic code, e.g. "EUR".
type Currency string

// Amount is an amount of money in integer minor units of its currency (cents for EUR, yen for
// JPY): exact, never a float.
type Amount struct {
	Minor    int64
	Currency Currency
}

// currencyExponents is the ISO 4217 number of decimal digits of the minor unit of each supported
// currency. A currency not listed is refused: its exponent cannot be guessed safely.
var currencyExponents = map[Currency]int{
	"USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "JPY": 0, "CAD": 2, "AUD": 2, "NZD": 2,
	"SEK": 2, "NOK": 2, "DKK": 2, "PLN": 2, "CZK": 2, "HUF": 2, "INR": 2, "CNY": 2,
	"HKD": 2, "SGD": 2, "ZAR": 2, "BRL": 2, "MXN": 2, "KRW": 0, "ILS": 2, "AED": 2,
	"SAR": 2, "TRY": 2, "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "CLP": 0,
	"ISK": 0, "VND": 0, "IQD": 3, "LYD": 3, "TWD": 2, "THB": 2, "MYR": 2, "IDR": 2,
	"PHP": 2, "RON": 2, "BGN": 2, "ARS": 2, "COP": 2, "EGP": 2, "NGN": 2, "KES": 2,
}

// pow10 holds 10^0 … 10^18, every power of ten an int64 holds.
var pow10 = func() [19]int64 {
	var p [19]int64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// ParseCurrency returns the supported currency with the ISO 4217 code, which must be upper case
// as the API carries it. An unknown code is CURRENCY_UNSUPPORTED.
func ParseCurrency(code string) (Currency, error) {
	c := Currency(code)
	if _, ok := currencyExponents[c]; !ok {
		return "", ErrCurrencyUnsupported.With("currency", code).Withf("currency %q is not supported", code)
	}
	return c, nil
}

// Supported reports whether the currency is in the table.
func (c Currency) Supported() bool {
	_, ok := currencyExponents[c]
	return ok
}

// Exponent is the number of decimal digits of the currency's minor unit (2 for EUR, 0 for JPY, 3
// for BHD); -1 for an unsupported currency.
func (c Currency) Exponent() int {
	if e, ok := currencyExponents[c]; ok {
		return e
	}
	return -1
}

// FromParts converts a google.type.Money (units, nanos, currency code) to an exact amount
// in minor units. An empty code means fallback (e.g. the currency of the budget an amount belongs to).
// Precision finer than the minor unit is refused, never rounded away.
func FromParts(units int64, nanos int32, code string, fallback Currency) (Amount, error) {
	c := fallback
	if code != "" {
		c = Currency(code)
	}
	exp := c.Exponent()
	if exp < 0 {
		return Amount{}, ErrCurrencyUnsupported.With("currency", string(c)).Withf("currency %q is not supported", string(c))
	}
	if nanos <= -1e9 || nanos >= 1e9 {
		return Amount{}, ErrAmountOutOfRange.Withf("nanos must be between -999999999 and 999999999")
	}
	if (units > 0 && nanos < 0) || (units < 0 && nanos > 0) {
		return Amount{}, ErrAmountSignMismatch
	}
	if units > MaxUnits || units < -MaxUnits {
		return Amount{}, ErrAmountOutOfRange.With("max_units", strconv.FormatInt(MaxUnits, 10)).
			Withf("an amount may have at most %d whole units", int64(MaxUnits))
	}
	step := pow10[9-exp]
	if int64(nanos)%step != 0 {
		return Amount{}, ErrAmountTooPrecise.With("currency", string(c)).
			Withf("%s has %d decimal digits; the amount is more precise", c, exp)
	}
	hi, lo := bits.Mul64(uint64(abs64(units)), uint64(pow10[exp]))
	if hi != 0 || lo > math.MaxInt64 || units == math.MinInt64 {
		return Amount{}, ErrAmountOutOfRange
	}
	minor := int64(lo)
	if units < 0 {
		minor = -minor
	}
	minor, err := AddMinor(minor, int64(nanos)/step)
	if err != nil {
		return Amount{}, err
	}
	return Amount{Minor: minor, Currency: c}, nil
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// Money returns the amount as google.type.Money fields: whole units, nanos of the same sign,
// and the currency code.
func (a Amount) Money() (units int64, nanos int32, code string) {
	exp := a.Currency.Exponent()
	if exp < 0 {
		exp = 0
	}
	p := pow10[exp]
	return a.Minor / p, int32((a.Minor % p) * pow10[9-exp]), string(a.Currency)
}

// AddMinor returns a+b, or AMOUNT_OUT_OF_RANGE when the sum does not fit in an int64.
func AddMinor(a, b int64) (int64, error) {
	s := a + b
	// Overflow happened iff both operands have the same sign and the sum's sign differs.
	if (a >= 0) == (b >= 0) && (s >= 0) != (a >= 0) {
		return 0, ErrAmountOutOfRange.Withf("the sum of %d and %d minor units is out of range", a, b)
	}
	return s, nil
}

// SubMinor returns a-b, or AMOUNT_OUT_OF_RANGE on overflow.
func SubMinor(a, b int64) (int64, error) {
	if b == math.MinInt64 {
		if a >= 0 {
			return 0, ErrAmountOutOfRange.Withf("the difference of %d and %d minor units is out of range", a, b)
		}
		return a - b, nil
	}
	return AddMinor(a, -b)
}

// SumMinor adds the values, checking every step for overflow.
func SumMinor(vs ...int64) (int64, error) {
	var s int64
	for _, v := range vs {
		var err error
		if s, err = AddMinor(s, v); err != nil {
			return 0, err
		}
	}
	return s, nil
}

// Add returns a+b; both must be in the same currency.
func (a Amount) Add(b Amount) (Amount, error) {
	if a.Currency != b.Currency {
		return Amount{}, ErrCurrencyMismatch.Withf("cannot add %s to %s", b.Currency, a.Currency)
	}
	s, err := AddMinor(a.Minor, b.Minor)
	if err != nil {
		return Amount{}, err
	}
	return Amount{Minor: s, Currency: a.Currency}, nil
}

// Sub returns a-b; both must be in the same currency.
func (a Amount) Sub(b Amount) (Amount, error) {
	if a.Currency != b.Currency {
		return Amount{}, ErrCurrencyMismatch.Withf("cannot subtract %s from %s", b.Currency, a.Currency)
	}
	d, err := SubMinor(a.Minor, b.Minor)
	if err != nil {
		return Amount{}, err
	}
	return Amount{Minor: d, Currency: a.Currency}, nil
}

// Neg returns -a; the most negative int64 has no negation.
func (a Amount) Neg() (Amount, error) {
	if a.Minor == math.MinInt64 {
		return Amount{}, ErrAmountOutOfRange
	}
	return Amount{Minor: -a.Minor, Currency: a.Currency}, nil
}

// String formats the amount like FormatMinor.
func (a Amount) String() string { return FormatMinor(a.Minor, a.Currency) }

// FormatMinor formats minor units of c as a decimal with the currency's digits and its code,
// e.g. "1234.50 EUR", "-0.05 USD", "1500 JPY", for error metadata and messages.
func FormatMinor(minor int64, c Currency) string {
	exp := max(c.Exponent(), 0)
	sign := ""
	// Work on the unsigned magnitude so that the most negative int64 formats too.
	mag := uint64(minor)
	if minor < 0 {
		sign = "-"
		mag = -mag
	}
	digits := strconv.FormatUint(mag, 10)
	if exp > 0 {
		if len(digits) <= exp {
			digits = strings.Repeat("0", exp-len(digits)+1) + digits
		}
		digits = digits[:len(digits)-exp] + "." + digits[len(digits)-exp:]
	}
	return fmt.Sprintf("%s%s %s", sign, digits, c)
}

// UnitsSQL is an SQL expression, spoken by both engines, of the whole currency units of the amount
// stored as minor units in the column minor and its currency code in the column currency: what a
// filter on google.type.Money's units compares. The divisor follows each row's currency — 100 for
// EUR, 1 for JPY, 1000 for BHD — and the division truncates toward zero on both engines, as units
// do. A currency not in the table counts as two decimals, the most common.
func UnitsSQL(minor, currency string) string {
	byExp := map[int][]string{}
	for c, e := range currencyExponents {
		if e != 2 {
			byExp[e] = append(byExp[e], "'"+string(c)+"'")
		}
	}
	exps := make([]int, 0, len(byExp))
	for e := range byExp {
		exps = append(exps, e)
	}
	slices.Sort(exps)
	var b strings.Builder
	b.WriteString("(CASE")
	for _, e := range exps {
		slices.Sort(byExp[e])
		fmt.Fprintf(&b, " WHEN %s IN (%s) THEN %s", currency, strings.Join(byExp[e], ", "), minor)
		if e > 0 {
			fmt.Fprintf(&b, " / %d", pow10[e])
		}
	}
	fmt.Fprintf(&b, " ELSE %s / 100 END)", minor)
	return b.String()
}
