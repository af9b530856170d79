package fault_test

import (
	"strings"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

func TestRequireAndLimitText(t *testing.T) {
	t.Parallel()
	var vs fault.Violations
	vs.RequireText("risk.title", "", 10)
	vs.RequireText("risk.owner", "ana", 10)
	vs.LimitText("risk.description", strings.Repeat("é", 11), 10) // characters, not bytes
	vs.LimitText("risk.plan", strings.Repeat("é", 10), 10)
	if len(vs) != 2 {
		t.Fatalf("violations = %+v; want title REQUIRED and description TOO_LONG", vs)
	}
	if vs[0].Field != "risk.title" || vs[0].Reason != "REQUIRED" || vs[0].Description != "title is required" {
		t.Errorf("first = %+v", vs[0])
	}
	if vs[1].Field != "risk.description" || vs[1].Reason != "TOO_LONG" || vs[1].Description != "description is longer than 10 characters" {
		t.Errorf("second = %+v", vs[1])
	}
}
