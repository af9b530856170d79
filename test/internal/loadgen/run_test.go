package loadgen

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func TestRunNoOpCountsEveryArrivalOfTheWindow(t *testing.T) {
	var calls atomic.Int64
	op := func(context.Context) error { calls.Add(1); return nil }
	r, err := Run(context.Background(), Config{Rate: 200, Duration: time.Second, Warmup: 200 * time.Millisecond}, op)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 200 || r.OK != 200 || r.Errors != 0 || len(r.ErrorKinds) != 0 {
		t.Fatalf("sent %d ok %d errors %d kinds %v, want 200 200 0 none", r.Sent, r.OK, r.Errors, r.ErrorKinds)
	}
	if got := calls.Load(); got != 240 {
		t.Errorf("op called %d times, want 240 (40 warm-up + 200)", got)
	}
	if r.Throughput <= 0 || r.Rate != 200 || r.Duration != time.Second {
		t.Errorf("throughput %v rate %v duration %v", r.Throughput, r.Rate, r.Duration)
	}
	if r.Max < r.P99 || r.P99 < r.P90 || r.P90 < r.P50 || r.P50 < 0 {
		t.Errorf("percentiles out of order: p50 %v p90 %v p99 %v max %v", r.P50, r.P90, r.P99, r.Max)
	}
	if r.FirstError != "" || r.Interrupted {
		t.Errorf("first error %q interrupted %v", r.FirstError, r.Interrupted)
	}
}

func TestRunCountsErrorsByKind(t *testing.T) {
	var calls atomic.Int64
	op := func(context.Context) error {
		if calls.Add(1)%2 == 0 {
			return status.Error(codes.Unavailable, "no backend")
		}
		return nil
	}
	r, err := Run(context.Background(), Config{Rate: 200, Duration: 100 * time.Millisecond}, op)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 20 || r.OK != 10 || r.Errors != 10 || r.ErrorKinds["UNAVAILABLE"] != 10 || len(r.ErrorKinds) != 1 {
		t.Fatalf("sent %d ok %d errors %d kinds %v, want 20 10 10 map[UNAVAILABLE:10]", r.Sent, r.OK, r.Errors, r.ErrorKinds)
	}
	if !strings.Contains(r.FirstError, "no backend") {
		t.Errorf("first error %q", r.FirstError)
	}
	if r.Throughput <= 0 {
		t.Errorf("throughput %v", r.Throughput)
	}
}

