package loadgen

import (
	"slices"
	"time"
)

// Summary describes a sample of durations: its size, nearest-rank percentiles, maximum and mean.
type Summary struct {
	N                        int
	P50, P90, P99, Max, Mean time.Duration
}

// Summarize summarises d (used for request latency and for event-path latency alike). It sorts a
// copy, so the caller's order is kept. An empty sample gives the zero Summary.
func Summarize(d []time.Duration) Summary {
	if len(d) == 0 {
		return Summary{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	var sum time.Duration
	for _, v := range s {
		sum += v
	}
	return Summary{
		N:    len(s),
		P50:  rank(s, 50),
		P90:  rank(s, 90),
		P99:  rank(s, 99),
		Max:  s[len(s)-1],
		Mean: sum / time.Duration(len(s)),
	}
}

// rank is the nearest-rank p-th percentile of the sorted, non-empty s: the ceil(p/100*N)-th
// smallest value (p99 of 100 values is the 99th smallest).
func rank(s []time.Duration, p int) time.Duration {
	r := (p*len(s) + 99) / 100
	return s[max(r, 1)-1]
}
