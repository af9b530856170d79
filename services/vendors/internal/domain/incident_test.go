package domain

import (
	"testing"
	"time"
)

func TestParsePercent(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"99.9": 99900, "99.95": 99950, "100": 100000, "0": 0, "99.999": 99999, "7.5": 7500} {
		if got, ok := ParsePercent(in); !ok || got != want {
			t.Errorf("ParsePercent(%q) = %d, %v; want %d", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "99.9999", "101", "-1", "x", "9.x"} {
		if _, ok := ParsePercent(bad); ok {
			t.Errorf("ParsePercent(%q) accepted", bad)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{4 * time.Hour: "4h", 6*time.Hour + 30*time.Minute: "6h30m",
		45 * time.Minute: "45m", time.Hour + 30*time.Second: "1h30s", 0: "0s", 1500 * time.Millisecond: "2s"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%s) = %q; want %q", d, got, want)
		}
	}
}

// TestDowntime counts overlapping outages once, clips them to the period, and leaves out
// incidents that are not outages or not resolved.
func TestDowntime(t *testing.T) {
	t.Parallel()
	feb := MeasurementPeriodOf(1, time.Date(2027, 2, 10, 0, 0, 0, 0, time.UTC))
	if feb.Label != "2027-02" || feb.To.Sub(feb.From) != 28*24*time.Hour {
		t.Fatalf("period = %+v", feb)
	}
	at := func(d, h, m int) time.Time { return time.Date(2027, 2, d, h, m, 0, 0, time.UTC) }
	out := func(start, mitigate, resolve time.Time, outage bool) *Incident {
		return &Incident{Outage: outage, Start: start, Mitigate: mitigate, Resolve: resolve}
	}
	incidents := []*Incident{
		out(at(3, 10, 0), at(3, 10, 30), at(3, 12, 0), true),                                 // 30 m
		out(at(3, 10, 20), time.Time{}, at(3, 10, 50), true),                                 // overlaps: +20 m
		out(at(5, 9, 0), at(5, 9, 10), at(5, 9, 30), false),                                  // not an outage
		out(at(6, 9, 0), time.Time{}, time.Time{}, true),                                     // not resolved
		out(time.Date(2027, 1, 31, 23, 50, 0, 0, time.UTC), time.Time{}, at(1, 0, 15), true), // 15 m in February
	}
	if got, want := Downtime(incidents, feb), 65*time.Minute; got != want {
		t.Errorf("Downtime = %s; want %s", got, want)
	}
	if got := Availability(65*time.Minute, feb.To.Sub(feb.From)); got != 99838 {
		t.Errorf("Availability = %d; want 99838 (99.838 %%)", got)
	}
	q := MeasurementPeriodOf(2, at(10, 0, 0))
	if q.Label != "2027-Q1" || !q.From.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("quarterly period = %+v", q)
	}
}

// TestBreachesApplyToContracts finds breaches only under contracts in force on the incident's
// first day, of its vendor, and only the one the incident names when it names one.
func TestBreachesApplyToContracts(t *testing.T) {
	t.Parallel()
	sla := []ServiceLevel{{DisplayName: "API", ResponseTargets: []ResponseTarget{{Severity: 1, ResolutionTime: time.Hour}}}}
	jan := Date{Year: 2027, Month: 1, Day: 1}
	contracts := []*Contract{
		{ID: "a", VendorID: "acme", State: ContractActive, StartDate: jan, SLAs: sla},
		{ID: "b", VendorID: "acme", State: ContractActive, StartDate: jan, SLAs: sla},
		{ID: "later", VendorID: "acme", State: ContractActive, StartDate: Date{Year: 2027, Month: 6, Day: 1}, SLAs: sla},
		{ID: "draft", VendorID: "acme", State: ContractDraft, StartDate: jan, SLAs: sla},
		{ID: "other", VendorID: "globex", State: ContractActive, StartDate: jan, SLAs: sla},
	}
	start := time.Date(2027, 2, 1, 8, 0, 0, 0, time.UTC)
	inc := &Incident{Name: "incidents/x", VendorID: "acme", Severity: 1, Start: start, Declare: start, Resolve: start.Add(90 * time.Minute)}
	ids := func(bs []SLABreach) (out []string) {
		for _, b := range bs {
			out = append(out, b.ContractID+":"+b.Measured)
		}
		return out
	}
	if got := ids(ResolutionBreaches(inc, contracts)); len(got) != 2 || got[0] != "a:1h30m" || got[1] != "b:1h30m" {
		t.Errorf("breaches = %v; want a and b", got)
	}
	inc.ContractID = "b"
	if got := ids(ResolutionBreaches(inc, contracts)); len(got) != 1 || got[0] != "b:1h30m" {
		t.Errorf("breaches naming b = %v; want b only", got)
	}
	inc.Severity = 2
	if got := ResolutionBreaches(inc, contracts); len(got) != 0 {
		t.Errorf("a SEV2 without a target breached %v", got)
	}
	again := ResolutionBreaches(&Incident{Name: "incidents/x", VendorID: "acme", Severity: 1, Start: start, Declare: start,
		Resolve: start.Add(2 * time.Hour)}, contracts)
	if first := ResolutionBreaches(&Incident{Name: "incidents/x", VendorID: "acme", Severity: 1, Start: start, Declare: start,
		Resolve: start.Add(90 * time.Minute)}, contracts); first[0].ID != again[0].ID {
		t.Error("a breach found again has another ID")
	}
}
