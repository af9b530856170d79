package listing_test

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// table is the field table of item; res is what Plan checks requests against.
var (
	table = listing.NewTable("name", []listing.Field[item]{
		{Path: "name", Column: "id", Type: filter.String, Get: func(it item) any { return it.id }},
		{Path: "display_name", Column: "display_name", Type: filter.String, Get: func(it item) any { return it.name }},
		{Path: "size", Column: "size", Type: filter.Int, Get: func(it item) any { return it.size }},
		{Path: "active", Column: "active", Type: filter.Bool, Get: func(it item) any { return it.active }},
		{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(it item) any { return it.at }},
		{Path: "parent", Column: "parent", Type: filter.String, Nullable: true, Sort: "COALESCE(parent, '')",
			Get: func(it item) any { return it.parent }},
		{Path: "reviewer", Column: "reviewer", Type: filter.String, Nullable: true},
		// Enums: one the order cannot use, one it orders by the stored number.
		{Path: "kind", Column: "kind", Type: filter.Enum, Enum: map[string]any{"SMALL": 1, "LARGE": 2}},
		{Path: "level", Column: "level", Type: filter.Enum, Enum: map[string]any{"LOW": 1, "HIGH": 2}, Sort: "level",
			Get: func(it item) any { return it.level }},
		{Path: "tags", Column: "SELECT 1", Type: filter.String, Repeated: true},
	})
	res = table.Resource
)

type item struct {
	id, name, parent string
	size, level      int64
	active           bool
	at               time.Time
}

func TestParseOrder(t *testing.T) {
	tests := []struct {
		orderBy, sql string
	}{
		{"", "id ASC"},
		{"  ", "id ASC"},
		{"display_name", "display_name ASC, id ASC"},
		{"size desc, create_time", "size DESC, create_time ASC, id ASC"},
		{" size  DESC ,display_name asc ", "size DESC, display_name ASC, id ASC"},
		{"name desc", "id DESC"},
		{"parent, name desc", "COALESCE(parent, '') ASC, id DESC"},
		{"level desc", "level DESC, id ASC"},
	}
	for _, tt := range tests {
		o, err := listing.ParseOrder(tt.orderBy, res.Schema, "name")
		if err != nil || o.SQL() != tt.sql {
			t.Errorf("ParseOrder(%q) = %v, %v; want %q", tt.orderBy, o, err, tt.sql)
		}
	}
	for _, bad := range []string{"colour", "size sideways", "size desc desc", "size,", ",size", "size, size desc", "tags", "reviewer", "id", "kind"} {
		_, err := listing.ParseOrder(bad, res.Schema, "name")
		fe := fault.As(err)
		if fe == nil || fe.Kind != fault.InvalidArgument || len(fe.Violations) != 1 ||
			fe.Violations[0].Field != "order_by" || fe.Violations[0].Reason != listing.ReasonInvalidOrder {
			t.Errorf("ParseOrder(%q) error = %v, want a violation on order_by", bad, err)
		}
	}
}

// TestEnumOrderKey: the sort key of an enum ordered by its stored number survives the page token.
func TestEnumOrderKey(t *testing.T) {
	o, err := listing.ParseOrder("level desc", res.Schema, "name")
	if err != nil {
		t.Fatal(err)
	}
	it := item{id: "a", level: 2}
	key := o.Key(func(path string) any { return table.Value(it, path) })
	where, args, err := o.After(key, 1)
	if err != nil || where != "((level < $1) OR (level = $2 AND id > $3))" || !slices.Equal(args, []any{int64(2), int64(2), "a"}) {
		t.Errorf("After(%v) = %q, %v, %v", key, where, args, err)
	}
}

