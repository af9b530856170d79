package domain

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// FieldPhasingAmounts is the request path that phasing violations name.
const FieldPhasingAmounts = "budget_line.phasing.amounts"

// splitEven divides total into n parts that differ by at most one minor unit, the remainder one
// each to the earliest parts. total must be ≥ 0.
func splitEven(total int64, n int) []int64 {
	out := make([]int64, n)
	q, r := total/int64(n), total%int64(n)
	for i := range out {
		out[i] = q
		if int64(i) < r {
			out[i]++
		}
	}
	return out
}

// EvenPhasing spreads total over the 12 months evenly: the default phasing of a line.
func EvenPhasing(total int64) Phasing {
	return Phasing{Granularity: Monthly, Amounts: splitEven(total, Periods)}
}

// evenPhasingLike spreads total evenly in granularity g (monthly when g is unset).
func evenPhasingLike(g Granularity, total int64) Phasing {
	if g == Quarterly {
		return Phasing{Granularity: Quarterly, Amounts: splitEven(total, Quarters)}
	}
	return EvenPhasing(total)
}

// Clone returns a deep copy, so that changes of the copy never reach the original's slice.
func (p Phasing) Clone() Phasing {
	return Phasing{Granularity: p.Granularity, Amounts: slices.Clone(p.Amounts)}
}

func (p Phasing) wantLen() int {
	switch p.Granularity {
	case Monthly:
		return Periods
	case Quarterly:
		return Quarters
	}
	return -1
}

// Validate checks that the phasing has 12 monthly or 4 quarterly amounts, none negative,
// summing exactly to total. The first broken rule is returned as its specific reason on
// budget_line.phasing.amounts.
func (p Phasing) Validate(total int64) error {
	n := p.wantLen()
	if n < 0 || len(p.Amounts) != n {
		return ErrPhasingLength.With("count", strconv.Itoa(len(p.Amounts))).OnField(FieldPhasingAmounts,
			fmt.Sprintf("phasing needs 12 monthly or 4 quarterly amounts, got %d", len(p.Amounts)))
	}
	var sum int64
	for i, a := range p.Amounts {
		if a < 0 {
			return ErrPhasingNegative.OnField(FieldPhasingAmounts, fmt.Sprintf("amount %d is negative", i+1))
		}
		var err error
		if sum, err = money.AddMinor(sum, a); err != nil {
			return fault.OnField(err, FieldPhasingAmounts)
		}
	}
	if sum != total {
		return ErrPhasingSumMismatch.With("sum", strconv.FormatInt(sum, 10)).With("planned", strconv.FormatInt(total, 10)).
			OnField(FieldPhasingAmounts, fmt.Sprintf("phasing sums to %d minor units, planned is %d", sum, total))
	}
	return nil
}

// Monthly returns the planned amount of each of the 12 periods; a quarterly amount is split
// evenly over its three months, the remainder to the earliest.
func (p Phasing) Monthly() [Periods]int64 {
	var out [Periods]int64
	switch p.Granularity {
	case Quarterly:
		for q := 0; q < Quarters && q < len(p.Amounts); q++ {
			copy(out[q*3:], splitEven(p.Amounts[q], 3))
		}
	default:
		copy(out[:], p.Amounts)
	}
	return out
}

// index is the slot of a period (1–12): the month, or its quarter for quarterly phasing.
func (p Phasing) index(period int) int {
	if p.Granularity == Quarterly {
		return Quarter(period) - 1
	}
	return period - 1
}

// Take removes amount from the phasing for a transfer effective in period: from that period's
// slot first, then from later slots in order; earlier periods are history and keep their plan.
// It returns the new phasing, leaving p untouched, or INSUFFICIENT_PLANNED when the slots from
// the period on hold less than amount.
func (p Phasing) Take(period int, amount int64) (Phasing, error) {
	if period < 1 || period > Periods || amount < 0 {
		return Phasing{}, fmt.Errorf("phasing take: period %d, amount %d out of range", period, amount)
	}
	out := p.Clone()
	from := p.index(period)
	var avail int64
	for _, a := range out.Amounts[from:] {
		avail += a
	}
	if avail < amount {
		return Phasing{}, ErrInsufficientPlanned.With("period", strconv.Itoa(period)).
			With("planned_from_period_minor", strconv.FormatInt(avail, 10)).With("requested_minor", strconv.FormatInt(amount, 10))
	}
	for i := from; i < len(out.Amounts) && amount > 0; i++ {
		t := min(out.Amounts[i], amount)
		out.Amounts[i] -= t
		amount -= t
	}
	return out, nil
}

// Add adds amount to the slot of period (its month or quarter), returning a new phasing.
func (p Phasing) Add(period int, amount int64) Phasing {
	out := p.Clone()
	if i := p.index(period); i >= 0 && i < len(out.Amounts) {
		out.Amounts[i] += amount
	}
	return out
}

// Sum is the total of the amounts (unchecked; Validate checks overflow).
func (p Phasing) Sum() int64 {
	var s int64
	for _, a := range p.Amounts {
		s += a
	}
	return s
}
