package fieldmask_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	vendorsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/vendors/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fieldmask"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// costCenterSpec is the spec the budget service uses for a cost centre.
func costCenterSpec() fieldmask.Spec {
	return fieldmask.Spec{
		Writable: []string{"display_name", "code", "owner", "parent", "active", "description"},
		Ignored:  []string{"name", "etag"},
	}
}

func mask(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }

func TestResolve(t *testing.T) {
	full := &budgetv1.CostCenter{
		Name:        "costCenters/a",
		DisplayName: "A",
		Code:        "A1",
		Owner:       "o@example.com",
		Parent:      "costCenters/p",
		Active:      proto.Bool(true),
		Description: "d",
		CreateTime:  timestamppb.Now(),
		Etag:        "e",
	}
	tests := []struct {
		name string
		mask *fieldmaskpb.FieldMask
		msg  *budgetv1.CostCenter
		want []string
	}{
		{name: "nil mask, empty message", mask: nil, msg: &budgetv1.CostCenter{}, want: nil},
		{name: "empty mask, empty message", mask: mask(), msg: &budgetv1.CostCenter{}, want: nil},
		{
			name: "nil mask: populated writable fields in spec order",
			mask: nil,
			msg:  &budgetv1.CostCenter{Description: "d", DisplayName: "A", Name: "costCenters/a", Etag: "e"},
			want: []string{"display_name", "description"},
		},
		{
			name: "empty mask: every populated writable field",
			mask: mask(),
			msg:  full,
			want: []string{"display_name", "code", "owner", "parent", "active", "description"},
		},
		{
			name: "empty mask: active=false is present",
			mask: mask(),
			msg:  &budgetv1.CostCenter{Active: proto.Bool(false)},
			want: []string{"active"},
		},
		{
			name: "empty mask: unset active is absent",
			mask: mask(),
			msg:  &budgetv1.CostCenter{Owner: "o"},
			want: []string{"owner"},
		},
		{
			name: "star: every writable field, populated or not",
			mask: mask("*"),
			msg:  &budgetv1.CostCenter{},
			want: []string{"display_name", "code", "owner", "parent", "active", "description"},
		},
		{
			name: "named paths in mask order",
			mask: mask("owner", "display_name"),
			msg:  &budgetv1.CostCenter{},
			want: []string{"owner", "display_name"},
		},
		{
			name: "ignored paths are skipped",
			mask: mask("name", "etag", "display_name"),
			msg:  full,
			want: []string{"display_name"},
		},
		{name: "only ignored paths", mask: mask("etag"), msg: full, want: nil},
		{
			name: "the JSON form of a path (AIP-161) is its proto form",
			mask: mask("displayName", "description", "display_name"),
			msg:  full,
			want: []string{"display_name", "description"},
		},
		{
			name: "duplicates are removed",
			mask: mask("code", "owner", "code", "owner", "code"),
			msg:  full,
			want: []string{"code", "owner"},
		},
	}
	spec := costCenterSpec()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := spec.Resolve(tt.mask, tt.msg)
			if err != nil {
				t.Fatalf("Resolve(%v) error: %v", tt.mask.GetPaths(), err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Resolve(%v) = %q, want %q", tt.mask.GetPaths(), got, tt.want)
			}
		})
	}
}

func TestResolveStarReturnsACopy(t *testing.T) {
	spec := costCenterSpec()
	got, err := spec.Resolve(mask("*"), &budgetv1.CostCenter{})
	if err != nil {
		t.Fatal(err)
	}
	got[0] = "create_time"
	if spec.Writable[0] != "display_name" {
		t.Fatalf("changing the result of Resolve changed Spec.Writable to %q", spec.Writable)
	}
}

