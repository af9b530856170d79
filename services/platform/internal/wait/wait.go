// Package wait holds the timed wait of the platform's background loops (the outbox relay, the
// audit sealer).
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
