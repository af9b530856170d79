package server

import (
	"cmp"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"time"

	moneypb "google.golang.org/genproto/googleapis/type/money"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	briefingv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/briefing/v1"
	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	talentv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/talent/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/briefing/internal/model"
	"github.com/quarterdeck/quarterdeck/services/platform/api/civil"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
)

// RenewalHorizonDays is how far ahead the briefing lists renewals.
const RenewalHorizonDays = 90

// SLABreachWindowDays is how far back the briefing counts the vendors' SLA breaches: the
// briefing's date and the days before it.
const SLABreachWindowDays = 90

// defaultMatrixSteps are the steps of each axis of the risk service's default matrix.
const defaultMatrixSteps = 5

// ItemLimit is how many items each list of the briefing holds: the first in the list's order,
// those that need attention first. A count beside each list says how many there are in all; the
// whole lists are the domains' APIs. Bounded, the briefing of a large company stays small enough
// to read at a glance and to serve fast.
const ItemLimit = 20

// top is the first ItemLimit items of s.
func top[T any](s []T) []T {
	if len(s) > ItemLimit {
		return s[:ItemLimit:ItemLimit]
	}
	return s
}

// Compute is the briefing of the model snap on the day today (UTC), without its freshness.
func Compute(snap *model.Snapshot, today civil.Date) (*briefingv1.Briefing, error) {
	b, err := compute(snap, today)
	if err != nil {
		return nil, err
	}
	b.Incidents = incidentsPart(snap, today)
	b.Talent = talentPart(snap, today)
	b.Compliance = compliancePart(snap, today)
	b.Continuity = continuityPart(snap, today)
	return b, nil
}

func compute(snap *model.Snapshot, today civil.Date) (*briefingv1.Briefing, error) {
	budget, err := budgetPart(snap, today)
	if err != nil {
		return nil, err
	}
	vendors, err := vendorsPart(snap, today)
	if err != nil {
		return nil, err
	}
	return &briefingv1.Briefing{
		Name:     "briefing",
		AsOfDate: civil.ToProto(today),
		Budget:   budget,
		Vendors:  vendors,
		Risks:    risksPart(snap),
	}, nil
}

// amount is minor units of a currency as google.type.Money.
func amount(minor int64, currency string) *moneypb.Money {
	return money.ToProto(money.Amount{Minor: minor, Currency: money.Currency(currency)})
}

// date parses a model date; the zero Date when unset or malformed.
func date(s string) civil.Date {
	d, err := civil.ParseDate(s)
	if err != nil {
		return civil.Date{}
	}
	return d
}

// days is the number of days from a to b.
func days(a, b civil.Date) int32 { return int32(b.Time().Sub(a.Time()).Hours() / 24) }

// burn is one cost centre's figures before they become a CostCenterBurn.
type burn struct {
	out              *briefingv1.CostCenterBurn
	planned, over    int64 // over: forecast − planned
	actual, forecast int64
	periods          [12]int64
	currency         string
}

