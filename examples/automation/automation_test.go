// The automation against the real platform: TestMain builds the standalone binary from this
// repository, the test runs it on a fresh data folder with random ports, makes an auto-renewing
// contract whose notice window opens today through the REST API, and waits for the automation's
// reminder. Then it makes JetStream deliver the event again and checks that nothing changes.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Deadlines: generous for slow CI machines; nothing waits for them when things go right.
const (
	readyTimeout    = 90 * time.Second // start until "Quarterdeck is ready"
	reminderTimeout = 60 * time.Second // approval until the reminder (the scheduler polls every 2 s)
	httpTimeout     = 15 * time.Second
)

const adminKey = "automation-test-admin-key-0123456789abcdef"

var binary string

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "quarterdeck-automation-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binary = filepath.Join(dir, "quarterdeck")
	goTool, err := exec.LookPath("go")
	if err != nil {
		fmt.Fprintln(os.Stderr, "no go command on PATH:", err)
		return 1
	}
	// The workspace (go.work) makes the standalone command buildable from here.
	cmd := exec.Command(goTool, "build", "-o", binary, "github.com/quarterdeck/quarterdeck/deploy/standalone")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build quarterdeck: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func TestNoticeWindowReminder(t *testing.T) {
	p := startPlatform(t)
	api := &client{t: t, base: p.rest}

	// A contract in force whose notice window opens today (UTC): it ends in 60 days, notice is 30
	// days, so it must be cancelled by today + 30, and a 30-day window opens today. The scheduler
	// fires contract.notice_window_opened at once, its due time (00:00 today) being past.
	today := time.Now().UTC().Truncate(24 * time.Hour)
	end, cancelBy := today.AddDate(0, 0, 60), today.AddDate(0, 0, 30)
	contract := makeContractInForce(api, today, end)

	out := filepath.Join(t.TempDir(), "reminders.jsonl")
	cfg := config{NATSURL: p.nats, Prefix: "quarterdeck", Durable: "contract-reminders", Out: out, AckWait: 30 * time.Second}
	stopAutomation := startAutomation(t, cfg)

	rems := waitForReminders(t, out, 1)
	r := rems[0]
	if r.Contract != contract || r.CancelBy != cancelBy.Format(time.DateOnly) || r.EndDate != end.Format(time.DateOnly) ||
		r.Title != "Support" || r.EventID == "" || !strings.Contains(r.Text, cancelBy.Format(time.DateOnly)) {
		t.Errorf("reminder %+v; want contract %s, cancel by %s, end %s", r, contract, cancelBy.Format(time.DateOnly), end.Format(time.DateOnly))
	}
	stopAutomation()

	// Redelivery: the consumer is deleted, so JetStream forgets what was acknowledged, and the
	// automation, started again, gets the event again from the stream. It acknowledges it
	// without a second reminder.
	nc, err := nats.Connect(p.nats)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), httpTimeout)
	defer cancel()
	if err := js.DeleteConsumer(ctx, "QUARTERDECK_VENDORS", cfg.Durable); err != nil {
		t.Fatalf("delete the consumer: %v", err)
	}
	stopAutomation = startAutomation(t, cfg)
	defer stopAutomation()
	poll(t, reminderTimeout, "the event delivered again and acknowledged", func() (bool, string) {
		c, err := js.Consumer(ctx, "QUARTERDECK_VENDORS", cfg.Durable)
		if err != nil {
			return false, err.Error()
		}
		info := c.CachedInfo()
		return info.Delivered.Consumer >= 1 && info.NumAckPending == 0 && info.AckFloor.Consumer >= 1,
			fmt.Sprintf("delivered %d, ack pending %d", info.Delivered.Consumer, info.NumAckPending)
	})
	if again := readReminders(t, out); len(again) != 1 || again[0] != r {
		t.Errorf("after a redelivery the file holds %+v; want only %+v", again, r)
	}
}

