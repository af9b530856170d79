package main

import (
	"bytes"
	"fmt"
	"strings"
	"time"
)

// The performance goals of issue 23, checked against the figures of the same run: each is met,
// missed, or not measured when the run skipped what it needs. Ratios compare figures of one run,
// so that they survive a noisy machine.

// Goal verdicts.
const (
	goalMet         = "met"
	goalMissed      = "**missed**"
	goalNotMeasured = "not measured"
)

// Goal thresholds.
const (
	goalCreateRatio     = 0.5                    // REST create rate / database baseline
	goalP99             = 100 * time.Millisecond // REST create, event path, portal
	goalEventRate       = 1000                   // events/s of the event path
	goalBacklogEvents   = 10000
	goalBacklogRatio    = 0.5 // drain rate / async JetStream publish
	goalActivationRate  = 50
	goalActivationP99   = 250 * time.Millisecond
	goalSchedItems      = 10000
	goalSchedLagP99     = time.Second
	goalPortalRate      = 500
	goalGatewayCPURatio = 1.0 // gateway CPU per REST get / service CPU per get
)

// goalRow is one goal in one set-up.
type goalRow struct {
	goal, setup                        string
	measured, baseline, ratio, verdict string
}

func verdictOf(ok bool) string {
	if ok {
		return goalMet
	}
	return goalMissed
}

// setup returns the set-up named name, or nil when the run did not include it.
func (r *report) setup(name string) *setupReport {
	for _, s := range r.setups {
		if s.name == name {
			return s
		}
	}
	return nil
}

// goals evaluates every goal of issue 23 against the run.
func (r *report) goals() []goalRow {
	var rows []goalRow
	dist, alone := r.setup("distributed"), r.setup("standalone")
	rows = append(rows, createGoal(dist, "distributed", "PostgreSQL", r.cfg))
	rows = append(rows, createGoal(alone, "standalone", "SQLite", r.cfg))
	for _, g := range []struct {
		goal string
		eval func(s *setupReport, cfg config) goalRow
	}{
		{"gateway CPU per REST get ≤ the service's CPU per get", gatewayCPUGoal},
		{"commit → subscriber p99 < 100 ms at 1,000 events/s", eventGoal},
		{"a 10,000-event backlog drains at ≥ 0.5 × async JetStream publishing", backlogGoal},
		{"contract activation (REST → commitment in budget) p99 < 250 ms at 50/s", activationGoal},
		{"10,000 scheduler items due at once fire with lag p99 < 1 s", schedGoal},
		{"portal across the four domains (80 % reads) at 500/s with p99 < 100 ms", portalGoal},
	} {
		var row goalRow
		if dist == nil {
			row = goalRow{measured: "the distributed set-up did not run", verdict: goalNotMeasured}
		} else {
			row = g.eval(dist, r.cfg)
		}
		row.goal, row.setup = g.goal, "distributed"
		rows = append(rows, row)
	}
	return rows
}

// createGoal: the highest REST create rate with p99 < 100 ms and no errors is at least half the
// database's insert + outbox baseline of the same run.
func createGoal(s *setupReport, setup, db string, cfg config) goalRow {
	row := goalRow{goal: fmt.Sprintf("REST create: highest rate with p99 < 100 ms ≥ 0.5 × the %s insert + outbox baseline", db),
		setup: setup, verdict: goalNotMeasured}
	if s == nil {
		row.measured = "the " + setup + " set-up did not run"
		return row
	}
	sr, ok := s.search("create", pathREST)
	if !ok {
		row.measured = "no search of create over REST (-search-scenarios, -paths)"
		return row
	}
	if cfg.P99Limit > goalP99 {
		row.measured = fmt.Sprintf("the search's p99 limit was %s (-p99-limit)", cfg.P99Limit)
		return row
	}
	base, ok := s.baseline(db)
	if !ok || base.Rate <= 0 {
		row.measured = "no " + db + " baseline (-baselines)"
		return row
	}
	rate := 0.0
	if sr.ok {
		rate = sr.best.Rate
	}
	ratio := rate / base.Rate
	row.measured = fmt.Sprintf("%.0f/s", rate)
	row.baseline = fmt.Sprintf("%.0f/s", base.Rate)
	row.ratio = fmt.Sprintf("%.2f (goal ≥ %.1f)", ratio, goalCreateRatio)
	row.verdict = verdictOf(sr.ok && ratio >= goalCreateRatio)
	if row.verdict == goalMissed && !sr.failed(cfg.P99Limit) {
		row.measured = fmt.Sprintf("≥ %.0f/s: no rate up to -search-max failed", rate)
		row.verdict = goalNotMeasured
	}
	return row
}

