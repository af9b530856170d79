package filter_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// schema describes the test table items, with a field of every type.
var schema = filter.Schema{
	"name": {Column: "id", Type: filter.String, Value: func(v any) (any, error) {
		id, ok := strings.CutPrefix(v.(string), "items/")
		if !ok {
			return nil, errors.New("want items/{item}")
		}
		return id, nil
	}},
	"display_name": {Column: "display_name", Type: filter.String},
	"size":         {Column: "size", Type: filter.Int},
	"active":       {Column: "active", Type: filter.Bool},
	"create_time":  {Column: "create_time", Type: filter.Timestamp},
	"state":        {Column: "state", Type: filter.Enum, Enum: map[string]any{"DRAFT": 1, "LIVE": 2, "RETIRED": 3}},
	"parent":       {Column: "parent", Type: filter.String, Nullable: true},
	"tags":         {Column: "SELECT tag FROM item_tags t WHERE t.item_id = items.id", Type: filter.String, Repeated: true},
	"owner.email":  {Column: "owner_email", Type: filter.String},
}

func TestCompileSQL(t *testing.T) {
	tests := []struct {
		expr  string
		first int
		where string
		args  []any
	}{
		{"", 1, "", nil},
		{"   ", 1, "", nil},
		{`display_name = "Net"`, 1, "(display_name = $1)", []any{"Net"}},
		{`display_name = Net`, 3, "(display_name = $3)", []any{"Net"}},
		{`size >= 10 AND size < -2`, 1, "((size >= $1) AND (size < $2))", []any{int64(10), int64(-2)}},
		// OR binds more tightly than AND (AIP-160), and whitespace means AND.
		{`a_b = 1 OR size = 2 AND active = true`, 1, "", nil},
		{`size = 1 OR size = 2 AND active = true`, 1, "(((size = $1) OR (size = $2)) AND (active = $3))", []any{int64(1), int64(2), true}},
		{`size = 1 active = false`, 1, "((size = $1) AND (active = $2))", []any{int64(1), false}},
		{`NOT active = true`, 1, "(NOT (active = $1))", []any{true}},
		{`-(size > 1 OR size < 0)`, 1, "(NOT ((size > $1) OR (size < $2)))", []any{int64(1), int64(0)}},
		{`create_time > "2026-01-15T09:00:00+01:00"`, 1, "(create_time > $1)", []any{time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC)}},
		{`state = LIVE`, 1, "(state = $1)", []any{2}},
		{`state != "DRAFT"`, 1, "(state <> $1)", []any{1}},
		{`parent = null`, 1, "(parent IS NULL)", nil},
		{`parent != null`, 1, "(parent IS NOT NULL)", nil},
		{`parent:*`, 1, "(parent IS NOT NULL)", nil},
		{`parent = "x"`, 1, "(parent = $1 AND parent IS NOT NULL)", []any{"x"}},
		{`parent != 'x'`, 1, "(parent <> $1 OR parent IS NULL)", []any{"x"}},
		{`tags:prod`, 1, "($1 IN (SELECT tag FROM item_tags t WHERE t.item_id = items.id))", []any{"prod"}},
		{`tags:*`, 1, "EXISTS (SELECT tag FROM item_tags t WHERE t.item_id = items.id)", nil},
		{`name = "items/a"`, 1, "(id = $1)", []any{"a"}},
		{`owner.email = "x@example.com"`, 1, "(owner_email = $1)", []any{"x@example.com"}},
		{`display_name = "it's \"quoted\"; DROP TABLE items"`, 1, "(display_name = $1)", []any{`it's "quoted"; DROP TABLE items`}},
		// Wildcards: a "*" that begins or ends a quoted string, unescaped.
		{`display_name = "Net*"`, 1, "(substr(display_name, 1, length(CAST($1 AS TEXT))) = $2)", []any{"Net", "Net"}},
		{`display_name:"*work"`, 1, "(substr(display_name, length(display_name) - length(CAST($1 AS TEXT)) + 1) = $2)", []any{"work", "work"}},
		{`display_name != '*e*'`, 2, "(NOT (replace(display_name, $2, $3) <> display_name))", []any{"e", ""}},
		{`parent = "*a*"`, 1, "(replace(parent, $1, $2) <> parent AND parent IS NOT NULL)", []any{"a", ""}},
		{`parent != "a*"`, 1, "(NOT (substr(parent, 1, length(CAST($1 AS TEXT))) = $2) OR parent IS NULL)", []any{"a", "a"}},
		{`display_name = "*"`, 1, "(display_name IS NOT NULL)", nil},
		{`display_name = "**"`, 1, "(display_name IS NOT NULL)", nil},
		{`display_name = "\*Net\*"`, 1, "(display_name = $1)", []any{"*Net*"}},
		{`display_name = "N*t"`, 1, "(display_name = $1)", []any{"N*t"}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			where, args, err := filter.Compile(tt.expr, schema, tt.first)
			if tt.where == "" && tt.expr != "" && strings.TrimSpace(tt.expr) != "" {
				if err == nil {
					t.Fatalf("Compile(%q) = %q, want an error", tt.expr, where)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.expr, err)
			}
			if where != tt.where || fmt.Sprint(args) != fmt.Sprint(tt.args) {
				t.Errorf("Compile(%q) = %q %v, want %q %v", tt.expr, where, args, tt.where, tt.args)
			}
		})
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		expr   string
		reason string
		desc   string // a fragment of the description
	}{
		{`colour = "red"`, filter.ReasonUnknownField, `unknown field "colour"`},
		{`owner = "x"`, filter.ReasonUnknownField, "display_name"},
		{`display_name`, filter.ReasonSyntax, "free-text search is not supported"},
		{`display_name = `, filter.ReasonSyntax, "end of filter"},
		{`(size = 1`, filter.ReasonSyntax, "end of filter"},
		{`size = 1)`, filter.ReasonSyntax, `unexpected ")"`},
		{`size == 1`, filter.ReasonSyntax, `unexpected "="`},
		{`size = 1 AND`, filter.ReasonSyntax, "end of filter"},
		{`size ! 1`, filter.ReasonSyntax, `"!" must be followed by "="`},
		{`display_name = "open`, filter.ReasonSyntax, "unterminated string"},
		{`size ~ 1`, filter.ReasonSyntax, "unexpected character"},
		{`size = "ten"`, filter.ReasonInvalidValue, "integer"},
		{`size = 1.5`, filter.ReasonSyntax, `unexpected "."`},
		{`size = 99999999999999999999`, filter.ReasonInvalidValue, "integer"},
		{`active = yes`, filter.ReasonInvalidValue, "true or false"},
		{`active > false`, filter.ReasonInvalidValue, "= or !="},
		{`create_time > "yesterday"`, filter.ReasonInvalidValue, "RFC 3339"},
		{`create_time > 2026`, filter.ReasonInvalidValue, "RFC 3339"},
		{`state = GONE`, filter.ReasonInvalidValue, "DRAFT, LIVE, RETIRED"},
		{`state < LIVE`, filter.ReasonInvalidValue, "= or !="},
		{`size < null`, filter.ReasonInvalidValue, "null"},
		{`tags = "prod"`, filter.ReasonInvalidValue, "repeated"},
		{`size:*`, filter.ReasonInvalidValue, "nullable or repeated"},
		{`name = "other/a"`, filter.ReasonInvalidValue, "items/{item}"},
		{`AND = 1`, filter.ReasonSyntax, `unexpected "AND"`},
		{`display_name > "N*"`, filter.ReasonInvalidValue, `only with =, != or ":"`},
		{`size = "1*"`, filter.ReasonInvalidValue, "does not take wildcards"},
		{`name = "items/*"`, filter.ReasonInvalidValue, "does not take wildcards"},
		{`tags:"pr*"`, filter.ReasonInvalidValue, "does not take wildcards"},
		{`create_time > "2026*"`, filter.ReasonInvalidValue, "does not take wildcards"},
		{`state = "LI*"`, filter.ReasonInvalidValue, "does not take wildcards"},
		{"size = \xff", filter.ReasonSyntax, "UTF-8"},
		{strings.Repeat("(", 20) + "size = 1" + strings.Repeat(")", 20), filter.ReasonSyntax, "nests deeper"},
		{strings.Repeat("size = 1 OR ", 60) + "size = 1", filter.ReasonSyntax, "more than 50 comparisons"},
		{strings.Repeat("x", filter.MaxLength+1), filter.ReasonSyntax, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, _, err := filter.Compile(tt.expr, schema, 1)
			fe := fault.As(err)
			if fe == nil || fe.Kind != fault.InvalidArgument || len(fe.Violations) != 1 {
				t.Fatalf("Compile(%q) error = %v, want one InvalidArgument violation", tt.expr, err)
			}
			v := fe.Violations[0]
			if v.Field != "filter" || v.Reason != tt.reason || !strings.Contains(v.Description, tt.desc) {
				t.Errorf("violation = %+v, want filter:%s mentioning %q", v, tt.reason, tt.desc)
			}
		})
	}
}

