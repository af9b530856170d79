package rpc

import (
	"errors"
	"strings"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// codec is the services' gRPC codec: protobuf's, except that a request whose string fields hold
// bytes that are not UTF-8 is decoded all the same (UnmarshalKeepingText), so that the text rule
// refuses it in the interceptors — INVALID_ARGUMENT, INVALID_UTF8 on the field, as over REST. A
// codec's failure is gRPC's INTERNAL, answered before any interceptor runs; protobuf refuses such
// a string (proto3's rule), but some clients' libraries send one.
type codec struct{ encoding.CodecV2 }

// newCodec returns the codec over gRPC's protobuf codec.
func newCodec() codec { return codec{encoding.GetCodecV2("proto")} }

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	m, ok := v.(proto.Message)
	if err == nil || !ok || !isInvalidUTF8(err) {
		return err
	}
	return keepText(data.Materialize(), m, err)
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
