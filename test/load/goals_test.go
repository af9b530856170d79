package main

import (
	"strings"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/test/internal/baseline"
	"github.com/quarterdeck/quarterdeck/test/internal/loadgen"
)

// goalSetup is a distributed set-up whose figures meet every goal of issue 23; each case of
// TestGoals changes one part of it.
func goalSetup() *setupReport {
	s := &setupReport{name: "distributed", paths: []string{pathREST, pathGateway, pathDirect}}
	s.searches = []searchRow{{scenario: "create", path: pathREST, ok: true, best: loadgen.Result{Rate: 700},
		tried: []loadgen.Result{{Rate: 700, OK: 3500, P99: 80 * time.Millisecond}, {Rate: 800, OK: 3900, Errors: 100, P99: 400 * time.Millisecond}}}}
	s.baselines = []baseline.Result{
		{Name: "PostgreSQL insert + outbox insert, 16 clients", Rate: 1000},
		{Name: "JetStream publish, sync, 1 publisher", Rate: 1500},
		{Name: "JetStream publish, async window 256, 16 publishers", Rate: 8000},
	}
	s.addCPU("get", pathREST, 300, cpuRun{requests: 1000, wall: 5 * time.Second, use: []cpuUse{
		{group: "quarterdeck-gateway", cpu: 400 * time.Millisecond}, {group: "quarterdeck-budget", cpu: 500 * time.Millisecond}}})
	s.events = &eventResult{Rate: 1000, Created: 10000, Received: 10000, Latency: loadgen.Summary{N: 10000, P99: 50 * time.Millisecond}}
	s.backlog = &backlogResult{Events: 10000, Created: 10000, Received: 10000, Drain: 2 * time.Second}
	s.activation = &activationResult{Rate: 50, Activated: 500, Committed: 500, Latency: loadgen.Summary{N: 500, P99: 200 * time.Millisecond}}
	s.sched = &schedResult{Items: 10000, Fired: 10000, FireLag: loadgen.Summary{N: 10000, P99: 700 * time.Millisecond}}
	s.addFixed("portal", pathREST, loadgen.Result{Rate: 500, Sent: 5000, OK: 5000, P99: 80 * time.Millisecond})
	return s
}

