package listing

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
)

// ReasonInvalidOrder is the reason of the field violation on "order_by".
const ReasonInvalidOrder = "ORDER_BY_INVALID"

// Order is a parsed order_by (AIP-132): the fields to sort by, each ascending or descending,
// always ending with the resource's unique key so that the order is total and keyset pages
// neither skip nor repeat items.
type Order struct {
	terms []term
}

type term struct {
	path string
	expr string // SQL to order by, never NULL
	typ  filter.Type
	desc bool
}

// ParseOrder parses an order_by such as "display_name desc, create_time" against schema.
// Fields must be in schema, neither repeated nor nullable without a Sort expression. key is the
// schema path of the resource's unique, never-NULL key (usually "name"); it is appended
// ascending unless the ordering names it. An invalid ordering is an InvalidArgument error with a
// violation on "order_by".
func ParseOrder(orderBy string, schema filter.Schema, key string) (*Order, error) {
	o := &Order{}
	if strings.TrimSpace(orderBy) != "" {
		for _, part := range strings.Split(orderBy, ",") {
			words := strings.Fields(part)
			if len(words) == 0 || len(words) > 2 {
				return nil, invalidOrder(fmt.Sprintf("%q is not `field` or `field desc`", strings.TrimSpace(part)))
			}
			desc := false
			if len(words) == 2 {
				switch strings.ToLower(words[1]) {
				case "desc":
					desc = true
				case "asc":
				default:
					return nil, invalidOrder(fmt.Sprintf("%q: the direction must be asc or desc", strings.TrimSpace(part)))
				}
			}
			if slices.ContainsFunc(o.terms, func(t term) bool { return t.path == words[0] }) {
				return nil, invalidOrder(fmt.Sprintf("%q is named twice", words[0]))
			}
			t, err := sortTerm(schema, words[0], desc)
			if err != nil {
				return nil, err
			}
			o.terms = append(o.terms, t)
		}
	}
	if !slices.ContainsFunc(o.terms, func(t term) bool { return t.path == key }) {
		t, err := sortTerm(schema, key, false)
		if err != nil {
			return nil, fmt.Errorf("listing: the key %q is not a sortable field of the schema: %w", key, err)
		}
		o.terms = append(o.terms, t)
	}
	return o, nil
}

func sortTerm(schema filter.Schema, path string, desc bool) (term, error) {
	f, ok := schema[path]
	expr := f.Sort
	if expr == "" && !f.Nullable && f.Type != filter.Enum {
		expr = f.Column
	}
	if !ok || f.Repeated || expr == "" {
		var sortable []string
		for _, n := range schema.Names() {
			if f := schema[n]; !f.Repeated && (f.Sort != "" || !f.Nullable && f.Type != filter.Enum) {
				sortable = append(sortable, n)
			}
		}
		return term{}, invalidOrder(fmt.Sprintf("cannot order by %q; the order can use %s", path, strings.Join(sortable, ", ")))
	}
	return term{path: path, expr: expr, typ: f.Type, desc: desc}, nil
}

func invalidOrder(desc string) error {
	return fault.Invalid(fault.Violation{Field: "order_by", Reason: ReasonInvalidOrder, Description: desc})
}

// SQL returns the ORDER BY list, e.g. "display_name DESC, id ASC".
func (o *Order) SQL() string {
	parts := make([]string, len(o.terms))
	for i, t := range o.terms {
		parts[i] = t.expr + " " + dir(t.desc)
	}
	return strings.Join(parts, ", ")
}

func dir(desc bool) string {
	if desc {
		return "DESC"
	}
	return "ASC"
}

// After returns the condition selecting the rows that come after the row whose sort key is key
// (as returned by Key), with arguments numbered from $firstArg: for an order (a, b) it is
// a > $1 OR (a = $2 AND b > $3), with < for descending terms. It fails when key does not fit the
// order, e.g. a page token edited by hand.
func (o *Order) After(key []string, firstArg int) (string, []any, error) {
	if len(key) != len(o.terms) {
		return "", nil, fmt.Errorf("sort key has %d values, want %d", len(key), len(o.terms))
	}
	vals := make([]any, len(key))
	for i, t := range o.terms {
		v, err := decode(t.typ, key[i])
		if err != nil {
			return "", nil, fmt.Errorf("sort key %s: %w", t.path, err)
		}
		vals[i] = v
	}
	var (
		ors  []string
		args []any
	)
	n := firstArg
	// Each placeholder is used once (values repeat in args), so the SQL has no engine-specific
	// parameter reuse.
	for i, t := range o.terms {
		var ands []string
		for j := range i {
			ands = append(ands, fmt.Sprintf("%s = $%d", o.terms[j].expr, n))
			args = append(args, vals[j])
			n++
		}
		op := ">"
		if t.desc {
			op = "<"
		}
		ands = append(ands, fmt.Sprintf("%s %s $%d", t.expr, op, n))
		args = append(args, vals[i])
		n++
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	return "(" + strings.Join(ors, " OR ") + ")", args, nil
}

// Key returns the sort key of an item: value returns the item's value of a schema path in the
// column's representation (the stored ID for a name, "" for an unset reference whose Sort is
// COALESCE(column, ”)), as a string, int64, bool or time.Time.
func (o *Order) Key(value func(path string) any) []string {
	key := make([]string, len(o.terms))
	for i, t := range o.terms {
		key[i] = encode(value(t.path))
	}
	return key
}

func encode(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

func decode(t filter.Type, s string) (any, error) {
	switch t {
	case filter.Int:
		return strconv.ParseInt(s, 10, 64)
	case filter.Bool:
		return strconv.ParseBool(s)
	case filter.Timestamp:
		ts, err := time.Parse(time.RFC3339Nano, s)
		return ts.UTC(), err
	case filter.String:
		return s, nil
	case filter.Enum:
		// An enum is ordered by its Sort expression over the stored number (see filter.Field).
		return strconv.ParseInt(s, 10, 64)
	}
	return nil, fmt.Errorf("cannot order by a %v", t)
}
