package testkit

import (
	"errors"
	"sync"
	"testing"
)

// Concurrently calls call(0) … call(n-1), each on a goroutine of its own, all at once, and fails
// the test with their errors once every call has returned: for tests of what many callers doing
// the same thing at the same time leave behind.
func Concurrently(t testing.TB, n int, call func(i int) error) {
	t.Helper()
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = call(i) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}
