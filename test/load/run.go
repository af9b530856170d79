package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/quarterdeck/quarterdeck/test/internal/baseline"
	"github.com/quarterdeck/quarterdeck/test/internal/loadgen"
)

// run runs every set-up of cfg and returns the report; a set-up that fails to start or to make its
// fixtures ends the run with an error, after the report of what was measured.
func run(ctx context.Context, cfg config, log *slog.Logger) (*report, error) {
	// Fail before the first set-up, not half an hour into the run.
	need := map[string][]string{"standalone": {"quarterdeck"}, "distributed": {"quarterdeck-budget", "quarterdeck-vendors", "quarterdeck-risk", "quarterdeck-talent", "quarterdeck-briefing", "quarterdeck-gateway"}}
	for _, s := range cfg.Setups {
		if err := checkBinaries(cfg.BinDir, need[s]...); err != nil {
			return nil, err
		}
		if s == "distributed" {
			if cfg.PostgresDSN == "" {
				return nil, errors.New("the distributed set-up needs a PostgreSQL server: -postgres-dsn or QUARTERDECK_TEST_POSTGRES_DSN (or -setups standalone)")
			}
			if cfg.NATSServer == "" && cfg.NATSURL == "" {
				return nil, errors.New("the distributed set-up needs -nats-server (a nats-server binary the run starts) or -nats-url")
			}
		}
	}
	dir := cfg.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "quarterdeck-load-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	rep := &report{started: time.Now().UTC(), command: "go run ./test/load " + strings.Join(os.Args[1:], " "), cfg: cfg,
		machine: machine(ctx, cfg.PostgresDSN, cfg.NATSServer), dir: dir}
	for _, s := range cfg.Setups {
		sr := &setupReport{name: s}
		rep.setups = append(rep.setups, sr)
		sub := filepath.Join(dir, s)
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return rep, err
		}
		if err := runSetup(ctx, cfg, s, sub, sr, log.With("setup", s)); err != nil {
			return rep, fmt.Errorf("%s: %w", s, err)
		}
	}
	return rep, nil
}

// baselinePayload is the payload size of the baselines when the run measured no event of its own
// (and of the PostgreSQL baseline, which runs before any event: a create's event is about 320 bytes).
const baselinePayload = 512

