package money

import (
	"fmt"
	"math"
	"math/big"
	"strings"
)

// Limits of an exchange rate's decimal value.
const (
	maxRateIntDigits  = 12
	maxRateFracDigits = 9
)

// ParseRate checks a decimal rate ("1.0845", "0.0061", "150") and returns its canonical form
// (no leading zeros in the integer part, no trailing zeros after the point, no point without a
// fraction) and its exact value. The rate must be > 0 with at most 12 integer and 9 fractional
// significant digits; signs, exponents and separators are refused so that one value has one
// spelling.
func ParseRate(s string) (canonical string, value *big.Rat, err error) {
	intPart, frac, hasPoint := strings.Cut(s, ".")
	if intPart == "" || !allDigits(intPart) || !allDigits(frac) || (hasPoint && frac == "") {
		return "", nil, ErrRateInvalid.With("rate", s)
	}
	intPart = strings.TrimLeft(intPart, "0")
	frac = strings.TrimRight(frac, "0")
	if len(intPart) > maxRateIntDigits || len(frac) > maxRateFracDigits {
		return "", nil, ErrRateInvalid.With("rate", s)
	}
	if intPart == "" {
		intPart = "0"
	}
	canonical = intPart
	if frac != "" {
		canonical += "." + frac
	}
	value, ok := new(big.Rat).SetString(canonical)
	if !ok || value.Sign() <= 0 {
		return "", nil, ErrRateInvalid.With("rate", s)
	}
	return canonical, value, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Convert returns a × rate in minor units of target, exact until one final rounding half to
// even. The currencies' exponents are accounted for: 100.00 EUR (10000 minor) at 160.5 JPY per EUR
// is 16050 JPY; 1 JPY at 0.0025 BHD per JPY is 2.5 fils, rounded to 2 (0.002 BHD).
// A result beyond int64 is AMOUNT_OUT_OF_RANGE.
func Convert(a Amount, rate *big.Rat, target Currency) (int64, error) {
	es, et := a.Currency.Exponent(), target.Exponent()
	if es < 0 {
		return 0, ErrCurrencyUnsupported.With("currency", string(a.Currency))
	}
	if et < 0 {
		return 0, ErrCurrencyUnsupported.With("currency", string(target))
	}
	if rate == nil || rate.Sign() <= 0 {
		return 0, fmt.Errorf("convert %s to %s: rate must be positive, got %v", a, target, rate)
	}
	// minor_t = minor_s / 10^es × rate × 10^et
	num := new(big.Int).Mul(big.NewInt(a.Minor), rate.Num())
	num.Mul(num, big.NewInt(pow10[et]))
	den := new(big.Int).Mul(rate.Denom(), big.NewInt(pow10[es]))
	q := RoundHalfEven(num, den)
	if !q.IsInt64() {
		return 0, ErrAmountOutOfRange.Withf("%s converted to %s is out of range", a, target)
	}
	return q.Int64(), nil
}

// RoundHalfEven returns num/den rounded to the nearest integer, ties to the even one. den > 0.
func RoundHalfEven(num, den *big.Int) *big.Int {
	q, m := new(big.Int), new(big.Int)
	// Euclidean division: q = floor(num/den) for den > 0 and 0 ≤ m < den, so the fraction m/den
	// is measured the same way for negative and positive values.
	q.DivMod(num, den, m)
	switch m.Lsh(m, 1).Cmp(den) {
	case 1:
		q.Add(q, big.NewInt(1))
	case 0:
		if q.Bit(0) == 1 {
			q.Add(q, big.NewInt(1))
		}
	}
	return q
}

// DivRoundHalfEven returns num/den rounded half to even, exactly for every int64 input. den must
// not be 0. A quotient beyond int64 saturates (only MinInt64 / -1 can).
func DivRoundHalfEven(num, den int64) int64 {
	n, d := big.NewInt(num), big.NewInt(den)
	if den < 0 {
		n.Neg(n)
		d.Neg(d)
	}
	return Saturate(RoundHalfEven(n, d))
}

// Saturate clamps v to the int64 range.
func Saturate(v *big.Int) int64 {
	if v.IsInt64() {
		return v.Int64()
	}
	if v.Sign() > 0 {
		return math.MaxInt64
	}
	return math.MinInt64
}
