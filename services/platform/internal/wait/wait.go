// Package wait holds the waits and signals of the platform's background loops (the outbox relay,
// the audit sealer, the scheduler, the consumers): a timed wait cut short by a stop, whether a
// stop was asked for, and a wake-up that never blocks.
package wait

import (
	"context"
	"time"
)

// For waits for d. A receive from cut (a closed channel included) ends the wait early, as a
// shutdown's drain request does; it returns false only when ctx ends first. A d of zero or less
// returns at once.
func For(ctx context.Context, d time.Duration, cut <-chan struct{}) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-cut:
	}
	return true
}

// Closed reports whether c is closed (or has a value ready), without waiting: whether a stop or a
// drain was asked for.
func Closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// Wake sends on c if that does not block: a wake-up for a loop whose buffer of one already holds
// one is not lost, it is the same wake-up.
func Wake(c chan<- struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
