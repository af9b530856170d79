package rpc

import (
	"slices"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// TestTextRuleWalksEveryString: the rule reaches strings in nested messages, lists and maps
// (keys too), and names each with its path.
func TestTextRuleWalksEveryString(t *testing.T) {
	msg, err := structpb.NewStruct(map[string]any{
		"clean": "fine, ünïcode too",
		"nul":   "a\x00b",
		"list":  []any{"ok", "esc\x1b[31m", map[string]any{"deep": "del\x7f"}},
		"k\x01": "a bad key",
		"c1":    "next line\u0085",
	})
	if err != nil {
		t.Fatal(err)
	}
	// Not UTF-8: structpb refuses to build such a value, a decoder of a query parameter does not.
	msg.Fields["latin1"] = structpb.NewStringValue("caf\xe9")
	var vs []fault.Violation
	walkText(msg.ProtoReflect(), "", &vs)
	var got []string
	for _, v := range vs {
		want := ReasonControlCharacter
		if v.Field == `fields["latin1"].string_value` {
			want = ReasonInvalidUTF8
		}
		if v.Reason != want {
			t.Errorf("violation %+v: reason %q, want %q", v, v.Reason, want)
		}
		got = append(got, v.Field)
	}
	// In the keys' order, from every build.
	want := []string{
		`fields["c1"].string_value`,
		`fields`, // the key "k\x01": the map is named, not the unreadable key
		`fields["latin1"].string_value`,
		`fields["list"].list_value.values[1].string_value`,
		`fields["list"].list_value.values[2].struct_value.fields["deep"].string_value`,
		`fields["nul"].string_value`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations on %q; want %q", got, want)
	}
	if err := CheckText(msg); len(fault.As(err).Violations) != len(want) {
		t.Errorf("CheckText = %v; want the %d violations", err, len(want))
	}
	if err := CheckText(structpb.NewStringValue("fine")); err != nil {
		t.Errorf("CheckText of clean text = %v", err)
	}
}

func TestBadText(t *testing.T) {
	tests := []struct {
		s      string
		long   bool
		offset int
	}{
		{"plain", false, -1},
		{"é 東京 €", false, -1},
		{"tab\there", false, 3},
		{"tab\there", true, -1},
		{"line\nbreak", false, 4},
		{"line\nbreak", true, -1},
		{"crlf\r\nok", true, -1},
		{"lone\rcr", true, 4},
		{"end\r", true, 3},
		{"\x00", true, 0},
		{"bell\a", true, 4},
		{"del\x7f", true, 3},
		{"c1\u0080", true, 2},
		{"c1\u009f", true, 2},
		{"not c1\u00a0", true, -1}, // no-break space is a letter of text, not a control
		{"\ufffd", false, -1},      // the replacement character itself is text
		{"bad \xff", true, 4},
		{"cut é\xc3", false, 6},    // a sequence cut short
		{"over\xc0\xaf", false, 4}, // an overlong encoding of "/"
		{"surrogate\xed\xa0\x80", false, 9},
		{"東\x80京", false, 3}, // a continuation byte alone
	}
	for _, tt := range tests {
		got, r := badText(tt.s, tt.long)
		if got != tt.offset {
			t.Errorf("badText(%q, long=%v) = %d; want %d", tt.s, tt.long, got, tt.offset)
		}
		if invalid := got >= 0 && !utf8.ValidString(tt.s[got:]); invalid != (r == invalidUTF8) {
			t.Errorf("badText(%q) = rune %d; want invalidUTF8 exactly when the byte is not UTF-8", tt.s, r)
		}
	}
}

func TestIsLongText(t *testing.T) {
	for name, want := range map[string]bool{
		"description": true, "justification": true, "treatment_plan": true, "decision_rationale": true,
		"reason": true, "comment": true, "text": true, "notes": true,
		"display_name": false, "title": false, "name": false, "code": false, "filter": false,
		"context": false, "planet": false,
	} {
		if got := IsLongText(protoreflect.Name(name)); got != want {
			t.Errorf("IsLongText(%s) = %v; want %v", name, got, want)
		}
	}
}

// TestWellKnownRanges: a Timestamp or Duration outside its type's range, at any depth, is a
// violation naming it; one in range, at the bounds, is not.
func TestWellKnownRanges(t *testing.T) {
	msg := &operationsv1.ListDeadLettersResponse{DeadLetters: []*operationsv1.DeadLetter{
		{CreateTime: &timestamppb.Timestamp{Seconds: -62135596800}},                     // 0001-01-01: in range
		{CreateTime: &timestamppb.Timestamp{Seconds: 253402300799, Nanos: 999999999}},   // 9999-12-31: in range
		{CreateTime: &timestamppb.Timestamp{Seconds: -62135596801}},                     // before year 1
		{CreateTime: &timestamppb.Timestamp{Seconds: 253402300800}},                     // year 10000
		{CreateTime: &timestamppb.Timestamp{Seconds: 1700000000, Nanos: -1}},            // nanos below 0
		{ReplayTime: &timestamppb.Timestamp{Seconds: 1700000000, Nanos: 1_000_000_000}}, // a second of nanos
	}}
	var vs []fault.Violation
	walkText(msg.ProtoReflect(), "", &vs)
	var got []string
	for _, v := range vs {
		got = append(got, v.Field+":"+v.Reason)
	}
	want := []string{
		"dead_letters[2].create_time:" + ReasonTimestampOutOfRange,
		"dead_letters[3].create_time:" + ReasonTimestampOutOfRange,
		"dead_letters[4].create_time:" + ReasonTimestampOutOfRange,
		"dead_letters[5].replay_time:" + ReasonTimestampOutOfRange,
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations %q; want %q", got, want)
	}

	for d, bad := range map[*durationpb.Duration]bool{
		{Seconds: 315576000000, Nanos: 999999999}: false,
		{Seconds: -315576000000}:                  false,
		{Seconds: 315576000001}:                   true,
		{Seconds: 1, Nanos: -1}:                   true, // nanos of the other sign
		{Seconds: 0, Nanos: -999999999}:           false,
	} {
		var vs []fault.Violation
		checkWellKnown(d.ProtoReflect(), "d", &vs)
		if (len(vs) == 1 && vs[0].Reason == ReasonDurationOutOfRange) != bad || len(vs) > 1 {
			t.Errorf("duration %v: violations %v; want out of range = %v", d, vs, bad)
		}
	}
}
