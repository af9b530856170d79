//go:build unix

package main

import (
	"os"
	"strings"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/testing/testenv"
)

// TestBudgetGuide runs the walk of docs/budget.md as written, on a platform whose fiscal year
// starts in April as the guide says, then checks that the budget stream holds the events its
// last step names, in order. It runs on the embedded defaults, and on PostgreSQL (a database of
// its own) and the external NATS server when they are configured.
func TestBudgetGuide(t *testing.T) {
	t.Parallel()
	april := []string{"--budget-fiscal-year-start-month", "4"}
	t.Run("embedded", func(t *testing.T) {
		t.Parallel()
		budgetGuide(t, scenario{args: april, prefix: "quarterdeck"})
	})
	t.Run("external", func(t *testing.T) {
		t.Parallel()
		dsn := os.Getenv(testenv.EnvPostgresDSN)
		if dsn == "" || os.Getenv(testenv.EnvNATSURL) == "" {
			t.Skip(testenv.EnvPostgresDSN + " and " + testenv.EnvNATSURL + " are not both set")
		}
		n := testenv.NATSServer(t)
		budgetGuide(t, scenario{args: append(april, "--database-url", freshDatabase(t, dsn), "--nats-url", n.URL,
			"--event-subject-prefix", n.SubjectPrefix), prefix: n.SubjectPrefix, natsURL: n.URL})
	})
}

func budgetGuide(t *testing.T, sc scenario) {
	p := start(t, t.TempDir(), sc)
	defer p.Stop()
	runGuide(t, "../../docs/budget.md", p.rest, map[string]string{"ADMIN": adminKey})

	want := []string{"cost_center.created", "budget.created", "line.created", "line.created", "budget.submitted",
		"budget.approved", "exchange_rate.created", "exchange_rate.created", "actual.recorded", "actual.recorded",
		"actual.recorded", "commitment.recorded", "actual.recorded", "commitment.released", "transfer.requested",
		"line.updated", "line.updated", "line.threshold_crossed", "transfer.approved"}
	stream := strings.ToUpper(sc.prefix) + "_BUDGET"
	evs := readEvents(t, p.nats, stream, func(evs []event) bool { return len(subsequence(evs, want)) == len(want) })
	if got := subsequence(evs, want); len(got) != len(want) {
		t.Errorf("%s holds %v in this order, not %v:\n%s", stream, got, want, describe(evs))
	}
}

// TestReadme runs the README's first calls as written, curl commands and answers, on a fresh
// platform.
func TestReadme(t *testing.T) {
	t.Parallel()
	p := start(t, t.TempDir(), scenario{prefix: "quarterdeck"})
	defer p.Stop()
	runGuide(t, "../../README.md", p.rest, map[string]string{"KEY": adminKey})
}
