package money

import (
	"errors"
	"math"
	"math/big"
	"testing"
)

func TestCalc(t *testing.T) {
	var c Calc
	if got := c.Sum(1, 2, -3, 40); got != 40 || c.Err() != nil {
		t.Fatalf("Sum = %d, %v; want 40", got, c.Err())
	}
	if got := c.Sub(math.MinInt64+1, 1); got != math.MinInt64 || c.Err() != nil {
		t.Fatalf("Sub to MinInt64 = %d, %v", got, c.Err())
	}
	// Two amounts of 92,233,720,368,547,758 EUR summed wrapped to -0.16 EUR before checks.
	c.Add(9_223_372_036_854_775_800, 9_223_372_036_854_775_800)
	if !errors.Is(c.Err(), ErrFigureOutOfRange) {
		t.Fatalf("Err after an overflowing Add = %v; want FIGURE_OUT_OF_RANGE", c.Err())
	}
	var d Calc
	d.Sub(math.MinInt64, 1)
	if !errors.Is(d.Err(), ErrFigureOutOfRange) {
		t.Errorf("Err after an overflowing Sub = %v", d.Err())
	}
	var e Calc
	e.Int64(new(big.Int).Lsh(big.NewInt(1), 63))
	if !errors.Is(e.Err(), ErrFigureOutOfRange) {
		t.Errorf("Err after Int64 of 2^63 = %v", e.Err())
	}
	if !errors.Is(Figure(ErrAmountOutOfRange.Withf("x")), ErrFigureOutOfRange) || Figure(nil) != nil {
		t.Errorf("Figure does not map AMOUNT_OUT_OF_RANGE")
	}
}
