//go:build unix

package main

import (
	"strings"
	"testing"
	"time"
)

// incidentsGuideStart is when the walk of docs/incidents.md begins: Monday 8 February 2027,
// 09:00 UTC.
var incidentsGuideStart = time.Date(2027, 2, 8, 9, 0, 0, 0, time.UTC)

// TestIncidentsGuide runs the walk of docs/incidents.md as written — a SEV1 vendor outage and a
// data breach — on the platform run in the test's own process, its services on a clock the test
// moves where the guide says time passes, so that the SLA's hours go by and the notification
// clocks fall due through the scheduler. Then it checks the events the walk names, in order, in
// the risk, vendors and budget streams. It runs on the embedded defaults, and on PostgreSQL (a
// database of its own) and the external NATS server when they are configured.
func TestIncidentsGuide(t *testing.T) {
	onBothEngines(t, nil, func(t *testing.T, sc scenario, dsn string) { incidentsGuide(t, sc.args, sc.prefix, dsn) })
}

// incidentsGuide runs the guide on the platform started with args, whose events go under prefix
// and whose services keep their data in the PostgreSQL database dsn, or in SQLite files under the
// data folder when dsn is empty.
func incidentsGuide(t *testing.T, args []string, prefix, dsn string) {
	p := startClocked(t, incidentsGuideStart, args, dsn)
	p.walk(t, "../../docs/incidents.md", map[string]string{"ADMIN": adminKey, "YEAR": "2027", "QUARTER": "2027-Q1"}, "risk")

	streams := strings.ToUpper(prefix)
	for stream, want := range map[string][]string{
		"_RISK": {"risk.identified", "risk.assessed", "incident.declared", "incident.updated", "incident.acknowledged",
			"incident.severity_changed", "incident.note_added", "incident.mitigated", "risk.score_changed",
			"incident.resolved", "incident.cost_changed", "postmortem.published", "incident.closed",
			"incident.declared", "incident.breach_impact_updated", "incident.notification_due_soon",
			"incident.notification_recorded", "incident.notification_overdue", "incident.notification_recorded"},
		"_VENDORS": {"contract.activated", "vendor.sla_breached", "vendor.sla_breached"},
		"_BUDGET":  {"commitment.recorded", "actual.recorded"},
	} {
		evs := readEvents(t, p.nats, streams+stream, func(evs []event) bool { return len(subsequence(evs, want)) == len(want) })
		if got := subsequence(evs, want); len(got) != len(want) {
			t.Errorf("%s%s holds %v in this order, not %v:\n%s", streams, stream, got, want, describe(evs))
		}
	}
}
