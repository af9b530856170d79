package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quarterdeck/quarterdeck/test/internal/baseline"
	"github.com/quarterdeck/quarterdeck/test/internal/loadgen"
)

// report is everything a run measured.
type report struct {
	started time.Time
	command string
	cfg     config
	machine []string
	dir     string
	setups  []*setupReport
}

type fixedKey struct {
	scenario, path string
	rate           float64
}

type searchRow struct {
	scenario, path string
	best           loadgen.Result
	ok             bool
	tried          []loadgen.Result
}

type profile struct{ phase, proc, file, top string }

// setupReport is what one set-up measured.
type setupReport struct {
	name  string
	paths []string

	fixedOrder []fixedKey
	fixed      map[fixedKey]loadgen.Result
	searches   []searchRow
	events     *eventResult
	activation *activationResult
	sched      *schedResult
	backlog    *backlogResult
	baselines  []baseline.Result

	rssIdle, rssLoadMean, rssLoadPeak int64
	rssLoadProc                       string

	cpu map[fixedKey]cpuRun // CPU of every process during each fixed-rate run

	mu       sync.Mutex // notes and profiles are added by the profiling goroutine too
	profiles []profile
	notes    []string
}

func (s *setupReport) note(format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
}

func (s *setupReport) addFixed(scenario, path string, r loadgen.Result) {
	if s.fixed == nil {
		s.fixed = map[fixedKey]loadgen.Result{}
	}
	k := fixedKey{scenario, path, r.Rate}
	s.fixedOrder = append(s.fixedOrder, k)
	s.fixed[k] = r
}

// cpuRun is the CPU the platform's processes (and the harness) used during one fixed-rate run,
// warm-up included.
type cpuRun struct {
	use      []cpuUse
	requests int
	wall     time.Duration
}

func (c cpuRun) total() time.Duration {
	var t time.Duration
	for _, u := range c.use {
		t += u.cpu
	}
	return t
}

// perRequest is CPU milliseconds per request.
func (c cpuRun) perRequest(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond) / float64(c.requests)
}

// cores is how many cores were busy on average.
func (c cpuRun) cores(d time.Duration) float64 { return d.Seconds() / c.wall.Seconds() }

// table writes c as a table of every process's CPU per unit (a request, an activation) and the
// cores it kept busy, then the total.
func (c cpuRun) table(b *bytes.Buffer, unit string) {
	fmt.Fprintf(b, "| process | CPU per %s | cores busy |\n| --- | ---: | ---: |\n", unit)
	for _, u := range c.use {
		fmt.Fprintf(b, "| %s | %.3f ms | %.2f |\n", u.group, c.perRequest(u.cpu), c.cores(u.cpu))
	}
	fmt.Fprintf(b, "| all | %.3f ms | %.2f |\n", c.perRequest(c.total()), c.cores(c.total()))
}

func (s *setupReport) addCPU(scenario, path string, rate float64, c cpuRun) {
	if s.cpu == nil {
		s.cpu = map[fixedKey]cpuRun{}
	}
	if c.requests > 0 && c.wall > 0 {
		s.cpu[fixedKey{scenario, path, rate}] = c
	}
}

func (s *setupReport) search(scenario, path string) (searchRow, bool) {
	for _, r := range s.searches {
		if r.scenario == scenario && r.path == path {
			return r, true
		}
	}
	return searchRow{}, false
}

func (s *setupReport) baseline(prefix string) (baseline.Result, bool) {
	for _, b := range s.baselines {
		if strings.HasPrefix(b.Name, prefix) {
			return b, true
		}
	}
	return baseline.Result{}, false
}

func writeReport(file, text string) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	return os.WriteFile(file, []byte(text), 0o644)
}

func ms(d time.Duration) string { return loadgen.FormatMs(d) }

func (r *report) markdown() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# Quarterdeck load run, %s\n\n", r.started.Format(time.RFC3339))
	fmt.Fprintf(&b, "Command: `%s`  \nWorking folder (logs, profiles): `%s`\n\n", r.command, r.dir)
	for _, m := range r.machine {
		fmt.Fprintf(&b, "- %s\n", m)
	}
	fmt.Fprintf(&b, "\nOpen-loop load: requests arrive at a fixed rate whether or not earlier ones finished, and each "+
		"latency runs from the request's scheduled time; each fixed-rate run is %s after %s of warm-up. "+
		"The harness shares the machine with the platform and its servers.\n", r.cfg.Duration, r.cfg.Warmup)
	goalsMarkdown(&b, r.goals())
	for _, s := range r.setups {
		s.markdown(&b, r.cfg)
	}
	return b.String()
}

