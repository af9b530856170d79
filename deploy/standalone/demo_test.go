package main

import (
	"encoding/json"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestDemoIsIdempotent loads the small demo company through the REST API, then again: the second
// run creates nothing and every collection keeps its size.
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
	for _, want := range []string{"costCenters 9", "budgets 6", "vendors 10", "risks 15", "incidents 31"} {
		if !strings.Contains(first, want) {
			t.Errorf("first run created %s; want %s", first, want)
		}
	}
	counts := func() map[string]int {
		c := map[string]int{}
		for _, col := range []string{"costCenters", "budgets", "budgets/-/lines/-/actuals", "vendors", "vendors/-/contracts", "risks", "incidents"} {
			req, _ := http.NewRequest("GET", p.rest+"/v1/"+col+"?pageSize=1000", nil)
			req.Header.Set("Authorization", "Bearer "+adminKey)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var page map[string]json.RawMessage
			_ = json.NewDecoder(resp.Body).Decode(&page)
			resp.Body.Close()
			field := col[strings.LastIndex(col, "/")+1:] // the collection's field: its last segment
			var items []json.RawMessage
			_ = json.Unmarshal(page[field], &items)
			c[col] = len(items)
		}
		return c
	}
	before := counts()
	if before["budgets/-/lines/-/actuals"] == 0 || before["incidents"] != 31 {
		t.Fatalf("after the first run: %v", before)
	}
	second := run()
	if regexp.MustCompile(`[1-9]`).MatchString(second) {
		t.Errorf("second run created %s; want nothing", second)
	}
	if after := counts(); !mapsEqual(before, after) {
		t.Errorf("collections before the second run %v, after %v", before, after)
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
