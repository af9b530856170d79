// Package natsembed runs a NATS server with JetStream inside the current process.
//
// The standalone binary uses it so that Quarterdeck needs no external message broker, and tests
// use it so that they get a real JetStream without Docker or a shared server. It is a thin,
// opinionated wrapper around github.com/nats-io/nats-server/v2/server: it binds to loopback by
// default, never installs signal handlers, never exits the process, and sends the server's log
// lines to a *slog.Logger.
package natsembed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Defaults applied by Start to zero-valued Options fields.
const (
	// DefaultHost binds to loopback so that an embedded broker is never exposed by accident.
	DefaultHost = "127.0.0.1"
	// DefaultServerName names the server in its logs and in JetStream metadata.
	DefaultServerName = "quarterdeck"
	// readyTimeout bounds how long Start waits for the client listener before giving up.
	readyTimeout = 10 * time.Second
)

// Options configures an embedded server. The zero value is not usable because StoreDir is
// required: JetStream's file store must know where to keep streams across restarts.
type Options struct {
	// Host is the interface the client listener binds to; default "127.0.0.1".
	Host string
	// Port is the client port; 0 means pick a free port (nats-server's RANDOM_PORT).
	Port int
	// StoreDir is the JetStream file store directory (required). Reusing the same directory on a
	// later Start keeps the streams and messages of the earlier run.
	StoreDir string
	// ServerName names the server; default "quarterdeck".
	ServerName string
	// Logger receives nats-server's log lines: Notice as Info, Warn as Warn, Error and Fatal as
	// Error, Debug as Debug and Trace as LevelTrace. The server only produces debug lines when
	// Logger is enabled at Debug, and protocol traces only when it is enabled at LevelTrace,
	// because tracing logs every message. Default slog.Default().
	Logger *slog.Logger
	// SyncAlways makes JetStream flush every stored message to disk before acknowledging it
	// (sync_interval: always). Without it the file store is flushed every two minutes, and a power
	// loss can take acknowledged messages with it; a single server with no replicas needs it for
	// "acknowledged means durable".
	SyncAlways bool
}

// LevelTrace is the slog level of nats-server's protocol trace lines. It sits below Debug so that
// a debug-level logger shows the server's debug lines without a line for every message.
const LevelTrace = slog.LevelDebug - 4

// ErrPortInUse is wrapped by Start when the client port is taken, so that callers can tell the
// operator which setting to change instead of printing a raw bind error.
var ErrPortInUse = errors.New("port in use")

// Server is a running embedded NATS server. Use ClientURL to connect to it and Shutdown to stop
// it; Shutdown must be called to release the port and the store directory.
type Server struct {
	ns           *server.Server
	clientURL    string
	shutdownOnce sync.Once
}

// Start starts a NATS server with JetStream enabled and returns once it accepts client
// connections. It fails with an error wrapping ErrPortInUse when opts.Port is taken, and with
// the server's own fatal message when JetStream or the listener cannot be started.
func Start(opts Options) (*Server, error) {
	if opts.StoreDir == "" {
		return nil, errors.New("natsembed: StoreDir is required")
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("natsembed: invalid port %d", opts.Port)
	}
	if opts.Host == "" {
		opts.Host = DefaultHost
	}
	if opts.ServerName == "" {
		opts.ServerName = DefaultServerName
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}

	port := server.RANDOM_PORT
	if opts.Port > 0 {
		port = opts.Port
		// nats-server reports a taken port only through its logger, so probe it first to return
		// an error that callers can recognise.
		addr := net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("nats client port %s: %w", addr, ErrPortInUse)
		}
		if err := l.Close(); err != nil {
			return nil, fmt.Errorf("nats client port %s: %w", addr, err)
		}
	}

	ns, err := server.NewServer(&server.Options{
		ServerName:             opts.ServerName,
		Host:                   opts.Host,
		Port:                   port,
		HTTPPort:               0, // no monitoring endpoint
		NoSigs:                 true,
		JetStream:              true,
		StoreDir:               opts.StoreDir,
		DisableJetStreamBanner: true,
		SyncAlways:             opts.SyncAlways,
	})
	if err != nil {
		return nil, fmt.Errorf("natsembed: configure server: %w", err)
	}

	logger := newLogger(opts.Logger)
	debug := opts.Logger.Enabled(context.Background(), slog.LevelDebug)
	trace := opts.Logger.Enabled(context.Background(), LevelTrace)
	ns.SetLoggerV2(logger, debug, trace, false)

	// Start returns early (without listening) when it hits a fatal error, because our logger
	// does not exit the process; the recorded fatal message then explains the failure.
	ns.Start()
	s := &Server{ns: ns}
	if fatal := logger.fatalError(); fatal != nil {
		s.Shutdown()
		return nil, fmt.Errorf("natsembed: start server: %w", fatal)
	}
	if !ns.ReadyForConnections(readyTimeout) {
		s.Shutdown()
		if fatal := logger.fatalError(); fatal != nil {
			return nil, fmt.Errorf("natsembed: start server: %w", fatal)
		}
		return nil, fmt.Errorf("natsembed: server not ready for connections after %s", readyTimeout)
	}
	s.clientURL = clientURL(ns)
	return s, nil
}

