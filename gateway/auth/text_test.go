package auth_test

import (
	"context"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	iamv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/iam/v1"
	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	riskv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/risk/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
)

// TestControlCharactersRefusedEverywhere: every method of every API the gateway serves refuses
// a request with a NUL in a string field — every string field of the request, at any depth — with
// INVALID_ARGUMENT and a CONTROL_CHARACTER violation naming each field, before its handler or
// database sees it. The rule is the platform's, so a service added later is covered as soon as
// its API is listed here.
func TestControlCharactersRefusedEverywhere(t *testing.T) {
	t.Parallel()
	f := startFront(t)
	conn := f.conn(t)
	ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+adminKey)
	sds := []protoreflect.ServiceDescriptor{
		budgetv1.File_quarterdeck_budget_v1_budget_service_proto.Services().ByName("BudgetService"),
		vendorsv1.File_quarterdeck_vendors_v1_vendors_service_proto.Services().ByName("VendorsService"),
		riskv1.File_quarterdeck_risk_v1_risk_service_proto.Services().ByName("RiskService"),
		iamv1.File_quarterdeck_iam_v1_api_keys_proto.Services().ByName("ApiKeyService"),
		operationsv1.File_quarterdeck_operations_v1_operations_proto.Services().ByName("OperationsService"),
	}
	methods := 0
	for _, sd := range sds {
		for i := range sd.Methods().Len() {
			md := sd.Methods().Get(i)
			if md.IsStreamingClient() || md.IsStreamingServer() {
				continue
			}
			req := dynamicpb.NewMessage(md.Input())
			var want []string
			fillStrings(req, "", "x\x00y", 3, &want)
			if sd.Name() == "OperationsService" {
				// The gateway routes these by the service the name or parent names: that field
				// must name one, and the rule is checked on the others by the service.
				for field, v := range map[string]string{"parent": "services/budget", "name": "services/budget/deadLetters/x"} {
					if fd := md.Input().Fields().ByName(protoreflect.Name(field)); fd != nil {
						req.Set(fd, protoreflect.ValueOfString(v))
						want = slices.DeleteFunc(want, func(p string) bool { return p == field })
					}
				}
			}
			if len(want) == 0 {
				continue // a request without strings
			}
			methods++
			full := "/" + string(sd.FullName()) + "/" + string(md.Name())
			err := conn.Invoke(ctx, full, req, dynamicpb.NewMessage(md.Output()))
			if status.Code(err) != codes.InvalidArgument {
				t.Errorf("%s with NULs = %v; want INVALID_ARGUMENT", full, err)
				continue
			}
			_, vs := rpc.Details(err)
			var got []string
			for _, v := range vs {
				if v.GetReason() == rpc.ReasonControlCharacter {
					got = append(got, v.GetField())
				}
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: CONTROL_CHARACTER on %q; want on %q", full, got, want)
			}
		}
	}
	if methods < 50 {
		t.Errorf("%d methods with string fields checked; want every method of the five APIs", methods)
	}
}

// fillStrings sets every string field of m, to depth levels of nested messages, to value (one
// element of a repeated field; one member of a oneof), and appends the paths it set to paths.
func fillStrings(m protoreflect.Message, prefix, value string, depth int, paths *[]string) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() && m.WhichOneof(od) != nil {
			continue
		}
		path := prefix + string(fd.Name())
		switch {
		case fd.IsMap():
		case fd.IsList() && fd.Kind() == protoreflect.StringKind:
			m.Mutable(fd).List().Append(protoreflect.ValueOfString(value))
			*paths = append(*paths, path+"[0]")
		case fd.IsList():
		case fd.Kind() == protoreflect.StringKind:
			m.Set(fd, protoreflect.ValueOfString(value))
			*paths = append(*paths, path)
		case fd.Kind() == protoreflect.MessageKind && depth > 0:
			n := len(*paths)
			sub := m.NewField(fd).Message()
			fillStrings(sub, path+".", value, depth-1, paths)
			if len(*paths) > n {
				m.Set(fd, protoreflect.ValueOfMessage(sub))
			}
		}
	}
}
