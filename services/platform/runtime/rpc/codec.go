package rpc

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// codec is the services' gRPC codec: protobuf's, except for the requests protobuf refuses. A
// codec's failure is gRPC's INTERNAL, answered before any interceptor runs, and a request that
// cannot be decoded is the client's fault, not the server's:
//   - a request whose string fields hold bytes that are not UTF-8 is decoded all the same
//     (UnmarshalKeepingText), so that the text rule refuses it in the interceptors —
//     INVALID_ARGUMENT, INVALID_UTF8 on the field, as over REST (protobuf refuses such a string,
//     proto3's rule, but some clients' libraries send one);
//   - a request that is not protobuf at all (truncated, a group never closed, a field number of 0) is
//     passed on empty and marked undecodable, and the interceptors answer INVALID_ARGUMENT with
//     protobuf's reason (refuseUndecodable) once the caller is known, as over REST for a body
//     that is not JSON.
type codec struct{ encoding.CodecV2 }

// newCodec returns the codec over gRPC's protobuf codec.
func newCodec() codec { return codec{encoding.GetCodecV2("proto")} }

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	m, ok := v.(proto.Message)
	if err == nil || !ok {
		return err
	}
	if isInvalidUTF8(err) {
		if err = keepText(data.Materialize(), m, err); err == nil {
			return nil
		}
	}
	proto.Reset(m)
	undecodable.mark(m, err)
	return nil
}

// undecodable holds the requests the codec could not decode, each emptied, until the interceptors
// refuse them: the codec knows neither the call nor its context, only the message it decodes into,
// which gRPC hands to the interceptors (unary) or returns from RecvMsg (streams) next.
var undecodable pendingRefusals

type pendingRefusals struct {
	n atomic.Int64 // the entries of m: a call reads m only when there is one
	m sync.Map     // proto.Message → error
}

func (p *pendingRefusals) mark(m proto.Message, err error) {
	p.m.Store(m, err)
	p.n.Add(1)
}

// refuseUndecodable returns the refusal of req when the codec could not decode it, and forgets
// it; nil for any other request.
func refuseUndecodable(req any) error {
	if undecodable.n.Load() == 0 || req == nil {
		return nil
	}
	v, ok := undecodable.m.LoadAndDelete(req)
	if !ok {
		return nil
	}
	undecodable.n.Add(-1)
	return fault.New(fault.InvalidArgument, fault.ReasonInvalid, Undecodable(v.(error)))
}

// Undecodable is the message of the refusal of a request that protobuf could not decode, err
// being protobuf's reason.
func Undecodable(err error) string {
	// protobuf puts a space or a no-break space after "proto:", at random per build.
	return "the request message cannot be decoded: " + strings.ReplaceAll(err.Error(), "\u00a0", " ")
}

// UnmarshalKeepingText decodes b into m as proto.Unmarshal does, except that the bytes of a string
// field that are not UTF-8 are kept instead of refused, for the text rule (CheckText) to name
// the field. It fails as proto.Unmarshal does on anything else: a message that is not protobuf,
// or bytes that are not UTF-8 where it cannot keep them (a map, a group).
func UnmarshalKeepingText(b []byte, m proto.Message) error {
	err := proto.Unmarshal(b, m)
	if err == nil || !isInvalidUTF8(err) {
		return err
	}
	return keepText(b, m, err)
}

// keepText decodes b into m keeping the bytes of its strings, once protobuf refused b for a
// string that is not UTF-8 (refused): nil, or refused when b cannot be decoded even so.
func keepText(b []byte, m proto.Message, refused error) error {
	proto.Reset(m)
	if mergeKeepingText(b, m.ProtoReflect()) != nil {
		proto.Reset(m)
		return refused
	}
	return nil
}

// isInvalidUTF8 reports whether err is protobuf's refusal of a string that is not UTF-8: its
// fast path's error says so with a method, its reflective path's only in words.
func isInvalidUTF8(err error) bool {
	var u interface{ InvalidUTF8() bool }
	if errors.As(err, &u) && u.InvalidUTF8() {
		return true
	}
	return strings.Contains(err.Error(), "invalid UTF-8")
}

// mergeKeepingText merges the fields of b into m one at a time: a string field, singular or
// repeated, is set from its bytes as they are; a message field is merged into recursively; every
// other field (scalars, bytes, maps, groups, unknown fields) is merged by protobuf itself, which
// is what decoding a message does field after field.
func mergeKeepingText(b []byte, m protoreflect.Message) error {
	fields := m.Descriptor().Fields()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		size := protowire.ConsumeFieldValue(num, typ, b[n:])
		if size < 0 {
			return protowire.ParseError(size)
		}
		field, value := b[:n+size], b[n:n+size]
		b = b[n+size:]
		fd := fields.ByNumber(num)
		if fd != nil && typ == protowire.BytesType && !fd.IsMap() && !fd.IsExtension() {
			v, _ := protowire.ConsumeBytes(value)
			switch fd.Kind() {
			case protoreflect.StringKind:
				s := protoreflect.ValueOfString(string(v))
				if fd.IsList() {
					m.Mutable(fd).List().Append(s)
				} else {
					m.Set(fd, s)
				}
				continue
			case protoreflect.MessageKind:
				if !fd.IsList() {
					if err := mergeKeepingText(v, m.Mutable(fd).Message()); err != nil {
						return err
					}
					continue
				}
				l := m.Mutable(fd).List()
				e := l.NewElement()
				if err := mergeKeepingText(v, e.Message()); err != nil {
					return err
				}
				l.Append(e)
				continue
			}
		}
		if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(field, m.Interface()); err != nil {
			return err
		}
	}
	return nil
}