// clientURL builds the URL from the bound listener, which knows the port picked for RANDOM_PORT.
// A server listening on all interfaces is reached through loopback, because "0.0.0.0" is not
// dialable everywhere.
func clientURL(ns *server.Server) string {
	addr, ok := ns.Addr().(*net.TCPAddr)
	if !ok {
		return ns.ClientURL()
	}
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "nats://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
}

// ClientURL returns the URL clients connect to, such as nats://127.0.0.1:4222. It names the port
// actually bound, so it is the way to learn the port when Options.Port was 0.
func (s *Server) ClientURL() string {
	return s.clientURL
}

// Shutdown stops the server and waits until it has shut down, so that the port and the store
// directory can be reused as soon as it returns. It is safe to call more than once.
func (s *Server) Shutdown() {
	if s == nil {
		return
	}
	s.shutdownOnce.Do(func() {
		s.ns.Shutdown()
		s.ns.WaitForShutdown()
	})
}

// slogLogger adapts a *slog.Logger to nats-server's server.Logger. Unlike the server's own
// loggers, its Fatalf does not exit: an embedding process must decide itself what a failed
// broker means, so the fatal message is recorded for Start to return as an error.
type slogLogger struct {
	l *slog.Logger

	mu    sync.Mutex
	fatal error
}

var _ server.Logger = (*slogLogger)(nil)

func newLogger(l *slog.Logger) *slogLogger {
	return &slogLogger{l: l.With(slog.String("component", "nats-server"))}
}

func (a *slogLogger) log(level slog.Level, format string, v []any) {
	ctx := context.Background()
	if !a.l.Enabled(ctx, level) {
		return
	}
	a.l.Log(ctx, level, fmt.Sprintf(format, v...))
}

// Noticef logs at Debug: the server's notices are its start banner and its routine steps, which
// the embedding process sums up in a line of its own; warnings and errors keep their levels.
func (a *slogLogger) Noticef(format string, v ...any) { a.log(slog.LevelDebug, format, v) }

// Warnf logs at Warn.
func (a *slogLogger) Warnf(format string, v ...any) { a.log(slog.LevelWarn, format, v) }

// Errorf logs at Error.
func (a *slogLogger) Errorf(format string, v ...any) { a.log(slog.LevelError, format, v) }

// Debugf logs at Debug.
func (a *slogLogger) Debugf(format string, v ...any) { a.log(slog.LevelDebug, format, v) }

// Tracef logs at LevelTrace.
func (a *slogLogger) Tracef(format string, v ...any) { a.log(LevelTrace, format, v) }

// Fatalf logs at Error and records the first fatal message; it does not exit.
func (a *slogLogger) Fatalf(format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	a.mu.Lock()
	if a.fatal == nil {
		a.fatal = errors.New(msg)
	}
	a.mu.Unlock()
	a.l.Error(msg, slog.Bool("fatal", true))
}

func (a *slogLogger) fatalError() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fatal
}
