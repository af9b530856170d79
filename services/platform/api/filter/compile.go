// Package filter implements the list filters of AIP-160 — the subset lists need — and compiles
// them to parameterised SQL that runs unchanged on PostgreSQL and SQLite.
//
// A filter names fields of a resource; a Schema per resource allows some of them and maps each to
// its SQL column. Values never enter the SQL text: each becomes a $N argument, so that any list of
// any service can accept filters from clients without the risk of SQL injection. The grammar:
//
//	filter      = [expression]
//	expression  = sequence {"AND" sequence}
//	sequence    = factor {factor}                 (whitespace-separated factors are ANDed)
//	factor      = term {"OR" term}                (OR binds more tightly than AND, as in AIP-160)
//	term        = ["NOT" | "-"] simple
//	simple      = restriction | "(" expression ")"
//	restriction = field comparator value
//	field       = name {"." name}
//	comparator  = "=" | "!=" | "<" | "<=" | ">" | ">=" | ":"
//	value       = string | ["-"] word | "*"
//
// Strings are double- or single-quoted with backslash escapes; a bare word is an integer, true,
// false, null, an enum identifier or, for a string field, literal text. Timestamps are RFC 3339
// strings. ":" (has) tests membership on repeated fields ("labels:prod", "labels:*" for not empty)
// and means "=" on other fields; "field:*" on a nullable field means "is set". A quoted string
// that begins or ends with "*" matches any text there, on a text field with =, != or ":"
// (`title = "*network*"`); "\*" is a literal star.
package filter

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Reasons of the field violations on "filter".
const (
	// ReasonSyntax: the filter does not parse.
	ReasonSyntax = "FILTER_SYNTAX_ERROR"
	// ReasonUnknownField: the filter names a field that is not in the resource's schema.
	ReasonUnknownField = "FILTER_UNKNOWN_FIELD"
	// ReasonInvalidValue: a value does not fit its field's type, or the operator does not apply
	// to the field.
	ReasonInvalidValue = "FILTER_INVALID_VALUE"
)

// Compile checks expr against schema and returns it as an SQL condition whose arguments are
// numbered from $firstArg, so that it can be ANDed into a query that already has firstArg-1
// arguments. An empty filter returns an empty condition. An invalid filter returns an
// InvalidArgument *fault.Error with one field violation on "filter".
func Compile(expr string, schema Schema, firstArg int) (where string, args []any, err error) {
	return CompileField("filter", expr, schema, firstArg)
}

// CompileField is Compile for a filter in a request field not named "filter".
func CompileField(field, expr string, schema Schema, firstArg int) (string, []any, error) {
	n, err := parse(expr)
	if err != nil {
		return "", nil, fault.Field(field, ReasonSyntax, "invalid filter "+err.Error())
	}
	if n == nil {
		return "", nil, nil
	}
	c := &compiler{schema: schema, next: firstArg}
	var b strings.Builder
	if err := c.node(&b, n); err != nil {
		var ce *compileError
		if errors.As(err, &ce) {
			return "", nil, fault.Field(field, ce.reason, ce.msg)
		}
		return "", nil, err
	}
	return b.String(), c.args, nil
}

type compileError struct{ reason, msg string }

func (e *compileError) Error() string { return e.msg }

type compiler struct {
	schema Schema
	args   []any
	next   int
}

func (c *compiler) arg(v any) string {
	c.args = append(c.args, v)
	c.next++
	return "$" + strconv.Itoa(c.next-1)
}

func (c *compiler) node(b *strings.Builder, n node) error {
	switch n := n.(type) {
	case logic:
		b.WriteByte('(')
		for i, a := range n.args {
			if i > 0 {
				b.WriteString(" " + n.op + " ")
			}
			if err := c.node(b, a); err != nil {
				return err
			}
		}
		b.WriteByte(')')
	case not:
		b.WriteString("(NOT ")
		if err := c.node(b, n.arg); err != nil {
			return err
		}
		b.WriteByte(')')
	case restriction:
		return c.restriction(b, n)
	default:
		return fmt.Errorf("filter: unexpected node %T", n)
	}
	return nil
}

var sqlOps = map[string]string{"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=", ":": "="}

