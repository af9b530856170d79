package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/messaging/outbox"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/audit"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// NewSQL returns the store on db, a migrated database, running the engine's statements q. The
// method bodies are the same on every engine; only q and the migrations differ.
func NewSQL(db *sqldb.DB, q *Queries) Store {
	return &sqlStore{db: db, sqlReader: sqlReader{db, q}}
}

// sqlStore implements Store; its reads lock nothing.
type sqlStore struct {
	db *sqldb.DB
	sqlReader
}

// sqlReader implements Reader on the database or on a transaction.
type sqlReader struct {
	q   Querier
	sql *Queries
}

// sqlTx implements Tx. It embeds what every mutation writes besides the change (events, audit
// record, request ID) and the reads it shares with the store.
type sqlTx struct {
	*sqlstore.Tx
	sqlReader
}

// Emit writes events to the outbox.
func (t *sqlTx) Emit(ctx context.Context, msgs ...outbox.Message) error {
	return outbox.Insert(ctx, t.Tx.Tx, msgs...)
}

// Audit appends e to the audit trail.
func (t *sqlTx) Audit(ctx context.Context, e audit.Entry) error {
	_, err := audit.Append(ctx, t.Tx.Tx, t.Dialect.Engine(), e)
	return err
}

// Within implements Store.
func (s *sqlStore) Within(ctx context.Context, fn func(ctx context.Context, tx Tx) error) error {
	return s.db.InTx(ctx, func(t *sql.Tx) error {
		return fn(ctx, &sqlTx{sqlstore.New(s.db, nil).Tx(t), sqlReader{t, s.sql}})
	})
}

// Cost centres.

func (s *sqlStore) GetCostCenter(ctx context.Context, id string) (*domain.CostCenter, error) {
	return GetCostCenter(ctx, s.db, s.sql.SelectCostCenter, id)
}

func (s *sqlStore) ListCostCenters(ctx context.Context, q *listing.Query) ([]*domain.CostCenter, error) {
	return ListCostCenters(ctx, s.db, s.sql.ListCostCenters, q)
}

func (t *sqlTx) GetCostCenter(ctx context.Context, id string) (*domain.CostCenter, error) {
	return GetCostCenter(ctx, t, t.sql.SelectCostCenterForUpdate, id)
}

func (t *sqlTx) InsertCostCenter(ctx context.Context, c *domain.CostCenter) error {
	return InsertCostCenter(ctx, t, t.sql.InsertCostCenter, c)
}

func (t *sqlTx) UpdateCostCenter(ctx context.Context, c *domain.CostCenter, prevVersion int64) error {
	return UpdateCostCenter(ctx, t, t.sql.UpdateCostCenter, c, prevVersion)
}

func (t *sqlTx) DeleteCostCenter(ctx context.Context, id string, version int64) error {
	return DeleteCostCenter(ctx, t, t.sql.HasBudgets, t.sql.DeleteCostCenter, id, version)
}

func (t *sqlTx) HasChildren(ctx context.Context, id string) (bool, error) {
	return Exists(ctx, t, t.sql.HasChildren, id)
}

func (t *sqlTx) Ancestors(ctx context.Context, id string) ([]string, error) {
	return IDs(ctx, t, t.sql.Ancestors, id)
}

func (t *sqlTx) LockHierarchy(ctx context.Context) error {
	_, err := t.ExecContext(ctx, t.sql.LockHierarchy)
	return err
}

func (r sqlReader) Subtree(ctx context.Context, costCenterID string) ([]*domain.CostCenter, error) {
	rows, err := r.q.QueryContext(ctx, r.sql.Subtree, costCenterID)
	if err != nil {
		return nil, fmt.Errorf("subtree of cost centre %s: %w", costCenterID, err)
	}
	return ScanCostCenters(rows)
}

// Budget revisions and chains.

func (s *sqlStore) GetBudget(ctx context.Context, id string) (*domain.Budget, error) {
	return GetBudget(ctx, s.db, s.sql.SelectBudget, id)
}

func (s *sqlStore) ListBudgets(ctx context.Context, q *listing.Query) ([]*domain.Budget, error) {
	return ListBudgets(ctx, s.db, s.sql.ListBudgets, q)
}

func (s *sqlStore) GetChain(ctx context.Context, id string) (*domain.Chain, error) {
	return GetChain(ctx, s.db, s.sql.SelectChain, id)
}

func (t *sqlTx) GetBudget(ctx context.Context, id string) (*domain.Budget, error) {
	return GetBudget(ctx, t, t.sql.SelectBudgetForUpdate, id)
}

func (t *sqlTx) InsertBudget(ctx context.Context, b *domain.Budget) error {
	return InsertBudget(ctx, t, t.sql.InsertBudget, b)
}

func (t *sqlTx) UpdateBudget(ctx context.Context, b *domain.Budget, prevVersion int64) error {
	return UpdateBudget(ctx, t, t.sql.UpdateBudget, b, prevVersion)
}

