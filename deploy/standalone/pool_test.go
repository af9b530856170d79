//go:build unix

package main

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestDatabaseMaxConns: on PostgreSQL, --database-max-conns bounds each of the process's six pools
// (five services and the gateway's API keys), and the leases' connections (the outbox relays, the
// audit sealers, the schedulers) come on top, so that an operator can count what the process
// needs of max_connections. After the budget guide on pools of one connection, PostgreSQL sees at
// most six connections of the process besides those holding its leases.
func TestDatabaseMaxConns(t *testing.T) {
	t.Parallel()
	dsn := os.Getenv(testenv.EnvPostgresDSN)
	if dsn == "" || os.Getenv(testenv.EnvNATSURL) == "" {
		t.Skip(testenv.EnvPostgresDSN + " and " + testenv.EnvNATSURL + " are not both set")
	}
	n := testenv.NATSServer(t)
	u, err := url.Parse(freshDatabase(t, dsn))
	if err != nil {
		t.Fatal(err)
	}
	// The process's connections carry a name of their own, apart from the test's.
	const app = "quarterdeck-pools"
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	p := start(t, t.TempDir(), scenario{args: []string{"--database-url", u.String(), "--database-max-conns", "1",
		"--budget-fiscal-year-start-month", "4", "--nats-url", n.URL, "--event-subject-prefix", n.SubjectPrefix},
		prefix: n.SubjectPrefix, natsURL: n.URL})
	defer p.Stop()
	runGuide(t, "../../docs/budget.md", p.rest, map[string]string{"ADMIN": adminKey})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := sqldb.Open(ctx, dsn, sqldb.Options{MaxOpenConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var conns, leases int
	if err := admin.QueryRowContext(ctx, `SELECT count(*), count(*) FILTER (WHERE EXISTS (
			SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.locktype = 'advisory' AND l.granted))
		FROM pg_stat_activity a WHERE a.datname = $1 AND a.application_name = $2`,
		strings.TrimPrefix(u.Path, "/"), app).Scan(&conns, &leases); err != nil {
		t.Fatal(err)
	}
	if conns-leases > 6 || leases == 0 {
		t.Errorf("the process holds %d connections to its database, %d of them leases; want at most 6 besides the leases, and some leases", conns, leases)
	}
	t.Logf("%d connections, %d of them leases", conns, leases)
}
