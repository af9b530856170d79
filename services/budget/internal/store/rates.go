package store

import (
	"context"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/platform/api/filter"
	"github.com/quarterdeck/quarterdeck/services/platform/api/listing"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqldb"
)

// ExchangeRateColumns is the column list every exchange rate query selects, in
// ScanExchangeRate's order. The month is 'YYYY-MM'.
const ExchangeRateColumns = `id, month, source, target, value, create_time, update_time, version`

// ScanExchangeRate reads one row of ExchangeRateColumns.
func ScanExchangeRate(s Scanner) (*domain.ExchangeRate, error) {
	var (
		r     domain.ExchangeRate
		month string
	)
	if err := s.Scan(&r.ID, &month, &r.Source, &r.Target, &r.Value, &r.CreateTime, &r.UpdateTime, &r.Version); err != nil {
		return nil, err
	}
	var err error
	if r.Month, err = parseMonth(month); err != nil {
		return nil, err
	}
	r.CreateTime, r.UpdateTime = r.CreateTime.UTC(), r.UpdateTime.UTC()
	return &r, nil
}

// ExchangeRateArgs are r's values in the order of ExchangeRateColumns.
func ExchangeRateArgs(r *domain.ExchangeRate) []any {
	return []any{r.ID, FormatMonth(r.Month), string(r.Source), string(r.Target), r.Value, r.CreateTime, r.UpdateTime, r.Version}
}

func rateName(id string) string { return domain.ExchangeRateCollection + "/" + id }

func rateWriteError(r *domain.ExchangeRate) func(error) error {
	return func(err error) error {
		if _, ok := sqldb.UniqueViolation(err); ok {
			return domain.ErrExchangeRateExists.With("name", rateName(r.ID))
		}
		return fmt.Errorf("write exchange rate %s: %w", r.ID, err)
	}
}

// GetExchangeRate runs a query selecting ExchangeRateColumns of the rate whose ID is $1.
func GetExchangeRate(ctx context.Context, q Querier, query, id string) (*domain.ExchangeRate, error) {
	return get(ctx, q, "exchange rate "+id, domain.ErrExchangeRateNotFound, ScanExchangeRate, query, id)
}

// FindRate runs a query selecting ExchangeRateColumns with $1 the month, $2 the source and $3
// the target currency: domain.ErrExchangeRateNotFound when there is no such rate.
func FindRate(ctx context.Context, q Querier, query string, month domain.Month, source, target domain.Currency) (*domain.ExchangeRate, error) {
	return get(ctx, q, "exchange rate", domain.ErrExchangeRateNotFound, ScanExchangeRate, query,
		FormatMonth(month), string(source), string(target))
}

// ListExchangeRates completes selectFrom, selecting ExchangeRateColumns from exchange_rates, with lq.
func ListExchangeRates(ctx context.Context, q Querier, selectFrom string, lq *listing.Query) ([]*domain.ExchangeRate, error) {
	return list(ctx, q, "exchange rates", ScanExchangeRate, selectFrom, nil, lq)
}

// InsertExchangeRate runs an insert whose parameters are ExchangeRateColumns in order:
// domain.ErrExchangeRateExists when the ID or the month and pair are taken.
func InsertExchangeRate(ctx context.Context, q Querier, query string, r *domain.ExchangeRate) error {
	if _, err := q.ExecContext(ctx, query, ExchangeRateArgs(r)...); err != nil {
		return rateWriteError(r)(err)
	}
	return nil
}

// UpdateExchangeRate runs an update whose parameters are ExchangeRateColumns, then the previous version.
func UpdateExchangeRate(ctx context.Context, q Querier, query string, r *domain.ExchangeRate, prevVersion int64) error {
	return exec(ctx, q, rateWriteError(r), query, append(ExchangeRateArgs(r), prevVersion)...)
}

// ExchangeRateSchema maps the fields of the ExchangeRate resource that lists can filter and
// order by. month is "YYYY-MM".
var ExchangeRateSchema = filter.Schema{
	"name": {Column: "id", Type: filter.String,
		Value: idFrom("name", "exchangeRates/{exchange_rate}", lastID(domain.ExchangeRateCollection))},
	"month":                {Column: "month", Type: filter.String},
	"source_currency_code": {Column: "source", Type: filter.String},
	"target_currency_code": {Column: "target", Type: filter.String},
	"create_time":          {Column: "create_time", Type: filter.Timestamp},
	"update_time":          {Column: "update_time", Type: filter.Timestamp},
}

// ExchangeRateList is what ListExchangeRates can filter and order by.
var ExchangeRateList = listing.Resource{Schema: ExchangeRateSchema, Key: "name"}

// ExchangeRateValue returns the value of an ExchangeRateSchema field of r as stored.
func ExchangeRateValue(r *domain.ExchangeRate, path string) any {
	switch path {
	case "name":
		return r.ID
	case "month":
		return FormatMonth(r.Month)
	case "source_currency_code":
		return string(r.Source)
	case "target_currency_code":
		return string(r.Target)
	case "create_time":
		return r.CreateTime
	case "update_time":
		return r.UpdateTime
	}
	return nil
}