// budgetPart computes the burn of each cost centre's budget in force for the fiscal year that
// contains today. A cost centre's revisions of one fiscal year share their spend, as in the
// budget service: the actuals and commitments of every revision count.
func budgetPart(snap *model.Snapshot, today civil.Date) (*briefingv1.BudgetBriefing, error) {
	type key struct {
		costCenter string
		year       int32
	}
	chains := map[key][]model.Budget{}
	for _, b := range snap.Budgets {
		k := key{b.CostCenter, b.FiscalYear}
		chains[k] = append(chains[k], b)
	}
	var burns []burn
	for _, revs := range chains {
		var inForce *model.Budget
		for i, b := range revs {
			if s := budgetv1.Budget_State(b.State); s == budgetv1.Budget_APPROVED || s == budgetv1.Budget_CLOSED {
				inForce = &revs[i]
			}
		}
		if inForce == nil {
			continue
		}
		start := date(inForce.StartDate)
		if start.IsZero() || today.Before(start) || !today.Before(start.AddMonths(12)) {
			continue
		}
		var c money.Calc
		var periods [12]int64
		var committed int64
		for _, r := range revs {
			a := snap.Actuals[r.Name]
			for p := range periods {
				periods[p] = c.Add(periods[p], a[p])
			}
			committed = c.Add(committed, snap.Committed[r.Name])
		}
		elapsed := 0
		for p := 1; p <= 12 && !today.Before(start.AddMonths(p-1)); p++ {
			elapsed = p
		}
		cur := inForce.Currency
		out := &briefingv1.CostCenterBurn{
			CostCenter: inForce.CostCenter, CostCenterDisplayName: snap.CostCenters[inForce.CostCenter],
			Budget: inForce.Name, BudgetDisplayName: inForce.DisplayName, FiscalYear: inForce.FiscalYear,
			FiscalYearStartDate: civil.ToProto(start), ElapsedPeriods: int32(elapsed),
			Planned: amount(inForce.PlannedMinor, cur), Committed: amount(committed, cur),
		}
		var toDate, cumulative int64
		for p := range periods {
			cumulative = c.Add(cumulative, periods[p])
			if p < elapsed {
				toDate = cumulative
			}
			out.Periods = append(out.Periods, &briefingv1.PeriodBurn{
				Period: int32(p + 1), StartDate: civil.ToProto(start.AddMonths(p)),
				Actual: amount(periods[p], cur), CumulativeActual: amount(cumulative, cur),
			})
		}
		// forecast = actual_to_date × 12 / elapsed (one rounding, half to even) + committed.
		run := money.RoundHalfEven(new(big.Int).Mul(big.NewInt(toDate), big.NewInt(12)), big.NewInt(int64(elapsed)))
		forecast := c.Add(c.Int64(run), committed)
		variance := c.Sub(inForce.PlannedMinor, forecast)
		if err := c.Err(); err != nil {
			return nil, money.Figure(err)
		}
		out.ActualToDate, out.Forecast, out.ForecastVariance = amount(toDate, cur), amount(forecast, cur), amount(variance, cur)
		if inForce.PlannedMinor > 0 {
			bp := new(big.Int).Mul(big.NewInt(toDate), big.NewInt(10000))
			out.BurnBasisPoints = bp.Quo(bp, big.NewInt(inForce.PlannedMinor)).Int64()
		}
		burns = append(burns, burn{out: out, planned: inForce.PlannedMinor, over: -variance, actual: toDate,
			forecast: forecast, periods: periods, currency: cur})
	}
	// The furthest over plan first: by (forecast − planned) / planned, compared exactly; a cost
	// centre with nothing planned and something forecast is the furthest of all.
	slices.SortFunc(burns, func(a, b burn) int {
		if c := overPlan(b).Cmp(overPlan(a)); c != 0 {
			return c
		}
		return cmp.Compare(a.out.CostCenter, b.out.CostCenter)
	})
	part := &briefingv1.BudgetBriefing{CostCenterCount: int32(len(burns))}
	// Per currency: planned, actual, forecast, count, then the twelve periods' actuals.
	type sums struct {
		planned, actual, forecast int64
		count, elapsed            int32
		periods                   [12]int64
		start                     civil.Date
	}
	totals := map[string]*sums{}
	var c money.Calc
	for _, b := range burns {
		part.CostCenters = append(part.CostCenters, b.out)
		if b.over > 0 {
			part.OverPlanCount++
		}
		t := totals[b.currency]
		if t == nil {
			t = &sums{start: civil.FromProto(b.out.GetFiscalYearStartDate())}
			totals[b.currency] = t
		}
		t.planned, t.actual, t.forecast, t.count = c.Add(t.planned, b.planned), c.Add(t.actual, b.actual), c.Add(t.forecast, b.forecast), t.count+1
		t.elapsed = max(t.elapsed, b.out.GetElapsedPeriods())
		for i, a := range b.periods {
			t.periods[i] = c.Add(t.periods[i], a)
		}
	}
	if err := c.Err(); err != nil {
		return nil, money.Figure(err)
	}
	part.CostCenters = top(part.CostCenters)
	for _, cur := range slices.Sorted(maps.Keys(totals)) {
		t := totals[cur]
		total := &briefingv1.BudgetTotal{
			CurrencyCode: cur, Planned: amount(t.planned, cur), ActualToDate: amount(t.actual, cur),
			Forecast: amount(t.forecast, cur), CostCenterCount: t.count, ElapsedPeriods: t.elapsed,
		}
		var cumulative int64
		for p, a := range t.periods {
			cumulative = c.Add(cumulative, a)
			total.Periods = append(total.Periods, &briefingv1.PeriodBurn{
				Period: int32(p + 1), StartDate: civil.ToProto(t.start.AddMonths(p)),
				Actual: amount(a, cur), CumulativeActual: amount(cumulative, cur),
			})
		}
		part.Totals = append(part.Totals, total)
	}
	if err := c.Err(); err != nil {
		return nil, money.Figure(err)
	}
	return part, nil
}

