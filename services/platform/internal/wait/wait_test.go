package wait

import (
	"context"
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	if !For(ctx, 20*time.Millisecond, nil) {
		t.Fatal("a plain wait reported a cancelled context")
	}
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Errorf("waited %v; want at least 20ms", waited)
	}

	cut := make(chan struct{})
	close(cut)
	if !For(ctx, time.Hour, cut) {
		t.Error("a wait cut short reported a cancelled context")
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if For(cancelled, time.Hour, nil) {
		t.Error("a wait on a cancelled context reported true")
	}
	if For(cancelled, 0, nil) {
		t.Error("a zero wait on a cancelled context reported true")
	}
	if !For(ctx, -time.Second, nil) {
		t.Error("a negative wait reported a cancelled context")
	}
}

func TestClosedAndWake(t *testing.T) {
	c := make(chan struct{}, 1)
	if Closed(c) {
		t.Fatal("an empty open channel reported closed")
	}
	Wake(c)
	Wake(c) // the buffer holds one wake-up already: no block
	if first, second := Closed(c), Closed(c); !first || second {
		t.Fatal("one wake-up should be received once")
	}
	close(c)
	if first, second := Closed(c), Closed(c); !first || !second {
		t.Fatal("a closed channel reported open")
	}
}
