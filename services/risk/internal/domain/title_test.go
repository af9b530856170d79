package domain

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

func TestSourceTitle(t *testing.T) {
	t.Parallel()
	if got := SourceTitle("Third-party risk: ", "Contoso"); got != "Third-party risk: Contoso" {
		t.Errorf("short name: %q", got)
	}
	// A name of 200 characters, each of two bytes: the title is cut to 200 characters, not bytes.
	got := SourceTitle("Key-person risk: ", strings.Repeat("é", 200))
	if n := utf8.RuneCountInString(got); n != maxTitle || !strings.HasSuffix(got, "…") || !strings.HasPrefix(got, "Key-person risk: éé") {
		t.Errorf("long name: %d characters, %q", n, got)
	}
	var vs fault.Violations
	vs.RequireText(RiskFieldTitle, got, maxTitle)
	if err := vs.Err(); err != nil {
		t.Errorf("the cut title is refused: %v", err)
	}
	// Exactly a title's length: nothing cut.
	name := strings.Repeat("x", maxTitle-len("Key-person risk: "))
	if got := SourceTitle("Key-person risk: ", name); got != "Key-person risk: "+name {
		t.Errorf("a title of exactly %d characters was changed: %q", maxTitle, got)
	}
}