func (t *sqlTx) DeleteBudget(ctx context.Context, id string, version int64) error {
	return Delete(ctx, t, "budget "+id, t.sql.DeleteBudget, id, version)
}

func (t *sqlTx) MaxRevision(ctx context.Context, chainID string) (int32, error) {
	return MaxRevision(ctx, t, t.sql.MaxRevision, chainID)
}

func (t *sqlTx) InsertChain(ctx context.Context, c *domain.Chain) error {
	return InsertChain(ctx, t, t.sql.InsertChain, c)
}

func (t *sqlTx) LockChain(ctx context.Context, id string) (*domain.Chain, error) {
	return GetChain(ctx, t, t.sql.LockChain, id)
}

func (t *sqlTx) LockChains(ctx context.Context, ids ...string) ([]*domain.Chain, error) {
	return LockChains(ctx, t.LockChain, ids)
}

func (t *sqlTx) UpdateChain(ctx context.Context, c *domain.Chain, prevVersion int64) error {
	return UpdateChain(ctx, t, t.sql.UpdateChain, c, prevVersion)
}

func (t *sqlTx) DeleteChain(ctx context.Context, id string, version int64) error {
	return Delete(ctx, t, "budget chain "+id, t.sql.DeleteChain, id, version)
}

func (r sqlReader) BudgetsInForce(ctx context.Context, costCenterIDs []string, fiscalYear int32) ([]*domain.Budget, error) {
	return BudgetsIn(ctx, r.q, r.sql.BudgetsInForce, fiscalYear, costCenterIDs)
}

// Lines and their balances.

func (s *sqlStore) GetLine(ctx context.Context, budgetID, id string) (*domain.Line, error) {
	return GetLine(ctx, s.db, s.sql.SelectLine, budgetID, id)
}

func (s *sqlStore) ListLines(ctx context.Context, budgetID string, q *listing.Query) ([]*domain.Line, error) {
	return ListLines(ctx, s.db, s.sql.ListLines, budgetID, q)
}

func (t *sqlTx) GetLine(ctx context.Context, budgetID, id string) (*domain.Line, error) {
	return GetLine(ctx, t, t.sql.SelectLineForUpdate, budgetID, id)
}

func (t *sqlTx) Lines(ctx context.Context, budgetID string) ([]*domain.Line, error) {
	return Lines(ctx, t, t.sql.SelectLines, budgetID)
}

func (t *sqlTx) InsertLine(ctx context.Context, l *domain.Line) error {
	return InsertLine(ctx, t, t.sql.InsertLine, l)
}

func (t *sqlTx) UpdateLine(ctx context.Context, l *domain.Line, prevVersion int64) error {
	return UpdateLine(ctx, t, t.sql.UpdateLine, l, prevVersion)
}

func (t *sqlTx) DeleteLine(ctx context.Context, budgetID, id string, version int64) error {
	return DeleteLine(ctx, t, t.sql.DeleteLine, budgetID, id, version)
}

func (t *sqlTx) LineBalance(ctx context.Context, chainID, lineID string) (*domain.LineBalance, error) {
	return LineBalance(ctx, t, t.sql.SelectLineBalance, chainID, lineID)
}

func (t *sqlTx) PutLineBalance(ctx context.Context, b *domain.LineBalance) error {
	return PutLineBalance(ctx, t, t.sql.PutLineBalance, b)
}

func (t *sqlTx) LineHasSpend(ctx context.Context, chainID, lineID string) (bool, error) {
	return Exists(ctx, t, t.sql.LineHasSpend, chainID, lineID, chainID, lineID, chainID, lineID)
}

func (t *sqlTx) ChainHasSpend(ctx context.Context, chainID string) (bool, error) {
	return Exists(ctx, t, t.sql.ChainHasSpend, chainID, chainID)
}

func (r sqlReader) LineBalances(ctx context.Context, chainID string) ([]*domain.LineBalance, error) {
	return LineBalances(ctx, r.q, r.sql.SelectLineBalances, chainID)
}

// Exchange rates.

func (s *sqlStore) GetExchangeRate(ctx context.Context, id string) (*domain.ExchangeRate, error) {
	return GetExchangeRate(ctx, s.db, s.sql.SelectExchangeRate, id)
}

func (s *sqlStore) ListExchangeRates(ctx context.Context, q *listing.Query) ([]*domain.ExchangeRate, error) {
	return ListExchangeRates(ctx, s.db, s.sql.ListExchangeRates, q)
}

func (t *sqlTx) InsertExchangeRate(ctx context.Context, r *domain.ExchangeRate) error {
	return InsertExchangeRate(ctx, t, t.sql.InsertExchangeRate, r)
}

func (t *sqlTx) GetExchangeRate(ctx context.Context, id string) (*domain.ExchangeRate, error) {
	return GetExchangeRate(ctx, t, t.sql.SelectExchangeRateForUpdate, id)
}

func (t *sqlTx) UpdateExchangeRate(ctx context.Context, r *domain.ExchangeRate, prevVersion int64) error {
	return UpdateExchangeRate(ctx, t, t.sql.UpdateExchangeRate, r, prevVersion)
}

