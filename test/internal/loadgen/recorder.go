package loadgen

import (
	"fmt"
	"sync"
	"time"
)

// Window arrival states.
const (
	pending  uint8 = iota // not yet arrived
	refused               // arrived with MaxInFlight requests in flight; not sent
	inFlight              // sent, not yet returned
	returned              // returned and recorded
)

// recorder collects the outcome of every window arrival. All of its memory is allocated up front
// so recording does not allocate while the load runs.
type recorder struct {
	mu        sync.Mutex
	closed    bool
	scheduled func(j int) time.Time
	state     []uint8
	latency   []time.Duration
	ok        int
	errors    int
	kinds     map[string]int
	first     string
}

func newRecorder(n int, scheduled func(j int) time.Time) *recorder {
	return &recorder{
		scheduled: scheduled,
		state:     make([]uint8, n),
		latency:   make([]time.Duration, 0, n),
		kinds:     map[string]int{},
	}
}

func (r *recorder) fail(kind, text string) {
	r.errors++
	r.kinds[kind]++
	if r.first == "" {
		r.first = text
	}
}

func (r *recorder) refuse(j, limit int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state[j] = refused
	r.fail("overload", fmt.Sprintf("overload: %d requests already in flight", limit))
}

func (r *recorder) send(j int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.state[j] = inFlight
}

// complete records request j, scheduled at due, returning at end with err. A request returning
// after close was already counted as a timeout and is dropped.
func (r *recorder) complete(j int, due, end time.Time, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.state[j] != inFlight {
		return
	}
	r.state[j] = returned
	r.latency = append(r.latency, end.Sub(due))
	if err == nil {
		r.ok++
		return
	}
	r.fail(Kind(err), err.Error())
}

// close stops recording at now, counts the requests still in flight as timeouts and summarises.
func (r *recorder) close(now time.Time, timeout time.Duration) Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	sent := 0
	for j, s := range r.state {
		if s == pending {
			continue
		}
		sent++
		if s == inFlight {
			r.latency = append(r.latency, now.Sub(r.scheduled(j)))
			r.fail("timeout", fmt.Sprintf("no return %v after a deadline of %v", drainGrace, timeout))
		}
	}
	s := Summarize(r.latency)
	kinds := make(map[string]int, len(r.kinds))
	for k, v := range r.kinds {
		kinds[k] = v
	}
	return Result{
		Sent:       sent,
		OK:         r.ok,
		Errors:     r.errors,
		ErrorKinds: kinds,
		P50:        s.P50,
		P90:        s.P90,
		P99:        s.P99,
		Max:        s.Max,
		Mean:       s.Mean,
		FirstError: r.first,
	}
}
