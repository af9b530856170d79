package rpc

import (
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// The violation reasons of a google.protobuf.Timestamp or Duration outside its type's range.
const (
	ReasonTimestampOutOfRange = "TIMESTAMP_OUT_OF_RANGE"
	ReasonDurationOutOfRange  = "DURATION_OUT_OF_RANGE"
)

// checkWellKnown appends a violation when m, the message at path, is a google.protobuf.Timestamp
// or Duration outside the range its type defines (a time from 0001-01-01 to 9999-12-31, nanos
// from 0 to 999,999,999; a duration of at most about 10,000 years, nanos of the seconds' sign).
// Protobuf's binary form, which a gRPC client sends, carries any numbers; its JSON form only
// those in range. A value out of range would be stored, or fail an invariant, and then fail where
// it is written as JSON — the event in the outbox, the REST answer: a 500, not the client's 400.
// REST requests cannot hold such values (the gateway's decoder refuses them), so this is the
// rule for gRPC clients.
func checkWellKnown(m protoreflect.Message, path string, vs *[]fault.Violation) {
	md := m.Descriptor()
	var seconds, nanos protoreflect.FieldDescriptor
	switch md.FullName() {
	case "google.protobuf.Timestamp", "google.protobuf.Duration":
		seconds, nanos = md.Fields().ByName("seconds"), md.Fields().ByName("nanos")
	default:
		return
	}
	s, n := m.Get(seconds).Int(), int32(m.Get(nanos).Int())
	if md.FullName() == "google.protobuf.Timestamp" {
		if (&timestamppb.Timestamp{Seconds: s, Nanos: n}).CheckValid() != nil {
			*vs = append(*vs, fault.Violation{Field: path, Reason: ReasonTimestampOutOfRange,
				Description: "must be a time from 0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999999999Z, with nanos from 0 to 999,999,999"})
		}
		return
	}
	if (&durationpb.Duration{Seconds: s, Nanos: n}).CheckValid() != nil {
		*vs = append(*vs, fault.Violation{Field: path, Reason: ReasonDurationOutOfRange,
			Description: "must be at most 315,576,000,000 seconds either way, with nanos of the seconds' sign and under a second"})
	}
}
