package testenv

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/natsembed"
)

// NATS says where a test's events go.
type NATS struct {
	// URL is the client URL of a NATS server with JetStream.
	URL string
	// SubjectPrefix is unique per test ("qt" and 10 random characters). A test must put every
	// subject it uses under SubjectPrefix+"." so that tests sharing one server never see each
	// other's messages, and so that cleanup can find its streams.
	SubjectPrefix string
	// External is true when the server is shared with other tests (QUARTERDECK_TEST_NATS_URL or
	// a container), and false for an embedded server owned by this test alone.
	External bool
}

// NATSServer returns a NATS server with JetStream: the one named by QUARTERDECK_TEST_NATS_URL,
// else a container shared by the test process when Docker is available, else an embedded server
// for this test alone (see EmbeddedNATS). On a shared server, every JetStream stream whose
// subjects all start with SubjectPrefix+"." is deleted when the test ends, so that streams do not
// pile up across runs. A server named by QUARTERDECK_TEST_NATS_URL that cannot be reached fails
// the test, because CI must not silently fall back.
func NATSServer(t testing.TB) NATS {
	t.Helper()
	url, fromEnv := envSet(EnvNATSURL)
	if !fromEnv {
		if err := dockerAvailable(); err != nil {
			return EmbeddedNATS(t)
		}
		var err error
		url, err = natsContainerURL()
		if err != nil {
			t.Fatalf("NATS container: %v", err)
		}
	}
	source := "NATS container"
	if fromEnv {
		source = EnvNATSURL + " is set but NATS"
	}

	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	nc, err := nats.Connect(url, nats.Name("quarterdeck-testenv"), nats.Timeout(connectTimeout))
	if err != nil {
		t.Fatalf("%s at %s is unreachable: %v", source, url, err)
	}
	js, err := jetstream.New(nc)
	if err == nil {
		_, err = js.AccountInfo(ctx)
	}
	if err != nil {
		nc.Close()
		t.Fatalf("%s at %s has no usable JetStream: %v", source, url, err)
	}

	n := NATS{URL: url, SubjectPrefix: randomName("qt", 10), External: true}
	t.Cleanup(func() {
		defer nc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
		defer cancel()
		if _, err := deleteStreams(ctx, js, n.SubjectPrefix); err != nil {
			t.Errorf("delete JetStream streams under %s.: %v", n.SubjectPrefix, err)
		}
	})
	return n
}

// EmbeddedNATS returns a fresh in-process NATS server with JetStream, owned by this test: its
// store lives under t.TempDir(), it listens on a random loopback port, and it is shut down when
// the test ends. Tests use it directly when they need a server no other test touches. Its
// warnings and errors go to the test log.
func EmbeddedNATS(t testing.TB) NATS {
	t.Helper()
	return StoppableNATS(t).NATS
}

// Stoppable is an embedded NATS server that its test stops and starts again, to see what
// happens while NATS is away.
type Stoppable struct {
	NATS
	tb   testing.TB
	opts natsembed.Options
	srv  *natsembed.Server
}

// StoppableNATS is EmbeddedNATS with the server in the test's hands: Stop shuts it down, Start
// brings it back on the same port and store, so that clients reconnect and streams survive.
func StoppableNATS(t testing.TB) *Stoppable {
	t.Helper()
	w := &lockedWriter{tb: t}
	t.Cleanup(w.close)
	s := &Stoppable{tb: t, opts: natsembed.Options{
		StoreDir: t.TempDir(),
		Logger:   slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})),
	}}
	s.Start()
	t.Cleanup(func() { s.srv.Shutdown() })
	u, err := url.Parse(s.srv.ClientURL())
	if err == nil {
		s.opts.Port, err = strconv.Atoi(u.Port())
	}
	if err != nil {
		t.Fatalf("embedded NATS at %s: %v", s.srv.ClientURL(), err)
	}
	s.NATS = NATS{URL: s.srv.ClientURL(), SubjectPrefix: randomName("qt", 10), External: false}
	return s
}

// StoreDir is the server's JetStream store directory.
func (s *Stoppable) StoreDir() string { return s.opts.StoreDir }

// Stop shuts the server down; its clients start reconnecting.
func (s *Stoppable) Stop() { s.srv.Shutdown() }

// Start starts the server: after Stop, on the port and store it had.
func (s *Stoppable) Start() {
	s.tb.Helper()
	srv, err := natsembed.Start(s.opts)
	if err != nil {
		s.tb.Fatalf("embedded NATS: %v", err)
	}
	s.srv = srv
}

// deleteStreams deletes every stream whose subjects all start with prefix+"." and returns their
// names. Streams with no subjects, or with any subject outside the prefix, belong to someone else
// and are left alone.
func deleteStreams(ctx context.Context, js jetstream.JetStream, prefix string) ([]string, error) {
	var names []string
	lister := js.ListStreams(ctx)
	for info := range lister.Info() {
		if ownedBy(info.Config.Subjects, prefix) {
			names = append(names, info.Config.Name)
		}
	}
	if err := lister.Err(); err != nil {
		return nil, fmt.Errorf("list streams: %w", err)
	}
	var (
		deleted []string
		errs    []error
	)
	for _, name := range names {
		err := js.DeleteStream(ctx, name)
		switch {
		case err == nil:
			deleted = append(deleted, name)
		case errors.Is(err, jetstream.ErrStreamNotFound):
		default:
			errs = append(errs, fmt.Errorf("delete stream %s: %w", name, err))
		}
	}
	return deleted, errors.Join(errs...)
}

func ownedBy(subjects []string, prefix string) bool {
	if len(subjects) == 0 {
		return false
	}
	for _, s := range subjects {
		if !strings.HasPrefix(s, prefix+".") {
			return false
		}
	}
	return true
}

var natsContainer sharedContainer

// natsContainerURL starts the NATS container on first use and returns its client URL.
func natsContainerURL() (string, error) {
	addr, err := natsContainer.get(func(ctx context.Context) (string, error) {
		return startContainer(ctx, testcontainers.ContainerRequest{
			Image:        NATSImage,
			ExposedPorts: []string{"4222/tcp"},
			Cmd:          []string{"-js"},
			WaitingFor: wait.ForAll(
				wait.ForLog("Server is ready"),
				wait.ForListeningPort("4222/tcp"),
			),
		}, "4222/tcp")
	})
	if err != nil {
		return "", err
	}
	return "nats://" + addr, nil
}

// Connect opens a NATS connection to url for the test, with a JetStream context on it, and closes
// it when the test ends. The connection reconnects like a service's does (events.Connect), so
// tests that stop and restart a server keep using it.
func Connect(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := events.Connect(url, "quarterdeck-test", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream on %s: %v", url, err)
	}
	return nc, js
}
