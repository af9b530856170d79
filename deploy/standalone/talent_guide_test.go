//go:build unix

package main

import (
	"strings"
	"testing"
)

// TestTalentGuide runs the walk of docs/talent.md as written, on a platform whose fiscal years
// start in April in budget and in talent as the guide says, then checks that the talent and
// budget streams hold the events its last step names, in order. It runs on the embedded
// defaults, and on PostgreSQL (a database of its own) and the external NATS server when they are
// configured.
func TestTalentGuide(t *testing.T) {
	april := []string{"--budget-fiscal-year-start-month", "4", "--talent-fiscal-year-start-month", "4"}
	onBothEngines(t, april, func(t *testing.T, sc scenario, _ string) { talentGuide(t, sc) })
}

func talentGuide(t *testing.T, sc scenario) {
	p := start(t, t.TempDir(), sc)
	defer p.Stop()
	runGuide(t, "../../docs/talent.md", p.rest, map[string]string{"ADMIN": adminKey})

	for stream, want := range map[string][]string{
		"_TALENT": {"skill.coverage_gap", "skill.key_person_risk", "position.approved", "position.opened", "position.offered",
			"headcount_plan.scenario_adopted", "position.filled", "skill.coverage_restored", "skill.key_person_risk_cleared"},
		"_BUDGET": {"hold.placed", "commitment.recorded"},
		"_RISK":   {"risk.identified"},
	} {
		stream = strings.ToUpper(sc.prefix) + stream
		evs := readEvents(t, p.nats, stream, func(evs []event) bool { return len(subsequence(evs, want)) == len(want) })
		if got := subsequence(evs, want); len(got) != len(want) {
			t.Errorf("%s holds %v in this order, not %v:\n%s", stream, got, want, describe(evs))
		}
	}
}
