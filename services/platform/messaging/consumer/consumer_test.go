package consumer_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/encoding/protojson"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	operationsv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/operations/v1"
	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

var quiet = slog.New(slog.NewJSONHandler(io.Discard, nil))

// openDB opens a migrated database with the consumer tables, the outbox and a test table whose
// rows are a handler's effects: one row per application, with no unique key, so that a second
// application of an event shows as a second row.
func openDB(t testing.TB, d testenv.Database) *sqldb.DB {
	t.Helper()
	db := testkit.Open(t, d, consumer.Migrations, outbox.Migrations)
	ddl := `CREATE TABLE effects (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id TEXT NOT NULL, version BIGINT NOT NULL)`
	if db.Engine() == sqldb.SQLite {
		ddl = `CREATE TABLE effects (seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL, version INTEGER NOT NULL)`
	}
	if _, err := db.ExecContext(context.Background(), ddl); err != nil {
		t.Fatal(err)
	}
	return db
}

// recordEffect is the effect of the test handlers.
func recordEffect(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO effects (event_id, version) VALUES ($1, $2)`, ev.ID, ev.Version)
	return err
}

// recordEffectOrFail records ev's effect, then fails when ev is the event bad: the rollback must
// undo the effect, and leave those of the events applied with it in the same transaction.
func recordEffectOrFail(ctx context.Context, tx *sql.Tx, ev consumer.Event, bad string) error {
	if err := recordEffect(ctx, tx, ev); err != nil {
		return err
	}
	if ev.ID == bad {
		return errors.New("this event always fails")
	}
	return nil
}

// waitDeadLetter waits until the event id, and it alone, is rt's dead letter.
func waitDeadLetter(t *testing.T, rt *consumer.Runtime, id string) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() bool {
		resp, err := rt.ListDeadLetters(context.Background(), &operationsv1.ListDeadLettersRequest{Parent: "services/risk"})
		return err == nil && len(resp.DeadLetters) == 1 && resp.DeadLetters[0].EventId == id
	})
}

type effectCount struct{ rows, distinct int }

func effects(t testing.TB, db *sqldb.DB) effectCount {
	t.Helper()
	var c effectCount
	if err := db.QueryRowContext(context.Background(),
		`SELECT COUNT(*), COUNT(DISTINCT event_id) FROM effects`).Scan(&c.rows, &c.distinct); err != nil {
		t.Fatal(err)
	}
	return c
}

// env is one test's NATS and database.
type env struct {
	db     *sqldb.DB
	nats   testenv.NATS
	js     jetstream.JetStream
	prefix string
	stream string
}

func newEnv(t testing.TB, d testenv.Database) *env {
	t.Helper()
	ns := testenv.NATSServer(t)
	_, js := testenv.Connect(t, ns.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := events.EnsureStream(ctx, js, events.StreamConfig{Prefix: ns.SubjectPrefix}, "budget"); err != nil {
		t.Fatal(err)
	}
	return &env{db: openDB(t, d), nats: ns, js: js, prefix: ns.SubjectPrefix,
		stream: events.StreamName(ns.SubjectPrefix, "budget")}
}

// forEachDatabase runs f against SQLite and, when available, PostgreSQL.
func forEachDatabase(t *testing.T, f func(t *testing.T, e *env)) {
	for _, d := range testenv.Databases(t) {
		t.Run(d.Engine, func(t *testing.T) { f(t, newEnv(t, d)) })
	}
}

// event builds a budget event message as the outbox relay publishes it.
func (e *env) event(id, resource string, version int64) *nats.Msg {
	payload, _ := protojson.Marshal(&budgetv1.CostCenterCreated{Version: version})
	m := nats.NewMsg(e.prefix + ".budget.cost_center.created")
	m.Data = payload
	h := m.Header
	h.Set(events.HeaderSpecVersion, events.SpecVersion)
	h.Set(events.HeaderID, id)
	h.Set(events.HeaderSource, events.Source("budget"))
	h.Set(events.HeaderType, "quarterdeck.budget.v1.CostCenterCreated")
	h.Set(events.HeaderTime, time.Now().UTC().Format(time.RFC3339Nano))
	h.Set(events.HeaderSubject, resource)
	h.Set(events.HeaderVersion, strconv.FormatInt(version, 10))
	h.Set(events.HeaderContentType, events.ContentType)
	h.Set(events.HeaderMsgID, id)
	return m
}

func (e *env) publish(t testing.TB, msgs ...*nats.Msg) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, m := range msgs {
		if _, err := e.js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
}

func newID(t testing.TB) string {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// start runs a runtime with the given consumer until the test ends. It returns the runtime and
// the cancel of its context, which kills it: its work is abandoned, as when its process dies.
func (e *env) start(t testing.TB, js jetstream.JetStream, s consumer.Settings, h consumer.Handler, opts ...func(*consumer.Options)) (*consumer.Runtime, context.CancelFunc) {
	t.Helper()
	return e.startSpec(t, js, s, consumer.Spec{Handler: h}, opts...)
}

// startSpec is start with a consumer spec of its own; its name and domain are the test's.
func (e *env) startSpec(t testing.TB, js jetstream.JetStream, s consumer.Settings, spec consumer.Spec, opts ...func(*consumer.Options)) (*consumer.Runtime, context.CancelFunc) {
	t.Helper()
	o := consumer.Options{Service: "risk", Prefix: e.prefix, Settings: s, Logger: quiet}
	for _, f := range opts {
		f(&o)
	}
	spec.Name, spec.Domain = "budget-watch", "budget"
	rt, err := consumer.New(e.db, js, []consumer.Spec{spec}, o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := rt.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer dcancel()
		_ = rt.Drain(dctx)
		cancel()
		rt.Wait()
	})
	return rt, cancel
}

// consumerInfo reads the test consumer's state on the server.
func (e *env) consumerInfo(t *testing.T) *jetstream.ConsumerInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := e.js.Consumer(ctx, e.stream, "risk_budget-watch")
	if err != nil {
		if errors.Is(err, jetstream.ErrConsumerNotFound) {
			return nil
		}
		t.Fatal(err)
	}
	info, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

var fast = consumer.Settings{MaxDeliver: 3, AckWait: 2 * time.Second, BackoffInitial: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond}

func TestRedeliveryAfterHandlerError(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, e *env) {
		var attempts []int
		var mu sync.Mutex
		e.start(t, e.js, consumer.Settings{MaxDeliver: 5, AckWait: 2 * time.Second, BackoffInitial: 20 * time.Millisecond},
			func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
				mu.Lock()
				attempts = append(attempts, ev.Attempt)
				n := len(attempts)
				mu.Unlock()
				// Writes the effect before failing: the rollback must undo it.
				if err := recordEffect(ctx, tx, ev); err != nil {
					return err
				}
				if _, ok := ev.Message.(*budgetv1.CostCenterCreated); !ok {
					return consumer.Permanent(fmt.Errorf("decoded %T", ev.Message))
				}
				if n < 3 {
					return errors.New("transient failure")
				}
				return nil
			})
		e.publish(t, e.event(newID(t), "costCenters/a", 1))
		testkit.Eventually(t, 20*time.Second, func() bool { return effects(t, e.db).rows == 1 })
		testkit.Eventually(t, 10*time.Second, func() bool {
			i := e.consumerInfo(t)
			return i != nil && i.NumAckPending == 0 && i.NumPending == 0
		})
		if c := effects(t, e.db); c.rows != 1 {
			t.Fatalf("effects = %d, want 1", c.rows)
		}
		mu.Lock()
		defer mu.Unlock()
		if fmt.Sprint(attempts) != "[1 2 3]" {
			t.Fatalf("attempts = %v, want [1 2 3]", attempts)
		}
	})
}

func TestDuplicateMessageHasOneEffect(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, e *env) {
		e.start(t, e.js, fast, recordEffect)
		id := newID(t)
		first := e.event(id, "costCenters/a", 1)
		// The same event again under a new stream sequence: a re-publish after the duplicate
		// window, which JetStream cannot catch.
		again := e.event(id, "costCenters/a", 1)
		again.Header.Set(events.HeaderMsgID, newID(t))
		marker := e.event(newID(t), "costCenters/b", 1)
		e.publish(t, first, again, marker)
		testkit.Eventually(t, 20*time.Second, func() bool {
			i := e.consumerInfo(t)
			return i != nil && i.AckFloor.Stream == 3 && i.NumAckPending == 0
		})
		if c := effects(t, e.db); c.rows != 2 || c.distinct != 2 {
			t.Fatalf("effects = %+v, want 2 rows for 2 events", c)
		}
	})
}

func TestStaleEventIsSkipped(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, e *env) {
		e.start(t, e.js, fast, recordEffect)
		v1, v2, v3 := newID(t), newID(t), newID(t)
		// Version 2 arrives before version 1 (e.g. 1 was redelivered after a failure).
		e.publish(t, e.event(v2, "costCenters/a", 2), e.event(v1, "costCenters/a", 1), e.event(v3, "costCenters/a", 3))
		testkit.Eventually(t, 20*time.Second, func() bool {
			i := e.consumerInfo(t)
			return i != nil && i.AckFloor.Stream == 3 && i.NumAckPending == 0
		})
		got := testkit.Column[int64](t, e.db, `SELECT version FROM effects ORDER BY seq`)
		if fmt.Sprint(got) != "[2 3]" {
			t.Fatalf("applied versions = %v, want [2 3]", got)
		}
		var outcome string
		if err := e.db.QueryRowContext(context.Background(),
			`SELECT outcome FROM consumer_inbox WHERE event_id = $1`, v1).Scan(&outcome); err != nil {
			t.Fatal(err)
		}
		if outcome != "STALE" {
			t.Fatalf("inbox outcome of the stale event = %q, want STALE", outcome)
		}
	})
}

// TestIgnoredTypesAreAcknowledgedUnapplied: the events of a type the spec ignores are
// acknowledged without a handler call or an inbox row, and the version check goes on from the
// events applied around them.
func TestIgnoredTypesAreAcknowledgedUnapplied(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, e *env) {
		const ignored = "quarterdeck.budget.v1.CostCenterUpdated"
		var types sync.Map
		e.startSpec(t, e.js, fast, consumer.Spec{Ignore: []string{ignored},
			Handler: func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
				types.Store(ev.Type, true)
				return recordEffect(ctx, tx, ev)
			}})
		updated := func(id string, version int64) *nats.Msg {
			m := e.event(id, "costCenters/a", version)
			m.Subject = e.prefix + ".budget.cost_center.updated"
			m.Data, _ = protojson.Marshal(&budgetv1.CostCenterUpdated{Version: version})
			m.Header.Set(events.HeaderType, ignored)
			return m
		}
		c1, u2, u3, c4 := newID(t), newID(t), newID(t), newID(t)
		e.publish(t, e.event(c1, "costCenters/a", 1), updated(u2, 2), updated(u3, 3), e.event(c4, "costCenters/a", 4))
		testkit.Eventually(t, 20*time.Second, func() bool {
			i := e.consumerInfo(t)
			return i != nil && i.AckFloor.Stream == 4 && i.NumAckPending == 0 && i.NumPending == 0
		})
		if got := testkit.Column[int64](t, e.db, `SELECT version FROM effects ORDER BY seq`); fmt.Sprint(got) != "[1 4]" {
			t.Fatalf("applied versions = %v, want [1 4]", got)
		}
		if _, ok := types.Load(ignored); ok {
			t.Fatalf("the handler was called for an event of the ignored type %s", ignored)
		}
		want := []string{c1, c4}
		slices.Sort(want)
		if got := testkit.Column[string](t, e.db, `SELECT event_id FROM consumer_inbox ORDER BY event_id`); !slices.Equal(got, want) {
			t.Fatalf("inbox = %v, want the applied events %v", got, want)
		}
	})
}

// TestIgnoreNeedsEventTypes: an empty or blank event type to ignore is a spec error.
func TestIgnoreNeedsEventTypes(t *testing.T) {
	db := openDB(t, testenv.Databases(t)[0])
	for _, typ := range []string{"", "quarterdeck.budget.v1.Cost CenterUpdated"} {
		_, err := consumer.New(db, nil, []consumer.Spec{{Name: "budget-watch", Domain: "budget", Ignore: []string{typ},
			Handler: recordEffect}}, consumer.Options{Service: "risk", Logger: quiet})
		if err == nil || !strings.Contains(err.Error(), "invalid event type to ignore") {
			t.Errorf("Ignore %q: err = %v, want an invalid event type", typ, err)
		}
	}
}

func TestDeadLetterAndReplay(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, e *env) {
		var failing atomic.Bool
		failing.Store(true)
		rt, _ := e.start(t, e.js, fast, func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
			if err := recordEffect(ctx, tx, ev); err != nil {
				return err
			}
			if failing.Load() {
				return fmt.Errorf("cost center %s unknown here", ev.Resource)
			}
			return nil
		})
		ctx := context.Background()
		id := newID(t)
		e.publish(t, e.event(id, "costCenters/a", 1))

		var dl *operationsv1.DeadLetter
		testkit.Eventually(t, 20*time.Second, func() bool {
			resp, err := rt.ListDeadLetters(ctx, &operationsv1.ListDeadLettersRequest{Parent: "services/risk"})
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.DeadLetters) == 1 {
				dl = resp.DeadLetters[0]
			}
			return dl != nil
		})
		if dl.EventId != id || dl.Consumer != "budget-watch" || dl.Attempts != 3 ||
			dl.State != operationsv1.DeadLetter_STATE_PENDING || dl.EventType != "quarterdeck.budget.v1.CostCenterCreated" ||
			dl.Subject != e.prefix+".budget.cost_center.created" || dl.Error != "cost center costCenters/a unknown here" ||
			dl.Payload != `{"version":"1"}` || dl.CreateTime == nil {
			t.Fatalf("dead letter = %v", dl)
		}
		// Terminated: JetStream will not deliver it again.
		testkit.Eventually(t, 10*time.Second, func() bool {
			i := e.consumerInfo(t)
			return i != nil && i.NumAckPending == 0 && i.NumPending == 0
		})
		if c := effects(t, e.db); c.rows != 0 {
			t.Fatalf("effects after the failures = %d, want 0", c.rows)
		}

		// A replay that fails again leaves it pending, with one more attempt.
		got, err := rt.ReplayDeadLetter(ctx, &operationsv1.ReplayDeadLetterRequest{Name: dl.Name})
		if err != nil {
			t.Fatal(err)
		}
		if got.State != operationsv1.DeadLetter_STATE_PENDING || got.Attempts != 4 || got.ReplayTime == nil {
			t.Fatalf("after a failed replay: %v", got)
		}

		failing.Store(false)
		reqID := uuid.NewString()
		got, err = rt.ReplayDeadLetter(ctx, &operationsv1.ReplayDeadLetterRequest{Name: dl.Name, RequestId: reqID})
		if err != nil {
			t.Fatal(err)
		}
		if got.State != operationsv1.DeadLetter_STATE_REPLAYED || got.Attempts != 5 {
			t.Fatalf("after a replay: %v", got)
		}
		if c := effects(t, e.db); c.rows != 1 {
			t.Fatalf("effects after the replay = %d, want 1", c.rows)
		}
		// A retry of the same replay returns the result; another replay is refused.
		again, err := rt.ReplayDeadLetter(ctx, &operationsv1.ReplayDeadLetterRequest{Name: dl.Name, RequestId: reqID})
		if err != nil || again.State != operationsv1.DeadLetter_STATE_REPLAYED {
			t.Fatalf("retry of the replay: %v, %v", again, err)
		}
		_, err = rt.ReplayDeadLetter(ctx, &operationsv1.ReplayDeadLetterRequest{Name: dl.Name})
		if fe := fault.As(err); fe == nil || fe.Kind != fault.FailedPrecondition || fe.Reason != "DEAD_LETTER_ALREADY_REPLAYED" {
			t.Fatalf("second replay: %v, want FAILED_PRECONDITION", err)
		}
		if c := effects(t, e.db); c.rows != 1 {
			t.Fatalf("effects after the second replay = %d, want 1", c.rows)
		}

		_, err = rt.ReplayDeadLetter(ctx, &operationsv1.ReplayDeadLetterRequest{Name: "services/risk/deadLetters/nope"})
		if fe := fault.As(err); fe == nil || fe.Kind != fault.NotFound {
			t.Fatalf("replay of a missing dead letter: %v, want NOT_FOUND", err)
		}
	})
}

func TestListDeadLetters(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, e *env) {
		rt, _ := e.start(t, e.js, fast, func(context.Context, *sql.Tx, consumer.Event) error {
			return consumer.Permanent(errors.New("never"))
		})
		ctx := context.Background()
		var ids []string
		for i := range 3 {
			id := newID(t)
			ids = append(ids, id)
			e.publish(t, e.event(id, fmt.Sprintf("costCenters/%d", i), 1))
			// One at a time, so that the dead letters are created in publish order.
			testkit.Eventually(t, 20*time.Second, func() bool {
				resp, err := rt.ListDeadLetters(ctx, &operationsv1.ListDeadLettersRequest{Parent: "services/risk"})
				return err == nil && len(resp.DeadLetters) == i+1
			})
		}
		req := &operationsv1.ListDeadLettersRequest{Parent: "services/risk", PageSize: 2}
		p1, err := rt.ListDeadLetters(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if len(p1.DeadLetters) != 2 || p1.NextPageToken == "" || p1.DeadLetters[0].EventId != ids[2] ||
			p1.DeadLetters[1].EventId != ids[1] || p1.DeadLetters[0].Attempts != 1 {
			t.Fatalf("first page: %v", p1)
		}
		req.PageToken = p1.NextPageToken
		p2, err := rt.ListDeadLetters(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if len(p2.DeadLetters) != 1 || p2.NextPageToken != "" || p2.DeadLetters[0].EventId != ids[0] {
			t.Fatalf("second page: %v", p2)
		}

		pending, err := rt.ListDeadLetters(ctx, &operationsv1.ListDeadLettersRequest{Parent: "services/risk", Filter: "state = STATE_PENDING"})
		if err != nil || len(pending.DeadLetters) != 3 {
			t.Fatalf("pending dead letters: %v, %v", pending, err)
		}
		replayed, err := rt.ListDeadLetters(ctx, &operationsv1.ListDeadLettersRequest{Parent: "services/risk", Filter: "state = STATE_REPLAYED"})
		if err != nil || len(replayed.DeadLetters) != 0 {
			t.Fatalf("replayed dead letters: %v, %v", replayed, err)
		}
		_, err = rt.ListDeadLetters(ctx, &operationsv1.ListDeadLettersRequest{Parent: "services/risk", PageToken: "garbage"})
		if fe := fault.As(err); fe == nil || fe.Kind != fault.InvalidArgument {
			t.Fatalf("bad page token: %v, want INVALID_ARGUMENT", err)
		}
		_, err = rt.ListDeadLetters(ctx, &operationsv1.ListDeadLettersRequest{Parent: "services/budget"})
		if fe := fault.As(err); fe == nil || fe.Kind != fault.NotFound {
			t.Fatalf("other service: %v, want NOT_FOUND", err)
		}
	})
}

func TestInboxIsPruned(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, e *env) {
		rt, _ := e.start(t, e.js, fast, recordEffect)
		old, recent := newID(t), newID(t)
		e.publish(t, e.event(old, "costCenters/a", 1), e.event(recent, "costCenters/b", 1))
		testkit.Eventually(t, 20*time.Second, func() bool { return effects(t, e.db).rows == 2 })
		// Age one row past the retention.
		if _, err := e.db.ExecContext(context.Background(), `UPDATE consumer_inbox SET processed_at = $1 WHERE event_id = $2`,
			time.Now().UTC().Add(-consumer.DefaultInboxRetention-time.Hour), old); err != nil {
			t.Fatal(err)
		}
		n, err := rt.PruneInbox(context.Background(), time.Now())
		if err != nil || n != 1 {
			t.Fatalf("pruned %d rows, %v; want 1", n, err)
		}
		left := testkit.Column[string](t, e.db, `SELECT event_id FROM consumer_inbox`)
		if len(left) != 1 || left[0] != recent {
			t.Fatalf("inbox after pruning = %v, want [%s]", left, recent)
		}
	})
}
