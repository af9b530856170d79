package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	budgetv1 "github.com/quarterdeck/quarterdeck/proto/gen/go/quarterdeck/budget/v1"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/api/money"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// spendError: spend and transfers refer to lines and chains that the service has just read under
// the chain's lock, so a foreign key failing is a bug; say which row.
func spendError(what string) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return fmt.Errorf("write %s: %w: %w", what, sqldb.ErrAlreadyExists, err)
		}
		return fmt.Errorf("write %s: %w", what, err)
	}
}

// lineNameColumn is the resource name of a spend row's line, so that "line" filters compare
// whole names, which also pins the budget revision.
const lineNameColumn = `'budgets/' || budget_id || '/lines/' || line_id`

// actualColumns are the columns every actual query selects, in scanActual's order.
const actualColumns = `id, budget_id, chain_id, line_id, amount_minor, amount_currency, converted_minor, ` +
	`rate_id, rate_month, rate_source, rate_target, rate_value, booking_date, period, description, source, ` +
	`external_reference, corrects_id, corrects_budget_id, commitment_id, commitment_budget_id, released_minor, ` +
	`creator, create_time`

func scanActual(s sqlstore.Scanner) (*domain.Actual, error) {
	var (
		a                                domain.Actual
		rate                             rateColumns
		date                             string
		corrects, commitment             sql.NullString
		correctsBudget, commitmentBudget sql.NullString
	)
	dest := []any{&a.ID, &a.BudgetID, &a.ChainID, &a.LineID, &a.Amount.Minor, &a.Amount.Currency, &a.ConvertedMinor}
	dest = append(dest, rate.dest()...)
	dest = append(dest, &date, &a.Period, &a.Description, &a.Source, &a.ExternalRef, &corrects, &correctsBudget,
		&commitment, &commitmentBudget, &a.ReleasedMinor, &a.Creator, &a.CreateTime)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	var err error
	if a.Rate, err = rate.use(); err != nil {
		return nil, err
	}
	if a.BookingDate, err = parseDate(date); err != nil {
		return nil, err
	}
	a.CorrectsID, a.CommitmentID = corrects.String, commitment.String
	a.CorrectsBudgetID, a.CommitmentBudgetID = correctsBudget.String, commitmentBudget.String
	a.CreateTime = a.CreateTime.UTC()
	return &a, nil
}

// ActualTable is what ListActuals can filter and order by.
var ActualTable = listing.NewTable("name", []listing.Field[*domain.Actual]{
	{Path: "name", Column: "id", Type: filter.String,
		Value: listing.NameID("name", domain.ActualPattern),
		Get:   func(a *domain.Actual) any { return a.ID }},
	{Path: "budget", Column: "budget_id", Type: filter.String, Value: listing.NameID("budget", domain.BudgetPattern),
		Get: func(a *domain.Actual) any { return a.BudgetID }},
	{Path: "line", Column: lineNameColumn, Type: filter.String, Value: listing.Name("line", domain.LinePattern),
		Get: func(a *domain.Actual) any { return domain.LineName(a.BudgetID, a.LineID) }},
	{Path: "booking_date", Column: "booking_date", Type: filter.String, Get: func(a *domain.Actual) any { return formatDate(a.BookingDate) }},
	{Path: "source", Column: "source", Type: filter.Enum, Enum: listing.EnumNumbers(budgetv1.Actual_SOURCE_UNSPECIFIED.Descriptor())},
	{Path: "external_reference", Column: "external_reference", Type: filter.String, Get: func(a *domain.Actual) any { return a.ExternalRef }},
	{Path: "amount.currency_code", Column: "amount_currency", Type: filter.String,
		Get: func(a *domain.Actual) any { return string(a.Amount.Currency) }},
	{Path: "creator", Column: "creator", Type: filter.String, Get: func(a *domain.Actual) any { return a.Creator }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(a *domain.Actual) any { return a.CreateTime }},
})

// GetActual returns the actual of the budget revision and line, or domain.ErrActualNotFound.
// Actuals never change, so a transaction locks nothing.
func (r reader) GetActual(ctx context.Context, budgetID, lineID, id string) (*domain.Actual, error) {
	const q = `SELECT ` + actualColumns + ` FROM actuals WHERE budget_id = $1 AND line_id = $2 AND id = $3`
	return sqlstore.Get(ctx, r.Q, "actual "+id, domain.ErrActualNotFound, scanActual, q, budgetID, lineID, id)
}

