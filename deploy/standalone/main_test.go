//go:build unix

// End-to-end tests of the standalone binary: TestMain builds it once, and every test runs it as a
// subprocess the way an operator would, talking to it only over REST and NATS and stopping it
// with signals. Each test has its own data folder and random ports, so the tests run in parallel.
//
// TestStandaloneExternalServers also runs against the servers named by
// QUARTERDECK_TEST_POSTGRES_DSN and QUARTERDECK_TEST_NATS_URL, and skips the part whose variable
// is unset.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testkit"
)

// Deadlines. They are generous because CI machines are slow, and nothing waits for them on
// success: every wait ends as soon as what it waits for happens.
const (
	readyTimeout    = 60 * time.Second // start until "Quarterdeck is ready"
	stopTimeout     = 60 * time.Second // SIGTERM until exit (the default shutdown timeout is 20s)
	failFastTimeout = 30 * time.Second // a start that must fail, until exit
	eventTimeout    = 30 * time.Second // a committed change until its event is in the stream
	httpTimeout     = 15 * time.Second // one REST call
)

const (
	readyMsg   = "Quarterdeck is ready"
	stoppedMsg = "Quarterdeck stopped"
	debugMsg   = "debug listening"

	createdType = "quarterdeck.budget.v1.CostCenterCreated"
	badRequest  = "type.googleapis.com/google.rpc.BadRequest"
)

// binary is the quarterdeck binary built by TestMain.
var binary string

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "quarterdeck-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "quarterdeck e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "quarterdeck")

	// `go test` puts its own GOROOT/bin first on the PATH of the test binary.
	goTool, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "quarterdeck e2e: no go command on PATH:", err)
		return 1
	}
	// The test runs in the package folder, so "." is this command. The environment (GOFLAGS,
	// GOWORK, GOCACHE, …) is passed on; a -race test run still builds a plain binary.
	cmd := exec.Command(goTool, "build", "-o", binary, ".")
	cmd.Env = os.Environ()
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "quarterdeck e2e: %s build: %v\n%s", goTool, err, out)
		return 1
	}
	return m.Run()
}

// TestHelp checks that --help succeeds and names the settings an operator needs first.
func TestHelp(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), failFastTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "--help")
	cmd.Env = baseEnv()
	cmd.Dir = t.TempDir() // --help must not create ./data, but if it did, not in the source tree
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("quarterdeck --help: %v (want exit code 0)\n%s", err, out)
	}
	for _, name := range []string{
		"QUARTERDECK_HTTP_ADDR", "QUARTERDECK_DATA_DIR", "QUARTERDECK_NATS_PORT",
		"QUARTERDECK_NATS_URL", "QUARTERDECK_DATABASE_URL",
	} {
		if !bytes.Contains(out, []byte(name)) {
			t.Errorf("--help does not list %s:\n%s", name, out)
		}
	}
	if bytes.Contains(out, []byte(readyMsg)) {
		t.Errorf("--help started the platform:\n%s", out)
	}
	if !bytes.Contains(out, []byte("--version")) {
		t.Errorf("--help does not list --version:\n%s", out)
	}
	if entries, _ := os.ReadDir(cmd.Dir); len(entries) > 0 {
		t.Errorf("--help created %s in the working folder", entries[0].Name())
	}
}

