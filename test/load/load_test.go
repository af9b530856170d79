package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// buildBinaries builds the platform's binaries into dir, as `make build` does.
func buildBinaries(t *testing.T, dir string) {
	t.Helper()
	for name, pkg := range map[string]string{
		"quarterdeck":          "github.com/quarterdeck/quarterdeck/deploy/standalone",
		"quarterdeck-budget":   "github.com/quarterdeck/quarterdeck/services/budget/cmd/quarterdeck-budget",
		"quarterdeck-vendors":  "github.com/quarterdeck/quarterdeck/services/vendors/cmd/quarterdeck-vendors",
		"quarterdeck-risk":     "github.com/quarterdeck/quarterdeck/services/risk/cmd/quarterdeck-risk",
		"quarterdeck-talent":   "github.com/quarterdeck/quarterdeck/services/talent/cmd/quarterdeck-talent",
		"quarterdeck-briefing": "github.com/quarterdeck/quarterdeck/services/briefing/cmd/quarterdeck-briefing",
		"quarterdeck-gateway":  "github.com/quarterdeck/quarterdeck/gateway/cmd/quarterdeck-gateway",
	} {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, out)
		}
	}
}

// TestHarnessSmoke runs the harness for a few seconds at a low rate against the standalone
// set-up, and against the distributed one when a PostgreSQL and a NATS server are given, and
// checks that it measured something in every part of its report. It asserts no latency: figures
// belong in BENCHMARKS.md, from `make bench`.
func TestHarnessSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped with -short: builds the binaries and starts the platform; make test and CI run it (the distributed set-up too, with QUARTERDECK_TEST_POSTGRES_DSN and QUARTERDECK_TEST_NATS_URL)")
	}
	bin := t.TempDir()
	buildBinaries(t, bin)
	setups := []string{"standalone"}
	dsn, natsURL := os.Getenv("QUARTERDECK_TEST_POSTGRES_DSN"), os.Getenv("QUARTERDECK_TEST_NATS_URL")
	if dsn != "" && natsURL != "" {
		setups = append(setups, "distributed")
	} else {
		t.Log("distributed set-up not run: it needs QUARTERDECK_TEST_POSTGRES_DSN and QUARTERDECK_TEST_NATS_URL (CI sets both)")
	}
	cfg := config{
		Setups:      setups,
		Scenarios:   []string{"create", "get", "list", "release", "mixed", "vendor-create", "activate", "portal"},
		Paths:       []string{pathREST, pathGateway, pathDirect},
		Rates:       []float64{20},
		Duration:    2 * time.Second,
		Warmup:      500 * time.Millisecond,
		Search:      true,
		SearchFor:   []string{"get"},
		SearchStart: 20, SearchMax: 40, SearchDur: time.Second,
		P99Limit:       10 * time.Second,
		EventRate:      20,
		ActivationRate: 20,
		SchedItems:     50, // 3 incidents: 20 + 20 + 10 clocks
		SchedLead:      15 * time.Second,
		ObserveRate:    20,
		Baselines:      true,
		BaselineDur:    300 * time.Millisecond,
		Profile:        true,
		BinDir:         bin,
		PostgresDSN:    dsn,
		NATSURL:        natsURL,
		// Pools of four: the smoke test shares the PostgreSQL server with the packages tested
		// beside it, and its rates of 20/s need few.
		DatabaseMaxConns: 4,
		Dir:              t.TempDir(),
		StartTimeout:     time.Minute,
		Settle:           time.Second,
		PathWarmup:       time.Second,
	}
	// About 4½ minutes on an idle machine of 2 cores: every scenario on every path, the
	// scheduler's lead twice, and a wait for an idle platform before each measurement. CI runs it
	// beside other packages under the race detector, after building the binaries, within the
	// package's 10 minutes.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	rep, err := run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if len(rep.setups) != len(setups) {
		t.Fatalf("%d set-ups reported; want %d", len(rep.setups), len(setups))
	}
	for _, s := range rep.setups {
		t.Run(s.name, func(t *testing.T) {
			wantPaths := 3
			if s.name == "standalone" {
				wantPaths = 2 // no direct path: the service trusts only the process's own key
			}
			if got := len(s.fixedOrder); got != 8*wantPaths {
				t.Errorf("%d fixed-rate runs; want 8 scenarios × %d paths", got, wantPaths)
			}
			for _, k := range s.fixedOrder {
				r := s.fixed[k]
				// 20/s for 2 s is exactly 40 arrivals; every one must have succeeded.
				if r.Sent != 40 || r.OK != 40 || r.Errors != 0 || r.P50 <= 0 || r.P99 < r.P50 || r.Max < r.P99 {
					t.Errorf("%s · %s: %+v; want 40 arrivals, all successful, ordered percentiles", k.scenario, k.path, r)
				}
			}
			if len(s.searches) == 0 || !s.searches[0].ok || s.searches[0].best.Rate < 20 {
				t.Errorf("search = %+v; want a passing rate of at least 20/s", s.searches)
			}
			if e := s.events; e == nil || e.Created != 40 || e.Received != e.Created || e.Latency.N != e.Received ||
				e.Latency.P50 <= 0 || e.PayloadBytes == 0 {
				t.Errorf("event path = %+v; want 40 creates, each event received with a latency", e)
			}
			if a := s.activation; a == nil || a.Activated != 40 || a.Committed != a.Activated || a.Latency.N != a.Committed || a.Latency.P99 < a.Latency.P50 {
				t.Errorf("activation path = %+v; want 40 approvals, each contract's commitment seen with a latency", a)
			}
			if sc := s.sched; sc == nil || sc.Items != 50 || sc.Incidents != 3 || sc.Fired != 50 || sc.FireLag.N != 50 ||
				sc.ReceiptLag.N != 50 || sc.FireLag.P99 < sc.FireLag.P50 || sc.Arming <= 0 || sc.Arming >= sc.Lead {
				t.Errorf("scheduler = %+v (notes: %v); want 50 items of 3 incidents armed before their due time, each fired with a lag", sc, s.notes)
			}
			wantBaselines := 4 // database + JetStream: 1 publisher, 16, async
			if len(s.baselines) != wantBaselines {
				t.Errorf("baselines = %+v; want %d", s.baselines, wantBaselines)
			}
			for _, b := range s.baselines {
				if b.Ops == 0 || b.Errors != 0 || b.Rate <= 0 {
					t.Errorf("baseline %+v measured nothing", b)
				}
			}
			if c, ok := s.cpu[fixedKey{"create", pathREST, 20}]; !ok || c.total() <= 0 || len(c.use) < 2 {
				t.Errorf("CPU of the create run = %+v; want the harness's and the platform's", c)
			}
			if s.rssLoadPeak <= 0 || s.rssLoadMean <= 0 || s.rssLoadPeak < s.rssLoadMean {
				t.Errorf("memory under load: mean %d, peak %d", s.rssLoadMean, s.rssLoadPeak)
			}
			if s.name == "standalone" && s.rssIdle <= 0 {
				t.Errorf("idle memory of the standalone process not measured")
			}
			phases := map[string]int{}
			for _, p := range s.profiles {
				phases[p.phase]++
			}
			if want := map[string]int{"standalone": 1, "distributed": 3}[s.name]; phases["create"] != want || phases["activation"] != want || len(s.profiles) != 2*want {
				t.Errorf("CPU profiles per phase %v; want %d of the create path and %d of the activation path (notes: %v)", phases, want, want, s.notes)
			}
			if a := s.activation; a != nil && (a.cpu.total() <= 0 || len(a.cpu.use) < 2 || a.cpu.requests != a.Activated) {
				t.Errorf("CPU of the activation path = %+v; want the harness's and the platform's over %d activations", a.cpu, a.Activated)
			}
			for _, p := range s.profiles {
				if !strings.Contains(p.top, "flat%") {
					t.Errorf("profile of %s has no table:\n%s", p.proc, p.top)
				}
			}
		})
	}
	text := rep.markdown()
	for _, want := range []string{"## Goals (issue 23)", "portal · " + pathREST, "### Scheduler at scale", "## standalone", "### Fixed rates", "create · " + pathREST, "### Event path", "### Baselines", "### Memory", "CPU per activation", "### CPU profiles of the contract activation path"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s", text)
	}
}