func TestCompileField(t *testing.T) {
	_, _, err := filter.CompileField("query", "nope = 1", schema, 1)
	if fe := fault.As(err); fe == nil || fe.Violations[0].Field != "query" {
		t.Errorf("err = %v, want a violation on query", err)
	}
}

// TestEngines runs compiled filters against real databases: the SQL must mean the same on both.
func TestEngines(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		db := openItems(t, d)
		tests := []struct {
			expr string
			want []string
		}{
			{``, []string{"a", "b", "c", "d"}},
			{`display_name = "Network"`, []string{"a"}},
			{`display_name = Network`, []string{"a"}},
			{`display_name > "Network"`, []string{"b", "c"}},
			{`display_name != "Network"`, []string{"b", "c", "d"}},
			{`size >= 10`, []string{"b", "c"}},
			{`size < 0`, []string{"d"}},
			{`size = -5`, []string{"d"}},
			{`active = true`, []string{"a", "c"}},
			{`active = false`, []string{"b", "d"}},
			{`NOT active = true`, []string{"b", "d"}},
			{`-active = true`, []string{"b", "d"}},
			{`create_time >= "2026-01-15T08:00:00Z"`, []string{"b", "c", "d"}},
			{`create_time > "2026-01-15T08:00:00Z"`, []string{"c", "d"}},
			{`create_time < "2026-01-15T09:00:00.5+01:00"`, []string{"a", "b", "c"}},
			{`create_time < "2026-01-15T08:00:00.000001Z"`, []string{"a", "b"}},
			{`create_time = "2026-01-15T08:00:00.000001Z"`, []string{"c"}},
			{`state = LIVE`, []string{"a", "b"}},
			{`state != LIVE`, []string{"c", "d"}},
			{`parent = null`, []string{"a", "b"}},
			{`parent != null`, []string{"c", "d"}},
			{`parent:*`, []string{"c", "d"}},
			{`parent = "a"`, []string{"c", "d"}},
			{`parent != "a"`, []string{"a", "b"}},
			{`NOT parent = "a"`, []string{"a", "b"}},
			{`tags:prod`, []string{"a", "c"}},
			{`tags:*`, []string{"a", "b", "c"}},
			{`NOT tags:*`, []string{"d"}},
			{`name = "items/b"`, []string{"b"}},
			{`state = LIVE OR parent = "a" AND size > 1`, []string{"b", "c"}},
			{`(state = LIVE OR parent = "a") size > 1`, []string{"b", "c"}},
			{`state = LIVE OR (parent = "a" AND size > 1)`, []string{"a", "b", "c"}},
			{`display_name = "x' OR '1'='1"`, nil},
			// Wildcards, case-sensitive as every comparison of strings.
			{`display_name = "S*"`, []string{"b", "c"}},
			{`display_name = "s*"`, nil},
			{`display_name = "*work"`, []string{"a"}},
			{`display_name = "*Apps"`, []string{"d"}},
			{`display_name = "*XApps"`, nil},
			{`display_name = "*ecur*"`, []string{"c"}},
			{`display_name = "*s*"`, []string{"d"}},
			{`display_name = "Network*"`, []string{"a"}},
			{`display_name = "Network\*"`, nil},
			{`display_name != "S*"`, []string{"a", "d"}},
			{`NOT display_name = "*rk"`, []string{"b", "c", "d"}},
			{`display_name:"Net*"`, []string{"a"}},
			{`display_name = "*"`, []string{"a", "b", "c", "d"}},
			{`owner.email = "*@example.com"`, []string{"a", "b", "c", "d"}},
			{`parent = "*a"`, []string{"c", "d"}},
			{`parent != "a*"`, []string{"a", "b"}},
			{`NOT parent = "*a*"`, []string{"a", "b"}},
		}
		for _, tt := range tests {
			where, args, err := filter.Compile(tt.expr, schema, 2)
			if err != nil {
				t.Fatalf("Compile(%q): %v", tt.expr, err)
			}
			// $1 is taken by the query itself, as in a list query with more conditions.
			q := `SELECT id FROM items WHERE id <> $1`
			if where != "" {
				q += " AND " + where
			}
			got := testkit.Column[string](t, db, q+" ORDER BY id", append([]any{"zzz"}, args...)...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("%q (%s %v) = %v, want %v", tt.expr, where, args, got, tt.want)
			}
		}
		// Wildcards count characters, not bytes, on both engines.
		if _, err := db.ExecContext(context.Background(), `INSERT INTO items VALUES ('e', 'Größenmaß', 0, false, $1, 1, NULL, '')`,
			time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		for expr, want := range map[string][]string{
			`display_name = "Grö*"`: {"e"}, `display_name = "*maß"`: {"e"}, `display_name = "*ößenm*"`: {"e"},
			`display_name = "*aß"`: {"e"}, `display_name = "*ß"`: {"e"}, `display_name = "G*"`: {"e"}, `display_name = "*ö"`: nil,
		} {
			where, args, err := filter.Compile(expr, schema, 1)
			if err != nil {
				t.Fatalf("Compile(%q): %v", expr, err)
			}
			if got := testkit.Column[string](t, db, "SELECT id FROM items WHERE "+where+" ORDER BY id", args...); !slices.Equal(got, want) {
				t.Errorf("%q (%s %v) = %v, want %v", expr, where, args, got, want)
			}
		}
	})
}

