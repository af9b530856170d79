package domain

import (
	"cmp"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
)

// Incident is an incident of the risk service attributed to a vendor, as the vendors service
// keeps it from the risk service's events: what the vendor's scorecards count and its
// contracts' service levels are measured against. Times are UTC; a zero time is not yet.
type Incident struct {
	// Name is the incident's name in the risk service, incidents/{incident}.
	Name     string
	VendorID string
	// ContractID is the contract whose service levels apply, when the incident names one; empty
	// for every contract of the vendor.
	ContractID string
	// Severity is 1 (SEV1) to 4 (SEV4), the numbers of ResponseTarget.Severity.
	Severity int32
	// Outage reports whether the incident made the vendor's service unavailable (an OUTAGE or
	// a VENDOR_FAILURE): it counts against availability targets.
	Outage bool
	// Start is when the incident began: its detection, or its declaration without one.
	Start    time.Time
	Declare  time.Time
	Mitigate time.Time
	Resolve  time.Time
	// Version is the incident's version in the risk service, of the latest event applied.
	Version int64
}

// Quarter is the quarter of the vendor's scorecard the incident counts in: that of its start.
func (i *Incident) Quarter() Quarter { return QuarterOf(civil.DateOf(i.Start.UTC())) }

// Resolved reports whether the incident is resolved.
func (i *Incident) Resolved() bool { return !i.Resolve.IsZero() }

// Downtime is the interval the incident made the vendor's service unavailable: from its start
// to its mitigation (or resolution); ok is false for an incident that is not an outage or is not
// resolved.
func (i *Incident) Downtime() (from, to time.Time, ok bool) {
	if !i.Outage || !i.Resolved() {
		return time.Time{}, time.Time{}, false
	}
	to = i.Resolve
	if !i.Mitigate.IsZero() {
		to = i.Mitigate
	}
	if to.Before(i.Start) {
		return time.Time{}, time.Time{}, false
	}
	return i.Start, to, true
}

// SLABreachKind is what a breach broke; its values are those of the API's SlaBreach.Kind.
type SLABreachKind int32

// The kinds of SLA breach.
const (
	BreachResolutionTime SLABreachKind = 1
	BreachAvailability   SLABreachKind = 2
)

// String is the kind's API name.
func (k SLABreachKind) String() string {
	switch k {
	case BreachResolutionTime:
		return "RESOLUTION_TIME"
	case BreachAvailability:
		return "AVAILABILITY"
	}
	return fmt.Sprintf("SLABreachKind(%d)", int32(k))
}

// SLABreach is a service level of a contract that an incident broke.
type SLABreach struct {
	ID           string
	VendorID     string
	ContractID   string
	ServiceLevel string
	Kind         SLABreachKind
	Incident     string
	Severity     int32
	// Period is the measurement period of an availability breach, YYYY-MM or YYYY-Qn.
	Period     string
	Target     string
	Measured   string
	BreachTime time.Time
}

// Name is the breach's resource name, vendors/{vendor}/slaBreaches/{sla_breach}.
func (b *SLABreach) Name() string { return SLABreachPattern.Format(b.VendorID, b.ID) }

// Quarter is the quarter of the vendor's scorecard the breach counts in: that of its breach time.
func (b *SLABreach) Quarter() Quarter { return QuarterOf(civil.DateOf(b.BreachTime.UTC())) }

// breachIDs is the namespace of breach IDs.
var breachIDs = uuid.MustParse("5b0e2f0c-7a1d-5c3e-9f6b-2d4a8c1e7b90")

// breachID is the ID of the breach of a contract's service level of a kind, at key (the incident
// for a resolution time, the period for availability): the same however often it is found.
func breachID(contractID, level string, kind SLABreachKind, key string) string {
	return uuid.NewSHA1(breachIDs, []byte(strings.Join([]string{contractID, level, kind.String(), key}, "\x00"))).String()
}

// InForceOn reports whether the contract was in force on day: started by then, and ACTIVE or
// RENEWED, or TERMINATED or EXPIRED on or after it.
func InForceOn(c *Contract, day Date) bool {
	if !c.State.InForce() && !c.State.Ended() {
		return false
	}
	start := c.StartDate
	if start.IsZero() && !c.ActivateTime.IsZero() {
		start = civil.DateOf(c.ActivateTime.UTC())
	}
	if start.IsZero() || day.Before(start) {
		return false
	}
	switch c.State {
	case ContractTerminated:
		end := c.TerminationEffectiveDate
		if end.IsZero() {
			end = civil.DateOf(c.TerminateTime.UTC())
		}
		return !end.Before(day)
	case ContractExpired:
		return !c.EndDate.Before(day)
	}
	return true
}