// procs describes a GOMAXPROCS setting of the harness.
func procs(n int) string {
	if n <= 0 {
		return "Go's default (every core)"
	}
	return strconv.Itoa(n)
}

func (s *setupReport) markdown(b *bytes.Buffer, cfg config) {
	fmt.Fprintf(b, "\n## %s\n", s.name)
	if s.name == "distributed" {
		fmt.Fprintf(b, "\nGOMAXPROCS: %s per domain service, %s for the gateway (-service-procs, -gateway-procs; "+
			"the Helm chart's CPU limits give 1 and 2).\n", procs(cfg.ServiceProcs), procs(cfg.GatewayProcs))
		s.targets(b, cfg)
	}
	if len(s.fixedOrder) > 0 {
		fmt.Fprintf(b, "\n### Fixed rates\n\n")
		var rows []loadgen.Row
		for _, k := range s.fixedOrder {
			res := s.fixed[k]
			notes := s.vsDirect(k)
			if c, ok := s.cpu[k]; ok {
				notes = strings.TrimPrefix(notes+fmt.Sprintf("; CPU %.2f ms/req, %.2f cores", c.perRequest(c.total()), c.cores(c.total())), "; ")
			}
			rows = append(rows, loadgen.Row{Label: k.scenario + " · " + k.path, Result: res, Notes: notes})
		}
		_ = loadgen.Table(b, rows)
	}
	if len(s.searches) > 0 {
		fmt.Fprintf(b, "\n### Highest rate with p99 < %s and no errors\n\n", cfg.P99Limit)
		fmt.Fprintf(b, "| scenario | path | highest passing rate/s | p50 | p99 | first failing rate: why | ratio to the database baseline | ratio to direct gRPC |\n| --- | --- | ---: | ---: | ---: | --- | ---: | ---: |\n")
		for _, r := range s.searches {
			best := "none"
			if r.ok {
				best = fmt.Sprintf("%.0f", r.best.Rate)
			}
			fail := "none up to the search's maximum"
			for _, t := range r.tried {
				if t.Rate > r.best.Rate || !r.ok {
					if t.Errors > 0 || t.P99 >= cfg.P99Limit || t.OK == 0 {
						fail = fmt.Sprintf("%.0f: p99 %s ms, %d errors", t.Rate, ms(t.P99), t.Errors)
						break
					}
				}
			}
			ratio := ""
			if db, ok := s.databaseBaseline(); ok && r.ok && (r.scenario == "create") && db.Rate > 0 {
				ratio = fmt.Sprintf("%.2f × %s", r.best.Rate/db.Rate, db.Name)
			}
			vsDirect := ""
			if d, ok := s.search(r.scenario, pathDirect); ok && d.ok && r.ok && r.path != pathDirect {
				vsDirect = fmt.Sprintf("%.2f", r.best.Rate/d.best.Rate)
			}
			fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.scenario, r.path, best, ms(r.best.P50), ms(r.best.P99), fail, ratio, vsDirect)
		}
	}
	if e := s.events; e != nil && e.Created > 0 {
		fmt.Fprintf(b, "\n### Event path\n\nCost centres created at %.0f/s for %s (%s); a JetStream ordered consumer "+
			"on `%s` measures each event's arrival minus its `ce-time` (the commit).\n\n", e.Rate, cfg.Duration, e.path, e.subject)
		fmt.Fprintf(b, "| creates acknowledged | events received | p50 | p90 | p99 | max | payload bytes |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		fmt.Fprintf(b, "| %d | %d | %s | %s | %s | %s | %d |\n", e.Created, e.Received, ms(e.Latency.P50), ms(e.Latency.P90),
			ms(e.Latency.P99), ms(e.Latency.Max), e.PayloadBytes)
	}
	if a := s.activation; a != nil && a.Activated > 0 {
		fmt.Fprintf(b, "\n### Contract activation path\n\nContracts created, submitted and approved at %.0f/s for %s (%s); the approval holds the "+
			"funds in budget over gRPC, and budget records the commitment when it consumes `contract.activated`. Latency: from the "+
			"approval's answer to budget's `commitment.recorded` event reaching a JetStream consumer.\n\n", a.Rate, cfg.Duration, a.path)
		fmt.Fprintf(b, "| approvals acknowledged | commitments seen | p50 | p90 | p99 | max |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n")
		fmt.Fprintf(b, "| %d | %d | %s | %s | %s | %s |\n", a.Activated, a.Committed, ms(a.Latency.P50), ms(a.Latency.P90),
			ms(a.Latency.P99), ms(a.Latency.Max))
		if c := a.cpu; c.requests > 0 && c.wall > 0 {
			fmt.Fprintf(b, "\nCPU per activation (from /proc, from the first call until the last commitment was seen, %s):\n\n",
				c.wall.Round(time.Millisecond))
			c.table(b, "activation")
		}
	}
	if sc := s.sched; sc != nil && sc.Fired > 0 {
		fmt.Fprintf(b, "\n### Scheduler at scale\n\n%d notification clocks of %d security breaches in risk, armed through the API (%s) in %s, "+
			"all due at %s (%s after the arming started); the risk service fires each as `incident.notification_overdue` with its due "+
			"and fire times. Fire lag: fire time − due time; receipt lag: due time to the event reaching a JetStream consumer.\n\n",
			sc.Items, sc.Incidents, sc.path, sc.Arming.Round(time.Millisecond), sc.Due.Format(time.RFC3339), sc.Lead)
		fmt.Fprintf(b, "| lag | items | p50 | p90 | p99 | max |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
		for _, l := range []struct {
			what string
			s    loadgen.Summary
		}{{"fire", sc.FireLag}, {"receipt", sc.ReceiptLag}} {
			fmt.Fprintf(b, "| %s | %d | %s | %s | %s | %s |\n", l.what, l.s.N, ms(l.s.P50), ms(l.s.P90), ms(l.s.P99), ms(l.s.Max))
		}
		fmt.Fprintf(b, "\nFrom the first item's firing to the last's: %s.\n", sc.Spread.Round(time.Millisecond))
	}
	if bl := s.backlog; bl != nil && bl.Created > 0 {
		fmt.Fprintf(b, "\n### Backlog after NATS was down\n\nnats-server killed (SIGKILL); %d cost centres created meanwhile (%.0f/s: the outbox "+
			"keeps their events); nats-server started again. Drain: from the restart to the consumer receiving the last of them; "+
			"the first event's arrival shows how much of it was the relay's reconnection.\n\n", bl.Created, bl.CreateRate)
		fmt.Fprintf(b, "| events | received | NATS answering after | first event after | drain | drain rate/s | ratio to JetStream publish, 1 publisher |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		rate := 0.0
		if bl.Drain > 0 {
			rate = float64(bl.Received) / bl.Drain.Seconds()
		}
		ratio := ""
		if js, ok := s.baseline("JetStream publish, sync, 1 publisher"); ok && js.Rate > 0 && rate > 0 {
			ratio = fmt.Sprintf("%.2f", rate/js.Rate)
		}
		fmt.Fprintf(b, "| %d | %d | %s | %s | %s | %.0f | %s |\n", bl.Events, bl.Received, bl.Reconnected.Round(time.Millisecond),
			bl.FirstEvent.Round(time.Millisecond), bl.Drain.Round(time.Millisecond), rate, ratio)
	}
	if len(s.baselines) > 0 {
		fmt.Fprintf(b, "\n### Baselines (same servers, same run, platform idle)\n\n| baseline | ops | errors | rate/s | p50 | p99 |\n| --- | ---: | ---: | ---: | ---: | ---: |\n")
		for _, r := range s.baselines {
			fmt.Fprintf(b, "| %s | %d | %d | %.0f | %s | %s |\n", r.Name, r.Ops, r.Errors, r.Rate, ms(r.P50), ms(r.P99))
		}
	}
	if s.rssIdle > 0 || s.rssLoadPeak > 0 {
		fmt.Fprintf(b, "\n### Memory\n\n| process | idle (after fixtures and warm-up) | under create at %.0f/s: mean | peak |\n| --- | ---: | ---: | ---: |\n", cfg.ObserveRate)
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", s.rssLoadProc, mib(s.rssIdle), mib(s.rssLoadMean), mib(s.rssLoadPeak))
	}
	if len(s.paths) > 0 {
		for _, k := range []fixedKey{{"create", s.paths[0], cfg.ObserveRate}, {"get", s.paths[0], 1000}} {
			c, ok := s.cpu[k]
			if !ok {
				continue
			}
			fmt.Fprintf(b, "\n### CPU per request: %s at %.0f/s, %s (from /proc, warm-up included)\n\n", k.scenario, k.rate, k.path)
			c.table(b, "request")
		}
	}
	for _, ph := range []struct{ phase, title string }{
		{"create", fmt.Sprintf("the create path at %.0f/s", cfg.ObserveRate)},
		{"get", "gets at 1000/s"},
		{"activation", "the contract activation path"},
	} {
		heading := false
		for _, p := range s.profiles {
			if p.phase != ph.phase {
				continue
			}
			if !heading {
				fmt.Fprintf(b, "\n### CPU profiles of %s (`go tool pprof -top -cum`)\n", ph.title)
				heading = true
			}
			fmt.Fprintf(b, "\n%s (`%s`):\n\n```\n%s```\n", p.proc, p.file, p.top)
		}
	}
	if len(s.notes) > 0 {
		fmt.Fprintf(b, "\n### Notes\n\n")
		for _, n := range s.notes {
			fmt.Fprintf(b, "- %s\n", n)
		}
	}
}

func (s *setupReport) databaseBaseline() (baseline.Result, bool) {
	if r, ok := s.baseline("PostgreSQL"); ok {
		return r, true
	}
	return s.baseline("SQLite")
}

// vsDirect compares a run through the gateway with the same run straight to the service.
func (s *setupReport) vsDirect(k fixedKey) string {
	if k.path == pathDirect {
		return ""
	}
	d, ok := s.fixed[fixedKey{k.scenario, pathDirect, k.rate}]
	if !ok {
		return ""
	}
	r := s.fixed[k]
	return fmt.Sprintf("p50 %+.2f ms vs direct", float64(r.P50-d.P50)/float64(time.Millisecond))
}

// targets checks the distributed set-up against the performance targets.
func (s *setupReport) targets(b *bytes.Buffer, cfg config) {
	type target struct{ what, measured, verdict string }
	var ts []target
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "**missed**"
	}
	front := ""
	if len(s.paths) > 0 {
		front = s.paths[0]
	}
	if r, ok := s.fixed[fixedKey{"create", front, 300}]; ok {
		ts = append(ts, target{"create p99 < 50 ms at 300/s, 0 errors (" + front + ")",
			fmt.Sprintf("p99 %s ms, %d errors", ms(r.P99), r.Errors), verdict(r.P99 < 50*time.Millisecond && r.Errors == 0)})
	}
	if r, ok := s.search("create", front); ok {
		ts = append(ts, target{"highest create rate with p99 < 100 ms ≥ 1,000/s (" + front + ")",
			fmt.Sprintf("%.0f/s", r.best.Rate), verdict(r.ok && r.best.Rate >= 1000 && cfg.P99Limit <= 100*time.Millisecond)})
	}
	if r, ok := s.fixed[fixedKey{"get", front, 1000}]; ok {
		ts = append(ts, target{"get p99 < 20 ms at 1,000/s (" + front + ")",
			fmt.Sprintf("p99 %s ms, %d errors", ms(r.P99), r.Errors), verdict(r.P99 < 20*time.Millisecond && r.Errors == 0)})
	}
	for _, sc := range []string{"create", "get"} {
		g, ok1 := s.fixed[fixedKey{sc, front, 300}]
		d, ok2 := s.fixed[fixedKey{sc, pathDirect, 300}]
		if ok1 && ok2 && front != pathDirect {
			diff := g.P50 - d.P50
			ts = append(ts, target{"gateway overhead, p50 difference < 1 ms at 300/s (" + sc + ", " + front + " vs direct)",
				fmt.Sprintf("%+.2f ms", float64(diff)/float64(time.Millisecond)), verdict(diff < time.Millisecond)})
		}
	}
	if e := s.events; e != nil && e.Created > 0 {
		ts = append(ts, target{fmt.Sprintf("commit → subscriber p99 < 500 ms at %.0f events/s", e.Rate),
			fmt.Sprintf("p99 %s ms (%d of %d received)", ms(e.Latency.P99), e.Received, e.Created),
			verdict(e.Latency.P99 < 500*time.Millisecond && e.Received >= e.Created)})
	}
	if bl := s.backlog; bl != nil && bl.Created > 0 {
		ts = append(ts, target{fmt.Sprintf("a %d-event backlog drains in < 30 s", bl.Events),
			fmt.Sprintf("%s (%d received)", bl.Drain.Round(time.Millisecond), bl.Received), verdict(bl.Drain > 0 && bl.Drain < 30*time.Second && bl.Received >= bl.Created)})
	}
	if len(ts) == 0 {
		return
	}
	fmt.Fprintf(b, "\n### Targets\n\n| target | measured | |\n| --- | --- | --- |\n")
	for _, t := range ts {
		fmt.Fprintf(b, "| %s | %s | %s |\n", t.what, t.measured, t.verdict)
	}
}
