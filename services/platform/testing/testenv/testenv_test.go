package testenv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	_ "modernc.org/sqlite"
)

func TestSQLiteGivesDistinctFiles(t *testing.T) {
	a, b := SQLite(t), SQLite(t)
	for _, db := range []Database{a, b} {
		if db.Engine != EngineSQLite || db.Schema != "" || !strings.HasPrefix(db.DSN, "sqlite:") {
			t.Fatalf("SQLite() = %+v, want engine sqlite, no schema, DSN sqlite:<file>", db)
		}
	}
	if a.DSN == b.DSN {
		t.Fatalf("two SQLite calls returned the same DSN %q", a.DSN)
	}

	// The files are usable and separate: a table created in one is absent from the other.
	open := func(db Database) *sql.DB {
		t.Helper()
		conn, err := sql.Open("sqlite", strings.TrimPrefix(db.DSN, "sqlite:"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	ca, cb := open(a), open(b)
	if _, err := ca.Exec("CREATE TABLE only_in_a (id INTEGER PRIMARY KEY)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	var n int
	if err := cb.QueryRow("SELECT count(*) FROM sqlite_master WHERE name = 'only_in_a'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("table created in the first SQLite database is visible in the second")
	}
	if _, err := os.Stat(strings.TrimPrefix(a.DSN, "sqlite:")); err != nil {
		t.Fatalf("SQLite file not created by opening the DSN: %v", err)
	}
}

func schemaExists(t *testing.T, dsn, schema string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	var n int
	err = conn.QueryRow(ctx, "SELECT count(*) FROM information_schema.schemata WHERE schema_name = $1", schema).Scan(&n)
	if err != nil {
		t.Fatalf("query information_schema.schemata: %v", err)
	}
	return n == 1
}

func TestPostgresSchemaLifecycle(t *testing.T) {
	var db Database
	t.Run("during", func(t *testing.T) {
		db = Postgres(t)
		if db.Engine != EnginePostgres {
			t.Fatalf("Engine = %q, want %q", db.Engine, EnginePostgres)
		}
		if !regexp.MustCompile(`^t_[a-z0-9]{12}$`).MatchString(db.Schema) {
			t.Errorf("Schema = %q, want t_ and 12 of [a-z0-9]", db.Schema)
		}
		if !schemaExists(t, db.DSN, db.Schema) {
			t.Fatalf("schema %s does not exist during the test", db.Schema)
		}

		// The DSN's search_path puts unqualified tables into the test's schema.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, db.DSN)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = conn.Close(context.Background()) }()
		if _, err := conn.Exec(ctx, "CREATE TABLE budgets (id bigint PRIMARY KEY)"); err != nil {
			t.Fatalf("create table: %v", err)
		}
		var schema string
		err = conn.QueryRow(ctx, "SELECT table_schema FROM information_schema.tables WHERE table_name = 'budgets' AND table_schema = current_schema()").Scan(&schema)
		if err != nil || schema != db.Schema {
			t.Fatalf("unqualified table landed in schema %q (err %v), want %q", schema, err, db.Schema)
		}
	})
	if db.Schema == "" {
		t.Skip("PostgreSQL not available; see the subtest's skip reason")
	}
	// The subtest's cleanup has run: the schema and its table are gone.
	if schemaExists(t, db.DSN, db.Schema) {
		t.Fatalf("schema %s still exists after the test's cleanup", db.Schema)
	}
}

func TestPostgresSchemasAreDistinct(t *testing.T) {
	a, b := Postgres(t), Postgres(t)
	if a.Schema == b.Schema {
		t.Fatalf("two Postgres calls reserved the same schema %q", a.Schema)
	}
}

func TestDatabases(t *testing.T) {
	dbs := Databases(t)
	if len(dbs) == 0 || dbs[0].Engine != EngineSQLite {
		t.Fatalf("Databases() = %+v, want SQLite first", dbs)
	}
	ok, reason := PostgresAvailable()
	if reason == "" {
		t.Error("PostgresAvailable gave no reason")
	}
	want := 1
	if ok {
		want = 2
	}
	if len(dbs) != want {
		t.Fatalf("Databases() returned %d databases, want %d (PostgresAvailable = %v, %q)", len(dbs), want, ok, reason)
	}
	if ok && (dbs[1].Engine != EnginePostgres || dbs[1].Schema == "") {
		t.Fatalf("second database = %+v, want PostgreSQL with a schema", dbs[1])
	}
}

func TestAnotherIsANewDatabaseOfTheSameEngine(t *testing.T) {
	for _, db := range Databases(t) {
		other := Another(t, db)
		if other.Engine != db.Engine || other.DSN == db.DSN && other.Schema == db.Schema {
			t.Errorf("Another(%+v) = %+v; want a different database of the same engine", db, other)
		}
	}
}

// useStream creates a stream on prefix.> and round-trips a message through it.
func useStream(t *testing.T, n NATS) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, js := Connect(t, n.URL)
	name := strings.ToUpper(n.SubjectPrefix) + "_EVENTS"
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     name,
		Subjects: []string{n.SubjectPrefix + ".>"},
	})
	if err != nil {
		t.Fatalf("create stream: %v", err)
	}
	if _, err := js.Publish(ctx, n.SubjectPrefix+".budget.created", []byte("b1")); err != nil {
		t.Fatalf("publish: %v", err)
	}
	msg, err := stream.GetLastMsgForSubject(ctx, n.SubjectPrefix+".budget.created")
	if err != nil {
		t.Fatalf("read back: %v", err)
	}
	if string(msg.Data) != "b1" {
		t.Fatalf("read back %q, want %q", msg.Data, "b1")
	}
	return name
}

func TestNATSServer(t *testing.T) {
	_, fromEnv := envSet(EnvNATSURL)
	var n NATS
	var stream string
	t.Run("during", func(t *testing.T) {
		n = NATSServer(t)
		if !regexp.MustCompile(`^qt[a-z0-9]{10}$`).MatchString(n.SubjectPrefix) {
			t.Errorf("SubjectPrefix = %q, want qt and 10 of [a-z0-9]", n.SubjectPrefix)
		}
		if fromEnv && (n.URL != os.Getenv(EnvNATSURL) || !n.External) {
			t.Errorf("NATSServer() = %+v, want the external server %s", n, os.Getenv(EnvNATSURL))
		}
		if fromEnv || dockerAvailable() == nil {
			if !n.External {
				t.Errorf("NATSServer() = %+v, want a shared (External) server", n)
			}
		} else if n.External {
			t.Errorf("NATSServer() = %+v, want an embedded server without env or Docker", n)
		}
		stream = useStream(t, n)
	})
	if t.Failed() {
		return
	}

	if !n.External {
		// The embedded server belonged to the subtest and was shut down with it.
		nc, err := nats.Connect(n.URL, nats.Timeout(2*time.Second))
		if err == nil {
			nc.Close()
			t.Fatalf("embedded server at %s still accepts connections after its test ended", n.URL)
		}
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, js := Connect(t, n.URL)
	if _, err := js.Stream(ctx, stream); !errors.Is(err, jetstream.ErrStreamNotFound) {
		t.Fatalf("stream %s after its test ended: err = %v, want ErrStreamNotFound", stream, err)
	}
}

func TestEmbeddedNATS(t *testing.T) {
	a, b := EmbeddedNATS(t), EmbeddedNATS(t)
	if a.External || b.External {
		t.Fatalf("EmbeddedNATS marked External: %+v %+v", a, b)
	}
	if a.URL == b.URL || a.SubjectPrefix == b.SubjectPrefix {
		t.Fatalf("two EmbeddedNATS calls share a server or prefix: %+v %+v", a, b)
	}
	if env := os.Getenv(EnvNATSURL); env != "" && a.URL == env {
		t.Fatalf("EmbeddedNATS returned the external server %s", env)
	}
	useStream(t, a)
	useStream(t, b)
}

// Cleanup on a shared server deletes only the streams whose subjects all live under the test's
// prefix; it is checked here against an embedded server so that it runs everywhere.
func TestDeleteStreamsOnlyTouchesPrefix(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n := EmbeddedNATS(t)
	_, js := Connect(t, n.URL)
	p := n.SubjectPrefix
	streams := map[string][]string{
		"MINE_ALL":     {p + ".all.>"},
		"MINE_SPLIT":   {p + ".a.*", p + ".b"},
		"OTHER_PREFIX": {"qtother0000.>"},
		"MIXED":        {p + ".c", "elsewhere.c"},
		"LOOKALIKE":    {p + "x.>"},
	}
	for name, subjects := range streams {
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: subjects}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	deleted, err := deleteStreams(ctx, js, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(deleted) != 2 {
		t.Errorf("deleted %v, want MINE_ALL and MINE_SPLIT", deleted)
	}
	var left []string
	for name := range js.StreamNames(ctx).Name() {
		left = append(left, name)
	}
	if len(left) != 3 {
		t.Errorf("streams left %v, want LOOKALIKE, MIXED and OTHER_PREFIX", left)
	}
	for _, name := range left {
		if strings.HasPrefix(name, "MINE") {
			t.Errorf("stream %s survived cleanup", name)
		}
	}
}

// fatalRecorder stands in for a test so that a helper's Fatalf can be observed: it records the
// message and ends the goroutine, as testing.T does, without failing the real test.
type fatalRecorder struct {
	testing.TB
	mu      sync.Mutex
	fatal   string
	skipped string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = fmt.Sprintf(format, args...)
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *fatalRecorder) Skip(args ...any) {
	r.mu.Lock()
	r.skipped = fmt.Sprint(args...)
	r.mu.Unlock()
	runtime.Goexit()
}

// run calls f with the recorder on its own goroutine, since Fatalf ends the goroutine.
func (r *fatalRecorder) run(f func(testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(r)
	}()
	<-done
}

func TestUnreachableEnvServersFail(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		t.Setenv(EnvPostgresDSN, "postgres://postgres@127.0.0.1:1/test?sslmode=disable&connect_timeout=5")
		if ok, _ := PostgresAvailable(); !ok {
			t.Error("PostgresAvailable = false with the env var set; want true so the test fails loudly")
		}
		r := &fatalRecorder{TB: t}
		r.run(func(tb testing.TB) { Postgres(tb) })
		if r.skipped != "" || !strings.Contains(r.fatal, EnvPostgresDSN) {
			t.Fatalf("Postgres with an unreachable %s: fatal %q, skip %q; want a Fatalf naming the variable", EnvPostgresDSN, r.fatal, r.skipped)
		}
	})
	t.Run("nats", func(t *testing.T) {
		t.Setenv(EnvNATSURL, "nats://127.0.0.1:1")
		r := &fatalRecorder{TB: t}
		r.run(func(tb testing.TB) { NATSServer(tb) })
		if r.skipped != "" || !strings.Contains(r.fatal, EnvNATSURL) {
			t.Fatalf("NATSServer with an unreachable %s: fatal %q, skip %q; want a Fatalf naming the variable", EnvNATSURL, r.fatal, r.skipped)
		}
	})
}

func TestPostgresSkipsWithoutEnvOrDocker(t *testing.T) {
	if dockerAvailable() == nil {
		t.Skip("Docker is available, so Postgres uses a container instead of skipping")
	}
	t.Setenv(EnvPostgresDSN, "")
	ok, reason := PostgresAvailable()
	if ok || !strings.Contains(reason, "Docker") {
		t.Fatalf("PostgresAvailable() = %v, %q; want false with a reason mentioning Docker", ok, reason)
	}
	r := &fatalRecorder{TB: t}
	r.run(func(tb testing.TB) { Postgres(tb) })
	if r.fatal != "" || !strings.HasPrefix(r.skipped, "PostgreSQL not available: ") {
		t.Fatalf("Postgres without env or Docker: fatal %q, skip %q; want a skip with the reason", r.fatal, r.skipped)
	}
	if dbs := Databases(t); len(dbs) != 1 || dbs[0].Engine != EngineSQLite {
		t.Fatalf("Databases() = %+v, want only SQLite", dbs)
	}
}

// A stopped server comes back on its URL with its streams, and a client reconnects to it and is
// answered. A NATS request is at most once: one that the client wrote as the server went away,
// before it noticed, is lost with the connection (seen once in a loaded CI run), so the client
// asks again after a few seconds, as a caller of a request does.
func TestStoppableNATS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := StoppableNATS(t)
	_, js := Connect(t, n.URL)
	stream := useStream(t, n.NATS)
	n.Stop()
	if nc, err := nats.Connect(n.URL, nats.Timeout(time.Second)); err == nil {
		nc.Close()
		t.Fatal("a stopped server still accepts connections")
	}
	n.Start()
	for {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := js.Stream(actx, stream)
		acancel()
		if err == nil {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("stream %s after the restart: %v", stream, err)
		}
		t.Logf("stream %s after the restart: %v; asking again", stream, err)
		time.Sleep(100 * time.Millisecond)
	}
}