// appliesTo reports whether the service levels of contract c apply to the incident: c is the
// contract the incident names, or any contract of its vendor when it names none, and was in
// force on the day the incident began.
func (i *Incident) appliesTo(c *Contract) bool {
	return c.VendorID == i.VendorID && (i.ContractID == "" || c.ID == i.ContractID) && InForceOn(c, civil.DateOf(i.Start.UTC()))
}

// ResolutionBreaches are the service levels of contracts that the resolved incident inc broke by
// its time from declaration to resolution: those of the contracts that apply to it (appliesTo)
// with a resolution time for its severity shorter than that.
func ResolutionBreaches(inc *Incident, contracts []*Contract) []SLABreach {
	if !inc.Resolved() || inc.Declare.IsZero() {
		return nil
	}
	took := inc.Resolve.Sub(inc.Declare)
	var out []SLABreach
	for _, c := range contracts {
		if !inc.appliesTo(c) {
			continue
		}
		for _, l := range c.SLAs {
			for _, t := range l.ResponseTargets {
				if t.Severity != inc.Severity || t.ResolutionTime <= 0 || took <= t.ResolutionTime {
					continue
				}
				out = append(out, SLABreach{
					ID: breachID(c.ID, l.DisplayName, BreachResolutionTime, inc.Name), VendorID: inc.VendorID,
					ContractID: c.ID, ServiceLevel: l.DisplayName, Kind: BreachResolutionTime, Incident: inc.Name,
					Severity: inc.Severity, Target: FormatDuration(t.ResolutionTime), Measured: FormatDuration(took),
					BreachTime: inc.Resolve,
				})
			}
		}
	}
	return out
}

// Period is a measurement period of an availability target: a calendar month or quarter (UTC).
type Period struct {
	Label    string // YYYY-MM or YYYY-Qn
	From, To time.Time
}

// MeasurementPeriodOf is the period of the measurement of a service level (MONTHLY, the default,
// or QUARTERLY) that contains t.
func MeasurementPeriodOf(measurement int32, t time.Time) Period {
	t = t.UTC()
	if measurement == 2 { // QUARTERLY
		q := QuarterOf(civil.DateOf(t))
		return Period{Label: q.String(), From: q.First().Time(), To: q.Next().First().Time()}
	}
	from := time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return Period{Label: from.Format("2006-01"), From: from, To: from.AddDate(0, 1, 0)}
}

