package operations

import (
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/fault"
)

func TestParseFilter(t *testing.T) {
	t1 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	t2 := time.Date(2026, 2, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		filter string
		want   audit.Query
	}{
		{"", audit.Query{}},
		{"   ", audit.Query{}},
		{`resource = "costCenters/it-ops"`, audit.Query{Resource: "costCenters/it-ops"}},
		{`actor="users/alice@example.com" AND action = DELETE`, audit.Query{Actor: "users/alice@example.com", Action: "DELETE"}},
		{`method = "/quarterdeck.budget.v1.BudgetService/UpdateCostCenter" AND request_id = "a\"b"`,
			audit.Query{Method: "/quarterdeck.budget.v1.BudgetService/UpdateCostCenter", RequestID: `a"b`}},
		{`create_time >= "2026-01-01T00:00:00Z" AND create_time < "2026-02-01T13:00:00+01:00"`, audit.Query{From: t1, Until: t2}},
		{`create_time > "2026-01-01T00:00:00Z" AND create_time <= "2026-02-01T12:00:00Z"`,
			audit.Query{From: t1.Add(time.Microsecond), Until: t2.Add(time.Microsecond)}},
		{`create_time = "2026-01-01T00:00:00Z"`, audit.Query{From: t1, Until: t1.Add(time.Microsecond)}},
		{`create_time >= "2026-01-01T00:00:00Z" AND create_time >= "2026-02-01T12:00:00Z"`, audit.Query{From: t2}},
	}
	for _, tt := range tests {
		got, err := parseFilter(tt.filter)
		if err != nil {
			t.Errorf("parseFilter(%q): %v", tt.filter, err)
			continue
		}
		if got.Resource != tt.want.Resource || got.Actor != tt.want.Actor || got.Method != tt.want.Method ||
			got.Action != tt.want.Action || got.RequestID != tt.want.RequestID ||
			!got.From.Equal(tt.want.From) || !got.Until.Equal(tt.want.Until) {
			t.Errorf("parseFilter(%q) = %+v, want %+v", tt.filter, got, tt.want)
		}
	}
}

func TestParseFilterRejects(t *testing.T) {
	for _, f := range []string{
		`resource`, `resource =`, `= "x"`, `"resource" = "x"`, `resource = "x" OR actor = "y"`,
		`NOT resource = "x"`, `(resource = "x")`, `resource : "x"`, `resource != "x"`, `resource > "x"`,
		`owner = "x"`, `resource = "x" AND resource = "y"`, `resource = "x" AND`, `resource = "x" actor = "y"`,
		`create_time >= "yesterday"`, `resource = "unterminated`, `resource = "bad \q escape"`, `resource = = "x"`,
	} {
		_, err := parseFilter(f)
		fe := fault.As(err)
		if fe == nil || fe.Kind != fault.InvalidArgument || len(fe.Violations) != 1 || fe.Violations[0].Field != "filter" {
			t.Errorf("parseFilter(%q) = %v, want an invalid filter", f, err)
		}
	}
}

func FuzzParseFilter(f *testing.F) {
	f.Add(`resource = "costCenters/a" AND create_time >= "2026-01-01T00:00:00Z"`)
	f.Add(`actor="x\"y" AND action = CREATE`)
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := parseFilter(s); err != nil && fault.As(err) == nil {
			t.Fatalf("parseFilter(%q) returned a non-fault error %v", s, err)
		}
	})
}
