package money

import (
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	moneypb "google.golang.org/genproto/googleapis/type/money"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

func reason(err error) string {
	if err == nil {
		return ""
	}
	return fault.As(err).Reason
}

// roundTrips are amounts that convert both ways between the parts of a google.type.Money and an
// Amount, and how they print.
var roundTrips = []struct {
	units int64
	nanos int32
	a     Amount
	text  string
}{
	{1234, 500_000_000, Amount{123450, "EUR"}, "1234.50 EUR"},
	{-1, -50_000_000, Amount{-105, "EUR"}, "-1.05 EUR"},
	{0, -10_000_000, Amount{-1, "EUR"}, "-0.01 EUR"},
	{0, -50_000_000, Amount{-5, "USD"}, "-0.05 USD"},
	{-1, -50_000_000, Amount{-105, "USD"}, "-1.05 USD"},
	{1500, 0, Amount{1500, "JPY"}, "1500 JPY"},
	{2, 345_000_000, Amount{2345, "BHD"}, "2.345 BHD"},
	{0, 7_000_000, Amount{7, "BHD"}, "0.007 BHD"},
	{0, 0, Amount{0, "EUR"}, "0.00 EUR"},
	{MaxUnits, 990_000_000, Amount{99_999_999_999_999_999, "EUR"}, "999999999999999.99 EUR"},
	{-MaxUnits, -999_000_000, Amount{-999_999_999_999_999_999, "BHD"}, "-999999999999999.999 BHD"},
}

// TestMoneyOfStoredExtremes: a stored amount or a figure beyond the API's bound still converts
// and prints exactly, to the ends of the int64 range.
func TestMoneyOfStoredExtremes(t *testing.T) {
	for _, tt := range []struct {
		a     Amount
		units int64
		nanos int32
		text  string
	}{
		{Amount{math.MaxInt64 / 100 * 100, "EUR"}, math.MaxInt64 / 100, 0, "92233720368547758.00 EUR"},
		{Amount{math.MinInt64, "EUR"}, math.MinInt64 / 100, -80_000_000, "-92233720368547758.08 EUR"},
	} {
		if u, n, _ := tt.a.Money(); u != tt.units || n != tt.nanos {
			t.Errorf("%+v.Money() = %d %d, want %d %d", tt.a, u, n, tt.units, tt.nanos)
		}
		if s := tt.a.String(); s != tt.text {
			t.Errorf("%+v.String() = %q, want %q", tt.a, s, tt.text)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tt := range roundTrips {
		code := string(tt.a.Currency)
		if got, err := FromParts(tt.units, tt.nanos, code, ""); err != nil || got != tt.a {
			t.Errorf("FromParts(%d, %d, %q) = %+v, %v; want %+v", tt.units, tt.nanos, code, got, err, tt.a)
		}
		if u, n, c := tt.a.Money(); u != tt.units || n != tt.nanos || c != code {
			t.Errorf("%+v.Money() = %d %d %s, want %d %d %s", tt.a, u, n, c, tt.units, tt.nanos, code)
		}
		if s := FormatMinor(tt.a.Minor, tt.a.Currency); s != tt.text {
			t.Errorf("FormatMinor(%+v) = %q, want %q", tt.a, s, tt.text)
		}
	}
}

func TestFromPartsFallsBackToTheRequestCurrency(t *testing.T) {
	if got, err := FromParts(1234, 500_000_000, "", "USD"); err != nil || got != (Amount{123450, "USD"}) {
		t.Errorf("FromParts(1234, 500000000, \"\", USD) = %+v, %v; want 1234.50 USD", got, err)
	}
	if _, err := FromParts(1, 0, "", ""); reason(err) != "CURRENCY_UNSUPPORTED" {
		t.Errorf("FromParts without any currency: error = %v, want CURRENCY_UNSUPPORTED", err)
	}
}

// TestFromPartsRefuses lists parts that are no amount, with the reason of each.
func TestFromPartsRefuses(t *testing.T) {
	for _, tt := range []struct {
		units        int64
		nanos        int32
		code, reason string
	}{
		{1, 500_000_000, "JPY", "AMOUNT_TOO_PRECISE"},
		{1, 5_000_000, "EUR", "AMOUNT_TOO_PRECISE"},
		{1, 1, "EUR", "AMOUNT_TOO_PRECISE"},
		{2, 345_600_000, "BHD", "AMOUNT_TOO_PRECISE"},
		{1, -1, "EUR", "AMOUNT_SIGN_MISMATCH"},
		{-1, 10_000_000, "EUR", "AMOUNT_SIGN_MISMATCH"},
		{1, 1_000_000_000, "EUR", "AMOUNT_OUT_OF_RANGE"},
		{math.MaxInt64/100 + 1, 0, "EUR", "AMOUNT_OUT_OF_RANGE"},
		{math.MaxInt64 / 100, 990_000_000, "EUR", "AMOUNT_OUT_OF_RANGE"},
		{math.MinInt64, 0, "JPY", "AMOUNT_OUT_OF_RANGE"},
		// The documented bound: at most MaxUnits whole units, in either sign, in any currency.
		{MaxUnits + 1, 0, "JPY", "AMOUNT_OUT_OF_RANGE"},
		{-MaxUnits - 1, 0, "EUR", "AMOUNT_OUT_OF_RANGE"},
		{92_233_720_368_547_758, 0, "EUR", "AMOUNT_OUT_OF_RANGE"}, // the amount of issue 20's attack
		{1, 0, "XXX", "CURRENCY_UNSUPPORTED"},
		{1, 0, "eur", "CURRENCY_UNSUPPORTED"},
	} {
		if _, err := FromParts(tt.units, tt.nanos, tt.code, ""); reason(err) != tt.reason {
			t.Errorf("FromParts(%d, %d, %q) error = %v, want %s", tt.units, tt.nanos, tt.code, err, tt.reason)
		}
	}
}

func TestParseCurrency(t *testing.T) {
	for code, exp := range map[string]int{"EUR": 2, "JPY": 0, "BHD": 3, "KWD": 3, "CLP": 0, "ISK": 0, "KRW": 0, "TND": 3} {
		c, err := ParseCurrency(code)
		if err != nil || c.Exponent() != exp {
			t.Errorf("ParseCurrency(%s) = %v, %v exponent %d; want exponent %d", code, c, err, c.Exponent(), exp)
		}
	}
	_, err := ParseCurrency("ABC")
	if !errors.Is(err, ErrCurrencyUnsupported) || fault.As(err).Metadata["currency"] != "ABC" {
		t.Errorf("ParseCurrency(ABC) = %v", err)
	}
}

func TestAddSubNeg(t *testing.T) {
	eur := func(m int64) Amount { return Amount{m, "EUR"} }
	if s, err := eur(150).Add(eur(-20)); err != nil || s != eur(130) {
		t.Errorf("Add = %v, %v", s, err)
	}
	if _, err := eur(math.MaxInt64).Add(eur(1)); !errors.Is(err, ErrAmountOutOfRange) {
		t.Errorf("overflow Add err = %v", err)
	}
	if _, err := eur(math.MinInt64).Add(eur(-1)); !errors.Is(err, ErrAmountOutOfRange) {
		t.Errorf("underflow Add err = %v", err)
	}
	if _, err := eur(1).Add(Amount{1, "USD"}); !errors.Is(err, ErrCurrencyMismatch) {
		t.Errorf("mixed Add err = %v", err)
	}
	if d, err := eur(-1).Sub(eur(math.MaxInt64)); err != nil || d.Minor != math.MinInt64 {
		t.Errorf("Sub to MinInt64 = %v, %v", d, err)
	}
	if _, err := eur(0).Sub(eur(math.MinInt64)); !errors.Is(err, ErrAmountOutOfRange) {
		t.Errorf("0 - MinInt64 err = %v", err)
	}
	if d, err := eur(-1).Sub(eur(math.MinInt64)); err != nil || d.Minor != math.MaxInt64 {
		t.Errorf("-1 - MinInt64 = %v, %v", d, err)
	}
	if _, err := eur(math.MinInt64).Neg(); !errors.Is(err, ErrAmountOutOfRange) {
		t.Errorf("Neg(MinInt64) err = %v", err)
	}
	if n, err := eur(42).Neg(); err != nil || n.Minor != -42 {
		t.Errorf("Neg = %v, %v", n, err)
	}
}

// TestAddProperty sums 10,000 random actual amounts through AddMinor and compares with big.Int.

func TestAddProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var sum int64
	want := new(big.Int)
	for range 10000 {
		v := r.Int64N(2_000_000_000_00) - 1_000_000_000_00
		var err error
		if sum, err = AddMinor(sum, v); err != nil {
			t.Fatal(err)
		}
		want.Add(want, big.NewInt(v))
	}
	if want.Int64() != sum || !want.IsInt64() {
		t.Fatalf("sum = %d, want %s", sum, want)
	}
	// Near the limits: overflow is detected exactly when big.Int leaves the int64 range.
	for range 10000 {
		a, b := int64(r.Uint64()), int64(r.Uint64())
		s, err := AddMinor(a, b)
		w := new(big.Int).Add(big.NewInt(a), big.NewInt(b))
		if w.IsInt64() != (err == nil) || (err == nil && s != w.Int64()) {
			t.Fatalf("AddMinor(%d, %d) = %d, %v; big %s", a, b, s, err, w)
		}
	}
}

func TestFromProtoFieldNamesTheField(t *testing.T) {
	t.Parallel()
	a, err := FromProtoField(&moneypb.Money{Units: 12, Nanos: 500_000_000}, "EUR", "contract.total_value")
	if err != nil || a.Minor != 1250 || a.Currency != "EUR" {
		t.Errorf("FromProtoField(12.50) = %v, %v; want 1250 EUR minor units", a, err)
	}
	_, err = FromProtoField(&moneypb.Money{CurrencyCode: "XXX", Units: 1}, "EUR", "contract.total_value")
	fe := fault.As(err)
	if fe == nil || len(fe.Violations) != 1 || fe.Violations[0].Field != "contract.total_value" ||
		!errors.Is(err, ErrCurrencyUnsupported) {
		t.Errorf("FromProtoField(XXX) = %v; want CURRENCY_UNSUPPORTED on contract.total_value", err)
	}
}
