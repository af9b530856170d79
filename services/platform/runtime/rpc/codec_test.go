package rpc_test

import (
	"bytes"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/rpc"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// notUTF8 marshals m, then replaces each of its strings that marks a place ("@1…", the same
// length as the text that replaces it) with bytes that are not UTF-8: what protobuf refuses to
// encode and to decode.
func notUTF8(t *testing.T, m proto.Message, marks ...string) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, mark := range marks {
		if bytes.Count(b, []byte(mark)) != 1 {
			t.Fatalf("mark %q is not once in the message", mark)
		}
		b = bytes.Replace(b, []byte(mark), append([]byte("\xff"), mark[1:]...), 1)
	}
	return b
}

// TestServerRefusesStringsNotUTF8 sends requests whose strings protobuf would refuse to decode —
// gRPC's INTERNAL before any of the platform's code — and requires the text rule's answer:
// INVALID_ARGUMENT with INVALID_UTF8 on each such field, at any depth, and no call of the handler.
func TestServerRefusesStringsNotUTF8(t *testing.T) {
	fake := &fakeBudget{}
	_, conn := serve(t, fake)
	for _, c := range []struct {
		name   string
		method string
		msg    proto.Message
		marks  []string
		want   []violation
	}{
		{"a nested string", "CreateCostCenter",
			&budgetv1.CreateCostCenterRequest{CostCenterId: "infra", CostCenter: &budgetv1.CostCenter{DisplayName: "@1 Infrastructure", Code: "CC-1"}},
			[]string{"@1"}, []violation{{"cost_center.display_name", "INVALID_UTF8"}}},
		{"the request's own string", "GetCostCenter", &budgetv1.GetCostCenterRequest{Name: "costCenters/@1"},
			// The name's pattern is broken too, as it is over REST.
			[]string{"@1"}, []violation{{"name", "INVALID_UTF8"}, {"name", "STRING_PATTERN"}}},
		{"an element of a repeated string, beside another field", "UpdateCostCenter",
			&budgetv1.UpdateCostCenterRequest{CostCenter: &budgetv1.CostCenter{Name: "costCenters/infra", DisplayName: "@1"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"code", "@2isplay_name"}}},
			[]string{"@1", "@2"}, []violation{{"cost_center.display_name", "INVALID_UTF8"}, {"update_mask.paths[1]", "INVALID_UTF8"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := testkit.InvokeRaw(callCtx(t), conn, "/quarterdeck.budget.v1.BudgetService/"+c.method, notUTF8(t, c.msg, c.marks...))
			st := status.Convert(err)
			if st.Code() != codes.InvalidArgument {
				t.Fatalf("got %v; want INVALID_ARGUMENT", st.Proto())
			}
			// In the fields' declaration order, from every build (walkText).
			_, vs := details(t, st)
			if !slices.Equal(vs, c.want) {
				t.Errorf("violations = %v; want %v", vs, c.want)
			}
		})
	}
	if n := fake.calls.Load(); n != 0 {
		t.Errorf("the handler was called %d times", n)
	}
	// A request that is not protobuf at all is still the codec's to refuse.
	err := testkit.InvokeRaw(callCtx(t), conn, "/quarterdeck.budget.v1.BudgetService/GetCostCenter", []byte("\x0a\xff"))
	if status.Code(err) != codes.Internal {
		t.Errorf("a request that is not protobuf = %v; want gRPC's INTERNAL", err)
	}
}

// TestUnmarshalKeepingText decodes what protobuf would refuse into the message protobuf would
// have decoded, the bytes of its strings as they were: nested and repeated messages, repeated
// strings, scalars, a timestamp, and fields merged as protobuf merges them.
func TestUnmarshalKeepingText(t *testing.T) {
	in := &budgetv1.ListCostCentersResponse{
		CostCenters: []*budgetv1.CostCenter{
			{Name: "costCenters/a", DisplayName: "@1", Active: proto.Bool(true), CreateTime: timestamppb.New(timestamppb.Now().AsTime())},
			{Name: "costCenters/@2", Code: "CC-2", Description: "two\nlines"},
		},
		NextPageToken: "@3",
	}
	b := notUTF8(t, in, "@1", "@2", "@3")
	want := proto.CloneOf(in)
	want.CostCenters[0].DisplayName, want.CostCenters[1].Name, want.NextPageToken = "\xff1", "costCenters/\xff2", "\xff3"
	if err := proto.Unmarshal(b, &budgetv1.ListCostCentersResponse{}); err == nil {
		t.Fatal("protobuf decoded strings that are not UTF-8: nothing to test")
	}
	got := &budgetv1.ListCostCentersResponse{NextPageToken: "stale"}
	if err := rpc.UnmarshalKeepingText(b, got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Errorf("decoded %v; want %v", got, want)
	}
	if rpc.CheckText(got) == nil {
		t.Error("the text rule finds nothing wrong in what was decoded")
	}
	// A field given twice: the last one wins, as in protobuf.
	twice := append(notUTF8(t, &budgetv1.CostCenter{DisplayName: "@1"}, "@1"), notUTF8(t, &budgetv1.CostCenter{DisplayName: "@2", Code: "C"}, "@2")...)
	cc := &budgetv1.CostCenter{}
	if err := rpc.UnmarshalKeepingText(twice, cc); err != nil || cc.GetDisplayName() != "\xff2" || cc.GetCode() != "C" {
		t.Errorf("a field given twice = %v, %v; want the second", cc, err)
	}
	if err := rpc.UnmarshalKeepingText([]byte("\x0a\x05ab"), &budgetv1.CostCenter{}); err == nil {
		t.Error("a truncated message was decoded")
	}
}
