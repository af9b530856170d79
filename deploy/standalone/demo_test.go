package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestDemoIsIdempotent loads the small demo company through the REST API, then again: the second
// run creates nothing and every collection keeps its size. The positions it recruits for are in
// every state, those approved against their team's labour line, the skills' coverage has gaps
// and key-person risks, and the provider outage breaks its contract's service levels. The full
// company is then refused on that platform, and nothing changes.
func TestDemoIsIdempotent(t *testing.T) {
	t.Parallel()
	p := start(t, t.TempDir(), scenario{})
	run := func() string {
		t.Helper()
		cmd := exec.Command(binary, "demo", "--small", "--url", p.rest)
		cmd.Env = append(baseEnv(), "QUARTERDECK_API_KEY="+adminKey)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("quarterdeck demo: %v\n%s", err, out)
		}
		m := regexp.MustCompile(`created: (.*)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("no summary in:\n%s", out)
		}
		return string(m[1])
	}
	first := run()
	for _, want := range []string{"costCenters 9", "budgets 6", "vendors 10", "invoices 1", "risks 15", "incidents 32",
		"teams 8", "people 30", "skills 38", "requirements 20", "ratings 68", "positions 12", "headcountPlans 8",
		"controls 7", "controlTests 7", "continuityPlans 3", "exercises 2", "policies 1"} {
		if !strings.Contains(first, want) {
			t.Errorf("first run created %s; want %s", first, want)
		}
	}
	counts := func() map[string]int {
		c := map[string]int{}
		for _, col := range []string{"costCenters", "budgets", "budgets/-/lines/-/actuals", "vendors", "vendors/-/contracts", "vendors/-/slaBreaches", "risks", "incidents", "people", "positions",
			"controls", "continuityPlans", "policies/acceptable-use/campaign/people", "costCenters/-/deferredActuals"} {
			var page map[string]json.RawMessage
			getJSON(t, p.rest+"/v1/"+col+"?pageSize=1000", &page)
			field := col[strings.LastIndex(col, "/")+1:] // the collection's field: its last segment
			var items []json.RawMessage
			_ = json.Unmarshal(page[field], &items)
			c[col] = len(items)
		}
		return c
	}
	// The provider outage breaks both service levels of its contract, once the vendors service has
	// read the incident's events.
	var before map[string]int
	testkit.Eventually(t, 20*time.Second, func() error {
		if before = counts(); before["vendors/-/slaBreaches"] < 2 {
			return fmt.Errorf("%d SLA breaches; want the provider outage's 2", before["vendors/-/slaBreaches"])
		}
		// The invoice in advance for next year waits for next year's budget.
		if n := before["costCenters/-/deferredActuals"]; n != 1 {
			return fmt.Errorf("%d invoices wait for a later year's budget; want the invoice in advance for next year", n)
		}
		return nil
	})
	if before["budgets/-/lines/-/actuals"] == 0 || before["incidents"] != 32 || before["people"] != 30 {
		t.Fatalf("after the first run: %v", before)
	}
	// The positions are in every state, and those approved hold funds on their team's labour line.
	var positions struct {
		Positions []struct {
			Name, State, Team, BudgetLine, Person string
		} `json:"positions"`
	}
	getJSON(t, p.rest+"/v1/positions?pageSize=1000", &positions)
	states := map[string]int{}
	for _, pos := range positions.Positions {
		states[pos.State]++
		approved := pos.State == "OPEN" || pos.State == "OFFER" || pos.State == "FILLED" || pos.State == "CANCELLED"
		if want := "budgets/" + strings.TrimPrefix(pos.Team, "teams/") + "-fy"; approved && !strings.HasPrefix(pos.BudgetLine, want) || approved && !strings.HasSuffix(pos.BudgetLine, "/lines/salaries") {
			t.Errorf("%s (%s) holds its funds on %q; want the salaries line of its team's budget", pos.Name, pos.State, pos.BudgetLine)
		}
		if (pos.State == "FILLED") != (pos.Person != "") {
			t.Errorf("%s is %s, filled by %q", pos.Name, pos.State, pos.Person)
		}
	}
	for _, s := range []string{"DRAFT", "PENDING_APPROVAL", "OPEN", "OFFER", "FILLED", "CANCELLED"} {
		if states[s] == 0 {
			t.Errorf("no position is %s: %v", s, states)
		}
	}
	// Most people acknowledged the acceptable-use policy, the others are overdue for it.
	var campaign struct{ RequiredCount, AcknowledgedCount, OverdueCount int }
	getJSON(t, p.rest+"/v1/policies/acceptable-use/campaign", &campaign)
	if campaign.AcknowledgedCount == 0 || campaign.OverdueCount == 0 || campaign.AcknowledgedCount+campaign.OverdueCount != campaign.RequiredCount {
		t.Errorf("the acceptable-use campaign: %+v; want some acknowledged and the others overdue", campaign)
	}
	// The teams' coverage shows gaps and skills one person alone holds.
	var coverage struct {
		GapCount       int `json:"gapCount"`
		KeyPersonCount int `json:"keyPersonCount"`
	}
	getJSON(t, p.rest+"/v1/teams/-/coverage", &coverage)
	if coverage.GapCount == 0 || coverage.KeyPersonCount == 0 {
		t.Errorf("coverage of every team: %+v; want gaps and key-person risks", coverage)
	}
	second := run()
	if regexp.MustCompile(`[1-9]`).MatchString(second) {
		t.Errorf("second run created %s; want nothing", second)
	}
	if after := counts(); !mapsEqual(before, after) {
		t.Errorf("collections before the second run %v, after %v", before, after)
	}
	// The full company is another company of the same names: it is not loaded over the small one.
	cmd := exec.Command(binary, "demo", "--url", p.rest)
	cmd.Env = append(baseEnv(), "QUARTERDECK_API_KEY="+adminKey)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), `the platform holds "Halyard Freight, the small demo company"`) {
		t.Errorf("the full demo over the small one: %v\n%s\nwant it refused", err, out)
	}
	if after := counts(); !mapsEqual(before, after) {
		t.Errorf("collections before the full demo %v, after %v", before, after)
	}
}

// getJSON reads a resource with the admin key, again after a pause when the gateway's rate
// limit refuses it (the demo's load spends the key's allowance).
func getJSON(t *testing.T, url string, out any) {
	t.Helper()
	var resp *http.Response
	for attempt := 0; ; attempt++ {
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer "+adminKey)
		var err error
		if resp, err = http.DefaultClient.Do(req); err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusTooManyRequests || attempt == 20 {
			break
		}
		resp.Body.Close()
		time.Sleep(250 * time.Millisecond)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
