package consumer_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// appliedVersions returns, per resource, the versions of its events whose effects are recorded,
// in the order they were applied.
func appliedVersions(t *testing.T, db *sqldb.DB) map[string][]int64 {
	t.Helper()
	rows, err := db.QueryContext(context.Background(), `SELECT i.resource_name, e.version FROM effects e
		JOIN consumer_inbox i ON i.event_id = e.event_id ORDER BY e.seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]int64{}
	for rows.Next() {
		var (
			res string
			v   int64
		)
		if err := rows.Scan(&res, &v); err != nil {
			t.Fatal(err)
		}
		out[res] = append(out[res], v)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// A partitioned consumer applies each resource's events once, in stream order, while the events
// of several resources wait in its appliers: a reordering would make versions stale, a copy of an
// event (the same ce-id re-published) must find the inbox row of the first.
func TestPartitionsKeepEachResourcesOrder(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, e *env) {
		first := newID(t)
		g := newGate(t, first)
		e.startSpec(t, e.js, fast, consumer.Spec{Partitions: 4, Handler: func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
			if err := g.wait(ctx, ev); err != nil {
				return err
			}
			return recordEffect(ctx, tx, ev)
		}})
		const resources, versions = 8, 6
		e.publish(t, e.event(first, "costCenters/r0", 1))
		e.waitDelivered(t, 1)
		published := 1
		for v := int64(1); v <= versions; v++ {
			for r := range resources {
				if r == 0 && v == 1 {
					continue
				}
				id := newID(t)
				m := e.event(id, fmt.Sprintf("costCenters/r%d", r), v)
				e.publish(t, m)
				published++
				if r%3 == 0 {
					// A copy under another message ID, which JetStream does not deduplicate.
					c := e.event(id, fmt.Sprintf("costCenters/r%d", r), v)
					c.Header.Set(events.HeaderMsgID, id+"-copy")
					e.publish(t, c)
					published++
				}
			}
		}
		g.release()
		e.waitAllAcked(t, uint64(published))

		got := appliedVersions(t, e.db)
		if len(got) != resources {
			t.Fatalf("effects of %d resources, want %d: %v", len(got), resources, got)
		}
		for r := range resources {
			res := fmt.Sprintf("costCenters/r%d", r)
			if fmt.Sprint(got[res]) != "[1 2 3 4 5 6]" {
				t.Errorf("%s: applied versions %v, want 1 to 6 in order, each once", res, got[res])
			}
		}
		if c := effects(t, e.db); c.rows != resources*versions || c.distinct != c.rows {
			t.Fatalf("effects = %+v, want %d, each event once", c, resources*versions)
		}
		var other int
		if err := e.db.QueryRowContext(context.Background(),
			`SELECT COUNT(*) FROM consumer_inbox WHERE outcome <> 'APPLIED'`).Scan(&other); err != nil {
			t.Fatal(err)
		}
		if other != 0 {
			t.Fatalf("%d inbox rows not APPLIED (stale: applied out of order), want none", other)
		}
	})
}

// Events of one partition key are applied in stream order even across resources, and an event
// that waits holds back only its own partition: on PostgreSQL the events of another key are
// applied meanwhile. On SQLite a consumer has one applier, and applies every event in stream
// order.
func TestPartitionsApplyOtherKeysWhileOneWaits(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, e *env) {
		const n = 4
		// Two groups of resources whose keys fall in different partitions.
		held, free := "g0", ""
		for i := 1; free == ""; i++ {
			if k := fmt.Sprintf("g%d", i); consumer.Partition(k, n) != consumer.Partition(held, n) {
				free = k
			}
		}
		first := newID(t)
		g := newGate(t, first)
		var (
			mu    sync.Mutex
			order []string
		)
		e.startSpec(t, e.js, fast, consumer.Spec{
			Partitions: n,
			PartitionKey: func(ev consumer.Event) string {
				return strings.SplitN(strings.TrimPrefix(ev.Resource, "costCenters/"), "-", 2)[0]
			},
			Handler: func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
				if err := g.wait(ctx, ev); err != nil {
					return err
				}
				mu.Lock()
				order = append(order, ev.Resource)
				mu.Unlock()
				return recordEffect(ctx, tx, ev)
			}})
		e.publish(t, e.event(first, "costCenters/"+held+"-a", 1))
		e.waitDelivered(t, 1)
		want := []string{"costCenters/" + held + "-a"}
		for i := range 5 {
			// Resources of the held key, which must wait behind the held event, and of the free one.
			e.publish(t, e.event(newID(t), fmt.Sprintf("costCenters/%s-b%d", held, i), 1))
			e.publish(t, e.event(newID(t), fmt.Sprintf("costCenters/%s-b%d", free, i), 1))
		}
		if e.db.Engine() == sqldb.Postgres {
			// The free key's five events are applied while the held one waits.
			testkit.Eventually(t, 20*time.Second, func() bool {
				return effects(t, e.db).rows == 5
			})
			if got := testkit.Column[string](t, e.db, `SELECT event_id FROM effects`); len(got) != 5 {
				t.Fatalf("effects while the held event waits: %v", got)
			}
			for _, res := range appliedResources(t, e.db) {
				if !strings.HasPrefix(res, "costCenters/"+free+"-") {
					t.Fatalf("%s applied while the event ahead of it in its partition waits", res)
				}
			}
		} else {
			e.waitDelivered(t, 11)
		}
		g.release()
		e.waitAllAcked(t, 11)
		got := appliedResources(t, e.db)
		var heldOrder []string
		for _, res := range got {
			if strings.HasPrefix(res, "costCenters/"+held+"-") {
				heldOrder = append(heldOrder, res)
			}
		}
		for i := range 5 {
			want = append(want, fmt.Sprintf("costCenters/%s-b%d", held, i))
		}
		if fmt.Sprint(heldOrder) != fmt.Sprint(want) {
			t.Fatalf("the held key's events were applied as %v, want in stream order %v", heldOrder, want)
		}
		if e.db.Engine() == sqldb.SQLite {
			var stream []string
			stream = append(stream, want[0])
			for i := range 5 {
				stream = append(stream, fmt.Sprintf("costCenters/%s-b%d", held, i), fmt.Sprintf("costCenters/%s-b%d", free, i))
			}
			if fmt.Sprint(got) != fmt.Sprint(stream) {
				t.Fatalf("on SQLite the events were applied as %v, want in stream order %v", got, stream)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if len(order) < 11 {
			t.Fatalf("the handler ran %d times, want at least once per event (11)", len(order))
		}
	})
}

// appliedResources returns the resources of the applied events, in the order they were applied.
func appliedResources(t *testing.T, db *sqldb.DB) []string {
	t.Helper()
	return testkit.Column[string](t, db, `SELECT i.resource_name FROM effects e
		JOIN consumer_inbox i ON i.event_id = e.event_id ORDER BY e.seq`)
}

// In a partitioned consumer an event that always fails is retried and dead-lettered alone; the
// events of its partition and of the others are applied once each.
func TestPartitionsDeadLetterAFailingEvent(t *testing.T) {
	forEachDatabase(t, func(t *testing.T, e *env) {
		first, bad := newID(t), newID(t)
		g := newGate(t, first)
		rt, _ := e.startSpec(t, e.js, fast, consumer.Spec{Partitions: 4, Handler: func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
			if err := g.wait(ctx, ev); err != nil {
				return err
			}
			return recordEffectOrFail(ctx, tx, ev, bad)
		}})
		e.publish(t, e.event(first, "costCenters/first", 1))
		e.waitDelivered(t, 1)
		want := map[string]bool{first: true}
		for i := range 12 {
			id, res, v := newID(t), fmt.Sprintf("costCenters/%d", i%4), int64(1+i/4)
			if i == 5 {
				// A resource of its own: a later version applied first would make it stale.
				id, res, v = bad, "costCenters/bad", 1
			} else {
				want[id] = true
			}
			e.publish(t, e.event(id, res, v))
		}
		// Every event has reached the consumer before the held one goes on: on PostgreSQL the
		// other partitions' appliers may have applied and acknowledged theirs already.
		e.waitReached(t, 13)
		g.release()
		waitDeadLetter(t, rt, bad)
		e.waitAllAcked(t, 13)
		got := testkit.Column[string](t, e.db, `SELECT event_id FROM effects`)
		if len(got) != len(want) {
			t.Fatalf("%d effects, want %d (each event but the failing one, once)", len(got), len(want))
		}
		for _, id := range got {
			if !want[id] {
				t.Fatalf("effect of %s, which failed or was applied twice", id)
			}
			delete(want, id)
		}
	})
}
