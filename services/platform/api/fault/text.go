package fault

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// RequireText adds REQUIRED when text is empty and TOO_LONG when it has more than max characters,
// naming the field by its own name ("title is required" for "risk.title").
func (vs *Violations) RequireText(field, text string, max int) {
	if text == "" {
		vs.Add(field, "REQUIRED", ownName(field)+" is required")
	}
	vs.LimitText(field, text, max)
}

// LimitText adds TOO_LONG when text has more than max characters.
func (vs *Violations) LimitText(field, text string, max int) {
	if utf8.RuneCountInString(text) > max {
		vs.Add(field, "TOO_LONG", fmt.Sprintf("%s is longer than %d characters", ownName(field), max))
	}
}

// ownName is the last element of a field path: "title" of "risk.title".
func ownName(field string) string { return field[strings.LastIndex(field, ".")+1:] }
