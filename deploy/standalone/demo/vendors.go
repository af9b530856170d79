package demo

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"
)

var vendorNames = []struct{ name, category, country string }{
	{"Northwind Cloud", "CLOUD_INFRASTRUCTURE", "IE"}, {"Contoso ERP", "SAAS", "DE"}, {"Fabrikam Networks", "TELECOM", "FR"},
	{"Tailspin Security", "MANAGED_SERVICE", "GB"}, {"Litware Analytics", "SAAS", "US"}, {"Adatum Hardware", "HARDWARE", "NL"},
	{"Proseware CRM", "SAAS", "US"}, {"Wingtip Consulting", "CONSULTING", "BE"}, {"Woodgrove Payments", "SAAS", "LU"},
	{"Coho Logistics Software", "SAAS", "DK"}, {"Alpine Ski Telecom", "TELECOM", "AT"}, {"Blue Yonder Routing", "SAAS", "US"},
	{"Lucerne Identity", "SAAS", "CH"}, {"Margie's Service Desk", "MANAGED_SERVICE", "IE"}, {"Trey Research Labs", "CONSULTING", "GB"},
	{"VanArsdel Devices", "HARDWARE", "TW"}, {"Fourth Coffee Workplace", "MANAGED_SERVICE", "SE"}, {"Relecloud Hosting", "CLOUD_INFRASTRUCTURE", "US"},
	{"Humongous Backup", "SAAS", "US"}, {"Graphic Design Institute", "CONSULTING", "IT"}, {"Wide World Importers EDI", "SAAS", "NL"},
	{"Southridge Video", "SAAS", "US"}, {"Datum Observability", "SAAS", "US"}, {"Nod Publishers Docs", "SAAS", "DE"},
	{"Bellows College Training", "CONSULTING", "GB"}, {"Best For You Mobile", "TELECOM", "ES"}, {"Consolidated Messenger", "SAAS", "US"},
	{"First Up Consultants", "CONSULTING", "FR"}, {"Liberty's Delightful Print", "MANAGED_SERVICE", "IE"}, {"Olympia Data Centres", "CLOUD_INFRASTRUCTURE", "DE"},
	{"Parnell Aerospace Tracking", "SAAS", "US"}, {"School of Fine Art UX", "CONSULTING", "NL"}, {"Lamna Healthcare Benefits", "SAAS", "GB"},
	{"Munson's Pickles Lab", "OTHER", "US"}, {"Adventure Works GIS", "SAAS", "CA"}, {"Awesome Computers", "HARDWARE", "CN"},
	{"Boulder Innovations", "CONSULTING", "US"}, {"Tasmanian Traders Ledger", "SAAS", "AU"}, {"Hexa Secure Mail", "SAAS", "FI"},
	{"Kestrel Edge Networks", "TELECOM", "PL"},
}

// slug is a resource id made of a display name.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

type vendorPlan struct {
	id, name, category, country, dataAccess string
	tier                                    int
	ratings                                 []int // the assessment's answers, 0-4
	contracts                               []contractPlan
}

type contractPlan struct {
	id, title, line string
	slas            []map[string]any
	annual          int64
	currency        string
	start, end      time.Time
	noticeDays      int
	autoRenew       bool
	billing         string
}

var templateQuestions = []map[string]any{
	{"key": "policy", "text": "Is there an information security policy, reviewed yearly?", "weight": 2},
	{"key": "mfa", "text": "Is MFA enforced for every administrative access?", "weight": 3, "critical": true},
	{"key": "backups", "text": "Are backups tested by restoring them at least quarterly?", "weight": 3},
	{"key": "incidents", "text": "Are security incidents notified within 72 hours?", "weight": 2},
}

