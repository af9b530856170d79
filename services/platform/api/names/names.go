// Package names parses and formats resource names against their AIP-122 patterns, in one call:
//
//	var lineName = names.Pattern("budgets/{budget}/lines/{line}")
//	var budgetID, lineID string
//	if !lineName.Scan(name, &budgetID, &lineID) { … }
//	lineName.Format(budgetID, lineID) // "budgets/b1/lines/l1"
//
// A pattern alternates collection identifiers and {variables}; a name matches when it has the same
// number of segments, the same collections, and a non-empty ID without "/" for each variable.
// Wildcards (AIP-159, "-") scan like any ID, as a List's parent needs; a name that must name one
// resource is scanned with ScanResource, which refuses them.
package names

import (
	"context"
	"slices"
	"strings"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
)

// Wildcard stands for every ID of a collection in a parent (AIP-159: budgets/-/lines/-).
const Wildcard = "-"

// Pattern is a resource name pattern such as "budgets/{budget}/lines/{line}".
type Pattern string

// Scan matches name against p and stores the IDs of p's variables, in order, in ids (fewer ids
// than variables leave the last ones unread; nil entries skip one). It reports whether name
// matches; on a mismatch it stores nothing.
func (p Pattern) Scan(name string, ids ...*string) bool {
	segs := strings.Split(string(p), "/")
	parts := strings.Split(name, "/")
	if len(parts) != len(segs) {
		return false
	}
	var vals []string
	for i, s := range segs {
		if isVariable(s) {
			if parts[i] == "" {
				return false
			}
			vals = append(vals, parts[i])
		} else if parts[i] != s {
			return false
		}
	}
	for i, id := range ids {
		if id != nil && i < len(vals) {
			*id = vals[i]
		}
	}
	return true
}

// ScanResource is Scan for a name that must name one resource: a wildcard ID does not match.
func (p Pattern) ScanResource(name string, ids ...*string) bool {
	// No collection is named "-", so any segment that is one is a wildcard ID.
	if slices.Contains(strings.Split(name, "/"), Wildcard) {
		return false
	}
	return p.Scan(name, ids...)
}

// Get reads the resource named name with get, given the ID of p's last variable (the only one of
// a top-level pattern such as "costCenters/{cost_center}"), and names it in a NotFound error
// (fault.Named). A name that does not match p reads the empty ID, which no resource has, so it
// is NotFound as well.
func Get[T any](ctx context.Context, p Pattern, name string, get func(context.Context, string) (T, error)) (T, error) {
	id, _ := p.Last(name)
	v, err := get(ctx, id)
	return v, fault.Named(err, name)
}

// GetAs is Get for a Get method: the resource read, converted by to (to its API message).
func GetAs[T, M any](ctx context.Context, p Pattern, name string, get func(context.Context, string) (T, error), to func(T) M) (M, error) {
	v, err := Get(ctx, p, name, get)
	if err != nil {
		var zero M
		return zero, err
	}
	return to(v), nil
}

// Match reports whether name matches p.
func (p Pattern) Match(name string) bool { return p.Scan(name) }

// Last returns the ID of p's last variable in name, and whether name matches p.
func (p Pattern) Last(name string) (string, bool) {
	if !p.Scan(name) {
		return "", false
	}
	segs, parts := strings.Split(string(p), "/"), strings.Split(name, "/")
	for i := len(segs) - 1; i >= 0; i-- {
		if isVariable(segs[i]) {
			return parts[i], true
		}
	}
	return "", false
}

// Format returns the name of p with ids in place of its variables, in order.
func (p Pattern) Format(ids ...string) string {
	segs := strings.Split(string(p), "/")
	var b strings.Builder
	n := 0
	for i, s := range segs {
		if i > 0 {
			b.WriteByte('/')
		}
		if isVariable(s) && n < len(ids) {
			b.WriteString(ids[n])
			n++
			continue
		}
		b.WriteString(s)
	}
	return b.String()
}

// Invalid returns the INVALID_ARGUMENT error of a field that does not hold a name of p:
// reason INVALID_NAME, "<name> must be <pattern>", where name is the last element of the field's
// path ("budget.name" → "name must be budgets/{budget}").
func (p Pattern) Invalid(field string) error {
	return fault.Invalid(p.Violation(field))
}

// Violation is the field violation of a field that does not hold a name of p.
func (p Pattern) Violation(field string) fault.Violation {
	short := field[strings.LastIndex(field, ".")+1:]
	return fault.Violation{Field: field, Reason: ReasonInvalid, Description: short + " must be " + string(p)}
}

// ReasonInvalid is the reason of a field that does not hold a name of the expected pattern.
const ReasonInvalid = "INVALID_NAME"

// Sscan matches name against pattern and stores the IDs of its variables in ids; see Pattern.Scan.
func Sscan(name, pattern string, ids ...*string) bool { return Pattern(pattern).Scan(name, ids...) }

// Format returns the name of pattern with ids in place of its variables; see Pattern.Format.
func Format(pattern string, ids ...string) string { return Pattern(pattern).Format(ids...) }

// HasWildcard reports whether any of ids is Wildcard.
func HasWildcard(ids ...string) bool {
	for _, id := range ids {
		if id == Wildcard {
			return true
		}
	}
	return false
}

func isVariable(seg string) bool { return len(seg) > 2 && seg[0] == '{' && seg[len(seg)-1] == '}' }
