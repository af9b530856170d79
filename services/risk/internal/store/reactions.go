package store

import (
	"context"
	"fmt"
	"time"
)

// Advance moves the position of a reaction's key to position, when position is after the one
// stored (or none is); it reports whether it did. A reaction calls
// it in the transaction of its effect and applies the effect only when it did: an event that
// comes again, or an older one that comes late, then changes nothing. Positions compare as text
// (fixed-width UTC times, ISO dates).
func (t Tx) Advance(ctx context.Context, key, position string, now time.Time) (bool, error) {
	const q = `INSERT INTO reaction_positions (key, position, update_time) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET position = excluded.position, update_time = excluded.update_time
		WHERE reaction_positions.position < excluded.position`
	res, err := t.ExecContext(ctx, q, key, position, now.UTC().Truncate(time.Microsecond))
	if err != nil {
		return false, fmt.Errorf("advance reaction %s to %s: %w", key, position, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("advance reaction %s to %s: %w", key, position, err)
	}
	return n == 1, nil
}
