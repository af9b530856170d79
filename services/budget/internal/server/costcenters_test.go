package server

import (
	"slices"
	"testing"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
)

// TestMaskMatchesDomain keeps the fields the proto's annotations leave writable and the fields
// the domain knows how to change the same.
func TestMaskMatchesDomain(t *testing.T) {
	if !slices.Equal(costCenterMask.Writable, domain.WritableFields) {
		t.Errorf("writable by field behavior = %q, by the domain = %q", costCenterMask.Writable, domain.WritableFields)
	}
}
