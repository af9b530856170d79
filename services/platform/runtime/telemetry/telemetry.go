// Package telemetry sets up what every Quarterdeck process reports about itself: JSON logs that
// carry trace ids, OpenTelemetry traces (exported over OTLP when an endpoint is configured) with
// W3C trace-context propagation, and metrics exposed in Prometheus text format.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"
)

// Config is the telemetry part of every binary's configuration.
type Config struct {
	LogLevel     string `env:"LOG_LEVEL" default:"info" help:"log level: debug, info, warn or error"`
	OTLPEndpoint string `env:"OTLP_ENDPOINT" help:"OTLP/gRPC endpoint for traces, e.g. http://otel-collector:4317 (empty: traces are not exported)"`
}

// NewLogger returns a JSON logger writing to w at the named level. Records logged with a context
// that carries a span get its trace_id and span_id, so logs and traces can be joined.
func NewLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l})
	return slog.New(traceHandler{h}), nil
}

type traceHandler struct{ slog.Handler }

func (h traceHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

func (h traceHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return traceHandler{h.Handler.WithAttrs(as)}
}
func (h traceHandler) WithGroup(name string) slog.Handler {
	return traceHandler{h.Handler.WithGroup(name)}
}

// Telemetry is the process-wide telemetry set up by Setup.
type Telemetry struct {
	// Metrics serves the process's metrics in Prometheus text format (mount it at /metrics).
	Metrics http.Handler

	shutdown []func(context.Context) error
}

// Setup installs the global tracer provider, meter provider and propagator for a process named
// service. It is called once per process, before any server starts.
func Setup(ctx context.Context, service, version string, cfg Config) (*Telemetry, error) {
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		semconv.ServiceName(service), semconv.ServiceVersion(version)))
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	t := &Telemetry{}

	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	if cfg.OTLPEndpoint != "" {
		opt := otlptracegrpc.WithEndpointURL(cfg.OTLPEndpoint)
		if !strings.Contains(cfg.OTLPEndpoint, "://") {
			opt = otlptracegrpc.WithEndpoint(cfg.OTLPEndpoint)
		}
		exp, err := otlptracegrpc.New(ctx, opt)
		if err != nil {
			return nil, fmt.Errorf("OTLP trace exporter: %w", err)
		}
		tpOpts = append(tpOpts, sdktrace.WithBatcher(exp))
	}
	// Without an exporter spans are still created, so trace ids reach logs and NATS headers.
	tp := sdktrace.NewTracerProvider(tpOpts...)
	t.shutdown = append(t.shutdown, tp.Shutdown)
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))

	mp, metrics, err := NewMeterProvider(res)
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	t.shutdown = append(t.shutdown, mp.Shutdown)
	otel.SetMeterProvider(mp)
	t.Metrics = metrics
	return t, nil
}

// Shutdown flushes pending spans and metrics.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for i := len(t.shutdown) - 1; i >= 0; i-- {
		errs = append(errs, t.shutdown[i](ctx))
	}
	return errors.Join(errs...)
}
