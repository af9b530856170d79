package retry

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	for n, want := range map[int]time.Duration{0: time.Second, 1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 60: 10 * time.Second} {
		if got := Backoff(time.Second, 10*time.Second, n); got != want {
			t.Errorf("Backoff(1s, 10s, %d) = %v, want %v", n, got, want)
		}
	}
}

func TestPermanent(t *testing.T) {
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil")
	}
	cause := errors.New("gone")
	err := fmt.Errorf("firing: %w", Permanent(cause))
	if !IsPermanent(err) || !errors.Is(err, cause) || err.Error() != "firing: gone" {
		t.Errorf("wrapped permanent error %v: permanent %v, cause kept %v", err, IsPermanent(err), errors.Is(err, cause))
	}
	if IsPermanent(cause) {
		t.Error("a plain error reported permanent")
	}
}
