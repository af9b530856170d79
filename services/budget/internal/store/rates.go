package store

import (
	"context"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
)

// exchangeRateColumns are the columns every exchange rate query selects, in scanExchangeRate's
// order. The month is 'YYYY-MM'.
const exchangeRateColumns = `id, month, source, target, value, create_time, update_time, version`

func scanExchangeRate(s sqlstore.Scanner) (*domain.ExchangeRate, error) {
	var (
		r     domain.ExchangeRate
		month string
	)
	err := s.Scan(&r.ID, &month, &r.Source, &r.Target, &r.Value, &r.CreateTime, &r.UpdateTime, &r.Version)
	if err != nil {
		return nil, err
	}
	if r.Month, err = parseMonth(month); err != nil {
		return nil, err
	}
	r.CreateTime, r.UpdateTime = r.CreateTime.UTC(), r.UpdateTime.UTC()
	return &r, nil
}

func exchangeRateArgs(r *domain.ExchangeRate) []any {
	return []any{r.ID, r.Month.String(), string(r.Source), string(r.Target), r.Value, r.CreateTime, r.UpdateTime, r.Version}
}

// ExchangeRateTable is what ListExchangeRates can filter and order by. month is "YYYY-MM".
var ExchangeRateTable = listing.NewTable("name", []listing.Field[*domain.ExchangeRate]{
	{Path: "name", Column: "id", Type: filter.String, Value: listing.NameID("name", domain.ExchangeRatePattern),
		Get: func(r *domain.ExchangeRate) any { return r.ID }},
	{Path: "month", Column: "month", Type: filter.String, Get: func(r *domain.ExchangeRate) any { return r.Month.String() }},
	{Path: "source_currency_code", Column: "source", Type: filter.String, Get: func(r *domain.ExchangeRate) any { return string(r.Source) }},
	{Path: "target_currency_code", Column: "target", Type: filter.String, Get: func(r *domain.ExchangeRate) any { return string(r.Target) }},
	{Path: "create_time", Column: "create_time", Type: filter.Timestamp, Get: func(r *domain.ExchangeRate) any { return r.CreateTime }},
	{Path: "update_time", Column: "update_time", Type: filter.Timestamp, Get: func(r *domain.ExchangeRate) any { return r.UpdateTime }},
})

// GetExchangeRate returns the exchange rate with the ID, or domain.ErrExchangeRateNotFound; in a
// transaction it keeps the row from changing until the transaction ends.
func (r reader) GetExchangeRate(ctx context.Context, id string) (*domain.ExchangeRate, error) {
	const q = `SELECT ` + exchangeRateColumns + ` FROM exchange_rates WHERE id = $1`
	return sqlstore.Get(ctx, r.Q, "exchange rate "+id, domain.ErrExchangeRateNotFound, scanExchangeRate, r.ForUpdate(q), id)
}

// FindRate returns the rate of the month for the pair source → target (never the inverse), or
// domain.ErrExchangeRateNotFound.
func (r reader) FindRate(ctx context.Context, month domain.Month, source, target domain.Currency) (*domain.ExchangeRate, error) {
	const q = `SELECT ` + exchangeRateColumns + ` FROM exchange_rates WHERE month = $1 AND source = $2 AND target = $3`
	return sqlstore.Get(ctx, r.Q, "exchange rate", domain.ErrExchangeRateNotFound, scanExchangeRate, q,
		month.String(), string(source), string(target))
}

// ListExchangeRates returns the exchange rates lq selects (see ExchangeRateTable).
func (s Store) ListExchangeRates(ctx context.Context, lq *listing.Query) ([]*domain.ExchangeRate, error) {
	const q = `SELECT ` + exchangeRateColumns + ` FROM exchange_rates`
	return sqlstore.List(ctx, s.Q, "exchange rates", scanExchangeRate, q, lq)
}

func exchangeRateError(r *domain.ExchangeRate) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrExchangeRateExists.With("name", r.Name())
		}
		return fmt.Errorf("write exchange rate %s: %w", r.ID, err)
	}
}

// InsertExchangeRate stores a new rate: domain.ErrExchangeRateExists when its ID or its month
// and pair are taken.
func (t Tx) InsertExchangeRate(ctx context.Context, r *domain.ExchangeRate) error {
	const q = `INSERT INTO exchange_rates (` + exchangeRateColumns + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	return sqlstore.Exec(ctx, t, exchangeRateError(r), q, exchangeRateArgs(r)...)
}

// UpdateExchangeRate replaces the stored rate whose version is prevVersion with r.
func (t Tx) UpdateExchangeRate(ctx context.Context, r *domain.ExchangeRate, prevVersion int64) error {
	const q = `UPDATE exchange_rates SET month = $2, source = $3, target = $4, value = $5,
		create_time = $6, update_time = $7, version = $8 WHERE id = $1 AND version = $9`
	return sqlstore.Exec(ctx, t, exchangeRateError(r), q, append(exchangeRateArgs(r), prevVersion)...)
}

// DeleteExchangeRate removes the rate at version. Spend keeps the RateUse it was converted with,
// so history does not depend on the rate.
func (t Tx) DeleteExchangeRate(ctx context.Context, id string, version int64) error {
	const q = `DELETE FROM exchange_rates WHERE id = $1 AND version = $2`
	return sqlstore.Exec(ctx, t, func(err error) error { return fmt.Errorf("delete exchange rate %s: %w", id, err) }, q, id, version)
}
