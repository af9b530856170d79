package baseline

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/natsembed"
)

// short keeps the test runs brief; the assertions do not depend on how much gets done.
var short = Options{Clients: 4, Duration: 300 * time.Millisecond, Payload: 256}

func checkResult(t *testing.T, r Result) {
	t.Helper()
	t.Logf("%s: %d ops, %.0f/s, p50 %s, p99 %s", r.Name, r.Ops, r.Rate, r.P50, r.P99)
	if r.Ops <= 0 {
		t.Errorf("Ops = %d, want > 0", r.Ops)
	}
	if r.Errors != 0 {
		t.Errorf("Errors = %d (first: %v), want 0", r.Errors, r.FirstError)
	}
	if r.Rate <= 0 {
		t.Errorf("Rate = %v, want > 0", r.Rate)
	}
	if r.P50 > r.P99 {
		t.Errorf("P50 %s > P99 %s", r.P50, r.P99)
	}
	if r.P50 <= 0 {
		t.Errorf("P50 = %s, want > 0", r.P50)
	}
}

func TestPostgres(t *testing.T) {
	dsn := os.Getenv("QUARTERDECK_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("QUARTERDECK_TEST_POSTGRES_DSN is empty; CI sets it to a PostgreSQL server to run this test")
	}
	ctx := t.Context()
	r, err := Postgres(ctx, dsn, short)
	if err != nil {
		t.Fatalf("Postgres: %v", err)
	}
	checkResult(t, r)
	if !strings.HasPrefix(r.Scratch, "load_baseline_") {
		t.Fatalf("Scratch = %q, want a load_baseline_ schema", r.Scratch)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx,
		`SELECT EXISTS (SELECT 1 FROM information_schema.schemata WHERE schema_name = $1)`,
		r.Scratch).Scan(&exists); err != nil {
		t.Fatalf("look for schema: %v", err)
	}
	if exists {
		t.Errorf("schema %s still exists after Postgres returned", r.Scratch)
	}
}

func TestPostgresDropsSchemaOnCancel(t *testing.T) {
	dsn := os.Getenv("QUARTERDECK_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("QUARTERDECK_TEST_POSTGRES_DSN is empty; CI sets it to a PostgreSQL server to run this test")
	}
	ctx, cancel := context.WithCancel(t.Context())
	o := short
	o.Duration = time.Hour
	// Late enough for the scratch schema to exist on a busy machine (the race detector's CI run):
	// the run goes on until cancelled.
	time.AfterFunc(3*time.Second, cancel)
	r, err := Postgres(ctx, dsn, o)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Postgres with a cancelled context: err = %v, want context.Canceled", err)
	}
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(t.Context())
	var n int
	if err := conn.QueryRow(t.Context(),
		`SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1`, r.Scratch).Scan(&n); err != nil {
		t.Fatalf("look for schema: %v", err)
	}
	if r.Scratch == "" || n != 0 {
		t.Errorf("schema %q: %d left after a cancelled run, want it named and dropped", r.Scratch, n)
	}
}

func TestSQLite(t *testing.T) {
	dir := t.TempDir()
	r, err := SQLite(t.Context(), dir, short)
	if err != nil {
		t.Fatalf("SQLite: %v", err)
	}
	checkResult(t, r)
	if !strings.HasPrefix(r.Scratch, dir) {
		t.Fatalf("Scratch = %q, want a file under %s", r.Scratch, dir)
	}
	left, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("%d entries left in the folder after SQLite returned, want none", len(left))
	}
}

func TestJetStream(t *testing.T) {
	quiet := slog.New(slog.DiscardHandler)
	srv, err := natsembed.Start(natsembed.Options{StoreDir: t.TempDir(), Logger: quiet, SyncAlways: true})
	if err != nil {
		t.Fatalf("start NATS: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	servers := map[string]string{"embedded": srv.ClientURL()}
	if url := os.Getenv("QUARTERDECK_TEST_NATS_URL"); url != "" {
		servers["QUARTERDECK_TEST_NATS_URL"] = url
	}
	for server, url := range servers {
		for _, mode := range []string{"sync", "async"} {
			t.Run(server+"/"+mode, func(t *testing.T) {
				r, err := JetStream(t.Context(), url, mode, short)
				if err != nil {
					t.Fatalf("JetStream %s: %v", mode, err)
				}
				checkResult(t, r)
				if !strings.HasPrefix(r.Scratch, "LOAD_BASELINE_") {
					t.Fatalf("Scratch = %q, want a LOAD_BASELINE_ stream", r.Scratch)
				}
				nc, err := nats.Connect(url)
				if err != nil {
					t.Fatalf("connect: %v", err)
				}
				defer nc.Close()
				js, err := jetstream.New(nc)
				if err != nil {
					t.Fatal(err)
				}
				_, err = js.Stream(t.Context(), r.Scratch)
				if !errors.Is(err, jetstream.ErrStreamNotFound) {
					t.Errorf("stream %s after JetStream returned: err = %v, want ErrStreamNotFound", r.Scratch, err)
				}
			})
		}
	}
}

func TestJetStreamUnknownMode(t *testing.T) {
	_, err := JetStream(t.Context(), "nats://127.0.0.1:1", "batch", short)
	if !errors.Is(err, errUnknownMode) {
		t.Fatalf("err = %v, want errUnknownMode", err)
	}
}

func TestOptionsDefaults(t *testing.T) {
	o, err := Options{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Clients: 16, Duration: 5 * time.Second, Payload: 512, Window: 256}
	if o != want {
		t.Errorf("defaults = %+v, want %+v", o, want)
	}
	if _, err := (Options{Clients: -1}).withDefaults(); err == nil {
		t.Error("negative Clients accepted")
	}
}

func TestJSONPayloadSize(t *testing.T) {
	for _, n := range []int{18, 19, 512, 4096} {
		if got := len(jsonPayload(n)); got != n {
			t.Errorf("len(jsonPayload(%d)) = %d", n, got)
		}
	}
}
