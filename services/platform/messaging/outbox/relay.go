package outbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/quarterdeck/quarterdeck/services/platform/internal/leader"
	"github.com/quarterdeck/quarterdeck/services/platform/internal/queuegauge"
	"github.com/quarterdeck/quarterdeck/services/platform/internal/settings"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// RelayOptions tunes a Relay. Zero values take the defaults in brackets.
type RelayOptions struct {
	// Stream is the JetStream stream the events must land in; a publish that no stream or another
	// stream would take fails and is retried.
	Stream string
	// Name identifies the relay in logs and in the PostgreSQL advisory lock (the service domain).
	Name string
	// BatchSize is how many pending rows one pass reads [256].
	BatchSize int
	// PollInterval is how often the relay looks for rows that other replicas wrote [1s]; rows
	// written through this process wake it at once.
	PollInterval time.Duration
	// MinInterval is the least time between the starts of two passes [10ms]: while rows keep
	// arriving, the relay lets them gather for a few milliseconds instead of reading and marking
	// each commit's row in statements (and, for the mark, a commit) of their own, which compete
	// with the writers. An idle relay woken by a commit publishes at once.
	MinInterval time.Duration
	// PublishTimeout bounds one publish and its acknowledgement [5s].
	PublishTimeout time.Duration
	// Retention is how long published rows are kept before pruning [24h]. It must outlive the
	// stream's duplicate window so a re-publish after a crash is still deduplicated.
	Retention time.Duration
	// MaxBackoff caps the wait between retries while NATS is unreachable [10s].
	MaxBackoff time.Duration
	Logger     *slog.Logger
	// MeterProvider receives the relay's metrics (see metrics.go) [the global provider].
	MeterProvider metric.MeterProvider
	// TracerProvider records a producer span per publish of an event that carries a trace
	// context [the global provider].
	TracerProvider trace.TracerProvider
}

// Relay publishes outbox rows to JetStream in sequence order and marks each row published only
// after its PubAck, so an event is never lost: rows wait while NATS is down and go out when it
// returns. On PostgreSQL, replicas of a service elect one active relay through an advisory lock.
//
// Events keep the outbox's order in the stream. A pass whose stream position is known publishes
// its rows without waiting for each acknowledgement, each expecting the stream's last sequence to
// be the one its predecessor got (Nats-Expected-Last-Sequence): a row that was not stored makes
// every row after it fail instead of landing after a gap, so the stream never holds an event
// before one that precedes it in the outbox. The relay is the stream's only writer, so the
// expectation fails only when a row was not stored or was a duplicate (a re-publish after a
// crash); the rest of the pass then goes one row at a time, each acknowledged before the next,
// as every pass does while the position is unknown (the first, and after any failure).
//
// Delivery is at least once: a crash between PubAck and marking re-publishes the row with the same
// Nats-Msg-Id, which JetStream drops within its duplicate window.
type Relay struct {
	db     *sqldb.DB
	js     jetstream.JetStream
	opts   RelayOptions
	log    *slog.Logger
	tracer trace.Tracer

	loop      *leader.Loop
	lastPrune time.Time
	metrics   *queuegauge.Set
	// lastSeq is the stream's last sequence as this relay's last acknowledged publish left it,
	// 0 when unknown (before the first publish, after a failure or a duplicate). Only the loop's
	// goroutine touches it.
	lastSeq uint64
}

// NewRelay returns a relay for the outbox of db.
func NewRelay(db *sqldb.DB, js jetstream.JetStream, opts RelayOptions) *Relay {
	settings.Default(&opts.BatchSize, 256)
	settings.Default(&opts.PollInterval, time.Second)
	settings.Default(&opts.MinInterval, 10*time.Millisecond)
	settings.Default(&opts.PublishTimeout, 5*time.Second)
	settings.Default(&opts.Retention, 24*time.Hour)
	settings.Default(&opts.MaxBackoff, 10*time.Second)
	settings.Logger(&opts.Logger)
	if opts.TracerProvider == nil {
		opts.TracerProvider = otel.GetTracerProvider()
	}
	r := &Relay{
		db:     db,
		js:     js,
		opts:   opts,
		log:    opts.Logger.With("component", "outbox-relay", "relay", opts.Name),
		tracer: opts.TracerProvider.Tracer("github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"),
	}
	r.loop = leader.New(db, leader.Config{
		What: "outbox relay", Kind: "quarterdeck-outbox-relay", Name: opts.Name,
		Pass: r.publishBatch, BatchSize: opts.BatchSize, Idle: r.prune, Failed: "publish failed; retrying",
		PollInterval: opts.PollInterval, StandbyPolls: 5, MinInterval: opts.MinInterval,
		FirstBackoff: 100 * time.Millisecond, MaxBackoff: opts.MaxBackoff, Logger: r.log,
	})
	return r
}

// Notify wakes the relay because new rows were committed. It never blocks.
func (r *Relay) Notify() { r.loop.Notify() }

