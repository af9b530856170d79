package domain

import "github.com/quarterdeck/quarterdeck/services/platform/api/names"

// The patterns of the service's resource names (AIP-122). A name is parsed with its pattern's
// Scan, ScanResource or Last and formatted with Format; each entity's Name method formats its
// own.
const (
	CostCenterPattern   names.Pattern = "costCenters/{cost_center}"
	BudgetPattern       names.Pattern = "budgets/{budget}"
	LinePattern         names.Pattern = "budgets/{budget}/lines/{line}"
	ActualPattern       names.Pattern = "budgets/{budget}/lines/{line}/actuals/{actual}"
	CommitmentPattern   names.Pattern = "budgets/{budget}/lines/{line}/commitments/{commitment}"
	HoldPattern         names.Pattern = "budgets/{budget}/lines/{line}/holds/{hold}"
	TransferPattern     names.Pattern = "budgets/{budget}/transfers/{transfer}"
	ExchangeRatePattern names.Pattern = "exchangeRates/{exchange_rate}"
	SummaryPattern      names.Pattern = "budgets/{budget}/summary"
	RollupPattern       names.Pattern = "costCenters/{cost_center}/rollups/{fiscal_year}"
	// DeferredCommitmentPattern names a DeferredCommitment.
	DeferredCommitmentPattern names.Pattern = "costCenters/{cost_center}/deferredCommitments/{deferred_commitment}"
	// DeferredActualPattern names a DeferredActual.
	DeferredActualPattern names.Pattern = "costCenters/{cost_center}/deferredActuals/{deferred_actual}"
)

// CostCenterName is the name of the cost centre with the ID.
func CostCenterName(id string) string { return CostCenterPattern.Format(id) }

// BudgetName is the name of the budget revision with the ID.
func BudgetName(id string) string { return BudgetPattern.Format(id) }

// LineName is the name of line lineID of budget revision budgetID.
func LineName(budgetID, lineID string) string { return LinePattern.Format(budgetID, lineID) }

// ParseExchangeRateName returns the ID in an exchange rate's name; the ID must be well formed
// (ParseExchangeRateID), so a name no rate can have does not parse.
func ParseExchangeRateName(name string) (id string, ok bool) {
	id, ok = ExchangeRatePattern.Last(name)
	if _, _, _, valid := ParseExchangeRateID(id); !ok || !valid {
		return "", false
	}
	return id, true
}

// Name is the cost centre's resource name.
func (c *CostCenter) Name() string { return CostCenterName(c.ID) }

// Name is the budget's resource name.
func (b *Budget) Name() string { return BudgetName(b.ID) }

// Name is the line's resource name.
func (l *Line) Name() string { return LineName(l.BudgetID, l.ID) }

// Name is the actual's resource name.
func (a *Actual) Name() string { return ActualPattern.Format(a.BudgetID, a.LineID, a.ID) }

// Name is the commitment's resource name.
func (c *Commitment) Name() string { return CommitmentPattern.Format(c.BudgetID, c.LineID, c.ID) }

// Name is the deferred commitment's resource name.
func (d *DeferredCommitment) Name() string {
	return DeferredCommitmentPattern.Format(d.CostCenterID, d.ID)
}

// Name is the deferred actual's resource name.
func (d *DeferredActual) Name() string { return DeferredActualPattern.Format(d.CostCenterID, d.ID) }

// Name is the transfer's resource name.
func (t *Transfer) Name() string { return TransferPattern.Format(t.BudgetID, t.ID) }

// Name is the rate's resource name.
func (r *ExchangeRate) Name() string { return ExchangeRatePattern.Format(r.ID) }

// Name is the hold's resource name.
func (h *Hold) Name() string { return HoldPattern.Format(h.BudgetID, h.LineID, h.ID) }

// HoldName is the name of the hold the commitment was converted from; empty when none.
func (c *Commitment) HoldName() string {
	if c.HoldID == "" {
		return ""
	}
	return HoldPattern.Format(c.HoldBudgetID, c.LineID, c.HoldID)
}

// CommitmentName is the name of the commitment recorded from the hold; empty until CONVERTED.
func (h *Hold) CommitmentName() string {
	if h.CommitmentID == "" {
		return ""
	}
	return CommitmentPattern.Format(h.CommitmentBudgetID, h.LineID, h.CommitmentID)
}
