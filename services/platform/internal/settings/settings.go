// Package settings fills the unset fields of a component's settings or options with their
// defaults, one line a field, so that a zero value means "the default" everywhere alike.
package settings

import (
	"cmp"
	"log/slog"
)

// Default sets *v to def when *v is unset: zero, or for numbers and durations negative.
func Default[T cmp.Ordered](v *T, def T) {
	var zero T
	if *v <= zero {
		*v = def
	}
}

// Logger sets *l to slog.Default() when it is nil.
func Logger(l **slog.Logger) {
	if *l == nil {
		*l = slog.Default()
	}
}
