package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
)

// summary is what a run found. Failures lists each violated check with a few examples.
type summary struct {
	Creates, CreatesOK, CreatesExisted, CreatesRetried int
	Updates, UpdatesOK, UpdatesRetried                 int
	RelayKills, NATSKills                              int
	ConsumerKills, ConsumerPauses                      int
	ConsumerBusyFaults                                 int // consumer faults that struck it with more than one unacknowledged event

	Rows           int   // cost_centers rows: the committed creates
	Changes        int64 // sum of the rows' versions: the events the rows imply
	OutboxEvents   int
	StreamMessages int
	Batched        int // stream messages that went out in an atomic batch (-atomic-batches)
	Missing        int // committed changes (outbox rows, or row versions) without their event in the stream
	Duplicates     int // stream messages whose event id, or resource and version, came before
	OutOfOrder     int // events of one resource not in version order
	Orphans        int // stream events that no committed change explains
	LostCommits    int // acknowledged creates without a row

	// The consumer's side: outbox events against the rows of its effects table.
	Effects             int    // events with at least one effect (more than one: EffectDuplicates)
	EffectRows          int    // rows of the effects table
	EffectDuplicates    int    // effects beyond the first of an event
	EffectsMissing      int    // events with no effect and not skipped as stale
	EffectOrphans       int    // effects of events that are not in the outbox
	Stale               int    // events the runtime skipped as stale (a newer version was applied first)
	EffectsOnRedelivery int    // effects applied by a delivery after the first
	DeadLetters         int64  // events the consumer gave up on
	Deliveries          uint64 // JetStream's delivery count of the consumer (its last consumer sequence)
	DeliveredStreamSeq  uint64 // the last stream sequence delivered to it

	Elapsed  time.Duration
	Dir      string
	Failures []string

	acked []bool
}

func (s *summary) fail(format string, args ...any) {
	s.Failures = append(s.Failures, fmt.Sprintf(format, args...))
}

func (s *summary) print(w io.Writer) {
	fmt.Fprintf(w, "creates        %d requested, %d OK, %d ALREADY_EXISTS after a lost answer, %d needed a retry\n",
		s.Creates, s.CreatesOK, s.CreatesExisted, s.CreatesRetried)
	fmt.Fprintf(w, "updates        %d requested, %d OK, %d needed a retry\n", s.Updates, s.UpdatesOK, s.UpdatesRetried)
	fmt.Fprintf(w, "kills (-9)     relay holder %d, nats-server %d, consumer %d; consumer paused (SIGSTOP past its ack wait) %d\n",
		s.RelayKills, s.NATSKills, s.ConsumerKills, s.ConsumerPauses)
	fmt.Fprintf(w, "committed      %d rows, %d changes, %d outbox events\n", s.Rows, s.Changes, s.OutboxEvents)
	fmt.Fprintf(w, "published      %d messages in the stream, %d of them in atomic batches\n", s.StreamMessages, s.Batched)
	fmt.Fprintf(w, "missing        %d\n", s.Missing)
	fmt.Fprintf(w, "duplicates     %d\n", s.Duplicates)
	fmt.Fprintf(w, "out of order   %d\n", s.OutOfOrder)
	fmt.Fprintf(w, "orphans        %d\n", s.Orphans)
	fmt.Fprintf(w, "lost commits   %d\n", s.LostCommits)
	fmt.Fprintf(w, "consumer       effects %d / duplicates %d / missing %d / orphans %d / stale %d / dead letters %d\n",
		s.Effects, s.EffectDuplicates, s.EffectsMissing, s.EffectOrphans, s.Stale, s.DeadLetters)
	fmt.Fprintf(w, "deliveries     %d to the consumer for %d stream messages; %d effects applied by a redelivery; %d of %d consumer faults struck it with more than one event in hand\n",
		s.Deliveries, s.DeliveredStreamSeq, s.EffectsOnRedelivery, s.ConsumerBusyFaults, s.ConsumerKills+s.ConsumerPauses)
	fmt.Fprintf(w, "elapsed        %s\n", s.Elapsed)
	if s.Dir != "" {
		fmt.Fprintf(w, "work directory %s (logs, NATS store)\n", s.Dir)
	}
	for _, f := range s.Failures {
		fmt.Fprintf(w, "FAIL: %s\n", f)
	}
	if len(s.Failures) == 0 {
		fmt.Fprintln(w, "PASS: every committed change has exactly one event in the stream, in order per resource, and exactly one effect in the consumer")
	}
}

// change is one committed change of a resource: its name and the version it made.
type change struct {
	resource string
	version  int64
}

// streamEvent is what the verifier keeps of a stream message.
type streamEvent struct {
	id, msgID, resource string
	version             int64
	batched             bool // published in an atomic batch
}

