package pagetoken_test

import (
	"encoding/base64"
	"errors"
	"slices"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/api/pagetoken"
)

func TestSize(t *testing.T) {
	tests := []struct {
		requested int32
		want      int
	}{
		{requested: 0, want: pagetoken.DefaultPageSize},
		{requested: -5, want: pagetoken.DefaultPageSize},
		{requested: 1, want: 1},
		{requested: 50, want: 50},
		{requested: 999, want: 999},
		{requested: 1000, want: 1000},
		{requested: 1001, want: pagetoken.MaxPageSize},
		{requested: 1 << 30, want: pagetoken.MaxPageSize},
	}
	for _, tt := range tests {
		if got := pagetoken.Size(tt.requested); got != tt.want {
			t.Errorf("Size(%d) = %d, want %d", tt.requested, got, tt.want)
		}
	}
	if pagetoken.DefaultPageSize != 50 || pagetoken.MaxPageSize != 1000 {
		t.Fatalf("page size limits = %d/%d, want 50/1000 as the API documents",
			pagetoken.DefaultPageSize, pagetoken.MaxPageSize)
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		key  []string
	}{
		{name: "one key", key: []string{"costCenters/a"}},
		{name: "two keys", key: []string{"2026-01-02T03:04:05Z", "costCenters/b"}},
		{name: "empty strings", key: []string{"", ""}},
		{name: "unicode and separators", key: []string{"Zürich, \"HQ\"", "a/b?c=d&e"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok := pagetoken.Encode(0xdeadbeef, tt.key...)
			if tok == "" {
				t.Fatal("Encode returned an empty token, which means the first page")
			}
			got, err := pagetoken.Decode(tok, 0xdeadbeef, len(tt.key))
			if err != nil {
				t.Fatalf("Decode(Encode(%q)) = %v", tt.key, err)
			}
			if !slices.Equal(got, tt.key) {
				t.Fatalf("Decode(Encode(%q)) = %q", tt.key, got)
			}
		})
	}
}

func TestDecodeEmptyIsFirstPage(t *testing.T) {
	got, err := pagetoken.Decode("", 123, 2)
	if err != nil || got != nil {
		t.Fatalf(`Decode("") = %q, %v; want nil, nil`, got, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	const sum = 42
	good := pagetoken.Encode(sum, "a", "b")
	tests := []struct {
		name   string
		tok    string
		sum    uint32
		keyLen int
	}{
		{name: "garbage", tok: "!!not a token!!", sum: sum, keyLen: 2},
		{name: "base64 of non-JSON", tok: base64.RawURLEncoding.EncodeToString([]byte("hello")), sum: sum, keyLen: 2},
		{name: "JSON of the wrong shape", tok: base64.RawURLEncoding.EncodeToString([]byte(`{"k":"a","c":42}`)), sum: sum, keyLen: 1},
		{name: "padded base64", tok: base64.URLEncoding.EncodeToString([]byte(`{"k":["a"],"c":42}`)) + "=", sum: sum, keyLen: 1},
		{name: "truncated", tok: good[:len(good)-3], sum: sum, keyLen: 2},
		{name: "wrong checksum", tok: good, sum: sum + 1, keyLen: 2},
		{name: "too few keys", tok: good, sum: sum, keyLen: 3},
		{name: "too many keys", tok: good, sum: sum, keyLen: 1},
		{name: "no keys", tok: pagetoken.Encode(sum), sum: sum, keyLen: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := pagetoken.Decode(tt.tok, tt.sum, tt.keyLen)
			if got != nil {
				t.Errorf("Decode returned key %q with an error", got)
			}
			assertInvalid(t, err)
		})
	}
	if pagetoken.ErrInvalid.Violations != nil {
		t.Fatalf("Decode mutated the ErrInvalid sentinel: %+v", pagetoken.ErrInvalid.Violations)
	}
}

// assertInvalid fails t unless err is ErrInvalid with a violation on page_token.
func assertInvalid(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, pagetoken.ErrInvalid) {
		t.Fatalf("error = %v, want one matching pagetoken.ErrInvalid", err)
	}
	fe := fault.As(err)
	if fe == nil || fe.Kind != fault.InvalidArgument {
		t.Fatalf("error = %#v, want an INVALID_ARGUMENT fault", err)
	}
	if !slices.ContainsFunc(fe.Violations, func(v fault.Violation) bool {
		return v.Field == "page_token" && v.Reason == "PAGE_TOKEN_INVALID"
	}) {
		t.Fatalf("violations = %+v, want one on page_token with reason PAGE_TOKEN_INVALID", fe.Violations)
	}
}

