package model_test

import (
	"testing"

	"github.com/quarterdeck/quarterdeck/services/briefing/internal/model"
)

// TestMigrationsAgree keeps the engines' schemas from drifting.
func TestMigrationsAgree(t *testing.T) {
	t.Parallel()
	diffs, err := model.Migrations.Drift()
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
}