// Run publishes until ctx is cancelled or Shutdown has drained the outbox. It returns nil on a
// normal stop.
func (r *Relay) Run(ctx context.Context) error {
	m, err := newRelayMetrics(r)
	if err != nil {
		r.log.Warn("outbox relay runs without metrics", "error", err)
	}
	r.metrics = m
	defer m.Close()
	return r.loop.Run(ctx)
}

// Shutdown asks Run to publish what is pending and return. It waits until Run has returned or ctx
// is done; the caller cancels Run's context afterwards in either case.
func (r *Relay) Shutdown(ctx context.Context) error {
	if err := r.loop.Shutdown(ctx); err != nil {
		return fmt.Errorf("outbox relay %s: drain: %w", r.opts.Name, err)
	}
	return nil
}

const selectPendingSQL = `SELECT seq, event_id, subject, event_type, source, resource_name,
	aggregate_version, event_time, payload, traceparent, tracestate
	FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT $1`

type pending struct {
	seq int64
	msg Message
}

// publishBatch publishes up to BatchSize pending rows and returns how many it read.
func (r *Relay) publishBatch(ctx context.Context) (int, error) {
	rows, err := r.db.QueryContext(ctx, selectPendingSQL, r.opts.BatchSize)
	if err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	var batch []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.seq, &p.msg.ID, &p.msg.Subject, &p.msg.Type, &p.msg.Source,
			&p.msg.ResourceName, &p.msg.AggregateVersion, &p.msg.Time, &p.msg.Payload,
			&p.msg.TraceParent, &p.msg.TraceState); err != nil {
			rows.Close()
			return 0, fmt.Errorf("read outbox: %w", err)
		}
		batch = append(batch, p)
	}
	if err := rows.Close(); err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("read outbox: %w", err)
	}

	done := make([]int64, 0, len(batch))
	rest := batch
	var pubErr error
	if r.lastSeq > 0 {
		var n int
		n, pubErr = r.publishPipelined(ctx, batch)
		for _, p := range batch[:n] {
			done = append(done, p.seq)
		}
		rest = batch[n:]
		r.metrics.Add(ctx, MetricPublished, int64(n))
	}
	if pubErr == nil {
		for _, p := range rest {
			if pubErr = r.publish(ctx, p.msg); pubErr != nil {
				break
			}
			r.metrics.Add(ctx, MetricPublished, 1)
			done = append(done, p.seq)
		}
	}
	if pubErr != nil {
		r.metrics.Add(ctx, MetricPublishError, 1)
	}
	// Mark what was acknowledged even when a later publish failed, so it is not sent again.
	if err := r.markPublished(ctx, done); err != nil {
		return 0, err
	}
	if pubErr != nil {
		return 0, pubErr
	}
	return len(batch), nil
}

// publish publishes m and waits for its acknowledgement.
func (r *Relay) publish(ctx context.Context, m Message) error {
	msg, span := r.message(ctx, m)
	ctx, cancel := context.WithTimeout(ctx, r.opts.PublishTimeout)
	defer cancel()
	ack, err := r.js.PublishMsg(ctx, msg, r.publishOpts()...)
	r.moved(ack, err)
	endSpan(span, err)
	if err != nil {
		return fmt.Errorf("publish %s %s: %w", m.Subject, m.ID, err)
	}
	return nil
}

// publishPipelined publishes the rows of batch without waiting between them, each expecting the
// stream's last sequence its predecessor leaves, then waits for the acknowledgements in order. It
// returns how many rows from the start of batch were stored. A row refused for the expected
// sequence (because one before it was not stored, or was a duplicate) is not an error: the caller
// publishes the rest one at a time. Any other failure is returned.
func (r *Relay) publishPipelined(ctx context.Context, batch []pending) (int, error) {
	type inFlight struct {
		f    jetstream.PubAckFuture
		span trace.Span
	}
	flights := make([]inFlight, 0, len(batch))
	defer func() {
		for _, fl := range flights {
			endSpan(fl.span, nil)
		}
	}()
	var sendErr error
	for i, p := range batch {
		msg, span := r.message(ctx, p.msg)
		opts := append(r.publishOpts(), jetstream.WithExpectLastSequence(r.lastSeq+uint64(i)))
		f, err := r.js.PublishMsgAsync(msg, opts...)
		if err != nil {
			endSpan(span, err)
			sendErr = fmt.Errorf("publish %s %s: %w", p.msg.Subject, p.msg.ID, err)
			break
		}
		flights = append(flights, inFlight{f: f, span: span})
	}
	timeout := time.NewTimer(r.opts.PublishTimeout)
	defer timeout.Stop()
	for i, fl := range flights {
		var (
			ack *jetstream.PubAck
			err error
		)
		select {
		case ack = <-fl.f.Ok():
		case err = <-fl.f.Err():
		case <-timeout.C:
			err = fmt.Errorf("no acknowledgement within %s", r.opts.PublishTimeout)
		case <-ctx.Done():
			err = ctx.Err()
		}
		r.moved(ack, err)
		if err != nil {
			m := batch[i].msg
			if wrongLastSequence(err) {
				return i, nil
			}
			return i, fmt.Errorf("publish %s %s: %w", m.Subject, m.ID, err)
		}
		if ack.Duplicate {
			// Stored before (a re-publish after a crash): the stream did not move, so every row
			// after it expects a sequence the stream does not have, and is refused.
			return i + 1, nil
		}
	}
	return len(flights), sendErr
}

