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
