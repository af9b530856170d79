package listing

import (
	"fmt"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
)

// Field is one field of T that a list can filter and order by: its path as clients name it, its
// SQL for filters and orderings, and Get, which reads it from an item for the next page token.
type Field[T any] struct {
	// Path is the field's path in the resource, with proto field names ("display_name").
	Path string
	// Column and Type are those of filter.Field.
	Column string
	Type   filter.Type
	// Get returns the item's value of the field as the column stores it (the ID for a name, ""
	// for an unset reference sorted by COALESCE(column, '')): a string, int64, bool or
	// time.Time. A field the order cannot use (an enum or a nullable one without Sort, a
	// repeated field) has none; an enum with Sort, which orders by the stored number, returns that
	// number as an int64.
	Get func(T) any
	// Nullable, Repeated, Enum, Value and Sort are those of filter.Field.
	Nullable, Repeated bool
	Enum               map[string]any
	Value              func(any) (any, error)
	Sort               string
}

// Table is what a list of T can filter and order by, one Field per field: the Resource that
// Plan checks requests against and the values that Page puts in page tokens, in one place.
type Table[T any] struct {
	Resource
	get map[string]func(T) any
}

// NewTable returns the table of fields whose unique key is the field at key ("name"). It panics
// on a path named twice, on a key that is not a field, and on a field the order can use without
// a Get: tables are package variables, and such a table would fail only at a list's second page.
func NewTable[T any](key string, fields []Field[T]) *Table[T] {
	t := &Table[T]{Resource: Resource{Schema: filter.Schema{}, Key: key}, get: map[string]func(T) any{}}
	for _, f := range fields {
		if _, dup := t.Schema[f.Path]; dup {
			panic(fmt.Sprintf("listing: field %q named twice", f.Path))
		}
		sortable := !f.Repeated && (f.Type != filter.Enum || f.Sort != "") && (!f.Nullable || f.Sort != "")
		if sortable && f.Get == nil {
			panic(fmt.Sprintf("listing: field %q can be ordered by but has no Get", f.Path))
		}
		t.Schema[f.Path] = filter.Field{Column: f.Column, Type: f.Type, Nullable: f.Nullable, Repeated: f.Repeated,
			Enum: f.Enum, Value: f.Value, Sort: f.Sort}
		t.get[f.Path] = f.Get
	}
	if _, ok := t.Schema[key]; !ok {
		panic(fmt.Sprintf("listing: key %q is not a field", key))
	}
	return t
}

// Value returns item's value of the field at path, as Page needs it; nil for a field without Get.
func (t *Table[T]) Value(item T, path string) any {
	if get := t.get[path]; get != nil {
		return get(item)
	}
	return nil
}

// EnumNumbers maps the names of an API enum's values, UNSPECIFIED (zero) left out, to their
// numbers: the Enum of a field whose column stores the enum as its number.
func EnumNumbers(e protoreflect.EnumDescriptor) map[string]any {
	vals := e.Values()
	m := make(map[string]any, vals.Len())
	for i := range vals.Len() {
		if v := vals.Get(i); v.Number() != 0 {
			m[string(v.Name())] = int(v.Number())
		}
	}
	return m
}

// NameID returns the Value of a field that holds a resource name of p and whose column stores
// the ID of p's last variable ("budgets/b1/lines/l1" → "l1"). Any other literal makes the filter
// invalid: "<field> must be a name <p>".
func NameID(field string, p names.Pattern) func(any) (any, error) {
	return func(v any) (any, error) {
		if id, ok := p.Last(v.(string)); ok {
			return id, nil
		}
		return nil, fmt.Errorf("%s must be a name %s", field, p)
	}
}

// Name returns the Value of a field whose column holds whole resource names of p (a
// concatenation of ID columns, say): the literal is kept, and must be such a name.
func Name(field string, p names.Pattern) func(any) (any, error) {
	return func(v any) (any, error) {
		if p.Match(v.(string)) {
			return v, nil
		}
		return nil, fmt.Errorf("%s must be a name %s", field, p)
	}
}
