package server

import (
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"
)

// Conversions between the API's messages and the domain's values that every resource of the
// service needs and the kit does not have. Dates convert with the kit's civil.ToProto and
// civil.FromProtoField, money with money.ToProto and money.FromProtoField (both name the field of
// a bad value in the error). Each resource's own conversions live in its file (vendorToProto in
// vendors.go, …).

// timePB is t as a timestamp; nil for the zero time (unset), such as a time that is yet to come.
func timePB(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}
