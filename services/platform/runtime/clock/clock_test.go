package clock_test

import (
	"slices"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
)

var t0 = time.Date(2027, 3, 1, 9, 0, 0, 0, time.UTC)

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

func TestFake(t *testing.T) {
	t.Parallel()
	f := clock.NewFake(t0)
	if !f.Now().Equal(t0) {
		t.Fatalf("Now = %v, want %v", f.Now(), t0)
	}
	past, _ := f.At(t0)
	if !closed(past) {
		t.Error("a wait for the present did not end at once")
	}
	hour, _ := f.At(t0.Add(time.Hour))
	day, _ := f.At(t0.Add(24 * time.Hour))
	given, release := f.At(t0.Add(time.Minute))
	release()
	if want := []time.Time{t0.Add(time.Hour), t0.Add(24 * time.Hour)}; !slices.Equal(f.Waits(), want) {
		t.Errorf("Waits = %v, want %v", f.Waits(), want)
	}

	if got := f.Advance(59 * time.Minute); !got.Equal(t0.Add(59 * time.Minute)) {
		t.Errorf("Advance = %v", got)
	}
	if closed(hour) || closed(day) || closed(given) {
		t.Error("a wait ended before its time")
	}
	f.Advance(time.Minute)
	if !closed(hour) || closed(day) {
		t.Error("Advance to the hour: want the hour's wait ended, not the day's")
	}
	f.Set(t0.Add(48 * time.Hour))
	if !closed(day) || len(f.Waits()) != 0 {
		t.Errorf("Set past every wait: day ended %v, waits left %v", closed(day), f.Waits())
	}
	if closed(given) {
		t.Error("a released wait ended")
	}
}

func TestReal(t *testing.T) {
	t.Parallel()
	c := clock.Real()
	if d := time.Since(c.Now()); d < 0 || d > time.Second {
		t.Errorf("Now is %v off", d)
	}
	past, _ := c.At(time.Now().Add(-time.Second))
	if !closed(past) {
		t.Error("a wait for the past did not end at once")
	}
	soon, _ := c.At(time.Now().Add(20 * time.Millisecond))
	select {
	case <-soon:
	case <-time.After(10 * time.Second):
		t.Fatal("a wait of 20 ms did not end")
	}
	never, release := c.At(time.Now().Add(time.Hour))
	release()
	if closed(never) {
		t.Error("a released wait ended")
	}
}
