package names_test

import (
	"regexp"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/api/names"
)

func TestNewID(t *testing.T) {
	t.Parallel()
	// A resource ID as the APIs accept it: lower-case letters, digits and '-', 1 to 63.
	valid := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	prev := ""
	for range 100 {
		id := names.NewID()
		if !valid.MatchString(id) {
			t.Fatalf("NewID() = %q; not a valid resource ID", id)
		}
		if id <= prev {
			t.Fatalf("NewID() = %q after %q; want increasing IDs", id, prev)
		}
		prev = id
	}
}
