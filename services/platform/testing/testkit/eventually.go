package testkit

import (
	"errors"
	"testing"
	"time"
)

// pollInterval is how long Eventually waits between two checks of its condition.
const pollInterval = 10 * time.Millisecond

// Eventually checks cond every 10 ms until it holds — returns true, or a nil error — and fails
// the test when it still does not after timeout, with cond's last error. It is how a test waits
// for what happens in the background (a relay publishing, a sealer sealing, a consumer
// applying) without sleeping for a guessed time. cond runs on the test's goroutine, so it may
// call t.Fatal.
func Eventually[C func() bool | func() error](t testing.TB, timeout time.Duration, cond C) {
	t.Helper()
	check := func() error {
		switch c := any(cond).(type) {
		case func() bool:
			if !c() {
				return errNotYet
			}
		case func() error:
			return c()
		}
		return nil
	}
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", timeout, err)
		}
		<-tick.C
	}
}

var errNotYet = errors.New("the condition does not hold")
