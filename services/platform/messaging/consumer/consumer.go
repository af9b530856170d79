// Package consumer runs the event consumers of a domain service: durable JetStream pull consumers
// whose handlers apply other services' events to the service's own database.
//
// Delivery is at least once; effects are applied once. A handler runs inside a database
// transaction that also records the event in the consumer's inbox (consumer, event id), and the
// message is acknowledged only after that transaction commits; events waiting behind one another
// share one such transaction, in stream order (deliverBatch). A redelivered or re-published event
// finds its inbox row and has no second effect. Per resource, the consumer remembers the highest
// aggregate version it applied and skips older events instead of applying them out of order. An
// event that still fails on its last delivery attempt becomes a dead letter in the database,
// which an operator lists and replays through the OperationsService.
//
// A consumer applies its events one transaction at a time, in stream order, unless its Spec asks
// for Partitions: then the events are spread over that many appliers by resource (ce-subject, or
// the Spec's PartitionKey), so that each resource's events are still applied one at a time in
// stream order, while events of different resources may be applied concurrently and in either
// order.
package consumer

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/quarterdeck/quarterdeck/services/platform/internal/retry"
	"github.com/quarterdeck/quarterdeck/services/platform/internal/settings"
	"github.com/quarterdeck/quarterdeck/services/platform/internal/wait"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// Event is one delivered domain event, decoded from its CloudEvents headers and payload.
type Event struct {
	ID       string    // ce-id
	Type     string    // ce-type: the proto message's full name
	Source   string    // ce-source
	Resource string    // ce-subject: the resource the event is about
	Version  int64     // ce-aggregateversion: the resource's version after the change (0: unknown)
	Time     time.Time // ce-time
	Subject  string    // the NATS subject
	Data     []byte    // the payload, protojson
	// Message is the payload decoded into its proto type, found by ce-type among the linked-in
	// proto types; nil when the type is not linked into the binary.
	Message proto.Message
	// Header holds every header of the message, including the trace context.
	Header nats.Header
	// Attempt is the delivery attempt, from 1; a replay of a dead letter counts on from its
	// attempts.
	Attempt int
	// Sequence is the event's sequence number in its stream; 0 for a replayed dead letter.
	Sequence uint64
}

// Handler applies an event within tx. It must not have effects outside tx: the transaction may
// roll back and the event be delivered again. tx may hold the effects of earlier events of the
// same consumer, applied before it in one batch. An error makes the event be delivered again after
// a backoff, up to the consumer's MaxDeliver; wrap it with Permanent to give up at once.
type Handler func(ctx context.Context, tx *sql.Tx, ev Event) error

// Spec declares one consumer of a service.
type Spec struct {
	// Name identifies the consumer within its service (lower case letters, digits, '_' and '-').
	// The JetStream durable is named <service>_<Name>, so services never share a durable.
	Name string
	// Domain is the domain whose events it consumes; its stream is <PREFIX>_<DOMAIN>.
	Domain string
	// Subjects filter the domain's events, relative to "<prefix>.<domain>.", e.g.
	// "cost_center.created" or "cost_center.>". Empty means every event of the domain. More than
	// one subject needs NATS 2.10 or later.
	Subjects []string
	// Handler applies each event.
	Handler Handler
	// Ignore lists event types (ce-type, e.g. "quarterdeck.risk.v1.IncidentNoteAdded") that pass
	// the subject filter but that the handler has nothing to do with. The runtime acknowledges
	// them as they arrive, without decoding them, a transaction, an inbox row or a version check,
	// and counts them as "ignored". It is for the events one subject filter cannot leave out (more
	// than one filter needs NATS 2.10). Events carry their resource's whole state, so a handler
	// misses nothing by ignoring the events that change nothing it reads: the next event it
	// applies brings those changes along.
	Ignore []string
	// Partitions, when more than 1, applies the consumer's events in that many concurrent
	// appliers, the events of one partition key in one of them, in stream order: for a handler
	// whose effects depend on the order of one resource's events only. On SQLite, whose database
	// has one writer at a time, a consumer has one applier whatever Partitions says.
	Partitions int
	// PartitionKey is an event's partition key; nil means its resource (ce-subject). Events of
	// one resource whose order matters must have one key. A key that also groups the resources
	// whose handlers lock the same rows (say, a budget's) keeps the transactions of different
	// appliers from waiting on one another, and from deadlocking when they apply several events.
	PartitionKey func(Event) string
}