// TestGoals checks the verdict of each goal from synthetic figures: met, missed at its edge, and
// not measured when the run skipped what the goal needs.
func TestGoals(t *testing.T) {
	cfg := config{P99Limit: 100 * time.Millisecond}
	const (
		create   = "REST create: highest rate with p99 < 100 ms ≥ 0.5 × the PostgreSQL insert + outbox baseline"
		sqlite   = "REST create: highest rate with p99 < 100 ms ≥ 0.5 × the SQLite insert + outbox baseline"
		gateway  = "gateway CPU per REST get ≤ the service's CPU per get"
		events   = "commit → subscriber p99 < 100 ms at 1,000 events/s"
		backlog  = "a 10,000-event backlog drains at ≥ 0.5 × async JetStream publishing"
		activate = "contract activation (REST → commitment in budget) p99 < 250 ms at 50/s"
		sched    = "10,000 scheduler items due at once fire with lag p99 < 1 s"
		portal   = "portal across the four domains (80 % reads) at 500/s with p99 < 100 ms"
	)
	all := []string{create, gateway, events, backlog, activate, sched, portal}
	for _, tc := range []struct {
		name   string
		change func(s *setupReport, cfg *config)
		want   map[string]string // goal -> verdict; the rest of all are met
	}{
		{"every goal met", func(*setupReport, *config) {}, nil},
		{"create under half the baseline", func(s *setupReport, _ *config) { s.searches[0].best.Rate = 499 },
			map[string]string{create: goalMissed}},
		{"no create rate passed", func(s *setupReport, _ *config) { s.searches[0].ok = false },
			map[string]string{create: goalMissed}},
		{"create search never failed below the goal", func(s *setupReport, _ *config) {
			s.searches[0].best.Rate, s.searches[0].tried = 400, []loadgen.Result{{Rate: 400, OK: 2000, P99: time.Millisecond}}
		}, map[string]string{create: goalNotMeasured}},
		{"create searched with a looser limit", func(_ *setupReport, c *config) { c.P99Limit = 200 * time.Millisecond },
			map[string]string{create: goalNotMeasured}},
		{"no database baseline", func(s *setupReport, _ *config) { s.baselines = s.baselines[1:] },
			map[string]string{create: goalNotMeasured}},
		{"gateway costlier than the service", func(s *setupReport, _ *config) {
			s.cpu[fixedKey{"get", pathREST, 300}].use[0].cpu = 501 * time.Millisecond
		}, map[string]string{gateway: goalMissed}},
		{"no get over REST", func(s *setupReport, _ *config) { s.cpu = nil }, map[string]string{gateway: goalNotMeasured}},
		{"event p99 at the limit", func(s *setupReport, _ *config) { s.events.Latency.P99 = 100 * time.Millisecond },
			map[string]string{events: goalMissed}},
		{"an event lost", func(s *setupReport, _ *config) { s.events.Received-- }, map[string]string{events: goalMissed}},
		{"event path below 1,000/s", func(s *setupReport, _ *config) { s.events.Rate = 300 },
			map[string]string{events: goalNotMeasured}},
		{"backlog drains slowly", func(s *setupReport, _ *config) { s.backlog.Drain = 3 * time.Second },
			map[string]string{backlog: goalMissed}},
		{"backlog too small", func(s *setupReport, _ *config) { s.backlog.Events = 300 },
			map[string]string{backlog: goalNotMeasured}},
		{"no async baseline", func(s *setupReport, _ *config) { s.baselines = s.baselines[:2] },
			map[string]string{backlog: goalNotMeasured}},
		{"activation slow", func(s *setupReport, _ *config) { s.activation.Latency.P99 = 250 * time.Millisecond },
			map[string]string{activate: goalMissed}},
		{"a commitment missing", func(s *setupReport, _ *config) { s.activation.Committed-- },
			map[string]string{activate: goalMissed}},
		{"activation skipped", func(s *setupReport, _ *config) { s.activation = nil },
			map[string]string{activate: goalNotMeasured}},
		{"scheduler late", func(s *setupReport, _ *config) { s.sched.FireLag.P99 = 1500 * time.Millisecond },
			map[string]string{sched: goalMissed}},
		{"an item not fired", func(s *setupReport, _ *config) { s.sched.Fired-- }, map[string]string{sched: goalMissed}},
		{"fewer scheduler items", func(s *setupReport, _ *config) { s.sched.Items = 2000 },
			map[string]string{sched: goalNotMeasured}},
		{"portal slow at 500/s", func(s *setupReport, _ *config) {
			r := s.fixed[fixedKey{"portal", pathREST, 500}]
			r.P99 = 120 * time.Millisecond
			s.fixed[fixedKey{"portal", pathREST, 500}] = r
		}, map[string]string{portal: goalMissed}},
		{"portal searched instead", func(s *setupReport, _ *config) {
			s.fixed = nil
			s.searches = append(s.searches, searchRow{scenario: "portal", path: pathREST, ok: true, best: loadgen.Result{Rate: 600},
				tried: []loadgen.Result{{Rate: 600, OK: 3000}, {Rate: 700, OK: 3000, P99: time.Second}}})
		}, nil},
		{"portal search below 500/s", func(s *setupReport, _ *config) {
			s.fixed = nil
			s.searches = append(s.searches, searchRow{scenario: "portal", path: pathREST, ok: true, best: loadgen.Result{Rate: 400},
				tried: []loadgen.Result{{Rate: 400, OK: 2000}, {Rate: 450, OK: 2000, Errors: 1}}})
		}, map[string]string{portal: goalMissed}},
		{"portal not run", func(s *setupReport, _ *config) { s.fixed = nil }, map[string]string{portal: goalNotMeasured}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := goalSetup(), cfg
			tc.change(s, &c)
			r := &report{cfg: c, setups: []*setupReport{s}}
			got := map[string]goalRow{}
			for _, g := range r.goals() {
				got[g.goal] = g
			}
			if len(got) != 8 {
				t.Fatalf("%d goals; want 8", len(got))
			}
			if g := got[sqlite]; g.setup != "standalone" || g.verdict != goalNotMeasured {
				t.Errorf("SQLite goal without a standalone set-up = %+v; want not measured", g)
			}
			for _, goal := range all {
				want := goalMet
				if v, ok := tc.want[goal]; ok {
					want = v
				}
				if g := got[goal]; g.verdict != want {
					t.Errorf("%s: %s (%+v); want %s", goal, g.verdict, g, want)
				}
			}
		})
	}

	t.Run("ratios and the report", func(t *testing.T) {
		alone := &setupReport{name: "standalone", searches: []searchRow{{scenario: "create", path: pathREST, ok: true,
			best: loadgen.Result{Rate: 800}, tried: []loadgen.Result{{Rate: 1600, Errors: 1}}}},
			baselines: []baseline.Result{{Name: "SQLite insert + outbox insert, 16 clients", Rate: 2000}}}
		r := &report{cfg: cfg, setups: []*setupReport{alone, goalSetup()}}
		rows := r.goals()
		if rows[0].ratio != "0.70 (goal ≥ 0.5)" || rows[0].measured != "700/s" || rows[0].baseline != "1000/s" {
			t.Errorf("create goal = %+v", rows[0])
		}
		if rows[1].setup != "standalone" || rows[1].ratio != "0.40 (goal ≥ 0.5)" || rows[1].verdict != goalMissed {
			t.Errorf("standalone create goal = %+v; want 0.40, missed", rows[1])
		}
		if rows[2].ratio != "0.80 (goal ≤ 1.0)" {
			t.Errorf("gateway CPU goal = %+v; want 0.80", rows[2])
		}
		text := r.markdown()
		goals, dist := strings.Index(text, "## Goals (issue 23)"), strings.Index(text, "## distributed")
		if goals < 0 || dist < 0 || goals > dist || strings.Index(text, "## standalone") < goals {
			t.Errorf("the goals do not open the report:\n%s", text)
		}
		if !strings.Contains(text, "| "+sqlite+" | standalone | 800/s | 2000/s | 0.40 (goal ≥ 0.5) | **missed** |") {
			t.Errorf("report lacks the standalone create goal's row:\n%s", text)
		}
	})
}