func (l *loader) vendorPlans() []vendorPlan {
	n := 40
	if l.opts.Small {
		n = 10
	}
	today := time.Date(l.now.Year(), l.now.Month(), l.now.Day(), 0, 0, 0, 0, time.UTC)
	var out []vendorPlan
	for i := 0; i < n; i++ {
		v := vendorNames[i]
		p := vendorPlan{id: slug(v.name), name: v.name, category: v.category, country: v.country,
			tier: 1 + l.rnd.IntN(3), dataAccess: l.pick([]string{"NONE", "INTERNAL", "CONFIDENTIAL", "RESTRICTED"})}
		good := l.rnd.IntN(6) != 0 // one in six vendors answers poorly
		for range templateQuestions {
			if good {
				p.ratings = append(p.ratings, l.between(3, 4))
			} else {
				p.ratings = append(p.ratings, l.between(0, 2))
			}
		}
		contracts := 1 + l.rnd.IntN(2)
		for k := 0; k < contracts; k++ {
			c := contractPlan{id: fmt.Sprintf("c%d", k+1), currency: "EUR", autoRenew: l.rnd.IntN(3) != 0,
				billing: l.pick([]string{"MONTHLY", "QUARTERLY", "ANNUALLY"})}
			c.title = fmt.Sprintf("%s %s", v.name, l.pick([]string{"subscription", "support and maintenance", "master services agreement", "licences"}))
			c.annual = int64(l.between(2, 30)) * 1_000
			c.noticeDays = l.pick2([]int{30, 60, 90})
			// Where the contract stands today: a third inside the notice window, a sixth renewing
			// within 90 days, the rest ending later.
			switch l.rnd.IntN(6) {
			case 0, 1:
				c.end = today.AddDate(0, 0, c.noticeDays+l.between(3, 50))
			case 2:
				c.noticeDays = 30
				c.end = today.AddDate(0, 0, l.between(31, 90))
			default:
				c.end = today.AddDate(0, l.between(4, 20), 0)
			}
			// Signed this year: the contract's value is held on this year's budget line.
			c.start = time.Date(l.year, time.Month(l.between(1, int(l.now.Month()))), 1, 0, 0, 0, 0, time.UTC)
			out := l.software
			if len(out) > 0 {
				c.line = out[(i+k)%len(out)]
			}
			if c.slas = serviceLevels(v.category); c.slas != nil {
				// In force since the year began, so that a provider's outage of the last days
				// (vendorOutage) falls in its term.
				c.start = time.Date(l.year, 1, 1, 0, 0, 0, 0, time.UTC)
			}
			p.contracts = append(p.contracts, c)
		}
		out = append(out, p)
	}
	return out
}

func (l *loader) pick2(xs []int) int { return xs[l.rnd.IntN(len(xs))] }

// serviceLevels are the service levels of a contract with a vendor of category: the cloud and
// telecom providers, whose failures take the company's services down (incidentKinds), commit to
// 99.9 % a month and to resolving a SEV1 within 4 hours, a SEV2 within 8.
func serviceLevels(category string) []map[string]any {
	if category != "CLOUD_INFRASTRUCTURE" && category != "TELECOM" {
		return nil
	}
	return []map[string]any{{
		"displayName": "Service availability", "availabilityTargetPercent": "99.9", "measurementPeriod": "MONTHLY",
		"responseTargets": []map[string]any{
			{"severity": "SEV1", "resolutionTime": "14400s"}, {"severity": "SEV2", "resolutionTime": "28800s"},
		},
	}}
}

func (l *loader) loadVendors(ctx context.Context) error {
	if _, err := l.admin.ensure(ctx, "assessmentTemplates", "assessmentTemplateId", "security-dd", map[string]any{
		"displayName": "Security due diligence", "questions": templateQuestions}, nil); err != nil {
		return err
	}
	for _, v := range l.vendorPlans() {
		if err := l.vendor(ctx, v); err != nil {
			return err
		}
	}
	return nil
}