// Settings are the delivery settings of a service's consumers. Zero values take the defaults.
type Settings struct {
	MaxDeliver     int           `env:"CONSUMER_MAX_DELIVER" default:"8" help:"delivery attempts of an event before it becomes a dead letter"`
	AckWait        time.Duration `env:"CONSUMER_ACK_WAIT" default:"30s" help:"how long a delivered event may stay unacknowledged before it is delivered again (e.g. after a crash)"`
	BackoffInitial time.Duration `env:"CONSUMER_BACKOFF_INITIAL" default:"1s" help:"wait before redelivering an event whose handler failed; doubles with every attempt"`
	BackoffMax     time.Duration `env:"CONSUMER_BACKOFF_MAX" default:"5m" help:"longest wait between two delivery attempts of a failed event"`
	MaxAckPending  int           `env:"CONSUMER_MAX_ACK_PENDING" default:"64" help:"events a consumer holds unacknowledged at most (its pull batch)"`
	// BatchSize bounds how many waiting events one transaction applies; 1 applies each alone.
	BatchSize int `env:"CONSUMER_BATCH_SIZE" default:"32" help:"events a consumer applies at most in one transaction when several are waiting (1: one each)"`
	// InboxRetention must outlive the streams' maximum age, so that every event a stream can
	// still deliver finds its inbox row.
	InboxRetention time.Duration `env:"CONSUMER_INBOX_RETENTION" default:"744h" help:"how long a consumer remembers the ids of handled events (longer than the streams' max age)"`
}

// Default settings, also the zero-value fallbacks.
const (
	DefaultMaxDeliver     = 8
	DefaultAckWait        = 30 * time.Second
	DefaultBackoffInitial = time.Second
	DefaultBackoffMax     = 5 * time.Minute
	DefaultMaxAckPending  = 64
	DefaultBatchSize      = 32
	DefaultInboxRetention = 744 * time.Hour
)

func (s Settings) withDefaults() Settings {
	settings.Default(&s.MaxDeliver, DefaultMaxDeliver)
	settings.Default(&s.AckWait, DefaultAckWait)
	settings.Default(&s.BackoffInitial, DefaultBackoffInitial)
	settings.Default(&s.BackoffMax, DefaultBackoffMax)
	s.BackoffMax = max(s.BackoffMax, s.BackoffInitial)
	settings.Default(&s.MaxAckPending, DefaultMaxAckPending)
	settings.Default(&s.BatchSize, DefaultBatchSize)
	s.BatchSize = min(s.BatchSize, s.MaxAckPending)
	settings.Default(&s.InboxRetention, DefaultInboxRetention)
	return s
}

// Backoff returns the wait before the delivery that follows failed attempt n (from 1):
// BackoffInitial doubled n-1 times, at most BackoffMax.
func (s Settings) Backoff(n int) time.Duration {
	s = s.withDefaults()
	return retry.Backoff(s.BackoffInitial, s.BackoffMax, n)
}

// Permanent wraps err so that the event becomes a dead letter at once instead of being retried.
func Permanent(err error) error { return retry.Permanent(err) }