func TestPlanRejectsChangedRequest(t *testing.T) {
	q, err := listing.Plan(&budgetv1.ListCostCentersRequest{PageSize: 1, Filter: "size > 1", OrderBy: "size"}, res)
	if err != nil {
		t.Fatal(err)
	}
	_, token := listing.Page(q, []item{{id: "a", size: 2}, {id: "b", size: 3}}, table.Value)
	if token == "" {
		t.Fatal("no next page token")
	}
	for _, req := range []*budgetv1.ListCostCentersRequest{
		{PageToken: token, Filter: "size > 2", OrderBy: "size"},
		{PageToken: token, Filter: "size > 1", OrderBy: "size desc"},
		{PageToken: token, Filter: "size > 1"},
		{PageToken: token + "x", Filter: "size > 1", OrderBy: "size"},
	} {
		_, err := listing.Plan(req, res)
		if fe := fault.As(err); fe == nil || fe.Reason != "PAGE_TOKEN_INVALID" {
			t.Errorf("Plan(%v) error = %v, want PAGE_TOKEN_INVALID", req, err)
		}
	}
	// Only the page size may change.
	if _, err := listing.Plan(&budgetv1.ListCostCentersRequest{PageToken: token, PageSize: 7, Filter: "size > 1", OrderBy: "size"}, res); err != nil {
		t.Errorf("next page with another size: %v", err)
	}
	// A token whose key does not fit the order's types is rejected, not passed to SQL.
	q2, _ := listing.Plan(&budgetv1.ListCostCentersRequest{PageSize: 1, OrderBy: "display_name"}, res)
	_, token2 := listing.Page(q2, []item{{id: "a", name: "x"}, {id: "b"}}, table.Value)
	if _, err := listing.Plan(&budgetv1.ListCostCentersRequest{PageToken: token2, OrderBy: "size"}, res); fault.As(err) == nil {
		t.Errorf("token of another order accepted: %v", err)
	}
}