// makeContractInForce makes, through the REST API as the people who would, a budget line to
// charge, an active tier-3 vendor and its auto-renewing contract from start to end, approved.
// It returns the contract's name.
func makeContractInForce(api *client, start, end time.Time) string {
	key := func(name string, scopes ...string) string {
		// Each person's key for a principal of their own: two keys of one principal are one person.
		return api.call(adminKey, "POST", "/v1/apiKeys", map[string]any{"displayName": name,
			"principal": "principals/" + strings.ReplaceAll(name, " ", "-"), "scopes": scopes})["key"].(string)
	}
	finance := key("finance", "budget.read", "budget.write", "budget.spend")
	controller := key("controller", "budget.read", "budget.approve")
	manager := key("vendor manager", "vendors.read", "vendors.write", "vendors.finance")
	cio := key("cio", "vendors.read", "vendors.approve", "vendors.finance", "budget.read", "budget.spend")

	eur := func(units string) map[string]any { return map[string]any{"currencyCode": "EUR", "units": units} }
	day := func(t time.Time) map[string]any {
		return map[string]any{"year": t.Year(), "month": int(t.Month()), "day": t.Day()}
	}
	api.call(finance, "POST", "/v1/costCenters?costCenterId=it", map[string]any{"displayName": "IT", "code": "CC-910"})
	api.call(finance, "POST", "/v1/budgets?budgetId=it", map[string]any{"costCenter": "costCenters/it",
		"fiscalYear": start.Year(), "currencyCode": "EUR", "displayName": "IT", "overspendPolicy": "BLOCK"})
	api.call(finance, "POST", "/v1/budgets/it/lines?budgetLineId=saas", map[string]any{"displayName": "SaaS",
		"category": "SOFTWARE", "expenseType": "OPEX", "plannedAmount": eur("100000")})
	api.call(finance, "POST", "/v1/budgets/it:submit", map[string]any{})
	api.call(controller, "POST", "/v1/budgets/it:approve", map[string]any{})

	api.call(manager, "POST", "/v1/vendors?vendorId=fabrikam", map[string]any{"displayName": "Fabrikam",
		"legalName": "Fabrikam Ltd", "category": "SAAS", "tier": 3, "dataAccess": "NONE", "country": "IE"})
	api.call(manager, "POST", "/v1/vendors/fabrikam:startOnboarding", map[string]any{})
	api.call(cio, "POST", "/v1/vendors/fabrikam:activate", map[string]any{})

	c := api.call(manager, "POST", "/v1/vendors/fabrikam/contracts?contractId=support", map[string]any{
		"title": "Support", "totalValue": eur("1200"), "annualValue": eur("1200"),
		"startDate": day(start), "endDate": day(end), "autoRenew": true, "renewalTermMonths": 12,
		"noticePeriodDays": 30, "noticeWindowDays": 30, "budgetLine": "budgets/it/lines/saas",
		"owner": "vendor-manager@example.com"})
	api.call(manager, "POST", "/v1/vendors/fabrikam/contracts/support:submit", map[string]any{})
	if got := api.call(cio, "POST", "/v1/vendors/fabrikam/contracts/support:approve", map[string]any{}); got["state"] != "ACTIVE" {
		api.t.Fatalf("approved contract: %v; want ACTIVE", got)
	}
	return c["name"].(string)
}

// startAutomation runs the automation until the returned function is called.
func startAutomation(t *testing.T, cfg config) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	log := slog.New(slog.NewTextHandler(testWriter{t}, nil))
	go func() { done <- run(ctx, cfg, log) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("automation: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func waitForReminders(t *testing.T, path string, n int) []Reminder {
	t.Helper()
	var rems []Reminder
	poll(t, reminderTimeout, "the reminder", func() (bool, string) {
		rems = readReminders(t, path)
		return len(rems) >= n, fmt.Sprintf("%d reminders", len(rems))
	})
	return rems
}

func readReminders(t *testing.T, path string) []Reminder {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var rems []Reminder
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r Reminder
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("reminders file line %q: %v", line, err)
		}
		rems = append(rems, r)
	}
	return rems
}

// --- the platform ---

type platform struct{ rest, nats string }

// startPlatform runs the standalone binary on a fresh data folder with random ports until the
// test ends, and returns its addresses from its ready line.
func startPlatform(t *testing.T) platform {
	t.Helper()
	dataDir := t.TempDir()
	cmd := exec.Command(binary, "--http-addr", "127.0.0.1:0", "--nats-port", "0", "--data-dir", dataDir)
	for _, kv := range os.Environ() { // the developer's QUARTERDECK_ settings stay out
		if !strings.HasPrefix(kv, "QUARTERDECK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "QUARTERDECK_BOOTSTRAP_API_KEY="+adminKey)
	cmd.Dir = dataDir
	out := &readyWriter{ready: make(chan platform, 1)}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start quarterdeck: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			t.Logf("quarterdeck's output:\n%s", out.String())
		}
	})
	select {
	case p := <-out.ready:
		return p
	case <-exited:
		t.Fatalf("quarterdeck exited before it was ready:\n%s", out.String())
	case <-time.After(readyTimeout):
		t.Fatalf("quarterdeck not ready after %s", readyTimeout)
	}
	return platform{}
}

// readyWriter keeps a process's output and sends its addresses when the ready line is written.
type readyWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	seen  int
	found bool
	ready chan platform // receives the addresses once
}

func (w *readyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for !w.found {
		rest := w.buf.Bytes()[w.seen:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		w.seen += i + 1
		var line struct{ Msg, REST, NATS string }
		if json.Unmarshal(rest[:i], &line) == nil && line.Msg == "Quarterdeck is ready" {
			w.ready <- platform{rest: line.REST, nats: line.NATS}
			w.found = true
		}
	}
	return len(p), nil
}

func (w *readyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// --- REST ---

type client struct {
	t    *testing.T
	base string
}

// call sends a JSON request with key and returns the JSON answer, failing the test unless 200.
func (c *client) call(key, method, path string, body any) map[string]any {
	c.t.Helper()
	b, _ := json.Marshal(body)
	ctx, cancel := context.WithTimeout(context.Background(), httpTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(b))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		c.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
	}
	return out
}

// poll calls cond until it reports true, failing the test with cond's last word after timeout.
func poll(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
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