// overPlan is how far a forecast is over plan, relative to the plan, as an exact fraction.
func overPlan(b burn) *big.Rat {
	if b.planned <= 0 {
		if b.over > 0 {
			return new(big.Rat).SetInt64(1 << 62)
		}
		return new(big.Rat)
	}
	return big.NewRat(b.over, b.planned)
}

// vendorsPart lists the contracts in force inside their notice window and those whose term ends
// within RenewalHorizonDays.
func vendorsPart(snap *model.Snapshot, today civil.Date) (*briefingv1.VendorBriefing, error) {
	part := &briefingv1.VendorBriefing{}
	horizon := today.AddDays(RenewalHorizonDays)
	totals := map[string]int64{}
	var c money.Calc
	for _, k := range snap.Contracts {
		if s := vendorsv1.Contract_State(k.State); s != vendorsv1.Contract_ACTIVE && s != vendorsv1.Contract_RENEWED {
			continue
		}
		end, cancelBy, opens := date(k.EndDate), date(k.CancelByDate), date(k.NoticeWindowOpenDate)
		inWindow := k.AutoRenew && !opens.IsZero() && !cancelBy.IsZero() && !today.Before(opens) && !cancelBy.Before(today)
		renews := !end.IsZero() && !end.Before(today) && !horizon.Before(end)
		if !inWindow && !renews {
			continue
		}
		item := &briefingv1.ContractItem{
			Contract: k.Name, Title: k.Title, Vendor: k.Vendor, VendorDisplayName: snap.Vendors[k.Vendor],
			Owner: k.Owner, EndDate: civil.ToProto(end), AutoRenew: k.AutoRenew, DaysToEnd: days(today, end),
		}
		if k.AutoRenew {
			item.CancelByDate, item.NoticeWindowOpenDate = civil.ToProto(cancelBy), civil.ToProto(opens)
			if !cancelBy.IsZero() {
				item.DaysToCancelBy = days(today, cancelBy)
			}
		}
		renewal := k.AnnualValueMinor
		if k.AutoRenew && k.RenewalTermMonths > 0 {
			v := money.RoundHalfEven(new(big.Int).Mul(big.NewInt(k.AnnualValueMinor), big.NewInt(int64(k.RenewalTermMonths))), big.NewInt(12))
			renewal = c.Int64(v)
		}
		if k.Currency != "" {
			item.AnnualValue, item.RenewalValue = amount(k.AnnualValueMinor, k.Currency), amount(renewal, k.Currency)
		}
		if inWindow {
			part.InNoticeWindow = append(part.InNoticeWindow, item)
		}
		if renews {
			part.Renewals = append(part.Renewals, item)
			if k.Currency != "" {
				totals[k.Currency] = c.Add(totals[k.Currency], renewal)
			}
		}
	}
	if err := c.Err(); err != nil {
		return nil, money.Figure(err)
	}
	slices.SortFunc(part.InNoticeWindow, func(a, b *briefingv1.ContractItem) int {
		return cmp.Or(cmp.Compare(a.GetDaysToCancelBy(), b.GetDaysToCancelBy()), cmp.Compare(a.GetContract(), b.GetContract()))
	})
	slices.SortFunc(part.Renewals, func(a, b *briefingv1.ContractItem) int {
		return cmp.Or(cmp.Compare(a.GetDaysToEnd(), b.GetDaysToEnd()), cmp.Compare(a.GetContract(), b.GetContract()))
	})
	for _, cur := range slices.Sorted(maps.Keys(totals)) {
		part.RenewalValueTotals = append(part.RenewalValueTotals, amount(totals[cur], cur))
	}
	part.InNoticeWindowCount, part.RenewalCount = int32(len(part.InNoticeWindow)), int32(len(part.Renewals))
	part.InNoticeWindow, part.Renewals = top(part.InNoticeWindow), top(part.Renewals)
	slaBreaches(part, snap, today)
	return part, nil
}

