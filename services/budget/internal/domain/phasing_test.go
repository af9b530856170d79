package domain

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestEvenPhasing(t *testing.T) {
	p := EvenPhasing(100)
	want := []int64{9, 9, 9, 9, 8, 8, 8, 8, 8, 8, 8, 8}
	if p.Granularity != Monthly || !slices.Equal(p.Amounts, want) {
		t.Errorf("EvenPhasing(100) = %+v", p)
	}
	if err := p.Validate(100); err != nil {
		t.Error(err)
	}
	if p := EvenPhasing(0); p.Sum() != 0 || len(p.Amounts) != 12 {
		t.Errorf("EvenPhasing(0) = %+v", p)
	}
}

func TestPhasingValidate(t *testing.T) {
	tests := []struct {
		name  string
		p     Phasing
		total int64
		err   error
	}{
		{"quarterly ok", Phasing{Quarterly, []int64{10, 20, 30, 40}}, 100, nil},
		{"monthly ok", Phasing{Monthly, []int64{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 100}}, 100, nil},
		{"wrong sum", Phasing{Quarterly, []int64{10, 20, 30, 39}}, 100, ErrPhasingSumMismatch},
		{"negative", Phasing{Quarterly, []int64{-10, 40, 30, 40}}, 100, ErrPhasingNegative},
		{"12 quarterly", Phasing{Quarterly, make([]int64, 12)}, 0, ErrPhasingLength},
		{"4 monthly", Phasing{Monthly, make([]int64, 4)}, 0, ErrPhasingLength},
		{"no granularity", Phasing{0, make([]int64, 12)}, 0, ErrPhasingLength},
		{"overflow", Phasing{Quarterly, []int64{1 << 62, 1 << 62, 0, 0}}, 0, ErrAmountOutOfRange},
	}
	for _, tt := range tests {
		err := tt.p.Validate(tt.total)
		if !errors.Is(err, tt.err) || (err == nil) != (tt.err == nil) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.err)
			continue
		}
		if err != nil {
			if v := violations(t, err); len(v) != 1 || v[0] != "budget_line.phasing.amounts:"+asFault(tt.err).Reason {
				t.Errorf("%s: violations = %v", tt.name, v)
			}
		}
	}
}

func TestMonthly(t *testing.T) {
	p := Phasing{Quarterly, []int64{100, 3, 0, 5}}
	want := [12]int64{34, 33, 33, 1, 1, 1, 0, 0, 0, 2, 2, 1}
	if got := p.Monthly(); got != want {
		t.Errorf("Monthly = %v, want %v", got, want)
	}
}

func TestTakeAdd(t *testing.T) {
	m := Phasing{Monthly, []int64{10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10}}
	got, err := m.Take(3, 25)
	if err != nil || !slices.Equal(got.Amounts, []int64{10, 10, 0, 0, 5, 10, 10, 10, 10, 10, 10, 10}) {
		t.Errorf("Take(3, 25) = %v, %v", got.Amounts, err)
	}
	if m.Amounts[2] != 10 {
		t.Error("Take changed its receiver")
	}
	if _, err := m.Take(12, 11); !errors.Is(err, ErrInsufficientPlanned) || asFault(err).Metadata["planned_from_period_minor"] != "10" {
		t.Errorf("Take(12, 11) err = %v", err)
	}
	if got, err := m.Take(1, 120); err != nil || got.Sum() != 0 {
		t.Errorf("Take everything = %v %v", got, err)
	}
	q := Phasing{Quarterly, []int64{30, 0, 30, 30}}
	got, err = q.Take(5, 40) // Q2 is empty, so Q3 then Q4
	if err != nil || !slices.Equal(got.Amounts, []int64{30, 0, 0, 20}) {
		t.Errorf("quarterly Take(5, 40) = %v, %v", got.Amounts, err)
	}
	if _, err := q.Take(4, 61); !errors.Is(err, ErrInsufficientPlanned) {
		t.Errorf("quarterly Take(4, 61) err = %v", err)
	}
	if a := q.Add(8, 7); !slices.Equal(a.Amounts, []int64{30, 0, 37, 30}) || q.Amounts[2] != 30 {
		t.Errorf("Add(8, 7) = %v", a.Amounts)
	}
	if a := m.Add(12, 1); a.Amounts[11] != 11 {
		t.Errorf("Add(12, 1) = %v", a.Amounts)
	}
}

// TestTakeAddConserves moves random amounts between random phasings: totals are conserved and no
// amount ever turns negative or moves before the effective period.
func TestTakeAddConserves(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		g := Granularity(r.IntN(2) + 1)
		src := evenPhasingLike(g, r.Int64N(1_000_000))
		dst := evenPhasingLike(Granularity(r.IntN(2)+1), r.Int64N(1_000_000))
		period := r.IntN(12) + 1
		amount := r.Int64N(600_000)
		before := src.Sum() + dst.Sum()
		taken, err := src.Take(period, amount)
		if err != nil {
			if !errors.Is(err, ErrInsufficientPlanned) {
				t.Fatal(err)
			}
			continue
		}
		added := dst.Add(period, amount)
		if taken.Sum()+added.Sum() != before || taken.Sum() != src.Sum()-amount {
			t.Fatalf("not conserved: %v → %v, %v → %v", src, taken, dst, added)
		}
		for i, a := range taken.Amounts {
			if a < 0 || (i < src.index(period) && a != src.Amounts[i]) {
				t.Fatalf("Take(%d, %d) of %v = %v", period, amount, src.Amounts, taken.Amounts)
			}
		}
	}
}
