package host_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/config"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/identity/identitytest"
	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// fakeSettings are the own settings of the fake service the ServiceMain tests run.
type fakeSettings struct {
	Size  int    `env:"FAKE_SIZE" default:"1" help:"how big the fake is (1 or more)"`
	Token string `env:"FAKE_TOKEN" secret:"true" help:"a secret of the fake"`
}

func (s fakeSettings) Validate() error {
	if s.Size < 1 {
		return fmt.Errorf("QUARTERDECK_FAKE_SIZE is %d; want 1 or more", s.Size)
	}
	return nil
}

var fakeBinary = host.Binary{Domain: "fake", Version: "test", GRPCAddr: "127.0.0.1:9999"}

// fake records what RunService did with the fake service.
type fake struct {
	built      bool
	registered bool
	settings   fakeSettings
}

func (f *fake) service(s fakeSettings) host.Service {
	f.built, f.settings = true, s
	return host.Service{
		Domain: "fake",
		Migrations: func(sqldb.Engine) fs.FS {
			return fstest.MapFS{"00001_fakes.sql": {Data: []byte("-- +goose Up\nCREATE TABLE fakes (id TEXT PRIMARY KEY);\n")}}
		},
		Register: func(grpc.ServiceRegistrar, host.Deps) error {
			f.registered = true
			return nil
		},
		// A scheduler, so that its metrics show at /metrics.
		Schedules: func(host.Deps) map[string]scheduler.Handler {
			return map[string]scheduler.Handler{"noop": func(context.Context, *sqlstore.Tx, scheduler.Fired) error { return nil }}
		},
		Settings: s,
	}
}

// required are the settings a run cannot do without, with the database in dir.
func required(dir string) []string {
	return []string{
		"--database-url", "sqlite:" + filepath.Join(dir, "fake.db"),
		"--identity-public-keys", identity.EncodePublicKey(identitytest.Signer().PublicKey()),
	}
}

// runFake runs the fake service's binary with args until ctx ends.
func runFake(ctx context.Context, f *fake, args []string, out io.Writer) error {
	return host.RunService(ctx, fakeBinary, f.service, args, out)
}

// TestServiceMainHelp checks that --help lists the common settings and the service's own, each
// with its variable, with the binary's defaults and words in place, and starts nothing.
func TestServiceMainHelp(t *testing.T) {
	var out bytes.Buffer
	f := &fake{}
	if err := runFake(context.Background(), f, []string{"--help"}, &out); !errors.Is(err, config.ErrHelp) {
		t.Fatalf("--help: %v; want config.ErrHelp", err)
	}
	for _, want := range []string{
		"Usage: quarterdeck-fake [flags]\n\nRuns the Quarterdeck fake service (gRPC). Subcommands: migrate.\n",
		"--grpc-addr string", "QUARTERDECK_GRPC_ADDR\n        gRPC listen address (default \"127.0.0.1:9999\")\n",
		"QUARTERDECK_DATABASE_URL\n        postgres://… (tables in schema \"fake\") or sqlite:<file> (required)\n",
		"QUARTERDECK_DATABASE_SCHEMA\n        PostgreSQL schema of the fake tables (empty: \"fake\")\n",
		"QUARTERDECK_NATS_URL", "QUARTERDECK_METRICS_ADDR", "QUARTERDECK_DEBUG_ADDR", "QUARTERDECK_SHUTDOWN_TIMEOUT",
		"--fake-size int", "QUARTERDECK_FAKE_SIZE\n        how big the fake is (1 or more) (default 1)\n",
		"QUARTERDECK_FAKE_TOKEN",
		"QUARTERDECK_EVENT_SUBJECT_PREFIX", "QUARTERDECK_IDENTITY_PUBLIC_KEYS", "QUARTERDECK_CONSUMER_MAX_DELIVER",
		"QUARTERDECK_LOG_LEVEL", "QUARTERDECK_OTLP_ENDPOINT",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--help lacks %q:\n%s", want, out.String())
		}
	}
	if f.built {
		t.Error("--help built the service")
	}
}

// TestServiceMainRefusesInvalidSettings checks that a bad value of the service's own settings
// stops the run, whatever the command, before the service is built or its database touched.
func TestServiceMainRefusesInvalidSettings(t *testing.T) {
	for _, cmd := range [][]string{nil, {"migrate"}} {
		dir := t.TempDir()
		f := &fake{}
		err := runFake(context.Background(), f, append(append(required(dir), "--fake-size", "0"), cmd...), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "QUARTERDECK_FAKE_SIZE is 0") {
			t.Errorf("%v with --fake-size 0: %v; want the setting named", cmd, err)
		}
		if f.built {
			t.Errorf("%v: the service was built with invalid settings", cmd)
		}
		err = runFake(context.Background(), f, append(append(required(dir), "--database-max-conns", "0"), cmd...), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "QUARTERDECK_DATABASE_MAX_CONNS is 0") {
			t.Errorf("%v with --database-max-conns 0: %v; want the setting named", cmd, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "fake.db")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%v: the database was created (stat: %v)", cmd, err)
		}
	}
}

// TestServiceMainMigrate checks that migrate applies the platform's and the service's
// migrations to the database and returns without serving.
func TestServiceMainMigrate(t *testing.T) {
	dir := t.TempDir()
	f := &fake{}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := runFake(ctx, f, append(required(dir), "--fake-size", "3", "migrate"), io.Discard); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if f.settings.Size != 3 {
		t.Errorf("service built with %+v; want Size 3", f.settings)
	}
	if f.registered {
		t.Error("migrate registered the service's handlers")
	}
	db, err := sqldb.Open(ctx, "sqlite:"+filepath.Join(dir, "fake.db"), sqldb.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, table := range []string{"fakes", "outbox"} {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table).Scan(&n); err != nil {
			t.Errorf("table %s after migrate: %v", table, err)
		}
	}
}

