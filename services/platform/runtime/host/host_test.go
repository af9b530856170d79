package host_test

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"testing"
	"testing/fstest"
	"time"

	"google.golang.org/grpc"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestConsumersRunWithTheService starts a service that consumes its own events: an event written
// to its outbox goes out through the relay and comes back through the consumer the service
// declared, whose effect lands in the service's database.
func TestConsumersRunWithTheService(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		var (
			db   *sqldb.DB
			runt *consumer.Runtime
		)
		svc := host.Service{
			Domain: "watcher",
			Migrations: func(e sqldb.Engine) fs.FS {
				return fstest.MapFS{"00001_seen.sql": {Data: []byte(
					"-- +goose Up\nCREATE TABLE seen (event_id TEXT PRIMARY KEY);\n")}}
			},
			Register: func(_ grpc.ServiceRegistrar, deps host.Deps) error {
				db, runt = deps.DB, deps.Consumers
				return nil
			},
			Consumers: func(deps host.Deps) []consumer.Spec {
				return []consumer.Spec{{Name: "self", Domain: "watcher", Subjects: []string{"thing.>"},
					Handler: func(ctx context.Context, tx *sql.Tx, ev consumer.Event) error {
						_, err := tx.ExecContext(ctx, `INSERT INTO seen (event_id) VALUES ($1)`, ev.ID)
						return err
					}}}
			},
		}
		s := testkit.Start(t, d, svc)
		if runt == nil {
			t.Fatal("Register got no consumer runtime in its Deps")
		}
		msg := outbox.Message{ID: "evt-1", Subject: s.Subject("thing.created"), Type: "test.ThingCreated",
			Source: events.Source("watcher"), ResourceName: "things/1", AggregateVersion: 1,
			Time: time.Now().UTC(), Payload: []byte(`{}`)}
		if err := db.InTx(context.Background(), func(tx *sql.Tx) error {
			return outbox.Insert(context.Background(), tx, msg)
		}); err != nil {
			t.Fatal(err)
		}
		testkit.Eventually(t, 30*time.Second, func() error {
			if n := testkit.Column[int](t, db, `SELECT COUNT(*) FROM seen`); n[0] != 1 {
				return fmt.Errorf("the consumer applied %d of the service's 1 event", n[0])
			}
			return nil
		})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Stop(ctx); err != nil {
			t.Fatalf("stop: %v", err)
		}
	})
}