func TestRunLatencyIsAtLeastTheOpsTime(t *testing.T) {
	const work = 20 * time.Millisecond
	op := func(ctx context.Context) error {
		select {
		case <-time.After(work):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r, err := Run(context.Background(), Config{Rate: 50, Duration: 200 * time.Millisecond}, op)
	if err != nil {
		t.Fatal(err)
	}
	if r.OK != 10 {
		t.Fatalf("ok %d, want 10 (errors %v)", r.OK, r.ErrorKinds)
	}
	for name, d := range map[string]time.Duration{"p50": r.P50, "p90": r.P90, "p99": r.P99, "max": r.Max, "mean": r.Mean} {
		if d < work {
			t.Errorf("%s %v, want at least %v", name, d, work)
		}
	}
}

func TestRunRefusesArrivalsOverMaxInFlight(t *testing.T) {
	release := make(chan struct{})
	var calls atomic.Int64
	op := func(ctx context.Context) error {
		calls.Add(1)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	cfg := Config{Rate: 200, Duration: 100 * time.Millisecond, MaxInFlight: 5, Timeout: time.Minute,
		afterSchedule: func() { close(release) }}
	r, err := Run(context.Background(), cfg, op)
	if err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 5 {
		t.Errorf("op called %d times, want 5", calls.Load())
	}
	if r.Sent != 20 || r.OK != 5 || r.Errors != 15 || r.ErrorKinds["overload"] != 15 || len(r.ErrorKinds) != 1 {
		t.Fatalf("sent %d ok %d errors %d kinds %v, want 20 5 15 map[overload:15]", r.Sent, r.OK, r.Errors, r.ErrorKinds)
	}
	if !strings.Contains(r.FirstError, "overload") {
		t.Errorf("first error %q", r.FirstError)
	}
}

func TestRunCountsDeadlinesAsTimeouts(t *testing.T) {
	ops := map[string]Op{
		"context error": func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
		"grpc status":   func(ctx context.Context) error { <-ctx.Done(); return status.FromContextError(ctx.Err()).Err() },
		"plain error":   func(ctx context.Context) error { <-ctx.Done(); return errors.New("gave up") },
	}
	for name, op := range ops {
		t.Run(name, func(t *testing.T) {
			r, err := Run(context.Background(), Config{Rate: 100, Duration: 100 * time.Millisecond, Timeout: 30 * time.Millisecond}, op)
			if err != nil {
				t.Fatal(err)
			}
			if r.Sent != 10 || r.OK != 0 || r.Errors != 10 || r.ErrorKinds["timeout"] != 10 {
				t.Fatalf("sent %d ok %d errors %d kinds %v, want 10 0 10 map[timeout:10]", r.Sent, r.OK, r.Errors, r.ErrorKinds)
			}
			if r.P50 < 30*time.Millisecond {
				t.Errorf("p50 %v, want at least the timeout", r.P50)
			}
		})
	}
}

func TestRunStopsWaitingForAnOpThatIgnoresItsDeadline(t *testing.T) {
	stuck := make(chan struct{})
	defer close(stuck)
	op := func(context.Context) error { <-stuck; return nil }
	r, err := Run(context.Background(), Config{Rate: 100, Duration: 50 * time.Millisecond, Timeout: 10 * time.Millisecond}, op)
	if err != nil {
		t.Fatal(err)
	}
	if r.Sent != 5 || r.Errors != 5 || r.ErrorKinds["timeout"] != 5 {
		t.Fatalf("sent %d errors %d kinds %v, want 5 5 map[timeout:5]", r.Sent, r.Errors, r.ErrorKinds)
	}
	if r.Max < 10*time.Millisecond+drainGrace {
		t.Errorf("max %v, want at least timeout plus grace", r.Max)
	}
}

func TestRunRecoversAPanickingOp(t *testing.T) {
	op := func(context.Context) error { panic("boom") }
	r, err := Run(context.Background(), Config{Rate: 100, Duration: 30 * time.Millisecond}, op)
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors != 3 || r.ErrorKinds["panic"] != 3 || !strings.Contains(r.FirstError, "boom") {
		t.Fatalf("errors %d kinds %v first %q", r.Errors, r.ErrorKinds, r.FirstError)
	}
}

func TestRunInterruptedEndsEarly(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	op := func(context.Context) error {
		if calls.Add(1) == 10 {
			cancel()
		}
		return nil
	}
	r, err := Run(ctx, Config{Rate: 100, Duration: time.Hour}, op)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Interrupted || r.Sent < 10 || r.Sent >= Arrivals(100, time.Hour) || r.Duration >= time.Hour {
		t.Fatalf("interrupted %v sent %d duration %v", r.Interrupted, r.Sent, r.Duration)
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	noop := func(context.Context) error { return nil }
	for name, cfg := range map[string]Config{
		"zero rate":        {Duration: time.Second},
		"negative rate":    {Rate: -1, Duration: time.Second},
		"zero duration":    {Rate: 10},
		"empty window":     {Rate: 1, Duration: 100 * time.Millisecond},
		"negative warm-up": {Rate: 10, Duration: time.Second, Warmup: -time.Second},
		"negative limit":   {Rate: 10, Duration: time.Second, MaxInFlight: -1},
		"negative timeout": {Rate: 10, Duration: time.Second, Timeout: -time.Second},
		"too many":         {Rate: 1e9, Duration: time.Hour},
	} {
		if _, err := Run(context.Background(), cfg, noop); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if _, err := Run(context.Background(), Config{Rate: 10, Duration: time.Second}, nil); err == nil {
		t.Error("nil op: no error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Config{Rate: 10, Duration: time.Second}, noop); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}