// failed reports whether some step of the search failed (and so bounds the highest rate).
func (r searchRow) failed(limit time.Duration) bool {
	for _, t := range r.tried {
		if t.Errors > 0 || t.P99 >= limit || t.OK == 0 {
			return true
		}
	}
	return false
}

// gatewayCPUGoal compares the gateway's CPU per REST get with the budget service's, in the get
// run over REST at the highest rate that has CPU figures.
func gatewayCPUGoal(s *setupReport, _ config) goalRow {
	row := goalRow{verdict: goalNotMeasured}
	var (
		run   cpuRun
		rate  float64
		found bool
	)
	for k, c := range s.cpu {
		if k.scenario == "get" && k.path == pathREST && (!found || k.rate > rate) {
			run, rate, found = c, k.rate, true
		}
	}
	if !found {
		row.measured = "no get run over REST (-scenarios, -paths)"
		return row
	}
	var gw, svc time.Duration
	var haveGW, haveSvc bool
	for _, u := range run.use {
		switch u.group {
		case "quarterdeck-gateway":
			gw, haveGW = u.cpu, true
		case "quarterdeck-budget":
			svc, haveSvc = u.cpu, true
		}
	}
	if !haveGW || !haveSvc || svc <= 0 {
		row.measured = "no CPU figures of the gateway and the budget service"
		return row
	}
	ratio := float64(gw) / float64(svc)
	row.measured = fmt.Sprintf("gateway %.3f ms per get at %.0f/s", run.perRequest(gw), rate)
	row.baseline = fmt.Sprintf("quarterdeck-budget %.3f ms per get", run.perRequest(svc))
	row.ratio = fmt.Sprintf("%.2f (goal ≤ %.1f)", ratio, goalGatewayCPURatio)
	row.verdict = verdictOf(ratio <= goalGatewayCPURatio)
	return row
}

// latencyRatio shows a p99 as a fraction of its limit.
func latencyRatio(p99, limit time.Duration) string {
	return fmt.Sprintf("%.2f of %s", float64(p99)/float64(limit), limit)
}

func eventGoal(s *setupReport, _ config) goalRow {
	row := goalRow{verdict: goalNotMeasured}
	e := s.events
	switch {
	case e == nil || e.Created == 0:
		row.measured = "the event path measured nothing"
		return row
	case e.Rate < goalEventRate:
		row.measured = fmt.Sprintf("the event path ran at %.0f/s (-event-rate %d)", e.Rate, goalEventRate)
		return row
	}
	row.measured = fmt.Sprintf("p99 %s ms at %.0f/s; %d of %d events received, %d create errors",
		ms(e.Latency.P99), e.Rate, e.Received, e.Created, e.CreateResult.Errors)
	row.ratio = latencyRatio(e.Latency.P99, goalP99)
	row.verdict = verdictOf(e.Latency.P99 < goalP99 && e.Received >= e.Created && e.CreateResult.Errors == 0)
	return row
}

func backlogGoal(s *setupReport, _ config) goalRow {
	row := goalRow{verdict: goalNotMeasured}
	bl := s.backlog
	switch {
	case bl == nil || bl.Created == 0:
		row.measured = "no backlog (-backlog, and -nats-server for a NATS server the run can stop)"
		return row
	case bl.Events < goalBacklogEvents:
		row.measured = fmt.Sprintf("a backlog of %d events (-backlog %d)", bl.Events, goalBacklogEvents)
		return row
	}
	js, ok := s.baseline("JetStream publish, async")
	if !ok || js.Rate <= 0 {
		row.measured = "no async JetStream baseline (-baselines)"
		return row
	}
	rate := 0.0
	if bl.Drain > 0 {
		rate = float64(bl.Received) / bl.Drain.Seconds()
	}
	ratio := rate / js.Rate
	row.measured = fmt.Sprintf("%.0f events/s (%d of %d in %s)", rate, bl.Received, bl.Created, bl.Drain.Round(time.Millisecond))
	row.baseline = fmt.Sprintf("%.0f/s (%s)", js.Rate, js.Name)
	row.ratio = fmt.Sprintf("%.2f (goal ≥ %.1f)", ratio, goalBacklogRatio)
	row.verdict = verdictOf(bl.Received >= bl.Created && ratio >= goalBacklogRatio)
	return row
}

