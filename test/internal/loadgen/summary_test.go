package loadgen

import (
	"slices"
	"testing"
	"time"
)

func TestSummarizeNearestRank(t *testing.T) {
	// 1ms..100ms in reverse order: nearest rank p of 100 is the p-th smallest.
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	orig := slices.Clone(d)
	got := Summarize(d)
	want := Summary{N: 100, P50: 50 * time.Millisecond, P90: 90 * time.Millisecond, P99: 99 * time.Millisecond,
		Max: 100 * time.Millisecond, Mean: 50500 * time.Microsecond}
	if got != want {
		t.Errorf("Summarize(1..100ms) = %+v, want %+v", got, want)
	}
	if !slices.Equal(d, orig) {
		t.Error("Summarize reordered the caller's slice")
	}

	// 7 values: ranks ceil(3.5)=4, ceil(6.3)=7, ceil(6.93)=7.
	got = Summarize([]time.Duration{7, 1, 6, 2, 5, 3, 4})
	want = Summary{N: 7, P50: 4, P90: 7, P99: 7, Max: 7, Mean: 4}
	if got != want {
		t.Errorf("Summarize(1..7) = %+v, want %+v", got, want)
	}

	if got := Summarize([]time.Duration{42}); got != (Summary{N: 1, P50: 42, P90: 42, P99: 42, Max: 42, Mean: 42}) {
		t.Errorf("Summarize(one) = %+v", got)
	}
	if got := Summarize(nil); got != (Summary{}) {
		t.Errorf("Summarize(nil) = %+v", got)
	}
}

// TestSummarizeRanks checks nearest rank at the edges: the median of an even count is the lower
// middle value, and p99 of 101 values is the 100th.
func TestSummarizeRanks(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	seq := func(n int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = i + 1
		}
		return out
	}
	pick := map[float64]func(Summary) time.Duration{
		50:  func(s Summary) time.Duration { return s.P50 },
		99:  func(s Summary) time.Duration { return s.P99 },
		100: func(s Summary) time.Duration { return s.Max },
	}
	tests := []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", ms(7), 99, 7 * time.Millisecond},
		{"median of four is the second", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"median of five is the third", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"p99 of 100 is the 99th", ms(seq(100)...), 99, 99 * time.Millisecond},
		{"p99 of 101 is the 100th", ms(seq(101)...), 99, 100 * time.Millisecond},
		{"p100 is the largest", ms(1, 2, 3), 100, 3 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pick[tt.p](Summarize(tt.sorted)); got != tt.want {
				t.Errorf("p%v = %s, want %s", tt.p, got, tt.want)
			}
		})
	}
}