// Downtime is the time within p that any of the outages was down: the union of their downtime
// intervals, clipped to p.
func Downtime(outages []*Incident, p Period) time.Duration {
	type span struct{ from, to time.Time }
	var spans []span
	for _, o := range outages {
		from, to, ok := o.Downtime()
		if !ok {
			continue
		}
		from, to = later(from, p.From), earlier(to, p.To)
		if to.After(from) {
			spans = append(spans, span{from, to})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.from.Compare(b.from) })
	var total time.Duration
	var cur *span
	for i := range spans {
		s := spans[i]
		switch {
		case cur == nil:
			cur = &s
		case !s.from.After(cur.to):
			cur.to = later(cur.to, s.to)
		default:
			total += cur.to.Sub(cur.from)
			cur = &s
		}
	}
	if cur != nil {
		total += cur.to.Sub(cur.from)
	}
	return total
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// AvailabilityBreaches are the availability targets of contracts that the resolved outage inc
// brought below target: for each contract that applies to it (appliesTo) and each of its service
// levels with an availability target, the vendor's outages (inc among them) in the
// measurement period of inc's start leave less than the target. outages returns the vendor's
// outages overlapping a period. A period's breach has one ID whichever incident finds it.
func AvailabilityBreaches(inc *Incident, contracts []*Contract, outages func(Period) ([]*Incident, error)) ([]SLABreach, error) {
	from, to, ok := inc.Downtime()
	if !ok {
		return nil, nil
	}
	var out []SLABreach
	seen := map[string][]*Incident{}
	for _, c := range contracts {
		if !inc.appliesTo(c) {
			continue
		}
		for _, l := range c.SLAs {
			target, ok := ParsePercent(l.AvailabilityTargetPercent)
			if !ok {
				continue
			}
			p := MeasurementPeriodOf(l.MeasurementPeriod, from)
			os, found := seen[p.Label]
			if !found {
				var err error
				if os, err = outages(p); err != nil {
					return nil, err
				}
				if !slices.ContainsFunc(os, func(o *Incident) bool { return o.Name == inc.Name }) {
					os = append(os, inc)
				}
				seen[p.Label] = os
			}
			down := Downtime(os, p)
			achieved := Availability(down, p.To.Sub(p.From))
			if achieved >= target {
				continue
			}
			out = append(out, SLABreach{
				ID: breachID(c.ID, l.DisplayName, BreachAvailability, p.Label), VendorID: inc.VendorID,
				ContractID: c.ID, ServiceLevel: l.DisplayName, Kind: BreachAvailability, Incident: inc.Name,
				Severity: inc.Severity, Period: p.Label, Target: l.AvailabilityTargetPercent,
				Measured: FormatPercent(achieved), BreachTime: to,
			})
		}
	}
	return out, nil
}

// ParsePercent reads a percentage written as a decimal with at most three decimals (99.95) in
// thousandths of a percent (99950); ok is false for an empty or malformed one.
func ParsePercent(s string) (int64, bool) {
	if s == "" {
		return 0, false
	}
	whole, frac, _ := strings.Cut(s, ".")
	if len(frac) > 3 {
		return 0, false
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w < 0 || w > 100 {
		return 0, false
	}
	f := int64(0)
	if frac != "" {
		if f, err = strconv.ParseInt(frac+strings.Repeat("0", 3-len(frac)), 10, 64); err != nil || f < 0 {
			return 0, false
		}
	}
	return w*1000 + f, true
}

// Availability is the share of a period of length total that was not down, in thousandths of
// a percent, rounded down: 100000 for none down.
func Availability(down, total time.Duration) int64 {
	if total <= 0 {
		return 100000
	}
	up := max(total-down, 0)
	// up × 100000 / total in big integers: a quarter in nanoseconds × 100000 overflows int64.
	v := new(big.Int).Mul(big.NewInt(int64(up)), big.NewInt(100000))
	return v.Quo(v, big.NewInt(int64(total))).Int64()
}

// FormatPercent writes thousandths of a percent as a decimal with three decimals: 99.712.
func FormatPercent(thousandths int64) string {
	return fmt.Sprintf("%d.%03d", thousandths/1000, thousandths%1000)
}

// FormatDuration writes a duration the way people read one, without zero units: 4h, 6h30m,
// 45m, 1h0m30s → 1h30s.
func FormatDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	d = d.Round(time.Second)
	h, m, s := d/time.Hour, (d%time.Hour)/time.Minute, (d%time.Minute)/time.Second
	var b strings.Builder
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if s > 0 || b.Len() == 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	return b.String()
}

// SeverityCount is the number of incidents of one severity.
type SeverityCount struct {
	Severity int32
	Count    int32
}

// IncidentFigures are a quarter's incident figures of a vendor's scorecard.
type IncidentFigures struct {
	BySeverity []SeverityCount
	Breaches   []SLABreach
}

// QuarterIncidents is the figures of quarter q from a vendor's incidents and breaches: the
// incidents that began in q by severity, SEV1 first, and the breaches of q in the order given.
func QuarterIncidents(incidents []*Incident, breaches []SLABreach, q Quarter) IncidentFigures {
	counts := map[int32]int32{}
	for _, i := range incidents {
		if i.Quarter() == q {
			counts[i.Severity]++
		}
	}
	var f IncidentFigures
	for sev, n := range counts {
		f.BySeverity = append(f.BySeverity, SeverityCount{Severity: sev, Count: n})
	}
	slices.SortFunc(f.BySeverity, func(a, b SeverityCount) int { return cmp.Compare(a.Severity, b.Severity) })
	for _, b := range breaches {
		if b.Quarter() == q {
			f.Breaches = append(f.Breaches, b)
		}
	}
	return f
}

// Count is the number of incidents of the figures.
func (f IncidentFigures) Count() int32 {
	var n int32
	for _, c := range f.BySeverity {
		n += c.Count
	}
	return n
}