// moved records where a publish left the stream: its sequence after a new message is stored,
// unknown after a duplicate (which stores nothing) or a failure.
func (r *Relay) moved(ack *jetstream.PubAck, err error) {
	if err != nil || ack == nil || ack.Duplicate {
		r.lastSeq = 0
		return
	}
	r.lastSeq = ack.Sequence
}

func wrongLastSequence(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

func (r *Relay) publishOpts() []jetstream.PublishOpt {
	if r.opts.Stream == "" {
		return nil
	}
	return []jetstream.PublishOpt{jetstream.WithExpectStream(r.opts.Stream)}
}

// message returns m as a NATS message and, when m carries a trace context, the producer span of
// its publish: the publish joins the trace of the request that wrote the event, and the message
// carries the publish span's context, so that consumers continue from it. Without a recording
// tracer the span is the stored context itself and the header is unchanged.
func (r *Relay) message(ctx context.Context, m Message) (*nats.Msg, trace.Span) {
	msg := m.NATSMsg()
	if m.TraceParent == "" {
		return msg, nil
	}
	_, span := r.startSpan(ctx, m, msg.Header)
	return msg, span
}

func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
	}
	span.End()
}

// startSpan starts the producer span of publishing m, a child of the trace context stored with
// m, and writes the span's context into the message headers h.
func (r *Relay) startSpan(ctx context.Context, m Message, h nats.Header) (context.Context, trace.Span) {
	stored := propagation.MapCarrier{"traceparent": m.TraceParent}
	if m.TraceState != "" {
		stored["tracestate"] = m.TraceState
	}
	parent := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), stored))
	if !parent.IsValid() {
		// A malformed stored context travels as it is; the publish does not start a trace.
		return ctx, trace.SpanFromContext(context.Background())
	}
	ctx, span := r.tracer.Start(trace.ContextWithRemoteSpanContext(ctx, parent), "publish "+m.Subject,
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.operation.name", "publish"),
			attribute.String("messaging.destination.name", m.Subject),
			attribute.String("messaging.message.id", m.ID),
		))
	out := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, out)
	if tp := out.Get("traceparent"); tp != "" {
		h.Set(events.HeaderTraceParent, tp)
	}
	return ctx, span
}

func (r *Relay) markPublished(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	var b strings.Builder
	args := make([]any, 0, len(seqs)+1)
	args = append(args, time.Now().UTC())
	b.WriteString("UPDATE outbox SET published_at = $1 WHERE seq IN (")
	for i, s := range seqs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("$" + strconv.Itoa(i+2))
		args = append(args, s)
	}
	b.WriteByte(')')
	// Detached from ctx: rows that JetStream acknowledged are marked even while shutting down,
	// which keeps re-publishing after a restart to a minimum.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := r.db.ExecContext(mctx, b.String(), args...); err != nil {
		return fmt.Errorf("mark outbox rows published: %w", err)
	}
	return nil
}

const pruneSQL = `DELETE FROM outbox WHERE seq IN (
	SELECT seq FROM outbox WHERE published_at IS NOT NULL AND published_at < $1 LIMIT 1000)`

// prune deletes published rows older than the retention, at most every minute.
func (r *Relay) prune(ctx context.Context) {
	if time.Since(r.lastPrune) < time.Minute {
		return
	}
	r.lastPrune = time.Now()
	cutoff := time.Now().UTC().Add(-r.opts.Retention)
	for {
		res, err := r.db.ExecContext(ctx, pruneSQL, cutoff)
		if err != nil {
			r.log.Warn("prune outbox", "error", err)
			return
		}
		if n, _ := res.RowsAffected(); n < 1000 {
			return
		}
	}
}

// Pending reports how many events wait in the outbox and when the oldest of them happened.
func Pending(ctx context.Context, db *sqldb.DB) (count int64, oldest time.Time, err error) {
	var t sql.NullTime
	if err := db.QueryRowContext(ctx,
		`SELECT COUNT(*) FROM outbox WHERE published_at IS NULL`).Scan(&count); err != nil {
		return 0, time.Time{}, fmt.Errorf("outbox backlog: %w", err)
	}
	if count == 0 {
		return 0, time.Time{}, nil
	}
	if err := db.QueryRowContext(ctx,
		`SELECT event_time FROM outbox WHERE published_at IS NULL ORDER BY seq LIMIT 1`).Scan(&t); err != nil &&
		!errors.Is(err, sql.ErrNoRows) {
		return 0, time.Time{}, fmt.Errorf("outbox backlog: %w", err)
	}
	return count, t.Time.UTC(), nil
}
