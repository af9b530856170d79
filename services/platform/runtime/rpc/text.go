package rpc

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// The violation reasons of the text rule (walkText).
const (
	// ReasonControlCharacter is the reason of a string field that holds a control character.
	ReasonControlCharacter = "CONTROL_CHARACTER"
	// ReasonInvalidUTF8 is the reason of a string field that holds bytes that are not UTF-8.
	ReasonInvalidUTF8 = "INVALID_UTF8"
)

// longTextSuffixes name the fields that hold free text of several lines: a field whose name is
// one of them, or ends with "_" and one of them (decision_rationale, treatment_plan), may hold
// tabs and line breaks. Every other string — names, codes, titles, display names, tokens,
// filters — is one line.
var longTextSuffixes = []string{"description", "justification", "rationale", "reason", "comment", "notes", "plan", "text"}

// IsLongText reports whether a string field named name may hold tabs and line breaks.
func IsLongText(name protoreflect.Name) bool {
	for _, s := range longTextSuffixes {
		if string(name) == s || strings.HasSuffix(string(name), "_"+s) {
			return true
		}
	}
	return false
}

// CheckText applies the platform's text rule (walkText) to msg: nil, or INVALID_ARGUMENT with a
// violation per string field that breaks it. Services apply it to every request (validate); the
// gateway, to a request gRPC could not encode, since a string that is not UTF-8 never reaches
// a service (gRPC refuses to encode it, as protobuf's rule for proto3 strings wants).
func CheckText(msg proto.Message) error {
	var vs []fault.Violation
	walkText(msg.ProtoReflect(), "", &vs)
	return fault.Invalid(vs...)
}

// walkText is the platform's text rule, which every service gets from its interceptors: it appends
// a violation for each string field of m (at path prefix) that holds a control character or bytes
// that are not UTF-8, at any depth — nested messages, repeated fields, map keys and values. Control
// characters are C0 (U+0000–U+001F), DEL and C1 (U+0080–U+009F); long texts (IsLongText) may hold
// tabs and line feeds, and a carriage return only as part of a CRLF line break. A NUL is refused by
// PostgreSQL's text type (a 500 before this rule) and stored by SQLite; the others end up in logs,
// CSV exports, terminals and other systems' parsers, where they do harm. The violation names the
// field and the character's position, never the value. On its way it checks the range of every
// google.protobuf.Timestamp and Duration (checkWellKnown).
//
// Fields are walked in their declaration order, not in protobuf's Range order, which protobuf
// varies from one binary to another on purpose: the violations come in the same order from every
// build.
func walkText(m protoreflect.Message, prefix string, vs *[]fault.Violation) {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		path := prefix + string(fd.Name())
		long := IsLongText(fd.Name())
		switch {
		case fd.IsMap():
			kd, vd := fd.MapKey(), fd.MapValue()
			// In the keys' order, not protobuf's, which varies: the same violations, in the same
			// order, from every build.
			mp := v.Map()
			keys := make([]protoreflect.MapKey, 0, mp.Len())
			mp.Range(func(k protoreflect.MapKey, _ protoreflect.Value) bool {
				keys = append(keys, k)
				return true
			})
			slices.SortFunc(keys, compareMapKeys)
			for _, k := range keys {
				key := k.Value()
				var keyPath string
				if kd.Kind() == protoreflect.StringKind {
					keyPath = path + "[" + strconv.Quote(key.String()) + "]"
					if i, r := badText(key.String(), false); i >= 0 {
						// The key itself is the offender: name the map, not a key that is
						// unreadable in a path.
						*vs = append(*vs, violation(path, i, r))
						continue
					}
				} else {
					keyPath = path + "[" + key.String() + "]"
				}
				checkValue(vd, mp.Get(k), keyPath, long, vs)
			}
		case fd.IsList():
			l := v.List()
			for j := range l.Len() {
				checkValue(fd, l.Get(j), path+"["+strconv.Itoa(j)+"]", long, vs)
			}
		default:
			checkValue(fd, v, path, long, vs)
		}
	}
}

// compareMapKeys orders the keys of one map: false before true, numbers ascending, strings by
// their bytes.
func compareMapKeys(a, b protoreflect.MapKey) int {
	switch a.Interface().(type) {
	case bool:
		return cmp.Compare(boolRank(a.Bool()), boolRank(b.Bool()))
	case int32, int64:
		return cmp.Compare(a.Int(), b.Int())
	case uint32, uint64:
		return cmp.Compare(a.Uint(), b.Uint())
	default:
		return strings.Compare(a.String(), b.String())
	}
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func checkValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string, long bool, vs *[]fault.Violation) {
	switch fd.Kind() {
	case protoreflect.StringKind:
		if i, r := badText(v.String(), long); i >= 0 {
			*vs = append(*vs, violation(path, i, r))
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		checkWellKnown(v.Message(), path, vs)
		walkText(v.Message(), path+".", vs)
	}
}

// violation is the violation of the bad character r at byte i of the string at path: a control
// character, or invalidUTF8.
func violation(path string, i int, r rune) fault.Violation {
	if r == invalidUTF8 {
		return fault.Violation{Field: path, Reason: ReasonInvalidUTF8,
			Description: fmt.Sprintf("byte %d is not UTF-8; text must be UTF-8 (a path segment or a query parameter percent-encodes its UTF-8 bytes)", i)}
	}
	return fault.Violation{Field: path, Reason: ReasonControlCharacter,
		Description: fmt.Sprintf("control character %U at byte %d; text may not hold control characters (long texts may hold tabs and line breaks)", r, i)}
}

// invalidUTF8 is what badText returns for a byte that is not UTF-8: no rune (it is negative),
// so that it differs from a well-formed U+FFFD.
const invalidUTF8 rune = -1

// badText returns the byte offset and the rune of the first character of s that is not allowed
// — a control character, or a byte that is not UTF-8 (as invalidUTF8) — or -1. In a long
// text, tab, line feed and a carriage return followed by a line feed are allowed.
func badText(s string, long bool) (int, rune) {
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case b < 0x20:
			if long && (b == '\t' || b == '\n' || (b == '\r' && i+1 < len(s) && s[i+1] == '\n')) {
				continue
			}
			return i, rune(b)
		case b == 0x7f:
			return i, rune(b)
		case b >= utf8.RuneSelf:
			r, size := utf8.DecodeRuneInString(s[i:])
			switch {
			case r == utf8.RuneError && size == 1:
				return i, invalidUTF8
			case r >= 0x80 && r <= 0x9f: // C1
				return i, r
			}
			i += size - 1
		}
	}
	return -1, 0
}
