package domain

import (
	"cmp"
	"slices"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// The incident metrics (MTTA, MTTM, MTTR, counts and cost) are sums that add up: the store
// totals the incidents detected in a range per group and calendar month (Tally), and the domain
// adds months into the periods asked for, groups into the total, and divides at the end.
// Durations are whole seconds: each step's time and the detection time are truncated to the
// second before they are subtracted, the same on every engine.

// Tally is the sums of a set of incidents the metrics are computed from.
type Tally struct {
	Count, Acknowledged, Mitigated, Resolved int64
	// AckSeconds, MitigateSeconds and ResolveSeconds are the sums, over the incidents that
	// reached the step, of the whole seconds from detection to the step.
	AckSeconds, MitigateSeconds, ResolveSeconds int64
	// Cost is the sum of the incidents' costs per currency, in minor units.
	Cost map[money.Currency]int64
}

// Add adds o to t.
func (t *Tally) Add(o Tally) {
	t.Count += o.Count
	t.Acknowledged += o.Acknowledged
	t.Mitigated += o.Mitigated
	t.Resolved += o.Resolved
	t.AckSeconds += o.AckSeconds
	t.MitigateSeconds += o.MitigateSeconds
	t.ResolveSeconds += o.ResolveSeconds
	for c, m := range o.Cost {
		if t.Cost == nil {
			t.Cost = map[money.Currency]int64{}
		}
		t.Cost[c] += m
	}
}

// Open is the number of incidents not resolved.
func (t Tally) Open() int64 { return t.Count - t.Resolved }

// Mean is seconds / n as a duration, rounded half to even to the nanosecond; ok is false when n
// is 0.
func Mean(seconds, n int64) (time.Duration, bool) {
	if n <= 0 {
		return 0, false
	}
	q, r := seconds/n, seconds%n
	return time.Duration(q)*time.Second + time.Duration(money.DivRoundHalfEven(r*int64(time.Second), n)), true
}

// Costs is the tally's cost as amounts ordered by currency code.
func (t Tally) Costs() []money.Amount {
	out := make([]money.Amount, 0, len(t.Cost))
	for c, m := range t.Cost {
		out = append(out, money.Amount{Minor: m, Currency: c})
	}
	slices.SortFunc(out, func(a, b money.Amount) int { return cmp.Compare(a.Currency, b.Currency) })
	return out
}

// MonthTally is the tally of a group's incidents detected in one calendar month.
type MonthTally struct {
	Group string
	// Month is the month's first day.
	Month Date
	Tally
}

// MetricsPeriod is the length of the periods of a series; its values are those of the API's
// IncidentMetrics.Period.
type MetricsPeriod int32

// The lengths of periods.
const (
	PeriodNone    MetricsPeriod = 0
	PeriodMonth   MetricsPeriod = 1
	PeriodQuarter MetricsPeriod = 2
)

// PeriodStart is the first day of the period of length p that contains d.
func (p MetricsPeriod) PeriodStart(d Date) Date {
	first := Date{Year: d.Year, Month: d.Month, Day: 1}
	if p == PeriodQuarter {
		first.Month = (d.Month-1)/3*3 + 1
	}
	return first
}

// Periods are the first days of the periods of length p from the one that contains from to the
// one that contains to, oldest first; none for PeriodNone.
func (p MetricsPeriod) Periods(from, to Date) []Date {
	if p == PeriodNone {
		return nil
	}
	step := 1
	if p == PeriodQuarter {
		step = 3
	}
	var out []Date
	for d, last := p.PeriodStart(from), p.PeriodStart(to); !last.Before(d); d = d.AddMonths(step) {
		out = append(out, d)
	}
	return out
}

// MetricsGroup is the figures of one group: over the whole range, and per period.
type MetricsGroup struct {
	Key    string
	Total  Tally
	Series []Tally // one per period of Metrics.Periods
}

// Metrics are the incident metrics of a range.
type Metrics struct {
	Total   Tally
	Periods []Date
	Groups  []MetricsGroup
}

// NewMetrics adds the month tallies of the incidents detected from from to to into the total,
// the groups and their series of periods of length p. less orders the group keys.
func NewMetrics(months []MonthTally, from, to Date, p MetricsPeriod, less func(a, b string) int) *Metrics {
	m := &Metrics{Periods: p.Periods(from, to)}
	groups := map[string]*MetricsGroup{}
	for _, mt := range months {
		m.Total.Add(mt.Tally)
		g := groups[mt.Group]
		if g == nil {
			g = &MetricsGroup{Key: mt.Group, Series: make([]Tally, len(m.Periods))}
			groups[mt.Group] = g
		}
		g.Total.Add(mt.Tally)
		if i := slices.Index(m.Periods, p.PeriodStart(mt.Month)); i >= 0 {
			g.Series[i].Add(mt.Tally)
		}
	}
	for _, g := range groups {
		if g.Total.Count > 0 {
			m.Groups = append(m.Groups, *g)
		}
	}
	slices.SortFunc(m.Groups, func(a, b MetricsGroup) int { return less(a.Key, b.Key) })
	return m
}
