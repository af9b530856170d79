package outbox

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
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
	// BatchSize is how many pending rows a pass reads first [256]; while its reads come back full
	// (a backlog), it reads on in up to maxReadFactor times as many at once (publishBatch).
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
	// FirstBackoff is the wait after a failed pass [100ms]; it doubles with every failure, up to
	// MaxBackoff, the cap on the wait between retries while NATS is unreachable [10s]. A commit
	// that leaves work, and the connection's return after an outage, cut a wait short.
	FirstBackoff, MaxBackoff time.Duration
	Logger                   *slog.Logger
	// MeterProvider receives the relay's metrics (see metrics.go) [the global provider].
	MeterProvider metric.MeterProvider
	// TracerProvider records a producer span per publish of an event that carries a trace
	// context [the global provider].
	TracerProvider trace.TracerProvider
	// AtomicBatches says that the stream takes atomic batch publishes (events.AtomicBatches of
	// the stream EnsureStream returned): a read of minAtomicBatch rows or more then goes out as
	// atomic batches (publishAtomic) rather than one publish per row.
	AtomicBatches bool
}

// Relay publishes outbox rows to JetStream in sequence order and marks each row published only
// after its PubAck, so an event is never lost: rows wait while NATS is down and go out when it
// returns. Events of one aggregate keep their order because rows are published in sequence order
// on one connection and a row goes out only once the previous row of its aggregate is
// acknowledged; rows of different aggregates are pipelined (pipeline). On
// PostgreSQL, replicas of a service elect one active relay through an advisory lock.
//
// Delivery is at least once: a crash between PubAck and marking re-publishes the row with the same
// Nats-Msg-Id, which JetStream drops within its duplicate window.
//
// On a stream that takes atomic batch publishes (RelayOptions.AtomicBatches), a read of
// minAtomicBatch rows or more — a backlog, a burst — goes out in atomic batches: JetStream stores
// a batch's events all or none, in the batch's (sequence) order, and syncs them once, so that
// neither a failed publish nor one aggregate's events waiting for each other's acknowledgements
// hold the rest up. A batch that JetStream refuses stores nothing, and its rows then go out one by
// one: that is how a re-published batch holding an event stored already (refused whole, as a
// duplicate) is deduplicated event by event.
type Relay struct {
	db     *sqldb.DB
	js     jetstream.JetStream
	opts   RelayOptions
	log    *slog.Logger
	tracer trace.Tracer

	loop      *leader.Loop
	pubOpts   []jetstream.PublishOpt
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
	settings.Default(&opts.FirstBackoff, 100*time.Millisecond)
	settings.Default(&opts.MaxBackoff, 10*time.Second)
	opts.MaxBackoff = max(opts.MaxBackoff, opts.FirstBackoff)
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
	if opts.Stream != "" {
		r.pubOpts = []jetstream.PublishOpt{jetstream.WithExpectStream(opts.Stream)}
	}
	r.loop = leader.New(db, leader.Config{
		What: "outbox relay", Kind: "quarterdeck-outbox-relay", Name: opts.Name,
		Pass: r.publishBatch, BatchSize: opts.BatchSize, Idle: r.prune, Failed: "publish failed; retrying",
		PollInterval: opts.PollInterval, StandbyPolls: 5, MinInterval: opts.MinInterval,
		FirstBackoff: opts.FirstBackoff, MaxBackoff: opts.MaxBackoff, Logger: r.log,
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
	// The connection's return ends the outage the relay may be waiting out in its backoff, up to
	// MaxBackoff after the server is back: what waited goes out at once instead, even when no
	// commit comes to wake the relay.
	if nc := r.js.Conn(); nc != nil {
		back := nc.StatusChanged(nats.CONNECTED)
		defer nc.RemoveStatusListener(back)
		go func() {
			for range back {
				r.Notify()
			}
		}()
	}
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

// selectPendingSQL reads the pending rows after a sequence number, in sequence order.
const selectPendingSQL = `SELECT seq, event_id, subject, event_type, source, resource_name,
	aggregate_version, event_time, payload, traceparent, tracestate
	FROM outbox WHERE published_at IS NULL AND seq > $1 ORDER BY seq LIMIT $2`

// maxReadFactor bounds how far a pass that keeps finding full reads grows them: up to this many
// times BatchSize rows in one read (and so in flight at once, well under the JetStream client's
// limit of pending asynchronous publishes).
const maxReadFactor = 4

// maxReadsPerPass bounds the reads of one pass, so that the loop around it gets to run its checks
// between passes even while a large backlog drains.
const maxReadsPerPass = 16

type pending struct {
	seq int64
	msg Message
}

// readPending reads up to limit pending rows with a sequence number above after.
func (r *Relay) readPending(ctx context.Context, after int64, limit int) ([]pending, error) {
	rows, err := r.db.QueryContext(ctx, selectPendingSQL, after, limit)
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	var batch []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.seq, &p.msg.ID, &p.msg.Subject, &p.msg.Type, &p.msg.Source,
			&p.msg.ResourceName, &p.msg.AggregateVersion, &p.msg.Time, &p.msg.Payload,
			&p.msg.TraceParent, &p.msg.TraceState); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read outbox: %w", err)
		}
		batch = append(batch, p)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return batch, nil
}

// publishBatch publishes pending rows in sequence order and returns how many it read. It reads
// BatchSize rows from the start of the outbox; while a read comes back full (a backlog), it goes
// on with the rows after the last one read, in reads growing to maxReadFactor × BatchSize, and
// overlaps the round trips: the next read runs while the acknowledgements of the rows just
// published come back, and the mark of one read's acknowledged rows runs while the next read's
// rows are published. Rows read earlier in the pass are in flight or acknowledged and being
// marked; reading only the rows after them keeps them from being published twice. A row whose
// transaction commits after rows above it were read waits for the next pass, which reads from
// the start again. At the first failure nothing more is read or published; what was acknowledged
// is still marked.
func (r *Relay) publishBatch(ctx context.Context) (int, error) {
	limit := r.opts.BatchSize
	batch, err := r.readPending(ctx, 0, limit)
	if err != nil {
		return 0, err
	}
	p := &pipeline{r: r, ctx: ctx, byAggr: map[string]*inflight{}}
	var (
		mark  *asyncMark
		total int
	)
	for reads := 1; ; reads++ {
		total += len(batch)
		p.publish(batch)
		if p.err != nil || len(batch) < limit || reads == maxReadsPerPass {
			break
		}
		after := batch[len(batch)-1].seq
		limit = min(2*limit, maxReadFactor*r.opts.BatchSize)
		next, rerr := r.readPending(ctx, after, limit)
		p.settleAll()
		if rerr != nil {
			err = rerr
			break
		}
		if merr := mark.wait(); merr != nil {
			mark, err = nil, merr
			break
		}
		mark = r.markAsync(ctx, p.takeDone())
		if p.err != nil || len(next) == 0 {
			break
		}
		batch = next
	}
	p.settleAll()
	// Mark what was acknowledged even when a later publish failed, so it is not sent again.
	if merr := mark.wait(); merr != nil {
		return 0, merr
	}
	if merr := r.markPublished(ctx, p.takeDone()); merr != nil {
		return 0, merr
	}
	if err != nil {
		return 0, err
	}
	if p.err != nil {
		return 0, p.err
	}
	return total, nil
}

// asyncMark is a markPublished running in the background.
type asyncMark struct{ done chan error }

// markAsync marks seqs published in the background; nil when there is nothing to mark.
func (r *Relay) markAsync(ctx context.Context, seqs []int64) *asyncMark {
	if len(seqs) == 0 {
		return nil
	}
	m := &asyncMark{done: make(chan error, 1)}
	go func() { m.done <- r.markPublished(ctx, seqs) }()
	return m
}

// wait returns the mark's error once it is done; nil for a nil mark.
func (m *asyncMark) wait() error {
	if m == nil {
		return nil
	}
	return <-m.done
}

// inflight is a publish awaiting its acknowledgement.
type inflight struct {
	seq      int64
	resource string
	ack      jetstream.PubAckFuture
	span     trace.Span
	deadline time.Time
}

// pipeline publishes rows in sequence order, pipelined: a row goes out without waiting for the
// acknowledgements of the rows before it, except those of its own aggregate (resource name),
// whose acknowledgement it waits for first. Publishes leave in sequence order on one connection,
// so the stream takes them in that order; and a row is published only after every earlier row of
// its aggregate was acknowledged, so that a failed publish retried later can never land behind a
// newer event of the same aggregate. At the first failure nothing more goes out; the publishes in
// flight are still awaited. done collects the sequence numbers acknowledged, err the first error.
type pipeline struct {
	r      *Relay
	ctx    context.Context
	queue  []*inflight          // in flight, in sequence order
	byAggr map[string]*inflight // the last row in flight of each aggregate
	done   []int64
	err    error
}

// settle waits for the oldest publish in flight.
func (p *pipeline) settle() {
	f := p.queue[0]
	p.queue[0] = nil
	p.queue = p.queue[1:]
	if p.byAggr[f.resource] == f {
		delete(p.byAggr, f.resource)
	}
	if err := p.r.await(p.ctx, f); err != nil {
		p.r.metrics.Add(p.ctx, MetricPublishError, 1)
		if p.err == nil {
			p.err = err
		}
		return
	}
	p.r.metrics.Add(p.ctx, MetricPublished, 1)
	p.done = append(p.done, f.seq)
}

// settleAll waits for every publish in flight.
func (p *pipeline) settleAll() {
	for len(p.queue) > 0 {
		p.settle()
	}
	p.queue = p.queue[:0:0]
}

// publish sends batch, after the rows published before it, unless a publish has failed.
func (p *pipeline) publish(batch []pending) {
	if p.r.opts.AtomicBatches && len(batch) >= minAtomicBatch {
		p.publishAtomic(batch)
		return
	}
	p.publishSingly(batch)
}

// publishSingly sends batch one row at a time, pipelined.
func (p *pipeline) publishSingly(batch []pending) {
	for _, row := range batch {
		// An earlier row of the same aggregate must be acknowledged first: settle up to it.
		if prev := p.byAggr[row.msg.ResourceName]; prev != nil {
			for p.err == nil && p.byAggr[row.msg.ResourceName] == prev {
				p.settle()
			}
		}
		if p.err != nil {
			return
		}
		f, err := p.r.publishAsync(p.ctx, row)
		if err != nil {
			p.r.metrics.Add(p.ctx, MetricPublishError, 1)
			p.err = err
			return
		}
		p.queue = append(p.queue, f)
		p.byAggr[f.resource] = f
	}
}

// minAtomicBatch is the fewest rows a read must have to go out in atomic batches: a batch costs
// JetStream a fixed price of a few single publishes (it stages the batch before it commits it),
// and pays from about 16 events on (BenchmarkPublish in messaging/natsembed).
const minAtomicBatch = 32

// maxAtomicBatch is the most events in one atomic batch: half of JetStream's default limit (1,000;
// a server's max_batch_size below it is met by the fallback), and a divisor of the reads of a
// default relay (256, 512, 1,024 rows).
const maxAtomicBatch = 512

// publishAtomic sends rows in atomic batches of up to maxAtomicBatch, each after every publish
// before it was acknowledged, so that a batch lands after them, and a batch refused whole — one
// holding an event stored already, or a batch the server would not take — one row at a time.
func (p *pipeline) publishAtomic(rows []pending) {
	p.settleAll()
	for p.err == nil && len(rows) > 0 {
		n := min(len(rows), maxAtomicBatch)
		err := p.r.publishAtomic(p.ctx, rows[:n])
		var refused *batchRefusedError
		switch {
		case err == nil:
			p.r.metrics.Add(p.ctx, MetricPublished, int64(n))
			p.r.metrics.Add(p.ctx, MetricBatched, int64(n))
			for _, row := range rows[:n] {
				p.done = append(p.done, row.seq)
			}
		case errors.As(err, &refused):
			p.r.metrics.Add(p.ctx, MetricBatchRefused, 1)
			p.r.log.Debug("atomic batch refused; publishing its events one by one", "events", n, "error", err)
			p.publishSingly(rows[:n])
			p.settleAll()
		default:
			p.r.metrics.Add(p.ctx, MetricPublishError, 1)
			p.err = err
		}
		rows = rows[n:]
	}
}

// batchRefusedError is JetStream's refusal of an atomic batch: it stored none of its events.
type batchRefusedError struct{ err error }

func (e *batchRefusedError) Error() string { return e.err.Error() }
func (e *batchRefusedError) Unwrap() error { return e.err }

// publishAtomic sends rows as one atomic batch and waits for its commit's acknowledgement: nil
// when JetStream stored every row, a *batchRefusedError when it refused the batch (and so stored
// none of it), another error when the outcome is unknown (no answer in time, no connection),
// which the pass fails with like a single publish's.
func (r *Relay) publishAtomic(ctx context.Context, rows []pending) error {
	nc := r.js.Conn()
	id := nuid.Next()
	spans := make([]trace.Span, 0, len(rows))
	end := func(err error) error {
		for _, span := range spans {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, "publish failed")
			}
			span.End()
		}
		return err
	}
	var commit *nats.Msg
	for i, row := range rows {
		msg := row.msg.NATSMsg()
		if row.msg.TraceParent != "" {
			_, span := r.startSpan(ctx, row.msg, msg.Header)
			spans = append(spans, span)
		}
		if r.opts.Stream != "" {
			msg.Header.Set(jetstream.ExpectedStreamHeader, r.opts.Stream)
		}
		msg.Header.Set(events.HeaderBatchID, id)
		msg.Header.Set(events.HeaderBatchSequence, strconv.Itoa(i+1))
		if i == len(rows)-1 {
			msg.Header.Set(events.HeaderBatchCommit, "1")
			commit = msg
			break
		}
		if err := nc.PublishMsg(msg); err != nil {
			return end(fmt.Errorf("publish batch %s: %w", id, err))
		}
	}
	rctx, cancel := context.WithTimeout(ctx, r.opts.PublishTimeout)
	defer cancel()
	resp, err := nc.RequestMsgWithContext(rctx, commit)
	if err != nil {
		return end(fmt.Errorf("publish batch %s of %d events: %w", id, len(rows), err))
	}
	var ack struct {
		Error  *jetstream.APIError `json:"error"`
		Stream string              `json:"stream"`
		Count  int                 `json:"count"`
	}
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return end(fmt.Errorf("publish batch %s: undecodable acknowledgement %q: %w", id, resp.Data, err))
	}
	if ack.Error != nil {
		return end(&batchRefusedError{fmt.Errorf("publish batch %s of %d events: %w", id, len(rows), ack.Error)})
	}
	if ack.Count != len(rows) {
		return end(fmt.Errorf("publish batch %s: stream %s acknowledged %d events of %d", id, ack.Stream, ack.Count, len(rows)))
	}
	return end(nil)
}