// slaBreaches counts the SLA breaches of the last SLABreachWindowDays days by vendor.
func slaBreaches(part *briefingv1.VendorBriefing, snap *model.Snapshot, today civil.Date) {
	from, to := today.AddDays(-(SLABreachWindowDays - 1)).Time(), today.AddDays(1).Time()
	type counts struct {
		out                  *briefingv1.VendorSlaBreaches
		incidents, contracts map[string]bool
		last                 time.Time
	}
	byVendor := map[string]*counts{}
	for _, b := range snap.SLABreaches {
		at := b.BreachTime.UTC()
		if at.Before(from) || !at.Before(to) {
			continue
		}
		part.SlaBreachCount++
		c := byVendor[b.Vendor]
		if c == nil {
			c = &counts{out: &briefingv1.VendorSlaBreaches{Vendor: b.Vendor, VendorDisplayName: snap.Vendors[b.Vendor]},
				incidents: map[string]bool{}, contracts: map[string]bool{}}
			byVendor[b.Vendor] = c
		}
		c.out.BreachCount++
		switch vendorsv1.SlaBreach_Kind(b.Kind) {
		case vendorsv1.SlaBreach_RESOLUTION_TIME:
			c.out.ResolutionTimeCount++
		case vendorsv1.SlaBreach_AVAILABILITY:
			c.out.AvailabilityCount++
		}
		c.incidents[b.Incident], c.contracts[b.Contract] = true, true
		// The latest breach, and of breaches at the same instant the one named last, so that the
		// choice does not depend on the order the model is read in.
		if c.out.LastSlaBreach == "" || at.After(c.last) || at.Equal(c.last) && b.Name > c.out.LastSlaBreach {
			c.out.LastSlaBreach, c.last = b.Name, at
		}
	}
	for _, c := range byVendor {
		c.out.IncidentCount, c.out.ContractCount = int32(len(c.incidents)), int32(len(c.contracts))
		c.out.LastBreachTime = timestamppb.New(c.last)
		part.SlaBreaches = append(part.SlaBreaches, c.out)
	}
	slices.SortFunc(part.SlaBreaches, func(a, b *briefingv1.VendorSlaBreaches) int {
		return cmp.Or(cmp.Compare(b.GetBreachCount(), a.GetBreachCount()),
			b.GetLastBreachTime().AsTime().Compare(a.GetLastBreachTime().AsTime()), cmp.Compare(a.GetVendor(), b.GetVendor()))
	})
	part.SlaBreachVendorCount = int32(len(part.SlaBreaches))
	part.SlaBreaches = top(part.SlaBreaches)
}

// risksPart counts the open risks, lists those above appetite and lays the scored ones on the
// heat map by residual score.
func risksPart(snap *model.Snapshot) *briefingv1.RiskBriefing {
	part := &briefingv1.RiskBriefing{
		LikelihoodSteps: int32(cmp.Or(snap.LikelihoodSteps, defaultMatrixSteps)),
		ImpactSteps:     int32(cmp.Or(snap.ImpactSteps, defaultMatrixSteps)),
	}
	type cell struct{ l, i int32 }
	cells := map[cell]*briefingv1.RiskHeatCell{}
	for _, r := range snap.Risks {
		if riskv1.Risk_State(r.State) == riskv1.Risk_CLOSED {
			continue
		}
		part.OpenCount++
		if r.Likelihood == 0 || r.Impact == 0 {
			part.UnscoredCount++
		} else {
			k := cell{r.Likelihood, r.Impact}
			hc := cells[k]
			if hc == nil {
				hc = &briefingv1.RiskHeatCell{Likelihood: r.Likelihood, Impact: r.Impact}
				cells[k] = hc
			}
			hc.Count++
			// Risks scored on different matrix versions may disagree on a cell's level: the
			// highest is the one to show.
			hc.Level = max(hc.Level, riskv1.RiskLevel(r.Level))
			part.LikelihoodSteps, part.ImpactSteps = max(part.LikelihoodSteps, r.Likelihood), max(part.ImpactSteps, r.Impact)
		}
		if r.AboveAppetite {
			part.AboveAppetiteCount++
			part.AboveAppetite = append(part.AboveAppetite, &briefingv1.RiskItem{
				Risk: r.Name, Title: r.Title, Category: riskv1.Risk_Category(r.Category), Owner: r.Owner,
				State: riskv1.Risk_State(r.State),
				Residual: &riskv1.RiskScore{Likelihood: r.Likelihood, Impact: r.Impact, Score: r.Score,
					Level: riskv1.RiskLevel(r.Level)},
			})
		}
	}
	slices.SortFunc(part.AboveAppetite, func(a, b *briefingv1.RiskItem) int {
		return cmp.Or(cmp.Compare(b.GetResidual().GetScore(), a.GetResidual().GetScore()), cmp.Compare(a.GetRisk(), b.GetRisk()))
	})
	part.AboveAppetite = top(part.AboveAppetite)
	for _, hc := range cells {
		part.HeatMap = append(part.HeatMap, hc)
	}
	slices.SortFunc(part.HeatMap, func(a, b *briefingv1.RiskHeatCell) int {
		return cmp.Or(cmp.Compare(a.GetLikelihood(), b.GetLikelihood()), cmp.Compare(a.GetImpact(), b.GetImpact()))
	})
	return part
}

