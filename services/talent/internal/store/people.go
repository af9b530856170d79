package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// PersonState returns the state number of the person with the ID (Person.State: 1 ACTIVE,
// 2 LEFT), and false when there is no such person; in a transaction it keeps the row from
// changing until the transaction ends, so a manager cannot leave while a team names them.
func (r reader) PersonState(ctx context.Context, id string) (int32, bool, error) {
	const q = `SELECT state FROM people WHERE id = $1`
	var state int32
	err := r.q.QueryRowContext(ctx, r.lock(q), id).Scan(&state)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("state of person %s: %w", id, err)
	}
	return state, true, nil
}
