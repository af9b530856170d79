package catalogue

import (
	"slices"
	"testing"
)

// TestCatalogue checks every shipped framework: it decodes, has a title and requirements, and
// no identifier is blank or given twice.
func TestCatalogue(t *testing.T) {
	want := []string{"gdpr", "iso27001-2022", "nist-csf-2", "soc2-2017"}
	if got := IDs(); !slices.Equal(got, want) {
		t.Fatalf("IDs() = %v, want %v", got, want)
	}
	for _, id := range want {
		f, ok, err := Lookup(id)
		if err != nil || !ok {
			t.Fatalf("Lookup(%q) = %v, %v", id, ok, err)
		}
		if f.Title == "" || f.Publisher == "" || len(f.Requirements) == 0 {
			t.Errorf("%s: title %q, publisher %q, %d requirements", id, f.Title, f.Publisher, len(f.Requirements))
		}
		seen := map[string]bool{}
		for _, r := range f.Requirements {
			if r[0] == "" || r[1] == "" || seen[r[0]] {
				t.Errorf("%s: requirement %q is blank or repeated", id, r)
			}
			seen[r[0]] = true
		}
	}
	if _, ok, err := Lookup("iso9001"); ok || err != nil {
		t.Errorf("Lookup of a framework not shipped = %v, %v", ok, err)
	}
}