// incidentMonths is how many calendar months the incident trend covers, the current one included.
const incidentMonths = 12

// incidentsPart lists the open incidents and the monthly trend of the incidents detected in the
// last twelve months, with their mean times to acknowledge and to resolve.
func incidentsPart(snap *model.Snapshot, today civil.Date) *briefingv1.IncidentBriefing {
	part := &briefingv1.IncidentBriefing{}
	first := civil.Date{Year: today.Year, Month: today.Month, Day: 1}.AddMonths(-(incidentMonths - 1))
	type sums struct {
		count, acked, resolved int32
		ack, res               int64 // microseconds
	}
	var months [incidentMonths]sums
	for _, i := range snap.Incidents {
		switch riskv1.Incident_State(i.State) {
		case riskv1.Incident_RESOLVED, riskv1.Incident_CLOSED:
		default:
			part.OpenCount++
			item := &briefingv1.IncidentItem{Incident: i.Name, Title: i.Title, Type: riskv1.Incident_Type(i.Type),
				Severity: riskv1.Incident_Severity(i.Severity), State: riskv1.Incident_State(i.State)}
			if i.DetectTime.Valid {
				item.DetectTime = timestamppb.New(i.DetectTime.Time)
			}
			if i.AcknowledgeTime.Valid {
				item.AcknowledgeTime = timestamppb.New(i.AcknowledgeTime.Time)
			}
			part.Open = append(part.Open, item)
		}
		if !i.DetectTime.Valid {
			continue
		}
		detected := i.DetectTime.Time.UTC()
		m := (detected.Year()-first.Year)*12 + int(detected.Month()) - int(first.Month)
		if m < 0 || m >= incidentMonths {
			continue
		}
		s := &months[m]
		s.count++
		if i.AcknowledgeTime.Valid {
			s.acked++
			s.ack += i.AcknowledgeTime.Time.Sub(detected).Microseconds()
		}
		if i.ResolveTime.Valid {
			s.resolved++
			s.res += i.ResolveTime.Time.Sub(detected).Microseconds()
		}
	}
	slices.SortFunc(part.Open, func(a, b *briefingv1.IncidentItem) int {
		return cmp.Or(cmp.Compare(a.GetSeverity(), b.GetSeverity()),
			a.GetDetectTime().AsTime().Compare(b.GetDetectTime().AsTime()), cmp.Compare(a.GetIncident(), b.GetIncident()))
	})
	part.Open = top(part.Open)
	for m, s := range months {
		month := &briefingv1.IncidentMonth{StartDate: civil.ToProto(first.AddMonths(m)), IncidentCount: s.count,
			AcknowledgedCount: s.acked, ResolvedCount: s.resolved}
		if s.acked > 0 {
			month.Mtta = meanSeconds(s.ack, s.acked)
		}
		if s.resolved > 0 {
			month.Mttr = meanSeconds(s.res, s.resolved)
		}
		part.Months = append(part.Months, month)
	}
	return part
}

// meanSeconds is the mean of n durations summing to micros, rounded down to the second.
func meanSeconds(micros int64, n int32) *durationpb.Duration {
	return durationpb.New(time.Duration(floorDiv(floorDiv(micros, int64(n)), 1e6)) * time.Second)
}

// floorDiv is a/b rounded down (b > 0), for a mean of durations that may be negative when an
// incident's detect time was corrected after it was acknowledged.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// fillWindowDays is how far back the time to fill looks.
const fillWindowDays = 365

