package testenv

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Engines a Database can name.
const (
	// EngineSQLite is the embedded store used by the standalone binary and by tests everywhere.
	EngineSQLite = "sqlite"
	// EnginePostgres is the store used in production deployments.
	EnginePostgres = "postgres"
)

// Database says where a test's store lives, so that storage tests can run the same cases
// against every engine Quarterdeck supports.
type Database struct {
	// Engine is EngineSQLite or EnginePostgres.
	Engine string
	// DSN is "sqlite:<file>" for SQLite, or a postgres:// URL for PostgreSQL. A PostgreSQL DSN
	// sets search_path to Schema, so connections opened from it create and find unqualified
	// tables in the test's own schema.
	DSN string
	// Schema is the PostgreSQL schema reserved for this test, or "" for SQLite.
	Schema string
}

// SQLite returns a fresh SQLite database file under t.TempDir(), so that every call gets its own
// store and the file is removed with the test. The file itself is not created; opening the DSN
// creates it.
func SQLite(t testing.TB) Database {
	t.Helper()
	path := filepath.Join(t.TempDir(), "quarterdeck.db")
	return Database{Engine: EngineSQLite, DSN: "sqlite:" + path}
}

// PostgresAvailable reports whether Postgres will give tests a server, and why or why not, so
// that callers can choose cases or explain a skip without calling Postgres. It does not connect
// to a server named by QUARTERDECK_TEST_POSTGRES_DSN: that happens in Postgres, which fails the
// test when the server cannot be reached.
func PostgresAvailable() (ok bool, reason string) {
	if _, ok := envSet(EnvPostgresDSN); ok {
		return true, EnvPostgresDSN + " is set"
	}
	if err := dockerAvailable(); err != nil {
		return false, fmt.Sprintf("%s is not set and Docker is not available (%v)", EnvPostgresDSN, err)
	}
	return true, "Docker is available (" + PostgresImage + " container)"
}

// Postgres returns a PostgreSQL database in a schema of its own ("t_" and 12 random characters),
// created now and dropped with everything in it when the test ends, so that tests can share one
// server. It skips the test when neither QUARTERDECK_TEST_POSTGRES_DSN nor Docker is available,
// and fails it when the server named by QUARTERDECK_TEST_POSTGRES_DSN cannot be reached, because
// CI must not silently skip.
func Postgres(t testing.TB) Database {
	t.Helper()
	dsn, fromEnv := envSet(EnvPostgresDSN)
	if !fromEnv {
		if ok, reason := PostgresAvailable(); !ok {
			t.Skip("PostgreSQL not available: " + reason)
		}
		var err error
		dsn, err = postgresContainerDSN()
		if err != nil {
			t.Fatalf("PostgreSQL container: %v", err)
		}
	}
	source := "PostgreSQL container"
	if fromEnv {
		source = EnvPostgresDSN + " is set but PostgreSQL"
	}

	schema := randomName("t_", 12)
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("%s is unreachable: %v", source, err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if err := dropSchema(dsn, schema); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})

	scoped, err := withSearchPath(dsn, schema)
	if err != nil {
		t.Fatalf("PostgreSQL DSN: %v", err)
	}
	return Database{Engine: EnginePostgres, DSN: scoped, Schema: schema}
}

func dropSchema(dsn, schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	_, err = conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
	return err
}

// withSearchPath sets search_path in a postgres:// URL or a keyword/value DSN. pgx sends unknown
// DSN parameters as run-time parameters, so the setting applies to every connection.
func withSearchPath(dsn, schema string) (string, error) {
	if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return dsn + " search_path=" + schema, nil
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// noPostgresLogged makes Databases explain a missing PostgreSQL once per test process instead of
// in every test.
var noPostgresLogged sync.Once

// Databases returns SQLite and, when available, PostgreSQL, so that storage tests run against
// every engine they can reach. When PostgreSQL is not available it logs the reason once per test
// process and returns only SQLite.
func Databases(t testing.TB) []Database {
	t.Helper()
	dbs := []Database{SQLite(t)}
	ok, reason := PostgresAvailable()
	if !ok {
		noPostgresLogged.Do(func() { t.Log("PostgreSQL cases skipped: " + reason) })
		return dbs
	}
	return append(dbs, Postgres(t))
}

// Another returns a new, empty database of like's engine: the database of a second service in a
// test that runs two, each on a database of its own as in production.
func Another(t testing.TB, like Database) Database {
	t.Helper()
	if like.Engine == EnginePostgres {
		return Postgres(t)
	}
	return SQLite(t)
}

var postgresContainer sharedContainer

// postgresContainerDSN starts the PostgreSQL container on first use and returns its DSN.
func postgresContainerDSN() (string, error) {
	addr, err := postgresContainer.get(func(ctx context.Context) (string, error) {
		return startContainer(ctx, testcontainers.ContainerRequest{
			Image:        PostgresImage,
			ExposedPorts: []string{"5432/tcp"},
			Env: map[string]string{
				"POSTGRES_USER":     "postgres",
				"POSTGRES_PASSWORD": "postgres",
				"POSTGRES_DB":       "quarterdeck",
			},
			// The image starts the server twice (once to run init scripts), so the ready line
			// must be seen twice before the real server is up.
			WaitingFor: wait.ForAll(
				wait.ForLog("database system is ready to accept connections").WithOccurrence(2),
				wait.ForListeningPort("5432/tcp"),
			),
		}, "5432/tcp")
	})
	if err != nil {
		return "", err
	}
	return "postgres://postgres:postgres@" + addr + "/quarterdeck?sslmode=disable", nil
}
