package money

import (
	"errors"
	"math/big"
)

// Calc is checked arithmetic on minor units for a computation of many steps (the figures of a
// summary, a roll-up): each operation returns its result, and the first overflow is kept and
// reported by Err as FIGURE_OUT_OF_RANGE; results after an overflow are meaningless and must not
// be shown. The zero value is ready to use.
type Calc struct{ err error }

// Err returns the first overflow of the computation, or nil.
func (c *Calc) Err() error { return c.err }

func (c *Calc) fail() {
	if c.err == nil {
		c.err = ErrFigureOutOfRange
	}
}

// Add returns a+b.
func (c *Calc) Add(a, b int64) int64 {
	s, err := AddMinor(a, b)
	if err != nil {
		c.fail()
	}
	return s
}

// Sub returns a-b.
func (c *Calc) Sub(a, b int64) int64 {
	d, err := SubMinor(a, b)
	if err != nil {
		c.fail()
	}
	return d
}

// Sum returns the sum of vs, checked at every step.
func (c *Calc) Sum(vs ...int64) int64 {
	var s int64
	for _, v := range vs {
		s = c.Add(s, v)
	}
	return s
}

// Int64 returns v, which must fit in an int64.
func (c *Calc) Int64(v *big.Int) int64 {
	if !v.IsInt64() {
		c.fail()
		return 0
	}
	return v.Int64()
}

// Figure maps an overflow of amounts (AMOUNT_OUT_OF_RANGE from AddMinor, SubMinor, Convert) met
// while computing a figure to FIGURE_OUT_OF_RANGE: the client sent no amount that was out of
// range, a figure of what is recorded is. Other errors are returned as they are.
func Figure(err error) error {
	if errors.Is(err, ErrAmountOutOfRange) {
		return ErrFigureOutOfRange
	}
	return err
}