// TestFlags checks the command line's validation and what a run checks before it starts anything.
func TestFlags(t *testing.T) {
	for _, bad := range [][]string{{"-setups", "cluster"}, {"-scenarios", "delete"}, {"-paths", "soap"}, {"-rates", "100,-1"}, {"-sched-lead", "2h"}, {"-sched-items", "-1"}} {
		if _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("parseFlags(%v) accepted", bad)
		}
	}
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if _, err := run(ctx, config{Setups: []string{"standalone"}, BinDir: t.TempDir()}, log); err == nil || !strings.Contains(err.Error(), "quarterdeck not found") {
		t.Errorf("run without binaries: %v; want the missing binary named", err)
	}
	bin := t.TempDir()
	for _, n := range []string{"quarterdeck-budget", "quarterdeck-vendors", "quarterdeck-risk", "quarterdeck-talent", "quarterdeck-briefing", "quarterdeck-gateway"} {
		if err := os.WriteFile(filepath.Join(bin, n), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := run(ctx, config{Setups: []string{"distributed"}, BinDir: bin, NATSURL: "nats://127.0.0.1:1"}, log); err == nil || !strings.Contains(err.Error(), "PostgreSQL") {
		t.Errorf("distributed run without PostgreSQL: %v; want it named before anything starts", err)
	}
	c, err := parseFlags([]string{"-rates", "50,150", "-paths", "rest,direct"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Rates) != 2 || c.Rates[1] != 150 || len(c.Paths) != 2 || c.Paths[1] != pathDirect {
		t.Errorf("config = %+v", c)
	}
}