func (t *sqlTx) DeleteExchangeRate(ctx context.Context, id string, version int64) error {
	return Delete(ctx, t, "exchange rate "+id, t.sql.DeleteExchangeRate, id, version)
}

func (r sqlReader) FindRate(ctx context.Context, month domain.Month, source, target domain.Currency) (*domain.ExchangeRate, error) {
	return FindRate(ctx, r.q, r.sql.FindRate, month, source, target)
}

// Spend.

func (s *sqlStore) GetActual(ctx context.Context, budgetID, lineID, id string) (*domain.Actual, error) {
	return GetActual(ctx, s.db, s.sql.SelectActual, budgetID, lineID, id)
}

func (s *sqlStore) ListActuals(ctx context.Context, budgetID, lineID string, q *listing.Query) ([]*domain.Actual, error) {
	return ListActuals(ctx, s.db, s.sql.ListActuals, budgetID, lineID, q)
}

func (s *sqlStore) GetCommitment(ctx context.Context, budgetID, lineID, id string) (*domain.Commitment, error) {
	return GetCommitment(ctx, s.db, s.sql.SelectCommitment, budgetID, lineID, id)
}

func (s *sqlStore) ListCommitments(ctx context.Context, budgetID, lineID string, q *listing.Query) ([]*domain.Commitment, error) {
	return ListCommitments(ctx, s.db, s.sql.ListCommitments, budgetID, lineID, q)
}

func (s *sqlStore) GetTransfer(ctx context.Context, budgetID, id string) (*domain.Transfer, error) {
	return GetTransfer(ctx, s.db, s.sql.SelectTransfer, budgetID, id)
}

func (s *sqlStore) ListTransfers(ctx context.Context, budgetID string, q *listing.Query) ([]*domain.Transfer, error) {
	return ListTransfers(ctx, s.db, s.sql.ListTransfers, budgetID, q)
}

func (t *sqlTx) InsertActual(ctx context.Context, a *domain.Actual) error {
	return InsertActual(ctx, t, t.sql.InsertActual, a)
}

// GetActual locks nothing: actuals never change.
func (t *sqlTx) GetActual(ctx context.Context, budgetID, lineID, id string) (*domain.Actual, error) {
	return GetActual(ctx, t, t.sql.SelectActual, budgetID, lineID, id)
}

func (t *sqlTx) SumCorrections(ctx context.Context, actualID string) (int64, error) {
	return Sum(ctx, t, t.sql.SumCorrections, actualID)
}

func (t *sqlTx) SumCorrectionAmounts(ctx context.Context, actualID string) (int64, error) {
	return Sum(ctx, t, t.sql.SumCorrectionAmounts, actualID)
}

func (t *sqlTx) InsertCommitment(ctx context.Context, c *domain.Commitment) error {
	return InsertCommitment(ctx, t, t.sql.InsertCommitment, c)
}

func (t *sqlTx) GetCommitment(ctx context.Context, budgetID, lineID, id string) (*domain.Commitment, error) {
	return GetCommitment(ctx, t, t.sql.SelectCommitmentForUpdate, budgetID, lineID, id)
}

func (t *sqlTx) UpdateCommitment(ctx context.Context, c *domain.Commitment, prevVersion int64) error {
	return UpdateCommitment(ctx, t, t.sql.UpdateCommitment, c, prevVersion)
}

func (t *sqlTx) InsertTransfer(ctx context.Context, tr *domain.Transfer) error {
	return InsertTransfer(ctx, t, t.sql.InsertTransfer, tr)
}

func (t *sqlTx) GetTransfer(ctx context.Context, budgetID, id string) (*domain.Transfer, error) {
	return GetTransfer(ctx, t, t.sql.SelectTransferForUpdate, budgetID, id)
}

func (t *sqlTx) UpdateTransfer(ctx context.Context, tr *domain.Transfer, prevVersion int64) error {
	return UpdateTransfer(ctx, t, t.sql.UpdateTransfer, tr, prevVersion)
}

func (t *sqlTx) AddPeriodSpend(ctx context.Context, chainID string, s LineSpend) error {
	_, err := t.ExecContext(ctx, t.sql.AddPeriodSpend, chainID, s.LineID, s.Period, s.ActualMinor, s.CommittedMinor)
	return err
}

func (r sqlReader) Spend(ctx context.Context, chainID string) ([]LineSpend, error) {
	return Spend(ctx, r.q, r.sql.Spend, chainID, chainID, int(domain.CommitmentOpen))
}

func (r sqlReader) PeriodSpend(ctx context.Context, chainID string) ([]LineSpend, error) {
	return Spend(ctx, r.q, r.sql.PeriodSpend, chainID)
}

func (r sqlReader) RatesUsed(ctx context.Context, chainID string) ([]domain.RateUse, error) {
	return RatesUsed(ctx, r.q, r.sql.RatesUsed, chainID, chainID, int(domain.CommitmentOpen))
}

var (
	_ Store = (*sqlStore)(nil)
	_ Tx    = (*sqlTx)(nil)
)
