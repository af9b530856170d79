package host_test

import (
	"context"
	"database/sql"
	"io"
	"io/fs"
	"log/slog"
	"testing"
	"testing/fstest"
	"time"

	"google.golang.org/grpc"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/consumer"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestConsumersRunWithTheService starts a service that consumes its own events: an event written
// to its outbox goes out through the relay and comes back through the consumer the service
// declared, whose effect lands in the service's database.
func TestConsumersRunWithTheService(t *testing.T) {
	for _, d := range testenv.Databases(t) {
		t.Run(d.Engine, func(t *testing.T) {
			ns := testenv.NATSServer(t)
			nc, _ := testenv.Connect(t, ns.URL)
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
			in, err := host.Start(context.Background(), svc, host.Options{
				DatabaseURL: d.DSN, Schema: d.Schema, GRPCAddr: "127.0.0.1:0", NATS: nc,
				Stream: events.StreamConfig{Prefix: ns.SubjectPrefix}, Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
				Identity: identitytest.Verifier(),
			})
			if err != nil {
				t.Fatal(err)
			}
			stopped := false
			t.Cleanup(func() {
				if !stopped {
					_ = in.Stop(context.Background())
				}
			})
			if runt == nil {
				t.Fatal("Register got no consumer runtime in its Deps")
			}
			msg := outbox.Message{ID: "evt-1", Subject: ns.SubjectPrefix + ".watcher.thing.created", Type: "test.ThingCreated",
				Source: events.Source("watcher"), ResourceName: "things/1", AggregateVersion: 1,
				Time: time.Now().UTC(), Payload: []byte(`{}`)}
			if err := db.InTx(context.Background(), func(tx *sql.Tx) error {
				return outbox.Insert(context.Background(), tx, msg)
			}); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				var n int
				if err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM seen`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n == 1 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the consumer did not apply the service's event")
				}
				time.Sleep(20 * time.Millisecond)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			stopped = true
			if err := in.Stop(ctx); err != nil {
				t.Fatalf("stop: %v", err)
			}
		})
	}
}