func runSetup(ctx context.Context, cfg config, setup, dir string, sr *setupReport, log *slog.Logger) error {
	var (
		p   *platform
		err error
		// The PostgreSQL baseline runs before the platform starts: with every service's pool
		// open, its 16 clients would find the server's connections (100 by default) taken.
		pgBaseline *baseline.Result
		pgErr      error
	)
	if setup == "distributed" && cfg.Baselines {
		r, err := baseline.Postgres(ctx, cfg.PostgresDSN, baseline.Options{Clients: 16, Duration: cfg.BaselineDur, Payload: baselinePayload})
		pgBaseline, pgErr = &r, err
	}
	if setup == "standalone" {
		p, err = startStandalone(ctx, cfg, dir, log)
	} else {
		p, err = startDistributed(ctx, cfg, dir, log)
	}
	if err != nil {
		return err
	}
	defer p.stop()
	c, err := connect(ctx, p)
	if err != nil {
		return err
	}
	defer c.close()
	f, err := makeFixtures(ctx, c.owner, c.paths["approver"].(*grpcAPI), log)
	if err != nil {
		return err
	}
	var paths []string
	for _, want := range cfg.Paths {
		if _, ok := c.paths[want]; ok {
			paths = append(paths, want)
		} else {
			sr.note("%s: not measured (the services' gRPC ports take only identities signed by a key the process generates in memory)", want)
		}
	}
	sr.paths = paths

	// Warm up every path (connections, pools, caches, the planner's statistics of the new tables)
	// with a light mixed load, not measured, then let the outbox relay and the audit sealer catch
	// up, so that the first scenario measured does not pay for the set-up.
	for _, path := range paths {
		if _, err := loadgen.Run(ctx, loadgen.Config{Rate: 100, Duration: cfg.PathWarmup}, scenarioMixed.op(f, c.paths[path])); err != nil {
			return err
		}
	}
	if err := quiesce(ctx, p, log); err != nil {
		return err
	}
	if err := sleep(ctx, cfg.Settle); err != nil {
		return err
	}
	if p.main != nil {
		if v, err := rss(p.main.Pid()); err == nil {
			sr.rssIdle = v
		}
	}

	// Fixed rates.
	for _, name := range cfg.Scenarios {
		sc, _ := scenarioByName(name)
		for _, rate := range cfg.Rates {
			for _, path := range paths {
				if err := quiesce(ctx, p, log); err != nil {
					return err
				}
				observe := name == "create" && rate == cfg.ObserveRate && path == paths[0]
				// Gets are profiled at the rate of the gateway's goal (CPU per get at 1,000/s).
				profileGets := name == "get" && rate == 1000 && path == paths[0]
				var sampler *rssSampler
				profDone := make(chan struct{})
				close(profDone)
				if observe {
					if p.main != nil {
						sampler = sampleRSS(p.main.Pid(), 250*time.Millisecond)
					}
					if cfg.Profile {
						profDone = profileDuring(ctx, p, sr, dir, "create", cfg.Warmup+cfg.Duration-time.Second, log)
					}
				}
				if profileGets && cfg.Profile {
					profDone = profileDuring(ctx, p, sr, dir, "get", cfg.Warmup+cfg.Duration-time.Second, log)
				}
				groups := cpuGroups(p)
				before := cpuSnapshot(groups)
				begin := time.Now()
				res, err := loadgen.Run(ctx, loadgen.Config{Rate: rate, Duration: cfg.Duration, Warmup: cfg.Warmup}, sc.op(f, c.paths[path]))
				if err == nil {
					use := cpuSince(groups, before)
					sr.addCPU(name, path, rate, cpuRun{use: use, requests: loadgen.Arrivals(rate, cfg.Warmup) + res.Sent, wall: time.Since(begin)})
				}
				if sampler != nil {
					sr.rssLoadMean, sr.rssLoadPeak = sampler.stop()
					sr.rssLoadProc = p.main.Name
				}
				<-profDone
				if err != nil {
					return err
				}
				sr.addFixed(name, path, res)
				log.Info("fixed rate", "scenario", name, "path", path, "rate", rate, "p50", res.P50, "p99", res.P99, "errors", res.Errors)
			}
		}
	}

	// Searches.
	if cfg.Search {
		s := loadgen.Search{Start: cfg.SearchStart, Max: cfg.SearchMax, P99Limit: cfg.P99Limit, Step: 2, Bisect: 3}
		for _, name := range cfg.SearchFor {
			sc, _ := scenarioByName(name)
			searchPaths := []string{paths[0]}
			if (name == "create" || name == "get") && len(paths) > 1 {
				searchPaths = append(searchPaths, paths[len(paths)-1])
			}
			for _, path := range searchPaths {
				op := sc.op(f, c.paths[path])
				best, ok, tried, err := s.Run(ctx, func(ctx context.Context, rate float64) (loadgen.Result, error) {
					if err := quiesce(ctx, p, log); err != nil {
						return loadgen.Result{}, err
					}
					r, err := loadgen.Run(ctx, loadgen.Config{Rate: rate, Duration: cfg.SearchDur, Warmup: time.Second}, op)
					log.Info("search step", "scenario", name, "path", path, "rate", rate, "p99", r.P99, "errors", r.Errors)
					return r, err
				})
				if err != nil {
					return err
				}
				sr.searches = append(sr.searches, searchRow{scenario: name, path: path, best: best, ok: ok, tried: tried})
			}
		}
	}

	// The event path.
	if err := quiesce(ctx, p, log); err != nil {
		return err
	}
	evPath := paths[len(paths)-1]
	ev, err := measureEventLatency(ctx, p, c.paths[evPath], cfg.EventRate, cfg.Duration, log)
	if err != nil {
		sr.note("event latency: %v", err)
	}
	ev.path = evPath
	sr.events = &ev
	if cfg.ActivationRate > 0 {
		if err := quiesce(ctx, p, log); err != nil {
			return err
		}
		profDone := make(chan struct{})
		close(profDone)
		if cfg.Profile {
			profDone = profileDuring(ctx, p, sr, dir, "activation", cfg.Duration, log)
		}
		groups := cpuGroups(p)
		before, begin := cpuSnapshot(groups), time.Now()
		act, err := measureActivation(ctx, p, f, c.paths[paths[0]], cfg.ActivationRate, cfg.Duration, log)
		if err != nil {
			sr.note("activation path: %v", err)
		}
		// The window runs until the last commitment is seen: the CPU of the whole activation,
		// not only of the calls.
		act.cpu = cpuRun{use: cpuSince(groups, before), requests: act.Activated, wall: time.Since(begin)}
		act.path = paths[0]
		<-profDone
		sr.activation = &act
	}
	if cfg.SchedItems > 0 {
		if err := quiesce(ctx, p, log); err != nil {
			return err
		}
		sch, err := measureScheduler(ctx, p, c.owner, cfg.SchedItems, cfg.SchedLead, log)
		if err != nil {
			sr.note("scheduler: %v", err)
		}
		sch.path = pathGateway
		sr.sched = &sch
	}
	if cfg.Backlog > 0 {
		if p.ownsNATS() {
			if err := quiesce(ctx, p, log); err != nil {
				return err
			}
			b, err := measureBacklog(ctx, p, c.paths[evPath], cfg.Backlog, log)
			if err != nil {
				sr.note("backlog: %v", err)
			}
			sr.backlog = &b
		} else if setup == "standalone" {
			sr.note("backlog: not measured on the standalone set-up: its NATS server runs inside the process and cannot be down while the process is up")
		} else {
			sr.note("backlog: not measured: the run does not own the NATS server (-nats-url); give -nats-server to measure it")
		}
	}

	// Baselines, on the same servers, with the platform idle.
	if cfg.Baselines {
		if err := quiesce(ctx, p, log); err != nil {
			return err
		}
		payload := ev.PayloadBytes
		if payload == 0 {
			payload = baselinePayload
		}
		o := baseline.Options{Clients: 16, Duration: cfg.BaselineDur, Payload: payload}
		var results []baseline.Result
		if setup == "distributed" {
			if pgErr != nil {
				sr.note("PostgreSQL baseline: %v", pgErr)
			} else {
				results = append(results, *pgBaseline)
			}
		} else {
			r, err := baseline.SQLite(ctx, dir, o)
			if err != nil {
				sr.note("SQLite baseline: %v", err)
			} else {
				results = append(results, r)
			}
		}
		// sync with one publisher is the outbox relay's own pattern (one message at a time, in
		// order, each acknowledged before the next); 16 publishers and the async window show what
		// the server takes from more concurrent or pipelined publishers.
		relay := o
		relay.Clients = 1
		for _, run := range []struct {
			mode string
			o    baseline.Options
		}{{"sync", relay}, {"sync", o}, {"async", o}} {
			mode := run.mode
			r, err := baseline.JetStream(ctx, p.natsURL, mode, run.o)
			if err != nil {
				sr.note("JetStream %s baseline: %v", mode, err)
				continue
			}
			results = append(results, r)
		}
		sr.baselines = results
	}
	// What the gateway's /metrics has grown to after everything the run sent (issue 20: under
	// 1 MB after a full run).
	if n, series, err := metricsSize(ctx, p.rest+"/metrics"); err != nil {
		sr.note("gateway /metrics after the run: %v", err)
	} else {
		sr.note("gateway /metrics after the run: %d bytes, %d series", n, series)
	}
	return nil
}

