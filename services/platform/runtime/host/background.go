package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
)

// Background runs a service's work behind its calls — a computation a read starts and does not
// wait for — for as long as the service runs: the work's context ends when the service stops,
// and Stop waits for it after the calls have finished and before the database closes, so that
// no such work outlives the service or reads a closed database. A failure is logged as a warning
// with the service's logger.
type Background struct {
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

// NewBackground returns a Background logging its failures to log, running until Stop. The host
// gives each service one (Deps.Background); tests of a server without its host make their own.
func NewBackground(log *slog.Logger) *Background {
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Background{log: log, ctx: ctx, cancel: cancel}
}

// Go runs fn in a goroutine of its own with a context that ends at Stop, and logs the error it
// returns, naming the work what; the context's own end is no failure. It reports whether fn runs:
// once Stop has begun, it runs nothing.
func (b *Background) Go(what string, fn func(ctx context.Context) error) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopped {
		return false
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		if err := fn(b.ctx); err != nil && !(errors.Is(err, context.Canceled) && b.ctx.Err() != nil) {
			b.log.Warn("background work failed", "work", what, "error", err)
		}
	}()
	return true
}

// Stop cancels the context of the work running, waits for it to return until ctx ends, and
// runs no more work afterwards. It reports ctx's error if work was still running then.
func (b *Background) Stop(ctx context.Context) error {
	b.mu.Lock()
	b.stopped = true
	b.mu.Unlock()
	b.cancel()
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("background work still running: %w", ctx.Err())
	}
}
