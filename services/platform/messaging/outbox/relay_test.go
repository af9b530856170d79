package outbox_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

func openDB(t *testing.T, d testenv.Database) *sqldb.DB {
	t.Helper()
	return testkit.Open(t, d, outbox.Migrations)
}

// env is one test's outbox, on its database, and the name of its stream on a NATS server of the
// test environment. The stream is created by ensureStream.
type env struct {
	db     *sqldb.DB
	js     jetstream.JetStream
	prefix string
	stream string
}

func newEnv(t *testing.T, d testenv.Database) *env {
	t.Helper()
	ns := testenv.NATSServer(t)
	_, js := testenv.Connect(t, ns.URL)
	return &env{db: openDB(t, d), js: js, prefix: ns.SubjectPrefix, stream: events.StreamName(ns.SubjectPrefix, "budget")}
}

// write commits n events, one transaction each, about resources res-0 … res-(n-1) in turn over
// `resources` resources, numbering each resource's events from 1 (its version).
func write(t *testing.T, db *sqldb.DB, prefix string, n, resources int) {
	t.Helper()
	f, err := outbox.NewFactory(prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		res, version := fmt.Sprintf("costCenters/res-%d", i%resources), int64(i/resources+1)
		m, err := f.New(context.Background(), &budgetv1.CostCenterCreated{Version: version}, res, version)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.InTx(context.Background(), func(tx *sql.Tx) error { return outbox.Insert(context.Background(), tx, m) }); err != nil {
			t.Fatal(err)
		}
	}
}

func ensureStream(t *testing.T, js jetstream.JetStream, prefix string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := events.EnsureStream(ctx, js, events.StreamConfig{Prefix: prefix}, "budget"); err != nil {
		t.Fatal(err)
	}
	return events.StreamName(prefix, "budget")
}

type running struct {
	relay  *outbox.Relay
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
	isDone atomic.Bool
}

func runRelay(t *testing.T, db *sqldb.DB, js jetstream.JetStream, stream string) *running {
	t.Helper()
	return runRelayWith(t, db, js, outbox.RelayOptions{Stream: stream, PollInterval: 50 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond})
}

// runRelayWith runs the relay of the "budget" service with opts until the test ends.
func runRelayWith(t *testing.T, db *sqldb.DB, js jetstream.JetStream, opts outbox.RelayOptions) *running {
	t.Helper()
	opts.Name = "budget"
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	r := outbox.NewRelay(db, js, opts)
	ctx, cancel := context.WithCancel(context.Background())
	run := &running{relay: r, cancel: cancel, done: make(chan error, 1)}
	go func() { run.done <- r.Run(ctx) }()
	t.Cleanup(func() { _ = run.stop() })
	return run
}

// stop drains and stops the relay and returns what its Shutdown and Run returned; it may be
// called more than once.
func (r *running) stop() error {
	r.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		err := r.relay.Shutdown(ctx)
		r.cancel()
		r.err = errors.Join(err, <-r.done)
		r.isDone.Store(true)
	})
	return r.err
}

func (r *running) stopped() bool { return r.isDone.Load() }

// waitPublished waits until the outbox has nothing pending, failing after a deadline.
func waitPublished(t *testing.T, db *sqldb.DB) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, func() error {
		n, _, err := outbox.Pending(context.Background(), db)
		if err == nil && n != 0 {
			err = fmt.Errorf("%d events still pending", n)
		}
		return err
	})
}

// readAll returns every message of the stream in stream order.
func readAll(t *testing.T, js jetstream.JetStream, stream string) []jetstream.Msg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return testkit.ReadEvents(t, js, stream, int(info.State.Msgs))
}

