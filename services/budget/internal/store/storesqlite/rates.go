package storesqlite

import (
	"context"

	"github.com/quarterdeck/quarterdeck/services/budget/internal/domain"
	"github.com/quarterdeck/quarterdeck/services/budget/internal/store"
	"github.com/quarterdeck/quarterdeck/services/platform/listing"
)

const (
	selectExchangeRate = `SELECT ` + store.ExchangeRateColumns + ` FROM exchange_rates WHERE id = $1`
	findRate           = `SELECT ` + store.ExchangeRateColumns + ` FROM exchange_rates
		WHERE month = $1 AND source = $2 AND target = $3`
	listExchangeRates  = `SELECT ` + store.ExchangeRateColumns + ` FROM exchange_rates`
	insertExchangeRate = `INSERT INTO exchange_rates (` + store.ExchangeRateColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	updateExchangeRate = `UPDATE exchange_rates SET month = $2, source = $3, target = $4, value = $5,
		create_time = $6, update_time = $7, version = $8 WHERE id = $1 AND version = $9`
	deleteExchangeRate = `DELETE FROM exchange_rates WHERE id = $1 AND version = $2`
)

// GetExchangeRate implements store.Store.
func (s *Store) GetExchangeRate(ctx context.Context, id string) (*domain.ExchangeRate, error) {
	return store.GetExchangeRate(ctx, s.db, selectExchangeRate, id)
}

// ListExchangeRates implements store.Store.
func (s *Store) ListExchangeRates(ctx context.Context, q *listing.Query) ([]*domain.ExchangeRate, error) {
	return store.ListExchangeRates(ctx, s.db, listExchangeRates, q)
}

func (t *tx) InsertExchangeRate(ctx context.Context, r *domain.ExchangeRate) error {
	return store.InsertExchangeRate(ctx, t, insertExchangeRate, r)
}

func (t *tx) GetExchangeRate(ctx context.Context, id string) (*domain.ExchangeRate, error) {
	return store.GetExchangeRate(ctx, t, selectExchangeRate, id)
}

func (t *tx) UpdateExchangeRate(ctx context.Context, r *domain.ExchangeRate, prevVersion int64) error {
	return store.UpdateExchangeRate(ctx, t, updateExchangeRate, r, prevVersion)
}

func (t *tx) DeleteExchangeRate(ctx context.Context, id string, version int64) error {
	return store.Delete(ctx, t, "exchange rate "+id, deleteExchangeRate, id, version)
}

func (r reader) FindRate(ctx context.Context, month domain.Month, source, target domain.Currency) (*domain.ExchangeRate, error) {
	return store.FindRate(ctx, r.q, findRate, month, source, target)
}
