package risk_test

import (
	"cmp"
	"context"
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/type/date"
	moneypb "google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// genIncident is an incident the metrics test declares, and what it expects of it. Step times
// are zero for the steps not reached.
type genIncident struct {
	id                     string
	severity               riskv1.Incident_Severity
	typ                    riskv1.Incident_Type
	vendor                 string
	detect, declare        time.Time
	ack, mitigate, resolve time.Time
	costCurrency           string
	costMinor              int64
}

// generateIncidents makes n incidents detected from 2025-12-01 to 2026-12-03, with fractions of
// seconds, every severity, type and vendor (or none), some without cost and each at some step
// of its lifecycle, none of its times after now.
func generateIncidents(n int, now time.Time) []genIncident {
	rnd := rand.New(rand.NewPCG(16, 500))
	first := time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)
	span := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC).Sub(first)
	vendors := []string{"", "vendors/acme", "vendors/globex", "vendors/initech"}
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(rnd.Int64N(int64(hi-lo))) }
	out := make([]genIncident, n)
	for i := range out {
		g := genIncident{id: fmt.Sprintf("inc-%03d", i), severity: riskv1.Incident_Severity(rnd.IntN(4) + 1),
			typ: riskv1.Incident_Type(rnd.IntN(5) + 1), vendor: vendors[rnd.IntN(len(vendors))]}
		g.detect = first.Add(between(0, span)).Truncate(time.Millisecond)
		g.declare = g.detect.Add(between(0, 30*time.Minute))
		if c := rnd.IntN(10); c >= 3 {
			g.costCurrency, g.costMinor = []string{"USD", "EUR"}[c%2], rnd.Int64N(5_000_000)+1
		}
		steps := []*time.Time{&g.ack, &g.mitigate, &g.resolve}
		limits := []time.Duration{2 * time.Hour, 12 * time.Hour, 72 * time.Hour}
		prev := g.declare
		for s := range rnd.IntN(4) {
			t := prev.Add(between(time.Second, limits[s]))
			if t.After(now) {
				break
			}
			*steps[s], prev = t, t
		}
		out[i] = g
	}
	return out
}

// declareGenerated declares g through the API, backdated, and takes it through its steps.
func (d *desk) declareGenerated(ctx context.Context, g genIncident) error {
	inc := &riskv1.Incident{Title: "Generated " + g.id, Type: g.typ, Severity: g.severity, Vendor: g.vendor, DetectTime: ts(g.detect)}
	if g.costCurrency != "" {
		inc.Cost = &moneypb.Money{CurrencyCode: g.costCurrency, Units: g.costMinor / 100, Nanos: int32(g.costMinor%100) * 10_000_000}
	}
	name := "incidents/" + g.id
	if _, err := d.inc.CreateIncident(ctx, &riskv1.CreateIncidentRequest{IncidentId: g.id, Incident: inc,
		DeclareTime: ts(g.declare), Reason: "recorded after the fact"}); err != nil {
		return fmt.Errorf("declare %s: %w", g.id, err)
	}
	if !g.ack.IsZero() {
		if _, err := d.inc.AcknowledgeIncident(ctx, &riskv1.AcknowledgeIncidentRequest{Name: name, AcknowledgeTime: ts(g.ack), Reason: "backdated"}); err != nil {
			return fmt.Errorf("acknowledge %s: %w", g.id, err)
		}
	}
	if !g.mitigate.IsZero() {
		if _, err := d.inc.MitigateIncident(ctx, &riskv1.MitigateIncidentRequest{Name: name, MitigateTime: ts(g.mitigate), Reason: "backdated"}); err != nil {
			return fmt.Errorf("mitigate %s: %w", g.id, err)
		}
	}
	if !g.resolve.IsZero() {
		if _, err := d.inc.ResolveIncident(ctx, &riskv1.ResolveIncidentRequest{Name: name, ResolveTime: ts(g.resolve), Reason: "backdated"}); err != nil {
			return fmt.Errorf("resolve %s: %w", g.id, err)
		}
	}
	return nil
}