// checkExactlyOnceInOrder asserts that the stream holds each of n events once, and each resource's
// events in version order.
func checkExactlyOnceInOrder(t *testing.T, msgs []jetstream.Msg, n int) {
	t.Helper()
	ids := map[string]bool{}
	last := map[string]int64{}
	for _, m := range msgs {
		id := m.Headers().Get(events.HeaderID)
		if ids[id] {
			t.Errorf("event %s is in the stream twice", id)
		}
		ids[id] = true
		res := m.Headers().Get(events.HeaderSubject)
		v, _ := strconv.ParseInt(m.Headers().Get(events.HeaderVersion), 10, 64)
		if v != last[res]+1 {
			t.Errorf("%s: version %d after %d", res, v, last[res])
		}
		last[res] = v
	}
	if len(ids) != n {
		t.Errorf("stream holds %d distinct events, want %d", len(ids), n)
	}
}

// checkEachOnce asserts that the stream holds n messages, of n distinct events.
func checkEachOnce(t *testing.T, js jetstream.JetStream, stream string, n int) {
	t.Helper()
	msgs := readAll(t, js, stream)
	ids := map[string]bool{}
	for _, m := range msgs {
		ids[m.Headers().Get(events.HeaderID)] = true
	}
	if len(msgs) != n || len(ids) != n {
		t.Errorf("stream holds %d messages, %d distinct; want %d", len(msgs), len(ids), n)
	}
}

// TestRelayPublishesEverythingInOrder drains a backlog of several reads: with the default batch
// size a pass reads 256 rows and then the rest after them; with batch size 4 the reads grow and
// the pass ends after its last read, leaving the rest to the passes after it.
func TestRelayPublishesEverythingInOrder(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 4} {
		t.Run(fmt.Sprintf("batch size %d", size), func(t *testing.T) {
			testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
				e := newEnv(t, d)
				ensureStream(t, e.js, e.prefix)
				write(t, e.db, e.prefix, 600, 7) // more than one batch
				runRelayWith(t, e.db, e.js, outbox.RelayOptions{Stream: e.stream, BatchSize: size,
					PollInterval: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
				waitPublished(t, e.db)
				msgs := readAll(t, e.js, e.stream)
				checkExactlyOnceInOrder(t, msgs, 600)
				h := msgs[0].Headers()
				if h.Get(events.HeaderMsgID) != h.Get(events.HeaderID) || h.Get(events.HeaderType) != "quarterdeck.budget.v1.CostCenterCreated" ||
					h.Get(events.HeaderSpecVersion) != "1.0" || msgs[0].Subject() != e.prefix+".budget.cost_center.created" ||
					h.Get(events.HeaderVersion) != "1" || h.Get(events.HeaderSubject) != "costCenters/res-0" ||
					h.Get("Nats-Expected-Stream") != e.stream {
					t.Errorf("first message: subject %s headers %v", msgs[0].Subject(), h)
				}
			})
		})
	}
}

// outageEnv returns a NATS server the test can stop and start, a SQLite outbox and the stream on
// the server the relay publishes to.
func outageEnv(t *testing.T) (*testenv.Stoppable, *sqldb.DB, jetstream.JetStream, string) {
	t.Helper()
	n := testenv.StoppableNATS(t)
	db := openDB(t, testenv.SQLite(t))
	_, js := testenv.Connect(t, n.URL)
	return n, db, js, ensureStream(t, js, n.SubjectPrefix)
}

// TestRelaySurvivesNATSOutage writes while the NATS server is down: the writes succeed, the events
// wait in the outbox and all go out, once and in order, when the server is back.
func TestRelaySurvivesNATSOutage(t *testing.T) {
	t.Parallel()
	n, db, js, stream := outageEnv(t)
	runRelay(t, db, js, stream)

	write(t, db, n.SubjectPrefix, 50, 5)
	waitPublished(t, db)

	for round := range 3 {
		n.Stop()
		write(t, db, n.SubjectPrefix, 100, 5) // writes do not need NATS
		if pending, _, _ := outbox.Pending(context.Background(), db); pending == 0 {
			t.Fatalf("round %d: events were published while NATS was down", round)
		}
		n.Start()
		waitPublished(t, db)
	}
	// write numbers versions per call, so order is checked per call's resources: count instead.
	checkEachOnce(t, js, stream, 350)
}