// TestKeysetPages pages through a table with many equal sort values in every order and checks
// that the pages, put together, are exactly the sorted table.
func TestKeysetPages(t *testing.T) {
	t.Parallel()
	for _, d := range testenv.Databases(t) {
		t.Run(d.Engine, func(t *testing.T) {
			t.Parallel()
			db, items := openItems(t, d)
			orders := []struct {
				orderBy string
				cmp     func(a, b item) int
			}{
				{"", nil},
				{"display_name", func(a, b item) int { return cmp.Compare(a.name, b.name) }},
				{"size desc", func(a, b item) int { return -cmp.Compare(a.size, b.size) }},
				{"active, create_time desc", func(a, b item) int {
					return cmp.Or(cmpBool(a.active, b.active), -a.at.Compare(b.at))
				}},
				{"parent desc, size, name desc", func(a, b item) int {
					return cmp.Or(-cmp.Compare(a.parent, b.parent), cmp.Compare(a.size, b.size), -cmp.Compare(a.id, b.id))
				}},
				{"create_time", func(a, b item) int { return a.at.Compare(b.at) }},
			}
			filters := []struct {
				expr string
				keep func(item) bool
			}{
				{"", func(item) bool { return true }},
				{"size >= 2 OR parent = null", func(it item) bool { return it.size >= 2 || it.parent == "" }},
			}
			for _, o := range orders {
				for _, f := range filters {
					want := slices.Clone(items)
					want = slices.DeleteFunc(want, func(it item) bool { return !f.keep(it) })
					slices.SortStableFunc(want, func(a, b item) int {
						if o.cmp != nil {
							if c := o.cmp(a, b); c != 0 {
								return c
							}
						}
						if strings.HasSuffix(o.orderBy, "name desc") {
							return -cmp.Compare(a.id, b.id)
						}
						return cmp.Compare(a.id, b.id)
					})
					var got []string
					token := ""
					for page := 0; ; page++ {
						if page > len(items) {
							t.Fatalf("%q/%q: pages do not end", o.orderBy, f.expr)
						}
						req := &budgetv1.ListCostCentersRequest{PageSize: 4, PageToken: token, OrderBy: o.orderBy, Filter: f.expr}
						q, err := listing.Plan(req, res)
						if err != nil {
							t.Fatal(err)
						}
						rows := selectItems(t, db, q)
						rows, token = listing.Page(q, rows, table.Value)
						for _, it := range rows {
							got = append(got, it.id)
						}
						if token == "" {
							break
						}
					}
					var wantIDs []string
					for _, it := range want {
						wantIDs = append(wantIDs, it.id)
					}
					if !slices.Equal(got, wantIDs) {
						t.Errorf("order %q filter %q:\n got %v\nwant %v", o.orderBy, f.expr, got, wantIDs)
					}
				}
			}
		})
	}
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func selectItems(t *testing.T, db *sqldb.DB, q *listing.Query) []item {
	t.Helper()
	s := `SELECT id, display_name, COALESCE(parent, ''), size, active, create_time FROM items`
	if q.Where != "" {
		s += " WHERE " + q.Where
	}
	s += fmt.Sprintf(" ORDER BY %s LIMIT $%d", q.OrderBy, len(q.Args)+1)
	return testkit.Rows(t, db, func(r *sql.Rows) (item, error) {
		var it item
		err := r.Scan(&it.id, &it.name, &it.parent, &it.size, &it.active, &it.at)
		it.at = it.at.UTC()
		return it, err
	}, s, append(q.Args, q.Limit)...)
}

func openItems(t *testing.T, d testenv.Database) (*sqldb.DB, []item) {
	t.Helper()
	ctx := context.Background()
	db := testkit.Open(t, d)
	ts := testkit.Timestamp(db)
	if _, err := db.ExecContext(ctx, `CREATE TABLE items (id TEXT PRIMARY KEY, display_name TEXT NOT NULL,
		parent TEXT, size BIGINT NOT NULL, active BOOLEAN NOT NULL, create_time `+ts+` NOT NULL, reviewer TEXT)`); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC)
	var items []item
	// Few distinct values per column, so that most pages end inside a run of equal keys. Values
	// are lower-case letters only, so that every collation orders them alike.
	for i := range 23 {
		it := item{
			id:     fmt.Sprintf("i%02d", (i*7)%23),
			name:   string(rune('a' + i%3)),
			size:   int64(i % 4),
			active: i%2 == 0,
			at:     t0.Add(time.Duration(i%5) * 1500 * time.Microsecond),
		}
		if i%3 != 0 {
			it.parent = string(rune('p' + i%2))
		}
		items = append(items, it)
		if _, err := db.ExecContext(ctx, `INSERT INTO items VALUES ($1, $2, $3, $4, $5, $6, NULL)`,
			it.id, it.name, nullIfEmpty(it.parent), it.size, it.active, it.at); err != nil {
			t.Fatal(err)
		}
	}
	return db, items
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// FuzzPlan checks that no combination of filter, order_by and page token makes planning panic,
// and that every refusal is an InvalidArgument error.
func FuzzPlan(f *testing.F) {
	q, _ := listing.Plan(&budgetv1.ListCostCentersRequest{PageSize: 1, OrderBy: "size desc, create_time"}, res)
	_, token := listing.Page(q, []item{{id: "a", size: 2}, {id: "b", size: 3}}, table.Value)
	f.Add("", "", "")
	f.Add("size > 1", "size desc, create_time", token)
	f.Add("", "size desc, create_time", token)
	f.Add(`parent = null`, "parent, name desc", "eyJrIjpbIngiXSwiYyI6MX0")
	f.Add("active = true", "active asc,,", "%%%")
	f.Fuzz(func(t *testing.T, filterExpr, orderBy, pageToken string) {
		q, err := listing.Plan(&budgetv1.ListCostCentersRequest{Filter: filterExpr, OrderBy: orderBy, PageToken: pageToken}, res)
		if err != nil {
			if fe := fault.As(err); fe == nil || fe.Kind != fault.InvalidArgument {
				t.Fatalf("Plan(%q, %q, %q) = %v, want an InvalidArgument fault", filterExpr, orderBy, pageToken, err)
			}
			return
		}
		if strings.Count(q.Where, "$") != len(q.Args) || q.OrderBy == "" {
			t.Fatalf("Plan(%q, %q, %q) = %+v", filterExpr, orderBy, pageToken, q)
		}
	})
}

// TestPlanWithoutOrderBy plans a list whose request has a filter but no order_by field, such as
// ListAuditRecords: it filters and orders by the key.
func TestPlanWithoutOrderBy(t *testing.T) {
	q, err := listing.Plan(&operationsv1.ListAuditRecordsRequest{Parent: "services/budget", Filter: "size > 1"}, res)
	if err != nil || q.Where != "(size > $1)" || q.OrderBy != "id ASC" || q.Limit != 51 {
		t.Errorf("Plan = %+v, %v", q, err)
	}
}
