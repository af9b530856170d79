package consumer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/quarterdeck/quarterdeck/services/platform/internal/retry"
)

// Outcomes of one delivery, as recorded in the inbox and counted in metrics.
const (
	outcomeApplied   = "applied"   // the handler's effect committed
	outcomeDuplicate = "duplicate" // the inbox already had the event: no second effect
	outcomeStale     = "stale"     // an equal or newer version of the resource was applied before
	outcomeFailed    = "failed"    // the handler failed; the event is delivered again later
	outcomeDead      = "dead_lettered"
	outcomeIgnored   = "ignored" // a type the consumer ignores (Spec.Ignore): acknowledged, not applied nor kept
)

// headerCarrier reads and writes the W3C trace context in NATS headers, whose keys are case
// sensitive (propagation.HeaderCarrier would canonicalise "traceparent" to "Traceparent").
type headerCarrier nats.Header

func (c headerCarrier) Get(key string) string { return nats.Header(c).Get(key) }
func (c headerCarrier) Set(key, value string) { nats.Header(c).Set(key, value) }
func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

// startSpan starts the span of handling an event. A delivery's span is a child of the trace that
// published the event; a replay's span stays in the trace of the replay call and links to it.
func (r *Runtime) startSpan(ctx context.Context, rn *runner, subject string, h nats.Header, op string) (context.Context, trace.Span) {
	var opts []trace.SpanStartOption
	if h != nil {
		producer := propagation.TraceContext{}.Extract(context.Background(), headerCarrier(h))
		if op == "replay" {
			opts = append(opts, trace.WithLinks(trace.LinkFromContext(producer)))
		} else {
			ctx = trace.ContextWithRemoteSpanContext(ctx, trace.SpanContextFromContext(producer))
		}
	}
	return r.tracer.Start(ctx, rn.spec.Name+" "+op, append(opts,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.destination.name", subject),
			attribute.String("messaging.consumer.group.name", rn.durable),
			attribute.String("messaging.message.id", h.Get("ce-id")),
		))...)
}

// delivery is one message being handled: its decoded event, the span and logger of handling it,
// and err, set when it cannot be decoded.
type delivery struct {
	msg     jetstream.Msg
	ctx     context.Context
	span    trace.Span
	log     *slog.Logger
	ev      Event
	attempt int
	err     error
}

// prepare decodes msg and starts the span of handling it; the caller ends d.span.
func (r *Runtime) prepare(ctx context.Context, rn *runner, q queued) *delivery {
	msg := q.msg
	d := &delivery{msg: msg, attempt: 1}
	streamSeq := uint64(0)
	if md, err := msg.Metadata(); err == nil {
		d.attempt, streamSeq = int(md.NumDelivered), md.Sequence.Stream
	}
	h := msg.Headers()
	if h == nil {
		h = nats.Header{}
	}
	d.ctx, d.span = r.startSpan(ctx, rn, msg.Subject(), h, "process")
	d.span.SetAttributes(attribute.Int("messaging.nats.delivery_attempt", d.attempt))
	if d.attempt > 1 {
		r.metrics.redelivery(d.ctx, rn)
	}
	d.log = r.log.With("consumer", rn.spec.Name, "subject", msg.Subject(), "attempt", d.attempt)
	if !q.decoded {
		q.decode()
	}
	d.ev, d.err = q.ev, q.err
	d.ev.Attempt, d.ev.Sequence = d.attempt, streamSeq
	if d.err != nil {
		if d.ev.ID == "" {
			d.ev.ID = fmt.Sprintf("%s-%d", rn.stream, streamSeq)
		}
		d.err = Permanent(d.err)
	}
	return d
}

// deliverBatch handles msgs, consecutive messages of one consumer in stream order. Two or more
// are first applied in one transaction, each event with its inbox row and version check as if
// alone and in their order, and acknowledged once it commits: one commit for the lot. If any of
// them fails there (a handler error, a conflict that outlasted the retries, an event that cannot
// be decoded), nothing of that transaction remains and each event is then applied alone, in order,
// exactly as a single delivery is, so that a failure is retried, dead-lettered and logged as an
// event of its own and the others are not held back by it.
func (r *Runtime) deliverBatch(ctx context.Context, rn *runner, msgs []queued) {
	ds := make([]*delivery, len(msgs))
	for i, q := range msgs {
		ds[i] = r.prepare(ctx, rn, q)
	}
	defer func() {
		for _, d := range ds {
			d.span.End()
		}
	}()
	if len(ds) > 1 && r.applyBatch(ctx, rn, ds) {
		return
	}
	for _, d := range ds {
		if d.err != nil {
			r.settle(rn, d, "", d.err)
			continue
		}
		outcome, err := r.apply(d.ctx, rn, d.ev)
		r.settle(rn, d, outcome, err)
	}
}

// applyBatch applies ds in one transaction and settles them if it commits; it reports whether it
// did. Nothing is settled when it returns false.
func (r *Runtime) applyBatch(ctx context.Context, rn *runner, ds []*delivery) bool {
	for _, d := range ds {
		if d.err != nil {
			return false
		}
	}
	outcomes := make([]string, len(ds))
	err := r.db.InTx(ctx, func(tx *sql.Tx) error {
		for i, d := range ds {
			outcome, err := r.applyTx(d.ctx, tx, rn, d.ev)
			if err != nil {
				return err
			}
			outcomes[i] = outcome
		}
		return nil
	})
	if err != nil {
		if ctx.Err() == nil {
			r.log.DebugContext(ctx, "batch not applied; applying its events one by one", "consumer", rn.spec.Name, "events", len(ds), "error", err)
		}
		return false
	}
	for i, d := range ds {
		r.settle(rn, d, outcomes[i], nil)
	}
	return true
}