// TestServiceMainCommandLine checks the errors that stop a run before anything starts: a taken
// gRPC port names the setting to change, and an unknown command names --help.
func TestServiceMainCommandLine(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := l.Addr().String()
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	err = runFake(ctx, &fake{}, append(required(dir), "--grpc-addr", taken), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "cannot listen on "+taken) ||
		!strings.Contains(err.Error(), "set QUARTERDECK_GRPC_ADDR (--grpc-addr) to a free address") {
		t.Errorf("run on a taken port: %v; want the address and the setting named", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "fake.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the database was opened although the port is taken (stat: %v)", err)
	}

	err = runFake(ctx, &fake{}, append(required(dir), "frobnicate"), io.Discard)
	if want := `unknown command "frobnicate"; run quarterdeck-fake --help`; err == nil || err.Error() != want {
		t.Errorf("unknown command: %v; want %q", err, want)
	}
}

// TestServiceMainServes runs the fake service's binary until its context ends: it logs its
// settings with the secret masked, serves health on gRPC, metrics and profiling on their own
// addresses, and stops cleanly.
func TestServiceMainServes(t *testing.T) {
	ns := testenv.NATSServer(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	metricsAddr := l.Addr().String()
	l.Close()
	const secret = "s3cret-token-of-the-fake"
	args := append(required(t.TempDir()), "--grpc-addr", "127.0.0.1:0", "--metrics-addr", metricsAddr,
		"--debug-addr", "127.0.0.1:0", "--nats-url", ns.URL, "--event-subject-prefix", ns.SubjectPrefix,
		"--fake-token", secret, "--shutdown-timeout", "10s")

	out := &logLines{listening: make(chan string, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	f := &fake{}
	go func() { done <- runFake(ctx, f, args, out) }()
	var addr string
	select {
	case addr = <-out.listening:
	case err := <-done:
		t.Fatalf("run ended before serving: %v\n%s", err, out)
	case <-time.After(time.Minute):
		t.Fatalf("not serving after a minute\n%s", out)
	}

	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
	defer ccancel()
	if res, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{}); err != nil ||
		res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health: %v, %v; want SERVING", res.GetStatus(), err)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	// The scheduler's gauges are registered when its worker starts, right after the service does.
	testkit.Eventually(t, 20*time.Second, func() error {
		res, err := client.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return fmt.Errorf("GET /metrics: %w", err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("go_goroutines")) {
			return fmt.Errorf("GET /metrics = %d; want 200 with the Go runtime's metrics", res.StatusCode)
		}
		for _, name := range []string{"quarterdeck_outbox_pending", "quarterdeck_scheduler_due_items",
			"quarterdeck_scheduler_oldest_lag_seconds", "quarterdeck_scheduler_lease_held"} {
			if !hasSeries(string(body), name, `service="fake"`) {
				return fmt.Errorf("GET /metrics lacks %s of the fake service", name)
			}
		}
		return nil
	})
	if !f.registered {
		t.Error("the service's handlers were not registered")
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("run after cancel: %v; want a clean stop", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30s after cancel\n%s", out)
	}
	logs := out.String()
	for _, want := range []string{`"msg":"starting fake service"`, `"QUARTERDECK_FAKE_TOKEN":"********"`, `"msg":"debug listening"`, `"msg":"service stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s\n%s", want, logs)
		}
	}
	if strings.Contains(logs, secret) {
		t.Errorf("log shows the secret setting\n%s", logs)
	}
}

// logLines keeps a run's log and sends the gRPC address of its "service listening" line.
type logLines struct {
	mu        sync.Mutex
	buf       bytes.Buffer
	listening chan string
}

// Write takes one record: the JSON handler writes each record in one call.
func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	var rec struct {
		Msg      string `json:"msg"`
		GRPCAddr string `json:"grpc_addr"`
	}
	if json.Unmarshal(p, &rec) == nil && rec.Msg == "service listening" {
		select {
		case l.listening <- rec.GRPCAddr:
		default:
		}
	}
	return len(p), nil
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// hasSeries reports whether the Prometheus text exposition has a sample of the metric name with
// the label pair label.
func hasSeries(exposition, name, label string) bool {
	for line := range strings.Lines(exposition) {
		if strings.HasPrefix(line, name+"{") && strings.Contains(line, label) {
			return true
		}
	}
	return false
}

// TestServiceSettingsDocumented checks that every setting a service's binary takes in common is
// in docs/configuration.md, which operators and the Helm chart's check go by.
func TestServiceSettingsDocumented(t *testing.T) {
	var out bytes.Buffer
	if err := runFake(context.Background(), &fake{}, []string{"--help"}, &out); !errors.Is(err, config.ErrHelp) {
		t.Fatalf("--help: %v; want config.ErrHelp", err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "docs", "configuration.md"))
	if err != nil {
		t.Fatal(err)
	}
	names := regexp.MustCompile(`QUARTERDECK_[A-Z0-9_]+`).FindAllString(out.String(), -1)
	if len(names) < 20 {
		t.Fatalf("--help lists %d settings:\n%s", len(names), out.String())
	}
	for _, name := range names {
		if !strings.HasPrefix(name, "QUARTERDECK_FAKE_") && !bytes.Contains(doc, []byte("`"+name+"`")) {
			t.Errorf("%s is not in docs/configuration.md", name)
		}
	}
}