// ListActuals returns the actuals lq selects (see ActualTable) of the budget revision and line;
// either may be Wildcard.
func (s Store) ListActuals(ctx context.Context, budgetID, lineID string, lq *listing.Query) ([]*domain.Actual, error) {
	const q = `SELECT ` + actualColumns + ` FROM actuals`
	return sqlstore.List(ctx, s.Q, "actuals", scanActual, q, lq,
		sqlstore.Parent{Column: "budget_id", Value: budgetID}, sqlstore.Parent{Column: "line_id", Value: lineID})
}

// InsertActual stores a new actual.
func (t Tx) InsertActual(ctx context.Context, a *domain.Actual) error {
	const q = `INSERT INTO actuals (` + actualColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
		$11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`
	args := []any{a.ID, a.BudgetID, a.ChainID, a.LineID, a.Amount.Minor, string(a.Amount.Currency), a.ConvertedMinor}
	args = append(args, rateArgs(a.Rate)...)
	args = append(args, formatDate(a.BookingDate), a.Period, a.Description, int(a.Source), a.ExternalRef,
		sqlstore.NullString(a.CorrectsID), sqlstore.NullString(a.CorrectsBudgetID), sqlstore.NullString(a.CommitmentID),
		sqlstore.NullString(a.CommitmentBudgetID), a.ReleasedMinor, a.Creator, a.CreateTime)
	return sqlstore.Exec(ctx, t, spendError("actual "+a.ID), q, args...)
}

// SumCorrections returns the sum of the converted amounts of the actuals correcting the actual,
// as stored (negative), 0 when there are none.
func (t Tx) SumCorrections(ctx context.Context, actualID string) (int64, error) {
	// SUM of BIGINT is NUMERIC in PostgreSQL; the cast keeps it an integer for the driver.
	const q = `SELECT CAST(SUM(converted_minor) AS BIGINT) FROM actuals WHERE corrects_id = $1`
	n, err := sqlstore.Value[sql.NullInt64](ctx, t, "corrections of actual "+actualID, q, actualID)
	return n.Int64, err
}

// SumCorrectionAmounts returns the sum of the amounts, in the corrected actual's own currency
// (corrections share it), of the actuals correcting the actual (negative), 0 when there are none.
func (t Tx) SumCorrectionAmounts(ctx context.Context, actualID string) (int64, error) {
	const q = `SELECT CAST(SUM(amount_minor) AS BIGINT) FROM actuals WHERE corrects_id = $1`
	n, err := sqlstore.Value[sql.NullInt64](ctx, t, "corrections of actual "+actualID, q, actualID)
	return n.Int64, err
}

// commitmentColumns are the columns every commitment query selects, in scanCommitment's order.
const commitmentColumns = `id, budget_id, chain_id, line_id, amount_minor, amount_currency, converted_minor, ` +
	`remaining_minor, rate_id, rate_month, rate_source, rate_target, rate_value, expected_date, period, ` +
	`description, source, source_ref, state, creator, create_time, update_time, version, hold_id, hold_budget_id`

func scanCommitment(s sqlstore.Scanner) (*domain.Commitment, error) {
	var (
		c                    domain.Commitment
		rate                 rateColumns
		date                 string
		holdID, holdBudgetID sql.NullString
	)
	dest := []any{&c.ID, &c.BudgetID, &c.ChainID, &c.LineID, &c.Amount.Minor, &c.Amount.Currency, &c.ConvertedMinor,
		&c.RemainingMinor}
	dest = append(dest, rate.dest()...)
	dest = append(dest, &date, &c.Period, &c.Description, &c.Source, &c.SourceRef, &c.State, &c.Creator,
		&c.CreateTime, &c.UpdateTime, &c.Version, &holdID, &holdBudgetID)
	if err := s.Scan(dest...); err != nil {
		return nil, err
	}
	var err error
	if c.Rate, err = rate.use(); err != nil {
		return nil, err
	}
	if c.Date, err = parseDate(date); err != nil {
		return nil, err
	}
	c.HoldID, c.HoldBudgetID = holdID.String, holdBudgetID.String
	c.CreateTime, c.UpdateTime = c.CreateTime.UTC(), c.UpdateTime.UTC()
	return &c, nil
}

func commitmentArgs(c *domain.Commitment) []any {
	args := []any{c.ID, c.BudgetID, c.ChainID, c.LineID, c.Amount.Minor, string(c.Amount.Currency), c.ConvertedMinor,
		c.RemainingMinor}
	args = append(args, rateArgs(c.Rate)...)
	return append(args, formatDate(c.Date), c.Period, c.Description, int(c.Source), c.SourceRef, int(c.State),
		c.Creator, c.CreateTime, c.UpdateTime, c.Version, sqlstore.NullString(c.HoldID), sqlstore.NullString(c.HoldBudgetID))
}

// CommitmentTable is what ListCommitments can filter and order by.
var CommitmentTable = listing.NewTable("name", []listing.Field[*domain.Commitment]{
	{Path: "name", Column: "id", Type: filter.String,
		Value: listing.NameID("name", domain.CommitmentPattern),
		Get:   func(c *domain.Commitment) any { return c.ID }},
	{Path: "budget", Column: "budget_id", Type: filter.String, Value: listing.NameID("budget", domain.BudgetPattern),
		Get: func(c *domain.Commitment) any { return c.BudgetID }},
	{Path: "line", Column: lineNameColumn, Type: filter.String, Value: listing.Name("line", domain.LinePattern),
		Get: func(c *domain.Commitment) any { return domain.LineName(c.BudgetID, c.LineID) }},
	{Path: "expected_date", Column: "expected_date", Type: filter.String, Get: func(c *domain.Commitment) any { return formatDate(c.Date) }},
	{Path: "source", Column: "source", Type: filter.Enum, Enum: listing.EnumNumbers(budgetv1.Commitment_SOURCE_UNSPECIFIED.Descriptor())},
	{Path: "source_reference", Column: "source_ref", Type: filter.String, Get: func(c *domain.Commitment) any { return c.SourceRef }},
	{Path: "hold", Column: `CASE WHEN hold_id IS NULL THEN '' ELSE 'budgets/' || hold_budget_id || '/lines/' || line_id || '/holds/' || hold_id END`,
		Type: filter.String, Get: func(c *domain.Commitment) any { return c.HoldName() }},
	{Path: "state", Column: "state", Type: filter.Enum, Enum: listing.EnumNumbers(budgetv1.Commitment_STATE_UNSPECIFIED.Descriptor())},
	{Path: "amount.currency_code", Column: "amount_currency", Type: filter.String,
		Get: func(c *domain.Commitment) any { return string(c.Amount.Currency) }},
	{Path: "creator", Column: "creator", Type: filter.String, Get: func(c *domain.Commitment) any { return c.Creator }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(c *domain.Commitment) any { return c.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(c *domain.Commitment) any { return c.UpdateTime }},
})

// GetCommitment returns the commitment of the budget revision and line, or
// domain.ErrCommitmentNotFound; in a transaction it keeps the row from changing until the
// transaction ends.
func (r reader) GetCommitment(ctx context.Context, budgetID, lineID, id string) (*domain.Commitment, error) {
	const q = `SELECT ` + commitmentColumns + ` FROM commitments WHERE budget_id = $1 AND line_id = $2 AND id = $3`
	return sqlstore.Get(ctx, r.Q, "commitment "+id, domain.ErrCommitmentNotFound, scanCommitment, r.ForUpdate(q), budgetID, lineID, id)
}

// ListCommitments returns the commitments lq selects (see CommitmentTable) of the budget
// revision and line; either may be Wildcard.
func (s Store) ListCommitments(ctx context.Context, budgetID, lineID string, lq *listing.Query) ([]*domain.Commitment, error) {
	const q = `SELECT ` + commitmentColumns + ` FROM commitments`
	return sqlstore.List(ctx, s.Q, "commitments", scanCommitment, q, lq,
		sqlstore.Parent{Column: "budget_id", Value: budgetID}, sqlstore.Parent{Column: "line_id", Value: lineID})
}

// InsertCommitment stores a new commitment.
func (t Tx) InsertCommitment(ctx context.Context, c *domain.Commitment) error {
	const q = `INSERT INTO commitments (` + commitmentColumns + `) VALUES ($1, $2, $3, $4, $5,
		$6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)`
	return sqlstore.Exec(ctx, t, spendError("commitment "+c.ID), q, commitmentArgs(c)...)
}

// CommitmentsWithRate returns the open commitments converted with the exchange rate rateID,
// ordered by chain and ID; lock says whether to lock them (after their chains).
func (t Tx) CommitmentsWithRate(ctx context.Context, rateID string, lock bool) ([]*domain.Commitment, error) {
	q := `SELECT ` + commitmentColumns + ` FROM commitments WHERE rate_id = $1 AND state = $2 ORDER BY chain_id, id`
	if lock {
		q = t.ForUpdate(q)
	}
	return sqlstore.All(ctx, t, "commitments with rate "+rateID, scanCommitment, q, rateID, int(domain.CommitmentOpen))
}

// UpdateCommitment replaces the stored commitment whose version is prevVersion with c.
func (t Tx) UpdateCommitment(ctx context.Context, c *domain.Commitment, prevVersion int64) error {
	const q = `UPDATE commitments SET budget_id = $2, chain_id = $3, line_id = $4, amount_minor = $5,
		amount_currency = $6, converted_minor = $7, remaining_minor = $8, rate_id = $9, rate_month = $10,
		rate_source = $11, rate_target = $12, rate_value = $13, expected_date = $14, period = $15, description = $16,
		source = $17, source_ref = $18, state = $19, creator = $20, create_time = $21, update_time = $22,
		version = $23, hold_id = $24, hold_budget_id = $25 WHERE id = $1 AND version = $26`
	return sqlstore.Exec(ctx, t, spendError("commitment "+c.ID), q, append(commitmentArgs(c), prevVersion)...)
}

// transferColumns are the columns every transfer query selects, in scanTransfer's order.
const transferColumns = `id, budget_id, source_line_id, target_budget_id, target_line_id, amount_minor, ` +
	`effective_date, period, reason, state, requester, decider, decision_time, decision_reason, create_time, ` +
	`update_time, version`

func scanTransfer(s sqlstore.Scanner) (*domain.Transfer, error) {
	var (
		t        domain.Transfer
		date     string
		decision sql.NullTime
	)
	err := s.Scan(&t.ID, &t.BudgetID, &t.SourceLineID, &t.TargetBudgetID, &t.TargetLineID, &t.AmountMinor, &date,
		&t.Period, &t.Reason, &t.State, &t.Requester, &t.Decider, &decision, &t.DecisionReason, &t.CreateTime,
		&t.UpdateTime, &t.Version)
	if err != nil {
		return nil, err
	}
	if t.EffectiveDate, err = parseDate(date); err != nil {
		return nil, err
	}
	t.DecisionTime = sqlstore.TimeOf(decision)
	t.CreateTime, t.UpdateTime = t.CreateTime.UTC(), t.UpdateTime.UTC()
	return &t, nil
}

func transferArgs(t *domain.Transfer) []any {
	return []any{t.ID, t.BudgetID, t.SourceLineID, t.TargetBudgetID, t.TargetLineID, t.AmountMinor,
		formatDate(t.EffectiveDate), t.Period, t.Reason, int(t.State), t.Requester, t.Decider,
		sqlstore.NullTime(t.DecisionTime), t.DecisionReason, t.CreateTime, t.UpdateTime, t.Version}
}

// TransferTable is what ListTransfers can filter and order by.
var TransferTable = listing.NewTable("name", []listing.Field[*domain.Transfer]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.TransferPattern),
		Get: func(t *domain.Transfer) any { return t.ID }},
	{Path: "source_line", Column: `'budgets/' || budget_id || '/lines/' || source_line_id`, Type: filter.String,
		Value: listing.Name("source_line", domain.LinePattern),
		Get:   func(t *domain.Transfer) any { return domain.LineName(t.BudgetID, t.SourceLineID) }},
	{Path: "target_line", Column: `'budgets/' || target_budget_id || '/lines/' || target_line_id`, Type: filter.String,
		Value: listing.Name("target_line", domain.LinePattern),
		Get:   func(t *domain.Transfer) any { return domain.LineName(t.TargetBudgetID, t.TargetLineID) }},
	{Path: "effective_date", Column: "effective_date", Type: filter.String,
		Get: func(t *domain.Transfer) any { return formatDate(t.EffectiveDate) }},
	{Path: "state", Column: "state", Type: filter.Enum, Enum: listing.EnumNumbers(budgetv1.Transfer_STATE_UNSPECIFIED.Descriptor())},
	{Path: "requester", Column: "requester", Type: filter.String, Get: func(t *domain.Transfer) any { return t.Requester }},
	{Path: "decider", Column: "decider", Type: filter.String, Get: func(t *domain.Transfer) any { return t.Decider }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(t *domain.Transfer) any { return t.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(t *domain.Transfer) any { return t.UpdateTime }},
})

// GetTransfer returns the transfer whose source is in the budget revision, or
// domain.ErrTransferNotFound; in a transaction it keeps the row from changing until the
// transaction ends.
func (r reader) GetTransfer(ctx context.Context, budgetID, id string) (*domain.Transfer, error) {
	const q = `SELECT ` + transferColumns + ` FROM transfers WHERE budget_id = $1 AND id = $2`
	return sqlstore.Get(ctx, r.Q, "transfer "+id, domain.ErrTransferNotFound, scanTransfer, r.ForUpdate(q), budgetID, id)
}

// ListTransfers returns the transfers lq selects (see TransferTable) whose source is in the
// budget revision, which may be Wildcard.
func (s Store) ListTransfers(ctx context.Context, budgetID string, lq *listing.Query) ([]*domain.Transfer, error) {
	const q = `SELECT ` + transferColumns + ` FROM transfers`
	return sqlstore.List(ctx, s.Q, "transfers", scanTransfer, q, lq, sqlstore.Parent{Column: "budget_id", Value: budgetID})
}

// InsertTransfer stores a new transfer.
func (t Tx) InsertTransfer(ctx context.Context, tr *domain.Transfer) error {
	const q = `INSERT INTO transfers (` + transferColumns + `) VALUES ($1, $2, $3, $4, $5, $6,
		$7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`
	return sqlstore.Exec(ctx, t, spendError("transfer "+tr.ID), q, transferArgs(tr)...)
}

// UpdateTransfer replaces the stored transfer whose version is prevVersion with tr.
func (t Tx) UpdateTransfer(ctx context.Context, tr *domain.Transfer, prevVersion int64) error {
	const q = `UPDATE transfers SET budget_id = $2, source_line_id = $3, target_budget_id = $4,
		target_line_id = $5, amount_minor = $6, effective_date = $7, period = $8, reason = $9, state = $10,
		requester = $11, decider = $12, decision_time = $13, decision_reason = $14, create_time = $15,
		update_time = $16, version = $17 WHERE id = $1 AND version = $18`
	return sqlstore.Exec(ctx, t, spendError("transfer "+tr.ID), q, append(transferArgs(tr), prevVersion)...)
}

func scanLineSpend(s sqlstore.Scanner) (LineSpend, error) {
	var ls LineSpend
	err := s.Scan(&ls.LineID, &ls.Period, &ls.ActualMinor, &ls.CommittedMinor, &ls.HeldMinor)
	return ls, err
}

// Spend returns the chain's spend per line and period, in that order: the sum of the converted
// actuals, of the remaining amounts of the open commitments (released ones add nothing) and of
// the held amounts of the HELD holds. Pairs without any are left out.
func (r reader) Spend(ctx context.Context, chainID string) ([]LineSpend, error) {
	const q = `SELECT line_id, period, CAST(SUM(actual) AS BIGINT), CAST(SUM(committed) AS BIGINT),
			CAST(SUM(held) AS BIGINT) FROM (
			SELECT line_id, period, converted_minor AS actual, CAST(0 AS BIGINT) AS committed, CAST(0 AS BIGINT) AS held
				FROM actuals WHERE chain_id = $1
			UNION ALL
			SELECT line_id, period, 0, remaining_minor, 0 FROM commitments WHERE chain_id = $2 AND state = $3
			UNION ALL
			SELECT line_id, period, 0, 0, held_minor FROM holds WHERE chain_id = $4 AND state = $5) s
		GROUP BY line_id, period ORDER BY line_id, period`
	return sqlstore.All(ctx, r.Q, "spend", scanLineSpend, q, chainID, chainID, int(domain.CommitmentOpen),
		chainID, int(domain.HoldHeld))
}

// PeriodSpend returns the chain's spend per line and period as kept by AddPeriodSpend, in the
// same form as Spend, which computes it from the records: the two agree.
func (r reader) PeriodSpend(ctx context.Context, chainID string) ([]LineSpend, error) {
	const q = `SELECT line_id, period, actual_minor, committed_minor, held_minor FROM period_balances
		WHERE chain_id = $1 AND (actual_minor <> 0 OR committed_minor <> 0 OR held_minor <> 0) ORDER BY line_id, period`
	return sqlstore.All(ctx, r.Q, "period spend", scanLineSpend, q, chainID)
}

// AddPeriodSpend adds s's amounts to the chain's running spend of s's line and period. A sum
// beyond the int64 range is FIGURE_OUT_OF_RANGE and changes nothing: the update only runs when
// each sum fits (checked without overflowing), because SQLite would turn an overflowing + into a
// float and PostgreSQL fail it.
func (t Tx) AddPeriodSpend(ctx context.Context, chainID string, s LineSpend) error {
	q := `INSERT INTO period_balances (chain_id, line_id, period, actual_minor, committed_minor, held_minor)
		VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (chain_id, line_id, period) DO UPDATE SET
			actual_minor = period_balances.actual_minor + excluded.actual_minor,
			committed_minor = period_balances.committed_minor + excluded.committed_minor,
			held_minor = period_balances.held_minor + excluded.held_minor
		WHERE ` + fits("actual_minor") + ` AND ` + fits("committed_minor") + ` AND ` + fits("held_minor")
	err := sqlstore.Exec(ctx, t, nil, q, chainID, s.LineID, s.Period, s.ActualMinor, s.CommittedMinor, s.HeldMinor)
	if errors.Is(err, sqlstore.ErrConcurrentUpdate) {
		return money.ErrFigureOutOfRange.With("line", s.LineID).
			Withf("the spend of line %s in period %d would be out of range", s.LineID, s.Period)
	}
	if err != nil {
		return fmt.Errorf("add period spend of line %s: %w", s.LineID, err)
	}
	return nil
}

// fits is the SQL condition that period_balances.col + excluded.col fits in a BIGINT, written
// so that it cannot overflow itself.
func fits(col string) string {
	return `(excluded.` + col + ` <= 0 OR period_balances.` + col + ` <= 9223372036854775807 - excluded.` + col + `) AND ` +
		`(excluded.` + col + ` >= 0 OR period_balances.` + col + ` >= (-9223372036854775807 - 1) - excluded.` + col + `)`
}

func scanRateUse(s sqlstore.Scanner) (domain.RateUse, error) {
	var r rateColumns
	if err := s.Scan(r.dest()...); err != nil {
		return domain.RateUse{}, err
	}
	u, err := r.use()
	if err != nil || u == nil {
		return domain.RateUse{}, fmt.Errorf("rate use: %v", err)
	}
	return *u, nil
}

// RatesUsed returns the distinct rate uses of the chain's actuals, open commitments and HELD
// holds, ordered by rate ID and value.
func (r reader) RatesUsed(ctx context.Context, chainID string) ([]domain.RateUse, error) {
	const q = `SELECT DISTINCT rate_id, rate_month, rate_source, rate_target, rate_value FROM (
			SELECT rate_id, rate_month, rate_source, rate_target, rate_value FROM actuals
				WHERE chain_id = $1 AND rate_id IS NOT NULL
			UNION ALL
			SELECT rate_id, rate_month, rate_source, rate_target, rate_value FROM commitments
				WHERE chain_id = $2 AND state = $3 AND rate_id IS NOT NULL
			UNION ALL
			SELECT rate_id, rate_month, rate_source, rate_target, rate_value FROM holds
				WHERE chain_id = $4 AND state = $5 AND rate_id IS NOT NULL) r
		ORDER BY rate_id, rate_value`
	return sqlstore.All(ctx, r.Q, "rates used", scanRateUse, q, chainID, chainID, int(domain.CommitmentOpen),
		chainID, int(domain.HoldHeld))
}