// TestRelayResumesWhenNATSReturns leaves a relay waiting out a backoff of an hour after a failed
// pass, with no commit to wake it: the connection's return must, and the events that waited go
// out.
func TestRelayResumesWhenNATSReturns(t *testing.T) {
	t.Parallel()
	n, db, js, stream := outageEnv(t)
	failed := &failures{}
	runRelayWith(t, db, js, outbox.RelayOptions{Stream: stream, PollInterval: 50 * time.Millisecond,
		PublishTimeout: 500 * time.Millisecond, FirstBackoff: time.Hour, MaxBackoff: time.Hour,
		Logger: slog.New(failed)})
	write(t, db, n.SubjectPrefix, 10, 5)
	waitPublished(t, db)

	n.Stop()
	write(t, db, n.SubjectPrefix, 20, 5) // the relay is not notified of these commits
	testkit.Eventually(t, 30*time.Second, func() bool { return failed.count.Load() > 0 })
	n.Start()
	waitPublished(t, db)
	checkEachOnce(t, js, stream, 30)
}

// failures is a log handler that counts the relay's failed passes.
type failures struct{ count atomic.Int64 }

func (f *failures) Enabled(context.Context, slog.Level) bool { return true }
func (f *failures) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "publish failed; retrying" {
		f.count.Add(1)
	}
	return nil
}
func (f *failures) WithAttrs([]slog.Attr) slog.Handler { return f }
func (f *failures) WithGroup(string) slog.Handler      { return f }

// TestRelayRepublishIsDeduplicated covers a crash between PubAck and marking the row: the same
// row goes out again with the same Nats-Msg-Id and JetStream keeps one copy.
func TestRelayRepublishIsDeduplicated(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SQLite(t))
	ensureStream(t, e.js, e.prefix)
	write(t, e.db, e.prefix, 10, 1)
	r := runRelay(t, e.db, e.js, e.stream)
	waitPublished(t, e.db)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.ExecContext(context.Background(), `UPDATE outbox SET published_at = NULL`); err != nil {
		t.Fatal(err)
	}
	runRelay(t, e.db, e.js, e.stream)
	waitPublished(t, e.db)
	checkExactlyOnceInOrder(t, readAll(t, e.js, e.stream), 10)
}

// TestShutdownDrains checks that a stop publishes what is pending before it returns.
func TestShutdownDrains(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SQLite(t))
	ensureStream(t, e.js, e.prefix)
	r := runRelayWith(t, e.db, e.js, outbox.RelayOptions{Stream: e.stream, PollInterval: time.Hour})
	write(t, e.db, e.prefix, 300, 3) // nobody notifies the relay: only the drain publishes
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if n, _, err := outbox.Pending(context.Background(), e.db); n != 0 || err != nil {
		t.Errorf("pending after drain = %d, %v", n, err)
	}
	checkExactlyOnceInOrder(t, readAll(t, e.js, e.stream), 300)
}

// TestRelayGathersCommits checks that commits arriving right after a pass wait for MinInterval
// since its start, so that they are read and marked together instead of a pass each.
func TestRelayGathersCommits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testenv.SQLite(t))
	ensureStream(t, e.js, e.prefix)
	const minInterval = 300 * time.Millisecond
	r := runRelayWith(t, e.db, e.js, outbox.RelayOptions{Stream: e.stream, PollInterval: time.Hour, MinInterval: minInterval}).relay

	began := time.Now() // before the first pass that can publish the first event
	write(t, e.db, e.prefix, 1, 1)
	r.Notify()
	waitPublished(t, e.db)
	write(t, e.db, e.prefix, 1, 1)
	r.Notify()
	waitPublished(t, e.db)
	if took := time.Since(began); took < minInterval {
		t.Errorf("two passes within %s; want the second to start at least MinInterval (%s) after the first", took, minInterval)
	}
	if msgs := readAll(t, e.js, e.stream); len(msgs) != 2 {
		t.Errorf("stream holds %d events; want 2", len(msgs))
	}
}