// TestPortTakenFailsFast checks that a taken port stops the start at once with an error naming
// the setting to change, and nothing says it stopped, as it never started. The starting log line
// lists the settings given, so the check is on the error line itself (the last line,
// "quarterdeck: …").
func TestPortTakenFailsFast(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		args    func(taken string) []string
		setting string
	}{
		{"HTTP", func(taken string) []string { return []string{"--http-addr", taken, "--nats-port", "0"} }, "QUARTERDECK_HTTP_ADDR"},
		{"NATS", func(taken string) []string {
			_, port, _ := net.SplitHostPort(taken)
			return []string{"--http-addr", "127.0.0.1:0", "--nats-port", port}
		}, "QUARTERDECK_NATS_PORT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			taken := l.Addr().String()
			_, port, _ := net.SplitHostPort(taken)

			dataDir := t.TempDir()
			ctx, cancel := context.WithTimeout(context.Background(), failFastTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, binary, append(tc.args(taken), "--data-dir", dataDir)...)
			cmd.Env = baseEnv()
			var stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stderr, &stderr
			began := time.Now()
			err = cmd.Run()
			took := time.Since(began)

			if ctx.Err() != nil {
				t.Fatalf("still running after %s with port %s taken; killed\n%s", failFastTimeout, port, stderr.String())
			}
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() <= 0 {
				t.Fatalf("exit with port %s taken: %v; want a non-zero exit code\n%s", port, err, stderr.String())
			}
			last := lastLine(stderr.String())
			if !strings.HasPrefix(last, "quarterdeck: ") || !strings.Contains(last, tc.setting) || !strings.Contains(last, port) {
				t.Errorf("error line %q does not name %s and port %s\n%s", last, tc.setting, port, stderr.String())
			}
			if strings.Contains(stderr.String(), readyMsg) {
				t.Errorf("reported ready although port %s is taken\n%s", port, stderr.String())
			}
			if strings.Contains(stderr.String(), stoppedMsg) {
				t.Errorf("says %q although it never started\n%s", stoppedMsg, stderr.String())
			}
			t.Logf("exit code %d after %s: %s", exit.ExitCode(), took.Round(time.Millisecond), last)
		})
	}
}

// TestDebugAddr checks that --debug-addr serves Go profiling on its own listener, logged at start,
// and not on the public port. That nothing listens without it is checked by every start.
func TestDebugAddr(t *testing.T) {
	t.Parallel()
	p := start(t, t.TempDir(), scenario{args: []string{"--debug-addr", "127.0.0.1:0"}})
	var addr string
	for _, l := range p.log.lines() {
		var line struct {
			Addr string `json:"debug_addr"`
		}
		if l.Msg == debugMsg && json.Unmarshal([]byte(l.raw), &line) == nil {
			addr = line.Addr
		}
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("no %q line with a loopback debug_addr in the start log", debugMsg)
	}
	if got := status(t, "", "http://"+addr+"/debug/pprof/"); got != http.StatusOK {
		t.Errorf("GET /debug/pprof/ on the debug address = %d; want 200", got)
	}
	if got := status(t, "Bearer "+adminKey, p.rest+"/debug/pprof/"); got == http.StatusOK {
		t.Errorf("GET /debug/pprof/ on the public port = %d; want it not served there", got)
	}
	p.Stop()
}

// TestStandaloneRestartKeepsData runs the default configuration: SQLite files and the embedded
// NATS server, both under the data folder.
func TestStandaloneRestartKeepsData(t *testing.T) {
	t.Parallel()
	restartScenario(t, scenario{prefix: "quarterdeck", check: checkAtomicBatches})
}

// checkAtomicBatches checks that the embedded server's event streams, every domain's and the
// gateway's, take atomic batch publishes, which the relays use for backlogs.
func checkAtomicBatches(t *testing.T, p *proc, _ []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, js := testenv.Connect(t, p.nats)
	for _, domain := range []string{"BUDGET", "VENDORS", "RISK", "TALENT", "BRIEFING", "IAM"} {
		s, err := js.Stream(ctx, "QUARTERDECK_"+domain)
		if err != nil {
			t.Fatalf("stream QUARTERDECK_%s: %v", domain, err)
		}
		if !s.CachedInfo().Config.AllowAtomicPublish {
			t.Errorf("stream QUARTERDECK_%s of the embedded server does not take atomic batches", domain)
		}
	}
}

