package outbox_test

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestRelayPublishSpan checks the relay's producer span: a child of the trace context stored with
// the event, carried by the message so that consumers continue from it. Without a recording
// tracer the message carries the stored context unchanged, and an event without a trace context
// gets neither a span nor a header.
func TestRelayPublishSpan(t *testing.T) {
	ns := testenv.NATSServer(t)
	_, js := testenv.Connect(t, ns.URL)
	stream := ensureStream(t, js, ns.SubjectPrefix)
	db := openDB(t, testenv.SQLite(t))

	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	f, err := outbox.NewFactory(ns.SubjectPrefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	reqCtx, request := tp.Tracer("test").Start(context.Background(), "CreateCostCenter")
	request.End()
	traced, err := f.New(reqCtx, &budgetv1.CostCenterCreated{Version: 1}, "costCenters/traced", 1)
	if err != nil {
		t.Fatal(err)
	}
	untraced, err := f.New(context.Background(), &budgetv1.CostCenterCreated{Version: 1}, "costCenters/untraced", 1)
	if err != nil {
		t.Fatal(err)
	}

	// First through a relay without a recording tracer, then through one with.
	publish := func(tp trace.TracerProvider, msgs ...outbox.Message) {
		t.Helper()
		if err := db.InTx(context.Background(), func(tx *sql.Tx) error {
			return outbox.Insert(context.Background(), tx, msgs...)
		}); err != nil {
			t.Fatal(err)
		}
		r := outbox.NewRelay(db, js, outbox.RelayOptions{Stream: stream, Name: "budget", PollInterval: 50 * time.Millisecond,
			Logger: quiet, TracerProvider: tp})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- r.Run(ctx) }()
		waitPublished(t, db)
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = r.Shutdown(sctx)
		cancel()
		<-done
	}
	publish(noop.NewTracerProvider(), traced)
	second := traced
	second.ID = "0190c9a8-0000-7000-8000-000000000002" // a new event, not a duplicate
	publish(tp, second, untraced)

	msgs := readAll(t, js, stream)
	if len(msgs) != 3 {
		t.Fatalf("%d messages in the stream, want 3", len(msgs))
	}
	if got := msgs[0].Headers().Get(events.HeaderTraceParent); got != traced.TraceParent {
		t.Errorf("without a recording tracer: traceparent = %q, want the stored %q", got, traced.TraceParent)
	}
	if got := msgs[2].Headers().Get(events.HeaderTraceParent); got != "" {
		t.Errorf("event without a trace context: traceparent = %q, want none", got)
	}

	var producers []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.SpanKind() == trace.SpanKindProducer {
			producers = append(producers, s)
		}
	}
	if len(producers) != 1 {
		t.Fatalf("%d producer spans, want 1 (for the traced event through the recording relay)", len(producers))
	}
	span := producers[0]
	want := request.SpanContext()
	if span.Parent().TraceID() != want.TraceID() || span.Parent().SpanID() != want.SpanID() || !span.Parent().IsRemote() {
		t.Errorf("producer span parent = %s/%s, want the request %s/%s (remote)",
			span.Parent().TraceID(), span.Parent().SpanID(), want.TraceID(), want.SpanID())
	}
	if span.Name() != "publish "+second.Subject {
		t.Errorf("producer span name = %q", span.Name())
	}
	sc := span.SpanContext()
	wantHeader := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"
	if got := msgs[1].Headers().Get(events.HeaderTraceParent); got != wantHeader {
		t.Errorf("traceparent = %q, want the producer span's %q", got, wantHeader)
	}
}

// TestRelayBatchPublishSpans checks the producer spans of events published in an atomic batch:
// one per traced event, a child of its stored context, ended once the batch is acknowledged, and
// carried by its message.
func TestRelayBatchPublishSpans(t *testing.T) {
	t.Parallel()
	e := atomicEnv(t, testenv.SQLite(t))
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	f, err := outbox.NewFactory(e.prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 40
	requests := map[string]trace.SpanContext{} // by event ID
	var msgs []outbox.Message
	for i := range n {
		ctx, request := tp.Tracer("test").Start(context.Background(), "CreateCostCenter")
		request.End()
		m, err := f.New(ctx, &budgetv1.CostCenterCreated{Version: 1}, fmt.Sprintf("costCenters/t%d", i), 1)
		if err != nil {
			t.Fatal(err)
		}
		requests[m.ID] = request.SpanContext()
		msgs = append(msgs, m)
	}
	if err := e.db.InTx(context.Background(), func(tx *sql.Tx) error { return outbox.Insert(context.Background(), tx, msgs...) }); err != nil {
		t.Fatal(err)
	}
	runRelayWith(t, e.db, e.js, outbox.RelayOptions{Stream: e.stream, AtomicBatches: true, PollInterval: 50 * time.Millisecond,
		TracerProvider: tp})
	waitPublished(t, e.db)

	spans := map[string]sdktrace.ReadOnlySpan{} // by event ID
	for _, s := range rec.Ended() {
		if s.SpanKind() != trace.SpanKindProducer {
			continue
		}
		for _, a := range s.Attributes() {
			if a.Key == "messaging.message.id" {
				spans[a.Value.AsString()] = s
			}
		}
	}
	stored := readAll(t, e.js, e.stream)
	if len(stored) != n || len(spans) != n {
		t.Fatalf("%d messages and %d producer spans; want %d of each", len(stored), len(spans), n)
	}
	for _, m := range stored {
		id := m.Headers().Get(events.HeaderID)
		span, request := spans[id], requests[id]
		if m.Headers().Get(events.HeaderBatchID) == "" {
			t.Fatalf("event %s went out alone; want it in the batch", id)
		}
		if span.Parent().SpanID() != request.SpanID() || span.Parent().TraceID() != request.TraceID() {
			t.Errorf("event %s: producer span's parent %s, want its request %s", id, span.Parent().SpanID(), request.SpanID())
		}
		sc := span.SpanContext()
		if got, want := m.Headers().Get(events.HeaderTraceParent), "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-01"; got != want {
			t.Errorf("event %s: traceparent %q, want its producer span's %q", id, got, want)
		}
	}
}
