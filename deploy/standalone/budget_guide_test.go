//go:build unix

package main

import (
	"strings"
	"testing"
)

// TestBudgetGuide runs the walk of docs/budget.md as written, on a platform whose fiscal year
// starts in April as the guide says, then checks that the budget stream holds the events its
// last step names, in order. It runs on the embedded defaults, and on PostgreSQL (a database of
// its own) and the external NATS server when they are configured.
func TestBudgetGuide(t *testing.T) {
	april := []string{"--budget-fiscal-year-start-month", "4"}
	onBothEngines(t, april, func(t *testing.T, sc scenario, _ string) { budgetGuide(t, sc) })
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
