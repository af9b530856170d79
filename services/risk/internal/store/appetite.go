package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/quarterdeck/quarterdeck/services/platform/api/fault"
	"github.com/quarterdeck/quarterdeck/services/platform/storage/sqlstore"
	"github.com/quarterdeck/quarterdeck/services/risk/internal/domain"
)

var errNoAppetite = fault.New(fault.NotFound, "APPETITE_NOT_SET", "the appetite was never changed")

// Appetite returns the appetite: the stored one, or the defaults before its first change. In a
// transaction it keeps the row from changing until the transaction ends.
func (r reader) Appetite(ctx context.Context) (*domain.Appetite, error) {
	const q = `SELECT default_level, categories, updater, update_time, version FROM risk_appetite WHERE id = 1`
	a, err := sqlstore.Get(ctx, r.Q, "risk appetite", errNoAppetite, func(s sqlstore.Scanner) (*domain.Appetite, error) {
		var (
			a    domain.Appetite
			cats string
		)
		if err := s.Scan(&a.Default, &cats, &a.Updater, &a.UpdateTime, &a.Version); err != nil {
			return nil, err
		}
		var err error
		a.Categories, err = sqlstore.ListOf[domain.CategoryAppetite](cats)
		a.UpdateTime = a.UpdateTime.UTC()
		return &a, err
	}, r.ForUpdate(q))
	if errors.Is(err, errNoAppetite) {
		return domain.DefaultAppetite(), nil
	}
	return a, err
}

// LockAppetite serialises the changes of the appetite, whose row does not exist before the first.
func (t Tx) LockAppetite(ctx context.Context) error {
	return t.Dialect.Lock(ctx, t, "quarterdeck.risk.appetite")
}

// SaveAppetite stores a, changed from version prevVersion (0: the defaults, never stored).
func (t Tx) SaveAppetite(ctx context.Context, a *domain.Appetite, prevVersion int64) error {
	cats, err := sqlstore.JSONList(a.Categories)
	if err != nil {
		return err
	}
	if prevVersion == 0 {
		const q = `INSERT INTO risk_appetite (id, default_level, categories, updater, update_time, version) VALUES (1, $1, $2, $3, $4, $5)`
		return sqlstore.Exec(ctx, t, func(err error) error { return fmt.Errorf("insert risk appetite: %w", err) },
			q, a.Default, cats, a.Updater, a.UpdateTime, a.Version)
	}
	const q = `UPDATE risk_appetite SET default_level = $1, categories = $2, updater = $3, update_time = $4, version = $5
		WHERE id = 1 AND version = $6`
	return sqlstore.Exec(ctx, t, nil, q, a.Default, cats, a.Updater, a.UpdateTime, a.Version, prevVersion)
}
