package etag_test

import (
	"errors"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/api/etag"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

func TestOfIsStable(t *testing.T) {
	a, b := etag.Of("costCenters/a", 3), etag.Of("costCenters/a", 3)
	if a != b {
		t.Fatalf("Of gave %q then %q for the same resource and version", a, b)
	}
	if a == "" {
		t.Fatal("Of returned an empty etag, which Check treats as no etag at all")
	}
}

// ref is a resource at a version.
type ref struct {
	name    string
	version int64
}

func TestOfDiffers(t *testing.T) {
	for _, tt := range []struct {
		why  string
		a, b ref
	}{
		{"by version", ref{"costCenters/a", 1}, ref{"costCenters/a", 2}},
		{"by name", ref{"costCenters/a", 1}, ref{"costCenters/b", 1}},
		{"negative version", ref{"costCenters/a", 1}, ref{"costCenters/a", -1}},
		// The separator keeps a name ending in digits from colliding with a longer version.
		{"name and version boundary", ref{"costCenters/a1", 2}, ref{"costCenters/a", 12}},
		{"empty name", ref{"", 1}, ref{"costCenters/a", 1}},
	} {
		t.Run(tt.why, func(t *testing.T) {
			if a, b := etag.Of(tt.a.name, tt.a.version), etag.Of(tt.b.name, tt.b.version); a == b {
				t.Fatalf("Of(%q, %d) = Of(%q, %d) = %q, want different etags", tt.a.name, tt.a.version, tt.b.name, tt.b.version, a)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	const name = "costCenters/a"
	tests := []struct {
		name     string
		given    string
		wantFail bool
	}{
		{name: "no etag given", given: ""},
		{name: "current etag", given: etag.Of(name, 7)},
		{name: "stale etag", given: etag.Of(name, 6), wantFail: true},
		{name: "etag of another resource", given: etag.Of("costCenters/b", 7), wantFail: true},
		{name: "garbage", given: "not-an-etag", wantFail: true},
		{name: "quoted etag", given: `"` + etag.Of(name, 7) + `"`, wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := etag.Check(tt.given, name, 7)
			if !tt.wantFail {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tt.given, err)
				}
				return
			}
			if !errors.Is(err, etag.ErrMismatch) {
				t.Fatalf("Check(%q) = %v, want an error matching ErrMismatch", tt.given, err)
			}
			fe := fault.As(err)
			if fe == nil || fe.Kind != fault.Aborted || fe.Reason != "ETAG_MISMATCH" {
				t.Fatalf("Check(%q) = %#v, want an ABORTED fault with reason ETAG_MISMATCH", tt.given, err)
			}
			if got := fe.Metadata["resource"]; got != name {
				t.Fatalf("metadata resource = %q, want %q", got, name)
			}
		})
	}
	if etag.ErrMismatch.Metadata != nil {
		t.Fatalf("Check mutated the ErrMismatch sentinel: metadata %v", etag.ErrMismatch.Metadata)
	}
}