// takeDone returns the sequence numbers acknowledged since the last call.
func (p *pipeline) takeDone() []int64 {
	d := p.done
	p.done = nil
	return d
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
	ack, err := r.js.PublishMsgAsync(msg, r.pubOpts...)
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
	var err error
	select {
	case <-f.ack.Ok(): // mostly there already: no timer
	case err = <-f.ack.Err():
	default:
		t := time.NewTimer(time.Until(f.deadline))
		defer t.Stop()
		select {
		case <-f.ack.Ok():
		case err = <-f.ack.Err():
		case <-t.C:
			err = context.DeadlineExceeded
		case <-ctx.Done():
			err = ctx.Err()
		}
	}
	if err != nil {
		m := f.ack.Msg()
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

// markPublishedSQL marks rows published by their sequence numbers: one statement whatever their
// number, so that it is prepared once (an IN list would be a statement per length), as an array
// on PostgreSQL and a JSON array on SQLite.
var markPublishedSQL = map[sqldb.Engine]string{
	sqldb.Postgres: `UPDATE outbox SET published_at = $1 WHERE seq = ANY($2)`,
	sqldb.SQLite:   `UPDATE outbox SET published_at = $1 WHERE seq IN (SELECT value FROM json_each($2))`,
}

func (r *Relay) markPublished(ctx context.Context, seqs []int64) error {
	if len(seqs) == 0 {
		return nil
	}
	var arg any = seqs
	if r.db.Engine() != sqldb.Postgres {
		b := make([]byte, 0, len(seqs)*8+2)
		b = append(b, '[')
		for i, s := range seqs {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, s, 10)
		}
		arg = string(append(b, ']'))
	}
	// Detached from ctx: rows that JetStream acknowledged are marked even while shutting down,
	// which keeps re-publishing after a restart to a minimum.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if _, err := r.db.ExecContext(mctx, markPublishedSQL[r.db.Engine()], time.Now().UTC(), arg); err != nil {
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