// TestStandaloneExternalServers runs the restart scenario against the NATS server named by
// QUARTERDECK_TEST_NATS_URL and the PostgreSQL database named by QUARTERDECK_TEST_POSTGRES_DSN.
func TestStandaloneExternalServers(t *testing.T) {
	t.Parallel()

	t.Run("NATS", func(t *testing.T) {
		t.Parallel()
		if os.Getenv(testenv.EnvNATSURL) == "" {
			t.Skip(testenv.EnvNATSURL + " is not set")
		}
		// A subject prefix of the test's own keeps its stream apart from everything else on the
		// server; testenv deletes the stream when the test ends, after the binary has stopped.
		n := testenv.NATSServer(t)
		restartScenario(t, scenario{
			args:    []string{"--nats-url", n.URL, "--event-subject-prefix", n.SubjectPrefix},
			prefix:  n.SubjectPrefix,
			natsURL: n.URL,
		})
	})

	t.Run("PostgreSQL", func(t *testing.T) {
		t.Parallel()
		dsn := os.Getenv(testenv.EnvPostgresDSN)
		if dsn == "" {
			t.Skip(testenv.EnvPostgresDSN + " is not set")
		}
		// The binary keeps each service's tables in the schema of its name ("budget",
		// "vendors", "risk", "talent", "briefing") and the API keys in "gateway" whatever the DSN's search_path says, so
		// testenv.Postgres's per-test schema cannot isolate them. The test claims them by
		// creating them, and drops them at the end; when one already exists it belongs to someone
		// else and the test leaves the database alone.
		db := claimSchema(t, dsn, "budget")
		claimSchema(t, dsn, "vendors")
		claimSchema(t, dsn, "risk")
		claimSchema(t, dsn, "talent")
		claimSchema(t, dsn, "briefing")
		claimSchema(t, dsn, "gateway") // the API keys

		sc := scenario{args: []string{"--database-url", dsn}, prefix: "quarterdeck"}
		if os.Getenv(testenv.EnvNATSURL) != "" {
			n := testenv.NATSServer(t)
			sc.args = append(sc.args, "--nats-url", n.URL, "--event-subject-prefix", n.SubjectPrefix)
			sc.prefix, sc.natsURL = n.SubjectPrefix, n.URL
		}
		sc.check = func(t *testing.T, p *proc, names []string) {
			if _, err := os.Stat(filepath.Join(p.dataDir, "budget.db")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("budget.db in the data folder (stat: %v); want the data in PostgreSQL", err)
			}
			for _, name := range names {
				var n int
				id := strings.TrimPrefix(name, "costCenters/")
				if err := db.QueryRow(`SELECT count(*) FROM budget.cost_centers WHERE id = $1`, id).Scan(&n); err != nil || n != 1 {
					t.Errorf("budget.cost_centers rows with id %s: %d, %v; want 1", id, n, err)
				}
			}
			// The relay marks a row only after the PubAck, so the mark may trail the event.
			poll(t, eventTimeout, "outbox rows all marked published", func() (bool, string) {
				var pending, total int
				err := db.QueryRow(`SELECT count(*) FILTER (WHERE published_at IS NULL), count(*) FROM budget.outbox`).Scan(&pending, &total)
				return err == nil && pending == 0 && total == len(names), fmt.Sprintf("%d of %d pending (%v)", pending, total, err)
			})
		}
		restartScenario(t, sc)
	})
}

// scenario configures restartScenario.
type scenario struct {
	args    []string // extra flags for every start
	prefix  string   // event subject prefix
	natsURL string   // the external NATS server, or "" for the embedded one
	// check, if set, runs at the end with the last process still running and the names of the
	// cost centres created.
	check func(t *testing.T, p *proc, names []string)
	// generatedKey starts without QUARTERDECK_BOOTSTRAP_API_KEY, so that the binary makes one.
	generatedKey bool
}

