package testkit

import (
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"testing"
	"testing/fstest"

	"google.golang.org/grpc"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/host"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// reporting is a testing.TB whose failure the test sets and whose log it reads.
type reporting struct {
	testing.TB
	failed bool
	logs   []string
}

func (r *reporting) Helper()      {}
func (r *reporting) Failed() bool { return r.failed }
func (r *reporting) Logf(format string, args ...any) {
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func TestServiceLog(t *testing.T) {
	var l serviceLog
	log := l.logger()
	log.Debug("not kept")
	log.Info("first", "n", 1)
	log.Warn("second")

	passed := &reporting{TB: t}
	l.report(passed, "budget")
	if len(passed.logs) != 0 {
		t.Fatalf("a passing test got %q; want nothing", passed.logs)
	}
	failed := &reporting{TB: t, failed: true}
	l.report(failed, "budget")
	if len(failed.logs) != 1 {
		t.Fatalf("a failed test got %d logs; want 1", len(failed.logs))
	}
	got := failed.logs[0]
	if !strings.HasPrefix(got, "budget logged:\n\t") || strings.Contains(got, "not kept") ||
		!strings.Contains(got, `msg=first n=1`) || strings.Index(got, "msg=first") > strings.Index(got, "level=WARN msg=second") {
		t.Fatalf("a failed test got %q; want the INFO and WARN records in order, without the DEBUG one", got)
	}

	// Past its size, the log keeps the latest records, oldest first, and says how many it dropped.
	for i := range serviceLogRecords + 5 {
		log.Info("record", "i", i)
	}
	failed.logs = nil
	l.report(failed, "budget")
	got = failed.logs[0]
	lines := strings.Split(got, "\n\t")[1:]
	want := fmt.Sprintf("budget logged (its last %d records, 7 earlier ones not kept):", serviceLogRecords)
	if !strings.HasPrefix(got, want) || len(lines) != serviceLogRecords ||
		!strings.HasSuffix(lines[0], "msg=record i=5") || !strings.HasSuffix(lines[len(lines)-1], fmt.Sprintf("msg=record i=%d", serviceLogRecords+4)) {
		t.Fatalf("after %d records: %q … %q (%d lines); want %q, from i=5 to the last", serviceLogRecords+7,
			got[:min(len(got), 120)], lines[len(lines)-1], len(lines), want)
	}
}

// TestStartReportsLogs: a service Start started reports what it logged, the stop included, when
// its test fails.
func TestStartReportsLogs(t *testing.T) {
	failed := &reporting{failed: true}
	t.Run("service", func(t *testing.T) {
		failed.TB = t
		Start(failed, testenv.SQLite(t), logged())
	})
	if len(failed.logs) != 1 || !strings.Contains(failed.logs[0], `msg="service listening" service=logged`) ||
		!strings.Contains(failed.logs[0], `msg="service stopped" service=logged`) {
		t.Fatalf("logs reported = %q; want the service's start and stop", failed.logs)
	}
}

// TestLogged: Logged returns what a started service has logged so far, and nothing when the test
// gave the service a logger of its own.
func TestLogged(t *testing.T) {
	s := Start(t, testenv.SQLite(t), logged())
	if got := strings.Join(s.Logged(), "\n"); !strings.Contains(got, `level=INFO msg="service listening" service=logged`) {
		t.Fatalf("Logged() = %q; want the service's start", got)
	}
	own := Start(t, testenv.SQLite(t), logged(), WithHostOptions(func(o *host.Options) { o.Logger = slog.New(slog.DiscardHandler) }))
	if got := own.Logged(); len(got) != 0 {
		t.Fatalf("Logged() of a service with its own logger = %q; want nothing", got)
	}
}

// logged is a service with nothing to serve.
func logged() host.Service {
	return host.Service{
		Domain: "logged",
		Migrations: func(sqldb.Engine) fs.FS {
			return fstest.MapFS{"00001_none.sql": {Data: []byte("-- +goose Up\nSELECT 1;\n")}}
		},
		Register: func(grpc.ServiceRegistrar, host.Deps) error { return nil },
	}
}
