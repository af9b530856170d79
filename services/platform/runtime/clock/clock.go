// Package clock is the time a service reads and waits for. The binaries run on the real clock;
// tests run on a Fake that they set and advance, so that a test sees a date arrive — a contract's
// notice window opening, a certification expiring — without waiting for it.
//
// Everything that asks "what time is it?" or "wake me at t" for a business reason takes a Clock:
// the scheduler's worker, and a service's own code that needs today's date. Timeouts, backoff and
// polling are not business time and stay on the time package.
package clock

import (
	"slices"
	"sync"
	"time"
)

// Clock tells the time and wakes its callers when a time arrives.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// At returns a channel that is closed once the clock reads t or later (at once when it does
	// already), and a function that ends the wait early and releases what it holds. Call the
	// function when giving up on the wait; calling it after the channel closed is harmless.
	At(t time.Time) (<-chan struct{}, func())
}

// Real returns the system clock.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) At(t time.Time) (<-chan struct{}, func()) {
	c := make(chan struct{})
	d := time.Until(t)
	if d <= 0 {
		close(c)
		return c, func() {}
	}
	timer := time.AfterFunc(d, func() { close(c) })
	return c, func() { timer.Stop() }
}

// Fake is a clock that stands still until a test sets or advances it. Moving it closes the
// channels of the waits whose time it reached, so that a worker asleep until a due time wakes
// when the test moves the clock past it, and not before. It is safe for concurrent use.
type Fake struct {
	mu    sync.Mutex
	now   time.Time
	waits map[*fakeWait]struct{}
}

type fakeWait struct {
	at time.Time
	c  chan struct{}
}

// NewFake returns a fake clock that reads now.
func NewFake(now time.Time) *Fake {
	return &Fake{now: now, waits: map[*fakeWait]struct{}{}}
}

// Now returns the time the clock was last set to.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// At returns a channel closed once the clock is moved to t or later.
func (f *Fake) At(t time.Time) (<-chan struct{}, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := make(chan struct{})
	if !t.After(f.now) {
		close(c)
		return c, func() {}
	}
	w := &fakeWait{at: t, c: c}
	f.waits[w] = struct{}{}
	return c, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		delete(f.waits, w)
	}
}

// Set moves the clock to t, forwards or backwards, and wakes the waits whose time has come.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.set(t)
}

// Advance moves the clock forward by d, wakes the waits whose time has come and returns the new
// time.
func (f *Fake) Advance(d time.Duration) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.set(f.now.Add(d))
	return f.now
}

func (f *Fake) set(t time.Time) {
	f.now = t
	for w := range f.waits {
		if !w.at.After(t) {
			close(w.c)
			delete(f.waits, w)
		}
	}
}

// Waits returns the times that callers of At are waiting for, earliest first. A test reads it to
// know that a worker has looked at its work and gone to sleep until a given time, before it
// checks that nothing happened early.
func (f *Fake) Waits() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]time.Time, 0, len(f.waits))
	for w := range f.waits {
		out = append(out, w.at)
	}
	slices.SortFunc(out, time.Time.Compare)
	return out
}