func activationGoal(s *setupReport, _ config) goalRow {
	row := goalRow{verdict: goalNotMeasured}
	a := s.activation
	switch {
	case a == nil || a.Activated == 0:
		row.measured = "the activation path measured nothing (-activation-rate)"
		return row
	case a.Rate < goalActivationRate:
		row.measured = fmt.Sprintf("the activation path ran at %.0f/s (-activation-rate %d)", a.Rate, goalActivationRate)
		return row
	}
	row.measured = fmt.Sprintf("p99 %s ms at %.0f/s; %d of %d commitments seen", ms(a.Latency.P99), a.Rate, a.Committed, a.Activated)
	row.ratio = latencyRatio(a.Latency.P99, goalActivationP99)
	row.verdict = verdictOf(a.Latency.P99 < goalActivationP99 && a.Committed >= a.Activated)
	return row
}

func schedGoal(s *setupReport, _ config) goalRow {
	row := goalRow{verdict: goalNotMeasured}
	sc := s.sched
	switch {
	case sc == nil || sc.Fired == 0:
		row.measured = "no scheduler items fired (-sched-items)"
		return row
	case sc.Items < goalSchedItems:
		row.measured = fmt.Sprintf("%d items (-sched-items %d)", sc.Items, goalSchedItems)
		return row
	}
	row.measured = fmt.Sprintf("fire lag p99 %s ms; %d of %d fired", ms(sc.FireLag.P99), sc.Fired, sc.Items)
	row.ratio = latencyRatio(sc.FireLag.P99, goalSchedLagP99)
	row.verdict = verdictOf(sc.FireLag.P99 < goalSchedLagP99 && sc.Fired >= sc.Items)
	return row
}

// portalGoal takes the portal's fixed-rate run over REST at 500/s when there is one, and its
// search over REST otherwise.
func portalGoal(s *setupReport, cfg config) goalRow {
	row := goalRow{verdict: goalNotMeasured}
	if r, ok := s.fixed[fixedKey{"portal", pathREST, goalPortalRate}]; ok {
		row.measured = fmt.Sprintf("p99 %s ms at %.0f/s, %d errors (fixed rate)", ms(r.P99), r.Rate, r.Errors)
		row.ratio = latencyRatio(r.P99, goalP99)
		row.verdict = verdictOf(r.P99 < goalP99 && r.Errors == 0 && r.OK > 0)
		return row
	}
	sr, ok := s.search("portal", pathREST)
	switch {
	case !ok:
		row.measured = "neither a run at 500/s nor a search of portal over REST (-scenarios, -rates, -search-scenarios)"
		return row
	case cfg.P99Limit > goalP99:
		row.measured = fmt.Sprintf("the search's p99 limit was %s (-p99-limit)", cfg.P99Limit)
		return row
	}
	rate := 0.0
	if sr.ok {
		rate = sr.best.Rate
	}
	row.measured = fmt.Sprintf("highest rate with p99 < %s and no errors: %.0f/s (search)", cfg.P99Limit, rate)
	row.baseline = fmt.Sprintf("%d/s", goalPortalRate)
	row.ratio = fmt.Sprintf("%.2f (goal ≥ 1)", rate/goalPortalRate)
	row.verdict = verdictOf(sr.ok && rate >= goalPortalRate)
	if row.verdict == goalMissed && !sr.failed(cfg.P99Limit) {
		row.measured = fmt.Sprintf("≥ %.0f/s: no rate up to -search-max failed (search)", rate)
		row.verdict = goalNotMeasured
	}
	return row
}

// goalsMarkdown writes the goals table.
func goalsMarkdown(b *bytes.Buffer, rows []goalRow) {
	fmt.Fprintf(b, "\n## Goals (issue 23)\n\n| goal | set-up | measured | baseline | ratio | |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, g := range rows {
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s |\n", g.goal, g.setup, strings.ReplaceAll(g.measured, "|", "\\|"), g.baseline, g.ratio, g.verdict)
	}
}