// talentPart counts the active people, lists the open positions, measures the time to fill of
// the positions filled in the last year and lists the teams' skill gaps and key-person risks.
func talentPart(snap *model.Snapshot, today civil.Date) *briefingv1.TalentBriefing {
	part := &briefingv1.TalentBriefing{}
	for _, p := range snap.People {
		if talentv1.Person_State(p.State) == talentv1.Person_ACTIVE {
			part.Headcount++
		}
	}
	midnight := today.Time()
	since := midnight.AddDate(0, 0, -fillWindowDays)
	var fillMicros int64
	for _, p := range snap.Positions {
		switch talentv1.Position_State(p.State) {
		case talentv1.Position_OPEN, talentv1.Position_OFFER:
			part.OpenPositionCount++
			item := &briefingv1.PositionItem{Position: p.Name, Title: p.Title, Team: p.Team,
				TeamDisplayName: snap.Teams[p.Team], State: talentv1.Position_State(p.State)}
			if p.OpenTime.Valid {
				item.OpenTime = timestamppb.New(p.OpenTime.Time)
				item.DaysOpen = days(civil.DateOf(p.OpenTime.Time.UTC()), today)
			}
			part.OpenPositions = append(part.OpenPositions, item)
		case talentv1.Position_FILLED:
			if p.OpenTime.Valid && p.FillTime.Valid && !p.FillTime.Time.Before(since) {
				part.FilledCount++
				fillMicros += p.FillTime.Time.Sub(p.OpenTime.Time).Microseconds()
			}
		}
	}
	if part.FilledCount > 0 {
		part.MeanTimeToFill = meanSeconds(fillMicros, part.FilledCount)
	}
	slices.SortFunc(part.OpenPositions, func(a, b *briefingv1.PositionItem) int {
		return cmp.Or(cmp.Compare(b.GetDaysOpen(), a.GetDaysOpen()), cmp.Compare(a.GetPosition(), b.GetPosition()))
	})
	for _, c := range snap.Coverage {
		item := func() *briefingv1.SkillCoverageItem {
			return &briefingv1.SkillCoverageItem{SkillRequirement: c.Requirement, Team: c.Team, TeamDisplayName: snap.Teams[c.Team],
				Skill: c.Skill, SkillDisplayName: snap.Skills[c.Skill], RequiredPeople: c.RequiredPeople,
				CoveredPeople: c.CoveredPeople, Shortfall: c.Shortfall}
		}
		if c.Gap {
			part.SkillGaps = append(part.SkillGaps, item())
		}
		if c.KeyPersonRisk {
			it := item()
			it.KeyPerson, it.KeyPersonDisplayName = c.KeyPerson, snap.People[c.KeyPerson].DisplayName
			part.KeyPersonRisks = append(part.KeyPersonRisks, it)
		}
	}
	slices.SortStableFunc(part.SkillGaps, func(a, b *briefingv1.SkillCoverageItem) int {
		return cmp.Compare(b.GetShortfall(), a.GetShortfall())
	})
	part.SkillGapCount, part.KeyPersonRiskCount = int32(len(part.SkillGaps)), int32(len(part.KeyPersonRisks))
	part.OpenPositions, part.SkillGaps, part.KeyPersonRisks = top(part.OpenPositions), top(part.SkillGaps), top(part.KeyPersonRisks)
	headcountPlans(part, snap, today)
	return part
}

