package rpc_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
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
}

// undecodableRequests are requests that are not protobuf: no decoder makes a message of them.
var undecodableRequests = []struct {
	name  string
	bytes []byte
}{
	{"truncated", []byte("\x0a\xff")},
	{"a group never closed", []byte("\x0b")},
	{"a length past the end", []byte("\x0a\x05ab")},
	{"a field number of zero", []byte("\x00\x01")},
}

// TestServerRefusesUndecodableRequests sends requests that are not protobuf at all — gRPC's
// INTERNAL, from the codec, before any of the platform's code — and requires the client's error:
// INVALID_ARGUMENT with the ErrorInfo of the platform, protobuf's reason in its message, and no
// call of the handler; over a unary and a streaming call, and never before the caller is known.
func TestServerRefusesUndecodableRequests(t *testing.T) {
	fake := &fakeBudget{}
	_, conn := serve(t, fake)
	check := func(t *testing.T, err error) {
		t.Helper()
		st := status.Convert(err)
		if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "the request message cannot be decoded: proto: ") {
			t.Fatalf("got %v; want INVALID_ARGUMENT saying the message cannot be decoded, and why", st.Proto())
		}
		if info, vs := details(t, st); info.GetReason() != "INVALID_ARGUMENT" || info.GetDomain() != domain || len(vs) != 0 {
			t.Errorf("details = %v, %v; want the reason INVALID_ARGUMENT of %s, no field", info, vs, domain)
		}
	}
	for _, c := range undecodableRequests {
		t.Run(c.name, func(t *testing.T) {
			if proto.Unmarshal(c.bytes, &budgetv1.CreateCostCenterRequest{}) == nil {
				t.Fatal("protobuf decodes the request: nothing to test")
			}
			check(t, testkit.InvokeRaw(callCtx(t), conn, "/quarterdeck.budget.v1.BudgetService/CreateCostCenter", c.bytes))
			check(t, testkit.StreamRaw(callCtx(t), conn, "/grpc.health.v1.Health/Watch", c.bytes))
		})
	}
	if n := fake.calls.Load(); n != 0 {
		t.Errorf("the handler was called %d times", n)
	}
	if n := rpc.Pending(); n != 0 {
		t.Errorf("%d requests stay marked undecodable after their calls", n)
	}
	// The next request, decodable, is served: nothing of the refusals is left behind.
	next, err := proto.Marshal(&budgetv1.GetCostCenterRequest{Name: "costCenters/infra"})
	if err != nil {
		t.Fatal(err)
	}
	if err := testkit.InvokeRaw(callCtx(t), conn, "/quarterdeck.budget.v1.BudgetService/GetCostCenter", next); err != nil {
		t.Errorf("a request after the refusals: %v", err)
	}
}

// TestUndecodableRequestsAfterTheCaller requires a caller without an identity to be told so
// rather than that its request cannot be decoded: who is calling is settled first.
func TestUndecodableRequestsAfterTheCaller(t *testing.T) {
	conn, _ := startPayroll(t, identitytest.Verifier())
	garbage := undecodableRequests[0].bytes
	err := testkit.InvokeRaw(callCtx(t), conn, "/payrolltest.v1.PayrollService/GetPayslip", garbage)
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("no identity, a request that is not protobuf = %v; want UNAUTHENTICATED", err)
	}
	tok, err := identitytest.Signer().Sign(identity.Principal{Subject: "users/alice", Scopes: []string{"payroll.read"}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := metadata.AppendToOutgoingContext(callCtx(t), identity.MetadataKey, tok)
	if err := testkit.InvokeRaw(ctx, conn, "/payrolltest.v1.PayrollService/GetPayslip", garbage); status.Code(err) != codes.InvalidArgument {
		t.Errorf("with an identity, a request that is not protobuf = %v; want INVALID_ARGUMENT", err)
	}
	if n := rpc.Pending(); n != 0 {
		t.Errorf("%d requests stay marked undecodable after their calls", n)
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