// wantFigures computes the figures of incidents independently of the service: each duration in
// whole seconds (both times truncated to the second), each mean the exact quotient rounded to
// the nearest nanosecond.
func wantFigures(incidents []genIncident) *riskv1.IncidentFigures {
	f := &riskv1.IncidentFigures{}
	var sums [3]int64
	var counts [3]int64
	costs := map[string]int64{}
	for _, g := range incidents {
		f.IncidentCount++
		for s, at := range []time.Time{g.ack, g.mitigate, g.resolve} {
			if !at.IsZero() {
				sums[s] += at.Unix() - g.detect.Unix()
				counts[s]++
			}
		}
		if g.costCurrency != "" {
			costs[g.costCurrency] += g.costMinor
		}
	}
	f.AcknowledgedCount, f.MitigatedCount, f.ResolvedCount = counts[0], counts[1], counts[2]
	f.OpenCount = f.IncidentCount - f.ResolvedCount
	mean := func(sum, n int64) *durationpb.Duration {
		if n == 0 {
			return nil
		}
		ns := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(sum), big.NewInt(int64(time.Second))), big.NewInt(n))
		whole := new(big.Int).Quo(ns.Num(), ns.Denom())
		if rest := new(big.Rat).Sub(ns, new(big.Rat).SetInt(whole)); rest.Cmp(big.NewRat(1, 2)) >= 0 {
			whole.Add(whole, big.NewInt(1))
		}
		return durationpb.New(time.Duration(whole.Int64()))
	}
	f.Mtta, f.Mttm, f.Mttr = mean(sums[0], counts[0]), mean(sums[1], counts[1]), mean(sums[2], counts[2])
	for _, c := range slices.Sorted(func(yield func(string) bool) {
		for c := range costs {
			if !yield(c) {
				return
			}
		}
	}) {
		f.Cost = append(f.Cost, &moneypb.Money{CurrencyCode: c, Units: costs[c] / 100, Nanos: int32(costs[c]%100) * 10_000_000})
	}
	return f
}

func civilDay(d *date.Date) time.Time {
	return time.Date(int(d.GetYear()), time.Month(d.GetMonth()), int(d.GetDay()), 0, 0, 0, 0, time.UTC)
}

// wantMetrics computes what GetIncidentMetrics answers req over incidents, keep being the
// request's filter written in Go.
func wantMetrics(req *riskv1.GetIncidentMetricsRequest, incidents []genIncident, keep func(genIncident) bool) *riskv1.IncidentMetrics {
	from, to := civilDay(req.GetStartDate()), civilDay(req.GetEndDate()).AddDate(0, 0, 1)
	var in []genIncident
	for _, g := range incidents {
		if !g.detect.Before(from) && g.detect.Before(to) && keep(g) {
			in = append(in, g)
		}
	}
	out := &riskv1.IncidentMetrics{StartDate: req.GetStartDate(), EndDate: req.GetEndDate(), GroupBy: req.GetGroupBy(),
		Period: req.GetPeriod(), Total: wantFigures(in)}
	keyOf := func(g genIncident) string {
		switch req.GetGroupBy() {
		case riskv1.IncidentMetrics_SEVERITY:
			return g.severity.String()
		case riskv1.IncidentMetrics_TYPE:
			return g.typ.String()
		case riskv1.IncidentMetrics_VENDOR:
			return g.vendor
		}
		return ""
	}
	rank := func(g genIncident) int {
		switch req.GetGroupBy() {
		case riskv1.IncidentMetrics_SEVERITY:
			return int(g.severity)
		case riskv1.IncidentMetrics_TYPE:
			return int(g.typ)
		}
		return 0
	}
	groups := map[string][]genIncident{}
	ranks := map[string]int{}
	for _, g := range in {
		groups[keyOf(g)] = append(groups[keyOf(g)], g)
		ranks[keyOf(g)] = rank(g)
	}
	keys := make([]string, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if c := cmp.Compare(ranks[a], ranks[b]); c != 0 {
			return c
		}
		switch { // vendors by name, the incidents without one last
		case a == "":
			return 1
		case b == "":
			return -1
		}
		return cmp.Compare(a, b)
	})
	months := map[riskv1.IncidentMetrics_Period]int{riskv1.IncidentMetrics_MONTH: 1, riskv1.IncidentMetrics_QUARTER: 3}[req.GetPeriod()]
	periodOf := func(t time.Time) time.Time {
		m := time.Month(1)
		if months > 0 {
			m = (t.Month()-1)/time.Month(months)*time.Month(months) + 1
		}
		return time.Date(t.Year(), m, 1, 0, 0, 0, 0, time.UTC)
	}
	for _, k := range keys {
		g := &riskv1.IncidentMetricsGroup{Key: k, Figures: wantFigures(groups[k])}
		if months > 0 {
			for p := periodOf(from); !p.After(periodOf(to.AddDate(0, 0, -1))); p = p.AddDate(0, months, 0) {
				var of []genIncident
				for _, x := range groups[k] {
					if periodOf(x.detect).Equal(p) {
						of = append(of, x)
					}
				}
				g.Series = append(g.Series, &riskv1.IncidentMetricsPoint{
					PeriodStart: &date.Date{Year: int32(p.Year()), Month: int32(p.Month()), Day: 1}, Figures: wantFigures(of)})
			}
		}
		out.Groups = append(out.Groups, g)
	}
	return out
}

