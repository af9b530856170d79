package listing_test

import (
	"testing"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
)

// TestTable: a table yields the schema Plan checks and the values Page encodes, from one list of
// fields, and refuses at construction what would fail only at a list's second page.
func TestTable(t *testing.T) {
	f := res.Schema["parent"]
	if f.Column != "parent" || f.Type != filter.String || !f.Nullable || f.Sort != "COALESCE(parent, '')" || res.Key != "name" {
		t.Errorf("schema of parent = %+v, key %q", f, res.Key)
	}
	if got := table.Value(item{id: "a", size: 3}, "size"); got != int64(3) {
		t.Errorf("Value(size) = %v, want 3", got)
	}
	if got := table.Value(item{id: "a"}, "tags"); got != nil {
		t.Errorf("Value of a field without Get = %v, want nil", got)
	}
	get := func(it item) any { return it.id }
	for name, build := range map[string]func(){
		"a path named twice": func() {
			listing.NewTable("name", []listing.Field[item]{{Path: "name", Column: "id", Get: get}, {Path: "name", Column: "id2", Get: get}})
		},
		"a key that is no field": func() { listing.NewTable("id", []listing.Field[item]{{Path: "name", Column: "id", Get: get}}) },
		"a sortable field without Get": func() {
			listing.NewTable("name", []listing.Field[item]{{Path: "name", Column: "id", Get: get}, {Path: "size", Column: "size", Type: filter.Int}})
		},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewTable accepted %s", name)
				}
			}()
			build()
		}()
	}
}

func TestEnumNumbers(t *testing.T) {
	got := listing.EnumNumbers(budgetv1.Commitment_STATE_UNSPECIFIED.Descriptor())
	if len(got) != 2 || got["OPEN"] != int(budgetv1.Commitment_OPEN) || got["RELEASED"] != int(budgetv1.Commitment_RELEASED) {
		t.Errorf("EnumNumbers(Commitment.State) = %v", got)
	}
}

func TestNameValues(t *testing.T) {
	lines := names.Pattern("budgets/{budget}/lines/{line}")
	if id, err := listing.NameID("line", lines)("budgets/b1/lines/l1"); err != nil || id != "l1" {
		t.Errorf("NameID = %v, %v; want l1", id, err)
	}
	if v, err := listing.Name("line", lines)("budgets/b1/lines/l1"); err != nil || v != "budgets/b1/lines/l1" {
		t.Errorf("Name = %v, %v; want the name", v, err)
	}
	for _, bad := range []string{"l1", "budgets/b1", "budgets/b1/lines/", "budgets/b1/actuals/l1"} {
		if _, err := listing.NameID("line", lines)(bad); err == nil || err.Error() != "line must be a name budgets/{budget}/lines/{line}" {
			t.Errorf("NameID(%q) error = %v", bad, err)
		}
		if _, err := listing.Name("line", lines)(bad); err == nil {
			t.Errorf("Name(%q) accepted", bad)
		}
	}
}
