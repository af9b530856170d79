package consumer_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	promexporter "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestTraceContinuesFromProducer follows one event from the request that wrote it, through the
// outbox relay and NATS, to the consumer: the consumer's span is a child of the request's span.
func TestTraceContinuesFromProducer(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	var (
		mu        sync.Mutex
		handlerSC trace.SpanContext
	)
	e.start(t, e.js, fast, func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
		mu.Lock()
		handlerSC = trace.SpanContextFromContext(ctx)
		mu.Unlock()
		return recordEffect(ctx, tx, ev)
	}, func(o *consumer.Options) { o.TracerProvider = tp })

	// The producing request: its span is current while the event is built.
	ctx, request := tp.Tracer("test").Start(context.Background(), "UpdateCostCenter")
	f, err := outbox.NewFactory(e.prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := f.New(ctx, &budgetv1.CostCenterCreated{Version: 1}, "costCenters/a", 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.db.InTx(ctx, func(tx *sql.Tx) error { return outbox.Insert(ctx, tx, m) }); err != nil {
		t.Fatal(err)
	}
	request.End()

	relay := outbox.NewRelay(e.db, e.js, outbox.RelayOptions{Stream: e.stream, Name: "budget", Logger: quiet})
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- relay.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	testkit.Eventually(t, 20*time.Second, func() bool { return effects(t, e.db).rows == 1 })
	want := request.SpanContext()
	var consumerSpan *tracetest.SpanStub
	testkit.Eventually(t, 10*time.Second, func() bool {
		for _, s := range exp.GetSpans() {
			if s.Name == "budget-watch process" {
				consumerSpan = &s
				return true
			}
		}
		return false
	})
	if consumerSpan.SpanContext.TraceID() != want.TraceID() {
		t.Fatalf("consumer span trace id = %s, want the request's %s", consumerSpan.SpanContext.TraceID(), want.TraceID())
	}
	if consumerSpan.Parent.SpanID() != want.SpanID() || !consumerSpan.Parent.IsRemote() {
		t.Fatalf("consumer span parent = %s, want the request span %s (remote)", consumerSpan.Parent.SpanID(), want.SpanID())
	}
	if consumerSpan.SpanKind != trace.SpanKindConsumer {
		t.Fatalf("consumer span kind = %s", consumerSpan.SpanKind)
	}
	mu.Lock()
	defer mu.Unlock()
	if handlerSC.TraceID() != want.TraceID() || handlerSC.SpanID() != consumerSpan.SpanContext.SpanID() {
		t.Fatalf("handler context span = %s/%s, want the consumer span", handlerSC.TraceID(), handlerSC.SpanID())
	}
}

// TestMetrics scrapes the consumer metrics through the Prometheus exporter that /metrics uses.
func TestMetrics(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	reg := prometheus.NewRegistry()
	exp, err := promexporter.New(promexporter.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	t.Cleanup(func() { _ = mp.Shutdown(context.Background()) })

	gate := make(chan struct{})
	settings := fast
	settings.MaxAckPending = 5
	e.start(t, e.js, settings, func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
		select {
		case <-gate:
		case <-ctx.Done():
			return ctx.Err()
		}
		if ev.Resource == "costCenters/bad" {
			return consumer.Permanent(errors.New("cannot apply"))
		}
		return recordEffect(ctx, tx, ev)
	}, func(o *consumer.Options) { o.MeterProvider = mp })

	var msgs = e.event(newID(t), "costCenters/bad", 1)
	e.publish(t, msgs, e.event(newID(t), "costCenters/a", 2), e.event(newID(t), "costCenters/a", 1))
	for i := range 47 {
		e.publish(t, e.event(newID(t), fmt.Sprintf("costCenters/n%d", i), 1))
	}
	// The handler is held: the consumer holds MaxAckPending events and the rest is its lag.
	testkit.Eventually(t, 20*time.Second, func() bool {
		g := gather(t, reg)
		return g["quarterdeck_consumer_pending"] == 45 && g["quarterdeck_consumer_ack_pending"] == 5
	})
	close(gate)
	testkit.Eventually(t, 20*time.Second, func() bool {
		g := gather(t, reg)
		return g["quarterdeck_consumer_pending"] == 0 && g["quarterdeck_consumer_ack_pending"] == 0 &&
			g["quarterdeck_consumer_events_total/applied"] == 48
	})
	g := gather(t, reg)
	for name, want := range map[string]float64{
		"quarterdeck_consumer_events_total/stale":         1,
		"quarterdeck_consumer_events_total/dead_lettered": 1,
		"quarterdeck_consumer_dead_letters_pending":       1,
		"quarterdeck_consumer_redelivered":                0,
	} {
		if got, ok := g[name]; !ok || got != want {
			t.Errorf("%s = %v, want %v (all: %v)", name, g[name], want, g)
		}
	}
}

// gather returns the consumer metrics of reg by name, with the outcome appended for the events
// counter.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["consumer"] != "budget-watch" || labels["service"] != "risk" {
				continue
			}
			if o, ok := labels["outcome"]; ok {
				name += "/" + o
			}
			out[name] = value(m)
		}
	}
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	}
	return -1
}
