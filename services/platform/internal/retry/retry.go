// Package retry holds what the platform's retrying workers share — the scheduler with its due
// items, the consumers with their events: the doubling backoff between attempts and the mark of
// an error that no retry can fix.
package retry

import (
	"errors"
	"time"
)

// Backoff returns the wait after failed attempt n (from 1): first doubled n-1 times, at most max.
func Backoff(first, max time.Duration, n int) time.Duration {
	d := first
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// permanent marks an error that no retry can fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent wraps err so that IsPermanent reports it; nil stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanent{err}
}

// IsPermanent reports whether err, or an error it wraps, was marked by Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}
