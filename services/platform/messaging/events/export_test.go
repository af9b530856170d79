package events

import "time"

// SetEnsureAttemptTimeout sets how long one attempt of EnsureStream waits, for a test, and
// returns the function that restores it.
func SetEnsureAttemptTimeout(d time.Duration) (restore func()) {
	old := ensureAttemptTimeout
	ensureAttemptTimeout = d
	return func() { ensureAttemptTimeout = old }
}

// SetStoreFailureWait sets the wait of EnsureStream before it asks again for a stream whose store
// the server failed to create, for a test, and returns the function that restores it.
func SetStoreFailureWait(f func(n int) time.Duration) (restore func()) {
	old := storeFailureWait
	storeFailureWait = f
	return func() { storeFailureWait = old }
}