// TestIncidentMetrics declares 500 generated incidents through the API — backdated, with
// fractions of seconds, at every step of their lifecycle — and checks GetIncidentMetrics against
// an independent computation in the test for every grouping, both periods, a range that leaves
// incidents out and filters; then that bad requests fail with their fields.
func TestIncidentMetrics(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, db testenv.Database) {
		now := at(12, 0)
		d := startDesk(t, db, now)
		ctx := context.Background()
		incidents := generateIncidents(500, now)
		testkit.Concurrently(t, len(incidents), func(i int) error { return d.declareGenerated(ctx, incidents[i]) })

		all := func(genIncident) bool { return true }
		for _, tc := range []struct {
			req  *riskv1.GetIncidentMetricsRequest
			keep func(genIncident) bool
		}{
			{&riskv1.GetIncidentMetricsRequest{StartDate: day(2026, 1, 1), EndDate: day(2026, 11, 30),
				GroupBy: riskv1.IncidentMetrics_SEVERITY, Period: riskv1.IncidentMetrics_MONTH}, all},
			{&riskv1.GetIncidentMetricsRequest{StartDate: day(2025, 12, 1), EndDate: day(2026, 12, 4),
				GroupBy: riskv1.IncidentMetrics_VENDOR, Period: riskv1.IncidentMetrics_QUARTER}, all},
			{&riskv1.GetIncidentMetricsRequest{StartDate: day(2026, 2, 15), EndDate: day(2026, 8, 10),
				GroupBy: riskv1.IncidentMetrics_TYPE, Filter: "severity = SEV1 OR severity = SEV2"},
				func(g genIncident) bool { return g.severity <= riskv1.Incident_SEV2 }},
			{&riskv1.GetIncidentMetricsRequest{StartDate: day(2025, 1, 1), EndDate: day(2026, 12, 31),
				Period: riskv1.IncidentMetrics_MONTH, Filter: `vendor = "vendors/acme" AND type = OUTAGE`},
				func(g genIncident) bool { return g.vendor == "vendors/acme" && g.typ == riskv1.Incident_OUTAGE }},
		} {
			got, err := d.inc.GetIncidentMetrics(ctx, tc.req)
			if err != nil {
				t.Fatalf("GetIncidentMetrics(%v): %v", tc.req, err)
			}
			if !got.GetComputeTime().AsTime().Equal(now) {
				t.Errorf("compute time %v; want %v", got.GetComputeTime().AsTime(), now)
			}
			got.ComputeTime = nil
			want := wantMetrics(tc.req, incidents, tc.keep)
			if want.GetTotal().GetIncidentCount() < 20 {
				t.Fatalf("%v selects %d incidents; the test wants more", tc.req, want.GetTotal().GetIncidentCount())
			}
			if !proto.Equal(got, want) {
				t.Errorf("GetIncidentMetrics(%v):\ntotal %v\nwant  %v", tc.req, got.GetTotal(), want.GetTotal())
				for i := range max(len(got.GetGroups()), len(want.GetGroups())) {
					var g, w *riskv1.IncidentMetricsGroup
					if i < len(got.GetGroups()) {
						g = got.GetGroups()[i]
					}
					if i < len(want.GetGroups()) {
						w = want.GetGroups()[i]
					}
					if !proto.Equal(g, w) {
						t.Errorf("group %d:\n%v\nwant\n%v", i, g, w)
						break
					}
				}
			}
		}

		for _, bad := range []struct {
			req   *riskv1.GetIncidentMetricsRequest
			field string
		}{
			{&riskv1.GetIncidentMetricsRequest{StartDate: day(2026, 5, 1), EndDate: day(2026, 4, 30)}, "end_date"},
			{&riskv1.GetIncidentMetricsRequest{StartDate: day(2010, 1, 1), EndDate: day(2026, 1, 1)}, "end_date"},
			{&riskv1.GetIncidentMetricsRequest{StartDate: day(2026, 1, 1), EndDate: day(2026, 1, 31), Filter: "colour = 1"}, "filter"},
			{&riskv1.GetIncidentMetricsRequest{StartDate: day(2026, 2, 30), EndDate: day(2026, 3, 31)}, "start_date"},
		} {
			_, err := d.inc.GetIncidentMetrics(ctx, bad.req)
			d.AssertStatus(t, err, codes.InvalidArgument, "INVALID_ARGUMENT", bad.field)
		}
	})
}
