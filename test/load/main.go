// Command load is Quarterdeck's load harness. It starts the platform itself, in one or both of its
// set-ups, and measures it under open-loop load (a fixed arrival rate, so that latency under load
// is honest):
//
//   - standalone: the quarterdeck binary on its embedded defaults (SQLite files, in-process NATS);
//   - distributed: quarterdeck-budget, quarterdeck-vendors, quarterdeck-risk, quarterdeck-talent, quarterdeck-briefing and quarterdeck-gateway as separate
//     processes, each service on a database of its own on a PostgreSQL server, and a nats-server
//     the run starts (and stops, to build a backlog).
//
// For each set-up it runs every scenario (create, get, list with a filter, a custom method that
// changes state, a mixed workload of budget's; a vendor's create, a contract's activation, which
// holds funds in budget over gRPC; a portal's mixed day across the four domains) at fixed rates
// over REST through the gateway, gRPC through the gateway and gRPC straight to the service;
// searches for the highest rate whose p99 stays under a limit with no errors; measures the event
// path (commit to subscriber, and the drain of a 10,000-event backlog after NATS was down), the
// activation path (a contract's approval to the commitment budget records from its event), the
// scheduler at scale (10,000 items armed through the risk API to fall due at one instant, and how
// late they fire), the memory of the standalone process and a CPU profile of the create path; and
// measures baselines on the same servers in the same run (a PostgreSQL or SQLite transaction
// inserting a row and an outbox row; JetStream publishes of an event's size) to report the
// platform's rates as ratios of them. The report opens with the performance goals of issue 23,
// each met, missed or not measured, from the same run's figures.
//
//	make bench                     # both set-ups, the full run (see BENCHMARKS.md)
//	go run ./test/load -h          # every option
//
// The report is Markdown, printed and written to -out.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// config is what one run does.
type config struct {
	Setups         []string
	Scenarios      []string
	Paths          []string
	Rates          []float64
	Duration       time.Duration
	Warmup         time.Duration
	Search         bool
	SearchFor      []string // scenarios searched (on the first path, and create/get also directly)
	SearchStart    float64
	SearchMax      float64
	SearchDur      time.Duration
	P99Limit       time.Duration
	EventRate      float64
	ActivationRate float64
	SchedItems     int           // scheduler items due at one instant (0: skip)
	SchedLead      time.Duration // from the start of their arming to their due time
	ObserveRate    float64       // the create rate at which memory and the CPU profile are taken
	BaselineDur    time.Duration
	Backlog        int
	Baselines      bool
	Profile        bool
	BinDir         string
	ServiceProcs   int // GOMAXPROCS of each domain service of the distributed set-up (0: Go's default)
	GatewayProcs   int // GOMAXPROCS of the gateway of the distributed set-up (0: Go's default)
	// DatabaseMaxConns bounds each process's PostgreSQL pool in the distributed set-up (0: the
	// binaries' default).
	DatabaseMaxConns int
	PostgresDSN      string
	NATSServer       string
	NATSURL          string
	Out              string
	Dir              string
	StartTimeout     time.Duration
	Settle           time.Duration
	PathWarmup       time.Duration
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	setups := fs.String("setups", "standalone,distributed", "set-ups to run: standalone, distributed")
	scen := fs.String("scenarios", "create,get,list,release,mixed,vendor-create,activate,portal", "scenarios at fixed rates")
	paths := fs.String("paths", "rest,grpc,direct", "paths: rest (REST via the gateway), grpc (gRPC via the gateway), direct (gRPC to the service; distributed only)")
	rates := fs.String("rates", "100,300,1000", "fixed arrival rates per second")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measured window of each fixed-rate run")
	fs.DurationVar(&c.Warmup, "warmup", 2*time.Second, "load before each window, not measured")
	fs.BoolVar(&c.Search, "search", true, "search the highest rate with p99 under -p99-limit and no errors")
	search := fs.String("search-scenarios", "create,get,list,release,mixed,vendor-create,activate,portal", "scenarios searched")
	fs.Float64Var(&c.SearchStart, "search-start", 200, "first rate of the search")
	fs.Float64Var(&c.SearchMax, "search-max", 6400, "highest rate the search tries")
	fs.DurationVar(&c.SearchDur, "search-duration", 5*time.Second, "measured window of each search step")
	fs.DurationVar(&c.P99Limit, "p99-limit", 100*time.Millisecond, "p99 a searched rate must stay under")
	fs.Float64Var(&c.EventRate, "event-rate", 1000, "creates per second while measuring commit-to-subscriber latency (the goal is at 1,000/s)")
	fs.Float64Var(&c.ActivationRate, "activation-rate", 50, "contract activations per second while measuring approval-to-commitment latency (0: skip)")
	fs.IntVar(&c.SchedItems, "sched-items", 10000, "scheduler items (breach notification clocks in risk) armed through the API to fall due at one instant (0: skip)")
	fs.DurationVar(&c.SchedLead, "sched-lead", 60*time.Second, "from the start of arming the scheduler items to their due time; arming must finish before it")
	fs.Float64Var(&c.ObserveRate, "observe-rate", 300, "create rate (one of -rates) at which the memory of the process and CPU profiles are taken")
	fs.DurationVar(&c.BaselineDur, "baseline-duration", 5*time.Second, "how long each baseline runs")
	fs.IntVar(&c.Backlog, "backlog", 10000, "events in the backlog built while NATS is down (distributed with -nats-server; 0: skip)")
	fs.BoolVar(&c.Baselines, "baselines", true, "measure the PostgreSQL/SQLite and JetStream baselines")
	fs.BoolVar(&c.Profile, "profile", true, "take CPU profiles of the create path at -observe-rate, of gets at 1,000/s and of the contract activation path")
	fs.StringVar(&c.BinDir, "bin-dir", "bin", "folder with quarterdeck, quarterdeck-budget, quarterdeck-vendors, quarterdeck-risk, quarterdeck-talent, quarterdeck-briefing and quarterdeck-gateway (`make build`)")
	fs.IntVar(&c.DatabaseMaxConns, "database-max-conns", 0, "most PostgreSQL connections of each process's pool in the distributed set-up, besides its leases (0: the binaries' default, 16)")
	fs.IntVar(&c.ServiceProcs, "service-procs", 1, "GOMAXPROCS of each domain service of the distributed set-up, as the Helm chart's CPU limit of one core per service gives it (0: Go's default, every core of the machine)")
	fs.IntVar(&c.GatewayProcs, "gateway-procs", 2, "GOMAXPROCS of the gateway of the distributed set-up, as the chart's CPU limit of two cores gives it (0: Go's default)")
	fs.StringVar(&c.PostgresDSN, "postgres-dsn", os.Getenv("QUARTERDECK_TEST_POSTGRES_DSN"), "PostgreSQL server of the distributed set-up; the run creates and drops a database of its own")
	fs.StringVar(&c.NATSServer, "nats-server", "", "nats-server binary the distributed set-up starts (and stops for the backlog)")
	fs.StringVar(&c.NATSURL, "nats-url", "", "an existing NATS server for the distributed set-up instead of -nats-server (no backlog measurement)")
	fs.StringVar(&c.Out, "out", "", "write the report here too (default: bench-results/load-<time>.md)")
	fs.StringVar(&c.Dir, "dir", "", "working folder for logs, data and profiles (default: a new temporary folder, kept)")
	fs.DurationVar(&c.PathWarmup, "path-warmup", 3*time.Second, "unmeasured mixed load at 100/s on every path after the fixtures")
	fs.DurationVar(&c.Settle, "settle", 5*time.Second, "quiet time after the fixtures and the warm-up, before the first measurement")
	fs.DurationVar(&c.StartTimeout, "start-timeout", 60*time.Second, "how long a set-up may take to become ready")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.Setups, c.Scenarios, c.SearchFor = split(*setups), split(*scen), split(*search)
	for _, s := range c.Setups {
		if s != "standalone" && s != "distributed" {
			return c, fmt.Errorf("-setups: unknown set-up %q", s)
		}
	}
	for _, s := range append(append([]string{}, c.Scenarios...), c.SearchFor...) {
		if _, ok := scenarioByName(s); !ok {
			return c, fmt.Errorf("unknown scenario %q", s)
		}
	}
	for _, p := range split(*paths) {
		name, ok := map[string]string{"rest": pathREST, "grpc": pathGateway, "direct": pathDirect}[p]
		if !ok {
			return c, fmt.Errorf("-paths: unknown path %q", p)
		}
		c.Paths = append(c.Paths, name)
	}
	for _, r := range split(*rates) {
		v, err := strconv.ParseFloat(r, 64)
		if err != nil || v <= 0 {
			return c, fmt.Errorf("-rates: %q is not a positive number", r)
		}
		c.Rates = append(c.Rates, v)
	}
	if len(c.Paths) == 0 {
		return c, errors.New("-paths: no path")
	}
	if c.SchedItems < 0 || c.SchedItems > 0 && (c.SchedLead <= 0 || c.SchedLead > 30*time.Minute) {
		return c, errors.New("-sched-items must be 0 or more, and -sched-lead between 0 and 30m (the clocks' deadline is an hour)")
	}
	if c.Out == "" {
		c.Out = "bench-results/load-" + time.Now().UTC().Format("20060102T150405Z") + ".md"
	}
	c.BinDir = absBin(c.BinDir)
	return c, nil
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	rep, err := run(ctx, cfg, log)
	if rep != nil {
		text := rep.markdown()
		fmt.Print(text)
		if werr := writeReport(cfg.Out, text); werr != nil {
			log.Error("write report", "error", werr)
		} else {
			log.Info("report written", "file", cfg.Out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}