// metricsSize scrapes url and returns the size of the answer and its number of series (lines
// that are not comments).
func metricsSize(ctx context.Context, url string) (int, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, 0, err
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("status %d", resp.StatusCode)
	}
	series := 0
	for _, line := range strings.Split(string(body), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			series++
		}
	}
	return len(body), series, nil
}

// profileDuring takes CPU profiles of the platform's processes for d while the caller drives
// the load of phase, and renders their tops into the report; the returned channel closes when
// done.
func profileDuring(ctx context.Context, p *platform, sr *setupReport, dir, phase string, d time.Duration, log *slog.Logger) chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		type one struct {
			name, file string
			err        error
		}
		results := make(chan one, len(p.debug))
		for name, addr := range p.debug {
			go func() {
				file := filepath.Join(dir, name+"-"+phase+"-cpu.pprof")
				results <- one{name, file, profileCPU(ctx, addr, d, file)}
			}()
		}
		for range p.debug {
			r := <-results
			if r.err != nil {
				sr.note("CPU profile of %s: %v", r.name, r.err)
				continue
			}
			top, err := pprofTop(ctx, filepath.Join(p.binDir, r.name), r.file, 30)
			if err != nil {
				sr.note("CPU profile of %s: %v", r.name, err)
				continue
			}
			sr.mu.Lock()
			sr.profiles = append(sr.profiles, profile{phase: phase, proc: r.name, file: r.file, top: top})
			sr.mu.Unlock()
			log.Info("CPU profile taken", "phase", phase, "process", r.name, "file", r.file)
		}
	}()
	return done
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// quietCores is how busy the platform's processes may be, together, for quiesce to call them
// idle: its consumers and relays have drained what the last phase left.
const quietCores = 0.25