func TestChecksumIgnoresPaging(t *testing.T) {
	base := pagetoken.Checksum(&budgetv1.ListCostCentersRequest{})
	tests := []struct {
		name string
		req  *budgetv1.ListCostCentersRequest
	}{
		{name: "page size", req: &budgetv1.ListCostCentersRequest{PageSize: 10}},
		{name: "page token", req: &budgetv1.ListCostCentersRequest{PageToken: "abc"}},
		{name: "both", req: &budgetv1.ListCostCentersRequest{PageSize: 999, PageToken: "xyz"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := proto.Clone(tt.req)
			if got := pagetoken.Checksum(tt.req); got != base {
				t.Fatalf("Checksum(%v) = %d, want %d as for an empty request", tt.req, got, base)
			}
			if !proto.Equal(tt.req, before) {
				t.Fatalf("Checksum cleared fields of its argument: %v, want %v", tt.req, before)
			}
		})
	}
}

func TestChecksumChangesWithOtherFields(t *testing.T) {
	tests := []struct {
		name string
		a, b proto.Message
	}{
		{
			name: "name",
			a:    &budgetv1.GetCostCenterRequest{Name: "costCenters/a"},
			b:    &budgetv1.GetCostCenterRequest{Name: "costCenters/b"},
		},
		{
			name: "name set or not",
			a:    &budgetv1.GetCostCenterRequest{},
			b:    &budgetv1.GetCostCenterRequest{Name: "costCenters/a"},
		},
		{
			name: "nested field",
			a:    &budgetv1.UpdateCostCenterRequest{CostCenter: &budgetv1.CostCenter{DisplayName: "A"}},
			b:    &budgetv1.UpdateCostCenterRequest{CostCenter: &budgetv1.CostCenter{DisplayName: "B"}},
		},
		{
			name: "mask",
			a:    &budgetv1.UpdateCostCenterRequest{UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"code"}}},
			b:    &budgetv1.UpdateCostCenterRequest{UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"owner"}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if a, b := pagetoken.Checksum(tt.a), pagetoken.Checksum(tt.b); a == b {
				t.Fatalf("Checksum(%v) = Checksum(%v) = %d, want different checksums", tt.a, tt.b, a)
			}
			// And each is stable.
			if a1, a2 := pagetoken.Checksum(tt.a), pagetoken.Checksum(proto.Clone(tt.a)); a1 != a2 {
				t.Fatalf("Checksum(%v) = %d then %d", tt.a, a1, a2)
			}
		})
	}
}

func TestTokenOfOtherRequestIsRejected(t *testing.T) {
	a := &budgetv1.GetCostCenterRequest{Name: "costCenters/a"}
	b := &budgetv1.GetCostCenterRequest{Name: "costCenters/b"}
	tok := pagetoken.Encode(pagetoken.Checksum(a), "costCenters/x")
	if _, err := pagetoken.Decode(tok, pagetoken.Checksum(a), 1); err != nil {
		t.Fatalf("token rejected for the request that issued it: %v", err)
	}
	_, err := pagetoken.Decode(tok, pagetoken.Checksum(b), 1)
	assertInvalid(t, err)
}

func FuzzDecode(f *testing.F) {
	f.Add(pagetoken.Encode(7, "costCenters/a"), uint32(7), uint8(1))
	f.Add(pagetoken.Encode(7, "a", "b"), uint32(7), uint8(2))
	f.Add(pagetoken.Encode(7), uint32(7), uint8(0))
	f.Add(pagetoken.Encode(7, "a"), uint32(8), uint8(1))
	f.Add("", uint32(0), uint8(1))
	f.Add("!!", uint32(0), uint8(0))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"k":null,"c":0}`)), uint32(0), uint8(0))
	f.Add(base64.RawURLEncoding.EncodeToString([]byte(`{"k":[1,2],"c":0}`)), uint32(0), uint8(2))
	f.Fuzz(func(t *testing.T, tok string, sum uint32, keyLen uint8) {
		got, err := pagetoken.Decode(tok, sum, int(keyLen))
		switch {
		case err != nil:
			if got != nil {
				t.Fatalf("Decode(%q) returned key %q with error %v", tok, got, err)
			}
			if !errors.Is(err, pagetoken.ErrInvalid) {
				t.Fatalf("Decode(%q) = %v, want ErrInvalid", tok, err)
			}
		case tok == "":
			if got != nil {
				t.Fatalf(`Decode("") = %q, want nil`, got)
			}
		case len(got) != int(keyLen):
			t.Fatalf("Decode(%q, keyLen %d) returned %d keys: %q", tok, keyLen, len(got), got)
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	f.Add(uint32(0), "costCenters/a", "")
	f.Add(uint32(1<<31), "2026-01-01T00:00:00Z", "costCenters/b")
	f.Fuzz(func(t *testing.T, sum uint32, k1, k2 string) {
		// Keys are text: JSON replaces invalid UTF-8, so only valid keys must round-trip; other
		// inputs have nothing to check.
		if !utf8.ValidString(k1) || !utf8.ValidString(k2) {
			return
		}
		key := []string{k1, k2}
		got, err := pagetoken.Decode(pagetoken.Encode(sum, key...), sum, len(key))
		if err != nil || !slices.Equal(got, key) {
			t.Fatalf("Decode(Encode(%q)) = %q, %v", key, got, err)
		}
	})
}
