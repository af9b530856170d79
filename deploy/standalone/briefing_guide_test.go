//go:build unix

package main

import (
	"fmt"
	"strconv"
	"testing"
	"time"
)

// TestBriefingGuide runs the walk of docs/briefing.md as written: a budget in force with spend and
// a risk above appetite appear in the briefing, which a rebuild from the streams restores. On the
// embedded defaults, and on PostgreSQL and the external NATS server when they are configured (the
// streams then carry the test's own prefix, which the guide's stream names are rewritten to).
func TestBriefingGuide(t *testing.T) {
	onBothEngines(t, nil, func(t *testing.T, sc scenario, _ string) { briefingGuide(t, sc) })
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
