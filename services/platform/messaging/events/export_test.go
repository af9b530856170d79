package events

import "time"

// SetEnsureAttemptTimeout sets how long one attempt of EnsureStream waits, for a test, and
// returns the function that restores it.
func SetEnsureAttemptTimeout(d time.Duration) (restore func()) {
	old := ensureAttemptTimeout
	ensureAttemptTimeout = d
	return func() { ensureAttemptTimeout = old }
}
