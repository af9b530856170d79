package baseline

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
)

// publishTimeout bounds one publish and its acknowledgement, as the relay's default
// PublishTimeout does.
const publishTimeout = 5 * time.Second

// JetStream measures publishing events to a fresh stream on the server at natsURL and waiting for
// their acknowledgements, for o.Duration, with o.Payload bytes of payload per message. The stream
// is created by events.EnsureStream with the services' settings (file storage, 1 replica, limits
// retention, 720h max age, 2m duplicate window, discard old) under a prefix of its own, and
// deleted at the end also when the run fails. Every message carries the headers the outbox relay
// sets, Nats-Msg-Id included, so the server's duplicate check is part of the cost, and is
// published with the relay's expected-stream check and 5s timeout.
//
// mode "sync" has o.Clients publishers each publish a message and wait for its acknowledgement
// before the next. That is the relay's own pattern with o.Clients = 1: it publishes the rows of a
// batch one at a time, waiting for every acknowledgement, to keep events in order.
//
// mode "async" has o.Clients publishers issue PublishAsync while fewer than o.Window
// acknowledgements are outstanding over all of them; an operation's latency runs from its publish
// call to the moment its publisher sees the acknowledgement, and acknowledgements are seen in each
// publisher's publish order. The relay does not publish this way; the mode shows what a pipelining
// relay could reach.
func JetStream(ctx context.Context, natsURL string, mode string, o Options) (res Result, err error) {
	o, err = o.withDefaults()
	if err != nil {
		return Result{}, err
	}
	var name string
	switch mode {
	case "sync":
		name = fmt.Sprintf("JetStream publish, sync, %d publisher%s", o.Clients, plural(o.Clients))
	case "async":
		name = fmt.Sprintf("JetStream publish, async window %d, %d publisher%s", o.Window, o.Clients, plural(o.Clients))
	default:
		return Result{}, fmt.Errorf("jetstream baseline mode %q: %w", mode, errUnknownMode)
	}
	r, err := newRun(o)
	if err != nil {
		return Result{}, err
	}

	nc, err := nats.Connect(natsURL, nats.Name("quarterdeck-load-baseline"))
	if err != nil {
		return Result{}, fmt.Errorf("jetstream baseline: connect to %s: %w", natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(o.Window),
		jetstream.WithPublishAsyncTimeout(publishTimeout))
	if err != nil {
		return Result{}, fmt.Errorf("jetstream baseline: %w", err)
	}
	// r.subject() is <prefix>.baseline.row.created, inside the stream's subjects.
	stream, err := events.EnsureStream(ctx, js, events.StreamConfig{
		Prefix:     r.prefix(),
		Replicas:   1,
		MaxAge:     720 * time.Hour,
		Duplicates: events.DefaultDuplicates,
	}, "baseline")
	if err != nil {
		return Result{}, fmt.Errorf("jetstream baseline: %w", err)
	}
	streamName := stream.CachedInfo().Config.Name
	defer func() {
		cctx, cancel := cleanupContext(ctx)
		defer cancel()
		if derr := js.DeleteStream(cctx, streamName); derr != nil && err == nil {
			err = fmt.Errorf("jetstream baseline: delete stream %s: %w", streamName, derr)
		}
	}()

	if mode == "sync" {
		res, err = closedLoop(ctx, name, o, func(ctx context.Context, client, seq int) error {
			ctx, cancel := context.WithTimeout(ctx, publishTimeout)
			defer cancel()
			_, err := js.PublishMsg(ctx, r.message(client, seq), jetstream.WithExpectStream(streamName))
			return err
		})
	} else {
		res, err = publishAsync(ctx, name, js, streamName, r, o)
	}
	res.Scratch = streamName
	return res, err
}

// message builds the event a client publishes as its seq-th, with the relay's headers.
func (r run) message(client, seq int) *nats.Msg {
	id := r.id(client, seq)
	msg := nats.NewMsg(r.subject())
	msg.Data = r.payload
	h := msg.Header
	h.Set(events.HeaderSpecVersion, events.SpecVersion)
	h.Set(events.HeaderID, id)
	h.Set(events.HeaderSource, eventSource)
	h.Set(events.HeaderType, eventType)
	h.Set(events.HeaderTime, time.Now().UTC().Format(time.RFC3339Nano))
	h.Set(events.HeaderSubject, "rows/"+id)
	h.Set(events.HeaderVersion, strconv.FormatInt(1, 10))
	h.Set(events.HeaderContentType, events.ContentType)
	h.Set(events.HeaderMsgID, id)
	return msg
}

// inflight is one asynchronous publish waiting for its acknowledgement.
type inflight struct {
	start  time.Time
	future jetstream.PubAckFuture
}

// publishAsync runs the "async" mode: o.Clients publishers, each with a goroutine that waits for
// its acknowledgements in publish order. The shared window of js bounds what is outstanding.
func publishAsync(ctx context.Context, name string, js jetstream.JetStream, stream string, r run, o Options) (Result, error) {
	tallies := make([]*tally, o.Clients)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(o.Duration)
	for c := range o.Clients {
		t := &tally{}
		tallies[c] = t
		// A publisher blocks in PublishMsgAsync while the window is full; the channel only holds
		// what its waiter has not looked at yet.
		pending := make(chan inflight, o.Window)
		wg.Go(func() {
			defer close(pending)
			for seq := 0; ctx.Err() == nil && time.Now().Before(deadline); seq++ {
				t0 := time.Now()
				f, err := js.PublishMsgAsync(r.message(c, seq),
					jetstream.WithExpectStream(stream), jetstream.WithStallWait(publishTimeout))
				if err != nil {
					pending <- inflight{start: t0, future: failedFuture{err}}
					continue
				}
				pending <- inflight{start: t0, future: f}
			}
		})
		wg.Go(func() {
			for p := range pending {
				select {
				case <-p.future.Ok():
					t.record(time.Since(p.start), nil)
				case err := <-p.future.Err():
					t.record(0, err)
				}
			}
		})
	}
	wg.Wait()
	res := summarize(name, time.Since(start), tallies)
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("%s: %w", name, err)
	}
	return res, nil
}

// failedFuture stands for a publish that failed before it was sent, so that its error is counted
// in publish order with the others.
type failedFuture struct{ err error }

func (f failedFuture) Ok() <-chan *jetstream.PubAck { return nil }

func (f failedFuture) Err() <-chan error {
	ch := make(chan error, 1)
	ch <- f.err
	return ch
}

func (f failedFuture) Msg() *nats.Msg { return nil }

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
