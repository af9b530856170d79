package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/quarterdeck/quarterdeck/services/platform/messaging/events"
	"github.com/quarterdeck/quarterdeck/test/internal/proc"
)

// window is the span of one fault, from its start until the platform is whole again.
type window struct {
	name       string
	start, end time.Time
}

// phaseStats is what the clients saw during one window.
type phaseStats struct {
	name     string
	took     time.Duration
	attempts int
	ok       int
	status   map[int]int // non-200 answers by status (0: no answer)
	failed   int         // calls that failed for good
	slowest  time.Duration
}

// summary is what a run prints.
type summary struct {
	Dir       string
	Elapsed   time.Duration
	Calls     int64
	Attempts  int
	Retries   int64
	Acked     map[string]int
	Events    map[string]int
	Effects   map[string]int
	Phases    []phaseStats
	Recovery  map[string]time.Duration // domain → first successful write after PostgreSQL's return
	Recovered time.Duration
	// PGShutdown is how long PostgreSQL's fast shutdown took (its shutdown checkpoint) before the
	// PGDown it then stays down.
	PGShutdown time.Duration
	Checks     []check
	Failures   []failure
	Err        error // the run could not finish
}

func (s *summary) failed() int {
	n := 0
	for _, c := range s.Checks {
		if !c.ok {
			n++
		}
	}
	return n
}

func (s *summary) print(w io.Writer) {
	fmt.Fprintf(w, "\ncluster proof: 3 NATS nodes (streams R3), PostgreSQL, 2 replicas each of %s, 2 gateways; %s\n",
		strings.Join(domains, ", "), s.Elapsed.Round(time.Second))
	fmt.Fprintf(w, "calls %d, attempts %d, retries %d\n", s.Calls, s.Attempts, s.Retries)
	keys := func(m map[string]int) []string {
		var k []string
		for x := range m {
			k = append(k, x)
		}
		sort.Strings(k)
		return k
	}
	for _, k := range keys(s.Acked) {
		fmt.Fprintf(w, "acknowledged %-14s %d\n", k, s.Acked[k])
	}
	for _, k := range keys(s.Events) {
		fmt.Fprintf(w, "events in %-17s %d\n", k, s.Events[k])
	}
	for _, k := range keys(s.Effects) {
		fmt.Fprintf(w, "effects: %-18s %d\n", k, s.Effects[k])
	}
	fmt.Fprintf(w, "\n%-34s %8s %8s %8s %-22s %7s %8s\n", "phase", "took", "attempts", "ok", "other answers", "failed", "slowest")
	for _, p := range s.Phases {
		var other []string
		codes := make([]int, 0, len(p.status))
		for c := range p.status {
			codes = append(codes, c)
		}
		sort.Ints(codes)
		for _, c := range codes {
			label := fmt.Sprint(c)
			if c == 0 {
				label = "none"
			}
			other = append(other, fmt.Sprintf("%s×%d", label, p.status[c]))
		}
		fmt.Fprintf(w, "%-34s %8s %8d %8d %-22s %7d %8s\n", p.name, p.took.Round(100*time.Millisecond), p.attempts, p.ok,
			strings.Join(other, " "), p.failed, p.slowest.Round(time.Millisecond))
	}
	if len(s.Recovery) > 0 {
		var parts []string
		for _, d := range domains {
			parts = append(parts, fmt.Sprintf("%s %s", d, s.Recovery[d].Round(time.Millisecond)))
		}
		fmt.Fprintf(w, "\nPostgreSQL: fast shutdown took %s, then stopped for the set time\n", s.PGShutdown.Round(time.Millisecond))
		fmt.Fprintf(w, "recovered after PostgreSQL's return in %s (first success: %s)\n", s.Recovered.Round(time.Millisecond), strings.Join(parts, ", "))
	}
	fmt.Fprintln(w)
	for _, c := range s.Checks {
		mark := "ok  "
		if !c.ok {
			mark = "FAIL"
		}
		fmt.Fprintf(w, "%s %s (%s)\n", mark, c.name, c.detail)
	}
	for i, f := range s.Failures {
		if i == 10 {
			fmt.Fprintf(w, "… %d failed calls in all\n", len(s.Failures))
			break
		}
		fmt.Fprintf(w, "failed call %s %s %s: %s\n", f.at.Format(time.TimeOnly), f.domain, f.op, f.err)
	}
	if s.Dir != "" {
		fmt.Fprintf(w, "logs and data kept in %s\n", s.Dir)
	}
	if s.Err != nil {
		fmt.Fprintf(w, "FAIL: %v\n", s.Err)
	} else if n := s.failed(); n > 0 {
		fmt.Fprintf(w, "FAIL: %d check(s) failed\n", n)
	} else {
		fmt.Fprintln(w, "PASS")
	}
}

