package domain

import "slices"

// changedFields returns the fields of paths for which differs is true, each once, in the order
// of all.
func changedFields(paths, all []string, differs func(field string) bool) []string {
	var out []string
	for _, f := range all {
		if slices.Contains(paths, f) && differs(f) {
			out = append(out, f)
		}
	}
	return out
}
