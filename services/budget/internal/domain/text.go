package domain

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// requireText adds REQUIRED to vs when text is empty and TOO_LONG when it has more than max
// characters. Descriptions name the field by its own name ("display_name is required"), as the
// API's other violations do.
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

// requireDate adds REQUIRED to vs when d is missing and DATE_INVALID's reason when it is no
// calendar date, naming field by its own name ("booking_date is required").
func requireDate(vs *fault.Violations, field string, d Date) {
	switch {
	case d.IsZero():
		vs.Add(field, "REQUIRED", ownName(field)+" is required")
	case !d.Valid():
		vs.Add(field, ErrDateInvalid.Reason, ownName(field)+" is not a valid date")
	}
}

// ownName is the last element of a field path: "display_name" of "budget.display_name".
func ownName(field string) string { return field[strings.LastIndex(field, ".")+1:] }

// checkRejection requires the reason of a rejection, at most 2000 characters without the
// surrounding spaces.
func checkRejection(reason string) error {
	var vs fault.Violations
	reason = strings.TrimSpace(reason)
	if reason == "" {
		vs.Add("reason", "REQUIRED", "a rejection needs a reason")
	}
	limitText(&vs, "reason", reason, maxDescription)
	return vs.Err()
}
