package rpc

import (
	"slices"
	"strings"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// missingRequired lists the fields of a Create request marked (google.api.field_behavior) =
// REQUIRED that the request leaves unset, in the request and in the resource it carries, as
// REQUIRED violations ("cost_center.display_name"). It lets a request that breaks a schema rule
// report its missing fields in the same answer, instead of one after the other: the services
// check the same fields themselves once the schema rules pass, so nothing else depends on it.
// Other requests (an update names only what it changes) have none.
func missingRequired(msg protoreflect.Message) []fault.Violation {
	if !strings.HasPrefix(string(msg.Descriptor().Name()), "Create") {
		return nil
	}
	var vs []fault.Violation
	var walk func(m protoreflect.Message, prefix string)
	walk = func(m protoreflect.Message, prefix string) {
		fields := m.Descriptor().Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			behaviors, _ := proto.GetExtension(fd.Options(), annotations.E_FieldBehavior).([]annotations.FieldBehavior)
			if !slices.Contains(behaviors, annotations.FieldBehavior_REQUIRED) {
				continue
			}
			path := prefix + string(fd.Name())
			switch {
			case !m.Has(fd):
				vs = append(vs, fault.Violation{Field: path, Reason: "REQUIRED", Description: string(fd.Name()) + " is required"})
			case fd.Kind() == protoreflect.MessageKind && !fd.IsList() && !fd.IsMap():
				walk(m.Get(fd).Message(), path+".")
			}
		}
	}
	walk(msg, "")
	return vs
}
