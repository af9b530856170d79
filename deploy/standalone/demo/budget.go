package demo

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// division is a part of the company with its departments.
type division struct {
	id, name string
	depts    []string
}

var divisions = []division{
	{"infrastructure", "Infrastructure", []string{"Data centres", "Network", "Cloud platform", "End-user computing", "Service desk"}},
	{"applications", "Applications", []string{"ERP", "CRM", "Freight booking", "Customer portal", "Integration"}},
	{"security", "Security", []string{"Security operations", "Identity and access", "Governance and compliance", "Application security"}},
	{"data", "Data and analytics", []string{"Data platform", "Business intelligence", "Data science", "Master data"}},
	{"digital", "Digital and product", []string{"Product management", "Mobile apps", "Design"}},
	{"office", "Office of the CIO", []string{"Architecture", "PMO", "Vendor management"}},
}

// costCentre is a node of the hierarchy; leaves carry a budget.
type costCentre struct {
	id, name, code, parent, currency string
	leaf                             bool
	plan                             []linePlan
}

type linePlan struct {
	id, name, category, expenseType string
	planned                         int64
	// monthly actual, as a share of the plan's twelfth, in per cent.
	burn []int
	// foreign is true for the months an actual is booked in the other currency.
	foreign []bool
	// monthly, when set, are the month's actuals in the budget's currency instead (the payroll
	// of the labour line), booked at each month's end for the months before this one.
	monthly []int64
}

var lineKinds = []struct{ id, name, category, expenseType string }{
	{"software", "Software and SaaS", "SOFTWARE", "OPEX"},
	{"cloud", "Public cloud", "CLOUD", "OPEX"},
	{"labour", "Contractors", "EXTERNAL_LABOUR", "OPEX"},
	{"hardware", "Hardware", "HARDWARE", "CAPEX"},
}

// company is the hierarchy: the group, its divisions, their departments (30 in all; 9 small).
func (l *loader) company() []costCentre {
	out := []costCentre{{id: "halyard", name: "Halyard Freight group IT", code: "CC-1000"}}
	n := 0
	for di, d := range divisions {
		if l.opts.Small && di >= 2 {
			break
		}
		out = append(out, costCentre{id: d.id, name: d.name, code: fmt.Sprintf("CC-%d00", 11+di), parent: "costCenters/halyard"})
		for j, dept := range d.depts {
			if l.opts.Small && j >= 3 {
				break
			}
			n++
			cur := "EUR"
			if n%4 == 0 { // the US subsidiary's departments budget in dollars
				cur = "USD"
			}
			c := costCentre{id: fmt.Sprintf("%s-%d", d.id, j+1), name: dept, code: fmt.Sprintf("CC-%d%02d", 11+di, j+1),
				parent: "costCenters/" + d.id, currency: cur, leaf: true}
			for k, kind := range lineKinds {
				if k == 3 && n%3 != 0 { // hardware only for some
					continue
				}
				lp := linePlan{id: kind.id, name: kind.name, category: kind.category, expenseType: kind.expenseType,
					planned: int64(l.between(8, 90)) * 10_000}
				// Most lines burn close to plan; some run hot, some cold.
				bias := l.between(70, 125)
				for m := 0; m < 12; m++ {
					lp.burn = append(lp.burn, bias+l.between(-15, 15))
					lp.foreign = append(lp.foreign, l.rnd.IntN(5) == 0)
				}
				c.plan = append(c.plan, lp)
			}
			out = append(out, c)
		}
	}
	return out
}

func (l *loader) loadBudget(ctx context.Context) error {
	centres := l.company()
	// Each department's internal-labour line pays its team's employees and the positions it
	// recruits for.
	l.crews = l.staffing(centres)
	for i, c := range centres {
		for _, cr := range l.crews {
			if cr.id != c.id || !cr.department {
				continue
			}
			lp := linePlan{id: "salaries", name: "Salaries", category: "INTERNAL_LABOUR", expenseType: "OPEX", planned: cr.labourPlan(l.year)}
			for m := time.January; m <= time.December; m++ {
				lp.monthly = append(lp.monthly, cr.payroll(l.year, m))
			}
			centres[i].plan = append(centres[i].plan, lp)
		}
	}
	for _, c := range centres {
		body := map[string]any{"displayName": c.name, "code": c.code, "owner": "cio@halyard.example"}
		if c.parent != "" {
			body["parent"] = c.parent
		}
		var got struct{ Description string }
		if c.parent == "" {
			// The group's description says which company this is: the small one and the full one
			// share names but not their figures, so one is not loaded over the other.
			body["description"] = l.companyDescription()
		}
		did, err := l.admin.ensure(ctx, "costCenters", "costCenterId", c.id, body, &got)
		if err != nil {
			return err
		}
		if c.parent == "" && got.Description != "" && got.Description != body["description"] {
			return fmt.Errorf("%w: the platform holds %q; load %q into a platform of its own (a new data directory)",
				ErrOtherCompany, got.Description, body["description"])
		}
		l.created("costCenters", did)
	}
	if err := l.rates(ctx); err != nil {
		return err
	}
	for _, c := range centres {
		if !c.leaf {
			continue
		}
		if err := l.budget(ctx, c); err != nil {
			return err
		}
	}
	return nil
}

