//go:build unix

package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// incidentsGuideStart is when the walk of docs/incidents.md begins: Monday 8 February 2027,
// 09:00 UTC.
var incidentsGuideStart = time.Date(2027, 2, 8, 9, 0, 0, 0, time.UTC)

// clockMarkerRE is where the guide says time passes: an HTML comment `<!-- clock: +4h40m -->`,
// which a reader running the walk by hand waits for (or reads past) and the test turns into a
// move of the services' clock.
var clockMarkerRE = regexp.MustCompile(`(?m)^<!-- clock: \+(\S+) -->$`)

// TestIncidentsGuide runs the walk of docs/incidents.md as written — a SEV1 vendor outage and a
// data breach — on the platform run in the test's own process, its services on a clock the test
// moves where the guide says time passes, so that the SLA's hours go by and the notification
// clocks fall due through the scheduler. Then it checks the events the walk names, in order, in
// the risk, vendors and budget streams. It runs on the embedded defaults, and on PostgreSQL (a
// database of its own) and the external NATS server when they are configured.
func TestIncidentsGuide(t *testing.T) {
	t.Parallel()
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		incidentsGuide(t, nil, "quarterdeck", "")
	})
	t.Run("external", func(t *testing.T) {
		t.Parallel()
		dsn := os.Getenv(testenv.EnvPostgresDSN)
		if dsn == "" || os.Getenv(testenv.EnvNATSURL) == "" {
			t.Skip(testenv.EnvPostgresDSN + " and " + testenv.EnvNATSURL + " are not both set")
		}
		n := testenv.NATSServer(t)
		db := freshDatabase(t, dsn)
		incidentsGuide(t, []string{"--database-url", db, "--nats-url", n.URL,
			"--event-subject-prefix", n.SubjectPrefix}, n.SubjectPrefix, db)
	})
}

// incidentsGuide runs the guide on the platform started with args, whose events go under prefix
// and whose services keep their data in the PostgreSQL database dsn, or in SQLite files under the
// data folder when dsn is empty.
func incidentsGuide(t *testing.T, args []string, prefix, dsn string) {
	clk := clock.NewFake(incidentsGuideStart)
	dataDir := t.TempDir()
	out := newOutputLog()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		runErr = runOn(ctx, append([]string{"--http-addr", "127.0.0.1:0", "--nats-port", "0", "--data-dir", dataDir,
			"--bootstrap-api-key", adminKey}, args...), out, clk)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
			if runErr != nil {
				t.Errorf("the platform stopped with %v", runErr)
			}
		case <-time.After(stopTimeout):
			t.Errorf("the platform still runs %s after its context ended", stopTimeout)
		}
		if t.Failed() {
			t.Logf("output of the platform:\n%s", out.String())
		}
	})
	var ready readyLine
	select {
	case ready = <-out.ready:
	case <-done:
		t.Fatalf("the platform stopped before it was ready: %v", runErr)
	case <-time.After(readyTimeout):
		t.Fatalf("the platform is not ready after %s", readyTimeout)
	}

	const path = "../../docs/incidents.md"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	exchanges, err := parseGuide(doc)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	type move struct {
		line int
		by   time.Duration
	}
	var moves []move
	for _, m := range clockMarkerRE.FindAllStringSubmatchIndex(doc, -1) {
		by, err := time.ParseDuration(doc[m[2]:m[3]])
		if err != nil || by <= 0 {
			t.Fatalf("%s:%d: clock marker %q is not a positive duration", path, lineOf(doc, m[0]), doc[m[2]:m[3]])
		}
		moves = append(moves, move{lineOf(doc, m[0]), by})
	}
	if len(moves) == 0 {
		t.Fatalf("%s has no clock markers", path)
	}
	// The risk service's due items, to wait for the scheduler after a move of the clock: what a
	// reader waiting for the time to pass sees fired.
	table, url := "risk.scheduled_items", dsn
	if dsn == "" {
		table, url = "scheduled_items", "sqlite:"+filepath.Join(dataDir, "risk.db")
	}
	db, err := sqldb.Open(context.Background(), url, sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fired := func() {
		t.Helper()
		deadline := time.Now().Add(eventTimeout)
		for {
			var due int
			err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+table+`
				WHERE next_at <= $1 AND fired_at IS NULL AND failed_at IS NULL`, clk.Now().UTC()).Scan(&due)
			if err == nil && due == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the risk service's scheduler has not fired its due items after %s: %d left, %v", eventTimeout, due, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	vars := map[string]string{"ADMIN": adminKey, "YEAR": "2027", "QUARTER": "2027-Q1"}
	for _, ex := range exchanges {
		for len(moves) > 0 && moves[0].line < ex.line {
			clk.Advance(moves[0].by)
			moves = moves[1:]
			fired()
		}
		runExchange(t, path, ready.REST, ex, vars)
	}
	t.Logf("%s: %d calls as written, the clock at %s", path, len(exchanges), clk.Now().Format(time.RFC3339))

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
		evs := readEvents(t, ready.NATS, streams+stream, func(evs []event) bool { return len(subsequence(evs, want)) == len(want) })
		if got := subsequence(evs, want); len(got) != len(want) {
			t.Errorf("%s%s holds %v in this order, not %v:\n%s", streams, stream, got, want, describe(evs))
		}
	}
}
