// Package loadgen drives an operation at a fixed arrival rate (open loop) and summarises what came
// back: throughput, latency percentiles and errors by kind. Latency is measured from each request's
// scheduled arrival, not from when it was actually sent, so a stalled scheduler or a queue in front
// of the system shows up in the numbers instead of hiding them (no coordinated omission). Search
// finds the highest rate whose p99 stays under a limit with no errors.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Op is one request. It returns nil on success. It must return once its context is done.
type Op func(ctx context.Context) error

// Defaults applied to a zero Config field.
const (
	DefaultMaxInFlight = 10000
	DefaultTimeout     = 10 * time.Second
)

// maxArrivals bounds the preallocated latency sample (80 MB of durations).
const maxArrivals = 10_000_000

// drainGrace is how long after its deadline a request may take to return before the run stops
// waiting for it and counts it as a timeout.
const drainGrace = 200 * time.Millisecond

// Config is one fixed-rate run.
type Config struct {
	Rate        float64       // arrivals per second (> 0)
	Duration    time.Duration // measured window
	Warmup      time.Duration // arrivals before the window: run, not recorded (0: none)
	MaxInFlight int           // arrivals finding this many requests in flight are not sent and count as errors, kind "overload" (0: 10,000)
	Timeout     time.Duration // per-request context deadline (0: 10s); a deadline counts as error kind "timeout"

	// afterSchedule, when set, is called once every arrival has been scheduled, before the run waits
	// for the requests in flight. Tests use it to release blocked operations.
	afterSchedule func()
}

// Result is what one run measured over its window.
type Result struct {
	Rate       float64        // target rate
	Duration   time.Duration  // measured window (shorter when Interrupted)
	Sent       int            // arrivals in the window (sent or refused)
	OK         int            // requests that returned nil
	Errors     int            // failed requests plus refused arrivals
	ErrorKinds map[string]int // kind -> count (see Kind)
	Throughput float64        // successful requests per second of the window
	// Latency percentiles over successful AND failed requests of the window, each measured from its
	// scheduled arrival; refused arrivals were never sent and have no latency.
	P50, P90, P99, Max, Mean time.Duration

	FirstError  string // text of the first error, for the report
	Interrupted bool   // the context was cancelled during the run; the result covers what ran
}

// Arrivals is the number of arrivals a run at rate has in a window of d.
func Arrivals(rate float64, d time.Duration) int {
	return int(math.Round(rate * d.Seconds()))
}

func (c Config) validate() (Config, error) {
	switch {
	case math.IsNaN(c.Rate) || math.IsInf(c.Rate, 0) || c.Rate <= 0:
		return c, fmt.Errorf("rate %v: must be a positive number", c.Rate)
	case c.Duration <= 0:
		return c, fmt.Errorf("duration %v: must be positive", c.Duration)
	case c.Warmup < 0:
		return c, fmt.Errorf("warm-up %v: must not be negative", c.Warmup)
	case c.MaxInFlight < 0:
		return c, fmt.Errorf("max in flight %d: must not be negative", c.MaxInFlight)
	case c.Timeout < 0:
		return c, fmt.Errorf("timeout %v: must not be negative", c.Timeout)
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	n := c.Rate * c.Duration.Seconds()
	w := c.Rate * c.Warmup.Seconds()
	if n+w > maxArrivals {
		return c, fmt.Errorf("rate %v for %v (+%v warm-up): more than %d arrivals", c.Rate, c.Duration, c.Warmup, maxArrivals)
	}
	if Arrivals(c.Rate, c.Duration) < 1 {
		return c, fmt.Errorf("rate %v for %v: the window holds no arrival", c.Rate, c.Duration)
	}
	return c, nil
}

// Run sends op at cfg.Rate: arrival i is scheduled at start + i/Rate, warm-up arrivals first, then
// round(Rate*Duration) arrivals in the measured window. One scheduler goroutine sleeps until each
// arrival, catching up without sleeping when late and never skipping one; each request runs in
// its own goroutine. After the window Run waits for the requests in flight, at most Timeout plus
// a short grace; a request still running then counts as a timeout (its goroutine is left to end
// on its own). Run returns an error only for a bad Config or a context cancelled before the
// start; a cancellation during the run ends it early with Interrupted set.
func Run(ctx context.Context, cfg Config, op Op) (Result, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return Result{}, fmt.Errorf("load config: %w", err)
	}
	if op == nil {
		return Result{}, errors.New("load config: nil op")
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("load run at %v/s: %w", cfg.Rate, err)
	}

	warm := Arrivals(cfg.Rate, cfg.Warmup)
	n := Arrivals(cfg.Rate, cfg.Duration)
	interval := float64(time.Second) / cfg.Rate
	start := time.Now()
	at := func(i int) time.Time { return start.Add(time.Duration(float64(i) * interval)) }
	rec := newRecorder(n, func(j int) time.Time { return at(warm + j) })

	var (
		wg       sync.WaitGroup
		inFlight atomic.Int64
		timer    = time.NewTimer(time.Hour)
	)
	timer.Stop()
	interrupted := false
schedule:
	for i := 0; i < warm+n; i++ {
		due := at(i)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				interrupted = true
				break schedule
			case <-timer.C:
			}
		} else if ctx.Err() != nil {
			interrupted = true
			break schedule
		}
		j := i - warm // index in the window; negative during warm-up
		if inFlight.Load() >= int64(cfg.MaxInFlight) {
			if j >= 0 {
				rec.refuse(j, cfg.MaxInFlight)
			}
			continue
		}
		if j >= 0 {
			rec.send(j)
		}
		inFlight.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer inFlight.Add(-1)
			err := call(ctx, cfg.Timeout, op)
			if j >= 0 {
				rec.complete(j, due, time.Now(), err)
			}
		}()
	}
	timer.Stop()
	if cfg.afterSchedule != nil {
		cfg.afterSchedule()
	}
	windowEnd := time.Now()

	// Wait for the requests in flight, bounded: an op that ignores its context must not hold the
	// run (and the whole search) forever.
	drained := make(chan struct{})
	go func() {
		wg.Wait()
		close(drained)
	}()
	wait := time.NewTimer(cfg.Timeout + drainGrace)
	select {
	case <-drained:
	case <-wait.C:
	}
	wait.Stop()

	res := rec.close(time.Now(), cfg.Timeout)
	res.Rate = cfg.Rate
	res.Duration = cfg.Duration
	if interrupted {
		res.Interrupted = true
		res.Duration = min(max(windowEnd.Sub(at(warm)), 0), cfg.Duration)
	}
	if res.Duration > 0 {
		res.Throughput = float64(res.OK) / res.Duration.Seconds()
	}
	return res, nil
}

// call runs one request under its own deadline. A failure after the deadline passed is a
// timeout whatever the op made of it (a gRPC client reports DEADLINE_EXCEEDED, for instance).
func call(ctx context.Context, timeout time.Duration, op Op) (err error) {
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = kindError{kind: "panic", err: fmt.Errorf("op panicked: %v", p)}
		}
	}()
	err = op(rctx)
	if err != nil && errors.Is(rctx.Err(), context.DeadlineExceeded) && Kind(err) != "timeout" {
		err = kindError{kind: "timeout", err: fmt.Errorf("deadline of %v exceeded: %w", timeout, err)}
	}
	return err
}

// kindError gives an error the kind the run decided for it.
type kindError struct {
	kind string
	err  error
}

func (e kindError) Error() string { return e.err.Error() }
func (e kindError) Unwrap() error { return e.err }
func (e kindError) Kind() string  { return e.kind }