// settle acknowledges a delivery whose event was applied (err nil), or retries or dead-letters it.
func (r *Runtime) settle(rn *runner, d *delivery, outcome string, err error) {
	ctx, log, ev, msg, attempt := d.ctx, d.log, d.ev, d.msg, d.attempt
	if err == nil {
		// An ack that gets lost only causes a redelivery, which the inbox absorbs.
		if aerr := msg.Ack(); aerr != nil {
			log.WarnContext(ctx, "ack failed; the event will be delivered again", "event_id", ev.ID, "error", aerr)
		}
		r.metrics.outcome(ctx, rn, outcome)
		if outcome == outcomeStale {
			log.InfoContext(ctx, "stale event skipped", "event_id", ev.ID, "resource", ev.Resource, "version", ev.Version)
		}
		return
	}
	span := d.span
	span.RecordError(err)
	span.SetStatus(codes.Error, "handler failed")
	if ctx.Err() != nil {
		// Stopped abruptly: JetStream delivers the event again after AckWait.
		return
	}
	if !retry.IsPermanent(err) && attempt < r.settings.MaxDeliver {
		delay := r.settings.Backoff(attempt)
		log.WarnContext(ctx, "handler failed; will retry", "event_id", ev.ID, "error", err, "retry_in", delay)
		r.metrics.outcome(ctx, rn, outcomeFailed)
		if nerr := msg.NakWithDelay(delay); nerr != nil {
			log.WarnContext(ctx, "nak failed; the event will be delivered again after the ack wait", "error", nerr)
		}
		return
	}
	if derr := r.writeDeadLetter(ctx, rn, ev, err, attempt); derr != nil {
		// Keep the event in JetStream: the next delivery tries the dead letter again.
		log.ErrorContext(ctx, "could not record a dead letter; will retry", "event_id", ev.ID, "error", derr)
		r.metrics.outcome(ctx, rn, outcomeFailed)
		_ = msg.NakWithDelay(r.settings.Backoff(attempt))
		return
	}
	log.ErrorContext(ctx, "event dead-lettered", "event_id", ev.ID, "type", ev.Type, "error", err)
	r.metrics.outcome(ctx, rn, outcomeDead)
	if terr := msg.Term(); terr != nil {
		log.WarnContext(ctx, "term failed; a redelivery will update the dead letter", "error", terr)
	}
}

const (
	insertInboxSQL = `INSERT INTO consumer_inbox (consumer, event_id, outcome, resource_name, aggregate_version, processed_at)
	VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (consumer, event_id) DO NOTHING`
	staleInboxSQL = `UPDATE consumer_inbox SET outcome = $3 WHERE consumer = $1 AND event_id = $2`
	// The version moves only forward; on PostgreSQL the upsert locks the resource's row until
	// commit, so two replicas cannot both apply versions of one resource out of order.
	advanceVersionSQL = `INSERT INTO consumer_versions (consumer, resource_name, aggregate_version)
	VALUES ($1, $2, $3)
	ON CONFLICT (consumer, resource_name) DO UPDATE SET aggregate_version = excluded.aggregate_version
	WHERE consumer_versions.aggregate_version < excluded.aggregate_version`
)

// apply runs the handler for ev in a transaction with the inbox and the version check.
func (r *Runtime) apply(ctx context.Context, rn *runner, ev Event) (outcome string, err error) {
	err = r.db.InTx(ctx, func(tx *sql.Tx) error {
		var err error
		outcome, err = r.applyTx(ctx, tx, rn, ev)
		return err
	})
	return outcome, err
}

// applyTx records ev in the inbox, checks its version and runs the handler, all within tx.
func (r *Runtime) applyTx(ctx context.Context, tx *sql.Tx, rn *runner, ev Event) (string, error) {
	res, err := tx.ExecContext(ctx, insertInboxSQL, rn.spec.Name, ev.ID, "APPLIED", ev.Resource, ev.Version,
		time.Now().UTC())
	if err != nil {
		return "", fmt.Errorf("consumer inbox: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return "", fmt.Errorf("consumer inbox: %w", err)
	} else if n == 0 {
		return outcomeDuplicate, nil
	}
	if ev.Resource != "" && ev.Version > 0 {
		res, err := tx.ExecContext(ctx, advanceVersionSQL, rn.spec.Name, ev.Resource, ev.Version)
		if err != nil {
			return "", fmt.Errorf("consumer version: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return "", fmt.Errorf("consumer version: %w", err)
		} else if n == 0 {
			if _, err := tx.ExecContext(ctx, staleInboxSQL, rn.spec.Name, ev.ID, "STALE"); err != nil {
				return "", fmt.Errorf("consumer inbox: %w", err)
			}
			return outcomeStale, nil
		}
	}
	if err := callHandler(ctx, rn.spec.Handler, tx, ev); err != nil {
		return "", err
	}
	return outcomeApplied, nil
}

// errPanic reports a handler that panicked; the panic is contained like any handler error.
var errPanic = errors.New("handler panicked")

func callHandler(ctx context.Context, h Handler, tx *sql.Tx, ev Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v", errPanic, p)
		}
	}()
	return h(ctx, tx, ev)
}