// openItems creates and fills the items table in the test database.
func openItems(t *testing.T, d testenv.Database) *sqldb.DB {
	t.Helper()
	ctx := context.Background()
	db := testkit.Open(t, d)
	ts := testkit.Timestamp(db)
	for _, s := range []string{
		`CREATE TABLE items (id TEXT PRIMARY KEY, display_name TEXT NOT NULL, size BIGINT NOT NULL,
			active BOOLEAN NOT NULL, create_time ` + ts + ` NOT NULL, state INTEGER NOT NULL, parent TEXT,
			owner_email TEXT NOT NULL)`,
		`CREATE TABLE item_tags (item_id TEXT NOT NULL, tag TEXT NOT NULL, PRIMARY KEY (item_id, tag))`,
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2026, 1, 15, 8, 0, 0, 0, time.UTC)
	rows := []struct {
		id, name string
		size     int64
		active   bool
		at       time.Time
		state    int
		parent   any
	}{
		{"a", "Network", 1, true, t0.Add(-time.Hour), 2, nil},
		{"b", "Storage", 10, false, t0, 2, nil},
		{"c", "Security", 20, true, t0.Add(time.Microsecond), 3, "a"},
		{"d", "Apps", -5, false, t0.Add(time.Hour), 1, "a"},
	}
	for _, r := range rows {
		if _, err := db.ExecContext(ctx, `INSERT INTO items VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			r.id, r.name, r.size, r.active, r.at, r.state, r.parent, r.id+"@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	for _, tag := range [][2]string{{"a", "prod"}, {"a", "eu"}, {"b", "eu"}, {"c", "prod"}} {
		if _, err := db.ExecContext(ctx, `INSERT INTO item_tags VALUES ($1, $2)`, tag[0], tag[1]); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// FuzzCompile checks that no input makes the parser or compiler panic, that every failure is an
// InvalidArgument on "filter", and that values never reach the SQL text.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		``, `display_name = "Net"`, `size >= 10 AND NOT active = true`, `(state = LIVE OR parent = "a") size > 1`,
		`tags:prod`, `parent:*`, `-size = -1`, `create_time > "2026-01-15T08:00:00Z"`, `a.b.c = 'x\'y'`,
		`((((size = 1))))`, `size = 1 OR`, `"unterminated`, `NOT NOT size = 1`, `owner.email:"x"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		where, args, err := filter.Compile(expr, schema, 1)
		if err != nil {
			fe := fault.As(err)
			if fe == nil || fe.Kind != fault.InvalidArgument || len(fe.Violations) != 1 || fe.Violations[0].Field != "filter" {
				t.Fatalf("Compile(%q) error = %#v, want an InvalidArgument violation on filter", expr, err)
			}
			return
		}
		if strings.Count(where, "$") != len(args) {
			t.Fatalf("Compile(%q) = %q with %d args: placeholders and args differ", expr, where, len(args))
		}
		for _, c := range []string{"'", "\"", ";", "--"} {
			if strings.Contains(where, c) {
				t.Fatalf("Compile(%q) = %q: input text leaked into the SQL", expr, where)
			}
		}
	})
}