func TestResolveRejects(t *testing.T) {
	tests := []struct {
		name        string
		mask        *fieldmaskpb.FieldMask
		wantReasons []string // one per violation, all on field update_mask
	}{
		{name: "star with another path", mask: mask("*", "display_name"), wantReasons: []string{"FIELD_MASK_INVALID"}},
		{name: "star twice", mask: mask("*", "*"), wantReasons: []string{"FIELD_MASK_INVALID"}},
		{name: "output-only field", mask: mask("create_time"), wantReasons: []string{"FIELD_NOT_WRITABLE"}},
		{name: "unknown field", mask: mask("nonsense"), wantReasons: []string{"FIELD_NOT_WRITABLE"}},
		{
			name:        "one violation per bad path, good paths do not hide them",
			mask:        mask("display_name", "create_time", "etag", "nonsense"),
			wantReasons: []string{"FIELD_NOT_WRITABLE", "FIELD_NOT_WRITABLE"},
		},
		{name: "nested path", mask: mask("cost_center.display_name"), wantReasons: []string{"FIELD_NOT_WRITABLE"}},
		{name: "case matters", mask: mask("Display_Name"), wantReasons: []string{"FIELD_NOT_WRITABLE"}},
		{name: "json name of an output-only field", mask: mask("createTime"), wantReasons: []string{"FIELD_NOT_WRITABLE"}},
		{name: "json name of no field", mask: mask("displayNames"), wantReasons: []string{"FIELD_NOT_WRITABLE"}},
		{name: "empty path", mask: mask(""), wantReasons: []string{"FIELD_NOT_WRITABLE"}},
	}
	spec := costCenterSpec()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := spec.Resolve(tt.mask, &budgetv1.CostCenter{DisplayName: "A"})
			if got != nil {
				t.Errorf("Resolve returned paths %q with an error", got)
			}
			if !errors.Is(err, fault.New(fault.InvalidArgument, fault.ReasonInvalid, "")) {
				t.Fatalf("Resolve(%q) = %v, want an INVALID_ARGUMENT fault", tt.mask.GetPaths(), err)
			}
			var reasons []string
			for _, v := range fault.As(err).Violations {
				if v.Field != "update_mask" {
					t.Errorf("violation field = %q, want update_mask", v.Field)
				}
				reasons = append(reasons, v.Reason)
			}
			if !slices.Equal(reasons, tt.wantReasons) {
				t.Fatalf("violation reasons = %q, want %q", reasons, tt.wantReasons)
			}
		})
	}
}

func FuzzResolve(f *testing.F) {
	f.Add("", uint8(0))
	f.Add("*", uint8(0))
	f.Add("*,display_name", uint8(1))
	f.Add("display_name,code,code,etag,name", uint8(0xff))
	f.Add("create_time,nonsense,,active", uint8(0x10))
	f.Add(",", uint8(3))
	spec := costCenterSpec()
	f.Fuzz(func(t *testing.T, paths string, populated uint8) {
		msg := &budgetv1.CostCenter{Name: "costCenters/a", Etag: "e"}
		setters := []func(){
			func() { msg.DisplayName = "A" },
			func() { msg.Code = "A1" },
			func() { msg.Owner = "o" },
			func() { msg.Parent = "costCenters/p" },
			func() { msg.Active = proto.Bool(false) },
			func() { msg.Description = "d" },
		}
		for i, set := range setters {
			if populated&(1<<i) != 0 {
				set()
			}
		}
		var m *fieldmaskpb.FieldMask
		if paths != "" {
			m = mask(strings.Split(paths, ",")...)
		}

		got, err := spec.Resolve(m, msg)
		if err != nil {
			if got != nil {
				t.Fatalf("Resolve(%q) returned %q with error %v", paths, got, err)
			}
			fe := fault.As(err)
			if fe == nil || fe.Kind != fault.InvalidArgument || len(fe.Violations) == 0 {
				t.Fatalf("Resolve(%q) = %v, want INVALID_ARGUMENT with violations", paths, err)
			}
			for _, v := range fe.Violations {
				if v.Field != "update_mask" {
					t.Fatalf("Resolve(%q) violation on %q, want update_mask", paths, v.Field)
				}
			}
			return
		}
		seen := map[string]bool{}
		for _, p := range got {
			if !slices.Contains(spec.Writable, p) {
				t.Fatalf("Resolve(%q) = %q: %q is not writable", paths, got, p)
			}
			if seen[p] {
				t.Fatalf("Resolve(%q) = %q: %q appears twice", paths, got, p)
			}
			seen[p] = true
			if m != nil && !slices.Contains(m.Paths, p) && !slices.Contains(m.Paths, "*") {
				t.Fatalf("Resolve(%q) = %q: %q was not asked for", paths, got, p)
			}
		}
	})
}

// assetDescriptor builds a resource message with a field of every behavior, IMMUTABLE
// included, as a service would declare it in its proto.
func assetDescriptor(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	return testkit.ProtoFile(t, `
		name: "fieldmask_test/asset.proto"  package: "fieldmask.test"  syntax: "proto3"
		dependency: "google/api/field_behavior.proto"
		message_type {
			name: "Asset"
			field { name: "name"  number: 1  json_name: "name"  label: LABEL_OPTIONAL  type: TYPE_STRING
				options { [google.api.field_behavior]: IDENTIFIER } }
			field { name: "serial_number"  number: 2  json_name: "serial_number"  label: LABEL_OPTIONAL  type: TYPE_STRING
				options { [google.api.field_behavior]: IMMUTABLE } }
			field { name: "display_name"  number: 3  json_name: "display_name"  label: LABEL_OPTIONAL  type: TYPE_STRING
				options { [google.api.field_behavior]: REQUIRED } }
			field { name: "location"  number: 4  json_name: "location"  label: LABEL_OPTIONAL  type: TYPE_STRING  options {} }
			field { name: "create_time"  number: 5  json_name: "create_time"  label: LABEL_OPTIONAL  type: TYPE_STRING
				options { [google.api.field_behavior]: OUTPUT_ONLY } }
			field { name: "etag"  number: 6  json_name: "etag"  label: LABEL_OPTIONAL  type: TYPE_STRING  options {} }
		}`).Messages().ByName("Asset")
}

