// Package pagetoken implements opaque keyset page tokens (AIP-158). A token carries the sort key
// of the last item of a page and a checksum of the request that produced it, so that a token
// used with a different filter or ordering is rejected instead of silently skipping items.
package pagetoken

import (
	"encoding/base64"
	"encoding/json"
	"hash/crc32"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Page size limits shared by every list method.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// Size returns the effective page size for a requested one: the default for 0, at most
// MaxPageSize. Negative sizes are rejected by the request's validation rules before this point.
func Size(requested int32) int {
	switch {
	case requested <= 0:
		return DefaultPageSize
	case requested > MaxPageSize:
		return MaxPageSize
	}
	return int(requested)
}

// ErrInvalid is returned for a token that was not issued for this request.
var ErrInvalid = fault.New(fault.InvalidArgument, "PAGE_TOKEN_INVALID", "the page token is invalid or belongs to a different request")

type token struct {
	Key      []string `json:"k"`
	Checksum uint32   `json:"c"`
}

// Checksum fingerprints a list request without its page_token and page_size fields, which may
// change from page to page.
func Checksum(req proto.Message) uint32 {
	c := proto.Clone(req)
	m := c.ProtoReflect()
	fields := m.Descriptor().Fields()
	for _, name := range []protoreflect.Name{"page_token", "page_size"} {
		if fd := fields.ByName(name); fd != nil {
			m.Clear(fd)
		}
	}
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	return crc32.ChecksumIEEE(b)
}

// Encode returns the token for the page that starts after key.
func Encode(checksum uint32, key ...string) string {
	b, _ := json.Marshal(token{Key: key, Checksum: checksum})
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode returns the key carried by tok, or nil for an empty token (the first page). A token that
// does not parse or was issued for another request yields ErrInvalid with a field violation on
// page_token.
func Decode(tok string, checksum uint32, keyLen int) ([]string, error) {
	if tok == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(tok)
	var t token
	if err == nil {
		err = json.Unmarshal(b, &t)
	}
	if err != nil || t.Checksum != checksum || len(t.Key) != keyLen {
		return nil, Invalid()
	}
	return t.Key, nil
}

// Invalid returns ErrInvalid with a field violation on page_token, for a token that decoded but
// whose key does not fit the request.
func Invalid() error {
	e := *ErrInvalid
	e.Violations = []fault.Violation{{Field: "page_token", Reason: "PAGE_TOKEN_INVALID",
		Description: "use the next_page_token of a previous call with the same parameters"}}
	return &e
}
