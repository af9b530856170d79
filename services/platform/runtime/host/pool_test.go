package host_test

import (
	"context"
	"io"
	"io/fs"
	"log/slog"
	"testing"
	"testing/fstest"
	"time"

	"google.golang.org/grpc"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// TestDatabaseMaxConns: the service's PostgreSQL pool opens at most DatabaseMaxConns connections
// (QUARTERDECK_DATABASE_MAX_CONNS), so that the replicas of every service fit in the server's
// max_connections; left unset, 16. SQLite keeps its own small pool whatever the setting.
func TestDatabaseMaxConns(t *testing.T) {
	testkit.ForEachDatabase(t, func(t *testing.T, d testenv.Database) {
		for _, c := range []struct{ set, want int }{{3, 3}, {0, 16}} {
			var db *sqldb.DB
			svc := host.Service{Domain: "pooled",
				Migrations: func(sqldb.Engine) fs.FS {
					return fstest.MapFS{"00001_things.sql": {Data: []byte("-- +goose Up\nCREATE TABLE things (id TEXT PRIMARY KEY);\n")}}
				},
				Register: func(_ grpc.ServiceRegistrar, deps host.Deps) error {
					db = deps.DB
					return nil
				}}
			ns := testenv.NATSServer(t)
			nc, _ := testenv.Connect(t, ns.URL)
			in, err := host.Start(context.Background(), svc, host.Options{
				DatabaseURL: d.DSN, Schema: d.Schema, DatabaseMaxConns: c.set, GRPCAddr: "127.0.0.1:0", NATS: nc,
				Stream: events.StreamConfig{Prefix: ns.SubjectPrefix}, Identity: identitytest.Verifier(),
				Logger: slog.New(slog.NewJSONHandler(io.Discard, nil)),
			})
			if err != nil {
				t.Fatal(err)
			}
			got := db.Stats().MaxOpenConnections
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := in.Stop(ctx); err != nil {
				t.Errorf("stop: %v", err)
			}
			cancel()
			if d.Engine == testenv.EnginePostgres && got != c.want {
				t.Errorf("DatabaseMaxConns %d: the pool opens up to %d connections; want %d", c.set, got, c.want)
			}
			if d.Engine == testenv.EngineSQLite && got == c.set && c.set != 0 {
				t.Errorf("DatabaseMaxConns %d changed SQLite's pool", c.set)
			}
		}
	})
}
