package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
)

// changeStrings renders changes as "path: before -> after" with values as compact JSON and "-"
// for an absent value.
func changeStrings(t *testing.T, cs []Change) []string {
	t.Helper()
	var out []string
	for _, c := range cs {
		out = append(out, c.Path+": "+jsonOf(t, c.Before)+" -> "+jsonOf(t, c.After))
	}
	return out
}

func jsonOf(t *testing.T, m proto.Message) string {
	t.Helper()
	if m == nil || !m.ProtoReflect().IsValid() {
		return "-"
	}
	b, err := protojson.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, b); err != nil {
		t.Fatal(err)
	}
	return compact.String()
}

func equal(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("changes:\n got %q\nwant %q", got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("changes:\n got %q\nwant %q", got, want)
		}
	}
}

func TestDiff(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	base := &budgetv1.CostCenter{
		Name: "costCenters/it", DisplayName: "IT", Code: "CC-1", Owner: "a@example.com",
		Active: proto.Bool(true), CreateTime: timestamppb.New(t0), UpdateTime: timestamppb.New(t0), Etag: `W/"1"`,
	}
	edited := proto.Clone(base).(*budgetv1.CostCenter)
	edited.DisplayName = "IT operations"
	edited.Owner = ""                 // cleared
	edited.Active = proto.Bool(false) // explicit presence: false is a value, not unset
	edited.Description = "new"
	edited.UpdateTime = timestamppb.New(t0.Add(time.Hour))
	edited.Etag = `W/"2"`

	tests := []struct {
		name          string
		before, after proto.Message
		want          []string
	}{
		{"update, bookkeeping excluded", base, edited, []string{
			`active: true -> false`,
			`description: - -> "new"`,
			`display_name: "IT" -> "IT operations"`,
			`owner: "a@example.com" -> -`,
		}},
		{"create", nil, base, []string{
			`active: - -> true`,
			`code: - -> "CC-1"`,
			`create_time: - -> "2026-03-01T09:30:00Z"`,
			`display_name: - -> "IT"`,
			`name: - -> "costCenters/it"`,
			`owner: - -> "a@example.com"`,
		}},
		{"delete", base, nil, []string{
			`active: true -> -`,
			`code: "CC-1" -> -`,
			`create_time: "2026-03-01T09:30:00Z" -> -`,
			`display_name: "IT" -> -`,
			`name: "costCenters/it" -> -`,
			`owner: "a@example.com" -> -`,
		}},
		{"no change", base, proto.Clone(base), nil},
		{"only bookkeeping", base, func() proto.Message {
			c := proto.Clone(base).(*budgetv1.CostCenter)
			c.Etag, c.UpdateTime = "x", timestamppb.Now()
			return c
		}(), nil},
		{"nested messages by field, well-known types and repeated fields whole",
			&budgetv1.UpdateCostCenterRequest{
				CostCenter: &budgetv1.CostCenter{DisplayName: "a", Etag: "1"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name"}},
			},
			&budgetv1.UpdateCostCenterRequest{
				CostCenter: &budgetv1.CostCenter{DisplayName: "b", Etag: "2"},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"display_name", "owner"}},
			},
			[]string{
				// Exclusions apply at the top level only: a nested etag is the caller's data.
				`cost_center.display_name: "a" -> "b"`,
				`cost_center.etag: "1" -> "2"`,
				`update_mask: "displayName" -> "displayName,owner"`,
			}},
		{"repeated and int64 fields",
			&operationsv1.VerifyAuditChainResponse{RecordsChecked: 7},
			&operationsv1.VerifyAuditChainResponse{RecordsChecked: 9007199254740993, Reason: "x"},
			[]string{`reason: - -> "x"`, `records_checked: "7" -> "9007199254740993"`}},
		{"lists whole", &operationsv1.ListAuditRecordsResponse{AuditRecords: []*operationsv1.AuditRecord{{Sequence: 1}}},
			&operationsv1.ListAuditRecordsResponse{AuditRecords: []*operationsv1.AuditRecord{{Sequence: 1}, {Action: "CREATE"}}},
			[]string{`audit_records: [{"sequence":"1"}] -> [{"sequence":"1"},{"action":"CREATE"}]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := Diff(tt.before, tt.after)
			if err != nil {
				t.Fatal(err)
			}
			equal(t, changeStrings(t, cs), tt.want)
		})
	}
}

func TestDiffRejectsDifferentTypes(t *testing.T) {
	if _, err := Diff(&budgetv1.CostCenter{}, &operationsv1.AuditRecord{}); err == nil {
		t.Fatal("diff of two message types succeeded")
	}
}

func TestNewEntry(t *testing.T) {
	traceID, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	spanID, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	ctx := trace.ContextWithSpanContext(context.Background(),
		trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID, TraceFlags: trace.FlagsSampled}))
	ctx = identity.NewContext(ctx, identity.Principal{Subject: "users/alice@example.com"})
	ctx = metadata.NewIncomingContext(ctx, metadata.Pairs("x-request-id", "gw-123"))

	e, err := NewEntry(ctx, &budgetv1.DeleteCostCenterRequest{Name: "costCenters/it"}, Delete, "costCenters/it",
		&budgetv1.CostCenter{DisplayName: "IT"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e.Actor != "users/alice@example.com" || e.Action != Delete || e.Resource != "costCenters/it" ||
		e.TraceID != traceID.String() || e.RequestID != "gw-123" || len(e.Changes) != 1 {
		t.Fatalf("entry = %+v", e)
	}
	// Outside a gRPC call there is no method; without a principal the actor is the system.
	if e.Method != "" {
		t.Errorf("method = %q outside a call", e.Method)
	}
	if e, _ := NewEntry(context.Background(), nil, Create, "x", nil, nil); e.Actor != identity.System || e.TraceID != "" || e.RequestID != "" {
		t.Errorf("entry without context = %+v", e)
	}
}

func TestRequestIDPrefersTheRequestsField(t *testing.T) {
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-request-id", "gw-123"))
	req := &operationsv1.ReplayDeadLetterRequest{RequestId: "5f1d7c52-6d33-4e47-9a3f-1d0c1e5e8f10"}
	if got := RequestID(ctx, req); got != req.RequestId {
		t.Errorf("RequestID = %q, want the request's request_id", got)
	}
	if got := RequestID(ctx, &operationsv1.ReplayDeadLetterRequest{}); got != "gw-123" {
		t.Errorf("RequestID without request_id = %q, want the gateway's", got)
	}
}