// TestOneActiveRelayOnPostgres runs three relays on one PostgreSQL outbox, as three replicas of
// a service would: the advisory lock lets one publish at a time, so every event goes out once, and
// when the active relay stops a standby takes over.
func TestOneActiveRelayOnPostgres(t *testing.T) {
	t.Parallel()
	d := testenv.Postgres(t)
	ns := testenv.NATSServer(t)
	_, js := testenv.Connect(t, ns.URL)
	stream := ensureStream(t, js, ns.SubjectPrefix)
	var (
		dbs      []*sqldb.DB
		relays   []*running
		counters []*counter
	)
	for range 3 {
		db := openDB(t, d)
		c := &counter{msg: "active outbox relay"}
		dbs, counters = append(dbs, db), append(counters, c)
		relays = append(relays, runRelayWith(t, db, js, outbox.RelayOptions{Stream: stream, PollInterval: 50 * time.Millisecond,
			MaxBackoff: 200 * time.Millisecond, Logger: slog.New(c)}))
	}
	activeOnes := func() (idx []int) {
		for i, c := range counters {
			if c.count() > 0 && !relays[i].stopped() {
				idx = append(idx, i)
			}
		}
		return idx
	}
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Go(func() { write(t, dbs[i], ns.SubjectPrefix, 200, 4) })
	}
	wg.Wait()
	waitPublished(t, dbs[0])
	// Twice: stop the active relay, write more, and a standby must publish it.
	for round := range 2 {
		active := activeOnes()
		if len(active) != 1 {
			t.Fatalf("round %d: relays %v are active at once, want exactly one", round, active)
		}
		if err := relays[active[0]].stop(); err != nil {
			t.Fatal(err)
		}
		other := dbs[(active[0]+1)%3]
		if relays[(active[0]+1)%3].stopped() {
			other = dbs[(active[0]+2)%3]
		}
		write(t, other, ns.SubjectPrefix, 20, 1)
		waitPublished(t, other)
	}
	total := 0
	for _, c := range counters {
		total += c.count()
	}
	if total != 3 {
		t.Errorf("relays became active %d times, want 3 (the first and two takeovers)", total)
	}
	checkEachOnce(t, js, stream, 640)
}

// counter is a log handler counting the records with one message.
type counter struct {
	msg string
	mu  sync.Mutex
	n   int
}

func (c *counter) Enabled(context.Context, slog.Level) bool { return true }
func (c *counter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *counter) WithGroup(string) slog.Handler            { return c }
func (c *counter) Handle(_ context.Context, r slog.Record) error {
	if r.Message == c.msg {
		c.mu.Lock()
		c.n++
		c.mu.Unlock()
	}
	return nil
}

