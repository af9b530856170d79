package names_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
)

func TestScan(t *testing.T) {
	t.Parallel()
	const lines names.Pattern = "budgets/{budget}/lines/{line}"
	tests := []struct {
		name       string
		ok         bool
		budget, ln string
	}{
		{"budgets/b1/lines/l1", true, "b1", "l1"},
		{"budgets/-/lines/-", true, "-", "-"},
		{"budgets/b1/lines/", false, "", ""},
		{"budgets//lines/l1", false, "", ""},
		{"budgets/b1/lines", false, "", ""},
		{"budgets/b1/lines/l1/actuals/a1", false, "", ""},
		{"budgets/b1/items/l1", false, "", ""},
		{"Budgets/b1/lines/l1", false, "", ""},
		{"", false, "", ""},
	}
	for _, tt := range tests {
		var b, l string
		if got := lines.Scan(tt.name, &b, &l); got != tt.ok || b != tt.budget || l != tt.ln {
			t.Errorf("Scan(%q) = %v, %q, %q; want %v, %q, %q", tt.name, got, b, l, tt.ok, tt.budget, tt.ln)
		}
	}
	var b string
	if !lines.Scan("budgets/b1/lines/l1", &b) || b != "b1" {
		t.Errorf("Scan with fewer ids = %q, want b1", b)
	}
	var l string
	if !lines.Scan("budgets/b1/lines/l1", nil, &l) || l != "l1" {
		t.Errorf("Scan skipping the first id = %q, want l1", l)
	}
	if id, ok := lines.Last("budgets/b1/lines/l2"); !ok || id != "l2" {
		t.Errorf("Last = %q, %v; want l2, true", id, ok)
	}
	if _, ok := lines.Last("budgets/b1"); ok {
		t.Error("Last of a parent's name matched")
	}
	if id, ok := names.Pattern("budgets/{budget}/summary").Last("budgets/b1/summary"); !ok || id != "b1" {
		t.Errorf("Last of a singleton's name = %q, %v; want b1, true", id, ok)
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	if got := names.Format("budgets/{budget}/lines/{line}", "b1", "l1"); got != "budgets/b1/lines/l1" {
		t.Errorf("Format = %q", got)
	}
	if got := names.Pattern("costCenters/{cost_center}").Format("cc"); got != "costCenters/cc" {
		t.Errorf("Format = %q", got)
	}
	for _, name := range []string{"costCenters/x", "exchangeRates/2027-03-eur-usd"} {
		var id string
		p := names.Pattern("costCenters/{cost_center}")
		if name[0] == 'e' {
			p = "exchangeRates/{exchange_rate}"
		}
		if !p.Scan(name, &id) || p.Format(id) != name {
			t.Errorf("Format(Scan(%q)) = %q", name, p.Format(id))
		}
	}
}

func TestInvalid(t *testing.T) {
	t.Parallel()
	err := names.Pattern("budgets/{budget}").Invalid("parent")
	fe := fault.As(err)
	if fe == nil || fe.Kind != fault.InvalidArgument || len(fe.Violations) != 1 {
		t.Fatalf("Invalid = %#v", err)
	}
	v := fe.Violations[0]
	if v.Field != "parent" || v.Reason != names.ReasonInvalid || v.Description != "parent must be budgets/{budget}" {
		t.Errorf("violation = %+v", v)
	}
	// A field inside a message is described by its own name, as the other violations are.
	v = names.Pattern("budgets/{budget}/lines/{line}").Violation("budget_line.name")
	if v.Field != "budget_line.name" || v.Description != "name must be budgets/{budget}/lines/{line}" {
		t.Errorf("violation of a nested field = %+v", v)
	}
}

func TestScanResource(t *testing.T) {
	t.Parallel()
	const lines names.Pattern = "budgets/{budget}/lines/{line}"
	var b, l string
	if !lines.ScanResource("budgets/b1/lines/l1", &b, &l) || b != "b1" || l != "l1" {
		t.Errorf("ScanResource = %q, %q", b, l)
	}
	for _, name := range []string{"budgets/-/lines/l1", "budgets/b1/lines/-", "budgets/b1/lines", "budgets/b1/items/l1"} {
		var b, l string
		if lines.ScanResource(name, &b, &l) || b != "" || l != "" {
			t.Errorf("ScanResource(%q) matched: %q, %q", name, b, l)
		}
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	const budgets names.Pattern = "budgets/{budget}"
	notFound := fault.New(fault.NotFound, "BUDGET_NOT_FOUND", "budget not found")
	var asked []string
	get := func(_ context.Context, id string) (string, error) {
		asked = append(asked, id)
		if id == "b1" {
			return "budget b1", nil
		}
		return "", notFound
	}
	if v, err := names.Get(context.Background(), budgets, "budgets/b1", get); err != nil || v != "budget b1" {
		t.Errorf("Get = %q, %v", v, err)
	}
	for _, name := range []string{"budgets/b2", "costCenters/b1"} {
		_, err := names.Get(context.Background(), budgets, name, get)
		fe := fault.As(err)
		if fe == nil || fe.Reason != "BUDGET_NOT_FOUND" || fe.Metadata["name"] != name || fe.Message != "budget "+name+" not found" {
			t.Errorf("Get(%q) = %v, want BUDGET_NOT_FOUND naming it", name, err)
		}
	}
	if !slices.Equal(asked, []string{"b1", "b2", ""}) {
		t.Errorf("IDs read = %q, want b1, b2 and the empty ID of a name of another pattern", asked)
	}
	if m, err := names.GetAs(context.Background(), budgets, "budgets/b1", get, strings.ToUpper); err != nil || m != "BUDGET B1" {
		t.Errorf("GetAs = %q, %v", m, err)
	}
	if m, err := names.GetAs(context.Background(), budgets, "budgets/b2", get, strings.ToUpper); m != "" || fault.As(err) == nil {
		t.Errorf("GetAs of a missing budget = %q, %v", m, err)
	}
}

func TestHasWildcard(t *testing.T) {
	t.Parallel()
	if !names.HasWildcard("b", "-") || names.HasWildcard("b", "l") {
		t.Error("HasWildcard")
	}
}
