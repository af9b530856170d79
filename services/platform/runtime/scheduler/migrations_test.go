package scheduler_test

import (
	"testing"

	"github.com/quarterdeck/quarterdeck/services/platform/runtime/scheduler"
)

// TestMigrationsAgree keeps scheduled_items alike on both engines.
func TestMigrationsAgree(t *testing.T) {
	t.Parallel()
	diffs, err := scheduler.Migrations.Drift()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
}