func (c *counter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestRelaysOfTwoSchemasBothPublish runs the relay of the same service in two schemas of one
// PostgreSQL database (two deployments, or two tests): advisory locks are per database, so each
// schema must elect its own relay rather than one waiting for the other forever.
func TestRelaysOfTwoSchemasBothPublish(t *testing.T) {
	t.Parallel()
	if ok, reason := testenv.PostgresAvailable(); !ok {
		t.Skip("PostgreSQL not available: " + reason)
	}
	for range 2 {
		e := newEnv(t, testenv.Postgres(t))
		ensureStream(t, e.js, e.prefix)
		write(t, e.db, e.prefix, 5, 1)
		runRelay(t, e.db, e.js, e.stream)
		waitPublished(t, e.db)
	}
}

// TestFailedPublishHoldsItsAggregateBack publishes past a row the stream refuses (too large for
// it): the rows of other resources behind it go out, the later rows of its own resource wait,
// and once the stream takes it everything is in the stream once, each resource in order. With
// batch size 2 the refusal comes after the pass has read the rows behind the first two.
func TestFailedPublishHoldsItsAggregateBack(t *testing.T) {
	t.Parallel()
	for _, size := range []int{0, 2} {
		t.Run(fmt.Sprintf("batch size %d", size), func(t *testing.T) { testFailedPublishHoldsItsAggregateBack(t, size) })
	}
}

// limitMessageSize sets the largest message e's stream takes to size bytes (-1: no limit).
func limitMessageSize(t *testing.T, e *env, size int32) {
	t.Helper()
	ctx := context.Background()
	s, err := e.js.Stream(ctx, e.stream)
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	cfg.MaxMsgSize = size
	if _, err := e.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
}

func testFailedPublishHoldsItsAggregateBack(t *testing.T, size int) {
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		e := newEnv(t, d)
		ensureStream(t, e.js, e.prefix)
		ctx := context.Background()
		limitMessageSize(t, e, 4096)
		f, err := outbox.NewFactory(e.prefix, nil)
		if err != nil {
			t.Fatal(err)
		}
		// In sequence order: a1 (refused), b1, a2, c1.
		rows := []struct {
			res     string
			version int64
			name    string
		}{{"costCenters/a", 1, strings.Repeat("x", 8000)}, {"costCenters/b", 1, "b"}, {"costCenters/a", 2, "a"}, {"costCenters/c", 1, "c"}}
		for _, r := range rows {
			m, err := f.New(ctx, &budgetv1.CostCenterCreated{Version: r.version, CostCenter: &budgetv1.CostCenter{DisplayName: r.name}}, r.res, r.version)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.db.InTx(ctx, func(tx *sql.Tx) error { return outbox.Insert(ctx, tx, m) }); err != nil {
				t.Fatal(err)
			}
		}
		runRelayWith(t, e.db, e.js, outbox.RelayOptions{Stream: e.stream, BatchSize: size,
			PollInterval: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
		subjectsIn := func() []string {
			var out []string
			for _, m := range readAll(t, e.js, e.stream) {
				out = append(out, m.Headers().Get(events.HeaderSubject)+"@"+m.Headers().Get(events.HeaderVersion))
			}
			return out
		}
		// b1 is not held back by a1's failure; a2 never overtakes a1, and nothing behind a2 goes
		// out past it (the relay stops at the aggregate that waits).
		pending := func() int64 {
			n, _, err := outbox.Pending(ctx, e.db)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		// b1 is marked once the pass that published it has seen a1 fail.
		testkit.Eventually(t, 20*time.Second, func() bool { return pending() == 3 })
		for range 3 { // several failed passes
			if got, n := fmt.Sprint(subjectsIn()), pending(); got != "[costCenters/b@1]" || n != 3 {
				t.Fatalf("while a1 is refused: stream %s, %d pending; want only b1, 3 pending", got, n)
			}
			time.Sleep(100 * time.Millisecond)
		}
		limitMessageSize(t, e, -1)
		waitPublished(t, e.db)
		if got := fmt.Sprint(subjectsIn()); got != "[costCenters/b@1 costCenters/a@1 costCenters/a@2 costCenters/c@1]" {
			t.Fatalf("stream = %s, want b1, then a1, a2, c1", got)
		}
	})
}

// atomicEnv is newEnv on an embedded NATS server of the test's own (whose version takes atomic
// batch publishes, as the standalone binary's does) with the stream asked to take them.
func atomicEnv(t *testing.T, d testenv.Database) *env {
	t.Helper()
	ns := testenv.EmbeddedNATS(t)
	_, js := testenv.Connect(t, ns.URL)
	e := &env{db: openDB(t, d), js: js, prefix: ns.SubjectPrefix, stream: events.StreamName(ns.SubjectPrefix, "budget")}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := events.EnsureStream(ctx, e.js, events.StreamConfig{Prefix: e.prefix, AtomicBatches: true}, "budget")
	if err != nil {
		t.Fatal(err)
	}
	if !events.AtomicBatches(s) {
		t.Fatal("the embedded server's stream does not take atomic batches")
	}
	return e
}

// checkBatches asserts that every message of msgs was published in an atomic batch, each
// batch's messages numbered 1, 2, … in stream order, the last committing it, and returns the
// number of batches.
func checkBatches(t *testing.T, msgs []jetstream.Msg) (batches int) {
	t.Helper()
	for i := 0; i < len(msgs); {
		id := msgs[i].Headers().Get(events.HeaderBatchID)
		if id == "" {
			t.Fatalf("message %d of %d went out alone; want every one in an atomic batch", i+1, len(msgs))
		}
		batches++
		for seq := 1; ; seq++ {
			h := msgs[i].Headers()
			if h.Get(events.HeaderBatchID) != id || h.Get(events.HeaderBatchSequence) != strconv.Itoa(seq) {
				t.Fatalf("message %d: batch %s #%s; want batch %s #%d", i+1, h.Get(events.HeaderBatchID), h.Get(events.HeaderBatchSequence), id, seq)
			}
			i++
			if h.Get(events.HeaderBatchCommit) != "" {
				break
			}
			if i == len(msgs) {
				t.Fatalf("batch %s has no commit", id)
			}
		}
	}
	return batches
}

// TestRelayPublishesBacklogsInAtomicBatches drains a backlog on a stream that takes atomic batch
// publishes: every event goes out in a batch, once, each resource's in order, and the events
// written after the backlog, one commit at a time, go out one by one.
func TestRelayPublishesBacklogsInAtomicBatches(t *testing.T) {
	t.Parallel()
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		e := atomicEnv(t, d)
		write(t, e.db, e.prefix, 600, 7) // a read of 256, then one of the 344 after them
		runRelayWith(t, e.db, e.js, outbox.RelayOptions{Stream: e.stream, AtomicBatches: true,
			PollInterval: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
		waitPublished(t, e.db)
		msgs := readAll(t, e.js, e.stream)
		checkExactlyOnceInOrder(t, msgs, 600)
		if n := checkBatches(t, msgs); n != 2 {
			t.Errorf("600 events in %d batches; want 2, one a read", n)
		}
		write(t, e.db, e.prefix, 5, 5) // fewer than a batch's worth: one by one
		waitPublished(t, e.db)
		msgs = readAll(t, e.js, e.stream)
		if len(msgs) != 605 {
			t.Fatalf("%d messages after 5 more events; want 605", len(msgs))
		}
		for _, m := range msgs[600:] {
			if id := m.Headers().Get(events.HeaderBatchID); id != "" {
				t.Errorf("%s went out in batch %s; want alone", m.Headers().Get(events.HeaderSubject), id)
			}
		}
		if h := msgs[0].Headers(); h.Get("Nats-Expected-Stream") != e.stream || h.Get(events.HeaderMsgID) != h.Get(events.HeaderID) {
			t.Errorf("first message's headers %v", h)
		}
	})
}

// TestRelayAtomicRepublishIsDeduplicated covers a crash between a batch's acknowledgement and
// marking its rows, with more events written since: the pass's batch holds events JetStream
// has already, which it refuses whole; the relay then publishes them one by one, JetStream drops
// the copies, and the new events go out after them, once and in order.
func TestRelayAtomicRepublishIsDeduplicated(t *testing.T) {
	t.Parallel()
	e := atomicEnv(t, testenv.SQLite(t))
	mp, reader := testkit.MeterProvider(t)
	opts := outbox.RelayOptions{Stream: e.stream, AtomicBatches: true, PollInterval: 50 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond, MeterProvider: mp}
	write(t, e.db, e.prefix, 100, 3)
	r := runRelayWith(t, e.db, e.js, opts)
	waitPublished(t, e.db)
	if err := r.stop(); err != nil {
		t.Fatal(err)
	}
	if m := testkit.Metrics(t, reader, "budget"); m[outbox.MetricPublished] != 100 || m[outbox.MetricBatched] != 100 ||
		m[outbox.MetricBatchRefused] != 0 {
		t.Errorf("after the first run: %v; want 100 published, all in a batch, none refused", m)
	}
	mp, reader = testkit.MeterProvider(t)
	opts.MeterProvider = mp
	if _, err := e.db.ExecContext(context.Background(), `UPDATE outbox SET published_at = NULL`); err != nil {
		t.Fatal(err)
	}
	f, err := outbox.NewFactory(e.prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 { // versions 35 and on of the three resources, after the 100 above
		res, version := fmt.Sprintf("costCenters/res-%d", (100+i)%3), int64((100+i)/3+1)
		m, err := f.New(context.Background(), &budgetv1.CostCenterCreated{Version: version}, res, version)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.db.InTx(context.Background(), func(tx *sql.Tx) error { return outbox.Insert(context.Background(), tx, m) }); err != nil {
			t.Fatal(err)
		}
	}
	runRelayWith(t, e.db, e.js, opts)
	waitPublished(t, e.db)
	if m := testkit.Metrics(t, reader, "budget"); m[outbox.MetricPublished] != 150 || m[outbox.MetricBatched] != 0 ||
		m[outbox.MetricBatchRefused] != 1 {
		t.Errorf("after the re-publish: %v; want 150 published one by one (JetStream acknowledges a copy too), one batch refused", m)
	}
	msgs := readAll(t, e.js, e.stream)
	checkExactlyOnceInOrder(t, msgs, 150)
	for i, m := range msgs[100:] {
		if m.Headers().Get(events.HeaderBatchID) != "" {
			t.Fatalf("event %d went out in batch %s; want one by one after the refused batch", 101+i, m.Headers().Get(events.HeaderBatchID))
		}
	}
}

// TestRefusedBatchHoldsOnlyItsAggregateBack publishes a backlog whose first event JetStream
// refuses (larger than the stream takes), on a stream that takes atomic batches: the batch is
// refused whole, the relay publishes its events one by one, and only the refused event's
// aggregate waits, its later event with it, until the stream takes it.
func TestRefusedBatchHoldsOnlyItsAggregateBack(t *testing.T) {
	t.Parallel()
	e := atomicEnv(t, testenv.SQLite(t))
	ctx := context.Background()
	limitMessageSize(t, e, 4096)
	f, err := outbox.NewFactory(e.prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	// In sequence order: a1 (refused), 38 events of other resources, a2.
	var msgs []outbox.Message
	add := func(res string, version int64, name string) {
		m, err := f.New(ctx, &budgetv1.CostCenterCreated{Version: version, CostCenter: &budgetv1.CostCenter{DisplayName: name}}, res, version)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	add("costCenters/a", 1, strings.Repeat("x", 8000))
	for i := range 38 {
		add(fmt.Sprintf("costCenters/o%d", i), 1, "other")
	}
	add("costCenters/a", 2, "a")
	if err := e.db.InTx(ctx, func(tx *sql.Tx) error { return outbox.Insert(ctx, tx, msgs...) }); err != nil {
		t.Fatal(err)
	}
	mp, reader := testkit.MeterProvider(t)
	runRelayWith(t, e.db, e.js, outbox.RelayOptions{Stream: e.stream, AtomicBatches: true, MeterProvider: mp,
		PollInterval: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	testkit.Eventually(t, 20*time.Second, func() error {
		if n, _, err := outbox.Pending(ctx, e.db); err != nil || n != 2 {
			return fmt.Errorf("%d pending (%v); want a1 and a2", n, err)
		}
		return nil
	})
	for range 3 { // several failed passes
		stored := readAll(t, e.js, e.stream)
		for _, m := range stored {
			if m.Headers().Get(events.HeaderSubject) == "costCenters/a" {
				t.Fatalf("%s@%s is in the stream while a1 is refused", m.Headers().Get(events.HeaderSubject), m.Headers().Get(events.HeaderVersion))
			}
		}
		if len(stored) != 38 {
			t.Fatalf("while a1 is refused the stream holds %d events; want the 38 others", len(stored))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if m := testkit.Metrics(t, reader, "budget"); m[outbox.MetricBatchRefused] < 1 || m[outbox.MetricBatched] != 0 {
		t.Errorf("metrics %v; want the batch refused, nothing published in one", m)
	}
	limitMessageSize(t, e, -1)
	waitPublished(t, e.db)
	stored := readAll(t, e.js, e.stream)
	checkExactlyOnceInOrder(t, stored, 40)
}