func (c *compiler) restriction(b *strings.Builder, r restriction) error {
	f, ok := c.schema[r.path]
	if !ok {
		return &compileError{ReasonUnknownField, fmt.Sprintf("unknown field %q at position %d; the filter can use %s",
			r.path, r.pos+1, c.schema.describe())}
	}
	bad := func(format string, args ...any) error {
		return &compileError{ReasonInvalidValue, fmt.Sprintf("field %q at position %d: ", r.path, r.pos+1) + fmt.Sprintf(format, args...)}
	}
	if r.val.wild != (wildcards{}) {
		return c.wildcard(b, r, f, bad)
	}
	if f.Repeated {
		if r.op != ":" {
			return bad(`is repeated; use ":" to test whether it contains a value`)
		}
		if r.val.kind == tStar {
			b.WriteString("EXISTS (" + f.Column + ")")
			return nil
		}
		v, err := c.literal(f, r.val)
		if err != nil {
			return bad("%v", err)
		}
		b.WriteString("(" + c.arg(v) + " IN (" + f.Column + "))")
		return nil
	}
	if r.val.kind == tStar {
		if r.op != ":" || !f.Nullable {
			return bad(`"*" only tests whether a nullable or repeated field is set, as in %s:*`, r.path)
		}
		b.WriteString("(" + f.Column + " IS NOT NULL)")
		return nil
	}
	if r.val.kind == tWord && !r.val.neg && r.val.text == "null" {
		switch r.op {
		case "=", ":":
			b.WriteString("(" + f.Column + " IS NULL)")
		case "!=":
			b.WriteString("(" + f.Column + " IS NOT NULL)")
		default:
			return bad("null can only be compared with = or !=")
		}
		return nil
	}
	if (f.Type == Bool || f.Type == Enum) && r.op != "=" && r.op != "!=" && r.op != ":" {
		return bad("a %s can only be compared with = or !=", f.Type)
	}
	v, err := c.literal(f, r.val)
	if err != nil {
		return bad("%v", err)
	}
	op := sqlOps[r.op]
	p := c.arg(v)
	switch {
	case !f.Nullable:
		b.WriteString("(" + f.Column + " " + op + " " + p + ")")
	case op == "<>":
		// NULL is "not equal" to any value; without this, SQL's three-valued logic drops the row.
		b.WriteString("(" + f.Column + " <> " + p + " OR " + f.Column + " IS NULL)")
	default:
		// FALSE rather than NULL for a NULL column, so that NOT of it is TRUE.
		b.WriteString("(" + f.Column + " " + op + " " + p + " AND " + f.Column + " IS NOT NULL)")
	}
	return nil
}

// wildcard writes r, a comparison with a quoted string that begins or ends with a wildcard "*"
// (AIP-160): the field's text ends with the string's (a "*" before it), begins with it (after
// it), or holds it (both), case-sensitively as every string comparison. Only a single string
// field taken as stored (no Value conversion) can be matched so, with =, != or ":" (which is "="
// on a field that is not repeated). The SQL is the same on both engines: substr, length and
// replace count and compare characters on both.
func (c *compiler) wildcard(b *strings.Builder, r restriction, f Field, bad func(string, ...any) error) error {
	switch {
	case f.Type != String || f.Repeated || f.Value != nil:
		return bad(`does not take wildcards: a "*" that begins or ends a quoted string matches any text only on a text field`)
	case r.op != "=" && r.op != "!=" && r.op != ":":
		return bad(`a wildcard "*" matches only with =, != or ":"`)
	}
	col, text := f.Column, r.val.text
	var match string
	switch {
	case text == "":
		match = col + " IS NOT NULL"
	case r.val.wild.before && r.val.wild.after:
		// The text holds the string when taking it out changes the text.
		match = "replace(" + col + ", " + c.arg(text) + ", " + c.arg("") + ") <> " + col
	case r.val.wild.before:
		// Where the text is shorter, substr starts before it and returns less than the string.
		match = "substr(" + col + ", length(" + col + ") - length(CAST(" + c.arg(text) + " AS TEXT)) + 1) = " + c.arg(text)
	default:
		match = "substr(" + col + ", 1, length(CAST(" + c.arg(text) + " AS TEXT))) = " + c.arg(text)
	}
	switch {
	case r.op != "!=":
		if f.Nullable {
			// FALSE rather than NULL for a NULL column, so that NOT of it is TRUE.
			match += " AND " + col + " IS NOT NULL"
		}
		b.WriteString("(" + match + ")")
	case f.Nullable:
		b.WriteString("(NOT (" + match + ") OR " + col + " IS NULL)")
	default:
		b.WriteString("(NOT (" + match + "))")
	}
	return nil
}

// literal converts a value to the Go value bound for the field's column.
func (c *compiler) literal(f Field, v value) (any, error) {
	word := v.kind == tWord
	text := v.text
	if v.neg {
		text = "-" + text
	}
	var out any
	switch f.Type {
	case String:
		out = text
	case Int:
		if !word {
			return nil, fmt.Errorf("want an integer, got %q", text)
		}
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("want an integer, got %q", text)
		}
		out = n
	case Bool:
		switch {
		case word && text == "true":
			out = true
		case word && text == "false":
			out = false
		default:
			return nil, fmt.Errorf("want true or false, got %q", text)
		}
	case Timestamp:
		t, err := time.Parse(time.RFC3339Nano, text)
		if err != nil {
			return nil, fmt.Errorf(`want an RFC 3339 timestamp such as "2026-01-15T08:00:00Z", got %q`, text)
		}
		out = t.UTC()
	case Enum:
		e, ok := f.Enum[text]
		if !ok || v.neg {
			names := make([]string, 0, len(f.Enum))
			for n := range f.Enum {
				names = append(names, n)
			}
			return nil, fmt.Errorf("want one of %s, got %q", strings.Join(sortStrings(names), ", "), text)
		}
		out = e
	default:
		return nil, fmt.Errorf("unsupported field type %v", f.Type)
	}
	if f.Value != nil {
		conv, err := f.Value(out)
		if err != nil {
			return nil, err
		}
		out = conv
	}
	return out, nil
}
