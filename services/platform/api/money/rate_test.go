package money

import (
	"errors"
	"math/big"
	"math/rand/v2"
	"testing"
)

func TestParseRate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1.0845", "1.0845"},
		{"1.084500", "1.0845"},
		{"001.50", "1.5"},
		{"150", "150"},
		{"150.000", "150"},
		{"0.000000001", "0.000000001"},
		{"999999999999.999999999", "999999999999.999999999"},
		{"1.0000000000", "1"}, // trailing zeros are not significant
		{"0", ""}, {"0.000", ""}, {"", ""}, {"1.", ""}, {".5", ""}, {"-1", ""}, {"+1", ""},
		{"1e3", ""}, {"1,5", ""}, {" 1", ""}, {"1000000000000", ""}, {"0.0000000001", ""},
	}
	for _, tt := range tests {
		got, v, err := ParseRate(tt.in)
		if tt.want == "" {
			if !errors.Is(err, ErrRateInvalid) {
				t.Errorf("ParseRate(%q) = %q, %v; want RATE_INVALID", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want || v.RatString() != new(big.Rat).SetFrac(v.Num(), v.Denom()).RatString() {
			t.Errorf("ParseRate(%q) = %q, %v, %v; want %q", tt.in, got, v, err, tt.want)
		}
		if w, _ := new(big.Rat).SetString(tt.want); v.Cmp(w) != 0 {
			t.Errorf("ParseRate(%q) value = %v", tt.in, v)
		}
	}
}

func TestConvert(t *testing.T) {
	for _, tt := range []struct {
		a    Amount
		rate string
		want Amount
	}{
		{Amount{10000, "EUR"}, "1.0845", Amount{10845, "USD"}},
		{Amount{1, "EUR"}, "1.5", Amount{2, "USD"}},    // 1.5 → 2 (even)
		{Amount{1, "EUR"}, "2.5", Amount{2, "USD"}},    // 2.5 → 2 (even)
		{Amount{1, "EUR"}, "3.5", Amount{4, "USD"}},    // 3.5 → 4
		{Amount{-1, "EUR"}, "2.5", Amount{-2, "USD"}},  // -2.5 → -2
		{Amount{-1, "EUR"}, "1.5", Amount{-2, "USD"}},  // -1.5 → -2
		{Amount{-1, "EUR"}, "1.49", Amount{-1, "USD"}}, // -1.49 → -1
		{Amount{10000, "EUR"}, "160.5", Amount{16050, "JPY"}},
		{Amount{1, "EUR"}, "160.5", Amount{2, "JPY"}},             // 1.605 JPY → 2
		{Amount{16050, "JPY"}, "0.0062305", Amount{10000, "EUR"}}, // 100.00 EUR
		{Amount{1, "JPY"}, "0.0025", Amount{2, "BHD"}},            // 2.5 fils → 2
		{Amount{1, "JPY"}, "0.0035", Amount{4, "BHD"}},            // 3.5 fils → 4
		{Amount{1000, "BHD"}, "2.65", Amount{265, "USD"}},         // 1.000 BHD → 2.65 USD
		{Amount{1, "BHD"}, "2.65", Amount{0, "USD"}},              // 0.00265 USD → 0
		{Amount{5, "BHD"}, "1", Amount{0, "USD"}},                 // 0.005 → 0 (even)
		{Amount{15, "BHD"}, "1", Amount{2, "USD"}},                // 0.015 → 0.02 (even)
	} {
		got, err := Convert(tt.a, rat(tt.rate), tt.want.Currency)
		if err != nil || got != tt.want.Minor {
			t.Errorf("Convert(%v × %s → %s) = %d, %v; want %d", tt.a, tt.rate, tt.want.Currency, got, err, tt.want.Minor)
		}
	}
	if _, err := Convert(Amount{1 << 62, "JPY"}, rat("1000"), "EUR"); !errors.Is(err, ErrAmountOutOfRange) {
		t.Errorf("overflowing Convert err = %v", err)
	}
}

// TestConvertProperty checks Convert against a big.Rat reference: the result is within half a
// minor unit of the exact value, and exact ties go to the even neighbour.

func TestConvertProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	curs := []Currency{"EUR", "JPY", "BHD", "USD", "KWD", "CLP"}
	for range 20000 {
		src, dst := curs[r.IntN(len(curs))], curs[r.IntN(len(curs))]
		minor := r.Int64N(2_000_000_000) - 1_000_000_000
		rate := new(big.Rat).SetFrac(big.NewInt(r.Int64N(1_000_000_000_000)+1), big.NewInt(1_000_000_000))
		got, err := Convert(Amount{minor, src}, rate, dst)
		if err != nil {
			t.Fatal(err)
		}
		exact := new(big.Rat).SetInt64(minor)
		exact.Mul(exact, rate)
		exact.Mul(exact, new(big.Rat).SetFrac(big.NewInt(pow10[dst.Exponent()]), big.NewInt(pow10[src.Exponent()])))
		diff := new(big.Rat).Sub(new(big.Rat).SetInt64(got), exact)
		half := big.NewRat(1, 2)
		switch c := new(big.Rat).Abs(diff).Cmp(half); {
		case c > 0:
			t.Fatalf("Convert(%d %s × %s → %s) = %d, exact %s", minor, src, rate.FloatString(9), dst, got, exact.FloatString(6))
		case c == 0 && got%2 != 0:
			t.Fatalf("tie Convert(%d %s × %s → %s) = %d is odd", minor, src, rate.FloatString(9), dst, got)
		}
	}
}

func TestDivRoundHalfEven(t *testing.T) {
	tests := []struct{ n, d, want int64 }{
		{7, 2, 4}, {5, 2, 2}, {-5, 2, -2}, {-7, 2, -4}, {-3, 2, -2}, {3, 2, 2},
		{10, 3, 3}, {-10, 3, -3}, {11, 3, 4}, {-11, 3, -4}, {5, -2, -2}, {-5, -2, 2},
		{1, 4, 0}, {-1, 4, 0}, {3, 4, 1}, {-3, 4, -1}, {0, 7, 0},
		{-9223372036854775808, -1, 9223372036854775807},
	}
	for _, tt := range tests {
		if got := DivRoundHalfEven(tt.n, tt.d); got != tt.want {
			t.Errorf("DivRoundHalfEven(%d, %d) = %d, want %d", tt.n, tt.d, got, tt.want)
		}
	}
}

func rat(s string) *big.Rat {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		panic(s)
	}
	return r
}
