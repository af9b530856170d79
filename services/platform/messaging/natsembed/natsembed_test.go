package natsembed_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/natsembed"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// testLogger returns a logger that keeps the server's lines in a buffer, printed only when the
// test fails, so that passing runs stay quiet.
func testLogger(t *testing.T) *slog.Logger {
	t.Helper()
	w := &testkit.Buffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nats-server log:\n%s", w.String())
		}
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

func start(t *testing.T, opts natsembed.Options) *natsembed.Server {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	s, err := natsembed.Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t *testing.T, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}

func TestDedupAndDurability(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	storeDir := t.TempDir()

	s := start(t, natsembed.Options{StoreDir: storeDir})
	url := s.ClientURL()
	if !strings.HasPrefix(url, "nats://127.0.0.1:") || strings.HasSuffix(url, ":0") {
		t.Fatalf("ClientURL = %q, want nats://127.0.0.1:<port>", url)
	}
	js := connect(t, url)

	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:     "EVENTS",
		Subjects: []string{"events.>"},
		Storage:  jetstream.FileStorage,
	})
	if err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	for i, wantDup := range []bool{false, true} {
		ack, err := js.Publish(ctx, "events.budget.created", []byte("hello"), jetstream.WithMsgID("evt-1"))
		if err != nil {
			t.Fatalf("Publish #%d: %v", i+1, err)
		}
		if ack.Duplicate != wantDup {
			t.Errorf("Publish #%d: Duplicate = %v, want %v", i+1, ack.Duplicate, wantDup)
		}
	}
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream holds %d messages after publishing one Nats-Msg-Id twice, want 1", info.State.Msgs)
	}

	s.Shutdown()
	s.Shutdown() // safe to call twice

	// Restart on the same store, on the port the first server used: Shutdown must have released it.
	_, portStr, err := net.SplitHostPort(strings.TrimPrefix(url, "nats://"))
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		t.Fatal(err)
	}
	s2 := start(t, natsembed.Options{StoreDir: storeDir, Port: port, ServerName: "restarted"})
	if s2.ClientURL() != url {
		t.Errorf("restarted ClientURL = %q, want %q", s2.ClientURL(), url)
	}
	js2 := connect(t, s2.ClientURL())
	stream2, err := js2.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatalf("stream after restart: %v", err)
	}
	msg, err := stream2.GetMsg(ctx, 1)
	if err != nil {
		t.Fatalf("message after restart: %v", err)
	}
	if string(msg.Data) != "hello" || msg.Subject != "events.budget.created" {
		t.Errorf("message after restart = %q on %q, want %q on %q", msg.Data, msg.Subject, "hello", "events.budget.created")
	}
	info2, err := stream2.Info(ctx)
	if err != nil {
		t.Fatalf("stream info after restart: %v", err)
	}
	if info2.State.Msgs != 1 {
		t.Errorf("stream holds %d messages after restart, want 1", info2.State.Msgs)
	}
}

func TestPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port

	s, err := natsembed.Start(natsembed.Options{Port: port, StoreDir: t.TempDir(), Logger: testLogger(t)})
	if err == nil {
		s.Shutdown()
		t.Fatalf("Start on occupied port %d succeeded", port)
	}
	if !errors.Is(err, natsembed.ErrPortInUse) {
		t.Fatalf("Start on occupied port: err = %v, want one wrapping ErrPortInUse", err)
	}
	if want := "nats client port 127.0.0.1:" + strconv.Itoa(port); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name the address (%q)", err, want)
	}
}

func TestPortInUseByEmbeddedServer(t *testing.T) {
	s := start(t, natsembed.Options{StoreDir: t.TempDir()})
	_, portStr, _ := net.SplitHostPort(strings.TrimPrefix(s.ClientURL(), "nats://"))
	port, _ := strconv.Atoi(portStr)
	_, err := natsembed.Start(natsembed.Options{Port: port, StoreDir: t.TempDir(), Logger: testLogger(t)})
	if !errors.Is(err, natsembed.ErrPortInUse) {
		t.Fatalf("second server on port %d: err = %v, want ErrPortInUse", port, err)
	}
}

func TestRequiresStoreDir(t *testing.T) {
	if s, err := natsembed.Start(natsembed.Options{}); err == nil {
		s.Shutdown()
		t.Fatal("Start without StoreDir succeeded")
	}
}

func TestLogsGoToSlog(t *testing.T) {
	// At INFO the server's banner and routine notices are not logged: they are debug lines.
	w := &testkit.Buffer{}
	s, err := natsembed.Start(natsembed.Options{StoreDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	if out := w.String(); strings.Contains(out, "component=nats-server") {
		t.Errorf("the server's notices are logged at INFO:\n%s", out)
	}

	// At DEBUG they are, with the component named.
	w = &testkit.Buffer{}
	s, err = natsembed.Start(natsembed.Options{StoreDir: t.TempDir(),
		Logger: slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	if out := w.String(); !strings.Contains(out, "component=nats-server") || !strings.Contains(out, "Server is ready") {
		t.Errorf("expected the server's notices at DEBUG in the slog output, got:\n%s", out)
	}
}

// A server that cannot start JetStream reports the server's fatal message as an error instead of
// exiting the test binary.
func TestFatalDoesNotExit(t *testing.T) {
	file := t.TempDir() + "/not-a-directory"
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := natsembed.Start(natsembed.Options{StoreDir: file, Logger: testLogger(t)})
	if err == nil {
		s.Shutdown()
		t.Fatal("Start with a file as StoreDir succeeded")
	}
	t.Logf("Start: %v", err)
	if !strings.Contains(err.Error(), "JetStream") {
		t.Errorf("error %q does not carry the server's fatal message", err)
	}
}
