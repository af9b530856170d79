//go:build unix

package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/clock"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// clockMarkerRE is where a guide says time passes: an HTML comment `<!-- clock: +4h40m -->`
// (that long passes) or `<!-- clock: 2027-10-02T09:00:00Z -->` (it is then that moment), which
// a reader running the walk by hand waits for (or reads past) and the test turns into a move of
// the services' clock.
var clockMarkerRE = regexp.MustCompile(`(?m)^<!-- clock: (\+\S+|\d{4}-\d\d-\d\dT\S+) -->$`)

// clockedPlatform is the platform run in the test's own process, its services on a clock the
// test moves: what a guide dated on fixed days runs on.
type clockedPlatform struct {
	rest, nats string
	dataDir    string
	dsn        string // the PostgreSQL database of the services, "" for SQLite files in dataDir
	clk        *clock.Fake
}

// startClocked starts the platform with args on a clock that reads at, its services keeping
// their data in the PostgreSQL database dsn, or in SQLite files under a data folder of the
// test's when dsn is empty; it stops at the end of the test.
func startClocked(t *testing.T, at time.Time, args []string, dsn string) *clockedPlatform {
	t.Helper()
	p := &clockedPlatform{dataDir: t.TempDir(), dsn: dsn, clk: clock.NewFake(at)}
	out := newOutputLog()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		runErr = runOn(ctx, append([]string{"--http-addr", "127.0.0.1:0", "--nats-port", "0", "--data-dir", p.dataDir,
			"--bootstrap-api-key", adminKey}, args...), out, p.clk)
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
	select {
	case ready := <-out.ready:
		p.rest, p.nats = ready.REST, ready.NATS
	case <-done:
		t.Fatalf("the platform stopped before it was ready: %v", runErr)
	case <-time.After(readyTimeout):
		t.Fatalf("the platform is not ready after %s", readyTimeout)
	}
	return p
}

// walk runs the guide at path as written, with vars, moving the clock where the guide's markers
// say; after each move it waits until the schedulers of the services named (those whose
// calendar the guide reads) have fired what fell due: what a reader waiting for the time to
// pass sees fired.
func (p *clockedPlatform) walk(t *testing.T, path string, vars map[string]string, schedulers ...string) {
	t.Helper()
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
		by   time.Duration // or, when zero, to
		to   time.Time
	}
	var moves []move
	last := p.clk.Now()
	for _, m := range clockMarkerRE.FindAllStringSubmatchIndex(doc, -1) {
		mv, text := move{line: lineOf(doc, m[0])}, doc[m[2]:m[3]]
		if text[0] == '+' {
			if mv.by, err = time.ParseDuration(text[1:]); err != nil || mv.by <= 0 {
				t.Fatalf("%s:%d: clock marker %q is not a positive duration", path, mv.line, text)
			}
			last = last.Add(mv.by)
		} else {
			if mv.to, err = time.Parse(time.RFC3339, text); err != nil || !mv.to.After(last) {
				t.Fatalf("%s:%d: clock marker %q is not an RFC 3339 time after %s", path, mv.line, text, last.Format(time.RFC3339))
			}
			last = mv.to
		}
		moves = append(moves, mv)
	}
	if len(moves) == 0 {
		t.Fatalf("%s has no clock markers", path)
	}
	var waits []func()
	for _, svc := range schedulers {
		waits = append(waits, p.scheduled(t, svc))
	}
	for _, ex := range exchanges {
		for len(moves) > 0 && moves[0].line < ex.line {
			if moves[0].by > 0 {
				p.clk.Advance(moves[0].by)
			} else {
				p.clk.Set(moves[0].to)
			}
			moves = moves[1:]
			for _, wait := range waits {
				wait()
			}
		}
		runExchange(t, path, p.rest, ex, vars)
	}
	t.Logf("%s: %d calls as written, the clock at %s", path, len(exchanges), p.clk.Now().Format(time.RFC3339))
}

// scheduled returns a wait for the scheduler of the service svc: until none of its items due
// by the clock's time is left to fire.
func (p *clockedPlatform) scheduled(t *testing.T, svc string) func() {
	t.Helper()
	table, url := svc+".scheduled_items", p.dsn
	if p.dsn == "" {
		table, url = "scheduled_items", "sqlite:"+filepath.Join(p.dataDir, svc+".db")
	}
	db, err := sqldb.Open(context.Background(), url, sqldb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return func() {
		t.Helper()
		deadline := time.Now().Add(eventTimeout)
		for {
			var due int
			err := db.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+table+`
				WHERE next_at <= $1 AND fired_at IS NULL AND failed_at IS NULL`, p.clk.Now().UTC()).Scan(&due)
			if err == nil && due == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("the %s service's scheduler has not fired its due items after %s: %d left, %v", svc, eventTimeout, due, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}
