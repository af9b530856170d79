//go:build unix

package main

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestBriefingGuide runs the walk of docs/briefing.md as written: a budget in force with spend and
// a risk above appetite appear in the briefing, which a rebuild from the streams restores. On the
// embedded defaults, and on PostgreSQL and the external NATS server when they are configured (the
// streams then carry the test's own prefix, which the guide's stream names are rewritten to).
func TestBriefingGuide(t *testing.T) {
	t.Parallel()
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		briefingGuide(t, scenario{prefix: "quarterdeck"})
	})
	t.Run("external", func(t *testing.T) {
		t.Parallel()
		dsn := os.Getenv(testenv.EnvPostgresDSN)
		if dsn == "" || os.Getenv(testenv.EnvNATSURL) == "" {
			t.Skip(testenv.EnvPostgresDSN + " and " + testenv.EnvNATSURL + " are not both set")
		}
		n := testenv.NATSServer(t)
		briefingGuide(t, scenario{args: []string{"--database-url", freshDatabase(t, dsn), "--nats-url", n.URL,
			"--event-subject-prefix", n.SubjectPrefix}, prefix: n.SubjectPrefix, natsURL: n.URL})
	})
}

func briefingGuide(t *testing.T, sc scenario) {
	p := start(t, t.TempDir(), sc)
	defer p.Stop()
	today := time.Now().UTC()
	runGuide(t, "../../docs/briefing.md", p.rest, map[string]string{
		"ADMIN": adminKey, "YEAR": strconv.Itoa(today.Year()),
		"MONTH_START": fmt.Sprintf(`{"year": %d, "month": %d, "day": 1}`, today.Year(), int(today.Month())),
	})
}
