package settings_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/internal/settings"
)

func TestDefault(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want time.Duration }{
		{0, time.Second}, {-time.Millisecond, time.Second}, {time.Millisecond, time.Millisecond},
	} {
		got := tt.in
		settings.Default(&got, time.Second)
		if got != tt.want {
			t.Errorf("Default(%v, 1s) = %v, want %v", tt.in, got, tt.want)
		}
	}
	n, s := 0, ""
	settings.Default(&n, 8)
	settings.Default(&s, "x")
	if n != 8 || s != "x" {
		t.Errorf("Default of zero values = %d, %q", n, s)
	}
	s = "set"
	settings.Default(&s, "x")
	if s != "set" {
		t.Errorf("Default replaced a set string: %q", s)
	}
}

func TestLogger(t *testing.T) {
	t.Parallel()
	var l *slog.Logger
	settings.Logger(&l)
	if l != slog.Default() {
		t.Error("Logger left a nil logger")
	}
	own := slog.New(slog.DiscardHandler)
	l = own
	settings.Logger(&l)
	if l != own {
		t.Error("Logger replaced a set logger")
	}
}