func (l *loader) vendor(ctx context.Context, v vendorPlan) error {
	var st struct {
		State string `json:"state"`
	}
	did, err := l.admin.ensure(ctx, "vendors", "vendorId", v.id, map[string]any{
		"displayName": v.name, "legalName": v.name + " Ltd", "category": v.category, "tier": v.tier,
		"dataAccess": v.dataAccess, "country": v.country, "owner": "vendor-management@halyard.example",
		"contacts": []map[string]any{{"displayName": "Account manager", "email": "accounts@" + v.id + ".example", "role": "account manager"}},
	}, &st)
	if err != nil {
		return err
	}
	l.created("vendors", did)
	name := "vendors/" + v.id
	if st.State == "PROSPECT" {
		if err := l.admin.do(ctx, "POST", "/v1/"+name+":startOnboarding", map[string]any{}, &st); err != nil {
			return err
		}
	}
	var a struct {
		State string `json:"state"`
	}
	did, err = l.admin.ensure(ctx, name+"/assessments", "assessmentId", "initial", map[string]any{
		"template": "assessmentTemplates/security-dd", "assessor": "security-team@halyard.example"}, &a)
	if err != nil {
		return err
	}
	l.created("assessments", did)
	if a.State == "IN_PROGRESS" {
		var answers []map[string]any
		for i, q := range templateQuestions {
			answers = append(answers, map[string]any{"questionKey": q["key"], "rating": v.ratings[i]})
		}
		if err := l.admin.do(ctx, "PATCH", "/v1/"+name+"/assessments/initial?updateMask=answers", map[string]any{"answers": answers}, nil); err != nil {
			return err
		}
		if err := l.admin.do(ctx, "POST", "/v1/"+name+"/assessments/initial:complete", map[string]any{}, nil); err != nil {
			return err
		}
	}
	if st.State == "ONBOARDING" {
		err := l.admin.do(ctx, "POST", "/v1/"+name+":activate", map[string]any{}, &st)
		if err != nil && status(err) != 409 && status(err) != 400 { // a poor assessment keeps the vendor onboarding
			return err
		}
	}
	if st.State != "ACTIVE" {
		return nil
	}
	for _, c := range v.contracts {
		var cs struct {
			State string `json:"state"`
		}
		body := map[string]any{
			"title": c.title, "totalValue": money(c.currency, c.annual), "annualValue": money(c.currency, c.annual),
			"billingFrequency": c.billing, "startDate": date(c.start), "endDate": date(c.end),
			"autoRenew": c.autoRenew, "noticePeriodDays": c.noticeDays, "owner": "vendor-management@halyard.example",
		}
		if c.autoRenew {
			body["renewalTermMonths"] = 12
		}
		if c.slas != nil {
			body["slas"] = c.slas
		}
		if c.line != "" {
			body["budgetLine"] = c.line
		}
		did, err := l.admin.ensure(ctx, name+"/contracts", "contractId", c.id, body, &cs)
		if err != nil {
			return err
		}
		l.created("contracts", did)
		cname := "/v1/" + name + "/contracts/" + c.id
		if cs.State == "DRAFT" {
			if err := l.admin.do(ctx, "POST", cname+":submit", map[string]any{}, &cs); err != nil {
				return err
			}
		}
		if cs.State == "PENDING_APPROVAL" {
			if err := l.approver.do(ctx, "POST", cname+":approve", map[string]any{}, &cs); err != nil {
				return err
			}
		}
		if cs.State == "ACTIVE" && c.line != "" && !l.advanceInvoiced {
			l.advanceInvoiced = true
			if err := l.advanceInvoice(ctx, name+"/contracts/"+c.id, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// advanceInvoice records, on the first contract in force charged to this year's budget, the
// vendor's invoice in advance for the first quarter of next year, dated 10 January: next year's
// budget does not exist yet, so budget keeps the invoice for it until it is approved (a deferred
// actual, listed on the console's budgets page).
func (l *loader) advanceInvoice(ctx context.Context, contract string, c contractPlan) error {
	number := fmt.Sprintf("%s-%d-Q1", strings.ToUpper(strings.ReplaceAll(strings.TrimPrefix(contract, "vendors/"), "/contracts/", "-")), l.year+1)
	existing, err := list[struct{}](ctx, l.admin, "/v1/"+contract+"/invoices?filter="+url.QueryEscape(fmt.Sprintf("invoice_number = %q", number)), "invoices")
	if err != nil || len(existing) > 0 {
		return err
	}
	body := map[string]any{"invoiceNumber": number, "amount": money(c.currency, c.annual/4),
		"invoiceDate": date(time.Date(l.year+1, time.January, 10, 0, 0, 0, 0, time.UTC))}
	if err := l.admin.do(ctx, "POST", "/v1/"+contract+"/invoices", body, nil); err != nil {
		return err
	}
	l.created("invoices", true)
	return nil
}
