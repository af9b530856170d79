package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"
)

// Search finds the highest rate whose p99 stays under a limit with no errors.
type Search struct {
	Start    float64       // first rate tried
	Max      float64       // never try above this
	P99Limit time.Duration // e.g. 100ms
	Step     float64       // growth factor while passing (e.g. 1.5); then bisect between last pass and first fail
	Bisect   int           // number of bisection steps after the first failure (e.g. 3)
}

// Pass reports whether r meets the search's bar: no errors, p99 under the limit and at least one
// successful request.
func (s Search) Pass(r Result) bool {
	return r.Errors == 0 && r.P99 < s.P99Limit && r.OK > 0
}

func (s Search) validate() error {
	finite := func(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
	switch {
	case !finite(s.Start) || s.Start <= 0:
		return fmt.Errorf("start rate %v: must be a positive number", s.Start)
	case !finite(s.Max) || s.Max < s.Start:
		return fmt.Errorf("max rate %v: must be a number no less than the start rate %v", s.Max, s.Start)
	case !finite(s.Step) || s.Step <= 1:
		return fmt.Errorf("step %v: must be a number above 1", s.Step)
	case s.Bisect < 0:
		return fmt.Errorf("bisect %d: must not be negative", s.Bisect)
	case s.P99Limit <= 0:
		return fmt.Errorf("p99 limit %v: must be positive", s.P99Limit)
	}
	return nil
}

// Run calls measure for each tried rate, in order, and returns the best passing result (zero
// Result with ok=false if even Start fails) and every result tried. Rates grow from Start by Step
// while they pass, capped at Max (reaching Max and passing ends the search); after the first
// failure Run bisects Bisect times between the last pass and the first fail. An error from
// measure or a cancelled context ends the search, returning what was found so far with the error.
func (s Search) Run(ctx context.Context, measure func(ctx context.Context, rate float64) (Result, error)) (best Result, ok bool, tried []Result, err error) {
	if err := s.validate(); err != nil {
		return Result{}, false, nil, fmt.Errorf("rate search: %w", err)
	}
	if measure == nil {
		return Result{}, false, nil, errors.New("rate search: nil measure")
	}
	try := func(rate float64) (bool, error) {
		if err := ctx.Err(); err != nil {
			return false, fmt.Errorf("rate search at %v/s: %w", rate, err)
		}
		r, err := measure(ctx, rate)
		if err != nil {
			return false, fmt.Errorf("rate search at %v/s: %w", rate, err)
		}
		tried = append(tried, r)
		if !s.Pass(r) {
			return false, nil
		}
		best, ok = r, true
		return true, nil
	}

	// Grow while passing.
	lo, hi := 0.0, 0.0
	for rate := s.Start; ; rate = math.Min(rate*s.Step, s.Max) {
		pass, err := try(rate)
		if err != nil {
			return best, ok, tried, err
		}
		if !pass {
			hi = rate
			break
		}
		lo = rate
		if rate >= s.Max {
			return best, ok, tried, nil
		}
	}
	if !ok {
		return Result{}, false, tried, nil
	}

	// Bisect between the last pass and the first fail.
	for range s.Bisect {
		mid := (lo + hi) / 2
		pass, err := try(mid)
		if err != nil {
			return best, ok, tried, err
		}
		if pass {
			lo = mid
		} else {
			hi = mid
		}
	}
	return best, ok, tried, nil
}