func run(ctx context.Context, cfg config, log *slog.Logger) (sum *summary, err error) {
	begin := time.Now()
	sum = &summary{Acked: map[string]int{}, Events: map[string]int{}, Effects: map[string]int{}}
	dir, err := os.MkdirTemp("", "quarterdeck-cluster-")
	if err != nil {
		return nil, err
	}
	sum.Dir = dir
	c := &cluster{cfg: cfg, dir: dir, log: log}
	defer func() {
		c.stop()
		sum.Elapsed = time.Since(begin)
		sum.Err = err
		if err == nil && sum.failed() > 0 {
			err = fmt.Errorf("%d check(s) failed", sum.failed())
		}
		if err == nil && !cfg.Keep {
			os.RemoveAll(dir)
			sum.Dir = ""
		}
	}()
	if err := c.start(ctx); err != nil {
		return sum, err
	}
	rec := &recorder{}
	owner, approver, fx, err := makeFixtures(ctx, c.front.url(), c.adminKey, rec)
	if err != nil {
		return sum, fmt.Errorf("fixtures: %w", err)
	}
	runID := "r" + randomHex(3)
	w := &workload{owner: owner, approver: approver, fx: fx, ack: newAcked(), run: runID}
	fixtureAttempts := len(rec.attempts)

	loadCtx, stopLoad := context.WithCancel(ctx)
	defer stopLoad()
	clients := w.runLoad(loadCtx, cfg.Workers)
	log.Info("load running", "clients", cfg.Workers)

	var windows []window
	pause := func(d time.Duration) error {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(d):
			return nil
		}
	}
	if err := pause(cfg.Steady); err != nil {
		return sum, err
	}

	// 1. kill -9 one NATS node (the leader of the budget stream) and bring it back.
	wn := window{name: "1 NATS node killed and back", start: time.Now()}
	victim, err := c.streamLeader(ctx, "budget")
	if err != nil {
		return sum, err
	}
	log.Info("kill -9", "process", victim.Name)
	victim.Kill()
	if err := pause(cfg.NATSDown); err != nil {
		return sum, err
	}
	if err := victim.Start(); err != nil {
		return sum, err
	}
	if err := waitFor(ctx, 90*time.Second, func() error { return c.streamsUp(ctx, false) }); err != nil {
		return sum, fmt.Errorf("after %s's return: %w", victim.Name, err)
	}
	wn.end = time.Now()
	windows = append(windows, wn)
	log.Info("NATS node back, streams current", "process", victim.Name, "took", wn.end.Sub(wn.start).Round(time.Millisecond))
	if err := pause(cfg.Steady); err != nil {
		return sum, err
	}

	// 2. kill -9 one replica of every service, then start them again.
	wn = window{name: "2 a replica of each service killed", start: time.Now()}
	for _, d := range domains {
		r := c.replicas[d][0]
		log.Info("kill -9", "process", r.Name)
		r.Kill()
	}
	if err := pause(cfg.ReplicaDown); err != nil {
		return sum, err
	}
	for _, d := range domains {
		if err := c.replicas[d][0].Start(); err != nil {
			return sum, err
		}
	}
	for _, d := range domains {
		if err := waitServing(ctx, c.replicas[d][0], 90*time.Second); err != nil {
			return sum, err
		}
	}
	wn.end = time.Now()
	windows = append(windows, wn)
	if err := pause(cfg.Steady); err != nil {
		return sum, err
	}

	// 3. Rolling restart of the gateways: SIGTERM one, start it again, wait until it is ready
	// (and the front end sees it), then the next.
	wn = window{name: "3 rolling restart of the gateways", start: time.Now()}
	for _, g := range c.gateways {
		log.Info("SIGTERM", "process", g.Name)
		g.Stop(30 * time.Second)
		if err := g.Start(); err != nil {
			return sum, err
		}
		if err := waitReady(ctx, g, 90*time.Second); err != nil {
			return sum, err
		}
		if err := pause(time.Second); err != nil { // the front end's probe sees it ready
			return sum, err
		}
	}
	wn.end = time.Now()
	windows = append(windows, wn)
	if err := pause(cfg.Steady); err != nil {
		return sum, err
	}

	// 4. Stop PostgreSQL for PGDown (fast shutdown: sessions end at once), then start it again.
	wn = window{name: "4 PostgreSQL stopped", start: time.Now()}
	log.Info("stopping PostgreSQL", "for", cfg.PGDown)
	c.pg.Stop(30 * time.Second)
	sum.PGShutdown = time.Since(wn.start)
	if err := pause(cfg.PGDown); err != nil {
		return sum, err
	}
	if err := c.pg.Start(); err != nil {
		return sum, err
	}
	if err := c.waitPostgres(ctx, 60*time.Second); err != nil {
		return sum, err
	}
	pgBack := time.Now()
	wn.end = pgBack
	windows = append(windows, wn)
	log.Info("PostgreSQL back", "down", pgBack.Sub(wn.start).Round(time.Millisecond))
	if err := pause(max(cfg.Steady, cfg.RecoverIn+2*time.Second)); err != nil {
		return sum, err
	}
	stopLoad()
	clients.Wait()
	loadEnd := time.Now()
	log.Info("load stopped; waiting for the outboxes and consumers")

	// Wait until the platform owes nothing, then check.
	db, closeAll, err := c.dbs(ctx)
	if err != nil {
		return sum, err
	}
	err = waitFor(ctx, cfg.Settle, func() error {
		n, err := pending(ctx, db)
		if err == nil && n > 0 {
			err = fmt.Errorf("%d events unpublished or effects missing", n)
		}
		return err
	})
	closeAll()
	if err != nil {
		log.Warn("not settled", "error", err) // the checks say what is missing
	}
	if err := c.verify(ctx, w.ack, runID, sum); err != nil {
		return sum, err
	}
	// With the load stopped, every stream and durable consumer has caught up on all 3 nodes.
	up := waitFor(ctx, 30*time.Second, func() error { return c.streamsUp(ctx, true) })
	detail := "every stream and durable consumer: 3 replicas, all current"
	if up != nil {
		detail = up.Error()
	}
	sum.Checks = append(sum.Checks, check{name: "NATS: streams and consumers whole again at R3", ok: up == nil, detail: detail})
	c.judge(cfg, rec, fixtureAttempts, windows, begin, loadEnd, pgBack, sum)
	return sum, nil
}