// restartScenario creates a cost centre, checks its event and the validation error of a bad
// request, stops cleanly and restarts, creates a second cost centre and kills the process right
// after the 200, and restarts again: both cost centres must be there, and the stream must hold
// exactly one created event for each, with distinct ids.
func restartScenario(t *testing.T, sc scenario) {
	dataDir := t.TempDir()
	stream := strings.ToUpper(sc.prefix) + "_BUDGET"

	p := start(t, dataDir, sc)
	checkMetrics(t, p.rest)
	first := createCostCenter(t, p.rest, "Infrastructure", "CC-100")
	firstName := first["name"].(string)
	checkDisplayNameRequired(t, p.rest)
	evs := readEvents(t, p.nats, stream, func(evs []event) bool { return len(created(evs, firstName)) > 0 })
	checkCreatedEvent(t, created(evs, firstName)[0], sc.prefix, first)
	p.Stop()

	p = start(t, dataDir, sc)
	if got := getCostCenter(t, p.rest, firstName); !reflect.DeepEqual(got, first) {
		t.Errorf("after a clean restart GET %s = %v; want %v as created", firstName, got, first)
	}
	second := createCostCenter(t, p.rest, "Marketing", "CC-200")
	p.Kill() // right after the 200: its event may still wait in the outbox
	secondName := second["name"].(string)

	p = start(t, dataDir, sc)
	for _, want := range []map[string]any{first, second} {
		if got := getCostCenter(t, p.rest, want["name"].(string)); !reflect.DeepEqual(got, want) {
			t.Errorf("after kill -9 and restart GET %s = %v; want %v as created", want["name"], got, want)
		}
	}
	evs = readEvents(t, p.nats, stream, func(evs []event) bool {
		return len(created(evs, firstName)) > 0 && len(created(evs, secondName)) > 0
	})
	for _, cc := range []map[string]any{first, second} {
		name := cc["name"].(string)
		if got := created(evs, name); len(got) != 1 {
			t.Errorf("%d created events for %s in %s; want 1:\n%s", len(got), name, stream, describe(evs))
		} else {
			checkCreatedEvent(t, got[0], sc.prefix, cc)
		}
	}
	ids := map[string]uint64{}
	for _, ev := range evs {
		id := ev.header.Get("ce-id")
		if seq, dup := ids[id]; dup {
			t.Errorf("event id %s at stream sequences %d and %d", id, seq, ev.seq)
		}
		ids[id] = ev.seq
	}
	if len(evs) != 2 {
		t.Errorf("%s holds %d events; want 2:\n%s", stream, len(evs), describe(evs))
	}
	if sc.check != nil {
		sc.check(t, p, []string{firstName, secondName})
	}
	p.Stop()
}

// checkMetrics checks that /metrics shows the budget service's outbox and scheduler gauges; the
// scheduler registers its own when its worker starts, which may be just after the process is
// ready.
func checkMetrics(t *testing.T, rest string) {
	t.Helper()
	testkit.Eventually(t, 20*time.Second, func() error {
		resp, err := httpClient.Get(rest + "/metrics")
		if err != nil {
			return err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /metrics: %d, %v", resp.StatusCode, err)
		}
		for _, name := range []string{"quarterdeck_outbox_pending", "quarterdeck_scheduler_due_items",
			"quarterdeck_scheduler_oldest_lag_seconds", "quarterdeck_scheduler_lease_held",
			"quarterdeck_scheduler_failed_items", "quarterdeck_scheduler_fired_total"} {
			found := false
			for line := range strings.Lines(string(body)) {
				if strings.HasPrefix(line, name+"{") && strings.Contains(line, `service="budget"`) {
					found = true
					break
				}
			}
			if !found {
				return fmt.Errorf("GET /metrics lacks %s of the budget service", name)
			}
		}
		return nil
	})
}

// proc is a running quarterdeck process.
type proc struct {
	t       testing.TB
	cmd     *exec.Cmd
	log     *outputLog
	done    chan struct{} // closed when the process has exited and its output is read
	waitErr error         // set before done is closed
	dataDir string
	rest    string // http://127.0.0.1:PORT
	nats    string // nats://…
}

