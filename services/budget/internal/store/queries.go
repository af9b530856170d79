package store

// Queries holds every SQL statement of the store, one field a statement; each engine starts from
// StandardQueries and replaces what it says differently (storepg, storesqlite), and NewSQL runs
// them. The parameters are those the helper the
// statement is given to expects ($1, $2, … in the order documented there). Every field must be
// set: an engine with nothing to do for a statement gives one that does nothing, so a
// statement added to the store cannot be forgotten in one engine (storetest.CheckQueries).
type Queries struct {
	// Cost centres. The ForUpdate variants keep the row from changing until the transaction
	// ends; LockHierarchy serialises the transactions that change the tree's shape.
	SelectCostCenter, SelectCostCenterForUpdate, ListCostCenters string
	InsertCostCenter, UpdateCostCenter, DeleteCostCenter         string
	// HasBudgets tells whether budget chains refer to the cost centre ($1).
	HasBudgets, HasChildren, Ancestors, LockHierarchy string

	// Budget revisions and chains. LockChain is the lock that serialises every change of a
	// chain's spend and figures. BudgetsInForce holds IDS where BudgetsIn puts the IN list.
	SelectBudget, SelectBudgetForUpdate, ListBudgets                       string
	InsertBudget, UpdateBudget, DeleteBudget, MaxRevision, BudgetsInForce  string
	SelectChain, LockChain, InsertChain, UpdateChain, DeleteChain, Subtree string

	// Lines and their running balances.
	SelectLine, SelectLineForUpdate, SelectLines, ListLines string
	InsertLine, UpdateLine, DeleteLine                      string
	SelectLineBalance, SelectLineBalances, PutLineBalance   string
	LineHasSpend, ChainHasSpend                             string

	// Exchange rates.
	SelectExchangeRate, SelectExchangeRateForUpdate, FindRate, ListExchangeRates string
	InsertExchangeRate, UpdateExchangeRate, DeleteExchangeRate                   string

	// Spend: actuals (never changed, so never locked), commitments, transfers and the sums
	// over them.
	SelectActual, ListActuals, InsertActual, SumCorrections, SumCorrectionAmounts string
	SelectCommitment, SelectCommitmentForUpdate, ListCommitments                  string
	InsertCommitment, UpdateCommitment                                            string
	SelectTransfer, SelectTransferForUpdate, ListTransfers                        string
	InsertTransfer, UpdateTransfer                                                string
	Spend, PeriodSpend, AddPeriodSpend, RatesUsed                                 string
}
