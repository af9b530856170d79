// Package baseline measures what the platform's writes cost physically on the machine the load
// harness runs on, so that the harness can report the platform's rates as ratios of these
// baselines instead of absolute figures that drift on shared machines.
//
// A platform create is one database transaction that inserts the resource row and an outbox row
// and commits; the outbox relay then publishes the row to JetStream. Postgres and SQLite measure
// the transaction (the audit row the services also write is left out on purpose), JetStream the
// publish. Every baseline is a closed loop: each client issues its next operation as soon as the
// previous one returned, for a fixed duration, and works in scratch space (a schema, a database
// file, a stream) that it creates at the start and removes at the end, also on error.
package baseline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/quarterdeck/quarterdeck/test/internal/loadgen"
)

// Defaults applied to zero-valued Options fields.
const (
	DefaultClients  = 16
	DefaultDuration = 5 * time.Second
	DefaultPayload  = 512
	// DefaultWindow is the asynchronous publish window. The relay has none (it waits for every
	// acknowledgement); 256 is its batch size, the most it would have in flight if it pipelined
	// one batch.
	DefaultWindow = 256
)

// Options tunes a baseline run. Zero values take the defaults.
type Options struct {
	Clients  int           // concurrent clients / publishers (default 16)
	Duration time.Duration // (default 5s)
	Payload  int           // bytes of payload per row/message (default 512)
	// Window bounds the acknowledgements outstanding at once in the "async" JetStream mode, over
	// all publishers (default DefaultWindow). The other baselines ignore it.
	Window int
}

func (o Options) withDefaults() (Options, error) {
	if o.Clients < 0 || o.Duration < 0 || o.Payload < 0 || o.Window < 0 {
		return o, fmt.Errorf("baseline options %+v: negative values are not allowed", o)
	}
	if o.Clients == 0 {
		o.Clients = DefaultClients
	}
	if o.Duration == 0 {
		o.Duration = DefaultDuration
	}
	if o.Payload == 0 {
		o.Payload = DefaultPayload
	}
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	return o, nil
}

// Result is what one baseline run measured.
type Result struct {
	Name    string // e.g. "PostgreSQL insert + outbox insert, 16 clients"
	Ops     int    // operations that succeeded
	Errors  int    // operations that failed
	Elapsed time.Duration
	Rate    float64 // successful operations per second of Elapsed
	// P50 and P99 are nearest-rank percentiles of the latency of the successful operations.
	P50, P99 time.Duration
	// FirstError is the first failed operation's error, nil when Errors is 0.
	FirstError error
	// Scratch names what the run created and removed again: the PostgreSQL schema, the SQLite
	// file or the JetStream stream.
	Scratch string
}

// tally collects the outcome of one client's operations.
type tally struct {
	lat      []time.Duration
	errs     int
	firstErr error
}

func (t *tally) record(d time.Duration, err error) {
	if err != nil {
		if t.errs == 0 {
			t.firstErr = err
		}
		t.errs++
		return
	}
	t.lat = append(t.lat, d)
}

// summarize merges the clients' tallies into a Result.
func summarize(name string, elapsed time.Duration, tallies []*tally) Result {
	r := Result{Name: name, Elapsed: elapsed}
	var lat []time.Duration
	for _, t := range tallies {
		lat = append(lat, t.lat...)
		r.Errors += t.errs
		if r.FirstError == nil {
			r.FirstError = t.firstErr
		}
	}
	r.Ops = len(lat)
	if elapsed > 0 {
		r.Rate = float64(r.Ops) / elapsed.Seconds()
	}
	sum := loadgen.Summarize(lat)
	r.P50, r.P99 = sum.P50, sum.P99
	return r
}

// closedLoop runs op from o.Clients goroutines, each starting its next operation when the last
// one returned, until o.Duration has passed or ctx is done. Operations under way at the deadline
// finish and count; Elapsed runs until the last of them has returned. seq numbers a client's
// operations from 0.
func closedLoop(ctx context.Context, name string, o Options, op func(ctx context.Context, client, seq int) error) (Result, error) {
	tallies := make([]*tally, o.Clients)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(o.Duration)
	for c := range o.Clients {
		t := &tally{}
		tallies[c] = t
		wg.Go(func() {
			for seq := 0; ctx.Err() == nil && time.Now().Before(deadline); seq++ {
				t0 := time.Now()
				err := op(ctx, c, seq)
				t.record(time.Since(t0), err)
			}
		})
	}
	wg.Wait()
	res := summarize(name, time.Since(start), tallies)
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("%s: %w", name, err)
	}
	return res, nil
}

// randomHex returns n random bytes as lower-case hex, for scratch names that cannot collide with
// another run on the same server.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random name: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// run identifies one baseline run inside the ids it generates.
type run struct {
	tag     string // 8 hex characters
	payload []byte // the row's and the event's payload, JSON of the configured size
}

func newRun(o Options) (run, error) {
	tag, err := randomHex(4)
	if err != nil {
		return run{}, err
	}
	return run{tag: tag, payload: jsonPayload(o.Payload)}, nil
}

// id returns an id shaped like the UUIDv7 the services use for resources and events (36
// characters), unique within the run for each client and sequence number.
func (r run) id(client, seq int) string {
	return fmt.Sprintf("%s-%04x-7000-8000-%012x", r.tag, client&0xffff, seq)
}

// jsonPayload returns a JSON object of exactly n bytes, standing in for the protojson of an event
// or a resource's remaining columns; below 18 bytes, too short for its one field, it is "{}".
func jsonPayload(n int) []byte {
	const head, tail = `{"description":"`, `"}`
	if n < len(head)+len(tail) {
		return []byte("{}")
	}
	b := make([]byte, 0, n)
	b = append(b, head...)
	for i := 0; len(b) < n-len(tail); i++ {
		b = append(b, 'a'+byte(i%26))
	}
	return append(b, tail...)
}

// errUnknownMode is returned by JetStream for a mode other than "sync" and "async".
var errUnknownMode = errors.New(`unknown mode: want "sync" or "async"`)

// cleanupTimeout bounds removing the scratch space, which runs even when the caller's context is
// done.
const cleanupTimeout = 30 * time.Second

// cleanupContext returns a context for removing scratch space: detached from ctx's cancellation so
// that a cancelled run still cleans up, but bounded.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}