// quiesce waits until the platform has caught up with the load before it, so that a measurement
// does not pay for the backlog of the one before: for a second, the budget stream's last sequence
// has not moved (the outbox relay has published everything) and the platform's processes have
// used less than quietCores (the consumers and the other services' relays are done too). It gives
// up after two minutes.
func quiesce(ctx context.Context, p *platform, log *slog.Logger) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	nc, err := nats.Connect(p.natsURL)
	if err != nil {
		return fmt.Errorf("quiesce: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	// The platform's own processes: not the harness, and not PostgreSQL, whose server may be
	// shared (CI's other tests keep it busy) and whose work for the platform shows in the
	// services' CPU too.
	groups := cpuGroups(p)
	delete(groups, "load harness")
	delete(groups, "postgres")
	const tick = 250 * time.Millisecond
	start := time.Now()
	var (
		last        uint64
		busy        float64
		still, calm int // ticks in a row with the stream still, with the processes quiet
	)
	cpu := cpuSnapshot(groups)
	for still < 4 || calm < 4 {
		if time.Since(start) > 2*time.Minute {
			log.Warn("the platform did not quiesce within 2 minutes; measuring anyway",
				"stream_still", still >= 4, "cores_busy", busy)
			return nil
		}
		if err := sleep(ctx, tick); err != nil {
			return err
		}
		var used time.Duration
		for _, u := range cpuSince(groups, cpu) {
			used += u.cpu
		}
		cpu = cpuSnapshot(groups)
		if busy = used.Seconds() / tick.Seconds(); busy < quietCores {
			calm++
		} else {
			calm = 0
		}
		st, err := js.Stream(ctx, streamOf(p.eventPrefix))
		if err != nil {
			return fmt.Errorf("quiesce: %w", err)
		}
		seq := st.CachedInfo().State.LastSeq
		if seq == last {
			still++
		} else {
			last, still = seq, 0
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		log.Info("waited for the platform to catch up", "took", d.Round(time.Millisecond))
	}
	return nil
}
