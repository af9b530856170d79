// Package testenv decides where Quarterdeck's tests get their database and NATS server, so that
// the same test runs unchanged on a laptop without Docker, on a laptop with Docker, and in CI.
//
// The order of preference is:
//
//  1. QUARTERDECK_TEST_POSTGRES_DSN and QUARTERDECK_TEST_NATS_URL, when set. CI sets them, and a
//     server named there that cannot be reached fails the test instead of skipping it, so that a
//     broken CI service never turns into silently skipped tests.
//  2. Containers started with testcontainers-go when a Docker daemon answers (postgres:16-alpine
//     and nats:2.11-alpine with JetStream), each started once per test process and removed by
//     testcontainers' reaper when the process exits.
//  3. SQLite and an in-process NATS server (package natsembed); tests that need PostgreSQL are
//     skipped with the reason.
//
// Tests sharing one server stay apart: each PostgreSQL test gets its own schema and each NATS
// test its own subject prefix, and both are cleaned up when the test ends.
package testenv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
)

// Environment variables that point tests at servers they must use.
const (
	// EnvPostgresDSN names a PostgreSQL server (a postgres:// URL) for tests. When it is set,
	// Postgres uses it instead of Docker and fails the test if it is unreachable.
	EnvPostgresDSN = "QUARTERDECK_TEST_POSTGRES_DSN"
	// EnvNATSURL names a NATS server with JetStream for tests. When it is set, NATSServer uses it
	// instead of Docker or an embedded server and fails the test if it is unreachable.
	EnvNATSURL = "QUARTERDECK_TEST_NATS_URL"
)

// Container images used when Docker is available. They are pinned to a major version so that
// tests run against the versions Quarterdeck supports.
const (
	PostgresImage = "postgres:16-alpine"
	NATSImage     = "nats:2.11-alpine"
)

const (
	// dockerProbeTimeout bounds the Docker health check, so that machines without Docker fall
	// back to SQLite and embedded NATS almost at once.
	dockerProbeTimeout = 3 * time.Second
	// containerStartTimeout bounds pulling and starting one container.
	containerStartTimeout = 3 * time.Minute
	// connectTimeout bounds connecting to a server named by an environment variable or started
	// in a container.
	connectTimeout = 10 * time.Second
)

// docker caches whether a Docker daemon answers, because the probe costs up to
// dockerProbeTimeout and every test would otherwise pay it.
var docker struct {
	once sync.Once
	err  error
}

// dockerAvailable reports nil when a Docker daemon answers, else why not.
func dockerAvailable() error {
	docker.once.Do(func() { docker.err = probeDocker() })
	return docker.err
}

func probeDocker() (err error) {
	// Older testcontainers releases panicked when no Docker host could be found; treat a panic
	// as "no Docker" rather than crashing the test binary.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("docker provider: %v", r)
		}
	}()
	provider, err := testcontainers.NewDockerProvider()
	if err != nil {
		return fmt.Errorf("docker provider: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dockerProbeTimeout)
	defer cancel()
	// Health closes the provider when it is done.
	if err := provider.Health(ctx); err != nil {
		return fmt.Errorf("docker daemon: %w", err)
	}
	return nil
}

// randomName returns prefix followed by n random characters from [a-z0-9], which are valid in
// PostgreSQL identifiers, NATS subjects and JetStream stream names alike.
func randomName(prefix string, n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 0, len(prefix)+n)
	b = append(b, prefix...)
	for range n {
		b = append(b, alphabet[rand.IntN(len(alphabet))])
	}
	return string(b)
}

// sharedContainer starts one container the first time it is needed and remembers its address or
// the error, so that every test in the process shares it and a failed start is not retried.
type sharedContainer struct {
	once sync.Once
	addr string
	err  error
}

func (c *sharedContainer) get(start func(context.Context) (string, error)) (string, error) {
	c.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), containerStartTimeout)
		defer cancel()
		c.addr, c.err = start(ctx)
	})
	return c.addr, c.err
}

// startContainer runs req and returns host:port for exposedPort. The container is left to
// testcontainers' reaper, which removes it when the test process exits.
func startContainer(ctx context.Context, req testcontainers.ContainerRequest, exposedPort string) (string, error) {
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{
		ContainerRequest: req,
		Started:          true,
	})
	if err != nil {
		if c != nil {
			_ = c.Terminate(context.Background())
		}
		return "", fmt.Errorf("start %s container: %w", req.Image, err)
	}
	addr, err := c.PortEndpoint(ctx, exposedPort, "")
	if err != nil {
		_ = c.Terminate(context.Background())
		return "", fmt.Errorf("%s container port %s: %w", req.Image, exposedPort, err)
	}
	return addr, nil
}

// lockedWriter passes a server's log lines to the test log until the test has finished, because
// testing panics on a log call after a test completes and servers may log while shutting down.
type lockedWriter struct {
	mu   sync.Mutex
	tb   testing.TB
	done bool
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.tb.Log(string(trimNewline(p)))
	}
	return len(p), nil
}

func (w *lockedWriter) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.done = true
}

func trimNewline(p []byte) []byte {
	if n := len(p); n > 0 && p[n-1] == '\n' {
		return p[:n-1]
	}
	return p
}

// envSet returns the value of an environment variable and whether it is non-empty.
func envSet(name string) (string, bool) {
	v := os.Getenv(name)
	return v, v != ""
}