func TestFromDescriptor(t *testing.T) {
	md := assetDescriptor(t)
	spec := fieldmask.FromDescriptor(md, "name", "etag")
	if want := []string{"display_name", "location"}; !slices.Equal(spec.Writable, want) {
		t.Errorf("writable = %q, want %q", spec.Writable, want)
	}
	msg := dynamicpb.NewMessage(md)
	got, err := spec.Resolve(mask("*"), msg)
	if err != nil || !slices.Equal(got, []string{"display_name", "location"}) {
		t.Errorf(`Resolve("*") = %q, %v`, got, err)
	}
	_, err = spec.Resolve(mask("serial_number", "location", "create_time", "name", "etag", "colour"), msg)
	fe := fault.As(err)
	if fe == nil {
		t.Fatalf("err = %v, want violations", err)
	}
	var descs []string
	for _, v := range fe.Violations {
		if v.Field != "update_mask" || v.Reason != "FIELD_NOT_WRITABLE" {
			t.Errorf("violation = %+v", v)
		}
		descs = append(descs, v.Description)
	}
	want := []string{
		"field serial_number is immutable: it can only be set when the resource is created",
		"field create_time is output only",
		"field colour is not a field of the resource or cannot be updated",
	}
	if !slices.Equal(descs, want) {
		t.Errorf("violations:\n got %q\nwant %q", descs, want)
	}
}

// TestFromDescriptorCostCenter checks the spec derived from the CostCenter message: the fields
// its annotations leave writable are the ones the budget service lets an update change.
func TestFromDescriptorCostCenter(t *testing.T) {
	spec := fieldmask.FromDescriptor((&budgetv1.CostCenter{}).ProtoReflect().Descriptor(), "name", "etag")
	if want := costCenterSpec().Writable; !slices.Equal(spec.Writable, want) {
		t.Errorf("writable = %q, want %q", spec.Writable, want)
	}
	if want := []string{"create_time", "update_time"}; !slices.Equal(spec.OutputOnly, want) {
		t.Errorf("output only = %q, want %q", spec.OutputOnly, want)
	}
}

// TestResolveWholeMessageFields checks that a path into a message field written whole (a Money,
// a Date, a Timestamp), as grpc-gateway derives from a PATCH body, means the field itself, and
// that a path to no field of that message is still refused, naming the path.
func TestResolveWholeMessageFields(t *testing.T) {
	spec := fieldmask.FromDescriptor((&vendorsv1.Contract{}).ProtoReflect().Descriptor(), "name", "etag")
	msg := &vendorsv1.Contract{}
	tests := []struct {
		mask []string
		want []string
	}{
		{[]string{"total_value.currency_code", "total_value.units", "title"}, []string{"total_value", "title"}},
		{[]string{"totalValue.currencyCode", "totalValue.nanos"}, []string{"total_value"}},
		{[]string{"end_date.year", "end_date.month", "end_date.day", "end_date"}, []string{"end_date"}},
	}
	for _, tt := range tests {
		got, err := spec.Resolve(mask(tt.mask...), msg)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tt.mask, got, err, tt.want)
		}
	}
	for _, bad := range []string{"total_value.cents", "end_date.year.x", "title.x", "create_time.seconds", "total_value."} {
		_, err := spec.Resolve(mask(bad), msg)
		vs := fault.As(err)
		if err == nil || vs == nil || len(vs.Violations) != 1 || vs.Violations[0].Field != "update_mask" ||
			vs.Violations[0].Reason != "FIELD_NOT_WRITABLE" || !strings.Contains(vs.Violations[0].Description, bad) {
			t.Errorf("Resolve(%q) = %v; want FIELD_NOT_WRITABLE naming the path", bad, err)
		}
	}
	// A spec that writes sub-fields one by one keeps them, and refuses the others.
	spec.Writable = append(spec.Writable, "end_date.year")
	if got, err := spec.Resolve(mask("end_date.year"), msg); err != nil || !slices.Equal(got, []string{"end_date.year"}) {
		t.Errorf("Resolve(end_date.year) with the sub-field writable = %q, %v", got, err)
	}
	if _, err := spec.Resolve(mask("end_date.month"), msg); err == nil {
		t.Error("Resolve(end_date.month) with only end_date.year writable: no error")
	}
}
