package loadgen

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// synthetic has p99 grow with the rate (rate/10 ms) and fails every request above failAbove.
func synthetic(failAbove float64, calls *[]float64) func(context.Context, float64) (Result, error) {
	return func(_ context.Context, rate float64) (Result, error) {
		*calls = append(*calls, rate)
		r := Result{Rate: rate, Sent: 100, OK: 100, P99: time.Duration(rate / 10 * float64(time.Millisecond))}
		if rate > failAbove {
			r.OK, r.Errors = 0, 100
		}
		return r, nil
	}
}

func TestSearchGrowsThenBisects(t *testing.T) {
	var calls []float64
	s := Search{Start: 100, Max: 5000, P99Limit: 100 * time.Millisecond, Step: 1.5, Bisect: 3}
	best, ok, tried, err := s.Run(context.Background(), synthetic(730, &calls))
	if err != nil || !ok {
		t.Fatalf("ok %v err %v", ok, err)
	}
	// 100 150 225 337.5 506.25 pass, 759.375 fails; then 632.8125 696.09375 727.734375 all pass.
	want := []float64{100, 150, 225, 337.5, 506.25, 759.375, 632.8125, 696.09375, 727.734375}
	if !slices.Equal(calls, want) {
		t.Fatalf("tried rates %v, want %v", calls, want)
	}
	if len(tried) != len(want) {
		t.Fatalf("%d results, want %d", len(tried), len(want))
	}
	if best.Rate != 727.734375 {
		t.Errorf("best rate %v, want 727.734375", best.Rate)
	}
	for _, r := range tried {
		if s.Pass(r) && r.Rate > best.Rate {
			t.Errorf("passing rate %v above best %v", r.Rate, best.Rate)
		}
	}
}

func TestSearchNeverExceedsMax(t *testing.T) {
	var calls []float64
	s := Search{Start: 100, Max: 300, P99Limit: 100 * time.Millisecond, Step: 2, Bisect: 3}
	best, ok, _, err := s.Run(context.Background(), synthetic(730, &calls))
	if err != nil || !ok {
		t.Fatalf("ok %v err %v", ok, err)
	}
	if want := []float64{100, 200, 300}; !slices.Equal(calls, want) {
		t.Errorf("tried rates %v, want %v", calls, want)
	}
	if best.Rate != 300 {
		t.Errorf("best rate %v, want 300", best.Rate)
	}
}

func TestSearchP99LimitFails(t *testing.T) {
	// No errors below 10,000/s, but p99 reaches the 100ms limit at 1000/s.
	var calls []float64
	s := Search{Start: 400, Max: 5000, P99Limit: 100 * time.Millisecond, Step: 2, Bisect: 2}
	best, ok, _, err := s.Run(context.Background(), synthetic(10000, &calls))
	if err != nil || !ok {
		t.Fatalf("ok %v err %v", ok, err)
	}
	if want := []float64{400, 800, 1600, 1200, 1000}; !slices.Equal(calls, want) {
		t.Errorf("tried rates %v, want %v", calls, want)
	}
	if best.Rate != 800 {
		t.Errorf("best rate %v, want 800", best.Rate)
	}
}

func TestSearchStartFails(t *testing.T) {
	var calls []float64
	s := Search{Start: 1000, Max: 5000, P99Limit: 100 * time.Millisecond, Step: 1.5, Bisect: 3}
	best, ok, tried, err := s.Run(context.Background(), synthetic(730, &calls))
	if err != nil {
		t.Fatal(err)
	}
	if ok || best.Rate != 0 || best.OK != 0 || len(tried) != 1 || !slices.Equal(calls, []float64{1000}) {
		t.Errorf("ok %v best %+v tried %d calls %v", ok, best, len(tried), calls)
	}
}

func TestSearchStopsOnMeasureError(t *testing.T) {
	boom := errors.New("harness down")
	n := 0
	measure := func(_ context.Context, rate float64) (Result, error) {
		n++
		if n == 3 {
			return Result{}, boom
		}
		return Result{Rate: rate, OK: 1}, nil
	}
	s := Search{Start: 100, Max: 5000, P99Limit: time.Second, Step: 2, Bisect: 3}
	best, ok, tried, err := s.Run(context.Background(), measure)
	if !errors.Is(err, boom) || !ok || best.Rate != 200 || len(tried) != 2 {
		t.Errorf("err %v ok %v best %v tried %d", err, ok, best.Rate, len(tried))
	}
}

func TestSearchRejectsBadInput(t *testing.T) {
	measure := func(context.Context, float64) (Result, error) { return Result{}, nil }
	for name, s := range map[string]Search{
		"zero start":   {Max: 10, P99Limit: time.Second, Step: 2},
		"max below":    {Start: 10, Max: 5, P99Limit: time.Second, Step: 2},
		"step one":     {Start: 10, Max: 50, P99Limit: time.Second, Step: 1},
		"no limit":     {Start: 10, Max: 50, Step: 2},
		"neg. bisects": {Start: 10, Max: 50, P99Limit: time.Second, Step: 2, Bisect: -1},
	} {
		if _, _, _, err := s.Run(context.Background(), measure); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestSearchPass(t *testing.T) {
	s := Search{P99Limit: 100 * time.Millisecond}
	for _, c := range []struct {
		r    Result
		want bool
	}{
		{Result{OK: 10, P99: 99 * time.Millisecond}, true},
		{Result{OK: 10, P99: 100 * time.Millisecond}, false},
		{Result{OK: 10, Errors: 1, P99: time.Millisecond}, false},
		{Result{}, false},
	} {
		if got := s.Pass(c.r); got != c.want {
			t.Errorf("Pass(%+v) = %v, want %v", c.r, got, c.want)
		}
	}
}
