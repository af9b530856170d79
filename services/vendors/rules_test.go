package vendors_test

import (
	"errors"
	"testing"

	"buf.build/go/protovalidate"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
)

// TestValidationRulesCompile builds the protovalidate rules of every message of the API, so that
// a rule that does not compile fails here rather than on the first request that carries it.
func TestValidationRulesCompile(t *testing.T) {
	t.Parallel()
	v, err := protovalidate.New()
	if err != nil {
		t.Fatal(err)
	}
	pkg := vendorsv1.File_quarterdeck_vendors_v1_vendors_service_proto.Package()
	n := 0
	var check func(ms protoreflect.MessageDescriptors)
	check = func(ms protoreflect.MessageDescriptors) {
		for i := range ms.Len() {
			md := ms.Get(i)
			n++
			// An empty message breaks required rules (a validation error) but must compile.
			var verr *protovalidate.ValidationError
			if err := v.Validate(dynamicpb.NewMessage(md)); err != nil && !errors.As(err, &verr) {
				t.Errorf("%s: %v", md.FullName(), err)
			}
			check(md.Messages())
		}
	}
	protoregistry.GlobalFiles.RangeFilesByPackage(pkg, func(fd protoreflect.FileDescriptor) bool {
		check(fd.Messages())
		return true
	})
	// And the rules run: a pattern, a range and a decimal string, each broken once.
	for _, m := range []proto.Message{
		&vendorsv1.GetVendorRequest{Name: "vendors/Not_An_ID"},
		&vendorsv1.CreateVendorRequest{Vendor: &vendorsv1.Vendor{Tier: 5}},
		&vendorsv1.ServiceLevel{DisplayName: "API", AvailabilityTargetPercent: "99.9999"},
	} {
		var verr *protovalidate.ValidationError
		if err := v.Validate(m); !errors.As(err, &verr) {
			t.Errorf("validate %v = %v; want a validation error", m, err)
		}
	}
	if n < 100 {
		t.Errorf("checked %d messages; want every message of %s", n, pkg)
	}
}
