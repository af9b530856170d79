package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/config"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/telemetry"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/datadir"
)

// Main runs a Quarterdeck binary: run gets a context that the first SIGINT or SIGTERM cancels,
// the arguments and stderr. An error is printed with the program's name and exits with status 1;
// config.ErrHelp (after --help) and config.ErrVersion (after --version) count as success.
func Main(program string, run func(ctx context.Context, args []string, stderr io.Writer) error) {
	// Every file the binary creates — databases, their journals, the embedded NATS store — is
	// born private to its user (umask 077), whatever mode the code creating it asks for.
	datadir.PrivateByDefault()
	ctx, stop := SignalContext()
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil && !errors.Is(err, config.ErrHelp) && !errors.Is(err, config.ErrVersion) {
		fmt.Fprintf(os.Stderr, "%s: %v\n", program, err)
		os.Exit(1)
	}
}

// Configure loads a binary's settings into cfg (see config.Load) and makes the JSON logger that tel
// (a part of cfg) asks for the default one. It returns the positional arguments and the logger, or
// config.ErrHelp after printing the usage (config.ErrVersion after printing the version).
func Configure(cfg any, tel *telemetry.Config, opts config.Options) (rest []string, log *slog.Logger, err error) {
	rest, err = config.Load(cfg, opts)
	if err != nil {
		return nil, nil, err
	}
	out := opts.Output
	if out == nil {
		out = os.Stderr
	}
	log, err = telemetry.NewLogger(out, tel.LogLevel)
	if err != nil {
		return nil, nil, err
	}
	slog.SetDefault(log)
	return rest, log, nil
}

// Listen opens a TCP listener on addr. setting names the flag and variable that gave addr, e.g.
// "QUARTERDECK_HTTP_ADDR (--http-addr)", so that the error of a taken port says what to change.
func Listen(addr, setting string) (net.Listener, error) {
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s (%v); set %s to a free address", addr, err, setting)
	}
	return lis, nil
}

// debugSetting is the setting of the debug address, the same in every binary.
const debugSetting = "QUARTERDECK_DEBUG_ADDR (--debug-addr)"

// ProcessOptions configures StartProcess.
type ProcessOptions struct {
	// Program names the process in traces and metrics (service.name) and on its NATS connection,
	// e.g. "quarterdeck-budget".
	Program string
	Version string
	// Telemetry are the binary's telemetry settings.
	Telemetry telemetry.Config
	// MetricsAddr, when set, serves the metrics at http://<addr>/metrics. A server that cannot
	// listen there is logged, and the process runs on without it. Binaries whose public port
	// serves /metrics, as the gateway's does, leave it empty.
	MetricsAddr string
	// DebugAddr, when set, serves Go profiling (see ServeDebug); every binary takes it from
	// QUARTERDECK_DEBUG_ADDR.
	DebugAddr string
	Logger    *slog.Logger
}

// Process is what every Quarterdeck binary runs around its own servers — telemetry, the metrics
// and profiling servers, its NATS connection — and the list of what to stop on the way out: Stop
// stops everything the binary deferred to it in the reverse order of the start.
type Process struct {
	// Telemetry holds the process's tracer and meter providers; Telemetry.Metrics serves the
	// metrics for a binary that mounts them on a port of its own.
	Telemetry *telemetry.Telemetry

	program string
	log     *slog.Logger
	stops   []func(context.Context) error
}

// StartProcess sets up telemetry and starts the metrics and profiling servers that o asks for.
// When it fails, it has stopped what it started.
func StartProcess(ctx context.Context, o ProcessOptions) (_ *Process, err error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	p := &Process{program: o.Program, log: o.Logger}
	defer func() {
		if err != nil {
			_ = p.Stop(context.WithoutCancel(ctx))
		}
	}()

	// Traces, and the metrics registry every server records into.
	tel, err := telemetry.Setup(ctx, o.Program, o.Version, o.Telemetry)
	if err != nil {
		return nil, err
	}
	p.Telemetry = tel
	// The flush of pending spans and metrics is best effort, as the process is going away.
	p.Defer(func(ctx context.Context) error { _ = tel.Shutdown(ctx); return nil })

	// Metrics at /metrics on an address of their own, for Prometheus to scrape.
	if o.MetricsAddr != "" {
		ms := &http.Server{Addr: o.MetricsAddr, Handler: tel.Metrics, ReadHeaderTimeout: 10 * time.Second}
		go func() {
			if err := ms.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				o.Logger.Error("metrics server", "error", err)
			}
		}()
		p.Defer(func(context.Context) error { _ = ms.Close(); return nil })
	}

	// Go profiling, apart from every public port.
	debug, err := ServeDebug(o.DebugAddr, debugSetting, o.Logger)
	if err != nil {
		return nil, err
	}
	p.Defer(func(context.Context) error { _ = debug.Close(); return nil })
	return p, nil
}

// Defer adds f to what Stop runs, to run before everything deferred earlier. An error f returns
// is part of Stop's; a stop whose failure is not the binary's failure logs it and returns nil.
func (p *Process) Defer(f func(context.Context) error) { p.stops = append(p.stops, f) }

// Stop runs what was deferred, last first, each bounded by ctx, and returns their errors.
func (p *Process) Stop(ctx context.Context) error {
	var errs []error
	for i := len(p.stops) - 1; i >= 0; i-- {
		errs = append(errs, p.stops[i](ctx))
	}
	p.stops = nil
	return errors.Join(errs...)
}

// ConnectNATS connects to the NATS server(s) at url, comma-separated for a cluster, under the
// program's name. Stop drains the connection, so that what it still has to send goes out before
// it closes.
func (p *Process) ConnectNATS(url string) (*nats.Conn, error) {
	nc, err := events.Connect(url, p.program, p.log)
	if err != nil {
		return nil, err
	}
	p.Defer(func(context.Context) error { return drain(nc) })
	return nc, nil
}

// drainTimeout bounds a drain: by the time a binary drains its connection, what it publishes
// has been acknowledged (the relays flush at their Stop), so only a dead server makes it wait.
const drainTimeout = 5 * time.Second

// drain flushes what the connection still has to send and closes it.
func drain(nc *nats.Conn) error {
	done := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(done) })
	if err := nc.Drain(); err != nil {
		nc.Close()
		return fmt.Errorf("drain NATS connection: %w", err)
	}
	select {
	case <-done:
	case <-time.After(drainTimeout):
		nc.Close()
	}
	return nil
}

// Version returns the version a binary reports: stamped, when the build set it (make build sets
// -X main.version from git describe), or else the commit the Go toolchain recorded when it built
// from a git checkout ("devel+<12 hex digits>", "-dirty" with uncommitted changes), or "dev".
func Version(stamped string) string {
	if stamped != "" && stamped != "dev" {
		return stamped
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "dev"
	}
	v := "devel+" + rev[:min(12, len(rev))]
	if dirty {
		v += "-dirty"
	}
	return v
}
