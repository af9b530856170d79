package host_test

import (
	"context"
	"errors"
	"net"
	"reflect"
	"strings"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
)

// TestProcessStopsInReverseOrder checks that Stop runs what was deferred last first, all of it
// even when a stop fails, and reports the failures.
func TestProcessStopsInReverseOrder(t *testing.T) {
	ctx := context.Background()
	p, err := host.StartProcess(ctx, host.ProcessOptions{Program: "quarterdeck-test", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	p.Defer(func(context.Context) error { order = append(order, "first"); return nil })
	p.Defer(func(context.Context) error { order = append(order, "second"); return errors.New("second failed") })
	p.Defer(func(context.Context) error { order = append(order, "third"); return nil })
	err = p.Stop(ctx)
	if want := []string{"third", "second", "first"}; !reflect.DeepEqual(order, want) {
		t.Errorf("stopped %v; want %v", order, want)
	}
	if err == nil || err.Error() != "second failed" {
		t.Errorf("Stop = %v; want the failed stop's error", err)
	}
}

// TestStartProcessDebugTaken checks that a taken debug address stops the start, naming the
// setting every binary takes it from.
func TestStartProcessDebugTaken(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = host.StartProcess(context.Background(), host.ProcessOptions{Program: "quarterdeck-test",
		DebugAddr: l.Addr().String(), Logger: quiet})
	if err == nil || !strings.Contains(err.Error(), "QUARTERDECK_DEBUG_ADDR (--debug-addr)") {
		t.Errorf("StartProcess on a taken debug address: %v; want the setting named", err)
	}
}