// headcountPlans sets the headcount plans of the fiscal year in progress against the actuals,
// measured as the talent service measures them: a team's people employed on each quarter's last
// day (started by then, not left before), and its positions OPEN or in OFFER whose target start
// falls in or before the quarter.
func headcountPlans(part *briefingv1.TalentBriefing, snap *model.Snapshot, today civil.Date) {
	type plan struct {
		item              *briefingv1.HeadcountPlanItem
		firstDay, lastDay civil.Date
		currentGap        int32 // planned − actual in the quarter that contains today
		quarters          [4]*briefingv1.HeadcountQuarterItem
		lastDays          [4]civil.Date
	}
	plans := map[string]*plan{}
	for _, q := range snap.PlanQuarters {
		p := plans[q.Plan]
		if p == nil {
			p = &plan{item: &briefingv1.HeadcountPlanItem{HeadcountPlan: q.Plan, Team: q.Team,
				TeamDisplayName: snap.Teams[q.Team], FiscalYear: q.FiscalYear}}
			plans[q.Plan] = p
		}
		from, to := date(q.StartDate), date(q.EndDate)
		if q.Quarter < 1 || q.Quarter > 4 || from.IsZero() || to.IsZero() {
			continue
		}
		if p.firstDay.IsZero() || from.Before(p.firstDay) {
			p.firstDay = from
		}
		if p.lastDay.Before(to) {
			p.lastDay = to
		}
		p.quarters[q.Quarter-1] = &briefingv1.HeadcountQuarterItem{Quarter: q.Quarter, StartDate: civil.ToProto(from),
			EndDate: civil.ToProto(to), PlannedHeadcount: q.PlannedHeadcount}
		p.lastDays[q.Quarter-1] = to
	}
	people := map[string][]model.Person{}
	for _, p := range snap.People {
		people[p.Team] = append(people[p.Team], p)
	}
	openings := map[string][]civil.Date{}
	for _, p := range snap.Positions {
		if s := talentv1.Position_State(p.State); s == talentv1.Position_OPEN || s == talentv1.Position_OFFER {
			openings[p.Team] = append(openings[p.Team], date(p.TargetStartDate))
		}
	}
	var sums [4]*briefingv1.HeadcountQuarterItem
	var inProgress []*plan
	for _, p := range plans {
		if p.firstDay.IsZero() || today.Before(p.firstDay) || p.lastDay.Before(today) {
			continue
		}
		inProgress = append(inProgress, p)
		team := p.item.GetTeam()
		for i, q := range p.quarters {
			if q == nil {
				continue
			}
			last := p.lastDays[i]
			for _, person := range people[team] {
				start, end := date(person.StartDate), date(person.EndDate)
				left := talentv1.Person_State(person.State) == talentv1.Person_LEFT
				if last.Before(start) || (!end.IsZero() && end.Before(last)) || (end.IsZero() && left) {
					continue
				}
				q.ActualHeadcount++
			}
			for _, target := range openings[team] {
				if !last.Before(target) {
					q.OpenPositions++
				}
			}
			if !today.Before(civil.FromProto(q.GetStartDate())) && !last.Before(today) {
				p.currentGap = q.GetPlannedHeadcount() - q.GetActualHeadcount()
			}
			p.item.Quarters = append(p.item.Quarters, q)
			s := sums[i]
			if s == nil {
				s = &briefingv1.HeadcountQuarterItem{Quarter: q.GetQuarter(), StartDate: civil.ToProto(civil.FromProto(q.GetStartDate())),
					EndDate: civil.ToProto(last)}
				sums[i] = s
			}
			s.PlannedHeadcount += q.GetPlannedHeadcount()
			s.ActualHeadcount += q.GetActualHeadcount()
			s.OpenPositions += q.GetOpenPositions()
		}
	}
	for _, s := range sums {
		if s != nil {
			part.HeadcountPlanQuarters = append(part.HeadcountPlanQuarters, s)
		}
	}
	slices.SortFunc(inProgress, func(a, b *plan) int {
		return cmp.Or(cmp.Compare(b.currentGap, a.currentGap), cmp.Compare(a.item.GetHeadcountPlan(), b.item.GetHeadcountPlan()))
	})
	part.HeadcountPlanCount = int32(len(inProgress))
	for _, p := range top(inProgress) {
		part.HeadcountPlans = append(part.HeadcountPlans, p.item)
	}
}

// compliancePart lists the frameworks' postures, the least covered first, and the controls whose
// test is due on or before today and not recorded, the longest overdue first.
func compliancePart(snap *model.Snapshot, today civil.Date) *briefingv1.ComplianceBriefing {
	part := &briefingv1.ComplianceBriefing{FrameworkCount: int32(len(snap.Frameworks))}
	for _, f := range snap.Frameworks {
		item := &briefingv1.FrameworkPostureItem{Framework: f.Name, Title: f.Title, RequirementCount: f.RequirementCount,
			CoveredCount: f.CoveredCount, PartialCount: f.PartialCount, NotCoveredCount: f.NotCoveredCount}
		if f.RequirementCount > 0 {
			item.CoveredPercent = f.CoveredCount * 100 / f.RequirementCount
		}
		if f.ChangeTime.Valid {
			item.ChangeTime = timestamppb.New(f.ChangeTime.Time)
		}
		part.Frameworks = append(part.Frameworks, item)
	}
	// The least covered first, by covered / requirements compared exactly (a framework without
	// requirements last), then by name.
	share := func(f *briefingv1.FrameworkPostureItem) *big.Rat {
		if f.GetRequirementCount() <= 0 {
			return big.NewRat(2, 1)
		}
		return big.NewRat(int64(f.GetCoveredCount()), int64(f.GetRequirementCount()))
	}
	slices.SortFunc(part.Frameworks, func(a, b *briefingv1.FrameworkPostureItem) int {
		return cmp.Or(share(a).Cmp(share(b)), cmp.Compare(a.GetFramework(), b.GetFramework()))
	})
	part.Frameworks = top(part.Frameworks)
	for _, c := range snap.Controls {
		due := date(c.NextTestDate)
		if due.IsZero() || today.Before(due) {
			continue
		}
		item := &briefingv1.ControlTestDueItem{Control: c.Name, Title: c.Title, Owner: c.Owner,
			TestFrequency: riskv1.TestFrequency(c.TestFrequency), NextTestDate: civil.ToProto(due),
			DueTime: timestamppb.New(due.Time()), DaysOverdue: days(due, today), LastResult: riskv1.ControlTestResult(c.LastResult)}
		if last := date(c.LastTestDate); !last.IsZero() {
			item.LastTestDate = civil.ToProto(last)
		}
		part.OverdueControlTests = append(part.OverdueControlTests, item)
	}
	slices.SortFunc(part.OverdueControlTests, func(a, b *briefingv1.ControlTestDueItem) int {
		return cmp.Or(cmp.Compare(b.GetDaysOverdue(), a.GetDaysOverdue()), cmp.Compare(a.GetControl(), b.GetControl()))
	})
	part.OverdueControlTestCount = int32(len(part.OverdueControlTests))
	part.OverdueControlTests = top(part.OverdueControlTests)
	policyAcknowledgements(part, snap, today)
	return part
}

