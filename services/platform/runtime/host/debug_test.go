package host_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
)

// TestServeDebug checks that a debug address serves the profiling index and logs where, that an
// empty one starts nothing, and that a taken port fails naming the setting.
func TestServeDebug(t *testing.T) {
	t.Run("set", func(t *testing.T) {
		var logs bytes.Buffer
		d, err := host.ServeDebug("127.0.0.1:0", "QUARTERDECK_DEBUG_ADDR", slog.New(slog.NewJSONHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		client := &http.Client{Timeout: 15 * time.Second}
		res, err := client.Get("http://" + d.Addr() + "/debug/pprof/")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine") {
			t.Errorf("GET /debug/pprof/ = %d %.200q; want 200 with the profile index", res.StatusCode, body)
		}
		var line struct {
			Msg  string `json:"msg"`
			Addr string `json:"debug_addr"`
		}
		if err := json.Unmarshal(logs.Bytes(), &line); err != nil || line.Msg != "debug listening" || line.Addr != d.Addr() {
			t.Errorf("log %q (%v); want \"debug listening\" with debug_addr %s", logs.String(), err, d.Addr())
		}
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
		if c, err := net.Dial("tcp", d.Addr()); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after Close", d.Addr())
		}
	})

	t.Run("unset", func(t *testing.T) {
		var logs bytes.Buffer
		d, err := host.ServeDebug("", "QUARTERDECK_DEBUG_ADDR", slog.New(slog.NewJSONHandler(&logs, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if d != nil || d.Addr() != "" || logs.Len() > 0 {
			t.Errorf("ServeDebug(\"\") = %v, address %q, log %q; want no server, no address, no log", d, d.Addr(), logs.String())
		}
		if err := d.Close(); err != nil {
			t.Errorf("Close of no server: %v", err)
		}
	})

	t.Run("taken", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		d, err := host.ServeDebug(l.Addr().String(), "QUARTERDECK_DEBUG_ADDR", slog.New(slog.NewJSONHandler(io.Discard, nil)))
		if err == nil {
			d.Close()
			t.Fatalf("ServeDebug on taken %s succeeded", l.Addr())
		}
		if !strings.Contains(err.Error(), "QUARTERDECK_DEBUG_ADDR") {
			t.Errorf("error %q does not name the setting", err)
		}
	})
}