// verify compares the database — the source of truth of what committed — with the stream.
func (e *env) verify(ctx context.Context) error {
	s := e.sum
	rows, err := e.pg.Query(ctx, `SELECT id, version FROM `+e.schema+`.cost_centers`)
	if err != nil {
		return fmt.Errorf("read cost centres: %w", err)
	}
	versions := map[string]int64{} // resource name → version
	for rows.Next() {
		var id string
		var v int64
		if err := rows.Scan(&id, &v); err != nil {
			return err
		}
		versions["costCenters/"+id] = v
		s.Changes += v
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read cost centres: %w", err)
	}
	s.Rows = len(versions)
	for i, ok := range s.acked {
		if _, there := versions["costCenters/"+costCenterID(i)]; ok && !there {
			s.LostCommits++
		}
	}

	outbox := map[string]change{}
	rows, err = e.pg.Query(ctx, `SELECT event_id, resource_name, aggregate_version FROM `+e.schema+`.outbox`)
	if err != nil {
		return fmt.Errorf("read outbox: %w", err)
	}
	for rows.Next() {
		var id string
		var c change
		if err := rows.Scan(&id, &c.resource, &c.version); err != nil {
			return err
		}
		outbox[id] = c
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read outbox: %w", err)
	}
	s.OutboxEvents = len(outbox)

	msgs, err := e.readStream(ctx)
	if err != nil {
		return err
	}
	s.StreamMessages = len(msgs)
	for _, m := range msgs {
		if m.batched {
			s.Batched++
		}
	}

	seenID := map[string]bool{}
	seenChange := map[change]bool{}
	last := map[string]int64{}
	for _, m := range msgs {
		if m.msgID != m.id {
			s.fail("event %s has Nats-Msg-Id %q", m.id, m.msgID)
		}
		c := change{m.resource, m.version}
		if seenID[m.id] || seenChange[c] {
			s.Duplicates++
			if s.Duplicates <= 5 {
				s.fail("duplicate: event %s (%s version %d)", m.id, m.resource, m.version)
			}
			continue
		}
		seenID[m.id], seenChange[c] = true, true
		if m.version != last[m.resource]+1 {
			s.OutOfOrder++
			if s.OutOfOrder <= 5 {
				s.fail("out of order: %s version %d after version %d", m.resource, m.version, last[m.resource])
			}
		}
		last[m.resource] = max(last[m.resource], m.version)
		if _, ok := outbox[m.id]; !ok {
			s.Orphans++
			if s.Orphans <= 5 {
				s.fail("orphan: event %s (%s) is in the stream but not in the outbox", m.id, m.resource)
			}
		}
	}
	// Every committed outbox row is in the stream, and every change of every row has its event.
	for id := range outbox {
		if !seenID[id] {
			s.Missing++
			if s.Missing <= 5 {
				s.fail("missing: outbox event %s is not in the stream", id)
			}
		}
	}
	for res, v := range versions {
		for ver := int64(1); ver <= v; ver++ {
			if !seenChange[change{res, ver}] {
				s.Missing++
				if s.Missing <= 5 {
					s.fail("missing: no event for %s version %d", res, ver)
				}
			}
		}
	}
	if s.LostCommits > 0 {
		s.fail("%d creates answered OK have no row", s.LostCommits)
	}
	if s.Missing > 5 {
		s.fail("%d missing in all", s.Missing)
	}
	if s.Duplicates > 5 {
		s.fail("%d duplicates in all", s.Duplicates)
	}
	if int64(len(seenID)) != s.Changes || s.Rows != s.Creates {
		s.fail("%d distinct events for %d changes of %d rows (%d creates)", len(seenID), s.Changes, s.Rows, s.Creates)
	}
	wantKills := e.cfg.RelayKills + e.cfg.NATSKills + e.cfg.ConsumerKills
	if e.cfg.Updates > 0 {
		wantKills += min(1, e.cfg.RelayKills) + min(1, e.cfg.NATSKills) + min(1, e.cfg.ConsumerKills)
	}
	if got := s.RelayKills + s.NATSKills + s.ConsumerKills; got != wantKills || s.ConsumerPauses != e.cfg.ConsumerPauses {
		s.fail("performed %d kills and %d pauses, planned %d and %d", got, s.ConsumerPauses, wantKills, e.cfg.ConsumerPauses)
	}
	return e.verifyConsumer(ctx, outbox)
}

// readStream reads every message of the budget stream in stream order.
func (e *env) readStream(ctx context.Context) ([]streamEvent, error) {
	nc, err := nats.Connect(e.nats.url, nats.Name("quarterdeck-faults"))
	if err != nil {
		return nil, fmt.Errorf("connect to NATS: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	st, err := js.Stream(ctx, events.StreamName(events.DefaultPrefix, "budget"))
	if err != nil {
		return nil, fmt.Errorf("budget stream: %w", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("budget stream: %w", err)
	}
	total := int(info.State.Msgs)
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("read budget stream: %w", err)
	}
	out := make([]streamEvent, 0, total)
	for len(out) < total {
		batch, err := cons.Fetch(min(total-len(out), 1000), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("read budget stream: %w", err)
		}
		for m := range batch.Messages() {
			h := m.Headers()
			v, err := strconv.ParseInt(h.Get(events.HeaderVersion), 10, 64)
			if err != nil || !strings.HasPrefix(h.Get(events.HeaderSubject), "costCenters/") {
				e.sum.fail("message %s: bad headers %v", m.Subject(), h)
			}
			out = append(out, streamEvent{id: h.Get(events.HeaderID), msgID: h.Get(events.HeaderMsgID),
				resource: h.Get(events.HeaderSubject), version: v, batched: h.Get(events.HeaderBatchID) != ""})
		}
		if err := batch.Error(); err != nil && ctx.Err() != nil {
			return nil, fmt.Errorf("read budget stream: read %d of %d: %w", len(out), total, err)
		}
	}
	return out, nil
}
