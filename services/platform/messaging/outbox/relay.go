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
// returns. Events of one aggregate keep their order because rows are published in sequence order
// on one connection and a row goes out only once the previous row of its aggregate is
// acknowledged; rows of different aggregates are pipelined (publishAll). On
// PostgreSQL, replicas of a service elect one active relay through an advisory lock.
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

	done, pubErr := r.publishAll(ctx, batch)
	// Mark what was acknowledged even when a later publish failed, so it is not sent again.
	if err := r.markPublished(ctx, done); err != nil {
		return 0, err
	}
	if pubErr != nil {
		return 0, pubErr
	}
	return len(batch), nil
}

// inflight is a publish awaiting its acknowledgement.
type inflight struct {
	seq      int64
	resource string
	ack      jetstream.PubAckFuture
	span     trace.Span
	deadline time.Time
}

// publishAll publishes batch in sequence order, pipelined: a row goes out without waiting for the
// acknowledgements of the rows before it, except those of its own aggregate (resource name),
// whose acknowledgement it waits for first. Publishes leave in sequence order on one connection,
// so the stream takes them in that order; and a row is published only after every earlier row of
// its aggregate was acknowledged, so that a failed publish retried later can never land behind a
// newer event of the same aggregate. At the first failure nothing more goes out; the publishes in
// flight are still awaited. It returns the sequence numbers acknowledged and the first error.
func (r *Relay) publishAll(ctx context.Context, batch []pending) ([]int64, error) {
	done := make([]int64, 0, len(batch))
	var (
		queue    []*inflight              // in flight, in sequence order
		byAggr   = map[string]*inflight{} // the last row in flight of each aggregate
		firstErr error
	)
	// settle waits for the oldest publish in flight.
	settle := func() {
		f := queue[0]
		queue = queue[1:]
		if byAggr[f.resource] == f {
			delete(byAggr, f.resource)
		}
		err := r.await(ctx, f)
		if err != nil {
			r.metrics.Add(ctx, MetricPublishError, 1)
			if firstErr == nil {
				firstErr = err
			}
			return
		}
		r.metrics.Add(ctx, MetricPublished, 1)
		done = append(done, f.seq)
	}
	for _, p := range batch {
		// An earlier row of the same aggregate must be acknowledged first: settle up to it.
		if prev := byAggr[p.msg.ResourceName]; prev != nil {
			for firstErr == nil && byAggr[p.msg.ResourceName] == prev {
				settle()
			}
		}
		if firstErr != nil {
			break
		}
		f, err := r.publishAsync(ctx, p)
		if err != nil {
			r.metrics.Add(ctx, MetricPublishError, 1)
			firstErr = err
			break
		}
		queue = append(queue, f)
		byAggr[f.resource] = f
	}
	for len(queue) > 0 {
		settle()
	}
	return done, firstErr
}

// publishAsync sends the row's message without waiting for its acknowledgement.
func (r *Relay) publishAsync(ctx context.Context, p pending) (*inflight, error) {
	m := p.msg
	msg := m.NATSMsg()
	f := &inflight{seq: p.seq, resource: m.ResourceName, deadline: time.Now().Add(r.opts.PublishTimeout)}
	if m.TraceParent != "" {
		// The publish joins the trace of the request that wrote the event, and the message
		// carries the publish span's context, so that consumers continue from it. Without a
		// recording tracer the span is the stored context itself and the header is unchanged.
		_, f.span = r.startSpan(ctx, m, msg.Header)
	}
	var opts []jetstream.PublishOpt
	if r.opts.Stream != "" {
		opts = append(opts, jetstream.WithExpectStream(r.opts.Stream))
	}
	ack, err := r.js.PublishMsgAsync(msg, opts...)
	if err != nil {
		err = fmt.Errorf("publish %s %s: %w", m.Subject, m.ID, err)
		f.fail(err)
		return nil, err
	}
	f.ack = ack
	return f, nil
}

// await waits for f's acknowledgement, until its deadline or ctx ends.
func (r *Relay) await(ctx context.Context, f *inflight) error {
	t := time.NewTimer(time.Until(f.deadline))
	defer t.Stop()
	var err error
	m := f.ack.Msg()
	select {
	case <-f.ack.Ok():
	case err = <-f.ack.Err():
	case <-t.C:
		err = context.DeadlineExceeded
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		err = fmt.Errorf("publish %s %s: %w", m.Subject, m.Header.Get(events.HeaderID), err)
		f.fail(err)
		return err
	}
	if f.span != nil {
		f.span.End()
	}
	return nil
}

func (f *inflight) fail(err error) {
	if f.span == nil {
		return
	}
	f.span.RecordError(err)
	f.span.SetStatus(codes.Error, "publish failed")
	f.span.End()
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