// start runs quarterdeck on dataDir with random ports and sc's flags, and returns once it is
// ready. The process is killed when the test ends if it is still running, and its output is
// logged if the test failed.
func start(t *testing.T, dataDir string, sc scenario) *proc {
	t.Helper()
	args := append([]string{"--http-addr", "127.0.0.1:0", "--nats-port", "0", "--data-dir", dataDir}, sc.args...)
	cmd := exec.Command(binary, args...)
	cmd.Env = baseEnv()
	if sc.generatedKey {
		cmd.Env = slices.DeleteFunc(cmd.Env, func(kv string) bool { return strings.HasPrefix(kv, "QUARTERDECK_BOOTSTRAP_API_KEY=") })
	}
	cmd.Dir = dataDir
	log := newOutputLog()
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start quarterdeck: %v", err)
	}
	p := &proc{t: t, cmd: cmd, log: log, done: make(chan struct{}), dataDir: dataDir}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("output of quarterdeck (pid %d, %v):\n%s", cmd.Process.Pid, p.waitErr, log.String())
		}
	})

	timer := time.NewTimer(readyTimeout)
	defer timer.Stop()
	var ready readyLine
	select {
	case ready = <-log.ready:
	case <-p.done:
		t.Fatalf("quarterdeck exited before it was ready: %v", p.waitErr)
	case <-timer.C:
		t.Fatalf("quarterdeck not ready after %s", readyTimeout)
	}
	p.rest, p.nats = ready.REST, ready.NATS
	if !strings.HasPrefix(p.rest, "http://127.0.0.1:") || !strings.HasPrefix(p.nats, "nats://") || ready.DataDir != dataDir {
		t.Fatalf("ready line %+v; want rest http://127.0.0.1:…, a nats:// URL and data_dir %s", ready, dataDir)
	}
	if sc.natsURL != "" && p.nats != sc.natsURL {
		t.Errorf("ready line names NATS %s; want the external server %s", p.nats, sc.natsURL)
	}
	if !slices.Contains(sc.args, "--debug-addr") && p.log.hasMsg(debugMsg) {
		t.Errorf("logged %q without --debug-addr; want profiling off by default", debugMsg)
	}
	return p
}

// Stop sends SIGTERM and checks that the process stops cleanly: exit code 0 and the last log line.
func (p *proc) Stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("SIGTERM: %v", err)
	}
	p.wait("SIGTERM")
	if p.waitErr != nil {
		p.t.Fatalf("after SIGTERM: %v; want exit code 0", p.waitErr)
	}
	if !p.log.hasMsg(stoppedMsg) {
		p.t.Errorf("stopped without logging %q", stoppedMsg)
	}
	for _, l := range p.log.lines() {
		if l.Level == "ERROR" {
			p.t.Errorf("error logged: %s", l.raw)
		}
	}
}

// Kill sends SIGKILL and waits until the process is gone.
func (p *proc) Kill() {
	p.t.Helper()
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatalf("SIGKILL: %v", err)
	}
	p.wait("SIGKILL")
	var exit *exec.ExitError
	if !errors.As(p.waitErr, &exit) {
		p.t.Fatalf("after SIGKILL: %v; want death by SIGKILL", p.waitErr)
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		p.t.Fatalf("after SIGKILL: %v; want death by SIGKILL", p.waitErr)
	}
}

func (p *proc) wait(signal string) {
	p.t.Helper()
	timer := time.NewTimer(stopTimeout)
	defer timer.Stop()
	select {
	case <-p.done:
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("still running %s after %s; killed", stopTimeout, signal)
	}
}

// outputLog collects a process's output and delivers the ready line as soon as it is written.
type outputLog struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	scanned int // bytes of buf already looked at for the ready line
	found   bool
	ready   chan readyLine // receives the ready line once
}

