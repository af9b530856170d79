package host_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestStopEndsBackgroundWork: the work a service left running behind its calls
// (Deps.Background) has its context ended by Stop, which returns only once the work has
// returned — before the database closes — and runs no work after it.
func TestStopEndsBackgroundWork(t *testing.T) {
	t.Parallel()
	b := &slowBudget{entered: make(chan struct{}), release: make(chan struct{})}
	s, _ := start(t, testenv.NATSServer(t), b)
	bg := b.deps.Background
	started, returned := make(chan struct{}), make(chan struct{})
	if !bg.Go("held", func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		close(returned)
		return ctx.Err()
	}) {
		t.Fatal("Go ran nothing before Stop")
	}
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	select {
	case <-returned:
	default:
		t.Fatal("Stop returned while the background work still ran")
	}
	if bg.Go("late", func(context.Context) error { return nil }) {
		t.Error("Go ran work after Stop")
	}
}

// TestBackgroundLogsFailures: a failure of background work is logged as a warning naming the
// work; its context ended by Stop is none, and Stop reports work that outlives its deadline.
func TestBackgroundLogsFailures(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var out bytes.Buffer
	bg := host.NewBackground(slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &out}, nil)))
	failed := make(chan struct{})
	bg.Go("refresh", func(context.Context) error {
		defer close(failed)
		return errors.New("the model is unreachable")
	})
	<-failed
	held := make(chan struct{})
	bg.Go("held", func(ctx context.Context) error {
		close(held)
		<-ctx.Done()
		return ctx.Err()
	})
	<-held
	if err := bg.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	mu.Lock()
	logged := out.String()
	mu.Unlock()
	if !strings.Contains(logged, "level=WARN") || !strings.Contains(logged, "work=refresh") ||
		!strings.Contains(logged, `error="the model is unreachable"`) {
		t.Errorf("log = %q; want a warning naming the failed work and its error", logged)
	}
	if strings.Contains(logged, "work=held") {
		t.Errorf("log = %q; work ended by Stop logged as a failure", logged)
	}

	stuck := host.NewBackground(quiet)
	release := make(chan struct{})
	defer close(release)
	stuck.Go("stuck", func(context.Context) error {
		<-release
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := stuck.Stop(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Stop of work that ignores its context = %v; want ctx's error", err)
	}
}

// lockedWriter serializes the writes of a log handler into w.
type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
