package procstat

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// TestCPU: the test process's CPU time grows with the work it does, and a process that
// does not exist is an error.
func TestCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CPU reads /proc, which only Linux has")
	}
	before, err := CPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	// Spin for 200 ms of wall time: at least 100 ms of CPU even on a busy machine's share.
	x := 0
	for start := time.Now(); time.Since(start) < 200*time.Millisecond; {
		x++
	}
	after, err := CPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after-before < clockTick {
		t.Errorf("CPU time %v, then %v after %d loops; want it to grow", before, after, x)
	}
	if _, err := CPU(-1); err == nil {
		t.Error("CPU(-1) = nil error; want one")
	}
}