type readyLine struct {
	Msg     string `json:"msg"`
	REST    string `json:"rest"`
	NATS    string `json:"nats"`
	DataDir string `json:"data_dir"`
}

func newOutputLog() *outputLog { return &outputLog{ready: make(chan readyLine, 1)} }

func (l *outputLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for !l.found {
		rest := l.buf.Bytes()[l.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		l.scanned += i + 1
		var r readyLine
		if json.Unmarshal(rest[:i], &r) == nil && r.Msg == readyMsg {
			l.found = true
			l.ready <- r
		}
	}
	return len(p), nil
}

func (l *outputLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type logLine struct {
	Msg   string `json:"msg"`
	Level string `json:"level"`
	raw   string
}

// lines returns the JSON log lines written so far.
func (l *outputLog) lines() []logLine {
	var out []logLine
	for _, s := range strings.Split(l.String(), "\n") {
		var line logLine
		if json.Unmarshal([]byte(s), &line) == nil {
			line.raw = s
			out = append(out, line)
		}
	}
	return out
}

func (l *outputLog) hasMsg(msg string) bool {
	for _, line := range l.lines() {
		if line.Msg == msg {
			return true
		}
	}
	return false
}

// baseEnv is the test's environment without QUARTERDECK_ settings (the QUARTERDECK_TEST_
// variables stay), so that a developer's shell cannot change what the binary under test does.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "QUARTERDECK_") && !strings.HasPrefix(kv, "QUARTERDECK_TEST_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "QUARTERDECK_BOOTSTRAP_API_KEY="+adminKey)
}

// adminKey is the bootstrap admin key every test run of the binary gets, and sends.
const adminKey = "e2e-admin-key-0123456789abcdefghijklmnop"

// TestBootstrapKeyIsPrintedOnce starts without QUARTERDECK_BOOTSTRAP_API_KEY: the first start
// prints an admin key that works, a restart prints none and the key still works, and calls
// without it are refused.
func TestBootstrapKeyIsPrintedOnce(t *testing.T) {
	t.Parallel()
	dataDir := t.TempDir()
	sc := scenario{generatedKey: true}
	keyLine := regexp.MustCompile(`(?m)^\s+(qdk_bootstrap_[A-Za-z0-9_-]{43})$`)

	p := start(t, dataDir, sc)
	m := keyLine.FindStringSubmatch(p.log.String())
	if m == nil {
		t.Fatalf("no admin key printed at the first start:\n%s", p.log.String())
	}
	key := m[1]
	for _, tc := range []struct {
		authorization string
		want          int
	}{{"", http.StatusUnauthorized}, {"Bearer " + adminKey, http.StatusUnauthorized}, {"Bearer " + key, http.StatusOK}} {
		if got := status(t, tc.authorization, p.rest+"/v1/costCenters"); got != tc.want {
			t.Errorf("GET /v1/costCenters with %q = %d; want %d", tc.authorization, got, tc.want)
		}
	}
	p.Stop()

	p = start(t, dataDir, sc)
	if strings.Contains(p.log.String(), "qdk_bootstrap_") {
		t.Errorf("a restart printed an admin key again:\n%s", p.log.String())
	}
	if got := status(t, "Bearer "+key, p.rest+"/v1/costCenters"); got != http.StatusOK {
		t.Errorf("the first start's key after a restart = %d; want 200", got)
	}
	p.Stop()
}

// status sends a GET with the given Authorization header and returns the HTTP status.
func status(t *testing.T, authorization, url string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// --- REST ---

var httpClient = &http.Client{Timeout: httpTimeout}

// call sends a JSON request and returns the status and the decoded JSON object of the answer.
func call(t *testing.T, method, url string, body any) (int, map[string]any) {
	t.Helper()
	return callWith(t, adminKey, method, url, body)
}

// callWith is call with another API key.
func callWith(t *testing.T, key, method, url string, body any) (int, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read answer: %v", method, url, err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("%s %s: %d with a body that is not a JSON object: %v\n%s", method, url, resp.StatusCode, err, raw)
	}
	return resp.StatusCode, out
}

func createCostCenter(t *testing.T, rest, displayName, code string) map[string]any {
	t.Helper()
	status, cc := call(t, http.MethodPost, rest+"/v1/costCenters", map[string]any{"displayName": displayName, "code": code})
	if status != http.StatusOK {
		t.Fatalf("POST /v1/costCenters %s: %d %v; want 200", code, status, cc)
	}
	name, _ := cc["name"].(string)
	if !strings.HasPrefix(name, "costCenters/") || len(name) == len("costCenters/") ||
		cc["displayName"] != displayName || cc["code"] != code {
		t.Fatalf("POST /v1/costCenters %s answered %v; want name costCenters/<id>, displayName %q and code %q",
			code, cc, displayName, code)
	}
	return cc
}

func getCostCenter(t *testing.T, rest, name string) map[string]any {
	t.Helper()
	status, cc := call(t, http.MethodGet, rest+"/v1/"+name, nil)
	if status != http.StatusOK {
		t.Fatalf("GET /v1/%s: %d %v; want 200", name, status, cc)
	}
	return cc
}

// checkDisplayNameRequired checks that a cost centre without a display name is refused with a
// google.rpc.BadRequest naming the field.
func checkDisplayNameRequired(t *testing.T, rest string) {
	t.Helper()
	status, body := call(t, http.MethodPost, rest+"/v1/costCenters", map[string]any{"code": "CC-400"})
	if status != http.StatusBadRequest {
		t.Fatalf("POST /v1/costCenters without displayName: %d %v; want 400", status, body)
	}
	details, _ := body["details"].([]any)
	for _, d := range details {
		d, _ := d.(map[string]any)
		if d["@type"] != badRequest {
			continue
		}
		violations, _ := d["fieldViolations"].([]any)
		for _, v := range violations {
			if v, _ := v.(map[string]any); v["field"] == "cost_center.display_name" {
				return
			}
		}
	}
	t.Errorf("400 without a %s field violation for cost_center.display_name: %v", badRequest, body)
}

// --- events ---

type event struct {
	seq     uint64
	subject string
	header  nats.Header
	data    []byte
}

// readEvents reads stream from its start with an ordered consumer until done holds for what was
// read and every message the stream held at that moment has been read, so that the result is the
// stream's whole content. It fails the test when that takes longer than eventTimeout.
func readEvents(t *testing.T, natsURL, stream string, done func([]event) bool) []event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	nc, err := nats.Connect(natsURL, nats.Name("quarterdeck-e2e-test"), nats.Timeout(10*time.Second))
	if err != nil {
		t.Fatalf("connect to NATS at %s: %v", natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatalf("stream %s: %v", stream, err)
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy})
	if err != nil {
		t.Fatalf("ordered consumer on %s: %v", stream, err)
	}
	var evs []event
	var last uint64
	for {
		if done(evs) {
			info, err := s.Info(ctx)
			if err != nil {
				t.Fatalf("stream %s: %v", stream, err)
			}
			if last >= info.State.LastSeq {
				return evs
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("stream %s: the expected events did not arrive within %s; it holds:\n%s", stream, eventTimeout, describe(evs))
		}
		msg, err := cons.Next(jetstream.FetchMaxWait(time.Second))
		if errors.Is(err, nats.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
			continue
		}
		if err != nil {
			t.Fatalf("read %s: %v", stream, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			t.Fatalf("read %s: %v", stream, err)
		}
		last = md.Sequence.Stream
		evs = append(evs, event{seq: last, subject: msg.Subject(), header: msg.Headers(), data: msg.Data()})
	}
}

// created returns the created events of the cost centre name.
func created(evs []event, name string) []event {
	var out []event
	for _, ev := range evs {
		if ev.header.Get("ce-type") == createdType && ev.header.Get("ce-subject") == name {
			out = append(out, ev)
		}
	}
	return out
}

// checkCreatedEvent checks the subject, CloudEvents headers and payload of the created event of cc.
func checkCreatedEvent(t *testing.T, ev event, prefix string, cc map[string]any) {
	t.Helper()
	name := cc["name"].(string)
	if want := prefix + ".budget.cost_center.created"; ev.subject != want {
		t.Errorf("event of %s on subject %s; want %s", name, ev.subject, want)
	}
	h := ev.header
	for key, want := range map[string]string{
		"ce-specversion": "1.0",
		"ce-type":        createdType,
		"ce-source":      "/quarterdeck/budget",
		"ce-subject":     name,
		"Content-Type":   "application/json",
	} {
		if got := h.Get(key); got != want {
			t.Errorf("event of %s: header %s = %q; want %q", name, key, got, want)
		}
	}
	if id := h.Get("ce-id"); id == "" || h.Get("Nats-Msg-Id") != id {
		t.Errorf("event of %s: ce-id %q, Nats-Msg-Id %q; want equal and not empty", name, id, h.Get("Nats-Msg-Id"))
	}
	if _, err := time.Parse(time.RFC3339Nano, h.Get("ce-time")); err != nil {
		t.Errorf("event of %s: ce-time %q: %v", name, h.Get("ce-time"), err)
	}
	var payload struct {
		CostCenter map[string]any `json:"costCenter"`
	}
	if err := json.Unmarshal(ev.data, &payload); err != nil || payload.CostCenter["name"] != name ||
		payload.CostCenter["displayName"] != cc["displayName"] || payload.CostCenter["code"] != cc["code"] {
		t.Errorf("event of %s: payload %s (%v); want the cost centre %v", name, ev.data, err, cc)
	}
}

func describe(evs []event) string {
	if len(evs) == 0 {
		return "  (nothing)"
	}
	var b strings.Builder
	for _, ev := range evs {
		fmt.Fprintf(&b, "  #%d %s ce-id=%s ce-type=%s ce-subject=%s\n", ev.seq, ev.subject,
			ev.header.Get("ce-id"), ev.header.Get("ce-type"), ev.header.Get("ce-subject"))
	}
	return b.String()
}

// --- PostgreSQL ---

// claimSchema makes the test the owner of schema in the database at dsn by creating it, and drops
// it with everything in it when the test ends, after the processes started later have stopped.
// When the schema exists already the test is skipped, because its content is someone else's. An
// unreachable server fails the test: a CI service that is named must be there.
func claimSchema(t *testing.T, dsn, schema string) *sql.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := sqldb.Open(ctx, dsn, sqldb.Options{}) // no schema: nothing is created, search_path as given
	if err != nil {
		t.Fatalf("%s is set but PostgreSQL is unreachable: %v", testenv.EnvPostgresDSN, err)
	}
	t.Cleanup(func() { db.Close() })
	exists := func() bool {
		var ok bool
		if err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema).Scan(&ok); err != nil {
			t.Fatalf("look for schema %s: %v", schema, err)
		}
		return ok
	}
	skip := fmt.Sprintf("schema %q already exists in the database of %s; the standalone binary always uses it, "+
		"so this test leaves it alone (drop it or use another database to run the test)", schema, testenv.EnvPostgresDSN)
	if exists() {
		t.Skip(skip)
	}
	// CREATE SCHEMA without IF NOT EXISTS fails for all but one of racing test runs.
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		if exists() {
			t.Skip(skip)
		}
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := db.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return db.DB
}

// --- helpers ---

// poll calls cond until it reports true, failing the test with cond's last description after
// timeout.
func poll(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (%s)", what, timeout, state)
		}
		<-tick.C
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}
