package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStandaloneBudgetOverREST walks the budget guide's path over REST as a portal would, with
// two API keys made through the admin API: create a budget and its line, submit it, approve it as
// the other person, record spend in a foreign currency, read burn and forecast. The automation's
// view — every step on quarterdeck.budget.> — is checked at the end.
func TestStandaloneBudgetOverREST(t *testing.T) {
	t.Parallel()
	p := start(t, t.TempDir(), scenario{prefix: "quarterdeck", args: []string{"--budget-fiscal-year-start-month", "4"}})
	defer p.Stop()
	now := time.Now().UTC()
	fy := now.Year()
	if now.Month() >= time.April {
		fy++ // named after the calendar year in which it ends
	}
	key := func(name string, scopes ...string) string {
		t.Helper()
		// Each key for a principal of its own: two keys of one principal are one person.
		code, k := call(t, "POST", p.rest+"/v1/apiKeys", map[string]any{"displayName": name,
			"principal": "principals/" + strings.ReplaceAll(name, " ", "-"), "scopes": scopes})
		if code != http.StatusOK {
			t.Fatalf("create key %s = %d %v", name, code, k)
		}
		return k["key"].(string)
	}
	owner := key("budget owner", "budget.read", "budget.write", "budget.spend", "budget.transfer")
	approver := key("finance approver", "budget.read", "budget.approve")
	treasury := key("treasury", "budget.read", "budget.rates")
	do := func(k, method, path string, body any, want int) map[string]any {
		t.Helper()
		code, out := callWith(t, k, method, p.rest+path, body)
		if code != want {
			t.Fatalf("%s %s = %d %v; want %d", method, path, code, out, want)
		}
		return out
	}

	do(owner, "POST", "/v1/costCenters?costCenterId=infra", map[string]any{"displayName": "Infrastructure", "code": "CC-100"}, 200)
	b := do(owner, "POST", "/v1/budgets?budgetId=infra", map[string]any{"costCenter": "costCenters/infra", "fiscalYear": fy,
		"currencyCode": "EUR", "displayName": "Infrastructure"}, 200)
	if b["state"] != "DRAFT" || b["fiscalYearStartDate"].(map[string]any)["month"] != float64(4) {
		t.Fatalf("created budget = %v", b)
	}
	do(owner, "POST", "/v1/budgets/infra/lines?budgetLineId=cloud", map[string]any{"displayName": "Public cloud",
		"category": "CLOUD", "expenseType": "OPEX", "plannedAmount": map[string]any{"units": "120000"}}, 200)
	bad := do(owner, "POST", "/v1/budgets/infra/lines", map[string]any{"displayName": "Odd", "category": "CLOUD",
		"expenseType": "OPEX", "plannedAmount": map[string]any{"units": "100"},
		"phasing": map[string]any{"granularity": "QUARTERLY", "amounts": []any{map[string]any{"units": "1"},
			map[string]any{"units": "1"}, map[string]any{"units": "1"}, map[string]any{"units": "1"}}}}, 400)
	if !strings.Contains(jsonString(bad), "PHASING_SUM_MISMATCH") || !strings.Contains(jsonString(bad), "budget_line.phasing.amounts") {
		t.Errorf("phasing that does not add up = %v", bad)
	}
	sub := do(owner, "POST", "/v1/budgets/infra:submit", map[string]any{}, 200)
	do(owner, "POST", "/v1/budgets/infra:approve", map[string]any{}, 403) // the owner may not approve
	do(approver, "POST", "/v1/budgets/infra:approve", map[string]any{"etag": sub["etag"]}, 200)

	month := now.Format("2006-01")
	rate := map[string]any{"month": month, "sourceCurrencyCode": "USD", "targetCurrencyCode": "EUR", "rate": "0.5"}
	do(owner, "POST", "/v1/exchangeRates", rate, 403) // rates are not the owner's (budget.rates)
	do(treasury, "POST", "/v1/exchangeRates", rate, 200)
	today := map[string]any{"year": now.Year(), "month": int(now.Month()), "day": now.Day()}
	a := do(owner, "POST", "/v1/budgets/infra/lines/cloud/actuals", map[string]any{
		"amount": map[string]any{"currencyCode": "USD", "units": "2001", "nanos": 10000000}, "bookingDate": today}, 200)
	if c := a["convertedAmount"].(map[string]any); c["units"] != "1000" || c["nanos"] != float64(500000000) || c["currencyCode"] != "EUR" {
		t.Errorf("2001.01 USD at 0.5 = %v; want 1000.50 EUR (1000.505 rounded half to even)", c)
	}
	s := do(owner, "GET", "/v1/budgets/infra/summary", nil, 200)
	total := s["total"].(map[string]any)
	if total["actual"].(map[string]any)["units"] != "1000" || total["planned"].(map[string]any)["units"] != "120000" ||
		total["forecast"] == nil || total["burnRate"] == nil || len(s["ratesUsed"].([]any)) != 1 {
		t.Errorf("summary = %v", s)
	}

	want := []string{"cost_center.created", "budget.created", "line.created", "budget.submitted", "budget.approved",
		"exchange_rate.created", "actual.recorded"}
	evs := readEvents(t, p.nats, "QUARTERDECK_BUDGET", func(evs []event) bool { return len(evs) >= len(want) })
	var got []string
	for _, ev := range evs {
		got = append(got, strings.TrimPrefix(ev.subject, "quarterdeck.budget."))
	}
	if !slices.Equal(got, want) {
		t.Errorf("events = %v; want %v", got, want)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
