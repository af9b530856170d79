package testkit

import (
	"log/slog"
	"strings"
	"sync"
	"testing"
)

// serviceLogRecords is how many of its latest log records a service under test keeps for the
// test's output.
const serviceLogRecords = 300

// serviceLog keeps the latest records a service under test logged (at INFO and above), so that
// a test that fails shows what its services said — which consumer could not subscribe, which
// event failed and how — instead of only what it asserted. A passing test prints nothing.
type serviceLog struct {
	mu      sync.Mutex
	records []string // a ring of serviceLogRecords once full; next is the oldest
	next    int
	dropped int
}

// logger returns a logger whose records l keeps.
func (l *serviceLog) logger() *slog.Logger {
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// Write keeps one record: the text handler writes each record in one call.
func (l *serviceLog) Write(p []byte) (int, error) {
	rec := strings.TrimSuffix(string(p), "\n")
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.records) < serviceLogRecords {
		l.records = append(l.records, rec)
		return len(p), nil
	}
	l.records[l.next] = rec
	l.next = (l.next + 1) % serviceLogRecords
	l.dropped++
	return len(p), nil
}

// kept returns the records kept, oldest first, and how many earlier ones were dropped.
func (l *serviceLog) kept() (recs []string, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append(append([]string(nil), l.records[l.next:]...), l.records[:l.next]...), l.dropped
}

// report logs the records kept, oldest first, to t when t has failed.
func (l *serviceLog) report(t testing.TB, domain string) {
	t.Helper()
	if !t.Failed() {
		return
	}
	recs, dropped := l.kept()
	if len(recs) == 0 {
		return
	}
	var b strings.Builder
	for _, r := range recs {
		b.WriteString("\n\t")
		b.WriteString(r)
	}
	if dropped > 0 {
		t.Logf("%s logged (its last %d records, %d earlier ones not kept):%s", domain, len(recs), dropped, b.String())
		return
	}
	t.Logf("%s logged:%s", domain, b.String())
}
