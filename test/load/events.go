package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/test/internal/loadgen"
)

// costCenterCreated is where the event the harness follows is published, read from its proto.
var costCenterCreated = func() events.Spec {
	s, err := events.SpecOf(&budgetv1.CostCenterCreated{})
	if err != nil {
		panic(err) // the generated message carries its event option; a failure is a build defect
	}
	return s
}()

// streamOf and createdSubject name the budget stream and the subject of cost_center.created for
// an event subject prefix (QUARTERDECK_EVENT_SUBJECT_PREFIX).
func streamOf(prefix string) string       { return events.StreamName(prefix, costCenterCreated.Domain) }
func createdSubject(prefix string) string { return costCenterCreated.Subject(prefix) }

// watcher is an automation subscribed to the budget stream: a JetStream ordered consumer of
// cost_center.created that notes, per cost centre whose ID starts with prefix, when its event
// arrived and how long after its commit (`ce-time`).
type watcher struct {
	prefix string
	nc     *nats.Conn
	cc     jetstream.ConsumeContext

	mu      sync.Mutex
	latency map[string]time.Duration // ce-subject -> receipt - ce-time
	first   time.Time                // receipt of the first matching event
	last    time.Time                // receipt of the latest matching event
	bytes   atomic.Int64             // payload bytes of matching events
	bad     atomic.Int64             // matching events without a readable ce-time
	changed chan struct{}
}

// watch starts a watcher; startSeq 0 delivers only events published from now on.
func watch(ctx context.Context, p *platform, prefix string, startSeq uint64) (*watcher, error) {
	natsURL, eventStream := p.natsURL, streamOf(p.eventPrefix)
	nc, err := nats.Connect(natsURL, nats.Name("quarterdeck load harness"))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, err
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{createdSubject(p.eventPrefix)}, DeliverPolicy: jetstream.DeliverNewPolicy}
	if startSeq > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, startSeq
	}
	cons, err := js.OrderedConsumer(ctx, eventStream, cfg)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("consumer on %s: %w", eventStream, err)
	}
	w := &watcher{prefix: "costCenters/" + prefix, nc: nc, latency: map[string]time.Duration{}, changed: make(chan struct{}, 1)}
	w.cc, err = cons.Consume(w.handle)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("consume %s: %w", eventStream, err)
	}
	return w, nil
}

func (w *watcher) handle(m jetstream.Msg) {
	now := time.Now()
	h := m.Headers()
	subject := h.Get(events.HeaderSubject)
	if !strings.HasPrefix(subject, w.prefix) {
		return
	}
	w.bytes.Add(int64(len(m.Data())))
	committed, err := time.Parse(time.RFC3339Nano, h.Get(events.HeaderTime))
	if err != nil {
		w.bad.Add(1)
		return
	}
	w.mu.Lock()
	if _, dup := w.latency[subject]; !dup {
		w.latency[subject] = now.Sub(committed)
		if w.first.IsZero() {
			w.first = now
		}
		w.last = now
	}
	w.mu.Unlock()
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

func (w *watcher) stop() {
	w.cc.Stop()
	w.nc.Close()
}

// received returns how many matching events arrived.
func (w *watcher) received() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.latency)
}

// firstReceipt returns when the first matching event arrived (zero before one has).
func (w *watcher) firstReceipt() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.first
}

// waitFor waits until n matching events arrived or timeout passes, and returns the time the last
// one arrived.
func (w *watcher) waitFor(ctx context.Context, n int, timeout time.Duration) (time.Time, bool) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		got, last := len(w.latency), w.last
		w.mu.Unlock()
		if got >= n {
			return last, true
		}
		select {
		case <-w.changed:
		case <-time.After(100 * time.Millisecond):
		case <-deadline.C:
			return last, false
		case <-ctx.Done():
			return last, false
		}
	}
}

func (w *watcher) latencies() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]time.Duration, 0, len(w.latency))
	for _, d := range w.latency {
		out = append(out, d)
	}
	return out
}

// eventResult is the event path's measurement.
type eventResult struct {
	path         string // the path the creates took
	subject      string
	Rate         float64
	Created      int // creates acknowledged
	Received     int // of them, events received by the subscriber
	Latency      loadgen.Summary
	CreateResult loadgen.Result
	PayloadBytes int // mean payload of a cost_center.created event
}

