package consumer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// ErrNotRunning is returned by Reset and Pending when the runtime is not consuming: not started
// yet, or draining.
var ErrNotRunning = errors.New("consumer runtime: not running")

// Reset makes the service's consumers start again from the first event of their streams, for a
// service whose consumers build something it can drop and build again (a read model). It stops
// every consumer and waits for it (an event being handled is abandoned, its transaction rolled
// back), deletes their JetStream durables, and in one transaction forgets what they applied —
// their inbox rows and the versions they applied — and runs clear, which drops what the
// handlers built. Then it starts them again: they create their durables anew and deliver every
// event still in the streams, in order. On an error the consumers are started again all the
// same, and what they applied is kept or forgotten with the transaction.
//
// The durables are shared by every replica of the service; a replica that consumes while
// another resets would apply events to the model being cleared, so a service that resets runs
// one replica of its consumers.
func (r *Runtime) Reset(ctx context.Context, clear func(ctx context.Context, tx *sql.Tx) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started || r.draining || r.runCtx.Err() != nil {
		return ErrNotRunning
	}
	// Stop each consumer and wait for its goroutine, so that nothing applies an event while the
	// model is cleared.
	for _, rn := range r.order {
		rn.mu.Lock()
		stop, done := rn.stop, rn.done
		rn.mu.Unlock()
		stop()
		rn.stopIter()
		select {
		case <-done:
		case <-ctx.Done():
			// The goroutine still stops; start it again once it has, so the consumer is not lost.
			go func() {
				<-done
				r.mu.Lock()
				defer r.mu.Unlock()
				if !r.draining && r.runCtx.Err() == nil {
					r.startRunner(rn)
				}
			}()
			for _, other := range r.order {
				if other != rn {
					r.restartStopped(other)
				}
			}
			return fmt.Errorf("reset consumers of %s: %w", r.opts.Service, ctx.Err())
		}
	}
	defer func() {
		for _, rn := range r.order {
			r.startRunner(rn)
		}
	}()
	for _, rn := range r.order {
		rn.setIter(nil, nil)
		if err := r.js.DeleteConsumer(ctx, rn.stream, rn.durable); err != nil &&
			!errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return fmt.Errorf("reset consumer %s: delete durable %s: %w", rn.spec.Name, rn.durable, err)
		}
	}
	return r.db.InTx(ctx, func(tx *sql.Tx) error {
		for _, rn := range r.order {
			for _, q := range []string{
				`DELETE FROM consumer_inbox WHERE consumer = $1`,
				`DELETE FROM consumer_versions WHERE consumer = $1`,
			} {
				if _, err := tx.ExecContext(ctx, q, rn.spec.Name); err != nil {
					return fmt.Errorf("reset consumer %s: %w", rn.spec.Name, err)
				}
			}
		}
		if clear != nil {
			if err := clear(ctx, tx); err != nil {
				return fmt.Errorf("reset consumers of %s: %w", r.opts.Service, err)
			}
		}
		return nil
	})
}

// Trimmed returns the streams the consumers read that no longer hold their first event — removed
// by the stream's age or size limits, or purged — in the consumers' order, each once: what Reset
// would rebuild from them lacks those events. A stream that does not exist yet is not trimmed.
func (r *Runtime) Trimmed(ctx context.Context) ([]string, error) {
	var out []string
	for _, rn := range r.order {
		if slices.Contains(out, rn.stream) {
			continue
		}
		s, err := r.js.Stream(ctx, rn.stream)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", rn.stream, err)
		}
		info, err := s.Info(ctx)
		if err != nil {
			return nil, fmt.Errorf("stream %s: %w", rn.stream, err)
		}
		// An empty stream that never held an event has its first sequence at 0 or 1; one whose
		// events all went has it past the last.
		if info.State.FirstSeq > 1 {
			out = append(out, rn.stream)
		}
	}
	return out, nil
}

// restartStopped starts again a consumer that Reset stopped, once its goroutine has returned.
// r.mu is held.
func (r *Runtime) restartStopped(rn *runner) {
	rn.mu.Lock()
	done := rn.done
	rn.mu.Unlock()
	select {
	case <-done:
		r.startRunner(rn)
	default:
		// Still running: Reset never stopped it.
	}
}

// Pending returns how many events of its stream the consumer name has not applied yet: not
// delivered, or delivered and not acknowledged. It asks the NATS server, and fails with
// ErrNotRunning while the consumer has no durable (before it subscribes, just after a Reset).
func (r *Runtime) Pending(ctx context.Context, name string) (int64, error) {
	rn, ok := r.specs[name]
	if !ok {
		return 0, fmt.Errorf("consumer %q is not registered", name)
	}
	c := rn.info()
	if c == nil {
		return 0, ErrNotRunning
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("consumer %s: %w", name, err)
	}
	return int64(info.NumPending) + int64(info.NumAckPending), nil
}
