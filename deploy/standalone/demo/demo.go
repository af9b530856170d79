// Package demo loads a fictitious company, Halyard Freight, into a running Quarterdeck through
// its public REST API, so that every change goes through the services' rules and publishes its
// events, as a real organisation's would: cost centres, budgets with a year of actuals in two
// currencies, vendors with their assessments and contracts (some inside their notice window),
// a risk register, a year of incidents with a data breach whose notification clocks run and a
// provider's outage that breaks its contract's service levels, and the IT organisation's teams
// with about 300 people and their pay, a skills taxonomy with the skills each department requires
// and its people's ratings (gaps and key-person risks among them), the positions each department
// recruits for against its labour budget, and each team's headcount plan for the year; and its
// compliance: ISO/IEC 27001 with the controls mapped to it and their tests (one failed, some
// overdue), the continuity plans of three services (one exercise missed its RTO, one plan is
// overdue) and an acceptable-use policy most people acknowledged and the others are overdue for.
//
// A second run adds nothing: every resource has a fixed id (an ALREADY_EXISTS answer means it is
// there), every transition is taken only from the state before it, and an actual is recorded only
// when no actual of its line carries its external reference. The only thing each run creates is
// the API key of the company's approver (approving is a person's other than the submitter's),
// revoked before the run ends.
package demo

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Options configures a load.
type Options struct {
	// BaseURL is the gateway's REST address, e.g. http://127.0.0.1:8080.
	BaseURL string
	// Key is an admin API key (scope iam.admin to create the approver's key, and every domain's
	// write scopes), e.g. the bootstrap key.
	Key string
	// Small loads a smaller company (for quick tests): 9 cost centres, 10 vendors, 15 risks, 30
	// incidents, 8 teams of about 40 people.
	Small bool
	// Now is the day the company is loaded as of (default: today, UTC).
	Now time.Time
	// Log receives one line per step (nil: discarded).
	Log io.Writer
}

// Stats counts what a load created; a second load's counts are all zero.
type Stats struct {
	Created map[string]int
	Calls   int
}

func (s Stats) String() string {
	var parts []string
	for _, k := range []string{"costCenters", "exchangeRates", "budgets", "lines", "actuals", "vendors", "assessments", "contracts", "invoices", "risks", "actions", "acceptances", "incidents", "teams", "people", "skillCategories", "skills", "requirements", "ratings", "positions", "headcountPlans",
		"controls", "controlTests", "continuityPlans", "exercises", "policies", "acknowledgements"} {
		parts = append(parts, fmt.Sprintf("%s %d", k, s.Created[k]))
	}
	return strings.Join(parts, ", ")
}

type loader struct {
	opts     Options
	admin    *client
	approver *client
	rnd      *rand.Rand
	now      time.Time
	year     int
	stats    Stats
	// lines of the budgets, for the vendors' contracts: the software line of each cost centre.
	software []string
	// crews are the teams' staff plan, drawn with the budgets (it sets their labour lines).
	crews []crew
	// advanceInvoiced: a contract got its invoice in advance for next year (advanceInvoice).
	advanceInvoiced bool
}

// Load loads the company. It is safe to run again: what exists is left as it is.
func Load(ctx context.Context, opts Options) (Stats, error) {
	if opts.Now.IsZero() {
		opts.Now = time.Now().UTC()
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	httpc := &http.Client{Timeout: 60 * time.Second}
	l := &loader{
		opts:  opts,
		admin: &client{base: strings.TrimRight(opts.BaseURL, "/"), key: opts.Key, http: httpc},
		// A fixed seed: the same company every run, so that a second run finds every resource.
		rnd:   rand.New(rand.NewPCG(2026, 18)),
		now:   opts.Now.UTC(),
		year:  opts.Now.UTC().Year(),
		stats: Stats{Created: map[string]int{}},
	}
	revoke, err := l.approverKey(ctx)
	if err != nil {
		return l.stats, err
	}
	defer revoke()
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"budget", l.loadBudget},
		{"vendors", l.loadVendors},
		{"risk", l.loadRisks},
		{"incidents", l.loadIncidents},
		{"talent", l.loadTalent},
		// After talent: the policy is acknowledged by its people.
		{"compliance", l.loadCompliance},
	}
	for _, s := range steps {
		fmt.Fprintf(opts.Log, "demo: %s…\n", s.name)
		if err := s.fn(ctx); err != nil {
			return l.stats, fmt.Errorf("demo %s: %w", s.name, err)
		}
	}
	l.stats.Calls = l.admin.calls + l.approver.calls
	return l.stats, nil
}

// approverKey creates the key of the company's approver, a principal of its own, and returns
// the function that revokes it.
func (l *loader) approverKey(ctx context.Context) (func(), error) {
	var key struct {
		Key    string `json:"key"`
		APIKey struct {
			Name string `json:"name"`
		} `json:"apiKey"`
		Name string `json:"name"`
	}
	err := l.admin.do(ctx, "POST", "/v1/apiKeys", map[string]any{
		"displayName": "demo company approver (revoked when the load ends)",
		"principal":   "principals/demo-cfo",
		// It expires by itself should the revocation at the end not happen (a killed run).
		"expireTime": time.Now().UTC().Add(2 * time.Hour).Format(time.RFC3339),
		"scopes": []string{"budget.read", "budget.approve", "budget.spend", "vendors.read", "vendors.approve",
			"vendors.finance", "risk.read", "risk.approve", "incidents.read", "talent.read", "talent.approve"},
	}, &key)
	if err != nil {
		return nil, fmt.Errorf("create the approver's API key (the key given needs iam.admin): %w", err)
	}
	l.approver = &client{base: l.admin.base, key: key.Key, http: l.admin.http}
	name := key.APIKey.Name
	if name == "" {
		name = key.Name
	}
	return func() {
		if name == "" {
			return
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := l.admin.do(rctx, "POST", "/v1/"+name+":revoke", map[string]any{}, nil); err != nil {
			fmt.Fprintf(l.opts.Log, "demo: revoke the approver's key %s: %v\n", name, err)
		}
	}, nil
}

func (l *loader) created(kind string, did bool) {
	if did {
		l.stats.Created[kind]++
	}
}

// money is a google.type.Money of whole units.
func money(currency string, units int64) map[string]any {
	return map[string]any{"currencyCode": currency, "units": fmt.Sprint(units)}
}

func date(t time.Time) map[string]any {
	return map[string]any{"year": t.Year(), "month": int(t.Month()), "day": t.Day()}
}

// between is a whole number in [lo, hi].
func (l *loader) between(lo, hi int) int { return lo + l.rnd.IntN(hi-lo+1) }

func (l *loader) pick(xs []string) string { return xs[l.rnd.IntN(len(xs))] }