// measureEventLatency creates cost centres at rate for d and measures, for each, the time from its
// commit to its event reaching a JetStream consumer.
func measureEventLatency(ctx context.Context, p *platform, a api, rate float64, d time.Duration, log *slog.Logger) (eventResult, error) {
	prefix := "e" + randomHex(3) + "-"
	w, err := watch(ctx, p, prefix, 0)
	if err != nil {
		return eventResult{}, err
	}
	defer w.stop()
	var seq, acked atomic.Int64
	res, err := loadgen.Run(ctx, loadgen.Config{Rate: rate, Duration: d}, func(ctx context.Context) error {
		err := a.CreateCostCenter(ctx, fmt.Sprintf("%s%d", prefix, seq.Add(1)), "")
		if err == nil {
			acked.Add(1)
		}
		return err
	})
	if err != nil {
		return eventResult{}, err
	}
	created := int(acked.Load())
	if _, ok := w.waitFor(ctx, created, 60*time.Second); !ok {
		log.Warn("not every created cost centre's event arrived", "created", created, "received", w.received())
	}
	out := eventResult{subject: createdSubject(p.eventPrefix), Rate: rate, Created: created, Received: w.received(), CreateResult: res}
	out.Latency = loadgen.Summarize(w.latencies())
	if out.Received > 0 {
		out.PayloadBytes = int(w.bytes.Load()) / out.Received
	}
	if n := w.bad.Load(); n > 0 {
		return out, fmt.Errorf("%d events without a readable ce-time header", n)
	}
	return out, nil
}

// backlogResult is the drain measurement.
type backlogResult struct {
	Events      int
	Created     int
	CreateRate  float64       // creates/s while NATS was down
	Drain       time.Duration // from the NATS server's restart to the last event's receipt
	Received    int
	Reconnected time.Duration // from the restart until the server answered
	// FirstEvent is from the restart until the first event's receipt: the server's start, the
	// relay's reconnection (its client tries again every second) and its first pass.
	FirstEvent time.Duration
}

// measureBacklog stops the NATS server, creates n cost centres (their events wait in the outbox),
// starts NATS again and measures how long the backlog takes to reach a consumer.
func measureBacklog(ctx context.Context, p *platform, a api, n int, log *slog.Logger) (backlogResult, error) {
	var out backlogResult
	out.Events = n
	nc, err := nats.Connect(p.natsURL)
	if err != nil {
		return out, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return out, err
	}
	stream, err := js.Stream(ctx, streamOf(p.eventPrefix))
	if err != nil {
		nc.Close()
		return out, err
	}
	info, err := stream.Info(ctx)
	nc.Close()
	if err != nil {
		return out, err
	}
	lastSeq := info.State.LastSeq

	log.Info("backlog: stopping NATS", "stream_last_seq", lastSeq)
	p.nats.Kill()
	prefix := "b" + randomHex(3) + "-"
	jobs := make([]func(context.Context) error, n)
	for i := range jobs {
		id := fmt.Sprintf("%s%d", prefix, i)
		jobs[i] = func(ctx context.Context) error { return a.CreateCostCenter(ctx, id, "") }
	}
	start := time.Now()
	if err := runJobs(ctx, 32, jobs); err != nil {
		return out, fmt.Errorf("creates while NATS was down: %w", err)
	}
	out.Created = n
	out.CreateRate = float64(n) / time.Since(start).Seconds()
	log.Info("backlog: created while NATS was down; starting NATS", "events", n, "rate", int(out.CreateRate))

	restart := time.Now()
	if err := p.nats.Start(); err != nil {
		return out, err
	}
	if err := waitNATS(ctx, p.natsURL, 30*time.Second); err != nil {
		return out, err
	}
	out.Reconnected = time.Since(restart)
	w, err := watch(ctx, p, prefix, lastSeq+1)
	if err != nil {
		return out, err
	}
	defer w.stop()
	last, ok := w.waitFor(ctx, n, 5*time.Minute)
	out.Received = w.received()
	if !ok {
		return out, fmt.Errorf("backlog: %d of %d events arrived within 5 minutes", out.Received, n)
	}
	out.Drain = last.Sub(restart)
	out.FirstEvent = w.firstReceipt().Sub(restart)
	return out, nil
}