// policyAcknowledgements counts, for each policy with a published version, the people it asks
// (its teams' people, or everyone, who have not left, as the risk service's campaign does) and
// those of them who acknowledged its current major version, and lists the policies whose
// acknowledgements were due before today with people who have not: the most people overdue
// first.
func policyAcknowledgements(part *briefingv1.ComplianceBriefing, snap *model.Snapshot, today civil.Date) {
	for _, p := range snap.Policies {
		if p.Major == 0 {
			continue
		}
		part.PolicyCount++
		due := date(p.DueDate)
		if due.IsZero() || !due.Before(today) {
			continue
		}
		teams := map[string]bool{}
		for _, t := range p.Teams {
			teams[t] = true
		}
		item := &briefingv1.PolicyAcknowledgementItem{Policy: p.Name, Title: p.Title,
			PolicyVersion: fmt.Sprintf("%s/versions/%d-%d", p.Name, p.Major, p.Minor), DueDate: civil.ToProto(due),
			DaysOverdue: days(due, today)}
		for name, person := range snap.People {
			if person.State == int32(talentv1.Person_LEFT) || !p.Everyone && !teams[person.Team] {
				continue
			}
			item.RequiredCount++
			if snap.Acknowledged[p.Name][name] {
				item.AcknowledgedCount++
			}
		}
		if item.OverdueCount = item.RequiredCount - item.AcknowledgedCount; item.OverdueCount == 0 {
			continue
		}
		part.OverduePolicies = append(part.OverduePolicies, item)
		part.OverdueAcknowledgementCount += item.OverdueCount
	}
	slices.SortFunc(part.OverduePolicies, func(a, b *briefingv1.PolicyAcknowledgementItem) int {
		return cmp.Or(cmp.Compare(b.GetOverdueCount(), a.GetOverdueCount()), cmp.Compare(a.GetPolicy(), b.GetPolicy()))
	})
	part.OverduePolicyCount = int32(len(part.OverduePolicies))
	part.OverduePolicies = top(part.OverduePolicies)
}

// continuityPart lists the continuity plans not exercised within their cadence: those whose next
// exercise was due before today, the longest overdue first.
func continuityPart(snap *model.Snapshot, today civil.Date) *briefingv1.ContinuityBriefing {
	part := &briefingv1.ContinuityBriefing{PlanCount: int32(len(snap.ContinuityPlans))}
	for _, p := range snap.ContinuityPlans {
		due := date(p.NextExerciseDate)
		if due.IsZero() || !due.Before(today) {
			continue
		}
		item := &briefingv1.ContinuityPlanItem{ContinuityPlan: p.Name, Title: p.Title, Service: p.Service, Owner: p.Owner,
			ExerciseCadence:  &riskv1.ExerciseCadence{Months: p.CadenceMonths, Days: p.CadenceDays},
			NextExerciseDate: civil.ToProto(due), DaysOverdue: days(due, today)}
		if last := date(p.LastExerciseDate); !last.IsZero() {
			item.LastExerciseDate = civil.ToProto(last)
		}
		part.OverduePlans = append(part.OverduePlans, item)
	}
	slices.SortFunc(part.OverduePlans, func(a, b *briefingv1.ContinuityPlanItem) int {
		return cmp.Or(cmp.Compare(b.GetDaysOverdue(), a.GetDaysOverdue()), cmp.Compare(a.GetContinuityPlan(), b.GetContinuityPlan()))
	})
	part.OverduePlanCount = int32(len(part.OverduePlans))
	part.OverduePlans = top(part.OverduePlans)
	return part
}