// judge turns the clients' record into the phase figures and the checks on the faults.
func (c *cluster) judge(cfg config, rec *recorder, skip int, windows []window, begin, loadEnd, pgBack time.Time, sum *summary) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	attempts := rec.attempts[skip:]
	sum.Calls, sum.Attempts, sum.Retries, sum.Failures = rec.calls.Load(), len(attempts), rec.retries.Load(), rec.failures
	stats := func(name string, from, to time.Time) phaseStats {
		p := phaseStats{name: name, took: to.Sub(from), status: map[int]int{}}
		for _, a := range attempts {
			if a.at.Before(from) || !a.at.Before(to) {
				continue
			}
			p.attempts++
			if a.status == http.StatusOK {
				p.ok++
			} else {
				p.status[a.status]++
			}
			p.slowest = max(p.slowest, a.took)
		}
		for _, f := range rec.failures {
			if !f.at.Before(from) && f.at.Before(to) {
				p.failed++
			}
		}
		return p
	}
	sum.Phases = append(sum.Phases, stats("whole run", begin, loadEnd))
	for _, w := range windows {
		sum.Phases = append(sum.Phases, stats(w.name, w.start, w.end))
	}

	add := func(name string, ok bool, detail string) {
		sum.Checks = append(sum.Checks, check{name: name, ok: ok, detail: detail})
	}
	// No call failed for good, anywhere in the run; the rolling restart is named on its own.
	rolling := sum.Phases[3]
	add("rolling restart: no request failed for the retrying clients", rolling.failed == 0 && rolling.status[http.StatusInternalServerError] == 0,
		fmt.Sprintf("%d attempts, %d failed calls, answers other than 200: %v", rolling.attempts, rolling.failed, rolling.status))
	add("no call failed for good in the whole run", len(rec.failures) == 0, fmt.Sprintf("%d calls, %d failed", sum.Calls, len(rec.failures)))

	// The PostgreSQL outage: 503s, no 500, no attempt without an answer, none slower than HangAfter.
	pg := sum.Phases[4]
	var other []string
	for code, n := range pg.status {
		if code != http.StatusServiceUnavailable {
			other = append(other, fmt.Sprintf("%d×%d", code, n))
		}
	}
	add("PostgreSQL stopped: callers got 503, not 500, not a hang", pg.status[http.StatusServiceUnavailable] > 0 && len(other) == 0 && pg.slowest < cfg.HangAfter,
		fmt.Sprintf("503×%d, other failures %v, slowest attempt %s (a hang: %s or more)", pg.status[http.StatusServiceUnavailable], other,
			pg.slowest.Round(time.Millisecond), cfg.HangAfter))

	// Recovery: the first successful write of every service (read of the briefing) after
	// PostgreSQL's return.
	sum.Recovery = map[string]time.Duration{}
	recovered := true
	for _, d := range domains {
		first := time.Duration(-1)
		for _, a := range attempts {
			// A write, or for the briefing (a read model) a read.
			if a.domain == d && (a.write || d == "briefing") && a.status == http.StatusOK && !a.at.Before(pgBack) {
				if t := a.at.Add(a.took).Sub(pgBack); first < 0 || t < first {
					first = t
				}
			}
		}
		if first < 0 {
			recovered = false
			first = loadEnd.Sub(pgBack)
		}
		sum.Recovery[d] = first
		sum.Recovered = max(sum.Recovered, first)
	}
	add(fmt.Sprintf("recovered by itself within %s of PostgreSQL's return", cfg.RecoverIn), recovered && sum.Recovered <= cfg.RecoverIn,
		sum.Recovered.Round(time.Millisecond).String())
}

// streamLeader returns the NATS node leading a domain's stream.
func (c *cluster) streamLeader(ctx context.Context, domain string) (*proc.Child, error) {
	var leader string
	err := c.jetStream(ctx, func(js jetstream.JetStream) error {
		s, err := js.Stream(ctx, events.StreamName("quarterdeck", domain))
		if err != nil {
			return err
		}
		if info := s.CachedInfo(); info.Cluster != nil {
			leader = info.Cluster.Leader
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, n := range c.nats {
		if n.Name == leader {
			return n, nil
		}
	}
	return nil, fmt.Errorf("stream %s: leader %q is none of the run's nodes", domain, leader)
}

// waitFor calls f until it returns nil or timeout passes, and returns its last error.
func waitFor(ctx context.Context, timeout time.Duration, f func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}
