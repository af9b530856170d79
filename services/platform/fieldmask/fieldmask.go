// Package fieldmask resolves the update_mask of an Update request (AIP-134) against the fields a
// resource lets clients write.
package fieldmask

import (
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/quarterdeck/quarterdeck/services/platform/fault"
)

// Spec lists the fields of a resource by how an update may treat them.
type Spec struct {
	// Writable fields may be named in a mask.
	Writable []string
	// Ignored fields may appear in a mask and are skipped: the resource's name and etag identify
	// the update and guard it rather than change data. grpc-gateway derives the mask of a PATCH
	// from the JSON body, so a body carrying the etag names it in the mask.
	Ignored []string
}

// Resolve returns the writable paths to update:
//   - an empty mask means every writable field that is populated in msg;
//   - "*" means every writable field (a full replacement);
//   - otherwise the named paths, each of which must be writable or ignored. Other paths (output
//     only, immutable or unknown) are each reported as a violation of field "update_mask".
func (s Spec) Resolve(mask *fieldmaskpb.FieldMask, msg proto.Message) ([]string, error) {
	paths := mask.GetPaths()
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
			return nil, fault.Invalid(fault.Violation{Field: "update_mask", Reason: "FIELD_MASK_INVALID",
				Description: `"*" cannot be combined with other paths`})
		}
		return slices.Clone(s.Writable), nil
	}
	var (
		out []string
		vs  []fault.Violation
	)
	for _, p := range paths {
		switch {
		case slices.Contains(s.Writable, p):
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		case slices.Contains(s.Ignored, p):
		default:
			vs = append(vs, fault.Violation{Field: "update_mask", Reason: "FIELD_NOT_WRITABLE",
				Description: "field " + p + " cannot be updated"})
		}
	}
	if err := fault.Invalid(vs...); err != nil {
		return nil, err
	}
	return out, nil
}

func protoName(path string) protoreflect.Name { return protoreflect.Name(path) }
