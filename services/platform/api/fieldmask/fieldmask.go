// Package fieldmask resolves the update_mask of an Update request (AIP-134) against the fields a
// resource lets clients write.
package fieldmask

import (
	"slices"
	"strings"
	"unicode"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Spec lists the fields of a resource by how an update may treat them.
type Spec struct {
	// Writable fields may be named in a mask.
	Writable []string
	// Ignored fields may appear in a mask and are skipped: the resource's name and etag identify
	// the update and guard it rather than change data. grpc-gateway derives the mask of a PATCH
	// from the JSON body, so a body carrying the etag names it in the mask.
	Ignored []string
	// OutputOnly and Immutable fields are rejected like unknown ones; listing them only makes
	// the violation say why.
	OutputOnly []string
	Immutable  []string
}

// FromDescriptor derives the spec of a resource from its message's google.api.field_behavior
// annotations, so that a field marked OUTPUT_ONLY, IMMUTABLE or IDENTIFIER can never be updated
// whatever a service's code says: the remaining top-level fields, in declaration order, are
// writable. ignored are the fields a mask may name without effect (usually "name" and "etag").
func FromDescriptor(md protoreflect.MessageDescriptor, ignored ...string) Spec {
	s := Spec{Ignored: slices.Clone(ignored)}
	fields := md.Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		name := string(fd.Name())
		behaviors, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
		switch {
		case slices.Contains(ignored, name):
		case slices.Contains(behaviors, annotations.FieldBehavior_OUTPUT_ONLY),
			slices.Contains(behaviors, annotations.FieldBehavior_IDENTIFIER):
			s.OutputOnly = append(s.OutputOnly, name)
		case slices.Contains(behaviors, annotations.FieldBehavior_IMMUTABLE):
			s.Immutable = append(s.Immutable, name)
		default:
			s.Writable = append(s.Writable, name)
		}
	}
	return s
}

// Resolve returns the writable paths to update:
//   - an empty mask means every writable field that is populated in msg;
//   - "*" means every writable field (a full replacement);
//   - otherwise the named paths, each of which must be writable or ignored. Other paths (output
//     only, immutable or unknown) are each reported as a violation of field "update_mask".
func (s Spec) Resolve(mask *fieldmaskpb.FieldMask, msg proto.Message) ([]string, error) {
	given := mask.GetPaths()
	paths := make([]string, len(given))
	for i, p := range given {
		paths[i] = snake(p)
	}
	if len(paths) == 0 {
		m := msg.ProtoReflect()
		var out []string
		for _, p := range s.Writable {
			if fd := m.Descriptor().Fields().ByName(protoName(p)); fd != nil && m.Has(fd) {
				out = append(out, p)
			}
		}
		return out, nil
	}
	if slices.Contains(paths, "*") {
		if len(paths) > 1 {
			return nil, fault.Field("update_mask", "FIELD_MASK_INVALID", `"*" cannot be combined with other paths`)
		}
		return slices.Clone(s.Writable), nil
	}
	var (
		out []string
		vs  []fault.Violation
	)
	for i, p := range paths {
		p = s.whole(p, msg)
		switch {
		case slices.Contains(s.Writable, p):
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		case slices.Contains(s.Ignored, p):
		default:
			why := "is not a field of the resource or cannot be updated"
			switch {
			case slices.Contains(s.OutputOnly, p):
				why = "is output only"
			case slices.Contains(s.Immutable, p):
				why = "is immutable: it can only be set when the resource is created"
			}
			vs = append(vs, fault.Violation{Field: "update_mask", Reason: "FIELD_NOT_WRITABLE",
				Description: "field " + given[i] + " " + why})
		}
	}
	if err := fault.Invalid(vs...); err != nil {
		return nil, err
	}
	return out, nil
}

// whole returns the field itself for a path into a singular message field that is written whole
// (a google.type.Money, a Date, a Timestamp or another value message): grpc-gateway derives the
// mask of a PATCH from the JSON body, so `{"cost": {"currencyCode": "EUR", "units": "12"}}`
// names cost.currency_code and cost.units, which mean the cost. The path is returned unchanged
// when it is itself writable (a spec listing sub-fields, like roles.commander, writes them one by
// one), when the spec lists any sub-field of the field, when the field is not a writable singular
// message, or when the rest of the path is not a path of fields of the message: it is then
// refused, naming the path as given.
func (s Spec) whole(path string, msg proto.Message) string {
	head, rest, ok := strings.Cut(path, ".")
	if !ok || msg == nil || slices.Contains(s.Writable, path) || !slices.Contains(s.Writable, head) {
		return path
	}
	for _, w := range s.Writable {
		if strings.HasPrefix(w, head+".") {
			return path
		}
	}
	fd := msg.ProtoReflect().Descriptor().Fields().ByName(protoName(head))
	if fd == nil || fd.Message() == nil || fd.IsList() || fd.IsMap() {
		return path
	}
	for md := fd.Message(); ; {
		name, more, _ := strings.Cut(rest, ".")
		sub := md.Fields().ByName(protoName(name))
		if sub == nil {
			return path
		}
		if more == "" {
			return head
		}
		if sub.Message() == nil || sub.IsList() || sub.IsMap() {
			return path
		}
		md, rest = sub.Message(), more
	}
}

func protoName(path string) protoreflect.Name { return protoreflect.Name(path) }

// snake turns the JSON form of a path (AIP-161: "displayName", "budget.fiscalYear") into the
// proto form ("display_name"), so that a mask may be written either way, as Google's REST APIs
// accept it. A proto-form path, or one mixing the forms, is unchanged.
func snake(path string) string {
	if strings.IndexFunc(path, unicode.IsUpper) < 0 || strings.Contains(path, "_") {
		return path
	}
	var b strings.Builder
	for _, r := range path {
		if unicode.IsUpper(r) {
			b.WriteByte('_')
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