// Options configures a Runtime.
type Options struct {
	// Service is the consuming service's domain: it prefixes the durables and names the dead
	// letters (services/<Service>/deadLetters/<id>).
	Service string
	// Prefix is the event subject prefix (events.DefaultPrefix unless configured).
	Prefix   string
	Settings Settings
	Logger   *slog.Logger
	// TracerProvider and MeterProvider default to the global ones.
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
}

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,62}$`)

// maxPartitions bounds Spec.Partitions: each applier may hold a database connection.
const maxPartitions = 16

// Runtime runs the consumers of one service and serves its dead letters.
type Runtime struct {
	db       *sqldb.DB
	js       jetstream.JetStream
	opts     Options
	settings Settings
	log      *slog.Logger
	tracer   trace.Tracer
	metrics  *instruments
	specs    map[string]*runner
	order    []*runner

	mu        sync.Mutex
	started   bool
	runCtx    context.Context // Start's context, from which each consumer's own is derived
	draining  bool
	drainC    chan struct{}
	drainOnce sync.Once
	wg        sync.WaitGroup // every goroutine Start starts
	runners   sync.WaitGroup // the consuming goroutines only
	stopCtx   context.CancelFunc
}

// runner is the running state of one consumer.
type runner struct {
	spec    Spec
	durable string
	stream  string
	ignore  map[string]bool // Spec.Ignore

	mu       sync.Mutex
	iter     jetstream.MessagesContext
	consumer jetstream.Consumer
	stop     context.CancelFunc // stops this consumer alone (Reset)
	done     chan struct{}      // closed when its goroutine returns
}

// New returns a runtime for the consumers in specs, reading from js and writing to db. js may be
// nil for a runtime that only serves dead letters (Start then fails).
func New(db *sqldb.DB, js jetstream.JetStream, specs []Spec, opts Options) (*Runtime, error) {
	if opts.Prefix == "" {
		opts.Prefix = events.DefaultPrefix
	}
	if err := events.ValidatePrefix(opts.Prefix); err != nil {
		return nil, err
	}
	if !namePattern.MatchString(opts.Service) {
		return nil, fmt.Errorf("consumer runtime: invalid service name %q", opts.Service)
	}
	settings.Logger(&opts.Logger)
	if opts.TracerProvider == nil {
		opts.TracerProvider = otel.GetTracerProvider()
	}
	if opts.MeterProvider == nil {
		opts.MeterProvider = otel.GetMeterProvider()
	}
	r := &Runtime{
		db:       db,
		js:       js,
		opts:     opts,
		settings: opts.Settings.withDefaults(),
		log:      opts.Logger.With("component", "consumer"),
		tracer:   opts.TracerProvider.Tracer("github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"),
		specs:    make(map[string]*runner, len(specs)),
		drainC:   make(chan struct{}),
	}
	for _, s := range specs {
		if !namePattern.MatchString(s.Name) {
			return nil, fmt.Errorf("consumer %q: name must match %s", s.Name, namePattern)
		}
		if _, dup := r.specs[s.Name]; dup {
			return nil, fmt.Errorf("consumer %q declared twice", s.Name)
		}
		if !namePattern.MatchString(s.Domain) || s.Handler == nil {
			return nil, fmt.Errorf("consumer %q: a domain and a handler are required", s.Name)
		}
		if s.Partitions < 0 || s.Partitions > maxPartitions {
			return nil, fmt.Errorf("consumer %q: partitions must be between 0 and %d", s.Name, maxPartitions)
		}
		for _, sub := range s.Subjects {
			if sub == "" || strings.ContainsAny(sub, " \t") || strings.HasPrefix(sub, ".") {
				return nil, fmt.Errorf("consumer %q: invalid subject filter %q", s.Name, sub)
			}
		}
		rn := &runner{
			spec:    s,
			durable: opts.Service + "_" + s.Name,
			stream:  events.StreamName(opts.Prefix, s.Domain),
		}
		for _, typ := range s.Ignore {
			if typ == "" || strings.ContainsAny(typ, " \t") {
				return nil, fmt.Errorf("consumer %q: invalid event type to ignore %q", s.Name, typ)
			}
			if rn.ignore == nil {
				rn.ignore = make(map[string]bool, len(s.Ignore))
			}
			rn.ignore[typ] = true
		}
		r.specs[s.Name] = rn
		r.order = append(r.order, rn)
	}
	m, err := newInstruments(r)
	if err != nil {
		return nil, err
	}
	r.metrics = m
	return r, nil
}

// filters returns the consumer's full filter subjects.
func (r *Runtime) filters(rn *runner) []string {
	base := r.opts.Prefix + "." + rn.spec.Domain + "."
	if len(rn.spec.Subjects) == 0 {
		return []string{base + ">"}
	}
	out := make([]string, len(rn.spec.Subjects))
	for i, s := range rn.spec.Subjects {
		out[i] = base + s
	}
	return out
}

func (r *Runtime) consumerConfig(rn *runner) jetstream.ConsumerConfig {
	cc := jetstream.ConsumerConfig{
		Durable:       rn.durable,
		Description:   "Quarterdeck " + r.opts.Service + " consumer " + rn.spec.Name,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       r.settings.AckWait,
		// The runtime counts attempts itself and dead-letters on the last one: the server's own
		// limit would stop delivering an event silently even if its dead letter could not be
		// written. The backoff between attempts is a NAK delay rather than JetStream's BackOff
		// list, which would replace AckWait, the bound on recovering from a crashed consumer.
		MaxDeliver:    -1,
		MaxAckPending: r.settings.MaxAckPending,
	}
	f := r.filters(rn)
	if len(f) == 1 {
		cc.FilterSubject = f[0]
	} else {
		cc.FilterSubjects = f
	}
	return cc
}

// Start creates or updates each consumer's durable and starts consuming. A consumer whose stream
// does not exist yet (its producer has not started) keeps retrying in the background. Cancelling
// ctx stops the consumers at once, without waiting for in-flight handlers to commit: their events
// are delivered again after AckWait. Drain stops them gracefully.
func (r *Runtime) Start(ctx context.Context) error {
	if r.js == nil {
		return errors.New("consumer runtime: no JetStream context")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("consumer runtime: already started")
	}
	r.started = true
	ctx, cancel := context.WithCancel(ctx)
	r.stopCtx = cancel
	r.runCtx = ctx
	for _, rn := range r.order {
		r.startRunner(rn)
	}
	if len(r.order) > 0 {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			r.pruneLoop(ctx)
		}()
	}
	// Owner of the iterators on an abrupt stop: it ends them when ctx does.
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		<-ctx.Done()
		for _, rn := range r.order {
			rn.stopIter()
		}
	}()
	return nil
}

// Drain stops fetching, lets each consumer finish the events it already holds, and returns when
// all have stopped or ctx is done (then it stops them at once). It is safe to call without Start.
func (r *Runtime) Drain(ctx context.Context) error {
	r.mu.Lock()
	if !r.draining {
		r.draining = true
		close(r.drainC)
	}
	started := r.started
	r.mu.Unlock()
	defer r.metrics.close()
	if !started {
		return nil
	}
	r.drainOnce.Do(func() {
		for _, rn := range r.order {
			rn.drainIter()
		}
	})
	done := make(chan struct{})
	go func() {
		r.runners.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("consumers of %s: drain: %w", r.opts.Service, ctx.Err())
	}
	r.stopCtx()
	r.wg.Wait()
	return err
}

// startRunner starts the goroutine of one consumer, on a context of its own under Start's, so
// that Reset can stop and restart it alone. r.mu is held.
func (r *Runtime) startRunner(rn *runner) {
	ctx, cancel := context.WithCancel(r.runCtx)
	done := make(chan struct{})
	rn.mu.Lock()
	rn.stop, rn.done = cancel, done
	rn.mu.Unlock()
	r.wg.Add(1)
	r.runners.Add(1)
	go func() {
		defer r.wg.Done()
		defer r.runners.Done()
		defer close(done)
		defer cancel()
		r.run(ctx, rn)
	}()
}

// Wait returns when every goroutine Start started has returned, after Drain or once Start's
// context is done.
func (r *Runtime) Wait() { r.wg.Wait() }

func (r *Runtime) isDraining() bool { return wait.Closed(r.drainC) }

func (rn *runner) setIter(it jetstream.MessagesContext, c jetstream.Consumer) {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	rn.iter, rn.consumer = it, c
}

func (rn *runner) stopIter() {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.iter != nil {
		rn.iter.Stop()
	}
}

func (rn *runner) drainIter() {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	if rn.iter != nil {
		rn.iter.Drain()
	}
}

func (rn *runner) info() jetstream.Consumer {
	rn.mu.Lock()
	defer rn.mu.Unlock()
	return rn.consumer
}

// notReadyWarnAfter is the retry interval from which a consumer that cannot subscribe logs
// warnings: the retries before it take about 3 s in all.
const notReadyWarnAfter = 1600 * time.Millisecond

// run consumes until ctx ends or the runtime drains.
func (r *Runtime) run(ctx context.Context, rn *runner) {
	log := r.log.With("consumer", rn.spec.Name, "stream", rn.stream)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil && !r.isDraining() {
		it, err := r.subscribe(ctx, rn)
		if err != nil {
			// A stream another service makes is often not there yet when everything starts
			// together: a few seconds of that is news, more is a warning.
			level := slog.LevelInfo
			if backoff >= notReadyWarnAfter {
				level = slog.LevelWarn
			}
			log.Log(ctx, level, "consumer not ready; retrying", "error", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return
			case <-r.drainC:
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 10*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		log.Info("consuming", "durable", rn.durable)
		r.consume(ctx, rn, it, log)
	}
}

// consume applies the iterator's events until it ends. A reader goroutine moves the events into
// a buffer as they arrive; an applier takes the next one and whatever else has arrived behind it,
// up to BatchSize, and applies them together, in stream order (deliverBatch). An idle consumer
// applies each event as soon as it arrives; a consumer that falls behind applies many per
// transaction, so that its throughput no longer rests on one commit per event. A partitioned
// consumer (Spec.Partitions) has one applier per partition, each with a buffer of its own that
// the reader fills with the events of its resources.
func (r *Runtime) consume(ctx context.Context, rn *runner, it jetstream.MessagesContext, log *slog.Logger) {
	n := r.partitions(rn)
	queues := make([]chan queued, n)
	for i := range queues {
		queues[i] = make(chan queued, r.settings.MaxAckPending)
	}
	var appliers sync.WaitGroup
	for _, q := range queues {
		appliers.Add(1)
		go func() {
			defer appliers.Done()
			r.applyQueue(ctx, rn, q)
		}()
	}
	defer appliers.Wait()
	defer func() {
		for _, q := range queues {
			close(q)
		}
	}()
	for {
		msg, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			if errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) {
				log.Warn("consumer lost; subscribing again", "error", err)
				it.Stop()
				return
			}
			log.Debug("consumer iterator", "error", err)
			continue
		}
		if rn.ignores(msg) {
			r.skip(ctx, rn, msg, log)
			continue
		}
		// A queue holds MaxAckPending events, as many as JetStream delivers unacknowledged; should
		// it fill up all the same (events delivered again while still queued), the reader waits
		// for its applier.
		q := queued{msg: msg}
		i := 0
		if n > 1 {
			q.decode()
			i = r.partitionOf(rn, q.ev, n)
		}
		queues[i] <- q
	}
}

// Types returns the event types (ce-type) of msgs, e.g. for Spec.Ignore.
func Types(msgs ...proto.Message) []string {
	types := make([]string, len(msgs))
	for i, m := range msgs {
		types[i] = string(m.ProtoReflect().Descriptor().FullName())
	}
	return types
}

// ignores reports whether msg is of a type its consumer ignores (Spec.Ignore).
func (rn *runner) ignores(msg jetstream.Msg) bool {
	return rn.ignore != nil && msg.Headers() != nil && rn.ignore[msg.Headers().Get(events.HeaderType)]
}

// skip acknowledges an event its consumer ignores. Should the acknowledgement be lost, the event
// is delivered again and ignored again.
func (r *Runtime) skip(ctx context.Context, rn *runner, msg jetstream.Msg, log *slog.Logger) {
	if err := msg.Ack(); err != nil {
		log.WarnContext(ctx, "ack of an ignored event failed; it will be delivered again", "subject", msg.Subject(), "error", err)
	}
	r.metrics.outcome(ctx, rn, outcomeIgnored)
}

// queued is a message waiting for its applier; a partitioned consumer decodes it before.
type queued struct {
	msg     jetstream.Msg
	decoded bool
	ev      Event
	err     error
}

func (q *queued) decode() {
	h := q.msg.Headers()
	if h == nil {
		h = nats.Header{}
	}
	q.ev, q.err = decode(q.msg.Subject(), h, q.msg.Data())
	q.decoded = true
}

// applyQueue applies the events of one queue until it is closed. It takes every event it is
// passed, also after a stop (they are then left unacknowledged, for JetStream to deliver again),
// so that the reader never blocks and consume ends when the iterator does.
func (r *Runtime) applyQueue(ctx context.Context, rn *runner, q <-chan queued) {
	batch := make([]queued, 0, r.settings.BatchSize)
	for msg := range q {
		batch = append(batch[:0], msg)
	more:
		for len(batch) < r.settings.BatchSize {
			select {
			case m, ok := <-q:
				if !ok {
					break more
				}
				batch = append(batch, m)
			default:
				break more
			}
		}
		r.deliverBatch(ctx, rn, batch)
	}
}

// partitions is the number of appliers of rn's events: Spec.Partitions, but one on SQLite.
func (r *Runtime) partitions(rn *runner) int {
	if rn.spec.Partitions <= 1 || r.db.Engine() == sqldb.SQLite {
		return 1
	}
	return rn.spec.Partitions
}

// partitionOf is the applier, of n, of ev's partition key.
func (r *Runtime) partitionOf(rn *runner, ev Event, n int) int {
	key := ev.Resource
	if rn.spec.PartitionKey != nil {
		key = rn.spec.PartitionKey(ev)
	}
	return partition(key, n)
}

// partition is the applier, of n, of the events with partition key key.
func partition(key string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// subscribe creates or updates the durable and returns a message iterator over it; the runner
// holds it so that Drain and an abrupt stop can end it.
func (r *Runtime) subscribe(ctx context.Context, rn *runner) (jetstream.MessagesContext, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	c, err := r.js.CreateOrUpdateConsumer(cctx, rn.stream, r.consumerConfig(rn))
	if err != nil {
		return nil, fmt.Errorf("create consumer %s on %s: %w", rn.durable, rn.stream, err)
	}
	it, err := c.Messages(jetstream.PullMaxMessages(r.settings.MaxAckPending))
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", rn.durable, err)
	}
	rn.setIter(it, c)
	// A drain or stop that came while subscribing must not miss this iterator.
	if ctx.Err() != nil {
		it.Stop()
	} else if r.isDraining() {
		it.Drain()
	}
	return it, nil
}

// decode reads an event from a message's subject, headers and payload.
func decode(subject string, h nats.Header, data []byte) (Event, error) {
	ev := Event{
		ID:       h.Get(events.HeaderID),
		Type:     h.Get(events.HeaderType),
		Source:   h.Get(events.HeaderSource),
		Resource: h.Get(events.HeaderSubject),
		Subject:  subject,
		Data:     data,
		Header:   h,
	}
	if ev.ID == "" {
		return ev, errors.New("the message has no " + events.HeaderID + " header")
	}
	// What names the event is stored (the inbox, the versions, a dead letter) and returned by the
	// API: text, which PostgreSQL's text and protobuf's strings require to be UTF-8 without NUL.
	// An event named otherwise could be neither applied nor recorded as a dead letter, and would
	// be delivered again for ever, holding one of the consumer's MaxAckPending places.
	for _, f := range [...]struct{ name, value string }{
		{events.HeaderID, ev.ID}, {events.HeaderType, ev.Type}, {events.HeaderSource, ev.Source},
		{events.HeaderSubject, ev.Resource}, {"subject", subject},
	} {
		if !isText(f.value) {
			return ev, fmt.Errorf("the %s %q is not UTF-8 text without NUL", f.name, f.value)
		}
	}
	if v := h.Get(events.HeaderVersion); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return ev, fmt.Errorf("invalid %s header %q", events.HeaderVersion, v)
		}
		ev.Version = n
	}
	if t := h.Get(events.HeaderTime); t != "" {
		tm, err := time.Parse(time.RFC3339Nano, t)
		if err != nil {
			return ev, fmt.Errorf("invalid %s header %q", events.HeaderTime, t)
		}
		ev.Time = tm.UTC()
	}
	if ev.Type != "" {
		if mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(ev.Type)); err == nil {
			m := mt.New().Interface()
			if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(data, m); err != nil {
				return ev, fmt.Errorf("decode %s payload: %w", ev.Type, err)
			}
			ev.Message = m
		}
	}
	return ev, nil
}

// isText reports whether s can be stored as text on both engines: UTF-8 without NUL.
func isText(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// storedText is s as a dead letter keeps it: s itself when it is text (isText), else s quoted
// with Go's escapes (strconv.QuoteToASCII), which keeps distinct values distinct.
func storedText(s string) string {
	if isText(s) {
		return s
	}
	return strconv.QuoteToASCII(s)
}

// pruneInterval is how often the inbox is pruned.
const pruneInterval = time.Hour

// pruneLoop deletes expired inbox rows every pruneInterval until ctx ends or the runtime drains.
func (r *Runtime) pruneLoop(ctx context.Context) {
	t := time.NewTicker(pruneInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.drainC:
			return
		case <-t.C:
			if n, err := r.pruneInbox(ctx, time.Now()); err != nil {
				r.log.Warn("prune consumer inbox", "error", err)
			} else if n > 0 {
				r.log.Info("consumer inbox pruned", "rows", n)
			}
		}
	}
}

const pruneInboxSQL = `DELETE FROM consumer_inbox WHERE (consumer, event_id) IN (
	SELECT consumer, event_id FROM consumer_inbox WHERE processed_at < $1 LIMIT 1000)`

// pruneInbox deletes the inbox rows older than the retention at now, a thousand per statement so
// that no transaction grows large, and returns how many it deleted.
func (r *Runtime) pruneInbox(ctx context.Context, now time.Time) (int64, error) {
	cutoff := now.UTC().Add(-r.settings.InboxRetention)
	var total int64
	for {
		res, err := r.db.ExecContext(ctx, pruneInboxSQL, cutoff)
		if err != nil {
			return total, fmt.Errorf("prune consumer inbox: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("prune consumer inbox: %w", err)
		}
		total += n
		if n < 1000 {
			return total, nil
		}
	}
}
