package filter

import (
	"slices"
	"strings"
)

// Type is the type of a filterable field; it decides which literals and operators a
// restriction on the field accepts.
type Type int

// The field types.
const (
	// String fields take quoted strings or bare words; every comparison is allowed (ordering
	// follows the database's collation).
	String Type = iota
	// Int fields take integers; every comparison is allowed.
	Int
	// Bool fields take true or false with = and !=.
	Bool
	// Timestamp fields take RFC 3339 strings ("2026-01-15T08:00:00Z"); every comparison is allowed.
	Timestamp
	// Enum fields take one of the Field's Enum identifiers with = and !=.
	Enum
)

func (t Type) String() string {
	switch t {
	case String:
		return "string"
	case Int:
		return "integer"
	case Bool:
		return "boolean"
	case Timestamp:
		return "timestamp"
	case Enum:
		return "enum"
	}
	return "unknown"
}

// Field maps one field path of a resource, as clients name it in a filter or an ordering, to
// SQL. The SQL in a Field comes from the service's code, never from a request.
type Field struct {
	// Column is the SQL expression of the field's value, usually a column name. For a repeated
	// field it is a subquery selecting the elements of the row being filtered, e.g.
	// "SELECT label FROM cost_center_labels l WHERE l.cost_center_id = cost_centers.id".
	Column string
	// Type is the type of the field, or of its elements when Repeated.
	Type Type
	// Nullable says the column may be NULL (an unset reference, say): "= null" and "!= null"
	// test for it, and "!=" with a value also matches NULL rows.
	Nullable bool
	// Repeated fields support only the has operator: "labels:prod", and "labels:*" for "not empty".
	Repeated bool
	// Enum maps each identifier an Enum field accepts to the value stored in the column.
	Enum map[string]any
	// Value converts a literal to the column's representation, e.g. a resource name
	// "costCenters/infra" to the stored ID "infra"; nil keeps the literal. An error makes the
	// filter invalid, with the error's text as the description.
	Value func(any) (any, error)
	// Sort is the SQL expression to order by, when it differs from Column; it must never be
	// NULL so that ordering and keyset comparisons agree on both engines (e.g.
	// "COALESCE(parent_id, '')"). A Nullable or Enum field without Sort cannot be ordered by, nor
	// can a Repeated one; an Enum field's Sort orders by the number the column stores (e.g.
	// "type"), in the order the API declares the values.
	Sort string
}

// Schema is the allow-list of the fields a resource can be filtered (and ordered) by, keyed by
// their path in the resource with proto field names ("display_name", "create_time").
type Schema map[string]Field

// Names returns the schema's field paths, sorted, for error messages and documentation.
func (s Schema) Names() []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

func (s Schema) describe() string { return strings.Join(s.Names(), ", ") }

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}
