package domain

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// requireText adds REQUIRED to vs when text is empty and TOO_LONG when it has more than max
// characters, naming the field by its own name ("display_name is required").
func requireText(vs *fault.Violations, field, text string, max int) {
	if text == "" {
		vs.Add(field, "REQUIRED", ownName(field)+" is required")
	}
	limitText(vs, field, text, max)
}

// limitText adds TOO_LONG to vs when text has more than max characters.
func limitText(vs *fault.Violations, field, text string, max int) {
	if utf8.RuneCountInString(text) > max {
		vs.Add(field, "TOO_LONG", fmt.Sprintf("%s is longer than %d characters", ownName(field), max))
	}
}

// ownName is the last element of a field path: "display_name" of "vendor.display_name".
func ownName(field string) string { return field[strings.LastIndex(field, ".")+1:] }
