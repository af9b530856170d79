package audit

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"slices"

	"google.golang.org/protobuf/types/known/structpb"
)

// canonicalVersion opens every canonical encoding, so that a future encoding cannot collide
// with this one.
const canonicalVersion = "quarterdeck-audit-v1"

// Canonical returns the bytes a record's hash covers. It is a length-prefixed binary encoding,
// unambiguous without escaping and independent of JSON formatting, so that anyone can recompute
// it from a record read through the API (docs/audit.md has the full definition):
//
//	str("quarterdeck-audit-v1")
//	int(sequence) str(previous_hash)
//	str(actor) str(method) str(resource) str(action) str(request_id) str(trace_id)
//	int(create_time in Unix microseconds)
//	int(number of changes), then per change in order: str(path) opt(before) opt(after)
//
// int is 8 bytes big-endian two's complement; str is int(byte length) then the UTF-8 bytes;
// opt is 0x00 for an absent value or 0x01 then the value; a value is 'N' (null), 'B' then
// 0x00/0x01 (bool), 'F' then the 8 bytes big-endian IEEE 754 binary64 (number), 'S' then str
// (string), 'L' then int(count) and the values (list), 'O' then int(count) and, by key in
// ascending byte order, str(key) and the value (struct).
func Canonical(r Record) []byte {
	var e encoder
	e.str(canonicalVersion)
	e.int(r.Sequence)
	e.str(r.PreviousHash)
	e.str(r.Actor)
	e.str(r.Method)
	e.str(r.Resource)
	e.str(r.Action)
	e.str(r.RequestID)
	e.str(r.TraceID)
	e.int(r.CreateTime.UnixMicro())
	e.int(int64(len(r.Changes)))
	for _, c := range r.Changes {
		e.str(c.Path)
		e.opt(c.Before)
		e.opt(c.After)
	}
	return e.b
}

// Hash returns the lowercase hex SHA-256 of Canonical(r).
func Hash(r Record) string {
	sum := sha256.Sum256(Canonical(r))
	return hex.EncodeToString(sum[:])
}

type encoder struct{ b []byte }

func (e *encoder) int(v int64) { e.b = binary.BigEndian.AppendUint64(e.b, uint64(v)) }

func (e *encoder) str(s string) {
	e.int(int64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) opt(v *structpb.Value) {
	if v == nil {
		e.b = append(e.b, 0)
		return
	}
	e.b = append(e.b, 1)
	e.value(v)
}

func (e *encoder) value(v *structpb.Value) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_BoolValue:
		e.b = append(e.b, 'B')
		if k.BoolValue {
			e.b = append(e.b, 1)
		} else {
			e.b = append(e.b, 0)
		}
	case *structpb.Value_NumberValue:
		e.b = append(e.b, 'F')
		e.b = binary.BigEndian.AppendUint64(e.b, math.Float64bits(k.NumberValue))
	case *structpb.Value_StringValue:
		e.b = append(e.b, 'S')
		e.str(k.StringValue)
	case *structpb.Value_ListValue:
		e.b = append(e.b, 'L')
		vs := k.ListValue.GetValues()
		e.int(int64(len(vs)))
		for _, x := range vs {
			e.value(x)
		}
	case *structpb.Value_StructValue:
		e.b = append(e.b, 'O')
		fields := k.StructValue.GetFields()
		keys := make([]string, 0, len(fields))
		for key := range fields {
			keys = append(keys, key)
		}
		slices.Sort(keys) // Go compares strings byte by byte
		e.int(int64(len(keys)))
		for _, key := range keys {
			e.str(key)
			e.value(fields[key])
		}
	default: // null, or a Value with no kind, which JSON can only express as null
		e.b = append(e.b, 'N')
	}
}
