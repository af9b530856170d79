package audit

import (
	"fmt"
	"slices"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"
)

// excluded are the top-level fields Diff leaves out: bookkeeping that every update changes and
// that the record states anyway (update_time is the record's create_time; the etag follows from
// the version). Keeping them out leaves the changes a reader cares about.
var excluded = []string{"update_time", "etag"}

// Diff returns the fields that differ between before and after, two messages of the same type
// (either may be nil: a create or a delete), sorted by path.
//
// Paths are proto field names joined by dots (`display_name`, `phasing.amount`): nested
// messages are walked field by field, except the well-known and google.type messages
// (Timestamp, Money, Date, …), repeated fields and maps, which change as whole values. Values are
// the protojson form of the field as a google.protobuf.Value (int64 as strings, enums by name,
// timestamps in RFC 3339). A field at its default value counts as unset. The top-level
// update_time and etag are left out.
func Diff(before, after proto.Message) ([]Change, error) {
	var b, a protoreflect.Message
	if before != nil {
		b = before.ProtoReflect()
	}
	if after != nil {
		a = after.ProtoReflect()
	}
	if b != nil && a != nil && b.Descriptor().FullName() != a.Descriptor().FullName() {
		return nil, fmt.Errorf("diff %s against %s", b.Descriptor().FullName(), a.Descriptor().FullName())
	}
	var changes []Change
	if err := diff(&changes, "", b, a); err != nil {
		return nil, err
	}
	slices.SortFunc(changes, func(x, y Change) int { return strings.Compare(x.Path, y.Path) })
	return changes, nil
}

// diff appends the changes between b and a, either of which may be nil (unset), under prefix.
func diff(out *[]Change, prefix string, b, a protoreflect.Message) error {
	m := b
	if m == nil {
		m = a
	}
	if m == nil {
		return nil
	}
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if prefix == "" && slices.Contains(excluded, string(fd.Name())) {
			continue
		}
		hasB, hasA := b != nil && b.Has(fd), a != nil && a.Has(fd)
		if !hasB && !hasA {
			continue
		}
		path := prefix + string(fd.Name())
		if fd.Message() != nil && !fd.IsList() && !fd.IsMap() && !wholeValue(fd.Message()) {
			var nb, na protoreflect.Message
			if hasB {
				nb = b.Get(fd).Message()
			}
			if hasA {
				na = a.Get(fd).Message()
			}
			if err := diff(out, path+".", nb, na); err != nil {
				return err
			}
			continue
		}
		c := Change{Path: path}
		var err error
		if hasB {
			if c.Before, err = fieldValue(b, fd); err != nil {
				return err
			}
		}
		if hasA {
			if c.After, err = fieldValue(a, fd); err != nil {
				return err
			}
		}
		if hasB && hasA && proto.Equal(c.Before, c.After) {
			continue
		}
		*out = append(*out, c)
	}
	return nil
}

// wholeValue reports whether fields of message type md change as one value: the well-known
// types and google.type messages have a JSON form of their own and no meaningful parts.
func wholeValue(md protoreflect.MessageDescriptor) bool {
	return strings.HasPrefix(string(md.FullName()), "google.")
}

var jsonOptions = protojson.MarshalOptions{UseProtoNames: true}

// fieldValue returns the protojson form of field fd of m as a Value, by marshalling a message
// that has only that field set: protojson then decides every type's JSON form, as on the wire.
func fieldValue(m protoreflect.Message, fd protoreflect.FieldDescriptor) (*structpb.Value, error) {
	only := m.New()
	only.Set(fd, m.Get(fd))
	b, err := jsonOptions.Marshal(only.Interface())
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", fd.FullName(), err)
	}
	var s structpb.Struct
	if err := protojson.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("decode %s: %w", fd.FullName(), err)
	}
	v, ok := s.GetFields()[string(fd.Name())]
	if !ok {
		return nil, fmt.Errorf("encode %s: field missing from its JSON form", fd.FullName())
	}
	return v, nil
}
