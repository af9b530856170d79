package host

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// DebugServer serves Go's profiling endpoints (net/http/pprof under /debug/pprof/) on a listener
// of its own, apart from every public port, so that profiles can be taken from a running binary
// without exposing them to API clients.
type DebugServer struct {
	lis net.Listener
	srv *http.Server
}

// ServeDebug starts a DebugServer on addr and logs its address. An empty addr means profiling is
// off: it returns a nil server, whose Addr is empty and whose Close does nothing. setting names the
// setting that gave addr, for the error of a taken port.
func ServeDebug(addr, setting string, log *slog.Logger) (*DebugServer, error) {
	if addr == "" {
		return nil, nil
	}
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s (%v); set %s to a free address, or empty to turn profiling off", addr, err, setting)
	}
	// A mux of its own: the one net/http/pprof registers on, http.DefaultServeMux, is global.
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	d := &DebugServer{lis: lis, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}
	go func() {
		if err := d.srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("debug server", "error", err)
		}
	}()
	log.Info("debug listening", "debug_addr", lis.Addr().String(), "pprof", "http://"+lis.Addr().String()+"/debug/pprof/")
	return d, nil
}

// Addr is the address the server listens on; empty for a nil server (profiling off).
func (d *DebugServer) Addr() string {
	if d == nil {
		return ""
	}
	return d.lis.Addr().String()
}

// Close stops the server at once, ending profiles in progress. It does nothing on a nil server.
func (d *DebugServer) Close() error {
	if d == nil {
		return nil
	}
	if err := d.srv.Close(); err != nil {
		return fmt.Errorf("close debug server: %w", err)
	}
	return nil
}