// ErrOtherCompany is returned when the platform holds the other size of the demo company.
var ErrOtherCompany = errors.New("another demo company is loaded")

// companyDescription is the group cost centre's description, which names the company's size.
func (l *loader) companyDescription() string {
	if l.opts.Small {
		return "Halyard Freight, the small demo company"
	}
	return "Halyard Freight, the demo company"
}

// rates are the monthly exchange rates between the two currencies, both ways, for the months of
// the year up to this one.
func (l *loader) rates(ctx context.Context) error {
	for m := 1; m <= int(l.now.Month()); m++ {
		usdEur := 900 + (m*7)%40 // 0.900 to 0.939 EUR per USD
		for _, r := range []struct {
			src, tgt string
			rate     string
		}{
			{"USD", "EUR", fmt.Sprintf("0.%03d", usdEur)},
			{"EUR", "USD", fmt.Sprintf("%.4f", 1000.0/float64(usdEur))},
		} {
			err := l.admin.do(ctx, "POST", "/v1/exchangeRates", map[string]any{
				"month": fmt.Sprintf("%d-%02d", l.year, m), "sourceCurrencyCode": r.src, "targetCurrencyCode": r.tgt, "rate": r.rate,
			}, nil)
			switch status(err) {
			case 0:
				l.created("exchangeRates", true)
			case 409:
			default:
				return err
			}
		}
	}
	return nil
}

type budgetState struct {
	State string `json:"state"`
	Etag  string `json:"etag"`
}

func (l *loader) budget(ctx context.Context, c costCentre) error {
	id := fmt.Sprintf("%s-fy%d", c.id, l.year)
	var b budgetState
	did, err := l.admin.ensure(ctx, "budgets", "budgetId", id, map[string]any{
		"costCenter": "costCenters/" + c.id, "fiscalYear": l.year, "currencyCode": c.currency,
		"displayName": fmt.Sprintf("%s FY%d", c.name, l.year), "owner": "cio@halyard.example", "overspendPolicy": "WARN",
	}, &b)
	if err != nil {
		return err
	}
	l.created("budgets", did)
	for _, lp := range c.plan {
		if b.State != "DRAFT" { // lines are fixed once the budget is submitted
			break
		}
		did, err := l.admin.ensure(ctx, "budgets/"+id+"/lines", "budgetLineId", lp.id, map[string]any{
			"displayName": lp.name, "category": lp.category, "expenseType": lp.expenseType,
			"plannedAmount": money(c.currency, lp.planned),
		}, nil)
		if err != nil {
			return err
		}
		l.created("lines", did)
	}
	if b.State == "DRAFT" {
		if err := l.admin.do(ctx, "POST", "/v1/budgets/"+id+":submit", map[string]any{}, &b); err != nil {
			return err
		}
	}
	if b.State == "SUBMITTED" {
		if err := l.approver.do(ctx, "POST", "/v1/budgets/"+id+":approve", map[string]any{"etag": b.Etag}, &b); err != nil {
			return err
		}
	}
	for _, lp := range c.plan {
		if lp.id == "software" {
			l.software = append(l.software, "budgets/"+id+"/lines/software")
		}
		if err := l.actuals(ctx, "budgets/"+id+"/lines/"+lp.id, c.currency, lp); err != nil {
			return err
		}
	}
	return nil
}

// actuals books one actual per month of the year so far, the current month's as of today.
func (l *loader) actuals(ctx context.Context, line, currency string, lp linePlan) error {
	type actual struct {
		ExternalReference string `json:"externalReference"`
	}
	existing, err := list[actual](ctx, l.admin, "/v1/"+line+"/actuals", "actuals")
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, a := range existing {
		have[a.ExternalReference] = true
	}
	for m := 1; m <= int(l.now.Month()); m++ {
		ref := fmt.Sprintf("demo-%s-%d-%02d", line, l.year, m)
		if len(ref) > 256 || have[ref] {
			continue
		}
		day := time.Date(l.year, time.Month(m), 28, 0, 0, 0, 0, time.UTC)
		if m == int(l.now.Month()) {
			day = time.Date(l.year, time.Month(m), min(l.now.Day(), 28), 0, 0, 0, 0, time.UTC)
		}
		var amount int64
		cur := currency
		switch {
		case lp.monthly != nil:
			if m == int(l.now.Month()) || lp.monthly[m-1] == 0 {
				continue
			}
			amount, day = lp.monthly[m-1], time.Date(l.year, time.Month(m), 28, 0, 0, 0, 0, time.UTC)
		default:
			amount = lp.planned / 12 * int64(lp.burn[m-1]) / 100
		}
		if lp.monthly == nil && lp.foreign[m-1] {
			if cur == "EUR" {
				cur, amount = "USD", amount*108/100
			} else {
				cur, amount = "EUR", amount*92/100
			}
		}
		err := l.admin.do(ctx, "POST", "/v1/"+line+"/actuals", map[string]any{
			"amount": money(cur, amount), "bookingDate": date(day), "source": "MANUAL",
			"description": fmt.Sprintf("%s, %s %d", lp.name, time.Month(m), l.year), "externalReference": ref,
		}, nil)
		if err != nil {
			return err
		}
		l.created("actuals", true)
	}
	return nil
}
