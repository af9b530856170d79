package server

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
)

// TestEnumsMatchProto keeps the domain's enums numerically equal to the API's, value by name,
// so that the conversions can be casts: every API value but UNSPECIFIED has its domain value.
func TestEnumsMatchProto(t *testing.T) {
	type pair = map[string]int
	tests := []struct {
		enum   protoreflect.EnumDescriptor
		domain pair
	}{
		{budgetv1.Budget_STATE_UNSPECIFIED.Descriptor(), pair{
			"DRAFT": int(domain.StateDraft), "SUBMITTED": int(domain.StateSubmitted), "APPROVED": int(domain.StateApproved),
			"REJECTED": int(domain.StateRejected), "CLOSED": int(domain.StateClosed), "SUPERSEDED": int(domain.StateSuperseded)}},
		{budgetv1.Budget_OVERSPEND_POLICY_UNSPECIFIED.Descriptor(), pair{"WARN": int(domain.PolicyWarn), "BLOCK": int(domain.PolicyBlock)}},
		{budgetv1.BudgetLine_CATEGORY_UNSPECIFIED.Descriptor(), pair{
			"HARDWARE": int(domain.CategoryHardware), "SOFTWARE": int(domain.CategorySoftware), "CLOUD": int(domain.CategoryCloud),
			"INTERNAL_LABOUR": int(domain.CategoryInternalLabour), "EXTERNAL_LABOUR": int(domain.CategoryExternalLabour),
			"OUTSIDE_SERVICES": int(domain.CategoryOutsideServices), "FACILITIES": int(domain.CategoryFacilities),
			"TELECOM": int(domain.CategoryTelecom), "OTHER": int(domain.CategoryOther)}},
		{budgetv1.BudgetLine_EXPENSE_TYPE_UNSPECIFIED.Descriptor(), pair{"CAPEX": int(domain.Capex), "OPEX": int(domain.Opex)}},
		{budgetv1.Phasing_GRANULARITY_UNSPECIFIED.Descriptor(), pair{"MONTHLY": int(domain.Monthly), "QUARTERLY": int(domain.Quarterly)}},
		{budgetv1.Actual_SOURCE_UNSPECIFIED.Descriptor(), pair{
			"MANUAL": int(domain.SourceManual), "VENDOR_INVOICE": int(domain.SourceVendorInvoice),
			"INCIDENT_COST": int(domain.SourceIncidentCost), "PAYROLL": int(domain.SourcePayroll), "OTHER": int(domain.SourceOther)}},
		{budgetv1.Commitment_SOURCE_UNSPECIFIED.Descriptor(), pair{
			"CONTRACT": int(domain.CommitmentContract), "POSITION": int(domain.CommitmentPosition),
			"PURCHASE_ORDER": int(domain.CommitmentPurchaseOrder), "OTHER": int(domain.CommitmentOther)}},
		{budgetv1.Commitment_STATE_UNSPECIFIED.Descriptor(), pair{"OPEN": int(domain.CommitmentOpen), "RELEASED": int(domain.CommitmentReleased)}},
		{budgetv1.Transfer_STATE_UNSPECIFIED.Descriptor(), pair{
			"PENDING": int(domain.TransferPending), "APPROVED": int(domain.TransferApproved), "REJECTED": int(domain.TransferRejected)}},
	}
	for _, tt := range tests {
		t.Run(string(tt.enum.FullName()), func(t *testing.T) {
			values := tt.enum.Values()
			seen := 0
			for i := range values.Len() {
				v := values.Get(i)
				if v.Number() == 0 {
					continue
				}
				seen++
				d, ok := tt.domain[string(v.Name())]
				if !ok {
					t.Errorf("%s has no domain value", v.Name())
				} else if d != int(v.Number()) {
					t.Errorf("%s = %d in the API, %d in the domain", v.Name(), v.Number(), d)
				}
			}
			if seen != len(tt.domain) {
				t.Errorf("the API has %d values, the domain %d", seen, len(tt.domain))
			}
		})
	}
}

// TestPlanMasksMatchDomain keeps the fields the annotations leave writable and the fields the
// domain changes the same.
func TestPlanMasksMatchDomain(t *testing.T) {
	if !slices.Equal(budgetMask.Writable, domain.BudgetWritableFields) {
		t.Errorf("budget: writable by field behavior = %q, by the domain = %q", budgetMask.Writable, domain.BudgetWritableFields)
	}
	if !slices.Equal(lineMask.Writable, domain.LineWritableFields) {
		t.Errorf("line: writable by field behavior = %q, by the domain = %q", lineMask.Writable, domain.LineWritableFields)
	}
	if !slices.Equal(rateMask.Writable, []string{"rate"}) {
		t.Errorf("exchange rate: writable by field behavior = %q, want [rate]", rateMask.Writable)
	}
}
